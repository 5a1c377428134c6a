// tests/model/test_model_gpu.cpp (label gpu): the CUDA paths (scaled_dot_product_attention on torch >= 2):
// fixture parity on CUDA in float32, cached == full forward and padded prefill == rows alone on CUDA, bf16
// close, gradient checkpointing == plain backward. Not here: the CPU checks (test_model.cpp), which hold the
// naive twins.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/json_io.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "model/split_linear.h"
#include "tests/model/linear_float32_check.h"
#include "tests/test_paths.h"

namespace zerorl::model {
namespace {

std::string fixture_dir(const std::string& name) { return testing::fixture_dir() + "/models/" + name; }

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU, torch::kFloat64) - b.to(torch::kCPU, torch::kFloat64)).abs().max().item<double>();
}

class Gpu : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_P(Gpu, CudaMatchesCpuAndCacheMatchesFull) {
  torch::NoGradGuard no_grad;
  const Json ref = read_json(fixture_dir(GetParam()) + "/reference.json");
  std::vector<std::vector<int64_t>> prompts;
  for (const auto& r : ref["input_ids"]) prompts.push_back(r.get<std::vector<int64_t>>());
  auto lm = load_model(fixture_dir(GetParam()), torch::kFloat32, torch::kCUDA);
  auto ids = torch::tensor(prompts[0], torch::kInt64).view({1, -1});
  auto logits = lm->forward(ids);
  auto want = torch::tensor(ref["logits_last"][0].get<std::vector<float>>());
  EXPECT_LE(max_abs(logits[0][-1], want), 1e-4);
  const auto greedy = greedy_generate(lm, prompts, 20);
  for (size_t b = 0; b < prompts.size(); ++b)
    EXPECT_EQ(greedy[b], ref["greedy_ids"][b].get<std::vector<int64_t>>());
  // cached decode vs full forward on CUDA, rows of different lengths in scattered slots
  auto full = lm->forward(torch::tensor(ref["greedy_ids"][1].get<std::vector<int64_t>>()).view({1, -1}));
  auto cache = lm->make_cache(3, 40);
  auto seq = torch::tensor(ref["greedy_ids"][1].get<std::vector<int64_t>>()).view({1, -1});
  auto batch = torch::zeros({2, 12}, torch::kInt64);
  batch[0].narrow(0, 0, 5).copy_(seq[0].narrow(0, 0, 5));
  batch[1].copy_(seq[0].narrow(0, 0, 12));
  auto last = lm->forward_cached(batch, {2, 0}, cache, {5, 12});
  EXPECT_LE(max_abs(last[0], full[0][4]), 1e-4);
  EXPECT_LE(max_abs(last[1], full[0][11]), 1e-4);
  for (int64_t t = 12; t < 32; ++t) {
    auto step = lm->forward_cached(seq.narrow(1, t, 1), {0}, cache);
    EXPECT_LE(max_abs(step[0], full[0][t]), 1e-4) << t;
  }
  auto bf16 =
      load_model(fixture_dir(GetParam()), torch::kBFloat16, torch::kCUDA)->forward(ids).to(torch::kFloat32);
  EXPECT_LT(((bf16 - logits).norm() / logits.norm()).item<double>(), 2e-2);
}

// Gradient checkpointing on CUDA (SDPA path): fp32 gradients equal the plain backward's (1e-5: SDPA's
// backward kernels may differ between the no-grad forward and the recomputation only in rounding), and the
// bf16 path runs and stays close (relative 2e-2).
TEST_P(Gpu, GradientCheckpointingMatchesPlainBackward) {
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto lm = load_model(fixture_dir(GetParam()), dtype, torch::kCUDA);
    auto ids = torch::randint(0, lm->config().vocab_size, {2, 9}, torch::kInt64).to(torch::kCUDA);
    auto mask = torch::ones_like(ids);
    mask[0].narrow(0, 0, 3).zero_();  // left padding
    auto grads = [&](bool on) {
      lm->set_gradient_checkpointing(on);
      lm->zero_grad();
      lm->forward(ids, mask).to(torch::kFloat32).pow(2).mean().backward();
      std::vector<torch::Tensor> g;
      for (const auto& p : lm->parameters()) g.push_back(p.grad().to(torch::kFloat32).clone());
      return g;
    };
    const auto plain = grads(false), recomputed = grads(true);
    double diff2 = 0, norm2 = 0;  // bf16: relative to the global gradient norm
    for (size_t i = 0; i < plain.size(); ++i) {
      if (dtype == torch::kFloat32) {
        EXPECT_LE(max_abs(plain[i], recomputed[i]), 1e-5) << "param " << i;
      }
      diff2 += (plain[i] - recomputed[i]).pow(2).sum().item<double>();
      norm2 += plain[i].pow(2).sum().item<double>();
    }
    EXPECT_GT(norm2, 0.0);
    EXPECT_LT(std::sqrt(diff2 / norm2), 2e-2) << c10::toString(dtype);
  }
}

// The causal kernel (model::set_causal_sdpa) against the masked path on right-padded rows: every real
// position's hidden state and the gradients of a loss over real positions agree to the dtype's rounding
// (float32: 1e-5, bf16: 2e-2, relative to the hidden states' norm and to the global gradient norm: both sum
// the same keys in different orders), and padded positions stay finite. Both with and without gradient
// checkpointing (the flag must reach the recomputation).
TEST_P(Gpu, CausalKernelEqualsTheMaskOnRightPaddedRows) {
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto lm = load_model(fixture_dir(GetParam()), dtype, torch::kCUDA);
    auto ids = torch::randint(0, lm->config().vocab_size, {3, 11}, torch::kInt64).to(torch::kCUDA);
    auto mask = torch::ones_like(ids);
    mask[0].narrow(0, 6, 5).zero_(), mask[2].narrow(0, 9, 2).zero_();  // right padding
    const auto real = mask.to(torch::kBool).unsqueeze(-1);
    for (const bool checkpointing : {false, true}) {
      lm->set_gradient_checkpointing(checkpointing);
      auto run = [&](bool causal) {
        set_causal_sdpa(causal);
        lm->zero_grad();
        auto h = lm->hidden_states(ids, mask, /*right_padded=*/true).to(torch::kFloat32);
        (h.masked_fill(real.logical_not(), 0).pow(2).mean()).backward();
        std::vector<torch::Tensor> out{h.detach().masked_fill(real.logical_not(), 0)};
        for (const auto& p : lm->parameters())  // an untied lm_head gets no gradient from hidden states
          out.push_back(p.grad().defined() ? p.grad().to(torch::kFloat32).clone() : torch::zeros({1}));
        EXPECT_TRUE(torch::isfinite(h).all().item<bool>());
        return out;
      };
      const auto masked = run(false), causal = run(true);
      set_causal_sdpa(false);
      const double tol = dtype == torch::kFloat32 ? 1e-5 : 2e-2;
      const std::string where = std::string(c10::toString(dtype)) + (checkpointing ? " (checkpointing)" : "");
      EXPECT_LE((masked[0] - causal[0]).norm().item<double>(), tol * masked[0].norm().item<double>())
          << "hidden states " << where;
      double diff2 = 0, norm2 = 0;  // gradients: relative to the global gradient norm (as above)
      for (size_t i = 1; i < masked.size(); ++i) {
        diff2 += (masked[i] - causal[i]).pow(2).sum().item<double>();
        norm2 += masked[i].pow(2).sum().item<double>();
      }
      EXPECT_GT(norm2, 0.0) << where;
      EXPECT_LE(std::sqrt(diff2), tol * std::sqrt(norm2)) << "gradients " << where;
    }
  }
}

TEST(LinearFloat32Gpu, Bf16InputsGiveUnroundedFloat32LogitsAndGradients) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  checks::check_linear_float32(torch::kCUDA);  // mm with out_dtype on torch >= 2.8
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Gpu, ::testing::Values("tiny-qwen2", "tiny-llama", "tiny-qwen3"));

// model/split_linear.h on the shape it is for (0.5B's k_proj over 8192 tokens, with a bias): forward and the
// input's gradient are torch's linear's bits (the same GEMMs); the weight's gradient, summed in 16 blocks
// in float32 and rounded once, is within one bf16 rounding of the float64 sum of the same bf16 terms plus
// float32 accumulation (2^-16 of the sum of |terms|), and the bias's gradient is the sum of dy.
TEST(SplitWeightGradGpu, ForwardBitsAndWeightGradientToOneRounding) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto bf = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  torch::manual_seed(21);
  Linear lin(896, 128, /*bias=*/true, bf);
  {
    torch::NoGradGuard ng;
    lin->weight.copy_(torch::randn({128, 896}, bf) * 0.05), lin->bias.copy_(torch::randn({128}, bf));
  }
  const auto x0 = torch::randn({8, 1024, 896}, bf), dy = torch::randn({8, 1024, 128}, bf);
  auto x = x0.clone().requires_grad_();
  if (!use_split_weight_grad(x, lin->weight)) GTEST_SKIP() << "no compiled kernels (or switched off)";
  auto y = lin(x);
  y.backward(dy);
  auto w2 = lin->weight.detach().clone().requires_grad_(), b2 = lin->bias.detach().clone().requires_grad_();
  auto x2 = x0.clone().requires_grad_();
  auto y2 = torch::nn::functional::linear(x2, w2, b2);
  y2.backward(dy);
  EXPECT_TRUE(torch::equal(y, y2)) << "forward";
  EXPECT_LT(max_abs(x.grad(), x2.grad()), 1e-2 * x2.grad().abs().max().item<double>()) << "input gradient";
  const auto d64 = dy.reshape({-1, 128}).to(torch::kFloat64), x64 = x0.reshape({-1, 896}).to(torch::kFloat64);
  const auto want = d64.t().mm(x64), terms = d64.abs().t().mm(x64.abs());
  const auto err = (lin->weight.grad().to(torch::kFloat64) - want).abs();
  const auto bound = want.abs() * std::ldexp(1.0, -8) + terms * std::ldexp(1.0, -16);
  EXPECT_TRUE((err <= bound).all().item<bool>())
      << "weight gradient: worst excess " << (err - bound).max().item<double>();
  const auto db = d64.sum(0);
  EXPECT_LT((lin->bias.grad().to(torch::kFloat64) - db).abs().max().item<double>(),
            std::ldexp(1.0, -7) * (1.0 + db.abs().max().item<double>()) +
                1e-3 * d64.abs().sum(0).max().item<double>())
      << "bias gradient";
}

}  // namespace
}  // namespace zerorl::model
