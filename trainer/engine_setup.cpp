// trainer/engine_setup.cpp: Config + device memory -> rollout::EngineOptions. Not here: the engine's use of
// the budget (rollout/engine.cpp), the memory plan (memory_plan.cpp).
#include "trainer/engine_setup.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "rollout/generate.h"
#include "trainer/memory_plan.h"

namespace zerorl::trainer {

namespace {
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
}  // namespace

rollout::KvBudget kv_budget(const RolloutSection& ro, std::optional<double> free_bytes,
                            const std::string& device) {
  rollout::KvBudget b;
  if (ro.kv_cache_gb > 0) {
    const double want = ro.kv_cache_gb * kGiB;
    ZRL_CHECK(
        !free_bytes || want <= *free_bytes,
        "rollout.kv_cache_gb = {} exceeds the {:.2f} GiB free on {}: lower it, or leave it 0 and size the "
        "cache with rollout.kv_cache_fraction",
        ro.kv_cache_gb, free_bytes.value_or(0) / kGiB, device);
    b.bytes = static_cast<int64_t>(want);
    b.source = fmt::format("rollout.kv_cache_gb = {}", ro.kv_cache_gb);
  } else if (free_bytes) {
    b.bytes = static_cast<int64_t>(std::floor(ro.kv_cache_fraction * *free_bytes));
    b.source = fmt::format("rollout.kv_cache_fraction {} x {:.2f} GiB free on {}", ro.kv_cache_fraction,
                           *free_bytes / kGiB, device);
  }
  if (ro.max_total_tokens > 0) {
    b.tokens = ro.max_total_tokens;
    b.source +=
        fmt::format("{}rollout.max_total_tokens = {}", b.source.empty() ? "" : ", ", ro.max_total_tokens);
  }
  if (ro.max_num_seqs > 0) {
    b.seqs = ro.max_num_seqs;
    b.source += fmt::format("{}rollout.max_num_seqs = {}", b.source.empty() ? "" : ", ", ro.max_num_seqs);
  }
  return b;
}

std::optional<double> free_device_bytes(const torch::Device& device) {
  if (device.is_cuda()) {
    if (const auto mem = cuda_device_memory()) return mem->free;
    return std::nullopt;
  }
  const double avail = host_available_bytes();
  return avail > 0 ? std::optional<double>(avail) : std::nullopt;
}

rollout::EngineOptions engine_options(const Config& cfg, const tokenizer::Tokenizer& tok,
                                      const torch::Device& device) {
  rollout::EngineOptions eo;
  eo.batch_invariant = cfg.rollout.batch_invariant;
  eo.max_prefill_tokens = cfg.rollout.max_num_batched_tokens;
  if (!cfg.rollout.stop.empty()) eo.detokenizer = rollout::stream_detokenizer(tok);
  const auto free = free_device_bytes(device);
  if (!free && cfg.rollout.kv_cache_gb <= 0) {
    ZRL_WARN(
        "rollout: could not measure free memory on {}: rollout.kv_cache_fraction cannot apply; set "
        "rollout.kv_cache_gb to bound the KV cache",
        device.str());
  }
  eo.kv_budget = kv_budget(cfg.rollout, free, device.str());
  return eo;
}

}  // namespace zerorl::trainer
