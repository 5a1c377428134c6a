// kernels/sample.cu: one inverse-CDF draw per logits row, the engine's T = 1 sampler in one kernel. The
// LibTorch path converts the [rows, V] logits to float32 and runs log_softmax, exp, cumsum and searchsorted:
// five full passes (about 1 ms a decode step at 512 rows, Kineto) where this reads the row twice, and
// a part of it a third time. LibTorch-free: kernels/sample.cpp is the glue.
//
// One block per row, each thread a contiguous run of tokens, so the cumulative sum runs in token order:
// pass 1 takes the row's maximum (exact in any order); pass 2 sums each run's exp(z - max); thread 0 turns
// the 256 sums into an inclusive prefix; the one thread whose run holds the target walks its run again,
// adding in the same order, so its running sum ends on exactly its prefix and the draw always lands. The
// same uniform picks the same token as the LibTorch path except where the two float sums round across a
// token boundary; a row's token never depends on the other rows.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda_common.cuh"
#include "kernels/sample_launch.h"

namespace zerorl::kernels {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }

// Thread t's run [lo, hi) of a row of `vocab` tokens: runs of a multiple of 8 tokens.
__device__ __forceinline__ void run_of(int t, int64_t vocab, int64_t& lo, int64_t& hi) {
  const int64_t run = ((vocab + kThreads - 1) / kThreads + 7) / 8 * 8;
  lo = min(vocab, t * run);
  hi = min(vocab, lo + run);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    sample_kernel(const T* __restrict__ logits, const double* __restrict__ uniforms,
                  int64_t* __restrict__ tokens, int64_t vocab) {
  __shared__ float prefix[kThreads];
  __shared__ float warp_max[kThreads / 32];
  const T* row = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  const int t = threadIdx.x;
  int64_t lo, hi;
  run_of(t, vocab, lo, hi);
  float m = -INFINITY;
  for (int64_t i = lo; i < hi; ++i) m = fmaxf(m, to_f(row[i]));
  for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  if (t % 32 == 0) warp_max[t / 32] = m;
  __syncthreads();
  m = warp_max[0];
  for (int w = 1; w < kThreads / 32; ++w) m = fmaxf(m, warp_max[w]);
  float mass = 0.f;
  for (int64_t i = lo; i < hi; ++i) mass += expf(to_f(row[i]) - m);
  prefix[t] = mass;
  __syncthreads();
  if (t == 0) {
    for (int k = 1; k < kThreads; ++k) prefix[k] += prefix[k - 1];
  }
  __syncthreads();
  const float total = prefix[kThreads - 1];
  const float target = fminf(static_cast<float>(uniforms[blockIdx.x]) * total, nextafterf(total, 0.f));
  const float before = t == 0 ? 0.f : prefix[t - 1];
  if (!(before <= target && prefix[t] > target)) return;  // exactly one thread goes on (prefix is monotone)
  float run = 0.f;
  for (int64_t i = lo; i < hi; ++i) {
    run += expf(to_f(row[i]) - m);
    if (before + run > target) {
      tokens[blockIdx.x] = i;
      return;
    }
  }
}

}  // namespace

const char* launch_sample_tokens(const void* logits, bool logits_bf16, const double* uniforms,
                                 int64_t* tokens, int64_t rows, int64_t vocab, void* stream) {
  if (rows == 0) return nullptr;
  auto s = static_cast<cudaStream_t>(stream);
  if (logits_bf16) {
    sample_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(as_bf16(logits), uniforms, tokens, vocab);
  } else {
    sample_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(static_cast<const float*>(logits),
                                                                   uniforms, tokens, vocab);
  }
  return launch_status();
}

}  // namespace zerorl::kernels
