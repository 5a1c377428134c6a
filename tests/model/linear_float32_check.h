// tests/model/linear_float32_check.h: the shared check of model::linear_float32 on one device (CPU in
// test_model.cpp, CUDA's mm-with-out-dtype path in test_model_gpu.cpp). Not here: the decoder's parity.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "model/decoder.h"

namespace zerorl::model::checks {

// bf16 x, w: the float32 result equals a float64 product of the same bf16 values to float32 accuracy
// (a bf16-rounded result is ~100x further off), and the gradients equal those of linear(x, w).to(float32).
inline void check_linear_float32(const torch::Device& device) {
  torch::manual_seed(3);
  auto bf16 = torch::TensorOptions().dtype(torch::kBFloat16).device(device);
  auto x = torch::randn({2, 5, 64}).to(bf16).requires_grad_(true);
  auto w = (torch::randn({300, 64}) * 0.3).to(bf16).requires_grad_(true);
  auto y = linear_float32(x, w);
  ASSERT_EQ(y.scalar_type(), torch::kFloat32);
  ASSERT_EQ(y.sizes(), torch::IntArrayRef({2, 5, 300}));
  auto ref = torch::matmul(x.detach().to(torch::kDouble), w.detach().to(torch::kDouble).t());
  const double err = (y.detach().to(torch::kDouble) - ref).abs().max().item<double>();
  const double err_bf16 = (torch::nn::functional::linear(x.detach(), w.detach()).to(torch::kDouble) - ref)
                              .abs()
                              .max()
                              .item<double>();
  // bf16 x bf16 products are exact in float32; what is left is the float32 sum of 64 of them, whose rounding
  // (in whatever order the device's GEMM kernel sums) scales with the outputs: relative to max |output|.
  const double scale = std::max(1.0, ref.abs().max().item<double>());
  EXPECT_LT(err, 1e-5 * scale);
  EXPECT_GT(err_bf16, 1e-3);  // the check can tell a bf16-rounded output apart
  auto g = torch::randn({2, 5, 300}, torch::TensorOptions().device(device));
  (y * g).sum().backward();
  auto x2 = x.detach().clone().requires_grad_(true), w2 = w.detach().clone().requires_grad_(true);
  (torch::nn::functional::linear(x2, w2).to(torch::kFloat32) * g).sum().backward();
  auto close = [](const torch::Tensor& a, const torch::Tensor& b) {
    auto d = (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
    return d <= 1e-2 * b.to(torch::kDouble).abs().max().item<double>();
  };
  EXPECT_TRUE(close(x.grad(), x2.grad()));
  EXPECT_TRUE(close(w.grad(), w2.grad()));
  EXPECT_EQ(x.grad().scalar_type(), torch::kBFloat16);
}

}  // namespace zerorl::model::checks
