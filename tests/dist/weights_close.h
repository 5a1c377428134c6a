// tests/dist/weights_close.h: the data-parallel tests' one comparison of two checkpoints' weights (whole
// model, float32 summation order). Not here: metrics and sample comparisons (each test's own).
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "model/checkpoint.h"

namespace zerorl::testing {

// ||a - b|| <= 1e-5 ||a|| over all weights (the bound). Not per tensor: k_proj.bias gets a gradient
// that is pure rounding (softmax ignores a shift shared by every key), which AdamW scales up to lr-sized
// steps whose sign the summation order decides; its few-ulp differences are large relative to that tiny
// tensor, not to the model.
inline void expect_weights_close(const std::string& a, const std::string& b) {
  auto ma = model::load_model(a), mb = model::load_model(b);
  const auto pa = ma->named_parameters(), pb = mb->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  double diff = 0, norm = 0;
  for (const auto& item : pa) {
    const auto x = item.value().to(torch::kFloat64), y = pb[item.key()].to(torch::kFloat64);
    diff += (x - y).square().sum().item<double>();
    norm += x.square().sum().item<double>();
  }
  EXPECT_LE(std::sqrt(diff), 1e-5 * std::sqrt(norm));
  EXPECT_GT(norm, 0.0);
}

}  // namespace zerorl::testing
