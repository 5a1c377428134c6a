// kernels/swiglu.h: the gated MLP's activation, silu(gate) * up (transformers' Qwen2MLP / LlamaMLP with
// hidden_act silu), as one CUDA kernel forward and one backward where zerorl was built with nvcc
// (kernels/swiglu.cu), with its LibTorch twin. The kernel keeps torch's bf16 roundings (silu rounded, then
// the product rounded), so its forward equals the twin's bits; elementwise, so batch-invariant. Its backward
// saves gate and up only (autograd through the twin also keeps silu(gate)).
#pragma once

#include <torch/torch.h>

#include "kernels/switch.h"

namespace zerorl::kernels {

// Twin: torch::silu(gate) * up.
torch::Tensor silu_mul_reference(const torch::Tensor& gate, const torch::Tensor& up);

// Whether silu_mul takes the kernel: a build with the kernels, enabled, CUDA, gate and up bf16 of one shape.
bool use_silu_mul_kernel(const torch::Tensor& gate, const torch::Tensor& up);

// silu_mul_reference's result through the kernel (use_silu_mul_kernel must hold); differentiable.
torch::Tensor silu_mul(const torch::Tensor& gate, const torch::Tensor& up);

// The same on the two halves of gu [..., 2I] (gate first): the output of the decode step's one GEMM over the
// stacked gate_proj/up_proj weights. Twin: silu_mul_reference(gu[..., :I], gu[..., I:]) -> [..., I].
torch::Tensor silu_mul_stacked_reference(const torch::Tensor& gu);

// Whether silu_mul_stacked takes the kernel: a build with the kernels, "swiglu" enabled, gu bf16 CUDA with an
// even, non-zero last dimension.
bool use_silu_mul_stacked_kernel(const torch::Tensor& gu);

// silu_mul_stacked_reference's bits through the kernel (use_silu_mul_stacked_kernel must hold). Inference
// only: there is no backward, so it throws where gu wants a gradient.
torch::Tensor silu_mul_stacked(const torch::Tensor& gu);

}  // namespace zerorl::kernels
