// tests/algo/test_microbatch.cpp: the gradient of a minibatch does not depend on how it is split into
// micro-batches (1, 2, 8, uneven; each re-padded to its own length), for every aggregation mode, when each
// micro-batch divides by the global LossCounts. Not here: per-formula checks (test_reference.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "algo/logits.h"
#include "algo/losses.h"

namespace zerorl::algo {
namespace {

// fp32 gradients across splits (README: "identical, tested to 1e-6"): each split sums the minibatch's 96
// token rows in other groupings (and BLAS kernels block them per CPU type), so the results differ by float32
// rounding, whose random-walk size over 96 terms is float eps * sqrt(96) = 1.2e-6 of the terms' scale. The
// bound is therefore relative to the largest |gradient| (and |loss|), floored at 1. Measured: 3.6e-7
// (Zen 5, OpenBLAS Haswell and SkylakeX kernels); dividing by per-micro-batch counts is off by > 1e-4.
constexpr double kGradTol = 1e-6;

double scale_of(const torch::Tensor& t) { return std::max(1.0, t.abs().max().item<double>()); }

// A minibatch of B response sequences of varying length (one empty) on a tiny linear "model":
// logits = hidden @ weight, the weight being the parameter whose gradient is compared.
struct Minibatch {
  torch::Tensor hidden;     // [B, T, H]
  torch::Tensor tokens;     // [B, T]
  torch::Tensor mask;       // [B, T]
  torch::Tensor logp_old;   // [B, T]
  torch::Tensor logp_ref;   // [B, T]
  torch::Tensor advantage;  // [B]
};

Minibatch make_minibatch(int seed, torch::Tensor weight) {
  torch::manual_seed(seed);
  const auto device = weight.device();
  const int64_t b = 8, t = 12, h = 6, v = 11;
  Minibatch mb;
  mb.hidden = torch::randn({b, t, h});
  mb.tokens = torch::randint(0, v, {b, t}, torch::kInt64);
  auto lengths = torch::randint(1, t + 1, {b});
  lengths[3] = 0;
  mb.mask = torch::arange(t).unsqueeze(0) < lengths.unsqueeze(1);
  torch::NoGradGuard no_grad;
  mb.hidden = mb.hidden.to(device), mb.tokens = mb.tokens.to(device), mb.mask = mb.mask.to(device);
  auto logp = token_logprobs(torch::matmul(mb.hidden, weight), mb.tokens);
  mb.logp_old = logp + torch::randn({b, t}).to(device) * 0.3;  // ratios away from 1: some tokens clip
  mb.logp_ref = logp + torch::randn({b, t}).to(device) * 0.3;
  mb.advantage = torch::randn({b}).to(device);
  return mb;
}

// Forward + backward of rows [begin, end), trimmed to the longest response among them (as a trainer
// packing micro-batches would), dividing by the minibatch's global counts.
double micro_step(const Minibatch& mb, int64_t begin, int64_t end, const torch::Tensor& weight,
                  const AggregationOptions& agg, const LossCounts& global) {
  auto rows = [&](const torch::Tensor& x) { return x.slice(0, begin, end); };
  auto mask = rows(mb.mask);
  const int64_t len = std::max<int64_t>(1, mask.sum(1).max().item<int64_t>());
  auto cut = [&](const torch::Tensor& x) { return rows(x).slice(1, 0, len); };
  auto logits = torch::matmul(cut(mb.hidden), weight);
  auto logp = token_logprobs(logits, cut(mb.tokens));
  auto entropy = entropy_from_logits(logits);
  auto pg = policy_loss(logp, cut(mb.logp_old), rows(mb.advantage), {0.2, 0.28, 3.0});
  auto kl = kl_penalty(logp, cut(mb.logp_ref), KlEstimator::kK3);
  auto loss =
      aggregate_loss(token_loss(pg.loss, kl, entropy, {0.05, 0.01}), mask.slice(1, 0, len), agg, global);
  loss.backward();
  return loss.item<double>();
}

// Gradient of the whole minibatch's loss when split into micro-batches of the given sizes.
// local_norm = true divides each micro-batch by its own counts (the bug the global counts avoid).
std::pair<torch::Tensor, double> minibatch_grad(const Minibatch& mb, torch::Tensor weight,
                                                const std::vector<int64_t>& sizes,
                                                const AggregationOptions& agg, bool local_norm = false) {
  if (weight.grad().defined()) weight.mutable_grad().zero_();
  LossCounts global;
  for (int64_t begin = 0, i = 0; i < static_cast<int64_t>(sizes.size()); begin += sizes[i++]) {
    global += count_loss_terms(mb.mask.slice(0, begin, begin + sizes[i]));
  }
  double total = 0;
  for (int64_t begin = 0, i = 0; i < static_cast<int64_t>(sizes.size()); begin += sizes[i++]) {
    auto counts = local_norm ? count_loss_terms(mb.mask.slice(0, begin, begin + sizes[i])) : global;
    total += micro_step(mb, begin, begin + sizes[i], weight, agg, counts) / (local_norm ? sizes.size() : 1);
  }
  return {weight.grad().clone(), total};
}

const std::vector<LossAggregation> kModes = {LossAggregation::kTokenMean, LossAggregation::kSeqMeanTokenMean,
                                             LossAggregation::kSeqMeanTokenSum,
                                             LossAggregation::kSeqMeanTokenSumNorm};

void expect_split_invariance(torch::Device device) {
  const std::vector<std::vector<int64_t>> splits = {{2, 2, 2, 2}, {4, 4}, {1, 1, 1, 1, 1, 1, 1, 1}, {3, 5}};
  for (auto mode : kModes) {
    for (int seed = 0; seed < 3; ++seed) {
      torch::manual_seed(1000 + seed);
      auto weight = (torch::randn({6, 11}) * 0.5).to(device).requires_grad_(true);
      auto mb = make_minibatch(seed, weight);
      const AggregationOptions agg{mode, 12.0};
      auto [reference, reference_loss] = minibatch_grad(mb, weight, {8}, agg);
      ASSERT_GT(reference.abs().max().item<double>(), 1e-3) << "degenerate test: no gradient";
      for (const auto& split : splits) {
        auto [grad, loss] = minibatch_grad(mb, weight, split, agg);
        const double diff = (grad - reference).abs().max().item<double>();
        EXPECT_LE(diff, kGradTol * scale_of(reference))
            << to_string(mode) << " seed " << seed << " split of " << split.size();
        EXPECT_NEAR(loss, reference_loss, kGradTol * std::max(1.0, std::abs(reference_loss)))
            << to_string(mode);
      }
    }
  }
}

// {4, 4} is also two data-parallel ranks of one micro-batch each whose gradients are all-reduced with SUM.
TEST(MicroBatch, GradientIndependentOfSplit) { expect_split_invariance(torch::kCPU); }

// The same on the GPU (PyTorch's default keeps TF32 off for matmuls: fp32 arithmetic). Skips without CUDA.
TEST(MicroBatch, GradientIndependentOfSplitCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  expect_split_invariance(torch::kCUDA);
}

// The control: normalising each micro-batch by its own counts (averaging micro-batch means) changes the
// gradient when lengths differ, so the test above can fail.
TEST(MicroBatch, LocalNormalizerWouldDiffer) {
  for (auto mode : {LossAggregation::kTokenMean, LossAggregation::kSeqMeanTokenMean}) {
    torch::manual_seed(5);
    auto weight = (torch::randn({6, 11}) * 0.5).requires_grad_(true);
    auto mb = make_minibatch(5, weight);
    const AggregationOptions agg{mode, 12.0};
    auto reference = minibatch_grad(mb, weight, {8}, agg).first;
    auto local = minibatch_grad(mb, weight, {3, 5}, agg, /*local_norm=*/true).first;
    EXPECT_GT((local - reference).abs().max().item<double>(), 100 * kGradTol) << to_string(mode);
  }
}

}  // namespace
}  // namespace zerorl::algo
