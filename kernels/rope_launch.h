// kernels/rope_launch.h: the LibTorch-free entries of kernels/rope.cu (compiled by nvcc).
#pragma once

#include <cstdint>

namespace zerorl::kernels {

// Strides (in elements) of a [B, H, T, D] tensor whose last dimension is contiguous, and of the [B, 1, T, D]
// cos/sin tables (b_stride 0 where they broadcast over B).
struct RopeStrides {
  int64_t b, h, t;
};

// out [B, T, H, D] contiguous bf16 = x * cos + rotate_half(x) * sin with torch's bf16 roundings, x bf16 with
// strides xs, cos/sin bf16 with strides cs (h unused). backward: dx [B, T, H, D] contiguous = the gradient
// through the same formula given dy (strides ys). D even. Return nullptr, or the launch error.
const char* launch_rope_bf16(const void* x, RopeStrides xs, const void* cos, const void* sin, RopeStrides cs,
                             void* out, int64_t B, int64_t H, int64_t T, int64_t D, bool backward,
                             void* stream);

// The decode step's RoPE and KV-cache write in one launch. q, k, v: bf16 rows r of heads h at
// q + r * q_row + h * q_head (last dimension contiguous; views of one projection output may share rows).
// q_bias, k_bias, v_bias: bf16 [heads, D] or null, added to q, k, v first (one bf16 add, torch's rounding).
// cos, sin: bf16 [capacity, D] tables; positions: int64 [rows] on the device, row r's cache position.
// Writes q_out [rows, q_heads, D] = rope(q), k_cache[r, h, positions[r]] = rope(k) and
// v_cache[r, h, positions[r]] = v (caches bf16 [slots >= rows, kv_heads, capacity, D], contiguous), with
// launch_rope_bf16's roundings.
struct RopeDecodeArgs {
  const void *q, *k, *v;
  int64_t q_row, q_head, k_row, k_head, v_row, v_head;
  const void *q_bias, *k_bias, *v_bias;
  const void *cos, *sin;
  const int64_t* positions;
  void *q_out, *k_cache, *v_cache;
  int64_t q_heads, kv_heads, capacity;
};
const char* launch_rope_decode_bf16(const RopeDecodeArgs& args, int64_t rows, int64_t head_dim, void* stream);

}  // namespace zerorl::kernels
