// core/timer.h: wall-clock phase timers. PhaseTimes accumulates seconds per named phase;
// ScopedTimer adds the time of a scope to one phase. Not here: GPU event timing (needs torch).
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace zerorl {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void reset() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Seconds per phase name, in first-seen order of names sorted (std::map) for stable output.
using PhaseTimes = std::map<std::string, double>;

class ScopedTimer {
 public:
  ScopedTimer(PhaseTimes& times, std::string phase) : times_(times), phase_(std::move(phase)) {}
  ~ScopedTimer() { times_[phase_] += watch_.seconds(); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  PhaseTimes& times_;
  std::string phase_;
  Stopwatch watch_;
};

}  // namespace zerorl
