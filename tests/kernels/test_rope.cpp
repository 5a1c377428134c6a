// tests/kernels/test_rope.cpp: kernels::rope (the CUDA kernels) against its twin x cos + rotate_half(x) sin:
// forward and gradient bit for bit on the attention's transposed layout, and the twin against a naive
// rotation loop. Kernel cases (label gpu through kernels_cuda) skip without CUDA or compiled kernels.
#include <gtest/gtest.h>

#include <array>
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

// The decode step's inputs: q/k/v as views of one [R, (Hq + 2 Hkv) D] projection, [capacity, D] tables,
// positions spread over the cache, zeroed caches with more slots than rows.
struct DecodeCase {
  RopeDecodeInputs in;
  torch::Tensor k_cache, v_cache;
};

DecodeCase decode_case(int64_t R, int64_t Hq, int64_t Hkv, int64_t D, bool bias, torch::TensorOptions o) {
  const int64_t capacity = 40, slots = R + 2;
  auto [cos, sin] = tables(1, capacity, D, o);
  DecodeCase c;
  c.in.cos = cos.view({capacity, D}), c.in.sin = sin.view({capacity, D});
  auto proj = torch::randn({R, (Hq + 2 * Hkv) * D}, o) * 2;
  c.in.q = proj.narrow(1, 0, Hq * D).view({R, 1, Hq, D});
  c.in.k = proj.narrow(1, Hq * D, Hkv * D).view({R, 1, Hkv, D});
  c.in.v = proj.narrow(1, (Hq + Hkv) * D, Hkv * D).view({R, 1, Hkv, D});
  if (bias) {
    auto b = torch::randn({(Hq + 2 * Hkv) * D}, o);
    c.in.q_bias = b.narrow(0, 0, Hq * D), c.in.k_bias = b.narrow(0, Hq * D, Hkv * D);
    c.in.v_bias = b.narrow(0, (Hq + Hkv) * D, Hkv * D);
  }
  c.in.positions =
      torch::randint(capacity, {R}, torch::TensorOptions().dtype(torch::kLong).device(o.device()));
  c.k_cache = torch::zeros({slots, Hkv, capacity, D}, o), c.v_cache = torch::zeros_like(c.k_cache);
  return c;
}

TEST(RopeTwin, DecodeRotatesAtEachRowsPositionAndWritesItsCacheRow) {
  torch::manual_seed(3);
  const int64_t R = 3, Hq = 4, Hkv = 2, D = 8;
  auto c = decode_case(R, Hq, Hkv, D, /*bias=*/true, torch::TensorOptions().dtype(torch::kFloat64));
  auto q = rope_decode_reference(c.in, c.k_cache, c.v_cache);
  ASSERT_EQ(q.sizes(), (std::vector<int64_t>{R, 1, Hq, D}));
  const auto cos = values(c.in.cos), sin = values(c.in.sin);
  // A naive rotation of x (one head's D values) by position p's angles.
  const auto rotated = [&](std::vector<double> x, int64_t p) {
    std::vector<double> y(x.size());
    for (int64_t d = 0; d < D / 2; ++d) {
      y[d] = x[d] * cos[p * D + d] - x[d + D / 2] * sin[p * D + d];
      y[d + D / 2] = x[d + D / 2] * cos[p * D + d + D / 2] + x[d] * sin[p * D + d + D / 2];
    }
    return torch::tensor(y, torch::kFloat64);
  };
  const auto head = [&](const torch::Tensor& x, const torch::Tensor& b, int64_t r, int64_t h) {
    return values(x[r][0][h] + b.view({-1, D})[h]);
  };
  int64_t written = 0;
  for (int64_t r = 0; r < R; ++r) {
    const int64_t p = c.in.positions[r].item<int64_t>();
    for (int64_t h = 0; h < Hq; ++h)
      expect_close(q[r][0][h], rotated(head(c.in.q, c.in.q_bias, r, h), p), 1e-12,
                   "q row " + std::to_string(r));
    for (int64_t h = 0; h < Hkv; ++h) {
      expect_close(c.k_cache[r][h][p], rotated(head(c.in.k, c.in.k_bias, r, h), p), 1e-12, "k cache");
      expect_close(c.v_cache[r][h][p], torch::tensor(head(c.in.v, c.in.v_bias, r, h), torch::kFloat64), 1e-12,
                   "v cache");
      written += 2;
    }
  }
  // Nothing else was written: one [D] row per (row, kv head) in each cache.
  EXPECT_EQ((c.k_cache.abs().sum(-1) > 0).sum().item<int64_t>() +
                (c.v_cache.abs().sum(-1) > 0).sum().item<int64_t>(),
            written);
}

TEST(RopeGpu, DecodeKernelIsTheTwinsBits) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(4);
  for (const bool bias : {false, true})
    for (const auto& [R, Hq, Hkv, D] : std::vector<std::array<int64_t, 4>>{{5, 14, 2, 64}, {7, 12, 2, 128}}) {
      auto c = decode_case(R, Hq, Hkv, D, bias, cuda_bf16());
      auto k2 = c.k_cache.clone(), v2 = c.v_cache.clone();
      ASSERT_TRUE(use_rope_decode_kernel(c.in, c.k_cache, c.v_cache));
      auto q1 = rope_decode(c.in, c.k_cache, c.v_cache);
      auto q2 = rope_decode_reference(c.in, k2, v2);
      const std::string what = "D=" + std::to_string(D) + (bias ? " with biases" : "");
      EXPECT_TRUE(torch::equal(q1, q2)) << what << " q: " << differences(q1, q2);
      EXPECT_TRUE(torch::equal(c.k_cache, k2)) << what << " k cache: " << differences(c.k_cache, k2);
      EXPECT_TRUE(torch::equal(c.v_cache, v2)) << what << " v cache: " << differences(c.v_cache, v2);
    }
}

}  // namespace
}  // namespace zerorl::kernels
