// kernels/rope.cu: rotary position embedding (transformers' apply_rotary_pos_emb: x cos + rotate_half(x) sin)
// on bf16 as one pass, and its gradient as one pass. torch takes five kernels forward (two products, the
// negation, the concatenation, the sum) over a transposed view, and more backward. Each thread owns one
// (d, d + D/2) pair and rounds where torch rounds, so the results are torch's bits; elementwise, so
// batch-invariant. LibTorch-free: kernels/rope.cpp is the glue.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda_common.cuh"
#include "kernels/rope_launch.h"

namespace zerorl::kernels {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float f(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float round_bf(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

// Forward, with x1 = x[d], x2 = x[d + D/2] (rotate_half(x) = [-x2, x1]):
//   out[d] = bf16(bf16(x1 c1) + bf16(-x2 s1)), out[d + D/2] = bf16(bf16(x2 c2) + bf16(x1 s2)).
// Backward (autograd through that formula, the two contributions to each x element one bf16 add):
//   dx[d] = bf16(bf16(g1 c1) + bf16(g2 s2)), dx[d + D/2] = bf16(bf16(g2 c2) - bf16(g1 s1)).
// I: the index type, 32-bit wherever the pair count fits (64-bit divisions cost tens of instructions each).
template <typename I>
__global__ void __launch_bounds__(kThreads)
    rope_kernel(const __nv_bfloat16* __restrict__ x, RopeStrides xs, const __nv_bfloat16* __restrict__ cos,
                const __nv_bfloat16* __restrict__ sin, RopeStrides cs, __nv_bfloat16* __restrict__ out, I B,
                I H, I T, I D, bool backward) {
  const I half = D / 2;
  const I i = static_cast<I>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= B * T * H * half) return;
  const I d = i % half, h = (i / half) % H, t = (i / (half * H)) % T, b = i / (half * H * T);
  const int64_t xo = b * xs.b + h * xs.h + t * xs.t, co = b * cs.b + t * cs.t,
                oo = ((static_cast<int64_t>(b) * T + t) * H + h) * D;
  const float v1 = f(x[xo + d]), v2 = f(x[xo + d + half]);
  const float c1 = f(cos[co + d]), c2 = f(cos[co + d + half]), s1 = f(sin[co + d]),
              s2 = f(sin[co + d + half]);
  if (!backward) {
    out[oo + d] = __float2bfloat16_rn(round_bf(v1 * c1) + round_bf(-v2 * s1));
    out[oo + d + half] = __float2bfloat16_rn(round_bf(v2 * c2) + round_bf(v1 * s2));
  } else {
    out[oo + d] = __float2bfloat16_rn(round_bf(v1 * c1) + round_bf(v2 * s2));
    out[oo + d + half] = __float2bfloat16_rn(round_bf(v2 * c2) + -round_bf(v1 * s1));
  }
}

}  // namespace

const char* launch_rope_bf16(const void* x, RopeStrides xs, const void* cos, const void* sin, RopeStrides cs,
                             void* out, int64_t B, int64_t H, int64_t T, int64_t D, bool backward,
                             void* stream) {
  const int64_t pairs = B * H * T * (D / 2);
  if (pairs == 0) return nullptr;
  if (D % 2 != 0) return "rope kernel: head_dim must be even";
  const auto blocks = static_cast<unsigned>((pairs + kThreads - 1) / kThreads);
  auto s = static_cast<cudaStream_t>(stream);
  if (pairs + kThreads < (int64_t{1} << 31)) {
    rope_kernel<uint32_t><<<blocks, kThreads, 0, s>>>(
        as_bf16(x), xs, as_bf16(cos), as_bf16(sin), cs, as_bf16(out), static_cast<uint32_t>(B),
        static_cast<uint32_t>(H), static_cast<uint32_t>(T), static_cast<uint32_t>(D), backward);
  } else {
    rope_kernel<int64_t><<<blocks, kThreads, 0, s>>>(as_bf16(x), xs, as_bf16(cos), as_bf16(sin), cs,
                                                     as_bf16(out), B, H, T, D, backward);
  }
  return launch_status();
}

}  // namespace zerorl::kernels
