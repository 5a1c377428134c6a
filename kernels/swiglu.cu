// kernels/swiglu.cu: silu(gate) * up on bf16 and its backward, each one pass over memory (torch runs two
// kernels forward and three backward, and autograd keeps silu(gate) as well). The forward also reads gate and
// up as the two halves of each row of one [rows, 2I] GEMM output (the decode step's stacked gate/up GEMM).
// The float math copies ATen's silu / silu_backward kernels (ActivationSiluKernel.cu) and its bf16 mul,
// rounding where they round, so the results are torch's bits. The backward likewise writes d gate and d up
// into the two halves of one [rows, 2I] buffer (the update's stacked gate/up backward). Elementwise:
// batch-invariant. LibTorch-free: kernels/swiglu.cpp is the glue.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda_common.cuh"
#include "kernels/swiglu_launch.h"

namespace zerorl::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kVec = 8;  // bf16 per 16-byte access
constexpr int64_t kMaxGridY = 65535;

__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ __nv_bfloat16 to_bf(float v) { return __float2bfloat16_rn(v); }

// ATen silu: x / (1 + exp(-x)) in float.
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

__device__ __forceinline__ __nv_bfloat16 silu_mul_one(__nv_bfloat16 g, __nv_bfloat16 u) {
  return to_bf(to_f(to_bf(silu(to_f(g)))) * to_f(u));
}

// d_up = bf16(dy a), a = bf16(silu(g)); d_a = bf16(dy u); d_g = ATen silu_backward(d_a, g).
__device__ __forceinline__ void silu_mul_grad_one(__nv_bfloat16 g, __nv_bfloat16 u, __nv_bfloat16 dy,
                                                  __nv_bfloat16& d_g, __nv_bfloat16& d_u) {
  const float x = to_f(g), a = to_f(to_bf(silu(x))), d = to_f(dy);
  d_u = to_bf(d * a);
  const float d_a = to_f(to_bf(d * to_f(u)));
  const float s = 1.0f / (1.0f + expf(-x));
  d_g = to_bf(d_a * s * (1.0f + x * (1.0f - s)));
}

union Pack {
  uint4 raw;
  __nv_bfloat16 v[kVec];
};

// y [rows, cols] (contiguous) from gate and up elements (r, c) at r * in_stride + c: grid.y walks the rows,
// x the columns. One thread per kVec elements (cols and in_stride multiples of kVec, 16-byte aligned
// pointers), else one per element.
template <bool kVectorized>
__global__ void __launch_bounds__(kThreads)
    silu_mul_kernel(const __nv_bfloat16* __restrict__ gate, const __nv_bfloat16* __restrict__ up,
                    __nv_bfloat16* __restrict__ y, int64_t rows, int64_t cols, int64_t in_stride) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const __nv_bfloat16 *g_row = gate + r * in_stride, *u_row = up + r * in_stride;
    __nv_bfloat16* y_row = y + r * cols;
    if constexpr (kVectorized) {
      if (i * kVec >= cols) return;
      Pack g, u, out;
      g.raw = reinterpret_cast<const uint4*>(g_row)[i];
      u.raw = reinterpret_cast<const uint4*>(u_row)[i];
#pragma unroll
      for (int k = 0; k < kVec; ++k) out.v[k] = silu_mul_one(g.v[k], u.v[k]);
      reinterpret_cast<uint4*>(y_row)[i] = out.raw;
    } else {
      if (i >= cols) return;
      y_row[i] = silu_mul_one(g_row[i], u_row[i]);
    }
  }
}

// d_gate and d_up elements (r, c) at r * out_stride + c from gate, up and dy [rows, cols] (contiguous):
// grid.y walks the rows, x the columns, as in silu_mul_kernel. A stacked [rows, 2I] gradient buffer is d_gate
// = its start, d_up = start + I, out_stride 2I; contiguous outputs are one row of n.
template <bool kVectorized>
__global__ void __launch_bounds__(kThreads)
    silu_mul_backward_kernel(const __nv_bfloat16* __restrict__ gate, const __nv_bfloat16* __restrict__ up,
                             const __nv_bfloat16* __restrict__ dy, __nv_bfloat16* __restrict__ d_gate,
                             __nv_bfloat16* __restrict__ d_up, int64_t rows, int64_t cols,
                             int64_t out_stride) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const int64_t in = r * cols, out = r * out_stride;
    if constexpr (kVectorized) {
      if (i * kVec >= cols) return;
      Pack g, u, d, dg, du;
      g.raw = reinterpret_cast<const uint4*>(gate + in)[i];
      u.raw = reinterpret_cast<const uint4*>(up + in)[i];
      d.raw = reinterpret_cast<const uint4*>(dy + in)[i];
#pragma unroll
      for (int k = 0; k < kVec; ++k) silu_mul_grad_one(g.v[k], u.v[k], d.v[k], dg.v[k], du.v[k]);
      reinterpret_cast<uint4*>(d_gate + out)[i] = dg.raw;
      reinterpret_cast<uint4*>(d_up + out)[i] = du.raw;
    } else {
      if (i >= cols) return;
      silu_mul_grad_one(gate[in + i], up[in + i], dy[in + i], d_gate[out + i], d_up[out + i]);
    }
  }
}

bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

unsigned blocks_for(int64_t items) { return static_cast<unsigned>((items + kThreads - 1) / kThreads); }

}  // namespace

const char* launch_silu_mul_bf16(const void* gate, const void* up, void* y, int64_t rows, int64_t cols,
                                 int64_t in_stride, void* stream) {
  if (rows == 0 || cols == 0) return nullptr;
  const auto s = static_cast<cudaStream_t>(stream);
  const auto grid_y = static_cast<unsigned>(std::min<int64_t>(rows, kMaxGridY));
  if (cols % kVec == 0 && in_stride % kVec == 0 && aligned(gate) && aligned(up) && aligned(y)) {
    const dim3 grid(blocks_for(cols / kVec), grid_y);
    silu_mul_kernel<true>
        <<<grid, kThreads, 0, s>>>(as_bf16(gate), as_bf16(up), as_bf16(y), rows, cols, in_stride);
  } else {
    const dim3 grid(blocks_for(cols), grid_y);
    silu_mul_kernel<false>
        <<<grid, kThreads, 0, s>>>(as_bf16(gate), as_bf16(up), as_bf16(y), rows, cols, in_stride);
  }
  return launch_status();
}

const char* launch_silu_mul_backward_bf16(const void* gate, const void* up, const void* dy, void* d_gate,
                                          void* d_up, int64_t rows, int64_t cols, int64_t out_stride,
                                          void* stream) {
  if (rows == 0 || cols == 0) return nullptr;
  const auto s = static_cast<cudaStream_t>(stream);
  const auto grid_y = static_cast<unsigned>(std::min<int64_t>(rows, kMaxGridY));
  if (cols % kVec == 0 && out_stride % kVec == 0 && aligned(gate) && aligned(up) && aligned(dy) &&
      aligned(d_gate) && aligned(d_up)) {
    const dim3 grid(blocks_for(cols / kVec), grid_y);
    silu_mul_backward_kernel<true><<<grid, kThreads, 0, s>>>(
        as_bf16(gate), as_bf16(up), as_bf16(dy), as_bf16(d_gate), as_bf16(d_up), rows, cols, out_stride);
  } else {
    const dim3 grid(blocks_for(cols), grid_y);
    silu_mul_backward_kernel<false><<<grid, kThreads, 0, s>>>(
        as_bf16(gate), as_bf16(up), as_bf16(dy), as_bf16(d_gate), as_bf16(d_up), rows, cols, out_stride);
  }
  return launch_status();
}

}  // namespace zerorl::kernels
