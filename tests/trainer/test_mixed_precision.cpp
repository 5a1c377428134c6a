// tests/trainer/test_mixed_precision.cpp: MasterWeights against a plain wide optimizer (float64 masters over
// a float32 compute model, so it runs on CPU), and algo.old_logprobs = rollout against recompute. Not here:
// the bf16-on-CUDA trainer run (test_trainer_gpu.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "compat/torch_compat.h"
#include "core/error.h"
#include "kernels/switch.h"
#include "model/config.h"
#include "rollout/engine.h"
#include "tests/trainer/rollout_batch.h"
#include "trainer/mixed_precision.h"
#include "trainer/update.h"

namespace zerorl::trainer {
namespace {

// Rollout vs recomputed old log-probs, fp32 CPU: the engine's cached decode (one token against the cache) and
// the trainer's full forward run different GEMM shapes, so BLAS (OpenBLAS picks kernels per CPU: Haswell,
// SkylakeX, ...) sums their dot products in different orders. Each differs from the exact value by at most
// K * eps relative to the sum of |terms| for a reduction of length K (intermediate_size 64 is the longest
// here), and the ratios exp(logp - logp_old) carry that relative error into the losses and the gradient.
// Hence a relative tolerance of 2 * 64 * float eps (1.5e-5); measured: up to 1.6e-6 (Zen 5, both kernels).
// A wrong denominator is far outside it (the clip_frac checks below).
constexpr double kOldLogprobRelTol = 2 * 64 * std::numeric_limits<float>::epsilon();

double relative_tol(double scale) { return kOldLogprobRelTol * std::max(1.0, std::abs(scale)); }

// Mean |log-prob| of the engine's tokens: the scale of the log-probs the recompute is compared with.
double mean_abs_logprob(const std::vector<std::vector<float>>& rows) {
  double sum = 0, n = 0;
  for (const auto& r : rows) {
    for (float x : r) sum += std::abs(x), n += 1;
  }
  return n > 0 ? sum / n : 0.0;
}

TEST(MasterWeights, AccumulateStepPushEqualsAWideOptimizer) {
  auto lm = testing::tiny_policy(3, 0.02);
  const auto compute = lm->parameters();
  std::vector<void*> ptrs;
  for (const auto& p : compute) ptrs.push_back(p.data_ptr());
  MasterWeights mw(lm, torch::kFloat64);
  auto masters = mw.parameters();
  ASSERT_EQ(masters.size(), compute.size());
  std::vector<torch::Tensor> wide;  // the reference: float64 parameters with an ordinary AdamW
  for (size_t i = 0; i < masters.size(); ++i) {
    EXPECT_EQ(masters[i].scalar_type(), torch::kFloat64);
    EXPECT_TRUE(torch::equal(masters[i], compute[i].to(torch::kFloat64)));
    wide.push_back(compute[i].detach().to(torch::kFloat64).requires_grad_(true));
  }
  const auto o = torch::optim::AdamWOptions(1e-2).weight_decay(0.1);
  torch::optim::AdamW opt(masters, o), ref(wide, o);
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad(), ref.zero_grad();
    std::vector<torch::Tensor> expect(compute.size());
    for (int micro = 0; micro < 3; ++micro) {  // gradient accumulation over micro-batches
      auto ids = torch::randint(0, 64, {2, 5}, torch::kInt64);
      lm->forward(ids).pow(2).mean().backward();
      for (size_t i = 0; i < compute.size(); ++i) {
        auto g = compute[i].grad().to(torch::kFloat64);
        expect[i] = expect[i].defined() ? expect[i] + g : g;
      }
      mw.accumulate_grads();
      for (const auto& p : compute) EXPECT_FALSE(p.grad().defined());
    }
    for (size_t i = 0; i < compute.size(); ++i) {
      ASSERT_TRUE(torch::equal(masters[i].grad(), expect[i])) << "param " << i << " step " << step;
      wide[i].mutable_grad() = expect[i];
    }
    opt.step(), ref.step();
    mw.push();
    double below_compute_precision = 0;
    for (size_t i = 0; i < compute.size(); ++i) {
      ASSERT_TRUE(torch::equal(masters[i], wide[i])) << "param " << i << " step " << step;
      ASSERT_TRUE(torch::equal(compute[i], masters[i].to(torch::kFloat32))) << "param " << i;
      EXPECT_EQ(compute[i].data_ptr(), ptrs[i]) << "push must write in place";
      below_compute_precision += (masters[i] - compute[i].to(torch::kFloat64)).abs().sum().item<double>();
    }
    EXPECT_GT(below_compute_precision, 0.0) << "the masters keep what the compute dtype rounds away";
  }
}

// One rollout of a tiny model, then the update with recomputed vs rollout old log-probs: the same losses.
Json update_with(const Config& cfg, const model::CausalLM& init, const UpdateBatch& b) {
  model::CausalLM lm(init->config(), torch::kFloat32);
  {
    torch::NoGradGuard ng;
    auto src = init->parameters(), dst = lm->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(1e-3));
  PolicyState p{lm, model::CausalLM(nullptr), &opt, nullptr, 0};
  PhaseTimes times;
  return policy_update(cfg, p, b, 0, times);
}

TEST(Update, RolloutOldLogprobsGiveTheLossesOfRecompute) {
  for (const double temperature : {1.0, 0.7}) {
    Config cfg;
    cfg.rollout.group_size = 4, cfg.rollout.temperature = temperature, cfg.rollout.max_new_tokens = 6;
    cfg.algo.micro_batch_tokens = 40;  // several micro-batches
    cfg.trainer.steps = 1;
    auto lm = testing::tiny_policy(5, 0.3);  // peaked enough that ratios would show a wrong denominator
    const UpdateBatch b = testing::tiny_sampled_batch(lm, temperature, 9);
    cfg.algo.old_logprobs = "recompute";
    const Json a = update_with(cfg, lm, b);
    cfg.algo.old_logprobs = "rollout";
    validate_old_logprobs(cfg);
    const Json r = update_with(cfg, lm, b);
    for (const char* k : {"pg_loss", "clip_frac", "entropy", "grad_norm"}) {
      const double want = a[k].get<double>();
      EXPECT_NEAR(r[k].get<double>(), want, relative_tol(want)) << k << " T=" << temperature;
    }
    EXPECT_GT(a["grad_norm"].get<double>(), 0.0);
    // The recompute reports its distance to the engine's T = 1 log-probs (prompts of 2, 3 and 5 tokens share
    // micro-batches: the layout must find every response token); none at other temperatures.
    ASSERT_EQ(a.contains("rollout_logprob_diff"), temperature == 1.0);
    if (temperature == 1.0) {
      EXPECT_LT(a["rollout_logprob_diff"].get<double>(), relative_tol(mean_abs_logprob(b.logprobs_policy)));
      UpdateBatch shifted = b;  // each answer's log-probs one token late: the metric must see it
      for (auto& row : shifted.logprobs_policy) row.insert(row.begin(), 0.0f), row.pop_back();
      cfg.algo.old_logprobs = "recompute";
      EXPECT_GT(update_with(cfg, lm, shifted)["rollout_logprob_diff"].get<double>(), 0.1);
    }
    // A wrong denominator shows: with the other temperature's log-probs the ratios leave the clip range.
    if (temperature != 1.0) {
      UpdateBatch wrong = b;
      wrong.logprobs_sampling = b.logprobs_policy;
      EXPECT_GT(update_with(cfg, lm, wrong)["clip_frac"].get<double>(), 0.05);
    }
  }
  Config bad;
  bad.algo.old_logprobs = "rollout", bad.rollout.temperature = 0.7, bad.rollout.top_p = 0.9;
  EXPECT_THROW(validate_old_logprobs(bad), Error);
}

// algo.old_logprobs = auto, case by case (the rules in update.h, worked by hand): rollout only where the
// engine's log-probs are the trainer's; elsewhere current, since these configs take one optimizer step per
// batch (test_current_old_logprobs.cpp has the cases where recompute remains).
TEST(OldLogprobs, AutoPicksRolloutOnlyWhereTheEnginesLogprobsAreTheTrainers) {
  Config cfg;
  ASSERT_EQ(cfg.algo.old_logprobs, "auto");  // the default
  const auto pick = [&](torch::Dtype dtype, bool cuda) {
    return resolve_old_logprobs(cfg, dtype, cuda).value;
  };
  EXPECT_EQ(pick(torch::kFloat32, false), "rollout");  // the CPU demo: fp32, T = 1, no filters
  EXPECT_EQ(pick(torch::kFloat32, true), "rollout");
  EXPECT_EQ(pick(torch::kBFloat16, false), "current");  // no batch-invariant GEMMs on CPU
  EXPECT_EQ(pick(torch::kBFloat16, true), compat::kHasSplitKControl ? "rollout" : "current");
  cfg.rollout.batch_invariant = false;
  EXPECT_EQ(pick(torch::kBFloat16, true), "current");
  EXPECT_EQ(pick(torch::kFloat32, true), "rollout");
  cfg.rollout.batch_invariant = true;
  cfg.algo.pack_sequences = true;  // packed rows keep the engine's bits only through the attention kernel
  EXPECT_EQ(pick(torch::kBFloat16, true),
            compat::kHasSplitKControl && kernels::enabled("attention") ? "rollout" : "current");
  EXPECT_EQ(pick(torch::kFloat32, false), "rollout");
  kernels::set_disabled({"attention"});
  EXPECT_EQ(pick(torch::kBFloat16, true), "current");
  EXPECT_NE(resolve_old_logprobs(cfg, torch::kBFloat16, true).why.find("attention kernel"),
            std::string::npos);
  kernels::set_disabled({});
  cfg.algo.pack_sequences = false;
  for (const auto& change : std::vector<std::function<void(Config&)>>{
           [](Config& c) { c.rollout.temperature = 0.7; }, [](Config& c) { c.rollout.temperature = 0.0; },
           [](Config& c) { c.rollout.top_k = 20; }, [](Config& c) { c.rollout.top_p = 0.95; },
           [](Config& c) { c.rollout.min_p = 0.05; }}) {
    Config c = cfg;
    change(c);
    EXPECT_EQ(resolve_old_logprobs(c, torch::kFloat32, false).value, "current");
    EXPECT_FALSE(resolve_old_logprobs(c, torch::kFloat32, false).why.empty());
    c.algo.minibatches = 2;  // more than one optimizer step: pi_old must be recomputed
    EXPECT_EQ(resolve_old_logprobs(c, torch::kFloat32, false).value, "recompute");
  }
  for (const char* set : {"rollout", "recompute", "current"}) {  // an explicit value stays as it is
    Config c = cfg;
    c.algo.old_logprobs = set, c.rollout.batch_invariant = false;
    EXPECT_EQ(resolve_old_logprobs(c, torch::kBFloat16, true).value, set);
  }
}

}  // namespace
}  // namespace zerorl::trainer
