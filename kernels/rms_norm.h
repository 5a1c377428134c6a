// kernels/rms_norm.h: RMSNorm (transformers' Qwen2RMSNorm / LlamaRMSNorm) and the residual add before it,
// as one CUDA kernel where zerorl was built with nvcc (kernels/rms_norm.cu), with a plain-LibTorch twin that
// the tests hold it against. Both are differentiable; the kernel's backward is a second kernel over the saved
// input and 1/rms (d/dx with the residual's gradient added, and per-block partial sums of d/dw). The forward
// kernel is batch-invariant (a row's bits do not depend on the other rows), so the engine's decode and the
// trainer's forward, which both go through model::RMSNorm, stay bit-equal.
#pragma once

#include <torch/torch.h>

#include <utility>

#include "kernels/switch.h"

namespace zerorl::kernels {

// Twin: y = weight * to_dtype(h * rsqrt(mean(h^2) + eps)) with h = float32(x), the cast to weight's dtype.
torch::Tensor rms_norm_reference(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// Whether rms_norm / add_rms_norm take the kernel for these tensors: a build with the kernels, the kernels
// enabled (switch.h), CUDA, x and weight bf16, hidden size <= 12288.
bool use_kernel(const torch::Tensor& x, const torch::Tensor& weight);

// rms_norm_reference's result through the kernel (use_kernel must hold).
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// {x + delta, rms_norm(x + delta)} through one kernel (use_kernel must hold; delta shaped like x).
std::pair<torch::Tensor, torch::Tensor> add_rms_norm(const torch::Tensor& x, const torch::Tensor& delta,
                                                     const torch::Tensor& weight, double eps);

}  // namespace zerorl::kernels
