// tests/trainer/rollout_batch.h: one rollout::Engine call turned into the trainer's UpdateBatch, with rewards
// varied within each group by a fixed rule, and the tiny CPU policy with its sampled batch that several
// update tests start from. Shared by the policy-update tests on CPU and CUDA.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/config.h"
#include "model/decoder.h"
#include "rollout/engine.h"
#include "trainer/update.h"

namespace zerorl::testing {

inline trainer::UpdateBatch rollout_batch(rollout::Engine& engine,
                                          const std::vector<std::vector<int64_t>>& prompts,
                                          const rollout::GenerateConfig& gc) {
  rollout::RolloutResult res;
  {
    torch::NoGradGuard ng;
    res = engine.generate(prompts, gc);
  }
  trainer::UpdateBatch b;
  for (size_t i = 0; i < res.samples.size(); ++i) {
    const auto& s = res.samples[i];
    b.prompt_ids.push_back(prompts[static_cast<size_t>(s.prompt_index)]);
    b.responses.push_back(s.tokens);
    b.truncated.push_back(s.finish == rollout::FinishReason::kLength);
    b.rewards.push_back(static_cast<double>((i * 7) % 3));
    b.logprobs_policy.push_back(s.logprobs_policy);
    b.logprobs_sampling.push_back(s.logprobs);
  }
  return b;
}

// A float32 Qwen2-shaped model small enough for CPU update tests (vocabulary 64, 2 layers, GQA 4/2); std sets
// how peaked its distributions are.
inline model::CausalLM tiny_policy(uint64_t seed, double std) {
  model::ModelConfig c = model::qwen25_05b_config();
  c.vocab_size = 64, c.hidden_size = 32, c.intermediate_size = 64, c.num_hidden_layers = 2;
  c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 8;
  model::CausalLM lm(c, torch::kFloat32);
  model::init_random_(lm, seed, std);
  return lm;
}

// 4 answers each to prompts of 3, 2 and 5 tokens, sampled by `lm` at `temperature` (at most 6 new tokens, EOS
// id 1): rows of different lengths that share micro-batches.
inline trainer::UpdateBatch tiny_sampled_batch(const model::CausalLM& lm, double temperature, uint64_t seed) {
  rollout::Engine engine(lm);
  rollout::GenerateConfig gc;
  gc.sampler.temperature = temperature;
  gc.stop.eos_ids = {1};
  gc.stop.max_new_tokens = 6;
  gc.group_size = 4;
  gc.seed = seed;
  return rollout_batch(engine, {{3, 4, 5}, {7, 8}, {9, 10, 11, 12, 13}}, gc);
}

}  // namespace zerorl::testing
