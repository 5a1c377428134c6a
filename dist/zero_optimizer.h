// dist/zero_optimizer.h: ZeRO-1 (dist.zero = 1): AdamW whose fp32 master weights and moments are sharded over
// ranks, fed by reduce-scattered gradients, writing the all-gathered new weights into every rank's
// parameters. Not here: when the trainer calls it (trainer/update.cpp, trainer/zero_state.cpp: checkpoints),
// the replicated optimizer of dist.zero = 0 (torch::optim::AdamW).
//
// Why a flat-slice AdamW instead of torch::optim::AdamW: LibTorch's AdamW keeps its state per parameter
// tensor, while a rank's slice of the flat buffer cuts across parameter boundaries; reduce-scatter and
// all-gather want one contiguous buffer anyway. The update is LibTorch's AdamW (decoupled weight decay, bias
// correction, amsgrad off) written as the same elementwise ops over the slice, and the clip is
// torch::nn::utils::clip_grad_norm_'s (norm 2, coefficient max_norm / (norm + 1e-6) clamped to 1); tests/dist
// compares both with LibTorch's own.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "dist/communicator.h"

namespace zerorl::dist {

// The flat fp32 buffer of `numel` parameter elements (the parameters in order, each flattened), padded with
// zeros to world_size equal slices of `shard` elements; rank r owns [r * shard, (r + 1) * shard).
struct ShardLayout {
  int world_size = 1, rank = 0;
  int64_t numel = 0, padded = 0, shard = 0;
  int64_t begin() const { return static_cast<int64_t>(rank) * shard; }
};
ShardLayout shard_layout(int64_t numel, int world_size, int rank);

// Re-partitioning (resume on another world size): `old_shards` are every rank's slice of one flat buffer of
// `numel` real elements, in rank order (any equal slice length, padding last); returns `to`'s slice of it.
torch::Tensor reshard(const std::vector<torch::Tensor>& old_shards, const ShardLayout& to);

struct AdamWHyper {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class ShardedAdamW {
 public:
  // `params`: the model's trainable tensors (any floating dtype; the same shapes and order on every rank).
  // The master slice starts as this rank's part of their values, upcast to fp32.
  ShardedAdamW(Communicator& comm, std::vector<torch::Tensor> params, AdamWHyper hyper);

  // The flat fp32 gradient := 0 (call before a minibatch's first backward).
  void zero_grad();
  // flat gradient += every parameter's .grad (upcast to fp32), then the .grad is dropped (set undefined):
  // call after each micro-batch's backward, so accumulation happens in fp32 whatever the compute dtype. A
  // parameter without a grad adds nothing (unlike torch's AdamW, which skips it, its moments still decay).
  void accumulate_grads();
  // The optimizer step of the summed gradient: reduce-scatter (sum over ranks), the global L2 norm (the
  // slices' squared norms all-reduced), clip to max_norm (infinity: none), AdamW at `lr` on this rank's
  // slice, all-gather of the new masters into every parameter (downcast to its dtype). Returns the norm
  // before clipping. A collective: every rank calls it.
  double step(double lr, double max_norm);
  // masters := this rank's slice of the parameters' current values (after they were set directly).
  void pull() { pull_from(params_); }
  // masters := this rank's slice of `values` (the parameters' shapes and order, e.g. fp32 weights of the
  // model whose parameters compute in bf16); push() then writes them into the parameters.
  void pull_from(const std::vector<torch::Tensor>& values);
  // The full fp32 masters into the parameters (all-gather; what step() does after its update).
  void push();

  const ShardLayout& layout() const { return layout_; }
  int64_t steps() const { return steps_; }
  // This rank's state: masters, exp_avg, exp_avg_sq ([shard] fp32 each, same device as the parameters).
  torch::Tensor& masters() { return master_; }
  torch::Tensor& exp_avg() { return exp_avg_; }
  torch::Tensor& exp_avg_sq() { return exp_avg_sq_; }
  // Restores a saved state of this layout (checkpoint resume), then push()es the masters. Throws naming the
  // sizes when a slice has the wrong length. A collective (push).
  void load(const torch::Tensor& masters, const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq,
            int64_t steps);

 private:
  torch::Tensor flat_of(const std::vector<torch::Tensor>& values) const;  // [padded] fp32, packed

  Communicator& comm_;
  std::vector<torch::Tensor> params_;
  AdamWHyper hyper_;
  ShardLayout layout_;
  torch::Tensor grad_;                           // [padded] fp32, the accumulated gradient
  torch::Tensor master_, exp_avg_, exp_avg_sq_;  // [shard] fp32, this rank's slice
  int64_t steps_ = 0;
};

}  // namespace zerorl::dist
