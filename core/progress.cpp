// core/progress.cpp: progress bar drawing with carriage returns, at most ~10 redraws per second.
// Not here: logging (core/log.h); the bar never writes to stdout, which may carry JSON.
#include "core/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace zerorl {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}

ProgressBar::ProgressBar(int64_t total, std::string label, std::string unit, int enabled)
    : total_(std::max<int64_t>(total, 0)), label_(std::move(label)), unit_(std::move(unit)) {
  enabled_ = enabled < 0 ? (isatty(STDOUT_FILENO) && isatty(STDERR_FILENO)) : enabled != 0;
}

ProgressBar::~ProgressBar() { finish(); }

std::string ProgressBar::render(int64_t done, double elapsed_s, const std::string& status) const {
  constexpr int kWidth = 24;
  const double frac = total_ > 0 ? std::clamp(static_cast<double>(done) / total_, 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(frac * kWidth);
  const double rate = elapsed_s > 0 ? done / elapsed_s : 0.0;
  const double eta = rate > 0 ? (total_ - done) / rate : NAN;
  std::string bar = std::string(filled, '#') + std::string(kWidth - filled, ' ');
  std::string line = fmt::format("{} [{}] {}/{} {:.2f} {}/s ETA {}", label_, bar, done, total_, rate, unit_,
                                 format_duration(eta));
  if (!status.empty()) line += " " + status;
  return line;
}

void ProgressBar::update(int64_t done, const std::string& status) {
  done_ = done;
  if (!enabled_ || finished_) return;
  const double now = watch_.seconds();
  if (done < total_ && last_draw_s_ >= 0 && now - last_draw_s_ < 0.1) return;
  last_draw_s_ = now;
  std::fprintf(stderr, "\r\033[K%s", render(done, now, status).c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_) {
    std::fprintf(stderr, "\r\033[K%s\n", render(done_, watch_.seconds(), "").c_str());
    std::fflush(stderr);
  }
}

}  // namespace zerorl
