// tests/trainer/test_update_metrics.cpp: what policy_update reports about itself: real (unpadded) tokens once
// per update beside the padded figure, and only measured quantities (no KL without a reference model).
// Not here: the loss math (tests/algo), old log-probs (test_mixed_precision.cpp).
#include <gtest/gtest.h>

#include "model/config.h"
#include "trainer/update.h"

namespace zerorl::trainer {
namespace {

model::CausalLM tiny_model(uint64_t seed) {
  model::ModelConfig c = model::qwen25_05b_config();
  c.vocab_size = 32, c.hidden_size = 16, c.intermediate_size = 32, c.num_hidden_layers = 1;
  c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 8;
  model::CausalLM lm(c, torch::kFloat32);
  model::init_random_(lm, seed, 0.1);
  return lm;
}

// One group of G = 2: prompts of 3 and 5 tokens, responses of 2 and 4 (EOS included): 14 real tokens in
// rows padded to T = 9.
UpdateBatch known_batch() {
  UpdateBatch b;
  b.prompt_ids = {{3, 4, 5}, {6, 7, 8, 9, 10}};
  b.responses = {{11, 1}, {12, 13, 14, 1}};
  b.truncated = {false, false};
  b.rewards = {1.0, 0.0};
  return b;
}

TEST(UpdateMetrics, RealTokensCountedOnceBesideThePaddedFigure) {
  EXPECT_EQ(real_tokens(known_batch()), (3 + 2) + (5 + 4));
  Config cfg;
  cfg.rollout.group_size = 2;
  cfg.algo.epochs = 2;
  cfg.trainer.steps = 1;
  cfg.algo.old_logprobs = "recompute";  // known_batch() carries no engine log-probs
  auto lm = tiny_model(1);
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(1e-3));
  PolicyState p{lm, model::CausalLM(nullptr), &opt, nullptr, 0};
  PhaseTimes times;
  const Json out = policy_update(cfg, p, known_batch(), 0, times);
  EXPECT_EQ(out["update_tokens"].get<int64_t>(), 14);                // not 2 rows x 9 columns x 2 epochs
  EXPECT_EQ(out["update_tokens_padded"].get<int64_t>(), 2 * 9 * 2);  // what the forward passes computed
  EXPECT_EQ(p.opt_steps, 2);                                         // both epochs ran
}

TEST(UpdateMetrics, KlOnlyWithAReferenceModel) {
  Config cfg;
  cfg.rollout.group_size = 2;
  cfg.trainer.steps = 1;
  cfg.algo.old_logprobs = "recompute";  // known_batch() carries no engine log-probs
  auto lm = tiny_model(2);
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(1e-3));
  PhaseTimes times;
  PolicyState no_ref{lm, model::CausalLM(nullptr), &opt, nullptr, 0};
  const Json a = policy_update(cfg, no_ref, known_batch(), 0, times);
  EXPECT_FALSE(a.contains("kl")) << a.dump();  // kl_coef 0: not measured, so not reported as 0
  for (const char* k : {"entropy", "clip_frac", "grad_norm", "pg_loss"}) EXPECT_TRUE(a.contains(k)) << k;
  EXPECT_GT(a["entropy"].get<double>(), 0.0);
  cfg.algo.kl_coef = 0.1;
  PolicyState with_ref{lm, tiny_model(3), &opt, nullptr, 0};  // a different reference: KL > 0
  const Json b = policy_update(cfg, with_ref, known_batch(), 0, times);
  ASSERT_TRUE(b.contains("kl")) << b.dump();
  EXPECT_GT(b["kl"].get<double>(), 0.0);
  // Nothing kept (DAPO dynamic sampling): no update ran, so no update statistics at all.
  const Json none = policy_update(cfg, with_ref, UpdateBatch{}, 0, times);
  EXPECT_EQ(none, (Json{{"update_tokens", 0}, {"update_tokens_padded", 0}}));
}

}  // namespace
}  // namespace zerorl::trainer
