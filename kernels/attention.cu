// kernels/attention.cu: causal attention with grouped KV heads on bf16 tensor cores (mma.sync m16n8k16,
// float32 accumulation, online softmax in base 2): the one kernel behind the engine's decode step, its
// prefill and the trainer's forward. LibTorch-free: kernels/attention.cpp is the glue.
//
// Why hand-written: a decode step has one query per row, and its 7 query heads of a KV head filled 7 rows
// of the 64-128-row tiles of cuDNN's and flash's kernels; the decode attention took 136 us a layer at 512
// rows, half the step (Kineto, the GRPO step's profile in bench/results/update_kernels_h100.json). Here a
// warp holds 16 query rows: a decode row's query heads, or 16 (position, head) rows of a sequence. The K
// and V operands come out of shared memory through ldmatrix (V transposed on the way): 96.7 to 83.5 us a
// layer at 512 rows over 768 keys on an H100, about 72% of its bandwidth (the attention microbench of
// bench/results/update_kernels_h100.json). Two warps per decode row, splitting d, measured 86 us.
// Where the decode's CTAs are few (split_decode), a CTA runs 4 warps on its one row tile (kSplit): each
// computes a quarter of a block's scores, the warps share them through shared memory, and each runs P V for
// a quarter of d. A one-warp CTA holds 69 KB of K/V buffers at D 128, so only 3 fit an SM, and one warp's
// chain of copies and mma's was the limit.
//
// Batch invariance by construction: keys are read in blocks of 64 from key 0 in every call, a row's scores,
// maximum and sums go through the same instructions whichever rows share its tile, and a block with no key
// visible to a row leaves that row's state exactly as it was (rescale by exp2(0) = 1, products with P = 0).
// So a query's output is the same bits in a one-token decode step and in a forward over the whole sequence,
// which is what keeps the engine's log-probs equal to the trainer's.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/attention_launch.h"
#include "kernels/cuda_common.cuh"

namespace zerorl::kernels {
namespace {

constexpr int kKeys = 64;  // keys per block
constexpr int kRows = 16;  // query rows per warp: the mma's M

__device__ __forceinline__ uint32_t pack_floats(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (the lower address) = lo
  return *reinterpret_cast<uint32_t*>(&v);
}

// c += a (16x16, row) * b (16x8, col), float32 accumulation.
__device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// A row's position and key bound relative to a block's first key, clamped into [-1, 64] and [0, 64]: the
// 32-bit compares of `visible` then decide exactly what (j <= p && j < end) || j == p decides for j in it.
__device__ __forceinline__ int block_rel(int64_t x, int64_t first, int lo) {
  return static_cast<int>(max(static_cast<int64_t>(lo), min(x - first, static_cast<int64_t>(kKeys))));
}

__device__ __forceinline__ bool visible(int j, int p, int end) { return (j <= p && j < end) || j == p; }

// Four 8x8 b16 matrices from shared memory, one row address per lane (lanes 8i..8i+7: matrix i); .trans
// hands each thread the transposed fragment (the B operand of P V from V's [key][d] rows).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
  const auto a = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem) {
  const auto a = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

// A query row of this thread: row index r of the (batch, KV head) pair is (t = r / g, head kvh * g + r % g).
struct QueryRow {
  bool valid;
  int t, head;
  int64_t pos;
};

__device__ __forceinline__ QueryRow query_row(int r, int rows, int g, int kvh, int64_t start) {
  QueryRow q;
  q.valid = r < rows;
  const int rr = q.valid ? r : 0;  // rows past the end compute row 0's values and write nothing
  q.t = rr / g;
  q.head = kvh * g + rr % g;
  q.pos = start + q.t;
  return q;
}

__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// Copies 16 bytes global -> shared without registers (cp.async); bytes = 0 writes zeros instead.
__device__ __forceinline__ void copy16(void* smem, const void* gmem, int bytes) {
  const auto dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem), "r"(bytes));
}

// Starts the copy of keys [kb * 64, +64) of K and V into shared rows (padded to kStride); keys past
// `last` (past every row's position) become zeros, so garbage past a row never enters.
template <int D, int kStride>
__device__ __forceinline__ void load_block(__nv_bfloat16* ks, __nv_bfloat16* vs, const __nv_bfloat16* kbase,
                                           const __nv_bfloat16* vbase, int64_t stride, int64_t kb,
                                           int64_t last, int threads) {
  for (int c = threadIdx.x; c < kKeys * D / 8; c += threads) {
    const int key = c / (D / 8), part = c % (D / 8);
    const int64_t j = kb * kKeys + key;
    const bool in = j <= last;
    const int64_t off = in ? j * stride + part * 8 : 0;
    copy16(ks + key * kStride + part * 8, kbase + off, in ? 16 : 0);
    copy16(vs + key * kStride + part * 8, vbase + off, in ? 16 : 0);
  }
  asm volatile("cp.async.commit_group;\n" ::);
}

// A warp's running state for its 16 rows: this thread's two rows (lane / 4 and + 8), over kDn d tiles of 8.
template <int kDn>
struct RowState {
  float o[kDn][4] = {};                  // unnormalised output, the mma accumulator layout
  float m0 = -INFINITY, m1 = -INFINITY;  // running maximum of the scaled scores (log2 units)
  float l0 = 0.f, l1 = 0.f;              // this thread's part of the running sum
};

// S += Q K^T over kTiles tiles of 8 keys from shared row ks. K as B (k = d, n = key): one ldmatrix serves
// key tiles n and n + 1 (lanes 16..31) at d [16 kk, +16).
template <int D, int kStride, int kTiles>
__device__ __forceinline__ void scores(float (&s)[kTiles][4], const uint32_t (&qa)[D / 16][4],
                                       const __nv_bfloat16* ks) {
  const int lane = threadIdx.x % 32;
  const __nv_bfloat16* k_lane = ks + ((lane / 16) * 8 + lane % 8) * kStride + ((lane / 8) % 2) * 8;
#pragma unroll
  for (int n = 0; n < kTiles; n += 2) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t b[4];
      ldmatrix_x4(b, k_lane + n * 8 * kStride + kk * 16);
      mma(s[n], qa[kk], b[0], b[1]);
      mma(s[n + 1], qa[kk], b[2], b[3]);
    }
  }
}

// The block's 8 score tiles in every warp of a row tile. One warp (kSplit 1) computes them all; kSplit
// warps compute 8 / kSplit tiles each (warp `part`: tiles from part * 8 / kSplit) and exchange them through
// shared memory (the caller's __syncthreads after the block keeps the next block's writes out). A score's
// bits do not depend on which warp computed it: the same mma's over d in the same order.
template <int D, int kStride, int kSplit>
__device__ __forceinline__ void block_scores(float (&s)[kKeys / 8][4], const uint32_t (&qa)[D / 16][4],
                                             const __nv_bfloat16* ks, float4* exchange, int part) {
  if constexpr (kSplit == 1) {
    scores<D, kStride, kKeys / 8>(s, qa, ks);
  } else {
    constexpr int kTiles = kKeys / 8 / kSplit;
    const int lane = threadIdx.x % 32;
    float mine[kTiles][4] = {};
    scores<D, kStride, kTiles>(mine, qa, ks + part * kTiles * 8 * kStride);
#pragma unroll
    for (int i = 0; i < kTiles; ++i)
      exchange[(part * kTiles + i) * 32 + lane] = make_float4(mine[i][0], mine[i][1], mine[i][2], mine[i][3]);
    __syncthreads();
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
      const float4 v = exchange[n * 32 + lane];
      s[n][0] = v.x, s[n][1] = v.y, s[n][2] = v.z, s[n][3] = v.w;
    }
  }
}

// One block of 64 keys into the state: S = Q K^T, mask, online softmax, O += P V for d tiles
// [dn0, dn0 + kDn). With kSplit warps on one row tile each runs the whole softmax (the same instructions on
// the same scores: the same bits in each) and its own kDn of the D / 8 d tiles.
template <int D, int kStride, int kSplit, int kDn>
__device__ __forceinline__ void attend_block(RowState<kDn>& st, const uint32_t (&qa)[D / 16][4],
                                             const __nv_bfloat16* ks, const __nv_bfloat16* vs, int64_t kb,
                                             int64_t pos0, int64_t pos1, int64_t end, float scale_log2,
                                             float4* exchange, int part) {
  const int lane = threadIdx.x % 32, quad = lane % 4, dn0 = part * kDn;
  float s[kKeys / 8][4] = {};  // 8 tiles of 8 keys
  block_scores<D, kStride, kSplit>(s, qa, ks, exchange, part);
  const int64_t first = kb * kKeys;
  const int p0 = block_rel(pos0, first, -1), p1 = block_rel(pos1, first, -1), e = block_rel(end, first, 0);
  float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
  for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const bool see = visible(n * 8 + quad * 2 + (c & 1), c < 2 ? p0 : p1, e);
      s[n][c] = see ? s[n][c] * scale_log2 : -INFINITY;
      if (c < 2)
        mx0 = fmaxf(mx0, s[n][c]);
      else
        mx1 = fmaxf(mx1, s[n][c]);
    }
  }
  const float mn0 = fmaxf(st.m0, quad_max(mx0)), mn1 = fmaxf(st.m1, quad_max(mx1));
  // Nothing visible yet (a padding row's first blocks): the state stays as it is.
  const float alpha0 = mn0 == -INFINITY ? 1.f : exp2f(st.m0 - mn0);
  const float alpha1 = mn1 == -INFINITY ? 1.f : exp2f(st.m1 - mn1);
  float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
  for (int n = 0; n < kKeys / 8; ++n) {
    s[n][0] = mn0 == -INFINITY ? 0.f : exp2f(s[n][0] - mn0);
    s[n][1] = mn0 == -INFINITY ? 0.f : exp2f(s[n][1] - mn0);
    s[n][2] = mn1 == -INFINITY ? 0.f : exp2f(s[n][2] - mn1);
    s[n][3] = mn1 == -INFINITY ? 0.f : exp2f(s[n][3] - mn1);
    sum0 += s[n][0] + s[n][1];
    sum1 += s[n][2] + s[n][3];
  }
  st.m0 = mn0, st.m1 = mn1;
  st.l0 = st.l0 * alpha0 + sum0;
  st.l1 = st.l1 * alpha1 + sum1;
#pragma unroll
  for (int dn = 0; dn < kDn; ++dn) {
    st.o[dn][0] *= alpha0, st.o[dn][1] *= alpha0, st.o[dn][2] *= alpha1, st.o[dn][3] *= alpha1;
  }
  // P (bf16) as the A operand straight from S's accumulator layout, V as B (k = key).
#pragma unroll
  for (int kk = 0; kk < kKeys / 16; ++kk) {
    const uint32_t pa[4] = {pack_floats(s[2 * kk][0], s[2 * kk][1]), pack_floats(s[2 * kk][2], s[2 * kk][3]),
                            pack_floats(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                            pack_floats(s[2 * kk + 1][2], s[2 * kk + 1][3])};
    // V as B (k = key, n = d), transposed out of V's rows: d tiles dn and dn + 1 (lanes 16..31).
    const __nv_bfloat16* v_lane =
        vs + (kk * 16 + ((lane / 8) % 2) * 8 + lane % 8) * kStride + (lane / 16) * 8;
#pragma unroll
    for (int dn = 0; dn < kDn; dn += 2) {
      uint32_t b[4];
      ldmatrix_x4_trans(b, v_lane + (dn0 + dn) * 8);
      mma(st.o[dn], pa, b[0], b[1]);
      mma(st.o[dn + 1], pa, b[2], b[3]);
    }
  }
}

template <int D>
__device__ __forceinline__ void load_query(uint32_t (&qa)[D / 16][4], const AttentionArgs& a, int b,
                                           const QueryRow& r0, const QueryRow& r1) {
  const int quad = threadIdx.x % 4;
  const auto* q = as_bf16(a.q) + b * a.q_sb;
  const __nv_bfloat16* q0 = q + r0.t * a.q_st + r0.head * a.q_sh;
  const __nv_bfloat16* q1 = q + r1.t * a.q_st + r1.head * a.q_sh;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const int c = kk * 16 + quad * 2;
    qa[kk][0] = *reinterpret_cast<const uint32_t*>(q0 + c);
    qa[kk][1] = *reinterpret_cast<const uint32_t*>(q1 + c);
    qa[kk][2] = *reinterpret_cast<const uint32_t*>(q0 + c + 8);
    qa[kk][3] = *reinterpret_cast<const uint32_t*>(q1 + c + 8);
  }
}

// out = o / l for one of this thread's rows (h: 0 = lane / 4, 1 = lane / 4 + 8), d tiles [dn0, dn0 + kDn).
template <int D, int kDn>
__device__ __forceinline__ void store_row(const AttentionArgs& a, int b, const QueryRow& r,
                                          const RowState<kDn>& st, int h, float l, int dn0) {
  if (!r.valid) return;
  const int quad = threadIdx.x % 4;
  __nv_bfloat16* dst =
      as_bf16(a.out) + ((static_cast<int64_t>(b) * a.T + r.t) * a.heads + r.head) * D + dn0 * 8 + quad * 2;
#pragma unroll
  for (int dn = 0; dn < kDn; ++dn) {
    *reinterpret_cast<uint32_t*>(dst + dn * 8) = pack_floats(st.o[dn][2 * h] / l, st.o[dn][2 * h + 1] / l);
  }
}

// The log-sum-exp of one of this thread's rows from its running maximum m (log2 units) and sum l:
// ln(sum_j exp(scale s_j)) = (m + log2 l) ln 2. A padding query gets +inf, so a backward that recomputes
// P = exp(scale s - lse) over plain causal keys gives it P = 0 (its output's gradient is zero anyway).
__device__ __forceinline__ void store_lse(const AttentionArgs& a, int b, const QueryRow& r, float m, float l,
                                          int64_t end) {
  if (!r.valid) return;
  const float lse = r.pos >= end ? INFINITY : (m + log2f(l)) * 0.6931471805599453f;
  a.lse[(static_cast<int64_t>(b) * a.heads + r.head) * a.T + r.t] = lse;
}

template <int D>
constexpr int shared_bytes() {
  return 2 * 2 * kKeys * (D + 8) * 2;  // K and V, two buffers, padded rows
}

// Grid (row blocks, kv_heads, B); kWarps warps, kSplit of them on each tile of 16 rows (kSplit 1, or all of
// the CTA's warps on one tile: the decode step). Fragment layouts are PTX's for m16n8k16: this thread holds
// rows lane/4 and lane/4 + 8 of its warp's tile, columns 2 * (lane % 4) + {0, 1} (+ 8). K/V blocks are
// double-buffered: the next block's copy runs while this one is computed.
template <int D, int kWarps, int kSplit>
__global__ void __launch_bounds__(kWarps * 32) attention_kernel(const AttentionArgs a) {
  static_assert(kSplit == 1 || kSplit == kWarps, "split warps share the CTA's barriers: one row tile a CTA");
  constexpr int kStride = D + 8;  // padded shared rows: the fragment reads are free of bank conflicts
  constexpr int kThreads = kWarps * 32, kTiles = kWarps / kSplit, kDn = D / 8 / kSplit;
  extern __shared__ __align__(16) __nv_bfloat16 smem[];
  __shared__ float4 exchange[kSplit > 1 ? kKeys / 8 * 32 : 1];  // a block's scores (kSplit > 1)
  const int b = blockIdx.z, kvh = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int part = warp % kSplit;
  const int g = a.heads / a.kv_heads, rows = a.T * g;
  const int64_t start = a.q_start != nullptr ? a.q_start[b] : 0;
  const int64_t end = a.key_end != nullptr ? a.key_end[b] : INT64_MAX;
  const int cta_first = blockIdx.x * kTiles * kRows;
  const int64_t cta_max = start + (min(rows, cta_first + kTiles * kRows) - 1) / g;  // largest position here
  const int w_first = cta_first + (warp / kSplit) * kRows;
  const bool w_idle = w_first >= rows;
  const int64_t w_max = start + (min(rows, w_first + kRows) - 1) / g;
  const QueryRow r0 = query_row(w_first + lane / 4, rows, g, kvh, start);
  const QueryRow r1 = query_row(w_first + lane / 4 + 8, rows, g, kvh, start);
  uint32_t qa[D / 16][4];  // Q as the A operand of S = Q K^T (k = d)
  load_query<D>(qa, a, b, r0, r1);
  RowState<kDn> st;
  const float scale_log2 = a.scale * 1.4426950408889634f;
  const auto* kbase = as_bf16(a.k) + b * a.kv_sb + kvh * a.kv_sh;
  const auto* vbase = as_bf16(a.v) + b * a.kv_sb + kvh * a.kv_sh;
  auto k_buf = [&](int64_t kb) { return smem + (kb & 1) * 2 * kKeys * kStride; };
  auto v_buf = [&](int64_t kb) { return k_buf(kb) + kKeys * kStride; };
  const int64_t blocks = cta_max / kKeys + 1;
  load_block<D, kStride>(k_buf(0), v_buf(0), kbase, vbase, a.kv_st, 0, cta_max, kThreads);
  for (int64_t kb = 0; kb < blocks; ++kb) {
    if (kb + 1 < blocks) {
      load_block<D, kStride>(k_buf(kb + 1), v_buf(kb + 1), kbase, vbase, a.kv_st, kb + 1, cta_max, kThreads);
      asm volatile("cp.async.wait_group 1;\n" ::);
    } else {
      asm volatile("cp.async.wait_group 0;\n" ::);
    }
    __syncthreads();                       // block kb is in shared memory
    if (!w_idle && kb * kKeys <= w_max) {  // else no key of this block is visible to this warp's rows
      attend_block<D, kStride, kSplit, kDn>(st, qa, k_buf(kb), v_buf(kb), kb, r0.pos, r1.pos, end, scale_log2,
                                            exchange, part);
    }
    __syncthreads();  // its buffer is free for block kb + 2
  }
  if (w_idle) return;
  const float l0 = quad_sum(st.l0), l1 = quad_sum(st.l1);
  store_row<D, kDn>(a, b, r0, st, 0, l0, part * kDn);
  store_row<D, kDn>(a, b, r1, st, 1, l1, part * kDn);
  if (a.lse != nullptr && part == 0 && lane % 4 == 0) {
    store_lse(a, b, r0, st.m0, l0, end);
    store_lse(a, b, r1, st.m1, l1, end);
  }
}

// Split a decode CTA's work over warps only where its one-warp CTAs would leave the SMs thin. On an H100
// (132 SMs, bench/results/update_kernels_h100.json, 512 keys) the split took 64 rows of 1.5B's heads (128
// CTAs, D 128) from 24.1 to 15.2 us and 128 rows (256 CTAs) from 29.5 to 29.2; at D 64, where 6 one-warp
// CTAs fit an SM against 3, 64 rows (128 CTAs) from 17.3 to 13.4 but 128 rows (256) from 17.2 to 17.9, and
// 256 rows (512) from 12.1 to 16.4 at 256 keys. Either way a row's output is the same bits.
bool split_decode(int ctas, int D) {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess)
    return false;
  return ctas <= (D >= 128 ? 2 : 1) * sms;
}

template <int D>
void launch(const AttentionArgs& a, cudaStream_t stream) {
  constexpr int kBytes = shared_bytes<D>();     // over the 48 KiB default at D = 128: opt in, once
  constexpr int kSplit = D >= 64 ? 4 : D / 16;  // decode warps per row tile: each needs 2 d tiles at least
  static const bool opted = [] {
    cudaFuncSetAttribute(attention_kernel<D, kSplit, kSplit>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         kBytes);
    cudaFuncSetAttribute(attention_kernel<D, 1, 1>, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes);
    cudaFuncSetAttribute(attention_kernel<D, 4, 1>, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes);
    return true;
  }();
  (void)opted;
  const int rows = a.T * (a.heads / a.kv_heads);
  if (rows <= kRows && split_decode(a.B * a.kv_heads, D)) {  // a decode step: one CTA per (row, KV head)
    attention_kernel<D, kSplit, kSplit><<<dim3(1, a.kv_heads, a.B), kSplit * 32, kBytes, stream>>>(a);
  } else if (rows <= kRows) {
    attention_kernel<D, 1, 1><<<dim3(1, a.kv_heads, a.B), 32, kBytes, stream>>>(a);
  } else {
    constexpr int kWarps = 4;
    const int blocks = (rows + kWarps * kRows - 1) / (kWarps * kRows);
    attention_kernel<D, kWarps, 1><<<dim3(blocks, a.kv_heads, a.B), kWarps * 32, kBytes, stream>>>(a);
  }
}

}  // namespace

const char* launch_causal_attention_bf16(const AttentionArgs& a, void* stream) {
  if (a.kv_heads <= 0 || a.heads % a.kv_heads != 0 || a.B <= 0 || a.T <= 0) return "bad head or batch counts";
  auto s = static_cast<cudaStream_t>(stream);
  switch (a.D) {
    case 16:
      launch<16>(a, s);
      break;
    case 32:
      launch<32>(a, s);
      break;
    case 64:
      launch<64>(a, s);
      break;
    case 128:
      launch<128>(a, s);
      break;
    default:
      return "head_dim must be 16, 32, 64 or 128";
  }
  return launch_status();
}

}  // namespace zerorl::kernels
