// tests/model/test_model_gpu.cpp (label gpu): the CUDA paths (scaled_dot_product_attention on torch >= 2):
// fixture parity on CUDA in float32, cached == full forward and padded prefill == rows alone on CUDA, bf16
// close, gradient checkpointing == plain backward. Not here: the CPU checks (test_model.cpp), which hold the
// naive twins.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "compat/torch_compat.h"
#include "core/json_io.h"
#include "kernels/switch.h"
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

// Packed rows on the attention kernel (model/packed_attention.h), bf16 with batch-invariant GEMMs: every
// real token's hidden state equals the padded layout's bit for bit (the layout the engine's log-probs are
// held to), without gradients (the old log-probs' forward) and with them, and so does either layout's with
// gradient checkpointing (its no-grad forward and recomputation must take the kernel's path too). The
// gradients of one loss over the real tokens agree to bf16 rounding (2e-2 of the global norm: the weight
// gradients sum the rows in another order). Sequences go first-fit, in order, into rows of W; one set has
// every sequence shorter than the kernel's 64-key block, one fills rows of 110 with 70 + 33 and 100 + 5.
struct Place {
  int64_t row, column;
};

// Where each sequence goes when placed first-fit, in order, into rows of W; the row count is the last.
std::pair<std::vector<Place>, int64_t> first_fit(const std::vector<int64_t>& len, int64_t W) {
  std::vector<Place> at;
  std::vector<int64_t> used;  // per packed row
  for (const int64_t l : len) {
    size_t r = 0;
    while (r < used.size() && used[r] + l > W) ++r;
    if (r == used.size()) used.push_back(0);
    at.push_back({static_cast<int64_t>(r), used[r]}), used[r] += l;
  }
  return {at, static_cast<int64_t>(used.size())};
}

void expect_packed_equals_padded(CausalLM& lm, const std::vector<int64_t>& len, int64_t W) {
  const auto n = static_cast<int64_t>(len.size());
  const std::string what = "lengths " + c10::str(len) + " in rows of " + std::to_string(W);
  const auto placed = first_fit(len, W);  // named, not bound: C++17 lambdas cannot capture bindings
  const std::vector<Place>& at = placed.first;
  const int64_t R = placed.second;
  torch::manual_seed(3);
  const auto ids = torch::randint(2, 500, {n, W}, torch::kInt64);
  auto mask = torch::zeros({n, W}, torch::kInt64);
  auto packed = torch::zeros({R, W}, torch::kInt64), seg = torch::full({R, W}, -1, torch::kInt64);
  for (int64_t s = 0; s < n; ++s) {
    mask[s].narrow(0, 0, len[s]).fill_(1);
    packed[at[s].row].narrow(0, at[s].column, len[s]).copy_(ids[s].narrow(0, 0, len[s]));
    seg[at[s].row].narrow(0, at[s].column, len[s]).fill_(s);
  }
  const auto run = [&](bool pack) {
    return pack ? lm->hidden_states_packed(packed.to(torch::kCUDA), seg.to(torch::kCUDA))
                : lm->hidden_states(ids.to(torch::kCUDA), mask.to(torch::kCUDA), true);
  };
  const auto part = [&](const torch::Tensor& h, bool pack, int64_t s) {
    return pack ? h[at[s].row].narrow(0, at[s].column, len[s]) : h[s].narrow(0, 0, len[s]);
  };
  std::vector<torch::Tensor> real;  // [sequence] -> [len, H]: the padded layout's, no gradients
  {
    torch::NoGradGuard no_grad;
    const auto h = run(false), hp = run(true);
    for (int64_t s = 0; s < n; ++s) {
      real.push_back(part(h, false, s).clone());
      EXPECT_TRUE(torch::equal(part(hp, true, s), real.back()))
          << what << ": sequence " << s << " packed, no gradients: max difference "
          << max_abs(part(hp, true, s), real.back());
    }
  }
  for (const bool checkpointing : {false, true}) {
    lm->set_gradient_checkpointing(checkpointing);
    std::vector<std::vector<torch::Tensor>> grads;
    for (const bool pack : {false, true}) {
      lm->zero_grad();
      const auto h = run(pack);
      torch::Tensor loss = torch::zeros({}, torch::TensorOptions().device(torch::kCUDA));
      for (int64_t s = 0; s < n; ++s) {
        const auto p = part(h, pack, s);
        loss = loss + p.to(torch::kFloat32).pow(2).mean();
        EXPECT_TRUE(torch::equal(p, real[static_cast<size_t>(s)]))
            << what << ": sequence " << s << (pack ? " packed" : " padded")
            << (checkpointing ? ", checkpointing" : "") << ": max difference "
            << max_abs(p, real[static_cast<size_t>(s)]);
      }
      loss.backward();
      grads.emplace_back();
      for (const auto& p : lm->parameters())
        grads.back().push_back(p.grad().defined() ? p.grad().to(torch::kFloat32).clone() : torch::zeros({1}));
    }
    double diff2 = 0, norm2 = 0;
    for (size_t i = 0; i < grads[0].size(); ++i) {
      diff2 += (grads[0][i] - grads[1][i]).pow(2).sum().item<double>();
      norm2 += grads[0][i].pow(2).sum().item<double>();
    }
    EXPECT_GT(norm2, 0.0) << what;
    EXPECT_LE(std::sqrt(diff2), 2e-2 * std::sqrt(norm2)) << what << (checkpointing ? ", checkpointing" : "");
  }
  lm->set_gradient_checkpointing(false);
}

TEST(PackedGpu, PackedRowsGiveThePaddedLayoutsBits) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!kernels::enabled("attention")) GTEST_SKIP() << "no attention kernel in this build (or switched off)";
  if (!compat::set_batch_invariant_gemm(true)) GTEST_SKIP() << "this torch cannot turn split-K off";
  ModelConfig c = qwen25_05b_config();
  c.vocab_size = 512, c.hidden_size = 128, c.intermediate_size = 384, c.num_hidden_layers = 3;
  c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 32;
  CausalLM lm(c, torch::kBFloat16, torch::kCUDA);
  init_random_(lm, 11, 0.1);
  expect_packed_equals_padded(lm, {70, 33, 100, 5}, 110);
  expect_packed_equals_padded(lm, {45, 45, 45}, 110);
  expect_packed_equals_padded(lm, {45, 57, 57, 73, 110, 12}, 110);
  compat::set_batch_invariant_gemm(false);
}

}  // namespace
}  // namespace zerorl::model
