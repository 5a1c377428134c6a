// tests/trainer/test_update_metrics.cpp: what policy_update reports about itself: real (unpadded) tokens once
// per update beside the padded figure, and only measured quantities (no KL without a reference model).
// Not here: the loss math (tests/algo), old log-probs (test_mixed_precision.cpp).
#include <gtest/gtest.h>

#include "model/config.h"
#include "tests/trainer/known_batch.h"
#include "trainer/update.h"

namespace zerorl::trainer {
namespace {

using testing::known_batch;
using testing::tiny_update_model;

TEST(UpdateMetrics, RealTokensCountedOnceBesideThePaddedFigure) {
  EXPECT_EQ(real_tokens(known_batch()), (3 + 2) + (5 + 4));
  Config cfg;
  cfg.rollout.group_size = 2;
  cfg.algo.epochs = 2;
  cfg.trainer.steps = 1;
  cfg.algo.old_logprobs = "recompute";  // known_batch() carries no engine log-probs
  auto lm = tiny_update_model(1);
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
  auto lm = tiny_update_model(2);
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(1e-3));
  PhaseTimes times;
  PolicyState no_ref{lm, model::CausalLM(nullptr), &opt, nullptr, 0};
  const Json a = policy_update(cfg, no_ref, known_batch(), 0, times);
  EXPECT_FALSE(a.contains("kl")) << a.dump();  // kl_coef 0: not measured, so not reported as 0
  for (const char* k : {"entropy", "clip_frac", "grad_norm", "pg_loss"}) EXPECT_TRUE(a.contains(k)) << k;
  EXPECT_GT(a["entropy"].get<double>(), 0.0);
  cfg.algo.kl_coef = 0.1;
  PolicyState with_ref{lm, tiny_update_model(3), &opt, nullptr, 0};  // a different reference: KL > 0
  const Json b = policy_update(cfg, with_ref, known_batch(), 0, times);
  ASSERT_TRUE(b.contains("kl")) << b.dump();
  EXPECT_GT(b["kl"].get<double>(), 0.0);
  // Nothing kept (DAPO dynamic sampling): no update ran, so no update statistics at all.
  const Json none = policy_update(cfg, with_ref, UpdateBatch{}, 0, times);
  EXPECT_EQ(none, (Json{{"update_tokens", 0}, {"update_tokens_padded", 0}}));
}

}  // namespace
}  // namespace zerorl::trainer
