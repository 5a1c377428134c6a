// rollout/memory.cpp: KV budget arithmetic. Not here: querying free device memory (the caller decides
// the budget, e.g. from config rollout.kv_budget_gb).
#include "rollout/memory.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace zerorl::rollout {

int64_t kv_bytes_per_token(const KvShape& s) {
  return 2 * s.layers * s.kv_heads * s.head_dim * s.dtype_bytes;
}

int64_t slot_bytes(const KvShape& s, int64_t max_len) {
  return kv_bytes_per_token(s) * max_len + kWorkspaceRows * s.vocab * 4;
}

std::string KvPlan::summary() const {
  return fmt::format("{} sequence slots x {} tokens = {:.2f} GiB KV cache + sampling workspace", slots,
                     max_len, static_cast<double>(bytes) / (1 << 30));
}

KvPlan plan_kv(const KvShape& shape, int64_t max_len, int64_t budget_bytes, int64_t wanted) {
  ZRL_CHECK(shape.layers > 0 && shape.kv_heads > 0 && shape.head_dim > 0 && shape.dtype_bytes > 0,
            "plan_kv: bad model shape (layers {}, kv_heads {}, head_dim {}, dtype bytes {})", shape.layers,
            shape.kv_heads, shape.head_dim, shape.dtype_bytes);
  ZRL_CHECK(max_len > 0, "plan_kv: max sequence length must be > 0, got {}", max_len);
  const int64_t per_slot = slot_bytes(shape, max_len);
  const int64_t fit = budget_bytes / per_slot;
  if (fit < 1) {
    const int64_t len_fit = (budget_bytes - kWorkspaceRows * shape.vocab * 4) / kv_bytes_per_token(shape);
    ZRL_FAIL(
        "KV cache budget of {:.3f} GiB holds no sequence of {} tokens ({:.3f} GiB each): raise "
        "rollout.kv_budget_gb to at least {:.3f}, or lower prompt + max_new_tokens to {} or less",
        static_cast<double>(budget_bytes) / (1 << 30), max_len, static_cast<double>(per_slot) / (1 << 30),
        static_cast<double>(per_slot) / (1 << 30), std::max<int64_t>(len_fit, 0));
  }
  KvPlan plan;
  plan.slots = wanted > 0 ? std::min(wanted, fit) : fit;
  plan.max_len = max_len;
  plan.bytes = plan.slots * per_slot;
  return plan;
}

}  // namespace zerorl::rollout
