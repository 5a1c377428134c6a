// kernels/sample.cu: one inverse-CDF draw per logits row, the engine's T = 1 sampler in one kernel. The
// LibTorch path converts the [rows, V] logits to float32 and runs log_softmax, exp, cumsum and searchsorted:
// five full passes (about 1 ms a decode step at 512 rows, Kineto) where this reads the row once, and one
// chunk of it a second time. LibTorch-free: kernels/sample.cpp is the glue.
//
// One block of 32 warps per row (a decode step has about one row per SM, so the warps are what keeps reads in
// flight; no result depends on their count: see the combining steps). The row is cut into chunks of 128
// tokens; a warp reads a chunk in one coalesced load per lane (4 consecutive tokens) and keeps the chunk's
// maximum and its sum of exp(z - chunk max). With the row's maximum M, a chunk's mass is sum * exp(chunk max
// - M); a scan of the masses in token order picks the first chunk of nonzero mass whose prefix passes the
// target, and one warp walks that chunk's tokens in order. Where the walk's float sum falls short of the
// chunk's prefix by rounding, the chunk's last token of nonzero probability is drawn: a draw always lands,
// never on a token of zero probability. The same uniform picks the same token as the LibTorch path except
// where the two float sums round across a token boundary; a row's token never depends on the other rows. (The
// first version gave each thread a contiguous run of 600 tokens: its reads were 32 cache lines per warp load,
// 425 us a step at 512 rows in the GRPO step's profile.)
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda_common.cuh"
#include "kernels/sample_launch.h"

namespace zerorl::kernels {
namespace {

constexpr int kThreads = 1024, kWarps = kThreads / 32;
constexpr int kChunk = 128;  // tokens per chunk: 32 lanes x 4

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
struct alignas(4 * sizeof(T)) Quad {
  T v[4];
};

// This lane's 4 tokens of chunk c (from token 4 * lane of it); past the vocabulary: -inf.
template <typename T>
__device__ __forceinline__ void load4(float (&z)[4], const T* row, int64_t vocab, int64_t c, int lane,
                                      bool vectorized) {
  const int64_t i0 = c * kChunk + 4 * lane;
  if (vectorized && i0 + 4 <= vocab) {
    const Quad<T> q = reinterpret_cast<const Quad<T>*>(row + i0)[0];
#pragma unroll
    for (int i = 0; i < 4; ++i) z[i] = to_f(q.v[i]);
    return;
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) z[i] = i0 + i < vocab ? to_f(row[i0 + i]) : -INFINITY;
}

__device__ __forceinline__ float warp_max(float x) {
  for (int off = 16; off > 0; off /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, off));
  return x;
}

// A butterfly: every lane ends with the same bits (a + b == b + a).
__device__ __forceinline__ float warp_sum(float x) {
  for (int off = 16; off > 0; off /= 2) x += __shfl_xor_sync(0xffffffffu, x, off);
  return x;
}

__device__ __forceinline__ float warp_inclusive_scan(float x, int lane) {
  for (int off = 1; off < 32; off *= 2) {
    const float y = __shfl_up_sync(0xffffffffu, x, off);
    if (lane >= off) x += y;
  }
  return x;
}

// Shared memory: 3 floats per chunk (maxima, masses, inclusive prefixes of the masses).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    sample_kernel(const T* __restrict__ logits, const double* __restrict__ uniforms,
                  int64_t* __restrict__ tokens, int64_t vocab, bool vectorized) {
  extern __shared__ float chunk[];  // [chunks] maxima, [chunks] masses, [chunks] prefixes
  __shared__ float warp_part[kWarps];
  __shared__ int picked, last_nonzero;
  const T* row = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  const int t = threadIdx.x, lane = t % 32, warp = t / 32;
  const int chunks = static_cast<int>((vocab + kChunk - 1) / kChunk);
  float* cmax = chunk;
  float* mass = chunk + chunks;
  float* prefix = chunk + 2 * chunks;
  if (t == 0) {
    picked = chunks;
    last_nonzero = -1;
  }
  // One read of the row: each chunk's maximum and sum of exp(z - maximum).
#pragma unroll 4
  for (int c = warp; c < chunks; c += kWarps) {
    float z[4];
    load4(z, row, vocab, c, lane, vectorized);
    const float m = warp_max(fmaxf(fmaxf(z[0], z[1]), fmaxf(z[2], z[3])));
    float s = 0.f;
    if (m != -INFINITY) {
#pragma unroll
      for (int i = 0; i < 4; ++i) s += expf(z[i] - m);
    }
    s = warp_sum(s);
    if (lane == 0) cmax[c] = m, mass[c] = s;
  }
  __syncthreads();
  float m = -INFINITY;
  for (int c = t; c < chunks; c += kThreads) m = fmaxf(m, cmax[c]);
  m = warp_max(m);
  if (lane == 0) warp_part[warp] = m;
  __syncthreads();
  m = warp_part[0];
  for (int w = 1; w < kWarps; ++w) m = fmaxf(m, warp_part[w]);
  if (m == -INFINITY) return;  // no token has probability: tokens keeps its 0
  for (int c = t; c < chunks; c += kThreads)
    mass[c] = cmax[c] == -INFINITY ? 0.f : mass[c] * expf(cmax[c] - m);
  __syncthreads();
  // Inclusive scan of the masses in chunk order: warp 0, each lane a contiguous run of chunks.
  if (warp == 0) {
    const int per = (chunks + 31) / 32, lo = min(chunks, lane * per), hi = min(chunks, lo + per);
    float run = 0.f;
    for (int c = lo; c < hi; ++c) run += mass[c];
    run = warp_inclusive_scan(run, lane) - run;
    for (int c = lo; c < hi; ++c) prefix[c] = run += mass[c];
  }
  __syncthreads();
  const float total = prefix[chunks - 1];
  const float target = fminf(static_cast<float>(uniforms[blockIdx.x]) * total, nextafterf(total, 0.f));
  // The first chunk of nonzero mass whose prefix passes the target. Rounding at the lanes' seams may leave
  // the prefixes out of order by an ulp, so the rule asks nothing more of them; where no chunk qualifies
  // (a seam at the very end), the last chunk of nonzero mass.
  for (int c = t; c < chunks; c += kThreads) {
    if (mass[c] > 0.f) {
      atomicMax(&last_nonzero, c);
      if (prefix[c] > target) atomicMin(&picked, c);
    }
  }
  __syncthreads();
  if (warp != 0) return;
  const int c = picked < chunks ? picked : last_nonzero;
  float z[4], e[4];
  load4(z, row, vocab, c, lane, vectorized);
  float own = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i) own += e[i] = z[i] == -INFINITY ? 0.f : expf(z[i] - m);
  float run = (c == 0 ? 0.f : prefix[c - 1]) + (warp_inclusive_scan(own, lane) - own);
  int hit = -1, last = -1;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    run += e[i];
    if (hit < 0 && e[i] > 0.f && run > target) hit = i;
    if (e[i] > 0.f) last = i;
  }
  const unsigned hits = __ballot_sync(0xffffffffu, hit >= 0);
  const unsigned lasts = __ballot_sync(0xffffffffu, last >= 0);
  const int owner = hits != 0 ? __ffs(hits) - 1 : 31 - __clz(lasts);
  if (lane == owner)
    tokens[blockIdx.x] = static_cast<int64_t>(c) * kChunk + 4 * lane + (hits != 0 ? hit : last);
}

}  // namespace

int64_t sample_tokens_max_vocab() { return 36 * 1024 / 12 * kChunk; }  // 3 floats a chunk in 36 KiB

const char* launch_sample_tokens(const void* logits, bool logits_bf16, const double* uniforms,
                                 int64_t* tokens, int64_t rows, int64_t vocab, void* stream) {
  if (rows == 0) return nullptr;
  if (vocab <= 0 || vocab > sample_tokens_max_vocab()) return "vocabulary size out of the kernel's range";
  auto s = static_cast<cudaStream_t>(stream);
  const auto bytes = static_cast<size_t>((vocab + kChunk - 1) / kChunk * 3 * sizeof(float));
  const bool vectorized = vocab % 4 == 0 && reinterpret_cast<uintptr_t>(logits) % 16 == 0;
  if (logits_bf16) {
    sample_kernel<<<static_cast<unsigned>(rows), kThreads, bytes, s>>>(as_bf16(logits), uniforms, tokens,
                                                                       vocab, vectorized);
  } else {
    sample_kernel<<<static_cast<unsigned>(rows), kThreads, bytes, s>>>(static_cast<const float*>(logits),
                                                                       uniforms, tokens, vocab, vectorized);
  }
  return launch_status();
}

}  // namespace zerorl::kernels
