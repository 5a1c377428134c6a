// tests/trainer/known_batch.h: the policy-update tests' hand-checkable inputs: a 1-layer model of 16 hidden
// units and one group of two answers whose tokens, lengths and rewards the tests work through by hand.
// Shared by test_update_metrics.cpp and test_off_policy_update.cpp.
#pragma once

#include <cstdint>

#include "model/config.h"
#include "model/decoder.h"
#include "trainer/update.h"

namespace zerorl::testing {

// Qwen2.5-shaped, vocab 32, hidden 16, 1 layer, 2 query heads and 1 KV head of 8; random weights (std 0.1).
inline model::CausalLM tiny_update_model(uint64_t seed) {
  model::ModelConfig c = model::qwen25_05b_config();
  c.vocab_size = 32, c.hidden_size = 16, c.intermediate_size = 32, c.num_hidden_layers = 1;
  c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 8;
  model::CausalLM lm(c, torch::kFloat32);
  model::init_random_(lm, seed, 0.1);
  return lm;
}

// One group of G = 2: prompts of 3 and 5 tokens, responses of 2 and 4 (EOS = 1 included), rewards 1 and 0:
// 14 real tokens in rows padded to T = 9; Dr. GRPO advantages +0.5 and -0.5.
inline trainer::UpdateBatch known_batch() {
  trainer::UpdateBatch b;
  b.prompt_ids = {{3, 4, 5}, {6, 7, 8, 9, 10}};
  b.responses = {{11, 1}, {12, 13, 14, 1}};
  b.truncated = {false, false};
  b.rewards = {1.0, 0.0};
  return b;
}

}  // namespace zerorl::testing
