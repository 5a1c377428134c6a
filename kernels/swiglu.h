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

// The update's gate_proj, up_proj and SwiGLU as one autograd node: silu_mul(x w_gate^T, x w_up^T) [..., I]
// with the forward's bits (torch's two linears, as model::LinearImpl runs them, then the kernel), and a
// backward that runs each projection pair as one GEMM over w_stacked [2I, H], the two weights side by side
// (model::MLPImpl::stacked_gate_up_weight): the SwiGLU backward writes d gate and d up into the halves of one
// [T, 2I] buffer, d x = [d gate | d up] w_stacked (K = 2I: one float32 sum and one rounding where autograd
// rounds two products and adds them), and [d w_gate; d w_up] = [d gate | d up]^T x (M = 2I), whose halves
// are the two weights' gradients. Backward differs from the two linears' by float rounding only.
bool use_gate_up_silu_mul(const torch::Tensor& x, const torch::Tensor& w_gate, const torch::Tensor& w_up,
                          const torch::Tensor& w_stacked);
// Needs use_gate_up_silu_mul (a build with the kernels, swiglu and stacked_mlp_backward on, bf16 CUDA).
torch::Tensor gate_up_silu_mul(const torch::Tensor& x, const torch::Tensor& w_gate, const torch::Tensor& w_up,
                               const torch::Tensor& w_stacked);

}  // namespace zerorl::kernels
