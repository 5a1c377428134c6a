// tests/kernels/test_swiglu.cpp: kernels::silu_mul (the CUDA kernels) against its twin silu(gate) * up:
// forward and both gradients bit for bit (the kernel rounds where torch rounds), and the twin against a
// naive float64 loop. Kernel cases (label gpu through kernels_cuda) skip without CUDA or compiled kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/swiglu.h"
#include "tests/kernels/kernel_test_util.h"

namespace zerorl::kernels {
namespace {

using kernel_test::cuda_bf16;
using kernel_test::differences;
using kernel_test::expect_close;
using kernel_test::kernel_here;
using kernel_test::values;

TEST(SwigluTwin, MatchesANaiveLoop) {
  torch::manual_seed(1);
  auto g = torch::randn({3, 40}) * 4, u = torch::randn({3, 40});
  const auto gv = values(g), uv = values(u);
  std::vector<double> want(gv.size());
  for (size_t i = 0; i < gv.size(); ++i) want[i] = gv[i] / (1 + std::exp(-gv[i])) * uv[i];
  expect_close(silu_mul_reference(g, u), torch::tensor(want).view({3, 40}), 1e-6, "twin vs loop");
  EXPECT_FALSE(use_silu_mul_kernel(g.to(torch::kBFloat16), u.to(torch::kBFloat16))) << "CPU takes the twin";
}

TEST(SwigluGpu, ForwardAndGradientsAreTorchsBits) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(2);
  // 16 x 4864: the 8-wide path; 3 x 7 x 13: the scalar path; a slice at an odd offset: unaligned (forward;
  // the gradients below run on aligned clones).
  const auto base = torch::randn({2, 16 * 4864 + 1}, cuda_bf16()) * 3;
  const std::vector<std::pair<torch::Tensor, std::string>> gates{
      {torch::randn({16, 4864}, cuda_bf16()) * 3, "vectorized"},
      {torch::randn({3, 7, 13}, cuda_bf16()) * 3, "scalar"},
      {base[0].narrow(0, 1, 16 * 4864).view({16, 4864}), "unaligned"}};
  for (const auto& [gate0, what] : gates) {
    auto up0 = torch::randn(gate0.sizes(), cuda_bf16()), dy = torch::randn(gate0.sizes(), cuda_bf16());
    const auto y0 = silu_mul(gate0, up0);  // gate0 itself: the unaligned case stays unaligned (clones align)
    EXPECT_TRUE(torch::equal(y0, silu_mul_reference(gate0, up0))) << what << " forward, no grad";
    auto g1 = gate0.clone().requires_grad_(), u1 = up0.clone().requires_grad_();
    auto y1 = silu_mul(g1, u1);
    y1.backward(dy);
    auto g2 = gate0.clone().requires_grad_(), u2 = up0.clone().requires_grad_();
    auto y2 = silu_mul_reference(g2, u2);
    y2.backward(dy);
    EXPECT_TRUE(torch::equal(y1, y2)) << what << " forward: " << differences(y1, y2);
    EXPECT_TRUE(torch::equal(g1.grad(), g2.grad()))
        << what << " d/dgate: " << differences(g1.grad(), g2.grad());
    EXPECT_TRUE(torch::equal(u1.grad(), u2.grad()))
        << what << " d/dup: " << differences(u1.grad(), u2.grad());
  }
}

}  // namespace
}  // namespace zerorl::kernels
