// tests/dist/test_zero_optimizer.cpp: dist::ShardedAdamW at world size 1 (the local communicator) against
// LibTorch's clip_grad_norm_ + AdamW (tests/dist/zero_reference.h), the flat layout and re-partitioning
// with hand-worked numbers, and a wrong-sized state named. Not here: 2 ranks (test_comm_mpirun.cpp).
#include <gtest/gtest.h>

#include <limits>

#include "core/error.h"
#include "dist/zero_optimizer.h"
#include "tests/dist/zero_reference.h"

namespace zerorl::dist {
namespace {

using testing::RefOptions;

// Runs ShardedAdamW over copies of zero_params() with the reference's gradients (this rank's only).
std::vector<torch::Tensor> run_sharded(Communicator& c, const RefOptions& o, std::vector<double>& norms) {
  std::vector<torch::Tensor> ps;
  for (const auto& p : testing::zero_params()) ps.push_back(p.clone());
  ShardedAdamW opt(c, ps, AdamWHyper{o.beta1, o.beta2, o.eps, o.weight_decay});
  for (int s = 0; s < o.steps; ++s) {
    opt.zero_grad();
    for (int m = 0; m < o.micro; ++m) {
      for (size_t i = 0; i < ps.size(); ++i)
        ps[i].mutable_grad() = testing::zero_grad_of(ps[i], i, s, m, c.rank());
      opt.accumulate_grads();
      for (const auto& p : ps) EXPECT_FALSE(p.grad().defined()) << "accumulate_grads drops the grads";
    }
    norms.push_back(opt.step(o.lr, o.max_norm));
  }
  EXPECT_EQ(opt.steps(), o.steps);
  return ps;
}

// Tolerances: the two sum the same float32 gradients in another order (micro-batches into a flat buffer vs
// autograd's per-tensor grads) and take the norm in float64 vs float32 per-tensor norms, so they agree to a
// few float32 ulps; AdamW's first steps (m / sqrt(v) ~ sign(g)) keep that relative size. 1e-5 relative over
// all weights is the bound for runs; the norm is one reduction of 35 terms (1e-6 relative).
void expect_matches_reference(const RefOptions& o) {
  auto c = make_communicator(Context{}, CommOptions{});
  std::vector<double> want_norms, got_norms;
  const auto want = testing::reference_adamw(testing::zero_params(), o, want_norms);
  const auto got = run_sharded(*c, o, got_norms);
  EXPECT_LE(testing::relative_diff(want, got), 1e-5);
  EXPECT_GT(testing::relative_diff(testing::zero_params(), want), 1e-3) << "the steps moved the weights";
  ASSERT_EQ(got_norms.size(), want_norms.size());
  for (size_t s = 0; s < got_norms.size(); ++s)
    EXPECT_NEAR(got_norms[s], want_norms[s], 1e-6 * want_norms[s]);
}

TEST(ShardedAdamW, EqualsTorchAdamWWithClipAndWeightDecay) {
  RefOptions o;  // max_norm 1: every step clips (the summed gradients' norm is ~5)
  expect_matches_reference(o);
}

TEST(ShardedAdamW, EqualsTorchAdamWWithoutClipOrDecayManySteps) {
  RefOptions o;
  o.max_norm = std::numeric_limits<double>::infinity(), o.weight_decay = 0, o.steps = 20, o.beta2 = 0.95;
  expect_matches_reference(o);
}

TEST(ShardedAdamW, LayoutPadsToEqualSlices) {
  const auto l = shard_layout(35, 2, 1);  // 35 = 18 + 17: slices of 18, the last padded by one
  EXPECT_EQ(l.shard, 18);
  EXPECT_EQ(l.padded, 36);
  EXPECT_EQ(l.begin(), 18);
  const auto one = shard_layout(35, 1, 0);
  EXPECT_EQ(one.shard, 35);
  EXPECT_EQ(one.padded, 35);
  EXPECT_THROW(shard_layout(35, 2, 2), Error);
}

TEST(ShardedAdamW, ReshardRepartitionsTheFlatBuffer) {
  // 5 elements [10..14] saved by 2 ranks (slices of 3: [10 11 12] [13 14 pad]).
  const std::vector<torch::Tensor> two{torch::tensor({10.f, 11.f, 12.f}), torch::tensor({13.f, 14.f, 0.f})};
  EXPECT_TRUE(
      torch::equal(reshard(two, shard_layout(5, 1, 0)), torch::tensor({10.f, 11.f, 12.f, 13.f, 14.f})));
  // onto 3 ranks: slices of 2, [10 11] [12 13] [14 pad]
  EXPECT_TRUE(torch::equal(reshard(two, shard_layout(5, 3, 1)), torch::tensor({12.f, 13.f})));
  EXPECT_TRUE(torch::equal(reshard(two, shard_layout(5, 3, 2)), torch::tensor({14.f, 0.f})));
  // onto 4 ranks: slices of 2, rank 3 holds only padding
  EXPECT_TRUE(torch::equal(reshard(two, shard_layout(5, 4, 3)), torch::tensor({0.f, 0.f})));
  EXPECT_THROW(reshard(two, shard_layout(7, 1, 0)), Error);  // fewer saved elements than parameters
}

TEST(ShardedAdamW, LoadRestoresStateAndRejectsAWrongSize) {
  auto c = make_communicator(Context{}, CommOptions{});
  std::vector<torch::Tensor> ps{torch::zeros({2, 2}), torch::zeros({1})};
  ShardedAdamW opt(*c, ps, AdamWHyper{});
  const auto m = torch::arange(5, torch::kFloat32);
  opt.load(m, m * 2, m * 3, 4);
  EXPECT_EQ(opt.steps(), 4);
  EXPECT_TRUE(torch::equal(ps[0], m.narrow(0, 0, 4).view({2, 2})));  // load pushes the masters
  EXPECT_TRUE(torch::equal(ps[1], m.narrow(0, 4, 1)));
  try {
    opt.load(torch::zeros({4}), m, m, 1);
    FAIL() << "a 4-element state for a 5-element shard loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4 elements for a shard of 5"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zerorl::dist
