// trainer/memory_plan.h: before step 1, an estimate of weights, master weights, gradients, optimizer state,
// activations, logits and the rollout KV cache against the device's memory; fail fast with a recommendation.
// Not here: measuring real usage (allocator statistics belong to the GPU benches), the KV bytes formula
// (rollout/memory.h, shared with the engine). Not counted, left to usable_fraction's headroom: the engine's
// CUDA graph pool and its stacked copy of the q/k/v weights (rollout/decode_step.h; 50 MB at 0.5B, about
// 0.9 GB at 7B: 5-6% of the bf16 weights).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/json_io.h"
#include "rollout/memory.h"

namespace zerorl::trainer {

struct MemoryInputs {
  int64_t params = 0;  // parameter count
  int64_t layers = 0, hidden = 0, intermediate = 0, vocab = 0;
  int64_t kv_heads = 0, head_dim = 0;  // num_key_value_heads, head_dim
  int64_t micro_batch_tokens = 0;      // algo.micro_batch_tokens
  // Rollout KV cache: the engine allocates min(rollout_seqs, what kv_budget holds) slots of seq_len tokens.
  int64_t rollout_seqs = 0;  // sequences a call wants at once (P * G); 0 = as many as the budget holds (eval)
  int64_t seq_len = 0;       // prompt + max_new_tokens, capped by the context
  rollout::KvBudget kv_budget;  // the engine's (trainer/engine_setup.h); none = every sequence gets a slot
  bool bf16_compute = false;    // GPU: bf16 working copy + fp32 master weights
  bool gradient_checkpointing = false;
  bool reference_model = false;  // kl_coef > 0
  // The update's LM head is algo::linear_float32_token_logprobs (bf16 on CUDA, algo::float32_lm_head_fused):
  // it keeps the float32 logits and writes their gradient in bf16, 6 V bytes per token instead of 8.
  bool fused_lm_head = false;
  int64_t world_size = 1;        // ranks of the launch
  int64_t zero = 0;              // dist.zero: 1 = fp32 masters and AdamW moments sharded over the ranks
  double device_bytes = 0;       // what the device has
  double usable_fraction = 0.9;  // headroom for allocator fragmentation and workspace
};

struct MemoryPlan {
  double weights = 0, master = 0, grads = 0, compute_grads = 0, optimizer = 0, activations = 0, logits = 0,
         kv_cache = 0, reference = 0, total = 0, device = 0;
  int64_t kv_slots = 0;  // sequences the KV cache holds at once
  bool fits = true;
  bool checkpointing_turned_on = false;  // plan_memory_or_checkpoint switched it on to fit
  std::string recommendation;            // empty when it fits
  Json to_json() const;
};

// Bytes per term (mixed precision as in Rajbhandari et al. 2020, ZeRO, sec. 3): bf16 weights 2P + fp32 master
// 4P, fp32 grads 4P, Adam moments 8P, plus 2P for the bf16 grads of one micro-batch before they are
// accumulated into the fp32 master grads (trainer/mixed_precision.h).
// ZeRO-1 (dist.zero = 1, dist/zero_optimizer.h): the fp32 masters (4P) and moments (8P) are divided by the
// world size; the fp32 gradient is a full flat buffer (4P) and one micro-batch's grads in the compute dtype
// come on top before they are added into it (2P bf16, 4P fp32). Activations per token per layer ~ (34 h)
// bytes in bf16 (Korthikanti et al. 2022, eq. 1 without the attention-score term: SDPA does not store it), 2
// h with checkpointing (only the layer input is kept). Logits: fp32 logits + their fp32 gradient in one
// micro-batch's backward, 8 V bytes per token; 6 with fused_lm_head (the gradient in bf16). KV cache:
// kv_slots x rollout::slot_bytes(seq_len) (K and V of every layer per token, plus a sampling workspace row
// per slot). The engine keeps its cache allocated across the update, so total = states + KV cache +
// activations + logits. A plan that does not fit with dist.zero = 0 on several ranks but fits with dist.zero
// = 1 recommends dist.zero: 1.
MemoryPlan plan_memory(const MemoryInputs& in);

// plan_memory, except that a plan which does not fit with gradient checkpointing off but fits with it on is
// returned with checkpointing on (checkpointing_turned_on): the trainer then enables it rather than failing.
MemoryPlan plan_memory_or_checkpoint(const MemoryInputs& in);

// Physical memory of this machine in bytes (sysconf), the CPU "device".
double host_memory_bytes();
// Memory available to a new allocation on this machine (/proc/meminfo MemAvailable, else free pages): the
// CPU's "free device memory" for rollout.kv_cache_fraction. 0 when unknown.
double host_available_bytes();

// Total and free bytes of the current CUDA device, queried through the CUDA runtime or driver library that
// LibTorch already loaded (dlsym of cudaMemGetInfo, else cuMemGetInfo_v2): no CUDA headers or link
// dependency, so this file stays torch-free. nullopt when no CUDA library is loaded or the call fails.
struct DeviceMemory {
  double total = 0, free = 0;
};
std::optional<DeviceMemory> cuda_device_memory();

// What the plan may use on a device: the free bytes plus what this process already holds there (the
// weights loaded before the check, `held`), at most `total`. Other processes' memory is thereby excluded.
double device_budget_bytes(const DeviceMemory& m, double held);

}  // namespace zerorl::trainer
