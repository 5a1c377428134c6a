// tests/kernels/kernel_test_util.h: what the kernel tests share: a tensor's values as doubles, a
// scale-relative closeness check, a message of where two tensors differ, and whether a kernel can run here.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/switch.h"

namespace zerorl::kernels::kernel_test {

inline std::vector<double> values(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous().flatten();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// |a - b| <= rel * max|b| over the tensor: a scale-relative bound, never digits of one machine.
inline void expect_close(const torch::Tensor& a, const torch::Tensor& b, double rel,
                         const std::string& what) {
  const auto x = values(a), y = values(b);
  ASSERT_EQ(x.size(), y.size()) << what;
  double scale = 0, worst = 0;
  for (size_t i = 0; i < x.size(); ++i) scale = std::max(scale, std::abs(y[i]));
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  EXPECT_LE(worst, rel * scale) << what << ": worst " << worst << " scale " << scale;
}

// Where two tensors differ, if anywhere: the largest difference and how many elements differ, for a message.
inline std::string differences(const torch::Tensor& a, const torch::Tensor& b) {
  auto d = (a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs();
  return "max |diff| " + std::to_string(d.max().item<float>()) + ", differing " +
         std::to_string((a != b).sum().item<int64_t>()) + " of " + std::to_string(a.numel());
}

inline bool kernel_here() { return torch::cuda::is_available() && compiled(); }

inline torch::TensorOptions cuda_bf16() {
  return torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
}

}  // namespace zerorl::kernels::kernel_test
