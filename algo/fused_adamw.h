// algo/fused_adamw.h: torch::optim::AdamW whose step runs as one multi-tensor kernel on CUDA.
// LibTorch's C++ AdamW walks the parameters one at a time, about ten kernels each (~3,000 launches for a
// 0.5B Qwen2.5 with 290 tensors) with host work between them; Python's torch.optim.AdamW uses the fused or
// foreach path instead. This class keeps torch::optim::AdamW's options, state (step, exp_avg, exp_avg_sq)
// and serialization, so checkpoints and every caller holding a torch::optim::AdamW* stay as they are; only
// step() changes: on CUDA (torch >= 2) it calls ATen's _fused_adamw_, elsewhere the base class's loop.
// The update is the same formula (decoupled weight decay, bias-corrected moments):
//   p <- p (1 - lr wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// rounded in another order, so it agrees with the loop to float rounding, not bit for bit.
#pragma once

#include <torch/torch.h>

namespace zerorl::algo {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;

  torch::Tensor step(LossClosure closure = nullptr) override;

  // True where step() takes the fused kernel for parameters on `device` (CUDA with torch >= 2).
  static bool fused_on(const torch::Device& device);
};

}  // namespace zerorl::algo
