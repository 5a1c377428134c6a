// tests/trainer/test_current_old_logprobs.cpp: algo.old_logprobs = current (pi_old = the update's own
// forward, detached) against recompute (a no-grad forward before the update), the reference: with one
// optimizer step per batch both are the log-probs of the same weights, so the update must move the weights
// the same way and report the same metrics, with and without a reference model and truncated importance
// sampling, at temperature 1 and 0.7. Also which configs auto resolves to current and which explicit ones are
// refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/config.h"
#include "rollout/engine.h"
#include "tests/trainer/rollout_batch.h"
#include "trainer/update.h"

namespace zerorl::trainer {
namespace {

// The two paths run the same micro-batches through the same forward; they can differ only where a no-grad
// forward rounds differently from a grad-mode one. The tolerance is relative, 2 * 64 * float eps (64 = the
// longest reduction, intermediate_size; see test_mixed_precision.cpp), on quantities of order 1 or scaled to
// their own size. A pi_old from the wrong distribution (the engine's tempered log-probs at T = 0.7, or
// another step's weights) moves every ratio by ~1e-1: far outside it.
constexpr double kRelTol = 2 * 64 * std::numeric_limits<float>::epsilon();

model::CausalLM copy_of(const model::CausalLM& init) {
  model::CausalLM lm(init->config(), torch::kFloat32);
  torch::NoGradGuard ng;
  auto src = init->parameters(), dst = lm->parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  return lm;
}

struct Updated {
  Json out;
  torch::Tensor step;  // all parameters after - before, flattened: -lr * gradient under SGD
};

// One policy_update from a copy of `init` under plain SGD, so the weight change is the gradient itself.
Updated update_with(const Config& cfg, const model::CausalLM& init, const UpdateBatch& b) {
  auto lm = copy_of(init);
  torch::optim::SGD opt(lm->parameters(), torch::optim::SGDOptions(1.0));
  PolicyState p{lm, cfg.algo.kl_coef > 0 ? copy_of(init) : model::CausalLM(nullptr), &opt, nullptr, 0};
  PhaseTimes times;
  Updated u{policy_update(cfg, p, b, 0, times), {}};
  std::vector<torch::Tensor> delta;
  auto before = init->parameters(), after = lm->parameters();
  for (size_t i = 0; i < after.size(); ++i) delta.push_back((after[i] - before[i]).detach().flatten());
  u.step = torch::cat(delta);
  return u;
}

void expect_close(const Json& got, const Json& want, const std::string& key, const std::string& where) {
  ASSERT_TRUE(want.contains(key)) << key << " " << where << " " << want.dump();
  ASSERT_TRUE(got.contains(key)) << key << " " << where << " " << got.dump();
  const double w = want[key].get<double>();
  EXPECT_NEAR(got[key].get<double>(), w, kRelTol * std::max(1.0, std::abs(w))) << key << " " << where;
}

TEST(CurrentOldLogprobs, MoveTheWeightsAsRecomputeDoes) {
  auto lm = testing::tiny_policy(5, 0.3);  // peaked enough that a wrong pi_old shows in the ratios
  for (const double temperature : {1.0, 0.7}) {
    const UpdateBatch b = testing::tiny_sampled_batch(lm, temperature, 11);
    for (const char* correction : {"none", "tis"}) {
      for (const double kl_coef : {0.0, 0.05}) {
        Config cfg;
        cfg.rollout.group_size = 4, cfg.rollout.temperature = temperature, cfg.rollout.max_new_tokens = 6;
        cfg.algo.micro_batch_tokens = 40;  // several micro-batches: pi_old is taken one at a time
        cfg.algo.off_policy_correction = correction, cfg.algo.is_cap = 1.5;
        cfg.algo.kl_coef = kl_coef, cfg.algo.kl_in = "loss";
        cfg.trainer.steps = 1;
        const std::string where =
            "T=" + std::to_string(temperature) + " " + correction + " kl=" + std::to_string(kl_coef);
        cfg.algo.old_logprobs = "recompute";
        const Updated want = update_with(cfg, lm, b);
        cfg.algo.old_logprobs = "current";
        validate_old_logprobs(cfg);
        const Updated got = update_with(cfg, lm, b);

        const double norm = want.step.norm().item<double>();
        ASSERT_GT(norm, 0.0) << where;
        EXPECT_LE((got.step - want.step).norm().item<double>(), kRelTol * norm) << where;
        for (const char* k : {"pg_loss", "entropy", "grad_norm", "clip_frac"})
          expect_close(got.out, want.out, k, where);
        EXPECT_EQ(got.out["clip_frac"].get<double>(), 0.0) << "pi_old = pi_theta: every ratio is 1 " << where;
        EXPECT_EQ(got.out.contains("kl"), kl_coef > 0) << where;
        if (kl_coef > 0) expect_close(got.out, want.out, "kl", where);
        // Both measure pi_old against the engine's T = 1 log-probs (not comparable at other temperatures).
        EXPECT_EQ(got.out.contains("rollout_logprob_diff"), temperature == 1.0) << where;
        if (temperature == 1.0) expect_close(got.out, want.out, "rollout_logprob_diff", where);
        if (std::string(correction) == "tis") {
          for (const char* k :
               {"off_policy/is_ratio_mean", "off_policy/is_ratio_max", "off_policy/is_weight_mean",
                "off_policy/is_clip_frac", "off_policy/logprob_abs_diff"})
            expect_close(got.out, want.out, k, where);
        } else {
          EXPECT_FALSE(got.out.contains("off_policy/is_ratio_mean")) << where;
        }
      }
    }
  }
}

// The reference for the test above being able to fail: pi_old from a policy other than the update's (the
// engine's tempered sampling log-probs read as rollout log-probs at T = 0.7 with no filters) gives ratios
// away from 1, so clip_frac and the weight change leave the tolerance.
TEST(CurrentOldLogprobs, AnotherPolicysLogprobsAreFarOutsideTheTolerance) {
  auto lm = testing::tiny_policy(5, 0.3);
  const UpdateBatch b = testing::tiny_sampled_batch(lm, 0.7, 11);
  Config cfg;
  cfg.rollout.group_size = 4, cfg.rollout.temperature = 0.7, cfg.rollout.max_new_tokens = 6;
  cfg.algo.micro_batch_tokens = 40, cfg.trainer.steps = 1;
  cfg.algo.old_logprobs = "current";
  const Updated cur = update_with(cfg, lm, b);
  UpdateBatch other = b;
  other.logprobs_sampling = b.logprobs_policy;  // T = 1 log-probs where T = 0.7 ones belong
  cfg.algo.old_logprobs = "rollout";
  const Updated wrong = update_with(cfg, lm, other);
  EXPECT_GT(wrong.out["clip_frac"].get<double>(), 0.05);
  EXPECT_GT((wrong.step - cur.step).norm().item<double>(), 1e3 * kRelTol * cur.step.norm().item<double>());
}

std::string error_of(const Config& cfg) {
  try {
    validate_old_logprobs(cfg);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// auto: rollout where the engine's log-probs are the trainer's, else current where it is exact, else
// recompute (the rules of trainer/update.h, case by case); an explicit current where it is not exact is a
// named error.
TEST(CurrentOldLogprobs, AutoTakesItWhereExactAndExplicitOnesAreCheckedOtherwise) {
  Config base;
  base.rollout.temperature = 0.7;  // the engine's log-probs are of a tempered policy: not rollout
  EXPECT_EQ(resolve_old_logprobs(base, torch::kFloat32, false).value, "current");
  EXPECT_NE(resolve_old_logprobs(base, torch::kFloat32, false).why.find("rollout.temperature"),
            std::string::npos);
  EXPECT_EQ(resolve_old_logprobs(Config{}, torch::kFloat32, false).value, "rollout");   // T = 1, fp32
  EXPECT_EQ(resolve_old_logprobs(Config{}, torch::kBFloat16, false).value, "current");  // bf16 on CPU
  struct Case {
    std::function<void(Config&)> change;
    std::string key;  // named in the error of an explicit current
  };
  const std::vector<Case> not_exact = {
      {[](Config& c) { c.algo.minibatches = 2; }, "algo.minibatches = 2"},
      {[](Config& c) { c.algo.epochs = 2; }, "algo.epochs = 2"},
      {[](Config& c) { c.algo.kl_coef = 0.1, c.algo.kl_in = "reward"; }, "algo.kl_in = reward"},
      {[](Config& c) { c.algo.off_policy_correction = "mask"; }, "algo.off_policy_correction = mask"}};
  for (const auto& k : not_exact) {
    Config c = base;
    k.change(c);
    const auto choice = resolve_old_logprobs(c, torch::kFloat32, false);
    EXPECT_EQ(choice.value, "recompute") << k.key;
    EXPECT_NE(choice.why.find(k.key), std::string::npos) << choice.why;
    c.algo.old_logprobs = "current";
    const std::string msg = error_of(c);
    EXPECT_NE(msg.find("algo.old_logprobs = current"), std::string::npos) << msg;
    EXPECT_NE(msg.find(k.key), std::string::npos) << msg;
  }
  Config ok = base;  // KL in the loss and truncated IS are exact with current
  ok.algo.kl_coef = 0.1, ok.algo.kl_in = "loss", ok.algo.off_policy_correction = "tis";
  EXPECT_EQ(resolve_old_logprobs(ok, torch::kFloat32, false).value, "current");
  ok.algo.old_logprobs = "current";
  EXPECT_EQ(error_of(ok), "");
}

}  // namespace
}  // namespace zerorl::trainer
