// trainer/engine_setup.h: the rollout::Engine options of a run, from its Config: the KV-cache budget
// (rollout.kv_cache_gb, or rollout.kv_cache_fraction x the device's free memory; rollout.max_total_tokens,
// rollout.max_num_seqs), the prefill bound, the detokenizer, batch invariance. Not here: the engine
// (rollout/), the memory plan that counts the budget (memory_plan.h).
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

#include "core/run_config.h"
#include "rollout/engine.h"
#include "tokenizer/tokenizer.h"

namespace zerorl::trainer {

// The budget from the rollout section. free_bytes: the device's free memory now (after the model is
// loaded), nullopt when unknown. Bytes: rollout.kv_cache_gb when set (an error when it exceeds free_bytes),
// else kv_cache_fraction x free_bytes (no byte limit when free_bytes is unknown: then only
// max_total_tokens / max_num_seqs bound the cache). `device` names the device in the budget's source text.
rollout::KvBudget kv_budget(const RolloutSection& ro, std::optional<double> free_bytes,
                            const std::string& device);

// Free bytes of `device`: cudaMemGetInfo's free on CUDA, available RAM on CPU; nullopt when unknown.
std::optional<double> free_device_bytes(const torch::Device& device);

// Engine options for `cfg` on `device` (the budget measured now: call once the model is loaded).
rollout::EngineOptions engine_options(const Config& cfg, const tokenizer::Tokenizer& tok,
                                      const torch::Device& device);

}  // namespace zerorl::trainer
