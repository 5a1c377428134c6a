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
// rotate_pair: the forward of one pair, x, cos, sin and out pointing at their row's D values.
// bias (may be null): x + bias first, one bf16 add (torch's bias add after a projection GEMM).
template <typename I>
__device__ __forceinline__ void rotate_pair(const __nv_bfloat16* __restrict__ x,
                                            const __nv_bfloat16* __restrict__ cos,
                                            const __nv_bfloat16* __restrict__ sin, I d, I half,
                                            __nv_bfloat16* __restrict__ out,
                                            const __nv_bfloat16* __restrict__ bias = nullptr) {
  float v1 = f(x[d]), v2 = f(x[d + half]);
  if (bias != nullptr) v1 = round_bf(v1 + f(bias[d])), v2 = round_bf(v2 + f(bias[d + half]));
  out[d] = __float2bfloat16_rn(round_bf(v1 * f(cos[d])) + round_bf(-v2 * f(sin[d])));
  out[d + half] = __float2bfloat16_rn(round_bf(v2 * f(cos[d + half])) + round_bf(v1 * f(sin[d + half])));
}

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
  if (!backward) {
    rotate_pair(x + xo, cos + co, sin + co, d, half, out + oo);
  } else {
    const float v1 = f(x[xo + d]), v2 = f(x[xo + d + half]);
    const float c1 = f(cos[co + d]), c2 = f(cos[co + d + half]), s1 = f(sin[co + d]),
                s2 = f(sin[co + d + half]);
    out[oo + d] = __float2bfloat16_rn(round_bf(v1 * c1) + round_bf(v2 * s2));
    out[oo + d + half] = __float2bfloat16_rn(round_bf(v2 * c2) + -round_bf(v1 * s1));
  }
}

// The decode step's rows after their q/k/v projection: thread (r, head, d) of Hq + 2 Hkv heads rotates a
// q pair into q_out [R, Hq, D], a k pair into the K cache, or copies a v pair into the V cache, at the row's
// cache position (caches [slots, Hkv, capacity, D]; row r is slot r). cos/sin: [capacity, D] tables.
__global__ void __launch_bounds__(kThreads)
    rope_decode_kernel(RopeDecodeArgs a, uint32_t heads, uint32_t half, uint32_t total) {
  const uint32_t i = blockIdx.x * kThreads + threadIdx.x;
  if (i >= total) return;
  const uint32_t d = i % half, h = (i / half) % heads, r = i / (half * heads);
  const auto q_heads = static_cast<uint32_t>(a.q_heads), kv_heads = static_cast<uint32_t>(a.kv_heads);
  const uint32_t D = 2 * half;
  const int64_t pos = a.positions[r];
  const auto* cos = as_bf16(a.cos) + pos * D;
  const auto* sin = as_bf16(a.sin) + pos * D;
  if (h < q_heads) {
    rotate_pair(as_bf16(a.q) + r * a.q_row + h * a.q_head, cos, sin, d, half,
                as_bf16(a.q_out) + (static_cast<int64_t>(r) * q_heads + h) * D,
                a.q_bias ? as_bf16(a.q_bias) + h * D : nullptr);
    return;
  }
  const uint32_t kv = (h - q_heads) % kv_heads;
  const int64_t cache_row = (static_cast<int64_t>(r) * kv_heads + kv) * a.capacity + pos;
  if (h < q_heads + kv_heads) {
    rotate_pair(as_bf16(a.k) + r * a.k_row + kv * a.k_head, cos, sin, d, half,
                as_bf16(a.k_cache) + cache_row * D, a.k_bias ? as_bf16(a.k_bias) + kv * D : nullptr);
    return;
  }
  const auto* v = as_bf16(a.v) + r * a.v_row + kv * a.v_head;
  auto* out = as_bf16(a.v_cache) + cache_row * D;
  if (a.v_bias == nullptr) {
    out[d] = v[d], out[d + half] = v[d + half];
    return;
  }
  const auto* b = as_bf16(a.v_bias) + kv * D;
  out[d] = __float2bfloat16_rn(f(v[d]) + f(b[d]));
  out[d + half] = __float2bfloat16_rn(f(v[d + half]) + f(b[d + half]));
}

}  // namespace

const char* launch_rope_decode_bf16(const RopeDecodeArgs& a, int64_t rows, int64_t head_dim, void* stream) {
  if (rows == 0) return nullptr;
  if (head_dim % 2 != 0) return "rope decode kernel: head_dim must be even";
  const int64_t heads = a.q_heads + 2 * a.kv_heads, total = rows * heads * (head_dim / 2);
  if (total + kThreads >= (int64_t{1} << 31)) return "rope decode kernel: too many rows";
  const auto blocks = static_cast<unsigned>((total + kThreads - 1) / kThreads);
  rope_decode_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      a, static_cast<uint32_t>(heads), static_cast<uint32_t>(head_dim / 2), static_cast<uint32_t>(total));
  return launch_status();
}

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
