// core/progress.h: a console progress bar for long loops: done/total, rate, ETA and a short status.
// Draws on stderr, only when stdout and stderr are terminals (off in CI, pipes and log files).
#pragma once

#include <cstdint>
#include <string>

#include "core/timer.h"

namespace zerorl {

class ProgressBar {
 public:
  // total: units of work; unit: what one unit is called ("step", "seq"); enabled: -1 auto (tty), 0 off, 1 on.
  ProgressBar(int64_t total, std::string label, std::string unit = "it", int enabled = -1);
  ~ProgressBar();
  // Sets the absolute position and an optional status text (e.g. "reward 0.42").
  void update(int64_t done, const std::string& status = "");
  void finish();
  bool enabled() const { return enabled_; }
  // The line that would be drawn (exposed for tests): "label [####    ] 3/10 2.50 step/s ETA 00:03 status".
  std::string render(int64_t done, double elapsed_s, const std::string& status) const;

 private:
  int64_t total_;
  std::string label_;
  std::string unit_;
  bool enabled_;
  bool finished_ = false;
  int64_t done_ = 0;
  double last_draw_s_ = -1.0;
  Stopwatch watch_;
};

// "1:02:03" or "02:03" for a duration in seconds.
std::string format_duration(double seconds);

}  // namespace zerorl
