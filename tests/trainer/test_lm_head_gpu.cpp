// tests/trainer/test_lm_head_gpu.cpp: the update's LM head as one fused node (algo::
// linear_float32_token_logprobs, taken by trainer::policy_token_logprobs on bf16 CUDA) against the two nodes
// it replaces (model::linear_float32, then algo::token_logprobs_entropy): the same logp and entropy bits and
// the same gradients of the hidden states and the weight, bit for bit; and both against a float64 evaluation
// of log_softmax(hidden @ weight^T / tau)[token]. GPU cases skip without a device.
#include <gtest/gtest.h>

#include <string>

#include "algo/logits.h"
#include "compat/torch_compat.h"
#include "model/decoder.h"

namespace zerorl::trainer {
namespace {

struct HeadRun {
  torch::Tensor logp, entropy, grad_hidden, grad_weight;
};

// One forward and backward of (logp * g).sum() through the fused node or the two nodes.
HeadRun run_head(const torch::Tensor& hidden0, const torch::Tensor& weight0, const torch::Tensor& tokens,
                 const torch::Tensor& g, double temperature, bool fused) {
  auto hidden = hidden0.clone().requires_grad_(true), weight = weight0.clone().requires_grad_(true);
  const algo::LinearLogprobs r =
      fused ? algo::linear_float32_token_logprobs(hidden, weight, tokens, temperature)
            : algo::token_logprobs_entropy(model::linear_float32(hidden, weight), tokens, temperature);
  (r.logp * g).sum().backward();
  return {r.logp.detach(), r.entropy, hidden.grad(), weight.grad()};
}

TEST(TrainerGpu, FusedLmHeadGivesTheTwoNodesBits) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!compat::kHasMmOutDtype) GTEST_SKIP() << "torch " << compat::torch_version() << " < 2.8";
  const auto cuda = torch::TensorOptions().device(torch::kCUDA);
  // V 1003: the kernels' scalar loops (V % 4 != 0); 1024: their vectorized ones. Rows not a multiple of 32.
  for (const int64_t vocab : {1003, 1024}) {
    for (const double temperature : {1.0, 0.7}) {
      const std::string what = "V " + std::to_string(vocab) + " tau " + std::to_string(temperature);
      torch::manual_seed(vocab);
      const auto weight = (torch::randn({vocab, 96}) * 0.3).to(cuda.dtype(torch::kBFloat16));
      const auto hidden = torch::randn({3, 41, 96}).to(cuda.dtype(torch::kBFloat16));
      const auto tokens = torch::randint(0, vocab, {3, 41}, cuda.dtype(torch::kInt64));
      const auto g = torch::randn({3, 41}, cuda.dtype(torch::kFloat32));
      ASSERT_TRUE(algo::float32_lm_head_fused(hidden, weight));
      const HeadRun fused = run_head(hidden, weight, tokens, g, temperature, true);
      const HeadRun two = run_head(hidden, weight, tokens, g, temperature, false);
      EXPECT_TRUE(torch::equal(fused.logp, two.logp)) << what;
      EXPECT_TRUE(torch::equal(fused.entropy, two.entropy)) << what;
      EXPECT_TRUE(torch::equal(fused.grad_hidden, two.grad_hidden)) << what;
      EXPECT_TRUE(torch::equal(fused.grad_weight, two.grad_weight)) << what;
      EXPECT_EQ(fused.grad_hidden.scalar_type(), torch::kBFloat16);
      // Independent reference: float64 of the same bf16 inputs. The float32 GEMM over 96 terms and the
      // float32 softmax sums bound the error by a few ulps of float32 of the magnitudes involved.
      const auto z = torch::matmul(hidden.to(torch::kFloat64), weight.to(torch::kFloat64).t()) / temperature;
      const auto ref = z.log_softmax(-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1).cpu();
      const auto scale = 1.0 + z.abs().amax().item<double>();
      EXPECT_LT((fused.logp.to(torch::kFloat64).cpu() - ref).abs().max().item<double>(), 1e-5 * scale)
          << what;
      const auto p = z.softmax(-1);
      const auto ent = -(p * z.log_softmax(-1)).sum(-1).cpu();
      EXPECT_LT((fused.entropy.to(torch::kFloat64).cpu() - ent).abs().max().item<double>(), 1e-5 * scale)
          << what;
    }
  }
}

TEST(TrainerLmHead, FusedNodeRefusesWhatItCannotTakeWithAClearError) {
  const auto hidden = torch::randn({4, 8}), weight = torch::randn({16, 8});
  const auto tokens = torch::zeros({4}, torch::kInt64);
  EXPECT_FALSE(algo::float32_lm_head_fused(hidden, weight));  // CPU float32: the two nodes take it
  try {
    algo::linear_float32_token_logprobs(hidden, weight, tokens);
    FAIL() << "a CPU float32 hidden state was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("bf16 CUDA"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zerorl::trainer
