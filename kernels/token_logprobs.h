// kernels/token_logprobs.h: per-token log-probabilities, entropies and logsumexps of logits rows, and the
// log-probability's gradient, as CUDA kernels where zerorl was built with nvcc (kernels/token_logprobs.cu),
// with a plain-LibTorch twin. The kernel's rows are batch-invariant, so the engine's sampler and the
// trainer (algo/logits.h), which both take their log-probs from it on CUDA, get the same bits for the same
// logits. The sums run in another order than torch's log_softmax: the kernel equals the twin to float
// rounding, not bit for bit.
#pragma once

#include <torch/torch.h>

#include "kernels/switch.h"

namespace zerorl::kernels {

struct TokenLogprobs {
  torch::Tensor logp;     // [n] float32: log_softmax(z)[ids], z = float(logits) / temperature
  torch::Tensor entropy;  // [n] float32: -sum_v p_v log p_v (-inf logits count as p = 0)
  torch::Tensor lse;      // [n] float32: logsumexp(z), what the backward needs
};

// Twin: log_softmax in float32, gather, and p * log p summed (nansum). logits [n, V] any float dtype,
// ids [n] int64, temperature > 0. Differentiable through logp.
TokenLogprobs token_logprobs_reference(const torch::Tensor& logits, const torch::Tensor& ids,
                                       double temperature);

// Whether token_logprobs / token_logprobs_backward take the kernels for these logits: a build with the
// kernels, enabled, CUDA, 2-D, float32 or bf16.
bool use_token_logprobs_kernel(const torch::Tensor& logits);

// The twin's three results through one kernel (use_token_logprobs_kernel must hold; ids in [0, V): an id
// outside gives NaN). Not differentiable: algo/logits.cpp's autograd nodes call the backward below.
TokenLogprobs token_logprobs(const torch::Tensor& logits, const torch::Tensor& ids, double temperature);

// d(sum_r grad[r] logp[r]) / d logits = grad[r] (onehot(ids[r]) - exp(z - lse[r])) / temperature, as an
// [n, V] tensor of out_dtype (float32 or bf16). lse from token_logprobs; grad [n] float32.
torch::Tensor token_logprobs_backward(const torch::Tensor& logits, const torch::Tensor& ids,
                                      const torch::Tensor& lse, const torch::Tensor& grad, double temperature,
                                      torch::ScalarType out_dtype);

}  // namespace zerorl::kernels
