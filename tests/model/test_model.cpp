// tests/model/test_model.cpp: decoder parity with transformers (tests/fixtures/models), cached decode == full
// forward, padded batches == rows alone, llama3 RoPE vs a naive formula, checkpoint round trips, dtype casts.
// Not here: safetensors parsing and config errors (test_safetensors.cpp, test_config.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "tests/model/linear_float32_check.h"
#include "tests/model/parity_tolerance.h"
#include "tests/test_paths.h"

namespace zerorl::model {
namespace {

namespace fs = std::filesystem;
// Cached decode == full forward, padded batch == rows alone, fp32 CPU: the paths run GEMMs of different
// shapes, for which BLAS picks different kernels and blockings (OpenBLAS: per CPU type), so they agree to
// float32 rounding relative to the logits' scale. Measured: up to 6.7e-7 relative (Zen 5, Haswell and
// SkylakeX kernels); a wrong mask or position is off by O(0.1).
constexpr double kCacheRelTol = 1e-5;

std::string fixture_dir(const std::string& name) { return testing::fixture_dir() + "/models/" + name; }

torch::Tensor to_tensor2d(const Json& rows, torch::Dtype dtype) {
  std::vector<torch::Tensor> out;
  for (const auto& r : rows)
    out.push_back(torch::tensor(r.get<std::vector<double>>(), torch::kFloat64).to(dtype));
  return torch::stack(out);
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// max |a - b| relative to the scale of the reference b: max(1, max |b|).
double max_rel(const torch::Tensor& a, const torch::Tensor& b) {
  return max_abs(a, b) / std::max(1.0, b.to(torch::kFloat64).abs().max().item<double>());
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, MatchesTransformersReference) {
  torch::NoGradGuard no_grad;
  const Json ref = read_json(fixture_dir(GetParam()) + "/reference.json");
  auto lm = load_model(fixture_dir(GetParam()));
  auto ids = to_tensor2d(ref["input_ids"], torch::kInt64);
  auto logits = lm->forward(ids);
  const int64_t T = ids.size(1);
  const auto want_last = to_tensor2d(ref["logits_last"], torch::kFloat64);
  const double scale = want_last.abs().max().item<double>();
  const double err_last = max_abs(logits.select(1, T - 1), want_last);
  const double err_sum = max_abs(logits.sum(-1), to_tensor2d(ref["logits_sum"], torch::kFloat64));
  EXPECT_LE(err_last, testing::parity_logit_tol(scale)) << "max |logit| " << scale;
  EXPECT_LE(err_sum, testing::parity_sum_tol(scale, logits.size(-1))) << "max |logit| " << scale;
  std::vector<std::vector<int64_t>> prompts;
  for (const auto& r : ref["input_ids"]) prompts.push_back(r.get<std::vector<int64_t>>());
  const auto greedy = greedy_generate(lm, prompts, 20);
  for (size_t b = 0; b < prompts.size(); ++b) {
    EXPECT_EQ(greedy[b], ref["greedy_ids"][b].get<std::vector<int64_t>>()) << "row " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity, ::testing::Values("tiny-qwen2", "tiny-llama", "tiny-qwen3"));

// A fixture's config with edits, random weights (norm weights and biases perturbed too).
struct Variant {
  const char* name;
  const char* fixture;
  Json edits;
};

CausalLM random_model(const Variant& v, uint64_t seed) {
  Json j = read_json(fixture_dir(v.fixture) + "/config.json");
  for (const auto& [k, val] : v.edits.items()) j[k] = val;
  CausalLM lm(parse_config(j, v.name));
  init_random_(lm, seed, 0.05);
  torch::NoGradGuard no_grad;
  for (auto& p : lm->named_parameters()) {
    if (p.value().dim() == 1) p.value().add_(torch::randn(p.value().sizes()) * 0.1);
  }
  return lm;
}

const std::vector<Variant>& variants() {
  static const std::vector<Variant> v = {
      {"qwen2_untied", "tiny-qwen2", {{"tie_word_embeddings", false}}},
      {"qwen2_head_dim_24", "tiny-qwen2", {{"head_dim", 24}}},
      {"llama_single_kv_head", "tiny-llama", {{"num_key_value_heads", 1}}},
      {"llama_llama3_rope",
       "tiny-llama",
       {{"rope_parameters",
         {{"rope_theta", 10000.0},
          {"rope_type", "llama3"},
          {"factor", 8.0},
          {"low_freq_factor", 1.0},
          {"high_freq_factor", 4.0},
          {"original_max_position_embeddings", 16}}}}},
      {"llama_biases", "tiny-llama", {{"attention_bias", true}, {"mlp_bias", true}}},
      {"qwen3_mha", "tiny-qwen3", {{"num_key_value_heads", 4}}},
  };
  return v;
}

class Variants : public ::testing::TestWithParam<size_t> {};

TEST_P(Variants, CachedDecodeEqualsFullForward) {
  torch::NoGradGuard no_grad;
  const Variant& v = variants()[GetParam()];
  torch::manual_seed(1);
  auto lm = random_model(v, 7 + GetParam());
  auto ids = torch::randint(0, 512, {2, 15}, torch::kInt64);
  auto full = lm->forward(ids);
  auto cache = lm->make_cache(2, 15);
  auto pre = lm->forward_cached(ids.narrow(1, 0, 5), {0, 1}, cache, {}, /*all_logits=*/true);
  EXPECT_LE(max_rel(pre, full.narrow(1, 0, 5)), kCacheRelTol) << v.name;
  for (int64_t t = 5; t < 15; ++t) {
    auto step = lm->forward_cached(ids.narrow(1, t, 1), {0, 1}, cache);
    EXPECT_LE(max_rel(step, full.select(1, t)), kCacheRelTol) << v.name << " position " << t;
  }
  EXPECT_EQ(cache.lengths, (std::vector<int64_t>{15, 15}));
}

TEST_P(Variants, PaddedBatchEqualsRowsAlone) {
  torch::NoGradGuard no_grad;
  const Variant& v = variants()[GetParam()];
  torch::manual_seed(2);
  auto lm = random_model(v, 11 + GetParam());
  const std::vector<int64_t> lens = {12, 5, 9};
  const int64_t T = 12, B = 3;
  std::vector<torch::Tensor> rows, alone;
  for (int64_t n : lens) {
    rows.push_back(torch::randint(0, 512, {n}, torch::kInt64));
    alone.push_back(lm->forward(rows.back().view({1, n})).squeeze(0));
  }
  for (bool left : {true, false}) {
    auto ids = torch::full({B, T}, 3, torch::kInt64);
    auto mask = torch::zeros({B, T}, torch::kInt64);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = lens[static_cast<size_t>(b)], off = left ? T - n : 0;
      ids[b].narrow(0, off, n).copy_(rows[static_cast<size_t>(b)]);
      mask[b].narrow(0, off, n).fill_(1);
    }
    auto out = lm->forward(ids, mask);
    ASSERT_FALSE(out.isnan().any().item<bool>()) << v.name;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = lens[static_cast<size_t>(b)], off = left ? T - n : 0;
      EXPECT_LE(max_rel(out[b].narrow(0, off, n), alone[static_cast<size_t>(b)]), kCacheRelTol)
          << v.name << (left ? " left" : " right") << " row " << b;
    }
  }
  // The cache path: right-padded prefill into scattered slots, then decode steps, vs the rows alone.
  auto cache = lm->make_cache(4, 16);
  auto ids = torch::zeros({B, T}, torch::kInt64);
  for (int64_t b = 0; b < B; ++b)
    ids[b].narrow(0, 0, lens[static_cast<size_t>(b)]).copy_(rows[static_cast<size_t>(b)]);
  const std::vector<int64_t> slots = {3, 0, 2};
  auto last = lm->forward_cached(ids, slots, cache, lens);
  for (int64_t b = 0; b < B; ++b) {
    EXPECT_LE(max_rel(last[b], alone[static_cast<size_t>(b)][lens[static_cast<size_t>(b)] - 1]), kCacheRelTol)
        << v.name;
  }
  for (int step = 0; step < 3; ++step) {
    auto next = torch::randint(0, 512, {B, 1}, torch::kInt64);
    auto got = lm->forward_cached(next, slots, cache);
    for (int64_t b = 0; b < B; ++b) {
      rows[static_cast<size_t>(b)] = torch::cat({rows[static_cast<size_t>(b)], next[b]});
      const auto& r = rows[static_cast<size_t>(b)];
      auto want = lm->forward(r.view({1, -1})).select(1, r.size(0) - 1).squeeze(0);
      EXPECT_LE(max_rel(got[b], want), kCacheRelTol) << v.name << " decode step " << step << " row " << b;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, Variants, ::testing::Range<size_t>(0, 6));

TEST(Training, ForwardIsDifferentiableInEveryParameter) {
  const Variant v = {"qwen3_untied", "tiny-qwen3", {{"tie_word_embeddings", false}}};
  auto lm = random_model(v, 5);
  auto ids = torch::randint(0, 512, {2, 6}, torch::kInt64);
  auto mask = torch::ones({2, 6}, torch::kInt64);
  mask[1][0] = 0;  // one left-padded row
  auto logp = torch::log_softmax(lm->forward(ids, mask).narrow(1, 0, 5), -1);
  auto nll = -logp.gather(-1, ids.narrow(1, 1, 5).unsqueeze(-1)).mean();
  nll.backward();
  for (const auto& p : lm->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

// Gradient checkpointing (model/recompute.h) recomputes each layer in backward: the gradients of every
// parameter must equal the plain backward's (fp32, kRecomputeRelTol), on a left-padded batch, for each
// variant. The recomputation runs the same ops on the same shapes as the plain forward, so on CPU the
// gradients come out equal (measured: bitwise, both OpenBLAS kernel families); the bound is relative to each
// gradient's largest entry (they reach |g| ~ 200 here), in case a kernel's threading splits a reduction
// differently.
constexpr double kRecomputeRelTol = 1e-6;

TEST_P(Variants, GradientCheckpointingGivesTheSameGradients) {
  const Variant& v = variants()[GetParam()];
  auto lm = random_model(v, 11);
  auto ids = torch::randint(0, 512, {3, 7}, torch::kInt64);
  auto mask = torch::ones({3, 7}, torch::kInt64);
  mask[1].narrow(0, 0, 2).zero_();  // left padding
  const auto weights = torch::randn({3, 7, lm->config().vocab_size});
  auto grads = [&](bool checkpointing) {
    lm->set_gradient_checkpointing(checkpointing);
    lm->zero_grad();
    (lm->forward(ids, mask) * weights).sum().backward();
    std::map<std::string, torch::Tensor> out;
    for (const auto& p : lm->named_parameters()) out[p.key()] = p.value().grad().clone();
    return out;
  };
  const auto plain = grads(false), recomputed = grads(true);
  for (const auto& [name, g] : plain) {
    ASSERT_TRUE(recomputed.at(name).defined()) << v.name << " " << name;
    EXPECT_LE(max_rel(recomputed.at(name), g), kRecomputeRelTol) << v.name << " " << name;
  }
  EXPECT_GT(plain.at("model.layers.0.mlp.up_proj.weight").abs().sum().item<double>(), 0.0);
  {
    torch::NoGradGuard ng;  // no-grad forwards ignore the switch
    lm->set_gradient_checkpointing(true);
    const auto with = lm->forward(ids, mask);
    lm->set_gradient_checkpointing(false);
    EXPECT_EQ(max_abs(with, lm->forward(ids, mask)), 0.0);
  }
}

TEST(LinearFloat32, Bf16InputsGiveUnroundedFloat32LogitsAndGradients) {
  checks::check_linear_float32(torch::kCPU);
}

TEST(Rope, Llama3InvFreqMatchesNaiveFormula) {
  Json j = read_json(fixture_dir("tiny-llama") + "/config.json");
  j["head_dim"] = 128;
  j["rope_parameters"] = {{"rope_theta", 500000.0},  {"rope_type", "llama3"},
                          {"factor", 8.0},           {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  auto got = rope_inv_freq(parse_config(j));
  for (int64_t i = 0; i < 64; ++i) {  // Llama 3.1 paper's scaling, written per frequency in double
    const double f = 1.0 / std::pow(500000.0, 2.0 * i / 128), wavelen = 2 * M_PI / f;
    double want = f;
    if (wavelen > 8192.0 / 1.0) {
      want = f / 8.0;
    } else if (wavelen >= 8192.0 / 4.0) {
      const double s = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      want = (1 - s) * f / 8.0 + s * f;
    }
    EXPECT_NEAR(got[i].item<double>() / want, 1.0, 1e-5) << i;
  }
}

TEST(Checkpoint, RoundTripIsBitIdenticalSingleShardedAndBf16) {
  torch::NoGradGuard no_grad;
  const fs::path tmp = fs::temp_directory_path() / ("zrl_ckpt_" + std::to_string(::getpid()));
  zerorl::remove_tree(tmp);
  fs::create_directories(tmp / "tok");
  write_file_atomic((tmp / "tok" / "tokenizer.json").string(), "{}");
  for (const char* name : {"tiny-qwen2", "tiny-llama", "tiny-qwen3"}) {
    for (torch::Dtype dtype : {torch::kFloat32, torch::kBFloat16}) {
      auto a = load_model(fixture_dir(name), dtype);
      SaveOptions opts;
      opts.tokenizer_dir = (tmp / "tok").string();
      opts.generation_config_from = fixture_dir(name);
      opts.max_shard_bytes = dtype == torch::kFloat32 ? 200000 : (1u << 30);  // f32: sharded
      const fs::path out = tmp / name;
      save_model(a, out.string(), opts);
      EXPECT_EQ(fs::exists(out / "model.safetensors.index.json"), dtype == torch::kFloat32) << name;
      EXPECT_TRUE(fs::exists(out / "tokenizer.json"));
      EXPECT_TRUE(fs::exists(out / "generation_config.json"));
      EXPECT_EQ(load_config((out / "config.json").string()).dtype, dtype_to_hf(dtype));
      SafetensorsCheckpoint ck(out.string());
      EXPECT_EQ(ck.contains("lm_head.weight"), !a->config().tie_word_embeddings);
      auto b = load_model(out.string(), dtype);
      auto pa = a->named_parameters(), pb = b->named_parameters();
      ASSERT_EQ(pa.size(), pb.size());
      for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << name << " " << p.key();
      zerorl::remove_tree(out);
    }
  }
  zerorl::remove_tree(tmp);
}

// The vendored tokenizers (data/tokenizers/*) are gzipped; a saved Hugging Face folder gets them plain.
TEST(Checkpoint, GzippedTokenizerFilesAreSavedPlain) {
  torch::NoGradGuard no_grad;
  const fs::path tmp = fs::temp_directory_path() / ("zrl_gztok_" + std::to_string(::getpid()));
  zerorl::remove_tree(tmp);
  auto m = load_model(fixture_dir("tiny-qwen2"), torch::kFloat32);
  SaveOptions opts;
  opts.tokenizer_dir = testing::data_dir() + "/tokenizers/qwen3";
  save_model(m, tmp.string(), opts);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    ASSERT_TRUE(fs::exists(tmp / f)) << f;
    EXPECT_FALSE(fs::exists(tmp / (std::string(f) + ".gz"))) << f;
    // read_file inflates the .gz: the saved plain file must hold the same bytes, and parse as JSON.
    const std::string plain = read_file((tmp / f).string());
    EXPECT_EQ(plain, read_file(opts.tokenizer_dir + "/" + f + ".gz")) << f;
    EXPECT_NO_THROW(parse_json(plain, f)) << f;
  }
  zerorl::remove_tree(tmp);
}

TEST(Checkpoint, HalfPrecisionFilesLoadIntoFloat32Exactly) {
  torch::NoGradGuard no_grad;
  const fs::path tmp = fs::temp_directory_path() / ("zrl_half_" + std::to_string(::getpid()));
  for (torch::Dtype dtype : {torch::kBFloat16, torch::kFloat16}) {
    auto half = load_model(fixture_dir("tiny-qwen3"), dtype);
    save_model(half, tmp.string());
    EXPECT_EQ(SafetensorsCheckpoint(tmp.string()).get("model.norm.weight").dtype,
              dtype == torch::kBFloat16 ? DType::kBF16 : DType::kF16);
    auto f32 = load_model(tmp.string(), torch::kFloat32);
    auto ph = half->named_parameters();
    for (const auto& p : f32->named_parameters()) {
      EXPECT_EQ(p.value().scalar_type(), torch::kFloat32);
      EXPECT_TRUE(torch::equal(p.value(), ph[p.key()].to(torch::kFloat32))) << p.key();
    }
    zerorl::remove_tree(tmp);
  }
}

TEST(Checkpoint, Bf16LoadIsCloseToF32AndErrorsNameTensors) {
  torch::NoGradGuard no_grad;
  auto ids = torch::arange(1, 20, torch::kInt64).view({1, -1});
  auto f32 = load_model(fixture_dir("tiny-llama"))->forward(ids);
  auto bf16 = load_model(fixture_dir("tiny-llama"), torch::kBFloat16)->forward(ids).to(torch::kFloat32);
  EXPECT_EQ(load_model(fixture_dir("tiny-llama"), torch::kBFloat16)->model->norm->weight.scalar_type(),
            torch::kBFloat16);
  const double rel = ((bf16 - f32).norm() / f32.norm()).item<double>();
  EXPECT_LT(rel, 2e-2);
  EXPECT_GT(rel, 0.0);  // it really ran in bf16
  Json j = read_json(fixture_dir("tiny-llama") + "/config.json");
  j["tie_word_embeddings"] = true;  // then lm_head.weight is an unused, different tensor
  CausalLM lm(parse_config(j));
  try {
    load_weights(lm, SafetensorsCheckpoint(fixture_dir("tiny-llama")));
    FAIL() << "expected an error";
  } catch (const zerorl::Error& e) {
    EXPECT_NE(std::string(e.what()).find("lm_head.weight"), std::string::npos) << e.what();
  }
  j["num_hidden_layers"] = 3;
  CausalLM deeper(parse_config(j));
  try {
    load_weights(deeper, SafetensorsCheckpoint(fixture_dir("tiny-llama")));
    FAIL() << "expected an error";
  } catch (const zerorl::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.2."), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zerorl::model
