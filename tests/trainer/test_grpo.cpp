// tests/trainer/test_grpo.cpp: the stopgap GRPO math against naive per-element loops, gradient invariance to
// micro-batching for every aggregation mode, and the learning-rate schedule. Not here: the full step.
#include <gtest/gtest.h>

#include <cmath>

#include "trainer/grpo.h"
#include "trainer/step.h"

namespace zerorl::trainer {
namespace {

TEST(Grpo, AdvantagesMatchNaiveLoops) {
  torch::manual_seed(0);
  auto r = torch::randint(0, 3, {4, 6}).to(torch::kFloat64);
  r[1].fill_(1.0);  // an all-equal group: zero advantages, no NaN
  for (std::string kind : {"grpo", "dr_grpo", "rloo"}) {
    auto a = grpo::group_advantages(r, kind);
    for (int64_t p = 0; p < 4; ++p) {
      double mean = 0, var = 0;
      for (int64_t g = 0; g < 6; ++g) mean += r[p][g].item<double>() / 6;
      for (int64_t g = 0; g < 6; ++g) var += std::pow(r[p][g].item<double>() - mean, 2) / 5;
      for (int64_t g = 0; g < 6; ++g) {
        const double x = r[p][g].item<double>();
        double others = 0;
        for (int64_t h = 0; h < 6; ++h) others += h == g ? 0 : r[p][h].item<double>() / 5;
        const double want = kind == "grpo"      ? (x - mean) / (std::sqrt(var) + 1e-6)
                            : kind == "dr_grpo" ? x - mean
                                                : x - others;
        EXPECT_NEAR(a[p][g].item<double>(), want, 1e-9) << kind << " " << p << " " << g;
      }
    }
  }
}

TEST(Grpo, ClipLossAndKlMatchNaive) {
  torch::manual_seed(1);
  auto logp = torch::randn({3, 5}, torch::kFloat64) * 0.3 - 1,
       old = torch::randn({3, 5}, torch::kFloat64) * 0.3 - 1;
  auto ref = torch::randn({3, 5}, torch::kFloat64) * 0.3 - 1;
  auto adv = torch::tensor({1.5, -0.7, -2.0}, torch::kFloat64);
  torch::Tensor clipped;
  auto loss = grpo::ppo_clip_loss(logp, old, adv, 0.2, 0.28, 3.0, &clipped);
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t t = 0; t < 5; ++t) {
      const double ratio = std::exp(logp[i][t].item<double>() - old[i][t].item<double>()),
                   a = adv[i].item<double>();
      const double clip = std::min(std::max(ratio, 0.8), 1.28);
      double want = std::max(-a * ratio, -a * clip);
      if (a < 0) want = std::min(want, -a * 3.0);
      EXPECT_NEAR(loss[i][t].item<double>(), want, 1e-12);
      EXPECT_EQ(clipped[i][t].item<double>(), (-a * clip > -a * ratio) ? 1.0 : 0.0);
      const double d = ref[i][t].item<double>() - logp[i][t].item<double>();
      EXPECT_NEAR(grpo::kl_estimate(logp, ref, "k1")[i][t].item<double>(), -d, 1e-12);
      EXPECT_NEAR(grpo::kl_estimate(logp, ref, "k2")[i][t].item<double>(), d * d / 2, 1e-12);
      EXPECT_NEAR(grpo::kl_estimate(logp, ref, "k3")[i][t].item<double>(), std::exp(d) - d - 1, 1e-12);
    }
  }
}

// Gradient of the aggregated loss w.r.t. per-token inputs: the same whether the 8 rows go in 1, 2 or 8
// pieces.
TEST(Grpo, GradientsDoNotDependOnMicroBatching) {
  torch::manual_seed(2);
  auto base = torch::randn({8, 6}, torch::kFloat32);
  auto mask = (torch::rand({8, 6}) > 0.3).to(torch::kFloat32);
  mask.select(1, 0).fill_(1.0);
  auto old = base.detach() + 0.05 * torch::randn({8, 6});
  auto adv = torch::randn({8});
  for (std::string mode : {"token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"}) {
    std::vector<torch::Tensor> grads;
    for (int64_t pieces : {1, 2, 8}) {
      auto x = base.clone().requires_grad_();
      const int64_t rows = 8 / pieces;
      for (int64_t b = 0; b < 8; b += rows) {
        auto tok = grpo::ppo_clip_loss(x.narrow(0, b, rows), old.narrow(0, b, rows), adv.narrow(0, b, rows),
                                       0.2, 0.2, 0.0, nullptr);
        grpo::aggregate(tok, mask.narrow(0, b, rows), mode, mask.sum().item<double>(), 8.0, 6.0).backward();
      }
      grads.push_back(x.grad().clone());
    }
    EXPECT_TRUE(torch::allclose(grads[0], grads[1], 0, 1e-6)) << mode;
    EXPECT_TRUE(torch::allclose(grads[0], grads[2], 0, 1e-6)) << mode;
    // and the mode matters (the comparison is not vacuous)
    EXPECT_GT(grads[0].abs().sum().item<double>(), 0.0) << mode;
  }
}

TEST(Schedule, WarmupThenConstantOrCosine) {
  OptimSection o;
  o.lr = 1e-3;
  o.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(lr_at(o, 0, 100), 0.25e-3);
  EXPECT_DOUBLE_EQ(lr_at(o, 3, 100), 1e-3);
  EXPECT_DOUBLE_EQ(lr_at(o, 50, 100), 1e-3);
  o.schedule = "cosine";
  EXPECT_DOUBLE_EQ(lr_at(o, 4, 100), 1e-3);
  EXPECT_NEAR(lr_at(o, 52, 100), 0.5e-3, 1e-12);  // halfway through the decay
  EXPECT_NEAR(lr_at(o, 100, 100), 0.0, 1e-15);
}

}  // namespace
}  // namespace zerorl::trainer
