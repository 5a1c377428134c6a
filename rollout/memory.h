// rollout/memory.h: how many sequences fit in a KV-cache memory budget, before anything is allocated.
// Not here: the allocation (engine) or the model's own weights (counted by the caller in the budget).
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

// Bytes of K and V for one token of one sequence, all layers.
int64_t kv_bytes_per_token(const KvShape& shape);
// Bytes one sequence slot needs: its KV cache for max_len tokens plus the float32 sampling workspace of
// one logits row (kWorkspaceRows copies: logits, log-softmax, cdf, filters).
int64_t slot_bytes(const KvShape& shape, int64_t max_len);
constexpr int64_t kWorkspaceRows = 6;

struct KvPlan {
  int64_t slots = 0;    // sequences decoded concurrently
  int64_t max_len = 0;  // prompt + new tokens per slot
  int64_t bytes = 0;    // what the plan allocates
  std::string summary() const;
};

// slots = min(wanted, budget / slot_bytes). Throws, with a recommendation (a smaller max length, fewer
// slots, or the budget that would fit one), when not even one sequence fits. wanted <= 0: as many as fit.
KvPlan plan_kv(const KvShape& shape, int64_t max_len, int64_t budget_bytes, int64_t wanted);

}  // namespace zerorl::rollout
