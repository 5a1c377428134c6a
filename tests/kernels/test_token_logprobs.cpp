// tests/kernels/test_token_logprobs.cpp: kernels::token_logprobs / token_logprobs_backward (the CUDA kernels)
// against the LibTorch twin and autograd through it, a row's bits against the batch it shares, and the twin
// against a naive float64 loop. Kernel cases (label gpu through kernels_cuda) skip without CUDA or compiled
// kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/token_logprobs.h"
#include "tests/kernels/kernel_test_util.h"

namespace zerorl::kernels {
namespace {

using kernel_test::expect_close;
using kernel_test::kernel_here;
using kernel_test::values;

TEST(TokenLogprobsTwin, MatchesANaiveLoop) {
  torch::manual_seed(1);
  const int64_t n = 4, vocab = 50;
  auto logits = torch::randn({n, vocab}) * 3;
  logits.index_put_({1, 7}, -std::numeric_limits<float>::infinity());  // a masked token: p = 0
  auto ids = torch::tensor({3, 0, 49, 8}, torch::kInt64);
  for (double tau : {1.0, 0.7}) {
    const auto lv = values(logits), iv = values(ids);
    std::vector<double> logp(n), ent(n), lse(n);
    for (int64_t r = 0; r < n; ++r) {
      double mx = -INFINITY, s = 0;
      for (int64_t v = 0; v < vocab; ++v) mx = std::max(mx, lv[r * vocab + v] / tau);
      for (int64_t v = 0; v < vocab; ++v) s += std::exp(lv[r * vocab + v] / tau - mx);
      lse[r] = mx + std::log(s);
      logp[r] = lv[r * vocab + static_cast<int64_t>(iv[r])] / tau - lse[r];
      for (int64_t v = 0; v < vocab; ++v) {
        const double p = std::exp(lv[r * vocab + v] / tau - lse[r]);
        if (p > 0) ent[r] -= p * std::log(p);
      }
    }
    const auto t = token_logprobs_reference(logits, ids, tau);
    expect_close(t.logp, torch::tensor(logp), 1e-6, "logp");
    expect_close(t.entropy, torch::tensor(ent), 1e-5, "entropy");
    expect_close(t.lse, torch::tensor(lse), 1e-6, "lse");
  }
  EXPECT_FALSE(use_token_logprobs_kernel(logits)) << "a CPU tensor never takes the kernel";
}

torch::Tensor cuda_logits(int64_t n, int64_t vocab, torch::Dtype dtype) {
  auto x = torch::randn({n, vocab}, torch::TensorOptions().device(torch::kCUDA)) * 4;
  return x.to(dtype);
}

// The kernel sums in another order than torch's log_softmax: float rounding of a sum over V terms, against
// the largest |value| of the tensor.
constexpr double kSumRel = 2e-5;

TEST(TokenLogprobsGpu, KernelEqualsTwinToFloatRounding) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(2);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (int64_t vocab : {151936, 1000, 1001}) {  // Qwen's; the 4-wide path; the scalar path
      for (double tau : {1.0, 0.7}) {
        auto logits = cuda_logits(37, vocab, dtype);
        logits.index_put_({3, 5}, -std::numeric_limits<float>::infinity());  // a masked token
        auto ids =
            torch::randint(0, vocab, {37}, torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
        const auto k = token_logprobs(logits, ids, tau), t = token_logprobs_reference(logits, ids, tau);
        const std::string what =
            std::string(c10::toString(dtype)) + " V=" + std::to_string(vocab) + " T=" + std::to_string(tau);
        expect_close(k.logp, t.logp, kSumRel, "logp " + what);
        expect_close(k.entropy, t.entropy, kSumRel, "entropy " + what);
        expect_close(k.lse, t.lse, kSumRel, "lse " + what);
      }
    }
  }
}

TEST(TokenLogprobsGpu, GradientEqualsAutogradThroughTheTwin) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(3);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (double tau : {1.0, 0.7}) {
      auto logits = cuda_logits(19, 151936, dtype);
      auto ids =
          torch::randint(0, 151936, {19}, torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
      auto grad = torch::randn({19}, torch::TensorOptions().device(torch::kCUDA));
      grad.index_put_({4}, 0.0);  // a masked position: no gradient at all
      auto leaf = logits.clone().requires_grad_();
      (token_logprobs_reference(leaf, ids, tau).logp * grad).sum().backward();
      const auto k = token_logprobs(logits, ids, tau);
      for (auto out : {torch::kFloat32, torch::kBFloat16}) {
        auto dz = token_logprobs_backward(logits, ids, k.lse, grad, tau, out);
        ASSERT_EQ(dz.scalar_type(), out);
        // float32: the softmax to float rounding; bf16 (the kernel's output, or autograd's gradient of bf16
        // logits, which .to(float32)'s backward casts back to bf16): one rounding of 2^-8 on top.
        const bool bf16 = out == torch::kBFloat16 || dtype == torch::kBFloat16;
        expect_close(
            dz, leaf.grad(), bf16 ? 1.0 / 128 : kSumRel,
            std::string(c10::toString(dtype)) + " -> " + c10::toString(out) + " T=" + std::to_string(tau));
        EXPECT_EQ(dz[4].abs().max().item<float>(), 0.0f) << "a zero grad gives a zero row";
      }
    }
  }
}

TEST(TokenLogprobsGpu, ARowsBitsDoNotDependOnTheOtherRows) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(4);
  auto logits = cuda_logits(300, 151936, torch::kFloat32);
  auto ids =
      torch::randint(0, 151936, {300}, torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
  const auto all = token_logprobs(logits, ids, 1.0);
  for (int64_t r : {0, 17, 299}) {
    const auto one = token_logprobs(logits.narrow(0, r, 1), ids.narrow(0, r, 1), 1.0);
    EXPECT_TRUE(torch::equal(one.logp, all.logp.narrow(0, r, 1))) << "row " << r;
    EXPECT_TRUE(torch::equal(one.entropy, all.entropy.narrow(0, r, 1))) << "row " << r;
    EXPECT_TRUE(torch::equal(one.lse, all.lse.narrow(0, r, 1))) << "row " << r;
  }
}

}  // namespace
}  // namespace zerorl::kernels
