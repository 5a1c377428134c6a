// tests/algo/test_reference.cpp: every advantage, loss, KL estimator and logits helper of algo/ against a
// naive per-element loop in double (the independent reference), over several seeds and shapes.
// Not here: micro-batch gradient invariance (test_microbatch.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "algo/advantages.h"
#include "algo/logits.h"
#include "algo/losses.h"
#include "core/error.h"

namespace zerorl::algo {
namespace {

constexpr double kFloatTol = 2e-5;     // float32 results vs the double reference (relative to max(1, |ref|))
constexpr double kBf16Tol = 2e-5;      // bf16 logits are upcast exactly, so the same tolerance holds
constexpr double kBf16GradTol = 2e-2;  // gradients formed in bf16 by two different op orders (8-bit mantissa)

std::vector<double> to_vec(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).to(torch::kFloat64).contiguous().reshape({-1});
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// A float32 result against a hand-worked or double-precision value: `tol` relative to max(1, |want|), since
// float32 rounding (and the order in which a kernel sums: SIMD width differs by CPU) scales with the value.
double rel(double want, double tol) { return tol * std::max(1.0, std::abs(want)); }

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::abs(want[i]))) << what << " at " << i;
  }
}

// ---- advantages ----------------------------------------------------------------------------------------

// Naive: loop over each sample, find its group by id, compute the estimator from the definition.
std::vector<double> naive_advantages(const std::vector<double>& r, const std::vector<int64_t>& ids,
                                     AdvantageEstimator est, double eps) {
  std::vector<double> out(r.size());
  for (size_t i = 0; i < r.size(); ++i) {
    std::vector<double> group, others;
    for (size_t j = 0; j < r.size(); ++j) {
      if (ids[j] != ids[i]) continue;
      group.push_back(r[j]);
      if (j != i) others.push_back(r[j]);
    }
    const double g = static_cast<double>(group.size());
    if (g < 2) {
      out[i] = 0;
      continue;
    }
    double mean = 0;
    for (double x : group) mean += x / g;
    double ss = 0;
    for (double x : group) ss += (x - mean) * (x - mean);
    const double std_unbiased = std::sqrt(ss / (g - 1));
    double others_mean = 0;
    for (double x : others) others_mean += x / (g - 1);
    if (est == AdvantageEstimator::kGrpo) out[i] = (r[i] - mean) / (std_unbiased + eps);
    if (est == AdvantageEstimator::kDrGrpo) out[i] = r[i] - mean;
    if (est == AdvantageEstimator::kRloo) out[i] = r[i] - others_mean;
  }
  return out;
}

TEST(Advantages, GroupedMatchNaiveLoop) {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 2}, {3, 4}, {5, 16}, {4, 1}, {2, 7}};
  for (auto est : {AdvantageEstimator::kGrpo, AdvantageEstimator::kDrGrpo, AdvantageEstimator::kRloo}) {
    for (auto [p, g] : shapes) {
      for (int seed = 0; seed < 3; ++seed) {
        torch::manual_seed(seed);
        // Binary rewards (ties, all-equal groups) for even seeds, continuous for odd ones.
        auto rewards =
            seed % 2 == 0 ? torch::randint(0, 2, {p, g}).to(torch::kFloat32) : torch::randn({p, g});
        AdvantageOptions opts{est, 1e-6};
        auto adv = group_advantages(rewards, opts);
        ASSERT_EQ(adv.sizes(), rewards.sizes());
        std::vector<int64_t> ids;
        for (int64_t i = 0; i < p; ++i)
          for (int64_t j = 0; j < g; ++j) ids.push_back(i);
        expect_close(to_vec(adv), naive_advantages(to_vec(rewards), ids, est, 1e-6), kFloatTol,
                     to_string(est) + " P=" + std::to_string(p) + " G=" + std::to_string(g));
      }
    }
  }
}

TEST(Advantages, FlatWithUnsortedVariableGroups) {
  for (int seed = 0; seed < 4; ++seed) {
    torch::manual_seed(100 + seed);
    const int64_t n = 40;
    auto ids = torch::randint(-3, 9, {n}, torch::kInt64);  // unsorted, negative ids, sizes vary (some 1)
    auto rewards = torch::rand({n});
    std::vector<double> r = to_vec(rewards);
    std::vector<int64_t> id_vec(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + n);
    for (auto est : {AdvantageEstimator::kGrpo, AdvantageEstimator::kDrGrpo, AdvantageEstimator::kRloo}) {
      auto adv = group_advantages(rewards, ids, {est, 1e-4});
      expect_close(to_vec(adv), naive_advantages(r, id_vec, est, 1e-4), kFloatTol, to_string(est));
    }
  }
}

TEST(Advantages, HandDerivedGroup) {
  // r = {1, 0, 0, 1}: mean 0.5, unbiased std sqrt(1/3); RLOO: 1 - 1/3 = 2/3, 0 - 2/3 = -2/3.
  auto r = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f}).view({1, 4});
  auto grpo = to_vec(group_advantages(r, {AdvantageEstimator::kGrpo, 0.0}));
  EXPECT_NEAR(grpo[0], 0.5 / std::sqrt(1.0 / 3.0), rel(0.5 / std::sqrt(1.0 / 3.0), 1e-6));
  auto rloo = to_vec(group_advantages(r, {AdvantageEstimator::kRloo, 0.0}));
  EXPECT_NEAR(rloo[0], 2.0 / 3.0, rel(2.0 / 3.0, 1e-6));
  EXPECT_NEAR(rloo[1], -2.0 / 3.0, rel(-2.0 / 3.0, 1e-6));
  auto same = to_vec(group_advantages(torch::ones({2, 3}), {AdvantageEstimator::kGrpo, 1e-6}));
  for (double a : same) EXPECT_EQ(a, 0.0);
  EXPECT_THROW(parse_advantage_estimator("ppo"), Error);
  EXPECT_THROW(group_advantages(torch::tensor({1.0f, NAN}).view({1, 2})), Error);
}

TEST(Advantages, WhitenAndKlInRewardMatchNaive) {
  for (int seed = 0; seed < 3; ++seed) {
    torch::manual_seed(seed);
    auto a = torch::randn({17}) * 3 + 1;
    auto v = to_vec(a);
    double mean = 0, ss = 0;
    for (double x : v) mean += x / v.size();
    for (double x : v) ss += (x - mean) * (x - mean);
    const double sd = std::sqrt(ss / (v.size() - 1));
    std::vector<double> want, want_keep;
    for (double x : v) want.push_back((x - mean) / (sd + 1e-8));
    for (double x : v) want_keep.push_back((x - mean) / (sd + 1e-8) + mean);
    expect_close(to_vec(whiten(a)), want, kFloatTol, "whiten");
    expect_close(to_vec(whiten(a, false)), want_keep, kFloatTol, "whiten keep mean");

    auto rewards = torch::rand({4});
    auto kl = torch::rand({4, 6});
    auto mask = torch::rand({4, 6}) > 0.3;
    auto got = to_vec(kl_penalized_rewards(rewards, kl, mask, 0.05));
    auto r = to_vec(rewards), k = to_vec(kl), m = to_vec(mask);
    for (int i = 0; i < 4; ++i) {
      double s = 0;
      for (int t = 0; t < 6; ++t) s += m[i * 6 + t] * k[i * 6 + t];
      EXPECT_NEAR(got[i], r[i] - 0.05 * s, rel(r[i] - 0.05 * s, 1e-6));
    }
  }
}

// ---- policy loss ---------------------------------------------------------------------------------------

struct NaiveTokenLoss {
  double loss, grad;  // loss and d loss / d logp
  bool clipped, dual;
};

// The PPO-clip / clip-higher / dual-clip definition, one token at a time.
NaiveTokenLoss naive_token_loss(double lp, double lp_old, double a, const ClipOptions& o) {
  const double r = std::exp(lp - lp_old);
  const double rc = std::min(std::max(r, 1 - o.clip_low), 1 + o.clip_high);
  const double l1 = -a * r, l2 = -a * rc;
  NaiveTokenLoss out{std::max(l1, l2), l2 > l1 ? 0.0 : -a * r, l2 > l1, false};
  if (o.clip_ratio_c > 0 && a < 0 && out.loss > -a * o.clip_ratio_c) {
    out = {-a * o.clip_ratio_c, 0.0, out.clipped, true};
  }
  return out;
}

TEST(PolicyLoss, MatchesNaiveLoopWithGradients) {
  const std::vector<ClipOptions> configs = {{0.2, 0.2, 3.0}, {0.2, 0.28, 0.0}, {0.1, 0.3, 1.5}};
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1}, {4, 9}, {16, 33}};
  for (const auto& cfg : configs) {
    for (auto [b, t] : shapes) {
      for (int seed = 0; seed < 3; ++seed) {
        for (bool per_token : {false, true}) {
          torch::manual_seed(seed);
          auto logp_old = -torch::rand({b, t}) * 3;
          auto logp = (logp_old + torch::randn({b, t}) * 0.8).requires_grad_(true);  // ratios ~ e^{+-2}
          auto adv = per_token ? torch::randn({b, t}) : torch::randn({b});
          auto terms = policy_loss(logp, logp_old, adv, cfg);
          terms.loss.sum().backward();
          auto lp = to_vec(logp), lpo = to_vec(logp_old), av = to_vec(adv), got = to_vec(terms.loss);
          auto grad = to_vec(logp.grad()), clipped = to_vec(terms.clipped), dual = to_vec(terms.dual_clipped);
          for (int64_t i = 0; i < b * t; ++i) {
            const double a = per_token ? av[i] : av[i / t];
            auto want = naive_token_loss(lp[i], lpo[i], a, cfg);
            const double tol = kFloatTol * std::max(1.0, std::abs(want.loss));
            ASSERT_NEAR(got[i], want.loss, tol) << "token " << i;
            ASSERT_NEAR(grad[i], want.grad, tol) << "token " << i;
            ASSERT_EQ(clipped[i] != 0, want.clipped) << "token " << i;
            ASSERT_EQ(dual[i] != 0, want.dual) << "token " << i;
          }
        }
      }
    }
  }
}

// Hand-derived cases at and around the clip boundaries (clip_low 0.2, clip_high 0.28, c = 3).
TEST(PolicyLoss, ClipBoundaries) {
  struct Case {
    double ratio, adv, loss, grad;
    bool clipped, dual;
  };
  const std::vector<Case> cases = {
      {1.27, 1.0, -1.27, -1.27, false, false},  // A > 0 just inside clip-higher bound 1.28: gradient flows
      {1.29, 1.0, -1.28, 0.0, true, false},     // just outside: clipped, no gradient
      {0.5, 1.0, -0.5, -0.5, false, false},     // A > 0, ratio low: never clipped (pessimistic bound)
      {0.81, -1.0, 0.81, 0.81, false, false},   // A < 0 just inside 1 - 0.2
      {0.79, -1.0, 0.8, 0.0, true, false},      // A < 0 below 0.8: clipped
      {2.9, -1.0, 2.9, 2.9, false, false},      // A < 0, ratio < c: plain PPO loss
      {3.1, -1.0, 3.0, 0.0, false, true},       // A < 0, ratio > c: dual-clip bound -A*c
      {5.0, 2.0, -2.56, 0.0, true, false},      // A > 0, ratio > c: no dual clip for positive advantages
  };
  const ClipOptions cfg{0.2, 0.28, 3.0};
  for (const auto& c : cases) {
    auto logp_old = torch::zeros({1, 1});
    auto logp = torch::full({1, 1}, std::log(c.ratio)).requires_grad_(true);
    auto terms = policy_loss(logp, logp_old, torch::full({1}, c.adv), cfg);
    terms.loss.sum().backward();
    EXPECT_NEAR(terms.loss.item<double>(), c.loss, rel(c.loss, 1e-5))
        << "ratio " << c.ratio << " A " << c.adv;
    EXPECT_NEAR(logp.grad().item<double>(), c.grad, rel(c.grad, 1e-5))
        << "ratio " << c.ratio << " A " << c.adv;
    EXPECT_EQ(terms.clipped.item<bool>(), c.clipped) << "ratio " << c.ratio << " A " << c.adv;
    EXPECT_EQ(terms.dual_clipped.item<bool>(), c.dual) << "ratio " << c.ratio << " A " << c.adv;
  }
  // Without dual-clip the negative-advantage loss is unbounded in the ratio.
  auto terms = policy_loss(torch::full({1, 1}, std::log(5.0)), torch::zeros({1, 1}), torch::full({1}, -1.0),
                           {0.2, 0.28, 0.0});
  EXPECT_NEAR(terms.loss.item<double>(), 5.0, rel(5.0, 1e-5));
  EXPECT_THROW(policy_loss(torch::zeros({1, 1}), torch::zeros({1, 1}), torch::ones({1}), {0.2, 0.2, 0.5}),
               Error);
  EXPECT_THROW(policy_loss(torch::zeros({2, 3}), torch::zeros({2, 3}), torch::ones({3}), {}), Error);
}

// ---- KL estimators ---------------------------------------------------------------------------------------

TEST(KlPenalty, MatchesSchulmanFormulas) {
  for (int seed = 0; seed < 3; ++seed) {
    torch::manual_seed(seed);
    auto logp = -torch::rand({5, 8}) * 4;
    auto logp_ref = -torch::rand({5, 8}) * 4;
    auto lp = to_vec(logp), lr = to_vec(logp_ref);
    std::vector<double> k1, k2, k3;
    for (size_t i = 0; i < lp.size(); ++i) {
      const double r = std::exp(lr[i]) / std::exp(lp[i]);  // p_ref(x) / p_theta(x)
      k1.push_back(-std::log(r));
      k2.push_back(0.5 * std::log(r) * std::log(r));
      k3.push_back(r - 1 - std::log(r));
    }
    expect_close(to_vec(kl_penalty(logp, logp_ref, KlEstimator::kK1)), k1, kFloatTol, "k1");
    expect_close(to_vec(kl_penalty(logp, logp_ref, KlEstimator::kK2)), k2, kFloatTol, "k2");
    expect_close(to_vec(kl_penalty(logp, logp_ref, parse_kl_estimator("low_var_kl"))), k3, kFloatTol, "k3");
  }
  EXPECT_THROW(parse_kl_estimator("k4"), Error);
  // k3+: k3's value, k2's gradient d/dlogp (logp - logp_ref)^2 / 2 = logp - logp_ref.
  auto logp = (-torch::rand({3, 4}) * 3).requires_grad_(true);
  auto logp_ref = -torch::rand({3, 4}) * 3;
  auto k3plus = kl_penalty(logp, logp_ref, parse_kl_estimator("k3+"));
  expect_close(to_vec(k3plus), to_vec(kl_penalty(logp, logp_ref, KlEstimator::kK3)), kFloatTol, "k3+ value");
  k3plus.sum().backward();
  expect_close(to_vec(logp.grad()), to_vec(logp - logp_ref), kFloatTol, "k3+ gradient");
  // Extreme log ratios stay finite.
  auto extreme = kl_penalty(torch::full({1, 1}, -100.0), torch::zeros({1, 1}), KlEstimator::kK3);
  EXPECT_TRUE(std::isfinite(extreme.item<double>()));
}

// k1 and k3 are unbiased estimators of KL(q || p) for x ~ q (Schulman 2020): check by sampling.
TEST(KlPenalty, K1AndK3AreUnbiasedBySampling) {
  torch::manual_seed(7);
  auto q = torch::softmax(torch::randn({6}), 0), p = torch::softmax(torch::randn({6}), 0);
  const double exact = (q * (q.log() - p.log())).sum().item<double>();
  auto x = torch::multinomial(q, 400000, /*replacement=*/true);
  auto logq = q.log().index_select(0, x).view({1, -1}), logp = p.log().index_select(0, x).view({1, -1});
  const double k1 = kl_penalty(logq, logp, KlEstimator::kK1).mean().item<double>();
  const double k3 = kl_penalty(logq, logp, KlEstimator::kK3).mean().item<double>();
  EXPECT_NEAR(k1, exact, 0.02 + 0.05 * exact);  // Monte Carlo error at 400k samples is ~ 1e-3
  EXPECT_NEAR(k3, exact, 0.02 + 0.05 * exact);
  EXPECT_GE(kl_penalty(logq, logp, KlEstimator::kK3).min().item<double>(), 0.0);
}

// ---- logits helpers --------------------------------------------------------------------------------------

TEST(Logits, LogprobsAndEntropyMatchNaiveLoop) {
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (double tau : {1.0, 0.7}) {
      for (int64_t chunk : {int64_t{1}, int64_t{5}, kLogitsChunkRows}) {
        torch::manual_seed(static_cast<int>(chunk));
        const int64_t b = 3, t = 7, v = 13;
        auto logits = (torch::randn({b, t, v}) * 4).to(dtype).requires_grad_(true);
        auto tokens = torch::randint(0, v, {b, t}, torch::kInt64);
        auto lp = token_logprobs(logits, tokens, tau, chunk);
        auto ent = entropy_from_logits(logits, tau, chunk);
        ASSERT_EQ(lp.scalar_type(), torch::kFloat32);
        auto z = to_vec(logits);
        std::vector<double> want_lp, want_ent, want_grad(z.size());
        for (int64_t row = 0; row < b * t; ++row) {
          double m = -1e300, s = 0;
          for (int64_t k = 0; k < v; ++k) m = std::max(m, z[row * v + k] / tau);
          for (int64_t k = 0; k < v; ++k) s += std::exp(z[row * v + k] / tau - m);
          const int64_t tok = tokens.view({-1})[row].item<int64_t>();
          want_lp.push_back(z[row * v + tok] / tau - m - std::log(s));
          double h = 0;
          for (int64_t k = 0; k < v; ++k) {
            const double pk = std::exp(z[row * v + k] / tau - m) / s;
            h -= pk * std::log(pk);
            want_grad[row * v + k] = ((k == tok ? 1.0 : 0.0) - pk) / tau;  // d log p_tok / d z_k
          }
          want_ent.push_back(h);
        }
        const double tol = dtype == torch::kFloat32 ? kFloatTol : kBf16Tol;
        expect_close(to_vec(lp), want_lp, tol, "logprobs");
        expect_close(to_vec(ent), want_ent, tol, "entropy");
        lp.sum().backward();
        if (dtype == torch::kFloat32) expect_close(to_vec(logits.grad()), want_grad, tol, "logprob grad");
      }
    }
  }
  EXPECT_THROW(token_logprobs(torch::zeros({2, 5}), torch::full({2}, 5, torch::kInt64)), Error);
  EXPECT_THROW(token_logprobs(torch::zeros({2, 5}), torch::zeros({3}, torch::kInt64)), Error);
}

// The update's one-walk variant: the same log-prob bits and gradient as token_logprobs, the entropy of
// entropy_from_logits (a masked -inf entry counts as probability 0), and the sampler's formula
// (log_softmax, then the token's entry: rollout/sampling.cpp) bit for bit.
TEST(Logits, LogprobsWithEntropyInOneWalkEqualTheSeparateCalls) {
  const double inf = std::numeric_limits<double>::infinity();
  for (double tau : {1.0, 0.7}) {
    for (int64_t chunk : {int64_t{1}, int64_t{4}, kLogitsChunkRows}) {
      torch::manual_seed(static_cast<int>(chunk) + 40);
      const int64_t b = 2, t = 5, v = 17;
      auto base = torch::randn({b, t, v}) * 3;
      base.index_put_({0, 1, 3}, -inf);  // a masked entry (top-k filtering)
      auto tokens = torch::randint(0, v, {b, t}, torch::kInt64);
      tokens.index_put_({0, 1}, 4);
      auto upstream = torch::randn({b, t});
      auto a = base.clone().requires_grad_(true), c = base.clone().requires_grad_(true);
      auto both = token_logprobs_entropy(a, tokens, tau, chunk);
      auto alone = token_logprobs(c, tokens, tau, chunk);
      EXPECT_TRUE(torch::equal(both.logp, alone)) << "tau " << tau << " chunk " << chunk;
      EXPECT_FALSE(both.entropy.requires_grad());
      expect_close(to_vec(both.entropy), to_vec(entropy_from_logits(base, tau, chunk)), kFloatTol, "entropy");
      const auto sampler = (base / tau).log_softmax(2).gather(2, tokens.unsqueeze(2)).squeeze(2);
      EXPECT_TRUE(torch::equal(alone.detach(), sampler)) << "not the sampler's bits, tau " << tau;
      (both.logp * upstream).sum().backward();
      (alone * upstream).sum().backward();
      EXPECT_TRUE(torch::equal(a.grad(), c.grad()));
      EXPECT_EQ(a.grad().index({0, 1, 3}).item<double>(), 0.0) << "a masked entry gets no gradient";
    }
  }
}

// Masked vocabulary entries (-inf logits) have probability 0: entropy of the renormalised rest.
TEST(Logits, EntropyIgnoresMaskedTokens) {
  const double inf = std::numeric_limits<double>::infinity();
  auto logits = torch::tensor({0.0, -inf, 0.0, -inf}, torch::kFloat32).view({1, 4});
  EXPECT_NEAR(entropy_from_logits(logits).item<double>(), std::log(2.0), rel(std::log(2.0), 1e-6));
  auto hidden = torch::eye(4).narrow(0, 0, 1);  // logits = weight row 0 ... via the fused path
  auto weight = logits.t().contiguous();        // [V=4, H=1]: logits = hidden[:, :1] @ weight^T
  auto fused = linear_token_logprobs(hidden.narrow(1, 0, 1), weight, torch::zeros({1}, torch::kInt64));
  EXPECT_NEAR(fused.entropy.item<double>(), std::log(2.0), rel(std::log(2.0), 1e-6));
  EXPECT_NEAR(fused.logp.item<double>(), -std::log(2.0), rel(-std::log(2.0), 1e-6));
}

// Entropy's gradient (for the entropy bonus) against autograd through the textbook -sum p log p in double.
TEST(Logits, EntropyGradientMatchesTextbookForm) {
  torch::manual_seed(3);
  auto logits = torch::randn({4, 9}, torch::kFloat64) * 2;
  auto a = logits.to(torch::kFloat32).requires_grad_(true);
  entropy_from_logits(a, 1.0, 3).sum().backward();
  auto b = logits.clone().requires_grad_(true);
  (-(torch::softmax(b, 1) * torch::log_softmax(b, 1)).sum()).backward();
  expect_close(to_vec(a.grad()), to_vec(b.grad()), kFloatTol, "entropy grad");
}

// The fused lm_head path against the plain one (logits materialised, autograd through log_softmax):
// values, entropy, and gradients w.r.t. hidden and weight, for several chunkings and temperatures.
void expect_linear_matches_unfused(torch::Device device) {
  for (double tau : {1.0, 0.6}) {
    for (int64_t chunk : {int64_t{1}, int64_t{4}, kLogitsChunkRows}) {
      torch::manual_seed(static_cast<int>(chunk) + 17);
      const int64_t b = 3, t = 5, h = 8, v = 19;
      auto hidden0 = torch::randn({b, t, h}).to(device), weight0 = (torch::randn({v, h}) * 0.7).to(device);
      auto tokens = torch::randint(0, v, {b, t}, torch::kInt64).to(device);
      auto upstream = torch::randn({b, t}).to(device);  // a non-uniform d loss / d logp
      auto h1 = hidden0.clone().requires_grad_(true), w1 = weight0.clone().requires_grad_(true);
      auto fused = linear_token_logprobs(h1, w1, tokens, tau, chunk);
      (fused.logp * upstream).sum().backward();
      auto h2 = hidden0.clone().requires_grad_(true), w2 = weight0.clone().requires_grad_(true);
      auto logits = torch::matmul(h2, w2.t());
      auto plain = token_logprobs(logits, tokens, tau);
      (plain * upstream).sum().backward();
      expect_close(to_vec(fused.logp), to_vec(plain), kFloatTol, "fused logp");
      expect_close(to_vec(fused.entropy), to_vec(entropy_from_logits(logits, tau)), kFloatTol,
                   "fused entropy");
      expect_close(to_vec(h1.grad()), to_vec(h2.grad()), kFloatTol, "fused d/dhidden");
      expect_close(to_vec(w1.grad()), to_vec(w2.grad()), kFloatTol, "fused d/dweight");
      EXPECT_FALSE(fused.entropy.requires_grad());
    }
  }
}

TEST(Logits, LinearLogprobsMatchUnfused) {
  expect_linear_matches_unfused(torch::kCPU);
  EXPECT_THROW(
      linear_token_logprobs(torch::zeros({2, 4}), torch::zeros({7, 3}), torch::zeros({2}, torch::kInt64)),
      Error);
}

// bf16 (GPU training dtype): same logits rounding as the plain path; gradients agree to bf16 precision.
TEST(Logits, LinearLogprobsBf16) {
  torch::manual_seed(9);
  auto hb = torch::randn({6, 8}).to(torch::kBFloat16).requires_grad_(true);
  auto wb = torch::randn({19, 8}).to(torch::kBFloat16).requires_grad_(true);
  auto tok = torch::randint(0, 19, {6}, torch::kInt64);
  auto fused = linear_token_logprobs(hb, wb, tok, 1.0, 4);
  fused.logp.sum().backward();
  auto h2 = hb.detach().clone().requires_grad_(true), w2 = wb.detach().clone().requires_grad_(true);
  token_logprobs(torch::matmul(h2, w2.t()), tok).sum().backward();
  auto plain = token_logprobs(torch::matmul(hb.detach(), wb.detach().t()), tok);
  expect_close(to_vec(fused.logp), to_vec(plain), kFloatTol, "bf16 logp");
  expect_close(to_vec(hb.grad()), to_vec(h2.grad()), kBf16GradTol, "bf16 d/dhidden");
  expect_close(to_vec(wb.grad()), to_vec(w2.grad()), kBf16GradTol, "bf16 d/dweight");
}

TEST(Logits, LinearLogprobsMatchUnfusedCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  expect_linear_matches_unfused(torch::kCUDA);
}

// ---- aggregation -----------------------------------------------------------------------------------------

TEST(Aggregation, FullBatchMatchesNaiveFormulas) {
  for (int seed = 0; seed < 3; ++seed) {
    torch::manual_seed(seed);
    const int64_t b = 6, t = 10;
    auto loss = torch::randn({b, t});
    auto lengths = torch::randint(0, t + 1, {b});
    lengths[0] = 0;  // one all-masked row: it must count nowhere
    auto mask = torch::arange(t).unsqueeze(0) < lengths.unsqueeze(1);
    loss.masked_fill_(~mask, NAN);  // padding garbage must not leak
    auto l = to_vec(loss), m = to_vec(mask);
    double tok_sum = 0, tok_n = 0, seq_mean = 0, seq_sum = 0, seqs = 0;
    for (int64_t i = 0; i < b; ++i) {
      double s = 0, n = 0;
      for (int64_t j = 0; j < t; ++j)
        if (m[i * t + j] != 0) s += l[i * t + j], n += 1;
      tok_sum += s, tok_n += n;
      if (n > 0) seq_mean += s / n, seq_sum += s / 16.0, seqs += 1;
    }
    auto counts = count_loss_terms(mask);
    EXPECT_EQ(counts.tokens, tok_n);
    EXPECT_EQ(counts.sequences, seqs);
    auto agg = [&](LossAggregation mode) {
      return aggregate_loss(loss, mask, {mode, 16.0}, counts).item<double>();
    };
    EXPECT_NEAR(agg(LossAggregation::kTokenMean), tok_sum / tok_n, rel(tok_sum / tok_n, 1e-5));
    EXPECT_NEAR(agg(LossAggregation::kSeqMeanTokenMean), seq_mean / seqs, rel(seq_mean / seqs, 1e-5));
    EXPECT_NEAR(agg(LossAggregation::kSeqMeanTokenSumNorm), seq_sum / seqs, rel(seq_sum / seqs, 1e-5));
    EXPECT_NEAR(agg(LossAggregation::kSeqMeanTokenSum), 16.0 * seq_sum / seqs,
                rel(16.0 * seq_sum / seqs, 1e-5));
  }
  auto zero = aggregate_loss(torch::ones({2, 3}), torch::zeros({2, 3}), {}, LossCounts{});
  EXPECT_EQ(zero.item<double>(), 0.0);
  EXPECT_THROW(aggregate_loss(torch::ones({1, 2}), torch::ones({1, 2}),
                              {LossAggregation::kSeqMeanTokenSumNorm, 0.0}, LossCounts{2, 1}),
               Error);
  EXPECT_EQ(parse_loss_aggregation(to_string(LossAggregation::kSeqMeanTokenMean)),
            LossAggregation::kSeqMeanTokenMean);
  EXPECT_THROW(parse_loss_aggregation("seq-mean"), Error);
}

TEST(Aggregation, TokenLossComposesTerms) {
  auto pg = torch::tensor({1.0f, 2.0f}).view({1, 2}), kl = torch::tensor({0.5f, 0.25f}).view({1, 2});
  auto ent = torch::tensor({3.0f, 1.0f}).view({1, 2});
  auto got = to_vec(token_loss(pg, kl, ent, {0.1, 0.01}));
  EXPECT_NEAR(got[0], 1.0 + 0.05 - 0.03, rel(1.0 + 0.05 - 0.03, 1e-6));
  EXPECT_NEAR(got[1], 2.0 + 0.025 - 0.01, rel(2.0 + 0.025 - 0.01, 1e-6));
  expect_close(to_vec(token_loss(pg, torch::Tensor(), torch::Tensor(), {})), {1.0, 2.0}, 1e-7, "pg only");
  EXPECT_THROW(token_loss(pg, torch::Tensor(), ent, {0.1, 0.0}), Error);
  EXPECT_NEAR(masked_sum(pg, torch::tensor({true, false}).view({1, 2})), 1.0, 1e-12);
}

// Stats summed over two micro-batches equal the naive token means over their union.
TEST(Aggregation, LossStatsAreTokenMeans) {
  torch::manual_seed(11);
  auto logp_old = -torch::rand({5, 7}) * 2, logp = logp_old + torch::randn({5, 7}) * 0.5;
  auto adv = torch::randn({5});
  auto kl = torch::rand({5, 7}), ent = torch::rand({5, 7});
  auto mask = torch::rand({5, 7}) > 0.3;
  auto pg = policy_loss(logp, logp_old, adv, {0.2, 0.28, 1.5});
  auto part = [&](int64_t b, int64_t e) {
    PolicyLossTerms p{pg.loss.slice(0, b, e), pg.ratio.slice(0, b, e), pg.clipped.slice(0, b, e),
                      pg.dual_clipped.slice(0, b, e)};
    return loss_stat_sums(p, kl.slice(0, b, e), ent.slice(0, b, e), mask.slice(0, b, e));
  };
  auto stats = read_loss_stats(part(0, 2) + part(2, 5));
  auto l = to_vec(pg.loss), c = to_vec(pg.clipped), d = to_vec(pg.dual_clipped), k = to_vec(kl),
       h = to_vec(ent), m = to_vec(mask);
  double n = 0, sl = 0, sc = 0, sd = 0, sk = 0, sh = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] == 0) continue;
    n += 1, sl += l[i], sc += c[i], sd += d[i], sk += k[i], sh += h[i];
  }
  EXPECT_EQ(stats.tokens, n);
  EXPECT_NEAR(stats.pg_loss, sl / n, rel(sl / n, 1e-6));
  EXPECT_NEAR(stats.clip_frac, sc / n, 1e-12);
  EXPECT_NEAR(stats.dual_clip_frac, sd / n, 1e-12);
  EXPECT_NEAR(stats.kl, sk / n, rel(sk / n, 1e-6));
  EXPECT_NEAR(stats.entropy, sh / n, rel(sh / n, 1e-6));
  EXPECT_GT(stats.clip_frac, 0.0);  // the draw exercises clipping
  auto no_kl = read_loss_stats(loss_stat_sums(pg, torch::Tensor(), torch::Tensor(), mask));
  EXPECT_EQ(no_kl.kl, 0.0);
  EXPECT_EQ(read_loss_stats(torch::zeros({kLossStatCount})).clip_frac, 0.0);
}

}  // namespace
}  // namespace zerorl::algo
