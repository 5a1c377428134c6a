// rollout/memory.h: how many sequences fit in a KV-cache budget (bytes, tokens, sequences), before anything
// is allocated; the one formula for KV bytes per token (trainer/memory_plan.cpp uses it too). Not here: the
// allocation (engine), where the budget comes from (the caller: trainer/engine_setup.h reads the config and
// the device's free memory), the model's own weights.
#pragma once

#include <cstdint>
#include <string>

namespace zerorl::rollout {

struct KvShape {
  int64_t layers = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t dtype_bytes = 2;  // bf16/f16: 2, f32: 4
  int64_t vocab = 0;        // the per-row logits/sampling workspace scales with it
};

// Bytes of K and V for one token of one sequence, all layers: 2 (K and V) x layers x kv_heads x head_dim x
// dtype bytes. Qwen2.5-1.5B in bf16: 2 x 28 x 2 x 128 x 2 = 28672 (28 KiB).
int64_t kv_bytes_per_token(const KvShape& shape);
// Bytes one sequence slot needs: its KV cache for max_len tokens plus the float32 sampling workspace of
// one logits row (kWorkspaceRows copies: logits, log-softmax, cdf, filters).
int64_t slot_bytes(const KvShape& shape, int64_t max_len);
constexpr int64_t kWorkspaceRows = 6;

// The limits a cache must respect; each 0 = no limit of that kind. All set limits apply (the smallest wins).
struct KvBudget {
  int64_t bytes = 0;   // KV cache + sampling workspace, all slots (slot_bytes each)
  int64_t tokens = 0;  // cached token positions, all slots: slots x max_len <= tokens
  int64_t seqs = 0;    // sequences decoded concurrently
  // Where the limits come from, for messages: e.g. "rollout.kv_cache_fraction 0.3 x 130.2 GiB free on cuda".
  std::string source;
  bool limited() const { return bytes > 0 || tokens > 0 || seqs > 0; }
  std::string describe() const;  // source, else the limits in numbers; "no limit" when none is set
};

struct KvPlan {
  int64_t slots = 0;    // sequences decoded concurrently
  int64_t max_len = 0;  // prompt + new tokens per slot
  int64_t bytes = 0;    // what the plan allocates: slots x slot_bytes
  std::string summary() const;
};

// Sequences that fit: min over the budget's limits (bytes / slot_bytes, tokens / max_len, seqs). Never
// throws; 0 when not even one fits. Without any limit: INT64_MAX.
int64_t slots_that_fit(const KvShape& shape, int64_t max_len, const KvBudget& budget);

// slots = min(wanted, slots_that_fit). Throws when not even one sequence of max_len tokens fits, naming the
// budget's source and the numbers, with what to change (the budget that would hold one, or the length that
// would fit). wanted <= 0: as many as fit (the budget must then be limited).
KvPlan plan_kv(const KvShape& shape, int64_t max_len, const KvBudget& budget, int64_t wanted);

}  // namespace zerorl::rollout
