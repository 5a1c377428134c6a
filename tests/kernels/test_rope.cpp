// tests/kernels/test_rope.cpp: kernels::rope (the CUDA kernels) against its twin x cos + rotate_half(x) sin:
// forward and gradient bit for bit on the attention's transposed layout, and the twin against a naive
// rotation loop. Kernel cases (label gpu through kernels_cuda) skip without CUDA or compiled kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/rope.h"
#include "tests/kernels/kernel_test_util.h"

namespace zerorl::kernels {
namespace {

using kernel_test::cuda_bf16;
using kernel_test::differences;
using kernel_test::expect_close;
using kernel_test::kernel_here;
using kernel_test::values;

// cos and sin [B, 1, T, D] of positions 0..T-1 (plus b), as the decoder builds them.
std::pair<torch::Tensor, torch::Tensor> tables(int64_t B, int64_t T, int64_t D, torch::TensorOptions o) {
  auto inv = torch::pow(10000.0, -torch::arange(0, D, 2, torch::kFloat32) / D);
  auto pos = torch::arange(T, torch::kFloat32).unsqueeze(0) + torch::arange(B, torch::kFloat32).unsqueeze(1);
  auto freqs = pos.unsqueeze(-1) * inv;
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);
  return {emb.cos().to(o), emb.sin().to(o)};
}

TEST(RopeTwin, RotatesEachPairByItsAngle) {
  torch::manual_seed(1);
  const int64_t B = 2, H = 3, T = 5, D = 8;
  auto x = torch::randn({B, H, T, D});
  auto [cos, sin] = tables(B, T, D, torch::TensorOptions().dtype(torch::kFloat32));
  const auto xv = values(x), cv = values(cos), sv = values(sin);
  std::vector<double> want(xv.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D / 2; ++d) {  // (x1, x2) rotated by the angle whose cos/sin the tables hold
          const int64_t i = ((b * H + h) * T + t) * D, c = (b * T + t) * D;
          const double x1 = xv[i + d], x2 = xv[i + d + D / 2];
          want[i + d] = x1 * cv[c + d] - x2 * sv[c + d];
          want[i + d + D / 2] = x2 * cv[c + d + D / 2] + x1 * sv[c + d + D / 2];
        }
  expect_close(rope_reference(x, cos, sin), torch::tensor(want).view({B, H, T, D}), 1e-6, "twin vs loop");
  EXPECT_FALSE(use_rope_kernel(x.to(torch::kBFloat16), cos.to(torch::kBFloat16), sin.to(torch::kBFloat16)));
}

TEST(RopeGpu, ForwardAndGradientAreTorchsBits) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(2);
  for (int64_t B : {1, 3}) {
    const int64_t T = 37, H = 14, D = 64;
    auto [cos, sin] = tables(B, T, D, cuda_bf16());
    // The attention's layout: a [B, T, H, D] projection viewed as [B, H, T, D].
    auto proj = torch::randn({B, T, H, D}, cuda_bf16()) * 2;
    auto dy = torch::randn({B, H, T, D}, cuda_bf16());
    auto x1 = proj.clone().requires_grad_(), x2 = proj.clone().requires_grad_();
    auto y1 = rope(x1.transpose(1, 2), cos, sin), y2 = rope_reference(x2.transpose(1, 2), cos, sin);
    y1.backward(dy);
    y2.backward(dy);
    const std::string what = "B=" + std::to_string(B);
    EXPECT_TRUE(torch::equal(y1, y2)) << what << " forward: " << differences(y1, y2);
    EXPECT_TRUE(torch::equal(x1.grad(), x2.grad())) << what << " d/dx: " << differences(x1.grad(), x2.grad());
    // Tables broadcast over B (one row of positions for the whole batch).
    auto yb = rope(proj.transpose(1, 2), cos.narrow(0, 0, 1), sin.narrow(0, 0, 1));
    EXPECT_TRUE(
        torch::equal(yb, rope_reference(proj.transpose(1, 2), cos.narrow(0, 0, 1), sin.narrow(0, 0, 1))))
        << what << " broadcast tables";
  }
}

}  // namespace
}  // namespace zerorl::kernels
