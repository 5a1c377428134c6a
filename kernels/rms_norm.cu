// kernels/rms_norm.cu: transformers' Qwen2/Llama RMSNorm on bf16 rows as one kernel, optionally fused with
// the residual add before it, and its backward as a second kernel. One block per row with a fixed thread
// count and a fixed reduction tree, so a row's bits never depend on how many rows share the launch
// (batch-invariant by construction: the engine's decode and the trainer's forward get the same bits).
// LibTorch-free: kernels/rms_norm.cpp is the glue. Written by hand because no Debian or LibTorch kernel does
// it: at::rms_norm composes several kernels, and its backward a dozen passes over float32 copies of the rows.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda_common.cuh"
#include "kernels/rms_norm_launch.h"

namespace zerorl::kernels {
namespace {

constexpr int kThreads = 256;  // 8 warps; every row is reduced by the same tree

__device__ float block_sum(float v) {
  __shared__ float warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  float total = 0;
  for (int i = 0; i < kThreads / 32; ++i) total += warp_sums[i];  // same order in every thread
  __syncthreads();  // warp_sums is free again: a block may call this once per row
  return total;
}

// torch's bf16 add: the float sum rounded once, stored to *sum and returned as a float.
__device__ __forceinline__ float add_rounded(float h, float d, __nv_bfloat16* sum) {
  const __nv_bfloat16 s = __float2bfloat16_rn(h + d);
  *sum = s;
  return __bfloat162float(s);
}

// The row's rsqrt(mean(h^2) + eps) from this thread's sum of squares; thread 0 stores it.
__device__ __forceinline__ float row_rstd(float squares, int64_t hidden, float eps, float* rstd) {
  const float r = rsqrtf(block_sum(squares) / static_cast<float>(hidden) + eps);
  if (threadIdx.x == 0) rstd[blockIdx.x] = r;
  return r;
}

// w * bf16(h * r), rounded to bf16.
__device__ __forceinline__ __nv_bfloat16 normed_out(float h, float r, float w) {
  return __float2bfloat16_rn(w * __bfloat162float(__float2bfloat16_rn(h * r)));
}

// y = w * bf16(h * rsqrt(mean(h^2) + eps)), h = float(x) or, with kAdd, h = float(bf16(x + delta)) whose
// bf16 value also goes to sum_out (torch's bf16 add: float sum, rounded once). rstd[row] = the rsqrt.
// Thread t takes elements t, t + kThreads, ... in order. With kPer > 0 (hidden <= kPer * kThreads) it keeps
// them in registers and issues every load of x, delta and w before the first use: a decode step's rows are
// few, and the generic loop's chain of dependent loads (4.1 to 3.3 us a call at 128 rows of 1536 in the
// 1.5B rollout's profile) was the time.
// Both read and add the same elements in the same order: the same bits.
template <bool kAdd, int kPer>
__global__ void __launch_bounds__(kThreads)
    rms_norm_kernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ delta,
                    const __nv_bfloat16* __restrict__ w, __nv_bfloat16* __restrict__ sum_out,
                    __nv_bfloat16* __restrict__ y, float* __restrict__ rstd, int64_t hidden, float eps) {
  extern __shared__ float row_values[];  // hidden floats (kPer 0): the row, read from global memory once
  const int64_t base = static_cast<int64_t>(blockIdx.x) * hidden;
  float squares = 0;
  if constexpr (kPer > 0) {
    float h[kPer], d[kPer], wv[kPer];
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const int64_t i = threadIdx.x + k * kThreads;
      if (i < hidden) {
        h[k] = __bfloat162float(x[base + i]);
        if constexpr (kAdd) d[k] = __bfloat162float(delta[base + i]);
        wv[k] = __bfloat162float(w[i]);
      }
    }
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const int64_t i = threadIdx.x + k * kThreads;
      if (i < hidden) {
        if constexpr (kAdd) h[k] = add_rounded(h[k], d[k], sum_out + base + i);
        squares += h[k] * h[k];
      }
    }
    const float r = row_rstd(squares, hidden, eps, rstd);
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const int64_t i = threadIdx.x + k * kThreads;
      if (i < hidden) y[base + i] = normed_out(h[k], r, wv[k]);
    }
  } else {
    for (int64_t i = threadIdx.x; i < hidden; i += kThreads) {
      float h = __bfloat162float(x[base + i]);
      if constexpr (kAdd) h = add_rounded(h, __bfloat162float(delta[base + i]), sum_out + base + i);
      row_values[i] = h;
      squares += h * h;
    }
    const float r = row_rstd(squares, hidden, eps, rstd);
    for (int64_t i = threadIdx.x; i < hidden; i += kThreads)
      y[base + i] = normed_out(row_values[i], r, __bfloat162float(w[i]));
  }
}

// Backward, rows blockIdx.x, blockIdx.x + gridDim.x, ...: with h = float(sum), r = rstd,
// dh = float(bf16(dy * w)) (torch's bf16 product, as autograd through the twin forms it),
// dx = r dh - h r^3 mean(dh h), rounded to bf16 once, then + d_residual as a bf16 add; and
// dw_partial[block] = sum over the block's rows of dy * bf16(h r), in shared memory until the end.
__global__ void __launch_bounds__(kThreads)
    rms_norm_backward_kernel(const __nv_bfloat16* __restrict__ sum, const __nv_bfloat16* __restrict__ w,
                             const float* __restrict__ rstd, const __nv_bfloat16* __restrict__ dy,
                             const __nv_bfloat16* __restrict__ d_residual, __nv_bfloat16* __restrict__ dx,
                             float* __restrict__ dw_partial, int64_t rows, int64_t hidden) {
  extern __shared__ float dw_block[];  // hidden floats; thread t owns columns t, t + kThreads, ...
  for (int64_t i = threadIdx.x; i < hidden; i += kThreads) dw_block[i] = 0;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = row * hidden;
    const float r = rstd[row];
    float dot = 0;
    for (int64_t i = threadIdx.x; i < hidden; i += kThreads) {
      const float h = __bfloat162float(sum[base + i]), g = __bfloat162float(dy[base + i]);
      const float dh = __bfloat162float(__float2bfloat16_rn(g * __bfloat162float(w[i])));
      dot += dh * h;
      dw_block[i] += g * __bfloat162float(__float2bfloat16_rn(h * r));
    }
    const float mean = block_sum(dot) / static_cast<float>(hidden);
    const float r3 = r * r * r;
    for (int64_t i = threadIdx.x; i < hidden; i += kThreads) {  // the row again, from L1
      const float h = __bfloat162float(sum[base + i]), g = __bfloat162float(dy[base + i]);
      const float dh = __bfloat162float(__float2bfloat16_rn(g * __bfloat162float(w[i])));
      __nv_bfloat16 out = __float2bfloat16_rn(r * dh - h * r3 * mean);
      if (d_residual != nullptr)
        out = __float2bfloat16_rn(__bfloat162float(d_residual[base + i]) + __bfloat162float(out));
      dx[base + i] = out;
    }
  }
  for (int64_t i = threadIdx.x; i < hidden; i += kThreads)
    dw_partial[static_cast<int64_t>(blockIdx.x) * hidden + i] = dw_block[i];
}

}  // namespace

const char* launch_rms_norm_bf16(const void* x, const void* delta, const void* weight, void* sum_out, void* y,
                                 float* rstd, int64_t rows, int64_t hidden, float eps, void* stream) {
  if (rows == 0) return nullptr;
  if (static_cast<size_t>(hidden) * sizeof(float) > 48 * 1024)
    return "rms_norm kernel: hidden size over 12288";
  // Registers for rows up to 2048 wide (Qwen2.5 0.5B to 3B), in launches of a decode step's few rows: on an
  // H100 (bench/results/update_kernels_h100.json) 256 rows of 1536 took 3.4 us against 3.8, but 16,384 rows
  // of 896 took 68 us against 59 (the generic loop keeps more rows in flight there).
  constexpr int kPer = 8;
  const bool in_registers = hidden <= kPer * kThreads && rows <= 1024;
  const size_t shared = in_registers ? 0 : static_cast<size_t>(hidden) * sizeof(float);
  const auto s = static_cast<cudaStream_t>(stream);
  const auto grid = static_cast<unsigned>(rows);
  const auto *xb = as_bf16(x), *db = as_bf16(delta), *wb = as_bf16(weight);
  auto *sb = as_bf16(sum_out), *yb = as_bf16(y);
  if (delta != nullptr && in_registers) {
    rms_norm_kernel<true, kPer><<<grid, kThreads, shared, s>>>(xb, db, wb, sb, yb, rstd, hidden, eps);
  } else if (delta != nullptr) {
    rms_norm_kernel<true, 0><<<grid, kThreads, shared, s>>>(xb, db, wb, sb, yb, rstd, hidden, eps);
  } else if (in_registers) {
    rms_norm_kernel<false, kPer>
        <<<grid, kThreads, shared, s>>>(xb, nullptr, wb, nullptr, yb, rstd, hidden, eps);
  } else {
    rms_norm_kernel<false, 0><<<grid, kThreads, shared, s>>>(xb, nullptr, wb, nullptr, yb, rstd, hidden, eps);
  }
  return launch_status();
}

const char* launch_rms_norm_backward_bf16(const void* sum, const void* weight, const float* rstd,
                                          const void* dy, const void* d_residual, void* dx, float* dw_partial,
                                          int64_t rows, int64_t hidden, int64_t blocks, void* stream) {
  if (rows == 0) return nullptr;
  const size_t shared = static_cast<size_t>(hidden) * sizeof(float);
  if (shared > 48 * 1024) return "rms_norm backward kernel: hidden size over 12288";
  if (blocks < 1 || blocks > rows) return "rms_norm backward kernel: blocks must be in [1, rows]";
  rms_norm_backward_kernel<<<static_cast<unsigned>(blocks), kThreads, shared,
                             static_cast<cudaStream_t>(stream)>>>(as_bf16(sum), as_bf16(weight), rstd,
                                                                  as_bf16(dy), as_bf16(d_residual),
                                                                  as_bf16(dx), dw_partial, rows, hidden);
  return launch_status();
}

}  // namespace zerorl::kernels
