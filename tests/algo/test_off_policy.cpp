// tests/algo/test_off_policy.cpp: importance weights (none, tis, mask) and their metric sums against a naive
// per-token loop in double, over seeds and shapes, and against numbers worked by hand.
// Not here: the policy loss itself (test_reference.cpp), the trainer's wiring (tests/trainer).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "algo/losses.h"
#include "algo/off_policy.h"
#include "core/error.h"

namespace zerorl::algo {
namespace {

// float32 weights against the double reference: relative to max(1, |want|) (float32 rounding of exp(), and
// of sums over at most ~100 tokens here, stays far below 1e-5 of the value).
constexpr double kTol = 1e-5;

std::vector<double> to_vec(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).to(torch::kFloat64).contiguous().reshape({-1});
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

double near_tol(double want) { return kTol * std::max(1.0, std::abs(want)); }

// The reference: one token at a time, from the definitions in off_policy.h.
struct Naive {
  std::vector<double> weight, keep;
  double tokens = 0, ratio_sum = 0, ratio_max = 0, weight_sum = 0, kept = 0, out = 0, abs_diff = 0;
};
Naive naive(const std::vector<double>& old_lp, const std::vector<double>& mu_lp, const std::vector<double>& m,
            const std::string& mode, double cap) {
  Naive n;
  for (size_t i = 0; i < old_lp.size(); ++i) {
    const double lr = std::min(20.0, std::max(-20.0, old_lp[i] - mu_lp[i]));
    const double r = std::exp(lr);
    const bool valid = m[i] > 0;
    double w = 1, keep = valid ? 1 : 0;
    if (valid && mode == "tis") w = std::min(r, cap);
    if (valid && mode == "mask") {
      const bool in = r >= 1 / cap && r <= cap;
      w = in ? r : 1;
      keep = in ? 1 : 0;
    }
    n.weight.push_back(w), n.keep.push_back(keep);
    if (!valid) continue;
    n.tokens += 1, n.ratio_sum += r, n.ratio_max = std::max(n.ratio_max, r), n.abs_diff += std::abs(lr);
    if (keep > 0) n.weight_sum += w, n.kept += 1;
    if (mode == "tis" && r > cap) n.out += 1;
    if (mode == "mask" && keep == 0) n.out += 1;
  }
  return n;
}

TEST(OffPolicy, WeightsAndStatsMatchANaiveLoopOverSeedsAndShapes) {
  for (const std::string mode : {"none", "tis", "mask"}) {
    for (int seed = 0; seed < 4; ++seed) {
      for (auto shape : {std::vector<int64_t>{1, 1}, {3, 7}, {8, 13}}) {
        torch::manual_seed(static_cast<uint64_t>(seed));
        auto old_lp = -torch::rand(shape) * 3;
        auto mu_lp = old_lp + torch::randn(shape);  // |log r| ~ 1: every branch (cut, kept, dropped) is hit
        auto mask = (torch::rand(shape) > 0.25).to(torch::kFloat32);
        const double cap = 1.5 + seed * 0.5;
        const auto corr = parse_off_policy_correction(mode);
        const auto w = importance_weights(old_lp, mu_lp, mask, corr, cap);
        const Naive n = naive(to_vec(old_lp), to_vec(mu_lp), to_vec(mask), mode, cap);
        const auto gw = to_vec(w.weight), gk = to_vec(w.keep);
        const std::string what = mode + " seed " + std::to_string(seed);
        for (size_t i = 0; i < gw.size(); ++i) {
          EXPECT_NEAR(gw[i], n.weight[i], near_tol(n.weight[i])) << what << " weight " << i;
          EXPECT_EQ(gk[i], n.keep[i]) << what << " keep " << i;
        }
        const auto s = read_off_policy_stats(off_policy_stat_sums(old_lp, mu_lp, mask, w, corr, cap));
        ASSERT_EQ(s.tokens, n.tokens) << what;
        if (n.tokens == 0) continue;
        EXPECT_NEAR(s.ratio_mean, n.ratio_sum / n.tokens, near_tol(n.ratio_sum / n.tokens)) << what;
        EXPECT_NEAR(s.ratio_max, n.ratio_max, near_tol(n.ratio_max)) << what;
        const double wm = n.kept > 0 ? n.weight_sum / n.kept : 0;
        EXPECT_NEAR(s.weight_mean, wm, near_tol(wm)) << what;
        EXPECT_DOUBLE_EQ(s.out_of_bound_frac, n.out / n.tokens) << what;  // counts: exact
        EXPECT_NEAR(s.logprob_abs_diff, n.abs_diff / n.tokens, near_tol(n.abs_diff / n.tokens)) << what;
      }
    }
  }
}

// One row of four valid tokens with ratios r = 3, 0.6, 1, 1.5 (log r = logp_old - logp_mu), then a padded
// token whose ratio (e^10) must not show anywhere. Cap C = 2.
struct HandBatch {
  torch::Tensor old_lp = torch::tensor({{-1.0, -2.0, -0.5, -1.2, 0.0}});
  torch::Tensor mu_lp = old_lp - torch::tensor({{std::log(3.0), std::log(0.6), 0.0, std::log(1.5), 10.0}});
  torch::Tensor mask = torch::tensor({{1.0f, 1.0f, 1.0f, 1.0f, 0.0f}});
};

TEST(OffPolicy, TisByHand) {
  HandBatch h;
  const auto w = importance_weights(h.old_lp, h.mu_lp, h.mask, OffPolicyCorrection::kTis, 2.0);
  const auto got = to_vec(w.weight);
  const std::vector<double> want{2.0, 0.6, 1.0, 1.5, 1.0};  // 3 truncated to C = 2; padding: 1
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], near_tol(want[i])) << i;
  EXPECT_TRUE(torch::equal(w.keep, h.mask));  // tis drops nothing
  const auto s = read_off_policy_stats(
      off_policy_stat_sums(h.old_lp, h.mu_lp, h.mask, w, OffPolicyCorrection::kTis, 2.0));
  EXPECT_EQ(s.tokens, 4);
  EXPECT_NEAR(s.ratio_mean, (3 + 0.6 + 1 + 1.5) / 4, near_tol(1.525));
  EXPECT_NEAR(s.ratio_max, 3.0, near_tol(3.0));  // before truncation; the padded e^10 is not counted
  EXPECT_NEAR(s.weight_mean, (2 + 0.6 + 1 + 1.5) / 4, near_tol(1.275));
  EXPECT_DOUBLE_EQ(s.out_of_bound_frac, 0.25);  // one of four truncated
  const double abs_diff = (std::log(3.0) - std::log(0.6) + 0 + std::log(1.5)) / 4;
  EXPECT_NEAR(s.logprob_abs_diff, abs_diff, near_tol(abs_diff));
}

TEST(OffPolicy, MaskByHand) {
  HandBatch h;
  const auto w = importance_weights(h.old_lp, h.mu_lp, h.mask, OffPolicyCorrection::kMask, 2.0);
  // r = 3 is outside [1/2, 2]: dropped; the others are kept with w = r.
  EXPECT_EQ(to_vec(w.keep), (std::vector<double>{0, 1, 1, 1, 0}));
  const auto got = to_vec(w.weight);
  const std::vector<double> want{1.0, 0.6, 1.0, 1.5, 1.0};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], near_tol(want[i])) << i;
  const auto s = read_off_policy_stats(
      off_policy_stat_sums(h.old_lp, h.mu_lp, h.mask, w, OffPolicyCorrection::kMask, 2.0));
  EXPECT_EQ(s.tokens, 4);
  EXPECT_NEAR(s.ratio_max, 3.0, near_tol(3.0));
  EXPECT_NEAR(s.weight_mean, (0.6 + 1 + 1.5) / 3, near_tol(1.0));  // over the three kept tokens
  EXPECT_DOUBLE_EQ(s.out_of_bound_frac, 0.25);                     // one of four dropped
}

TEST(OffPolicy, NoneIsOnesAndEqualLogprobsGiveWeightOneExactly) {
  HandBatch h;
  const auto none = importance_weights(h.old_lp, h.mu_lp, h.mask, OffPolicyCorrection::kNone, 2.0);
  EXPECT_TRUE(torch::equal(none.weight, torch::ones({1, 5})));
  EXPECT_TRUE(torch::equal(none.keep, h.mask));
  // mu == pi_old: r = exp(0) = 1 exactly, so tis and mask leave the loss bit-identical to none.
  for (auto corr : {OffPolicyCorrection::kTis, OffPolicyCorrection::kMask}) {
    const auto w = importance_weights(h.old_lp, h.old_lp.clone(), h.mask, corr, 2.0);
    EXPECT_TRUE(torch::equal(w.weight, torch::ones({1, 5})));
    EXPECT_TRUE(torch::equal(w.keep, h.mask));
  }
}

// The weight multiplies the PPO loss with no gradient of its own: at rho = 1 (logp == logp_old, no clip) the
// gradient of sum_t w_t * L_t with respect to logp_t is -A * w_t.
TEST(OffPolicy, WeightCarriesNoGradientAndScalesThePolicyGradient) {
  HandBatch h;
  auto old_lp = h.old_lp.clone().requires_grad_(true);
  const auto w = importance_weights(old_lp, h.mu_lp, h.mask, OffPolicyCorrection::kTis, 2.0);
  EXPECT_FALSE(w.weight.requires_grad());
  auto logp = h.old_lp.clone().requires_grad_(true);
  const auto adv = torch::tensor({0.7f});
  const auto pg = policy_loss(logp, h.old_lp, adv);
  (pg.loss * w.weight * h.mask).sum().backward();
  const auto grad = to_vec(logp.grad());
  const std::vector<double> want{-0.7 * 2.0, -0.7 * 0.6, -0.7 * 1.0, -0.7 * 1.5, 0.0};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(grad[i], want[i], near_tol(want[i])) << i;
}

TEST(OffPolicy, BadInputIsANamedError) {
  HandBatch h;
  try {
    parse_off_policy_correction("truncate");
    FAIL() << "accepted an unknown correction";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("none, tis or mask"), std::string::npos) << e.what();
  }
  try {
    importance_weights(h.old_lp, h.mu_lp, h.mask, OffPolicyCorrection::kTis, 1.0);
    FAIL() << "accepted cap 1";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("algo.is_cap"), std::string::npos) << e.what();
  }
  EXPECT_THROW(importance_weights(h.old_lp, h.mu_lp.narrow(1, 0, 4), h.mask, OffPolicyCorrection::kTis, 2.0),
               Error);
}

}  // namespace
}  // namespace zerorl::algo
