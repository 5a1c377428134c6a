// trainer/lr_schedule.h: the one learning-rate schedule of zerorl (RL updates and `zerorl pretrain`): linear
// warmup, then constant or cosine decay to a floor. Not here: setting the rate on an optimizer (update.cpp,
// pretrain.cpp). Torch-free.
#pragma once

#include <cstdint>

#include "core/pretrain_config.h"
#include "core/run_config.h"

namespace zerorl::trainer {

struct LrSchedule {
  double peak = 0;           // the rate after warmup
  int64_t warmup_steps = 0;  // optimizer steps s = 0 .. warmup_steps-1 get peak * (s + 1) / warmup_steps
  int64_t total_steps = 0;   // where the cosine reaches its floor
  bool cosine = false;       // false: constant after warmup
  double min_ratio = 0;      // cosine floor = peak * min_ratio
};

// The rate of optimizer step `step` (0-based). After warmup, with t = min(1, (step - warmup) / (total -
// warmup)): constant: peak; cosine: floor + (peak - floor) * (1 + cos(pi t)) / 2 (peak when total <= warmup).
double lr_at(const LrSchedule& schedule, int64_t step);

// RL: optim.lr, optim.warmup_steps, optim.schedule, floor 0, over `total_opt_steps` optimizer steps
// (trainer.steps x algo.minibatches x algo.epochs).
LrSchedule lr_schedule(const OptimSection& optim, int64_t total_opt_steps);
// Pretraining: pretrain.lr, warmup_steps, cosine over pretrain.steps to lr * min_lr_ratio.
LrSchedule lr_schedule(const PretrainSection& pretrain);

}  // namespace zerorl::trainer
