// model/recompute.h: gradient checkpointing of one decoder layer (activation recomputation, Chen et al. 2016,
// "Training Deep Nets with Sublinear Memory Cost"). Not here: when to use it (CausalLM's switch, trainer
// config).
#pragma once

#include <torch/torch.h>

#include "model/decoder.h"

namespace zerorl::model {

// y = layer(x, in) without the KV cache, keeping only x (and all of `in`) for backward: the forward
// runs without autograd graph; backward recomputes the layer with grad enabled on a detached copy of x,
// backpropagates the incoming gradient through it (parameter grads accumulate into their .grad, as in
// PyTorch's reentrant torch.utils.checkpoint) and returns d loss / d x.
// LibTorch's C++ API has no torch.utils.checkpoint, hence this hand-written autograd::Function.
// RNG: the decoder has no dropout or any other random op, so the recomputation equals the original forward
// (no RNG state to save or restore). Requires x.requires_grad() (else no parameter would get a gradient).
torch::Tensor checkpointed_layer(DecoderLayerImpl& layer, const torch::Tensor& x, const AttentionInputs& in);

}  // namespace zerorl::model
