// trainer/mixed_precision.h: master weights for mixed precision: the optimizer updates wide (fp32) copies of
// the parameters while the model that computes (and that the rollout engine samples with) runs narrow (bf16).
// Not here: the optimizer itself (torch::optim::AdamW over parameters()), the loss, the choice of dtypes.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/decoder.h"

namespace zerorl::trainer {

// The standard mixed-precision recipe (Micikevicius et al. 2018, "Mixed Precision Training", sec. 3.1):
//  1. forward/backward in the compute model (bf16 weights, bf16 activations and bf16 parameter grads);
//  2. after every micro-batch's backward, accumulate_grads(): master.grad += compute.grad upcast, then the
//     compute grads are dropped (set undefined). Gradient accumulation across micro-batches therefore happens
//     in the master dtype: summing many bf16 micro-batch grads in bf16 (8 mantissa bits) would lose the small
//     ones; the upcast is one elementwise pass per micro-batch, cheap next to a forward/backward;
//  3. clip and step the optimizer over parameters() (the masters: AdamW moments live in the master dtype);
//  4. push(): compute.copy_(master) in place, so tensors (and the rollout engine's CUDA-graph pointers) stay.
// The masters form a CausalLM of their own (same config, master dtype, same device) so that checkpoints save
// them in Hugging Face layout and resume restores them bit for bit. It is never run forward.
class MasterWeights {
 public:
  // Copies the compute model's current values into new masters of `master_dtype`.
  MasterWeights(model::CausalLM compute, torch::Dtype master_dtype);

  std::vector<torch::Tensor> parameters() { return master_params_; }  // what the optimizer owns
  model::CausalLM& masters() { return master_; }
  torch::Dtype dtype() const { return master_->dtype(); }

  void accumulate_grads();  // step 2; parameters without a compute grad are left alone
  void push();              // step 4
  void pull();              // masters := compute (upcast): after the compute model was changed directly

 private:
  model::CausalLM compute_, master_;
  std::vector<torch::Tensor> compute_params_, master_params_;  // same order (same module tree)
};

}  // namespace zerorl::trainer
