// tests/model/test_split_linear.cpp: when a linear's weight gradient is summed in blocks of rows
// (model/split_linear.h): the block counts for Qwen2.5's projections, worked by hand from the rule (under 32
// output tiles of 128 x 128: up to 16 blocks, ~128 tiles in all, >= 256 rows each, dividing the rows), and
// that the CPU never takes it. The CUDA node's numbers: tests/model/test_model_gpu.cpp.
#include <gtest/gtest.h>

#include "model/split_linear.h"

namespace zerorl::model {
namespace {

TEST(SplitWeightGrad, BlocksOnlyWhereTheWeightCannotFillTheGpu) {
  EXPECT_EQ(weight_grad_splits(8192, 128, 896), 16);  // 0.5B k_proj / v_proj: 7 tiles
  EXPECT_EQ(weight_grad_splits(8192, 256, 1536), 4);  // 1.5B: 24 tiles -> 6 wanted, 4 divides 8192
  EXPECT_EQ(weight_grad_splits(8192, 896, 896), 1);   // 0.5B q_proj / o_proj: 49 tiles
  EXPECT_EQ(weight_grad_splits(8192, 4864, 896), 1);  // an MLP projection
  EXPECT_EQ(weight_grad_splits(7000, 128, 896), 14);  // 7000 = 14 x 500; 16 and 15 do not divide it
  EXPECT_EQ(weight_grad_splits(4099, 128, 896), 1);   // a prime number of rows: no block count divides it
  EXPECT_EQ(weight_grad_splits(600, 128, 896), 2);    // blocks of at least 256 rows
  EXPECT_EQ(weight_grad_splits(300, 128, 896), 1);
}

TEST(SplitWeightGrad, CpuTakesTorchsLinear) {
  auto w = torch::randn({128, 896}).requires_grad_();
  const auto x = torch::randn({8192, 896});
  EXPECT_FALSE(use_split_weight_grad(x, w)) << "CPU float32";
  EXPECT_FALSE(
      use_split_weight_grad(x.to(torch::kBFloat16), w.detach().to(torch::kBFloat16).requires_grad_()))
      << "CPU bf16";
  EXPECT_THROW(linear_split_weight_grad(x, w, torch::Tensor()), std::exception);
}

}  // namespace
}  // namespace zerorl::model
