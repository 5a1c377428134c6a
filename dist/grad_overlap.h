// dist/grad_overlap.h: DDP-style gradient sync overlapped with backward: autograd hooks pack each
// parameter's final gradient into fp32 buckets (reverse parameter order, the order backward produces them)
// and start a bucket's all-reduce as soon as it is full, while backward still runs for earlier layers. Not
// here: the non-overlapped buckets (grad_sync.h), ZeRO-1 (zero_optimizer.h), when the trainer arms it
// (trainer/update.cpp).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dist/communicator.h"

namespace zerorl::dist {

class OverlappedGradSync {
 public:
  // `params`: the tensors backward computes gradients for (their hooks fire); `accum[i]`: the tensor whose
  // .grad holds params[i]'s gradient summed over the earlier micro-batches (params[i] itself, or its fp32
  // master in mixed precision). Buckets of at most bucket_bytes (fp32), filled from the last parameter.
  OverlappedGradSync(Communicator& comm, std::vector<torch::Tensor> params, std::vector<torch::Tensor> accum,
                     int64_t bucket_bytes);
  ~OverlappedGradSync();  // detaches its hooks' state (the hooks then do nothing)

  // The next backward is the last micro-batch's: its hooks pack accum.grad + the new gradient and start each
  // bucket's all-reduce, strictly in bucket order (every rank issues the same collectives in the same order).
  void arm();
  // After that backward: starts the buckets still waiting (a parameter without a gradient counts as zero),
  // waits for every bucket, and writes the sums into accum[i].grad (fp32 -> its dtype); a parameter with no
  // gradient at all keeps none (as grad_sync.h skips it: which parameters get one must agree over ranks).
  // A collective.
  void finish();
  int64_t buckets() const;
  // Buckets whose all-reduce the hooks started during the last armed backward (the rest started in
  // finish()): what overlapped. Buckets start strictly in order, so a parameter without a gradient holds
  // back every bucket after its own until finish().
  int64_t started_in_backward() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the hooks, which outlive nothing: finish() or the dtor
};

}  // namespace zerorl::dist
