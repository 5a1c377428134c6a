// tests/kernels/test_swiglu.cpp: kernels::silu_mul (the CUDA kernels) against its twin silu(gate) * up:
// forward and both gradients bit for bit (the kernel rounds where torch rounds), and the twin against a
// naive float64 loop; silu_mul_stacked (gate and up as the halves of each row) against its twin and silu_mul;
// the update's gate_up_silu_mul (stacked backward) against the two linears and silu_mul, and a float64 sum.
// Kernel cases (label gpu through kernels_cuda) skip without CUDA or compiled kernels.
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

TEST(SwigluStackedTwin, MatchesANaiveLoopOverTheHalves) {
  torch::manual_seed(6);
  const int64_t rows = 3, inter = 20;
  auto gu = torch::randn({rows, 1, 2 * inter}) * 4;
  const auto v = values(gu);
  std::vector<double> want(rows * inter);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < inter; ++c) {
      const double g = v[r * 2 * inter + c], u = v[r * 2 * inter + inter + c];
      want[r * inter + c] = g / (1 + std::exp(-g)) * u;
    }
  }
  expect_close(silu_mul_stacked_reference(gu), torch::tensor(want).view({rows, 1, inter}), 1e-6,
               "stacked twin vs loop");
  EXPECT_FALSE(use_silu_mul_stacked_kernel(gu.to(torch::kBFloat16))) << "CPU takes the twin";
  EXPECT_THROW(silu_mul_stacked_reference(torch::randn({2, 7})), std::exception) << "odd last dimension";
}

TEST(SwigluGpu, StackedIsItsTwinsAndSiluMulsBits) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(7);
  // I 8960 and 4864 (1.5B, 0.5B): the 8-wide path; I 13: the scalar path (cols and stride not multiples
  // of 8); [R, 1, 2I] as the decode step's GEMM output.
  for (const int64_t inter : {8960, 4864, 13}) {
    for (const int64_t rows : {1, 3, 128}) {
      const auto gu = torch::randn({rows, 1, 2 * inter}, cuda_bf16()) * 3;
      const std::string what = std::to_string(rows) + " x " + std::to_string(inter);
      ASSERT_TRUE(use_silu_mul_stacked_kernel(gu)) << what;
      const auto y = silu_mul_stacked(gu);
      const auto twin = silu_mul_stacked_reference(gu);
      ASSERT_EQ(y.sizes(), twin.sizes()) << what;
      EXPECT_TRUE(torch::equal(y, twin)) << what << " vs twin: " << differences(y, twin);
      const auto halves =
          silu_mul(gu.narrow(-1, 0, inter).contiguous(), gu.narrow(-1, inter, inter).contiguous());
      EXPECT_TRUE(torch::equal(y, halves)) << what << " vs silu_mul: " << differences(y, halves);
    }
  }
  // Rows that do not start on 16 bytes (a slice at an odd offset): the scalar path, same bits.
  const auto base = torch::randn({4 * 2 * 4864 + 1}, cuda_bf16()) * 3;
  const auto odd = base.narrow(0, 1, 4 * 2 * 4864).view({4, 2 * 4864});
  EXPECT_TRUE(torch::equal(silu_mul_stacked(odd), silu_mul_stacked_reference(odd))) << "unaligned";
  // Rows with a stride wider than 2I (a column slice of a wider tensor): read in place, same bits.
  const auto wide = torch::randn({5, 3 * 64}, cuda_bf16()).narrow(1, 64, 2 * 64);
  EXPECT_TRUE(torch::equal(silu_mul_stacked(wide), silu_mul_stacked_reference(wide))) << "strided rows";
  // No backward: a gradient wanted is an error, not a silently detached result.
  const auto grad = torch::randn({2, 16}, cuda_bf16()).requires_grad_();
  EXPECT_THROW(silu_mul_stacked(grad), std::exception);
}

// gate_up_silu_mul: the forward is the two linears' and silu_mul's bits; d x and the weights' gradients are
// the float64 sums of the same bf16 SwiGLU gradients (which are silu_mul's bits, checked through d gate = the
// reference's row of d w) to float32 accumulation and one bf16 rounding: |err| <= 2^-8 |sum| + 2^-16 sum
// |terms|.
TEST(SwigluGpu, GateUpNodeKeepsTheForwardBitsAndSumsTheGradientsOnce) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(11);
  // I 104: the 8-wide path; I 13: the scalar path (odd halves of the [T, 2I] gradient buffer).
  for (const int64_t inter : {104, 13}) {
    const int64_t hidden = 64;
    const std::string what = "I " + std::to_string(inter);
    const auto w = (torch::randn({2 * inter, hidden}) * 0.2).to(cuda_bf16());
    const auto x0 = torch::randn({3, 37, hidden}, cuda_bf16()),
               dy = torch::randn({3, 37, inter}, cuda_bf16());
    auto wg = w.narrow(0, 0, inter).clone().requires_grad_(),
         wu = w.narrow(0, inter, inter).clone().requires_grad_();
    auto x = x0.clone().requires_grad_();
    ASSERT_TRUE(use_gate_up_silu_mul(x, wg, wu, w)) << what;
    auto y = gate_up_silu_mul(x, wg, wu, w);
    y.backward(dy);
    // The two linears and silu_mul, as the model ran them before (autograd's backward).
    auto wg2 = wg.detach().clone().requires_grad_(), wu2 = wu.detach().clone().requires_grad_();
    auto x2 = x0.clone().requires_grad_();
    auto g2 = torch::nn::functional::linear(x2, wg2), u2 = torch::nn::functional::linear(x2, wu2);
    g2.retain_grad(), u2.retain_grad();
    auto y2 = silu_mul(g2, u2);
    y2.backward(dy);
    EXPECT_TRUE(torch::equal(y, y2)) << what << " forward: " << differences(y, y2);
    // float64 sums of the same bf16 SwiGLU gradients.
    const auto d = torch::cat({g2.grad(), u2.grad()}, -1).reshape({-1, 2 * inter}).to(torch::kFloat64);
    const auto w64 = w.to(torch::kFloat64), x64 = x0.reshape({-1, hidden}).to(torch::kFloat64);
    const auto check = [&](const torch::Tensor& got, const torch::Tensor& sum, const torch::Tensor& abs_sum,
                           const char* name) {
      const auto err = (got.to(torch::kFloat64).reshape(sum.sizes()) - sum).abs();
      const auto bound = sum.abs() * std::ldexp(1.0, -8) + abs_sum * std::ldexp(1.0, -16);
      EXPECT_TRUE((err <= bound).all().item<bool>())
          << what << " " << name << ": worst excess " << (err - bound).max().item<double>();
    };
    check(x.grad(), d.mm(w64), d.abs().mm(w64.abs()), "d x");
    const auto dw = d.t().mm(x64), dw_abs = d.abs().t().mm(x64.abs());
    check(wg.grad(), dw.narrow(0, 0, inter), dw_abs.narrow(0, 0, inter), "d w_gate");
    check(wu.grad(), dw.narrow(0, inter, inter), dw_abs.narrow(0, inter, inter), "d w_up");
  }
  // The switch, and what the node does not take: float32, or a stacked weight of the wrong shape.
  const auto x = torch::randn({4, 64}, cuda_bf16()), wg = torch::randn({8, 64}, cuda_bf16());
  EXPECT_FALSE(use_gate_up_silu_mul(x.to(torch::kFloat32), wg, wg, torch::cat({wg, wg})));
  EXPECT_FALSE(use_gate_up_silu_mul(x, wg, wg, wg));
  set_disabled({"stacked_mlp_backward"});
  EXPECT_FALSE(use_gate_up_silu_mul(x, wg, wg, torch::cat({wg, wg})));
  set_disabled({});
  EXPECT_TRUE(use_gate_up_silu_mul(x, wg, wg, torch::cat({wg, wg})));
}

}  // namespace
}  // namespace zerorl::kernels
