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

// The decode step's RoPE and KV-cache write as one launch (five kernels otherwise: the projections' bias
// add, two rotations, two cache writes). Inputs:
//   q [R, 1, Hq, D], k and v [R, 1, Hkv, D] with contiguous last dimensions (views of one projection output
//   are fine); q_bias [Hq * D], k_bias, v_bias [Hkv * D] or undefined, added first (torch's bf16 add);
//   cos, sin [capacity, D] tables; positions [R] int64, row r's cache position.
// k_cache, v_cache [S >= R, Hkv, capacity, D] contiguous, row r writing slot r.
struct RopeDecodeInputs {
  torch::Tensor q, k, v, q_bias, k_bias, v_bias, cos, sin, positions;
};

// Twin: the biases added, rope_reference at the rows' positions, two index_put_ writes. Writes rope(k) and v
// at [r, :, positions[r]] of the caches and returns rope(q) [R, 1, Hq, D].
torch::Tensor rope_decode_reference(const RopeDecodeInputs& in, torch::Tensor& k_cache,
                                    torch::Tensor& v_cache);

// Whether rope_decode takes the kernel: a build with the kernels, "rope" enabled, all of it bf16 (positions
// int64) on one CUDA device in the layouts above, no gradient wanted.
bool use_rope_decode_kernel(const RopeDecodeInputs& in, const torch::Tensor& k_cache,
                            const torch::Tensor& v_cache);

// rope_decode_reference's writes and result through the kernel, bit for bit (use_rope_decode_kernel must
// hold). The result is contiguous.
torch::Tensor rope_decode(const RopeDecodeInputs& in, torch::Tensor& k_cache, torch::Tensor& v_cache);

}  // namespace zerorl::kernels
