// rollout/engine.h: the batched generation engine: G sampled answers per prompt over a preallocated
// slot KV cache, with one shared prefill per prompt and continuous batching. Not here: the model's
// math (model/decoder.h, the very module the trainer updates), samplers (sampling.h), stop rules (stop.h).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/timer.h"
#include "model/decoder.h"
#include "rollout/decode_step.h"
#include "rollout/memory.h"
#include "rollout/sampling.h"
#include "rollout/stop.h"

namespace zerorl::rollout {

struct EngineOptions {
  // Limits of the slot KV cache (bytes, tokens, sequences: rollout/memory.h); none set = room for every
  // sequence of a call. Sequences beyond what fits wait and are admitted as slots free (continuous batching);
  // a prompt's G samples wait for room together so they share one prefill (unless fewer than G slots fit).
  // Results do not depend on the budget: every sample's random stream is keyed (GenerateConfig).
  KvBudget kv_budget;
  int64_t max_prefill_tokens = 65536;  // padded prompt tokens per prefill forward (at least one prompt)
  int64_t max_context = 0;             // prompt + generated tokens per sequence; 0 = max_position_embeddings
  TextStreamFactory detokenizer;       // needed for stop strings and Trajectory::text; may be empty
  bool timing_sync = false;            // synchronize the device at phase borders so PhaseTimes are exact
  // CUDA only: capture the decode step (forward + sampling over all slots) as CUDA graphs, per cache,
  // sampler settings and length bucket (below). Weights updated in place are seen by the replay; parameters
  // replaced by new tensors (new storage) are detected and trigger a recapture.
  bool cuda_graphs = true;
  // One graph per attention length bucket: a step whose longest live row needs n cache positions replays
  // the graph over n rounded up to a multiple of this (capped at the cache capacity), captured lazily the
  // first time a bucket is reached; all graphs share one memory pool (rollout/decode_step.cpp).
  int64_t cuda_graph_bucket = 64;
  // bf16/fp16 on CUDA: GEMMs without cuBLAS split-K (compat::set_batch_invariant_gemm, process-wide), so a
  // token gets the same bits in a decode step as in the trainer's full forward: the engine's T = 1
  // log-probs equal a teacher-forced forward's to float32 rounding (bf16 rounding otherwise: ~1e-2 on
  // 0.5B shapes). Costs 4% at 256 rows per step, ~35% at 64-128 (bench/results/rollout_h200.json).
  bool batch_invariant = true;
  // Called at the start of every generate(): where a remote trainer's weights are pulled in. Colocated
  // trainers update the shared CausalLM in place and need no hook (the engine holds no weight copy).
  std::function<void(model::CausalLM&)> weight_sync;
};

// Turns batch-invariant GEMMs (EngineOptions::batch_invariant) on or off for the whole process; logs a
// change, warns when torch cannot (< 2.10). The Engine calls it for bf16/fp16 CUDA models. Off also lets the
// trainer's attention run the causal kernel (model::set_causal_sdpa): the same trade of equality for speed.
void use_batch_invariant_gemm(bool on);

struct GenerateConfig {
  SamplerParams sampler;
  StopRules stop;
  int64_t group_size = 1;  // G samples per prompt
  uint64_t seed = 0;       // row streams: mix_seed({seed, step, prompt index, sample index})
  uint64_t step = 0;
  // Stream key of each prompt, so a prompt draws the same samples whatever batch or KV budget it shares.
  // Keys must be distinct (checked): two draws of one dataset row in a step are keyed by the draw, not the
  // row, or they would get identical samples. Empty = the prompt's index in this call.
  std::vector<uint64_t> prompt_keys;
};

// One sampled answer. tokens are the new tokens only (the finishing EOS / stop token included).
struct Trajectory {
  int64_t prompt_index = 0;
  int64_t sample_index = 0;
  std::vector<int64_t> tokens;
  std::vector<float> logprobs;         // per token, under the sampling distribution used
  std::vector<float> logprobs_policy;  // per token, log_softmax of the unmodified policy at T = 1
  FinishReason finish = FinishReason::kNone;
  std::string text;  // streamed detokenization of tokens (cut after a stop string); empty without one
};

struct RolloutResult {
  std::vector<Trajectory> samples;  // prompt-major: samples[p * G + g]
  PhaseTimes times;                 // prefill, decode, sample, host (seconds)
  int64_t new_tokens = 0;
  int64_t prefills = 0;  // prompt forwards (a prompt split across admissions counts twice)
  int64_t decode_steps = 0;
};

class Engine {
 public:
  // The engine shares `lm` (no copy): in-place weight updates are seen on the next generate().
  Engine(model::CausalLM lm, EngineOptions options = {});

  // prompts: token ids per prompt (non-empty; a prompt that leaves no room for one new token within
  // max_context is an error naming its row). Returns P * G trajectories.
  RolloutResult generate(const std::vector<std::vector<int64_t>>& prompts, const GenerateConfig& config);

  model::CausalLM& model() { return lm_; }
  int64_t slots() const { return cache_ ? cache_->num_slots() : 0; }
  const EngineOptions& options() const { return options_; }
  // Frees the KV cache and the CUDA graphs over it (the next generate() allocates them again): a caller
  // that needs the memory between calls, or hands the device to another engine, calls this.
  void release_cache();
  int64_t context_limit() const;
  // Whether decode steps replay a captured CUDA graph (after the first decode step of a call).
  bool cuda_graph_active() const { return step_ && step_->graph_active(); }
  int64_t cuda_graphs_captured() const { return step_ ? step_->graphs_captured() : 0; }
  int64_t cuda_graph_pool_bytes() const { return step_ ? step_->graph_pool_bytes() : 0; }

 private:
  struct Run;
  void ensure_cache(int64_t wanted_slots, int64_t max_len);

  model::CausalLM lm_;
  EngineOptions options_;
  std::optional<model::KvCache> cache_;
  std::unique_ptr<DecodeStep> step_;  // over cache_; recreated with it
};

// The KV-cache shape of a model of this config stored in `dtype` (for plan_kv in memory.h).
KvShape kv_shape(const model::ModelConfig& config, torch::Dtype dtype);

}  // namespace zerorl::rollout
