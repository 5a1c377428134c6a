// rewards/hack_trend.h: per-step fractions of samples with hack signs, and the rule that warns when one
// rises: the mean over the last `window` steps exceeds the mean over the `window` steps before by at
// least `min_rise`. Torch-free, no I/O. Not here: finding signs (hack_signs.h), writing metrics or
// flagged.jsonl (trainer/hack_monitor.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rewards/hack_signs.h"

namespace zerorl::rewards {

// Fractions of one step's samples: "code", "math", "format", "repetition" (each: samples with at least
// one sign of that category / all samples) and "any" (samples with any sign / all samples).
std::map<std::string, double> hack_fractions(const std::vector<std::vector<HackSign>>& signs_per_sample);

class HackTrend {
 public:
  // window >= 1 steps; min_rise in (0, 1]. window 0 turns warnings off.
  HackTrend(int64_t window, double min_rise);
  // Adds one step's fractions; returns one message per category whose fraction rose, e.g.
  // "hack signs rising: code 0.03 -> 0.25 (mean of steps 6-10 vs 1-5)". A category warns again only after
  // rising another min_rise above the level it last warned at (or after falling min_rise below it).
  std::vector<std::string> observe(int64_t step, const std::map<std::string, double>& fractions);

 private:
  int64_t window_;
  double min_rise_;
  std::vector<int64_t> steps_;
  std::map<std::string, std::vector<double>> history_;
  std::map<std::string, double> warned_at_;
};

}  // namespace zerorl::rewards
