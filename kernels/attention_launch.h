// kernels/attention_launch.h: the LibTorch-free entry of kernels/attention.cu (compiled by nvcc).
#pragma once

#include <cstdint>

namespace zerorl::kernels {

// One causal attention call, bf16 in and out. Strides are in elements; the last dimension (d) has stride 1.
// Query t of batch b sits at position p = q_start[b] + t (q_start nullptr: 0). Key j is visible to it when
// (j <= p and j < key_end[b]) or j == p (key_end nullptr: no bound), the model's attention mask for
// right-padded rows. Query head h reads KV head h / (heads / kv_heads).
struct AttentionArgs {
  const void* q;  // [B, T, heads, D] as (sb, st, sh)
  int64_t q_sb, q_st, q_sh;
  const void *k, *v;  // [B, kv_heads, L, D] as (sb, sh, st), one layout for both
  int64_t kv_sb, kv_sh, kv_st;
  const int64_t* q_start;  // [B] or nullptr
  const int64_t* key_end;  // [B] or nullptr
  void* out;               // [B, T, heads, D], contiguous
  float* lse;  // [B, heads, T] or nullptr: each query's log-sum-exp (natural log) of its scaled visible
               // scores, +inf for a padding query (position >= key_end), what cuDNN's attention backward
               // takes as its softmax statistics
  int B, T, heads, kv_heads, D;
  float scale;
};

// Returns nullptr, or the launch error (D must be 16, 32, 64 or 128, heads a multiple of kv_heads).
const char* launch_causal_attention_bf16(const AttentionArgs& a, void* stream);

}  // namespace zerorl::kernels
