// tests/kernels/test_rms_norm.cpp: kernels::rms_norm / add_rms_norm (the CUDA kernels, forward and
// backward) against the LibTorch twin kernels::rms_norm_reference, and the twin against a naive float64
// loop. The kernel cases (label gpu through kernels_cuda) skip without CUDA or without a build that compiled
// the kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/rms_norm.h"
#include "model/checkpoint.h"
#include "rollout/engine.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/test_paths.h"

namespace zerorl::kernels {
namespace {

using kernel_test::cuda_bf16;
using kernel_test::expect_close;
using kernel_test::kernel_here;
using kernel_test::values;

TEST(RmsNormTwin, MatchesANaiveLoop) {
  torch::manual_seed(1);
  const int64_t rows = 5, hidden = 24;
  const double eps = 1e-6;
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto x = (torch::randn({rows, hidden}) * 3).to(dtype), w = (torch::rand({hidden}) + 0.5).to(dtype);
    const auto xv = values(x), wv = values(w);
    std::vector<double> want(xv.size());
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < hidden; ++i) ss += xv[r * hidden + i] * xv[r * hidden + i];
      const double inv = 1.0 / std::sqrt(ss / hidden + eps);
      for (int64_t i = 0; i < hidden; ++i) want[r * hidden + i] = wv[i] * xv[r * hidden + i] * inv;
    }
    // float32: rounding of the sums; bf16: the product and the cast, two roundings of 2^-8 each.
    expect_close(rms_norm_reference(x, w, eps), torch::tensor(want).view({rows, hidden}),
                 dtype == torch::kFloat32 ? 1e-6 : 1.6e-2, "twin vs loop");
  }
  EXPECT_FALSE(use_kernel(torch::zeros({2, 8}, torch::kBFloat16), torch::ones({8}, torch::kBFloat16)))
      << "a CPU tensor never takes the kernel";
}

// One bf16 rounding of the normed value or of the product may land on the other side: 1 ulp = 2^-7 of |y|
// at most, against the row's largest |y|.
constexpr double kBf16Ulp = 1.0 / 128;

TEST(RmsNormGpu, KernelEqualsTwinToOneBf16Rounding) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(2);
  for (int64_t hidden : {64, 896, 1536, 3584}) {
    for (int64_t rows : {1, 7, 256, 300}) {
      auto x = (torch::randn({rows, hidden}) * 2).to(cuda_bf16().dtype()).cuda();
      auto w = (torch::rand({hidden}) + 0.5).to(torch::kBFloat16).cuda();
      auto k = rms_norm(x, w, 1e-6), t = rms_norm_reference(x, w, 1e-6);
      expect_close(k, t, kBf16Ulp, "rms_norm " + std::to_string(rows) + "x" + std::to_string(hidden));
      const double differing = (k != t).to(torch::kFloat64).mean().item<double>();
      EXPECT_LT(differing, 0.05) << "most elements should be bit-equal to the twin";
    }
  }
}

TEST(RmsNormGpu, ARowsBitsDoNotDependOnTheOtherRows) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(3);
  auto x = torch::randn({300, 896}, cuda_bf16()), w = torch::rand({896}, cuda_bf16()) + 0.5;
  auto all = rms_norm(x, w, 1e-6);
  auto [s_all, y_all] = add_rms_norm(x, x, w, 1e-6);
  for (int64_t r : {0, 17, 299}) {
    EXPECT_TRUE(torch::equal(rms_norm(x.narrow(0, r, 1), w, 1e-6), all.narrow(0, r, 1))) << "row " << r;
    auto [s, y] = add_rms_norm(x.narrow(0, r, 1), x.narrow(0, r, 1), w, 1e-6);
    EXPECT_TRUE(torch::equal(y, y_all.narrow(0, r, 1))) << "add variant, row " << r;
  }
}

TEST(RmsNormGpu, AddVariantIsTorchsAddThenTheNorm) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(4);
  auto x = torch::randn({3, 5, 896}, cuda_bf16()), d = torch::randn({3, 5, 896}, cuda_bf16());
  auto w = torch::rand({896}, cuda_bf16()) + 0.5;
  auto [s, y] = add_rms_norm(x, d, w, 1e-6);
  EXPECT_TRUE(torch::equal(s, x + d)) << "the residual sum must be torch's bf16 add, bit for bit";
  EXPECT_TRUE(torch::equal(y, rms_norm(x + d, w, 1e-6)));
}

// Gradients of sum(y * u) w.r.t. x and w: the kernel's LibTorch backward against autograd through the twin.
TEST(RmsNormGpu, GradientsMatchAutogradThroughTheTwin) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(5);
  auto x0 = torch::randn({4, 6, 896}, cuda_bf16()), d0 = torch::randn({4, 6, 896}, cuda_bf16());
  auto w0 = torch::rand({896}, cuda_bf16()) + 0.5, u = torch::randn({4, 6, 896}, cuda_bf16());
  auto x1 = x0.clone().requires_grad_(), w1 = w0.clone().requires_grad_();
  (rms_norm(x1, w1, 1e-6) * u).sum().backward();
  auto x2 = x0.clone().requires_grad_(), w2 = w0.clone().requires_grad_();
  (rms_norm_reference(x2, w2, 1e-6) * u).sum().backward();
  expect_close(x1.grad(), x2.grad(), 2e-2, "d/dx");  // bf16 gradients by two op orders
  expect_close(w1.grad(), w2.grad(), 2e-2, "d/dw");
  // add variant: both outputs used, as in a decoder layer (h feeds the next residual, y the MLP).
  auto xa = x0.clone().requires_grad_(), da = d0.clone().requires_grad_(), wa = w0.clone().requires_grad_();
  auto [s, y] = add_rms_norm(xa, da, wa, 1e-6);
  (s * u + y * u).sum().backward();
  auto xb = x0.clone().requires_grad_(), db = d0.clone().requires_grad_(), wb = w0.clone().requires_grad_();
  auto sb = xb + db;
  (sb * u + rms_norm_reference(sb, wb, 1e-6) * u).sum().backward();
  expect_close(xa.grad(), xb.grad(), 2e-2, "add d/dx");
  EXPECT_TRUE(torch::equal(xa.grad(), da.grad())) << "x and delta get one gradient";
  expect_close(wa.grad(), wb.grad(), 2e-2, "add d/dw");
}

// More rows than the backward kernel has blocks (4 per SM): each block folds several rows into its d/dw.
TEST(RmsNormGpu, WeightGradientOverManyRowsMatchesAutograd) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(6);
  for (int64_t hidden : {896, 1000}) {
    auto x0 = torch::randn({4099, hidden}, cuda_bf16()), u = torch::randn({4099, hidden}, cuda_bf16());
    auto w0 = torch::rand({hidden}, cuda_bf16()) + 0.5;
    auto x1 = x0.clone().requires_grad_(), w1 = w0.clone().requires_grad_();
    (rms_norm(x1, w1, 1e-6) * u).sum().backward();
    auto x2 = x0.clone().requires_grad_(), w2 = w0.clone().requires_grad_();
    (rms_norm_reference(x2, w2, 1e-6) * u).sum().backward();
    // d/dw sums 4099 rows: float accumulation in two orders, then one bf16 rounding.
    expect_close(w1.grad(), w2.grad(), 2e-2, "d/dw, hidden " + std::to_string(hidden));
    expect_close(x1.grad(), x2.grad(), 2e-2, "d/dx, hidden " + std::to_string(hidden));
  }
}

// Greedy decoding of the transformers fixtures in bf16 on CUDA: the same tokens with all kernels (RMSNorm,
// SwiGLU, token log-probs) on and off.
TEST(RmsNormGpu, GreedyTokensAreTheSameWithKernelsOnAndOff) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  for (const char* name : {"tiny-qwen2", "tiny-llama", "tiny-qwen3"}) {
    const std::string dir = testing::fixture_dir() + "/models/" + name;
    auto lm = model::load_model(dir, torch::kBFloat16, torch::kCUDA);
    const std::vector<std::vector<int64_t>> prompts{{1, 5, 9, 13}, {2, 4, 6, 8, 10, 12}, {7}};
    rollout::GenerateConfig c;
    c.sampler.temperature = 0.0;
    c.stop.max_new_tokens = 24;
    std::vector<std::vector<int64_t>> got[2];
    for (int on = 0; on < 2; ++on) {
      set_enabled(on == 1);
      rollout::Engine engine(lm, rollout::EngineOptions{});
      for (const auto& s : engine.generate(prompts, c).samples) got[on].push_back(s.tokens);
    }
    set_enabled(true);
    EXPECT_EQ(got[0], got[1]) << name;
  }
}

}  // namespace
}  // namespace zerorl::kernels
