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

}  // namespace zerorl::kernels
