// bench/common/grpo_bench_step.h: the GRPO step the benchmarks time (bench/grpo_step on one process,
// bench/dist on the ranks of a launch): random Qwen2.5-0.5B shapes, a trivial verifier, rollout -> reward ->
// policy_update with seconds per phase. Not here: model set-up, options and JSON output (each benchmark's).
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "core/json_io.h"
#include "core/timer.h"
#include "model/config.h"
#include "rollout/engine.h"
#include "trainer/update.h"

namespace zerorl::bench {

// Qwen2.5-0.5B shapes, or a tiny model of the same layout for the CPU smoke tests.
inline model::ModelConfig model_config(bool tiny) {
  auto c = model::qwen25_05b_config();
  if (tiny) {
    c.vocab_size = 512, c.hidden_size = 64, c.intermediate_size = 176, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 16;
  }
  return c;
}

inline void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

// Trivial verifier (random weights give no meaningful text): an answer scores 1 when most of its tokens have
// an even id. It costs what reading every token costs and gives mixed rewards within groups.
inline double trivial_reward(const std::vector<int64_t>& tokens) {
  size_t even = 0;
  for (int64_t t : tokens) even += (t % 2 == 0) ? 1 : 0;
  return 2 * even > tokens.size() ? 1.0 : 0.0;
}

struct StepResult {
  int64_t new_tokens = 0;  // generated this step
  Json update;             // policy_update's statistics
};

// One step: rollout of `group` answers of exactly `new_tokens` per prompt (temperature 1, no filters: the
// baselines' sampling), the trivial reward, policy_update (old log-probs, advantages, update). Adds seconds
// per phase (rollout, reward, policy_update's phases, total) to `times`. response_min > 0: before the
// reward, each answer is cut to a length drawn uniformly from [response_min, new_tokens] (seeded by seed
// and step), as an EOS would have ended it: the spread of lengths a real run's update sees, which random
// weights never give (their EOS is ignored so that the rollout's work stays fixed).
inline StepResult grpo_step(const Config& cfg, rollout::Engine& engine, trainer::PolicyState& policy,
                            const std::vector<std::vector<int64_t>>& prompts, int64_t group, uint64_t seed,
                            int64_t new_tokens, uint64_t step, PhaseTimes& times, int64_t response_min = 0) {
  const torch::Device device = policy.lm->device();
  Stopwatch wall;
  rollout::GenerateConfig gc;
  gc.group_size = group, gc.seed = seed, gc.step = step;
  gc.stop.ignore_eos = true, gc.stop.max_new_tokens = new_tokens;  // exactly new_tokens per answer
  rollout::RolloutResult res;
  {
    ScopedTimer t(times, "rollout");
    torch::NoGradGuard ng;
    res = engine.generate(prompts, gc);
    sync(device);
  }
  if (response_min > 0) {
    std::mt19937_64 rng(seed * 1000003 + step);
    std::uniform_int_distribution<int64_t> length(std::min(response_min, new_tokens), new_tokens);
    for (auto& s : res.samples) {
      const auto n =
          static_cast<size_t>(std::min<int64_t>(length(rng), static_cast<int64_t>(s.tokens.size())));
      s.tokens.resize(n), s.logprobs.resize(n), s.logprobs_policy.resize(n);
    }
  }
  trainer::UpdateBatch b;
  {
    ScopedTimer t(times, "reward");
    for (const auto& s : res.samples) {
      b.prompt_ids.push_back(prompts[static_cast<size_t>(s.prompt_index)]);
      b.responses.push_back(s.tokens);
      b.truncated.push_back(false);  // the length is the benchmark's, not a truncation to penalize
      b.rewards.push_back(trivial_reward(s.tokens));
      b.logprobs_policy.push_back(s.logprobs_policy);
      b.logprobs_sampling.push_back(s.logprobs);
    }
  }
  StepResult out{res.new_tokens, trainer::policy_update(cfg, policy, b, 0, times)};
  sync(device);
  times["total"] = wall.seconds();
  return out;
}

}  // namespace zerorl::bench
