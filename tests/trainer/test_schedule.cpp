// tests/trainer/test_schedule.cpp: the learning-rate schedule (warmup, constant, cosine) and the eval
// formulas (unbiased pass@k against exact binomials, majority vote).
// Not here: the GRPO math (tests/algo), the full step (test_runs.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "trainer/eval.h"
#include "trainer/lr_schedule.h"

namespace zerorl::trainer {
namespace {

// Rates are ~1e-3; std::cos and the products round at ~1e-16 relative, so 1e-15 absolute (1e-12 relative)
// leaves room for any libm and still catches a wrong formula (which is off by >= 1e-5 here).
constexpr double kLrTol = 1e-15;

// Hand-computed: warmup 4 at peak 1e-3 gives 0.25e-3, 0.5e-3, 0.75e-3, 1e-3 at steps 0..3.
TEST(Schedule, RlWarmupThenConstantOrCosine) {
  OptimSection o;
  o.lr = 1e-3;
  o.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(lr_at(lr_schedule(o, 100), 0), 0.25e-3);
  EXPECT_DOUBLE_EQ(lr_at(lr_schedule(o, 100), 1), 0.5e-3);
  EXPECT_DOUBLE_EQ(lr_at(lr_schedule(o, 100), 3), 1e-3);
  EXPECT_DOUBLE_EQ(lr_at(lr_schedule(o, 100), 50), 1e-3);
  o.schedule = "cosine";
  EXPECT_DOUBLE_EQ(lr_at(lr_schedule(o, 100), 4), 1e-3);
  EXPECT_NEAR(lr_at(lr_schedule(o, 100), 52), 0.5e-3, kLrTol);  // halfway: cos(pi/2) = 0
  EXPECT_NEAR(lr_at(lr_schedule(o, 100), 28), 0.5e-3 * (1 + std::sqrt(0.5)), kLrTol);  // a quarter: cos(pi/4)
  EXPECT_NEAR(lr_at(lr_schedule(o, 100), 100), 0.0, kLrTol);                           // the end: floor 0
  EXPECT_DOUBLE_EQ(lr_at(lr_schedule(o, 4), 10), 1e-3);  // no room to decay: peak
}

// The same function for `zerorl pretrain`: cosine to lr * min_lr_ratio over pretrain.steps.
TEST(Schedule, PretrainWarmupThenCosineToFloor) {
  PretrainSection p;
  p.lr = 2e-3;
  p.warmup_steps = 10;
  p.steps = 110;
  p.min_lr_ratio = 0.1;                              // floor 2e-4
  EXPECT_DOUBLE_EQ(lr_at(lr_schedule(p), 0), 2e-4);  // (0 + 1) / 10 of the peak
  EXPECT_DOUBLE_EQ(lr_at(lr_schedule(p), 9), 2e-3);
  EXPECT_DOUBLE_EQ(lr_at(lr_schedule(p), 10), 2e-3);                    // t = 0
  EXPECT_NEAR(lr_at(lr_schedule(p), 60), 2e-4 + 1.8e-3 * 0.5, kLrTol);  // t = 1/2: midway to the floor
  EXPECT_NEAR(lr_at(lr_schedule(p), 110), 2e-4, kLrTol);                // t = 1: the floor
  EXPECT_NEAR(lr_at(lr_schedule(p), 500), 2e-4, kLrTol);                // and it stays there
}

// Exact C(n, k) for small n (naive twin of the product form).
double binom(int64_t n, int64_t k) {
  if (k < 0 || k > n) return 0;
  double r = 1;
  for (int64_t i = 1; i <= k; ++i) r = r * static_cast<double>(n - k + i) / static_cast<double>(i);
  return r;
}

TEST(EvalMath, PassAtKMatchesBinomials) {
  for (int64_t n : {1, 4, 10, 16}) {
    for (int64_t c = 0; c <= n; ++c) {
      for (int64_t k = 1; k <= n; ++k) {
        EXPECT_NEAR(pass_at_k(n, c, k), 1.0 - binom(n - c, k) / binom(n, k), 1e-12)
            << n << " " << c << " " << k;
      }
    }
  }
  EXPECT_DOUBLE_EQ(pass_at_k(10, 3, 1), 0.3);  // pass@1 = c / n
  EXPECT_THROW(pass_at_k(4, 1, 5), Error);
}

TEST(EvalMath, MajorityVote) {
  EXPECT_TRUE(majority_correct({"3", "4", "3", ""}, {true, false, true, false}));
  EXPECT_FALSE(majority_correct({"4", "4", "3"}, {false, false, true}));
  EXPECT_TRUE(majority_correct({"4", "3"}, {true, false}));  // tie: the first seen wins
  EXPECT_FALSE(majority_correct({"", ""}, {false, false}));  // nothing extracted
}

}  // namespace
}  // namespace zerorl::trainer
