// kernels/rope.h: rotary position embedding, x cos + rotate_half(x) sin (transformers'
// apply_rotary_pos_emb), as one CUDA kernel forward and one backward where zerorl was built with nvcc
// (kernels/rope.cu), with its LibTorch twin. The kernel rounds where torch rounds, so forward and gradient
// are the twin's bits; elementwise, so batch-invariant.
#pragma once

#include <torch/torch.h>

#include "kernels/switch.h"

namespace zerorl::kernels {

// Twin: x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2]).
//   x [B, H, T, D]; cos, sin broadcastable to [B, 1, T, D].
torch::Tensor rope_reference(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// Whether rope takes the kernel: a build with the kernels, enabled, CUDA, x [B, H, T, D] with D even and its
// last dimension contiguous, cos and sin [B or 1, 1, T, D] with contiguous last dimensions, all bf16, and
// no gradient wanted for cos and sin.
bool use_rope_kernel(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// rope_reference's result through the kernel (use_rope_kernel must hold); differentiable w.r.t. x. The
// result is [B, H, T, D] laid out as [B, T, H, D] in memory (the layout of the attention's projections).
torch::Tensor rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace zerorl::kernels
