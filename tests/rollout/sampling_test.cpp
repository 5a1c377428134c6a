// tests/rollout/sampling_test.cpp: samplers against a naive scalar reference (chi-square goodness of fit),
// determinism and batch independence. Not here: the engine (engine_test.cpp).
#include "rollout/sampling.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace zerorl::rollout {
namespace {

// Naive reference: the filtered, renormalized distribution, one scalar loop per filter.
std::vector<double> naive_distribution(const std::vector<double>& logits, const SamplerParams& p) {
  const size_t n = logits.size();
  std::vector<double> z(n);
  for (size_t i = 0; i < n; ++i) z[i] = logits[i] / p.temperature;
  std::vector<bool> keep(n, true);
  auto probs_of = [&](const std::vector<bool>& k) {
    double mx = -1e300, sum = 0;
    for (size_t i = 0; i < n; ++i)
      if (k[i]) mx = std::max(mx, z[i]);
    std::vector<double> q(n, 0.0);
    for (size_t i = 0; i < n; ++i)
      if (k[i]) sum += (q[i] = std::exp(z[i] - mx));
    for (auto& v : q) v /= sum;
    return q;
  };
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return z[a] > z[b]; });
  if (p.top_k > 0 && p.top_k < static_cast<int64_t>(n)) {
    const double kth = z[order[p.top_k - 1]];
    for (size_t i = 0; i < n; ++i) keep[i] = keep[i] && z[i] >= kth;
  }
  if (p.top_p < 1.0) {
    auto q = probs_of(keep);
    double before = 0;
    for (size_t i : order) {
      if (!keep[i]) continue;
      if (before >= p.top_p) keep[i] = false;
      before += q[i];
    }
  }
  if (p.min_p > 0.0) {
    auto q = probs_of(keep);
    const double mx = *std::max_element(q.begin(), q.end());
    for (size_t i = 0; i < n; ++i) keep[i] = keep[i] && q[i] >= p.min_p * mx;
  }
  return probs_of(keep);
}

// Upper (1 - alpha) quantile of chi-square(df), Wilson-Hilferty approximation; z = 3.0902 for alpha = 1e-3.
double chi2_critical_alpha_1e3(int df) {
  const double z = 3.0902, a = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - a + z * std::sqrt(a), 3.0);
}

torch::Tensor uniforms_for(int64_t rows, uint64_t seed) {
  auto u = torch::empty({rows}, torch::kDouble);
  for (int64_t r = 0; r < rows; ++r) u[r] = stream_uniform(stream_seed(seed, 0, 0, r), 0);
  return u;
}

const std::vector<double> kLogits = {1.2, -0.3, 0.8, 2.1, 0.0, -1.5, 1.9, 0.4, -0.7, 1.0, 0.5, -2.0};

struct Case {
  const char* name;
  SamplerParams params;
};

class SamplerFit : public ::testing::TestWithParam<Case> {};

TEST_P(SamplerFit, EmpiricalFrequenciesMatchFilteredDistribution) {
  const auto& params = GetParam().params;
  const auto expected = naive_distribution(kLogits, params);
  const int64_t draws = 40000, vocab = static_cast<int64_t>(kLogits.size());
  auto row = torch::tensor(kLogits, torch::kDouble).to(torch::kFloat);
  auto logits = row.unsqueeze(0).expand({draws, vocab}).contiguous();
  auto result = sample(logits, params, uniforms_for(draws, 1234));
  std::vector<double> counts(vocab, 0.0);
  auto tokens = result.tokens.accessor<int64_t, 1>();
  for (int64_t i = 0; i < draws; ++i) counts[tokens[i]] += 1;
  double chi2 = 0;
  int df = -1;
  for (int64_t v = 0; v < vocab; ++v) {
    if (expected[v] == 0.0) {
      EXPECT_EQ(counts[v], 0) << "filtered token " << v << " was sampled";
      continue;
    }
    const double e = expected[v] * draws;
    chi2 += (counts[v] - e) * (counts[v] - e) / e;
    ++df;
  }
  ASSERT_GE(df, 1);
  EXPECT_LT(chi2, chi2_critical_alpha_1e3(df)) << GetParam().name << " df " << df;
  // The returned log-probabilities are the reference distribution's, and T=1 ones the raw softmax's.
  auto policy = row.log_softmax(0);
  auto lp = result.logprobs.accessor<float, 1>();
  auto lpp = result.logprobs_policy.accessor<float, 1>();
  // float32 log-probs (|log p| up to ~10 here): tolerances relative to max(1, |log p|), as float32 rounding
  // of a log-softmax grows with its value and the SIMD width of the kernel differs by CPU.
  for (int64_t i = 0; i < 50; ++i) {
    const double want = std::log(expected[tokens[i]]), want_policy = policy[tokens[i]].item<float>();
    EXPECT_NEAR(lp[i], want, 1e-5 * std::max(1.0, std::abs(want)));
    EXPECT_NEAR(lpp[i], want_policy, 1e-6 * std::max(1.0, std::abs(want_policy)));
  }
}

SamplerParams make(double t, int64_t k, double p, double m) {
  SamplerParams s;
  s.temperature = t, s.top_k = k, s.top_p = p, s.min_p = m;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SamplerFit,
    ::testing::Values(Case{"plain", make(1.0, 0, 1.0, 0.0)}, Case{"temp0.6", make(0.6, 0, 1.0, 0.0)},
                      Case{"temp1.7", make(1.7, 0, 1.0, 0.0)}, Case{"topk4", make(1.0, 4, 1.0, 0.0)},
                      Case{"topp0.7", make(1.0, 0, 0.7, 0.0)}, Case{"minp0.2", make(1.0, 0, 1.0, 0.2)},
                      Case{"all", make(0.8, 6, 0.9, 0.05)}),
    [](const auto& info) {
      std::string n = info.param.name;
      std::replace(n.begin(), n.end(), '.', '_');
      return n;
    });

TEST(Sampler, GreedyIsArgmaxWithPolicyLogprob) {
  auto logits = torch::randn({5, 33}, torch::TensorOptions().dtype(torch::kFloat));
  auto r = sample(logits, make(0.0, 0, 1.0, 0.0), torch::Tensor());
  EXPECT_TRUE(torch::equal(r.tokens, logits.argmax(1)));
  EXPECT_TRUE(torch::equal(r.logprobs, torch::zeros({5})));
  auto ref = logits.log_softmax(1).gather(1, r.tokens.unsqueeze(1)).squeeze(1);
  EXPECT_TRUE(torch::allclose(r.logprobs_policy, ref, /*rtol=*/1e-6, /*atol=*/1e-6));  // float32, |log p| ~ 5
}

TEST(Sampler, DeterministicAndBatchIndependent) {
  torch::manual_seed(7);
  auto logits = torch::randn({9, 1000});
  const auto params = make(0.9, 50, 0.95, 0.01);
  auto u = uniforms_for(9, 99);
  auto all = sample(logits, params, u);
  auto again = sample(logits, params, u);
  EXPECT_TRUE(torch::equal(all.tokens, again.tokens));
  EXPECT_TRUE(torch::equal(all.logprobs, again.logprobs));
  for (int64_t r = 0; r < 9; ++r) {
    auto one = sample(logits.narrow(0, r, 1), params, u.narrow(0, r, 1));
    EXPECT_EQ(one.tokens[0].item<int64_t>(), all.tokens[r].item<int64_t>()) << "row " << r;
    EXPECT_EQ(one.logprobs[0].item<float>(), all.logprobs[r].item<float>()) << "row " << r;
    EXPECT_EQ(one.logprobs_policy[0].item<float>(), all.logprobs_policy[r].item<float>()) << "row " << r;
  }
}

TEST(Sampler, StreamsAreUniformAndDistinct) {
  double sum = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double u = stream_uniform(stream_seed(1, 2, 3, 4), i);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.01);  // sd of the mean: 0.29 / sqrt(n) = 0.002
  EXPECT_NE(stream_seed(1, 2, 3, 4), stream_seed(1, 2, 4, 3));
  EXPECT_NE(stream_uniform(5, 0), stream_uniform(5, 1));
}

TEST(Sampler, RejectsBadParams) {
  EXPECT_ANY_THROW(make(-1, 0, 1, 0).validate());
  EXPECT_ANY_THROW(make(1, 0, 0.0, 0).validate());
  EXPECT_ANY_THROW(make(1, 0, 1, 1.0).validate());
  EXPECT_NO_THROW(make(1, 3, 0.5, 0.1).validate());
}

}  // namespace
}  // namespace zerorl::rollout
