// kernels/sample.h: one inverse-CDF draw per logits row from softmax(logits) (the engine's sampler at
// temperature 1 without filters), as one CUDA kernel where zerorl was built with nvcc (kernels/sample.cu),
// with its LibTorch twin (exp of the log-probs, cumsum, searchsorted: what rollout/sampling.cpp runs). Both
// walk the cumulative probability in token order with the same keyed uniform, so they draw the same token
// except where their float sums round across a token boundary; each row's draw is independent of the batch.
#pragma once

#include <torch/torch.h>

#include "kernels/switch.h"

namespace zerorl::kernels {

// Twin: the first v with cumsum(exp(logp))[v] > float(u) * total (capped just below the total), for
// float32 log-probs logp [n, V] (the sampler's, filtered or not) and uniforms [n] in [0, 1). Returns [n]
// int64. The kernel's draw from logits is this twin's from log_softmax(float(logits)).
torch::Tensor inverse_cdf_reference(const torch::Tensor& logp, const torch::Tensor& uniforms);

// Whether sample_tokens takes the kernel: a build with the kernels, enabled, CUDA, 2-D float32/bf16 logits
// of at most sample_tokens_max_vocab() (393,216) columns.
bool use_sample_kernel(const torch::Tensor& logits);

// inverse_cdf_reference(log_softmax(float(logits)), uniforms) through the kernel (use_sample_kernel must
// hold; uniforms [n] on the logits' device).
torch::Tensor sample_tokens(const torch::Tensor& logits, const torch::Tensor& uniforms);

}  // namespace zerorl::kernels
