// rollout/memory.cpp: KV budget arithmetic and its error text. Not here: querying free device memory or
// reading config keys (the caller builds the KvBudget, trainer/engine_setup.cpp).
#include "rollout/memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace zerorl::rollout {

namespace {
double gib(int64_t bytes) { return static_cast<double>(bytes) / (1 << 30); }
}  // namespace

int64_t kv_bytes_per_token(const KvShape& s) {
  return 2 * s.layers * s.kv_heads * s.head_dim * s.dtype_bytes;
}

int64_t slot_bytes(const KvShape& s, int64_t max_len) {
  return kv_bytes_per_token(s) * max_len + kWorkspaceRows * s.vocab * 4;
}

std::string KvBudget::describe() const {
  if (!limited()) return "no limit";
  if (!source.empty()) return source;
  std::string out;
  if (bytes > 0) out += fmt::format("{:.3f} GiB", gib(bytes));
  if (tokens > 0) out += fmt::format("{}{} tokens", out.empty() ? "" : ", ", tokens);
  if (seqs > 0) out += fmt::format("{}{} sequences", out.empty() ? "" : ", ", seqs);
  return out;
}

std::string KvPlan::summary() const {
  return fmt::format("{} sequence slots x {} tokens = {:.2f} GiB KV cache + sampling workspace", slots,
                     max_len, gib(bytes));
}

int64_t slots_that_fit(const KvShape& shape, int64_t max_len, const KvBudget& budget) {
  int64_t fit = std::numeric_limits<int64_t>::max();
  if (budget.bytes > 0) fit = std::min(fit, budget.bytes / slot_bytes(shape, max_len));
  if (budget.tokens > 0) fit = std::min(fit, budget.tokens / max_len);
  if (budget.seqs > 0) fit = std::min(fit, budget.seqs);
  return fit;
}

KvPlan plan_kv(const KvShape& shape, int64_t max_len, const KvBudget& budget, int64_t wanted) {
  ZRL_CHECK(shape.layers > 0 && shape.kv_heads > 0 && shape.head_dim > 0 && shape.dtype_bytes > 0,
            "plan_kv: bad model shape (layers {}, kv_heads {}, head_dim {}, dtype bytes {})", shape.layers,
            shape.kv_heads, shape.head_dim, shape.dtype_bytes);
  ZRL_CHECK(max_len > 0, "plan_kv: max sequence length must be > 0, got {}", max_len);
  ZRL_CHECK(wanted > 0 || budget.limited(), "plan_kv: 'as many slots as fit' needs a limited budget");
  const int64_t per_slot = slot_bytes(shape, max_len);
  const int64_t fit = slots_that_fit(shape, max_len, budget);
  if (fit < 1) {
    const std::string source = budget.describe();
    const std::string length_hint =
        "prompt + max_new_tokens (tokenizer.max_prompt_tokens, rollout.max_new_tokens, eval.max_new_tokens)";
    if (budget.bytes > 0 && budget.bytes < per_slot) {
      const int64_t len_fit = (budget.bytes - kWorkspaceRows * shape.vocab * 4) / kv_bytes_per_token(shape);
      ZRL_FAIL(
          "KV cache budget of {:.3f} GiB ({}) holds no sequence of {} tokens ({:.3f} GiB each: {} bytes per "
          "token + sampling workspace): raise it to at least {:.3f} GiB (rollout.kv_cache_gb, or a larger "
          "rollout.kv_cache_fraction), or lower {} to {} tokens or less",
          gib(budget.bytes), source, max_len, gib(per_slot), kv_bytes_per_token(shape), gib(per_slot),
          length_hint, std::max<int64_t>(len_fit, 0));
    }
    ZRL_FAIL(
        "KV cache token budget of {} tokens ({}) holds no sequence of {} tokens: raise "
        "rollout.max_total_tokens "
        "to at least {}, or lower {} to {} tokens or less",
        budget.tokens, source, max_len, max_len, length_hint, budget.tokens);
  }
  KvPlan plan;
  plan.slots = wanted > 0 ? std::min(wanted, fit) : fit;
  plan.max_len = max_len;
  plan.bytes = plan.slots * per_slot;
  return plan;
}

}  // namespace zerorl::rollout
