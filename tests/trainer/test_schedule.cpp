// tests/trainer/test_schedule.cpp: the learning-rate schedule (warmup, constant, cosine) and the eval
// formulas (unbiased pass@k against exact binomials, majority vote).
// Not here: the GRPO math (tests/algo), the full step (test_runs.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "trainer/eval.h"
#include "trainer/step.h"

namespace zerorl::trainer {
namespace {

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
