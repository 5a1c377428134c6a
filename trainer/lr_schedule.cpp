// trainer/lr_schedule.cpp: warmup + constant/cosine (see lr_schedule.h). Not here: optimizers.
#include "trainer/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace zerorl::trainer {

double lr_at(const LrSchedule& s, int64_t step) {
  if (s.warmup_steps > 0 && step < s.warmup_steps) {
    return s.peak * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  }
  if (!s.cosine || s.total_steps <= s.warmup_steps) return s.peak;
  const double t = std::min(
      1.0, static_cast<double>(step - s.warmup_steps) / static_cast<double>(s.total_steps - s.warmup_steps));
  const double floor = s.peak * s.min_ratio;
  return floor + (s.peak - floor) * 0.5 * (1.0 + std::cos(M_PI * t));
}

LrSchedule lr_schedule(const OptimSection& o, int64_t total_opt_steps) {
  return LrSchedule{o.lr, o.warmup_steps, total_opt_steps, o.schedule == "cosine", 0.0};
}

LrSchedule lr_schedule(const PretrainSection& p) {
  return LrSchedule{p.lr, p.warmup_steps, p.steps, true, p.min_lr_ratio};
}

}  // namespace zerorl::trainer
