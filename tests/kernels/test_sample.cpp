// tests/kernels/test_sample.cpp: kernels::sample_tokens (the CUDA kernel) against its twin, the inverse CDF
// of exp(log_softmax(logits)), and the twin against a float64 loop. The kernel and the twin sum in other
// orders, so a draw may differ where the target falls within float rounding of a token boundary; every draw
// must still be the inverse CDF of the float64 probabilities to that rounding. Kernel cases (label gpu
// through kernels_cuda) skip without CUDA or compiled kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/sample.h"
#include "tests/kernels/kernel_test_util.h"

namespace zerorl::kernels {
namespace {

using kernel_test::kernel_here;
using kernel_test::values;

// Whether token k is the inverse CDF of row r's float64 probabilities at u, to within tol of the total.
::testing::AssertionResult draws_at(const torch::Tensor& logits, int64_t r, double u, int64_t k, double tol) {
  const auto z = values(logits[r]);
  double mx = z[0], total = 0;
  for (double v : z) mx = std::max(mx, v);
  std::vector<double> cdf;
  for (double v : z) cdf.push_back(total += std::exp(v - mx));
  const double target = u * total;
  if (k < 0 || k >= static_cast<int64_t>(z.size())) return ::testing::AssertionFailure() << "token " << k;
  const double before = k == 0 ? 0.0 : cdf[static_cast<size_t>(k - 1)];
  if (before <= target + tol * total && cdf[static_cast<size_t>(k)] >= target - tol * total &&
      cdf[static_cast<size_t>(k)] > before) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "row " << r << ": token " << k << " spans [" << before / total
                                       << ", " << cdf[static_cast<size_t>(k)] / total << "], u " << u;
}

TEST(SampleTwin, IsTheInverseCdfOfAFloat64Loop) {
  torch::manual_seed(1);
  auto logits = torch::randn({6, 50}) * 3;
  logits[2].narrow(0, 10, 40).fill_(-std::numeric_limits<float>::infinity());  // mass on tokens 0..9 only
  const auto u = torch::tensor({0.0, 0.1, 0.999999, 0.5, 0.73, 0.31}, torch::kFloat64);
  const auto got = inverse_cdf_reference(logits.log_softmax(1), u);
  for (int64_t r = 0; r < 6; ++r)
    EXPECT_TRUE(draws_at(logits, r, u[r].item<double>(), got[r].item<int64_t>(), 1e-6));
  EXPECT_LT(got[2].item<int64_t>(), 10) << "a token of zero probability is never drawn";
  EXPECT_FALSE(use_sample_kernel(logits)) << "CPU takes the twin";
}

TEST(SampleGpu, KernelDrawsTheTwinsTokens) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(2);
  // Qwen's vocabulary in bf16 (the engine's logits), a small float32 one, and an odd width.
  for (auto [vocab, dtype] : std::vector<std::pair<int64_t, torch::ScalarType>>{
           {151936, torch::kBFloat16}, {1000, torch::kFloat32}, {1001, torch::kBFloat16}}) {
    const int64_t rows = 64;
    auto logits = (torch::randn({rows, vocab}, torch::kCUDA) * 2).to(dtype);
    logits[3].fill_(-std::numeric_limits<float>::infinity());
    logits[3][vocab - 1] = 5.0;  // all mass on the last token
    // Every other 128-token run masked: the kernel's chunks of zero mass sit between live ones.
    const auto odd_run = torch::arange(vocab, torch::kCUDA).div(128, "floor").remainder(2).eq(1);
    logits[4].masked_fill_(odd_run, -std::numeric_limits<float>::infinity());
    auto u = torch::rand({rows}, torch::TensorOptions().dtype(torch::kFloat64).device(torch::kCUDA));
    u[0] = 0.0, u[1] = 1.0 - 1e-12;
    const auto got = sample_tokens(logits, u).cpu();
    const auto want = inverse_cdf_reference(logits.to(torch::kFloat32).log_softmax(1), u).cpu();
    int64_t same = 0;
    for (int64_t r = 0; r < rows; ++r) {
      same += got[r].item<int64_t>() == want[r].item<int64_t>();
      EXPECT_TRUE(draws_at(logits, r, static_cast<float>(u[r].item<double>()), got[r].item<int64_t>(), 1e-4))
          << "vocab " << vocab;
    }
    EXPECT_GE(same, rows - 2) << "vocab " << vocab << ": draws differ from the twin beyond boundary rounding";
    EXPECT_EQ(got[3].item<int64_t>(), vocab - 1);
    // A row's draw does not depend on the others.
    EXPECT_EQ(sample_tokens(logits.narrow(0, 5, 1), u.narrow(0, 5, 1)).item<int64_t>(),
              got[5].item<int64_t>());
  }
}

}  // namespace
}  // namespace zerorl::kernels
