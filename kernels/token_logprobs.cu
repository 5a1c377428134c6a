// kernels/token_logprobs.cu: per-row log-probability of one token, entropy and logsumexp of a logits row in
// one read (an online softmax: running max, sum of exp, and sum of exp times the logit's distance to the
// max), and the gradient of the log-probability as one read and one write. The LibTorch path takes about
// ten float32 passes over the [rows, vocab] logits for the same (log_softmax, gather, exp, mul, nansum;
// softmax, mul, scatter, copy, cast). One block per row with a fixed thread count and a fixed reduction
// tree, so a row's bits never depend on the other rows: the engine's sampler and the trainer's update,
// which both take their T = 1 log-probs from here, stay bit-equal. The idea is Liger-Kernel's and
// Wijmans et al. 2024's (fused cross-entropy over the vocabulary); written by hand because no Debian or
// LibTorch kernel returns these three per row. LibTorch-free: kernels/token_logprobs.cpp is the glue.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda_common.cuh"
#include "kernels/token_logprobs_launch.h"

namespace zerorl::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename O>
__device__ __forceinline__ O from_f(float v);
template <>
__device__ __forceinline__ float from_f<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// z = float(x) / T, torch's division of the float32 logits by the temperature; x / 1 is x, so no division.
template <typename T>
__device__ __forceinline__ float scaled(T x, float temperature) {
  return temperature == 1.f ? to_f(x) : to_f(x) / temperature;
}

// Four consecutive elements as one 16-byte (float) or 8-byte (bf16) access.
template <typename T>
struct alignas(4 * sizeof(T)) Quad {
  T v[4];
};

// Online softmax state of a set of z: m = max, s = sum exp(z - m), t = sum exp(z - m) (z - m). -inf entries
// (masked tokens) are probability 0 and skipped; an empty set has m = -inf, s = t = 0.
struct State {
  float m = -INFINITY, s = 0.f, t = 0.f;
};

__device__ __forceinline__ void push(State& st, float z) {
  if (z > st.m) {
    if (st.m == -INFINITY) {
      st.s = 1.f, st.t = 0.f;
    } else {
      const float d = st.m - z, e = expf(d);
      st.t = e * (st.t + st.s * d);
      st.s = st.s * e + 1.f;
    }
    st.m = z;
  } else if (z != -INFINITY) {  // a NaN lands here and makes s and t NaN, as torch's log_softmax would
    const float d = z - st.m, e = expf(d);
    st.s += e;
    st.t += e * d;
  }
}

__device__ __forceinline__ State combine(const State& a, const State& b) {
  if (b.m == -INFINITY) return a;
  if (a.m == -INFINITY) return b;
  State out;
  out.m = fmaxf(a.m, b.m);
  const float da = a.m - out.m, db = b.m - out.m, ea = expf(da), eb = expf(db);
  out.s = a.s * ea + b.s * eb;
  out.t = ea * (a.t + a.s * da) + eb * (b.t + b.s * db);
  return out;
}

// Lane 0 of each warp folds its warp by shfl_down (a fixed order), thread 0 folds the warps in order.
__device__ State block_state(State st) {
  __shared__ float warp_m[kWarps], warp_s[kWarps], warp_t[kWarps];  // plain floats: no constructors in shared
  for (int offset = 16; offset > 0; offset /= 2) {
    State other;
    other.m = __shfl_down_sync(0xffffffffu, st.m, offset);
    other.s = __shfl_down_sync(0xffffffffu, st.s, offset);
    other.t = __shfl_down_sync(0xffffffffu, st.t, offset);
    st = combine(st, other);
  }
  if (threadIdx.x % 32 == 0) {
    const int w = threadIdx.x / 32;
    warp_m[w] = st.m, warp_s[w] = st.s, warp_t[w] = st.t;
  }
  __syncthreads();
  State total;
  if (threadIdx.x == 0) {
    for (int w = 0; w < kWarps; ++w) {
      State part;
      part.m = warp_m[w], part.s = warp_s[w], part.t = warp_t[w];
      total = combine(total, part);
    }
  }
  return total;  // meaningful in thread 0 only
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    token_logprobs_kernel(const T* __restrict__ logits, const int64_t* __restrict__ ids,
                          float* __restrict__ logp, float* __restrict__ entropy, float* __restrict__ lse,
                          int64_t vocab, float temperature, bool vectorized) {
  const T* row = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  State st;
  if (vectorized) {
    // kAhead loads are issued before their pushes (a decode step has about one row per SM: one block's
    // loads in flight were the limit); the pushes keep the plain loop's order, so the bits do not change.
    constexpr int kAhead = 8;
    const auto* quads = reinterpret_cast<const Quad<T>*>(row);
    const int64_t n = vocab / 4;
    int64_t j = threadIdx.x;
    for (; j + (kAhead - 1) * kThreads < n; j += kAhead * kThreads) {
      Quad<T> q[kAhead];
#pragma unroll
      for (int u = 0; u < kAhead; ++u) q[u] = quads[j + u * kThreads];
#pragma unroll
      for (int u = 0; u < kAhead; ++u)
#pragma unroll
        for (int k = 0; k < 4; ++k) push(st, scaled(q[u].v[k], temperature));
    }
    for (; j < n; j += kThreads) {
      const Quad<T> q = quads[j];
#pragma unroll
      for (int k = 0; k < 4; ++k) push(st, scaled(q.v[k], temperature));
    }
  } else {
    for (int64_t j = threadIdx.x; j < vocab; j += kThreads) push(st, scaled(row[j], temperature));
  }
  const State total = block_state(st);
  if (threadIdx.x != 0) return;
  const float log_s = logf(total.s);
  const int64_t id = ids[blockIdx.x];
  const float z = (id >= 0 && id < vocab) ? scaled(row[id], temperature) : NAN;
  logp[blockIdx.x] = (z - total.m) - log_s;  // log_softmax's z - max - log(sum)
  entropy[blockIdx.x] = log_s - total.t / total.s;
  lse[blockIdx.x] = total.m + log_s;
}

template <typename T, typename O>
__device__ __forceinline__ O grad_one(T x, int64_t j, int64_t id, float g, float l, float temperature) {
  float v = expf(scaled(x, temperature) - l) * -g;  // softmax(z) * -g
  if (j == id) v += g;                              // + g onehot(token)
  return from_f<O>(temperature == 1.f ? v : v / temperature);
}

template <typename T, typename O>
__global__ void __launch_bounds__(kThreads)
    token_logprobs_backward_kernel(const T* __restrict__ logits, const int64_t* __restrict__ ids,
                                   const float* __restrict__ lse, const float* __restrict__ grad,
                                   O* __restrict__ dlogits, int64_t vocab, float temperature,
                                   bool vectorized) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * vocab;
  const float g = grad[blockIdx.x], l = lse[blockIdx.x];
  const int64_t id = ids[blockIdx.x];
  if (vectorized) {
    const auto* in = reinterpret_cast<const Quad<T>*>(logits + base);
    auto* out = reinterpret_cast<Quad<O>*>(dlogits + base);
    for (int64_t j = threadIdx.x; j < vocab / 4; j += kThreads) {
      const Quad<T> q = in[j];
      Quad<O> r;
#pragma unroll
      for (int k = 0; k < 4; ++k) r.v[k] = grad_one<T, O>(q.v[k], 4 * j + k, id, g, l, temperature);
      out[j] = r;
    }
  } else {
    for (int64_t j = threadIdx.x; j < vocab; j += kThreads)
      dlogits[base + j] = grad_one<T, O>(logits[base + j], j, id, g, l, temperature);
  }
}

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

template <typename T, typename O>
void backward_as(const void* logits, const int64_t* ids, const float* lse, const float* grad, void* dlogits,
                 int64_t rows, int64_t vocab, float temperature, cudaStream_t s) {
  const bool vec = vocab % 4 == 0 && aligned(logits, 4 * sizeof(T)) && aligned(dlogits, 4 * sizeof(O));
  token_logprobs_backward_kernel<T, O><<<static_cast<unsigned>(rows), kThreads, 0, s>>>(
      static_cast<const T*>(logits), ids, lse, grad, static_cast<O*>(dlogits), vocab, temperature, vec);
}

}  // namespace

const char* launch_token_logprobs(const void* logits, bool logits_bf16, const int64_t* ids, float* logp,
                                  float* entropy, float* lse, int64_t rows, int64_t vocab, float temperature,
                                  void* stream) {
  if (rows == 0) return nullptr;
  const auto s = static_cast<cudaStream_t>(stream);
  const auto grid = static_cast<unsigned>(rows);
  if (logits_bf16) {
    const bool vec = vocab % 4 == 0 && aligned(logits, 4 * sizeof(__nv_bfloat16));
    token_logprobs_kernel<__nv_bfloat16>
        <<<grid, kThreads, 0, s>>>(as_bf16(logits), ids, logp, entropy, lse, vocab, temperature, vec);
  } else {
    const bool vec = vocab % 4 == 0 && aligned(logits, 4 * sizeof(float));
    token_logprobs_kernel<float><<<grid, kThreads, 0, s>>>(static_cast<const float*>(logits), ids, logp,
                                                           entropy, lse, vocab, temperature, vec);
  }
  return launch_status();
}

const char* launch_token_logprobs_backward(const void* logits, bool logits_bf16, const int64_t* ids,
                                           const float* lse, const float* grad, void* dlogits, bool out_bf16,
                                           int64_t rows, int64_t vocab, float temperature, void* stream) {
  if (rows == 0) return nullptr;
  const auto s = static_cast<cudaStream_t>(stream);
  if (logits_bf16 && out_bf16) {
    backward_as<__nv_bfloat16, __nv_bfloat16>(logits, ids, lse, grad, dlogits, rows, vocab, temperature, s);
  } else if (logits_bf16) {
    backward_as<__nv_bfloat16, float>(logits, ids, lse, grad, dlogits, rows, vocab, temperature, s);
  } else if (out_bf16) {
    backward_as<float, __nv_bfloat16>(logits, ids, lse, grad, dlogits, rows, vocab, temperature, s);
  } else {
    backward_as<float, float>(logits, ids, lse, grad, dlogits, rows, vocab, temperature, s);
  }
  return launch_status();
}

}  // namespace zerorl::kernels
