// tests/rollout/engine_test.cpp: the engine against the model's own paths (greedy_generate, a fresh
// teacher-forced forward) and the fixtures' transformers greedy continuations; reproducibility, batch
// independence, stop rules, context limit, weight hook. Not here: sampler statistics (sampling_test.cpp).
#include "rollout/engine.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>

#include "core/error.h"
#include "core/json_io.h"
#include "model/checkpoint.h"
#include "rollout/decode_step.h"
#include "rollout/generate.h"
#include "tests/test_paths.h"

namespace zerorl::rollout {
namespace {

std::string fixture(const std::string& name) { return testing::fixture_dir() + "/models/" + name; }

// The engine's log-probs (cached decode, batched) against a teacher-forced full forward, fp32 CPU: different
// GEMM shapes, so different BLAS kernels and blockings (OpenBLAS chooses per CPU type); they agree to float32
// rounding, which scales with the log-probs (|log p| up to ~6 on the fixtures). Measured: 9.5e-7 absolute
// (Zen 5, OpenBLAS Haswell and SkylakeX kernels).
constexpr double kLogprobRelTol = 1e-5;

// max |a - b| relative to max(1, max |b|).
double max_rel(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>() /
         std::max(1.0, b.to(torch::kFloat64).abs().max().item<double>());
}

std::vector<std::vector<int64_t>> prompts_of(const Json& ref) {
  return ref.at("input_ids").get<std::vector<std::vector<int64_t>>>();
}

GenerateConfig sampling_config(int64_t group, int64_t max_new, uint64_t seed) {
  GenerateConfig c;
  c.sampler.temperature = 0.9;
  c.sampler.top_k = 40;
  c.sampler.top_p = 0.95;
  c.group_size = group;
  c.stop.max_new_tokens = max_new;
  c.stop.ignore_eos = true;
  c.seed = seed;
  return c;
}

class Fixture : public ::testing::TestWithParam<std::string> {};

TEST_P(Fixture, GreedyEqualsModelAndTransformers) {
  auto lm = model::load_model(fixture(GetParam()));
  const Json ref = read_json(fixture(GetParam()) + "/reference.json");
  const auto prompts = prompts_of(ref);
  const auto want = ref.at("greedy_ids").get<std::vector<std::vector<int64_t>>>();
  const int64_t new_tokens = static_cast<int64_t>(want[0].size() - prompts[0].size());
  Engine engine(lm);
  GenerateConfig c;
  c.sampler.temperature = 0.0;
  c.stop.max_new_tokens = new_tokens;
  c.stop.ignore_eos = true;
  auto out = engine.generate(prompts, c);
  const auto model_greedy = model::greedy_generate(lm, prompts, new_tokens);
  ASSERT_EQ(out.samples.size(), prompts.size());
  for (size_t b = 0; b < prompts.size(); ++b) {
    auto full = prompts[b];
    full.insert(full.end(), out.samples[b].tokens.begin(), out.samples[b].tokens.end());
    EXPECT_EQ(full, want[b]) << GetParam() << " row " << b;
    EXPECT_EQ(full, model_greedy[b]) << GetParam() << " row " << b;
    EXPECT_EQ(out.samples[b].finish, FinishReason::kLength);
  }
}

// The engine's T = 1 log-probabilities equal a fresh teacher-forced forward of prompt + sample, and its
// sampling log-probabilities equal the filtered distribution of those logits (fp32 CPU, kLogprobRelTol).
TEST_P(Fixture, LogprobsMatchTeacherForcedForward) {
  auto lm = model::load_model(fixture(GetParam()));
  const auto prompts = prompts_of(read_json(fixture(GetParam()) + "/reference.json"));
  Engine engine(lm);
  const auto config = sampling_config(3, 16, 5);
  auto out = engine.generate(prompts, config);
  torch::NoGradGuard no_grad;
  for (const auto& t : out.samples) {
    auto full = prompts[static_cast<size_t>(t.prompt_index)];
    const auto plen = static_cast<int64_t>(full.size());
    full.insert(full.end(), t.tokens.begin(), t.tokens.end());
    auto logits = lm->forward(torch::tensor(full, torch::kLong).unsqueeze(0))[0];
    auto rows = logits.narrow(0, plen - 1, static_cast<int64_t>(t.tokens.size()));
    auto idx = torch::tensor(t.tokens, torch::kLong).unsqueeze(1);
    auto policy = rows.log_softmax(1).gather(1, idx).squeeze(1);
    auto sampled = sampling_logprobs(rows, config.sampler).gather(1, idx).squeeze(1);
    auto got_policy = torch::tensor(t.logprobs_policy);
    auto got_sampled = torch::tensor(t.logprobs);
    EXPECT_LT(max_rel(got_policy, policy), kLogprobRelTol) << GetParam();
    EXPECT_LT(max_rel(got_sampled, sampled), kLogprobRelTol) << GetParam();
    EXPECT_TRUE(torch::isfinite(got_sampled).all().item<bool>());
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, Fixture, ::testing::Values("tiny-qwen2", "tiny-llama", "tiny-qwen3"));

TEST(Engine, SamplingIsReproducibleAndBatchIndependent) {
  auto lm = model::load_model(fixture("tiny-qwen2"));
  const auto prompts = prompts_of(read_json(fixture("tiny-qwen2") + "/reference.json"));
  const std::vector<std::vector<int64_t>> three = {prompts[0], prompts[1], {5, 6, 7}};
  auto config = sampling_config(4, 12, 42);
  config.prompt_keys = {100, 101, 102};
  auto a = Engine(lm).generate(three, config);
  auto b = Engine(lm).generate(three, config);
  for (size_t i = 0; i < a.samples.size(); ++i) {
    EXPECT_EQ(a.samples[i].tokens, b.samples[i].tokens);
    EXPECT_EQ(a.samples[i].logprobs, b.samples[i].logprobs);  // bitwise: same inputs, same batch
  }
  // Prompt 101 alone, and again through only 3 slots (continuous batching, a split group): the same
  // tokens. Log-probabilities may differ in the last bits (BLAS blocking depends on the batch size).
  auto alone_config = config;
  alone_config.prompt_keys = {101};
  EngineOptions few;
  few.kv_budget.seqs = 3;
  for (auto options : {EngineOptions{}, few}) {
    auto alone = Engine(lm, options).generate({prompts[1]}, alone_config);
    ASSERT_EQ(alone.samples.size(), 4u);
    for (size_t g = 0; g < 4; ++g) {
      const auto& ref = a.samples[4 + g];
      EXPECT_EQ(alone.samples[g].tokens, ref.tokens) << "sample " << g;
      for (size_t t = 0; t < ref.tokens.size(); ++t)
        EXPECT_NEAR(alone.samples[g].logprobs[t], ref.logprobs[t],
                    kLogprobRelTol * std::max(1.0, std::abs(static_cast<double>(ref.logprobs[t]))));
    }
  }
  // One prompt per prefill forward (max_prefill_tokens 1) gives the same tokens.
  EngineOptions chunked;
  chunked.max_prefill_tokens = 1;
  auto c = Engine(lm, chunked).generate(three, config);
  ASSERT_EQ(c.prefills, 3);
  for (size_t i = 0; i < a.samples.size(); ++i)
    EXPECT_EQ(c.samples[i].tokens, a.samples[i].tokens) << "item " << i;
  EXPECT_EQ(a.prefills, 3);  // one prefill per prompt, shared by its 4 samples
  // The G samples of a prompt are not copies of each other.
  EXPECT_NE(a.samples[0].tokens, a.samples[1].tokens);
}

// Detokenizer stand-in: id -> "<id>".
class IdStream : public TextStream {
 public:
  std::string push(int64_t id) override { return "<" + std::to_string(id) + ">"; }
};

TEST(Engine, StopsOnEosStopStringAndLength) {
  auto lm = model::load_model(fixture("tiny-llama"));
  const Json ref = read_json(fixture("tiny-llama") + "/reference.json");
  const auto prompts = prompts_of(ref);
  const auto greedy = ref.at("greedy_ids").get<std::vector<std::vector<int64_t>>>();
  const auto new0 = std::vector<int64_t>(greedy[0].begin() + 12, greedy[0].end());
  EngineOptions options;
  options.detokenizer = [] { return std::make_unique<IdStream>(); };
  Engine engine(lm, options);
  GenerateConfig c;
  c.sampler.temperature = 0.0;
  c.stop.max_new_tokens = 20;
  c.stop.eos_ids = {new0[5]};
  auto out = engine.generate({prompts[0]}, c);
  const auto first_eos = std::find(new0.begin(), new0.end(), new0[5]) - new0.begin();
  EXPECT_EQ(out.samples[0].finish, FinishReason::kEos);
  EXPECT_EQ(static_cast<int64_t>(out.samples[0].tokens.size()), first_eos + 1);
  c.stop.eos_ids = {};
  c.stop.stop = {"<" + std::to_string(new0[3]) + "><" + std::to_string(new0[4]) + ">"};
  out = engine.generate({prompts[0]}, c);
  EXPECT_EQ(out.samples[0].finish, FinishReason::kStop);
  EXPECT_LE(out.samples[0].tokens.size(), 5u);
  EXPECT_EQ(out.samples[0].text.substr(out.samples[0].text.size() - c.stop.stop[0].size()), c.stop.stop[0]);
  c.stop.stop = {};
  c.stop.max_new_tokens = 7;
  out = engine.generate({prompts[0], prompts[1]}, c);
  for (const auto& t : out.samples) {
    EXPECT_EQ(t.finish, FinishReason::kLength);
    EXPECT_EQ(t.tokens.size(), 7u);
  }
}

TEST(Engine, ContextLimitAndBudgetErrors) {
  auto lm = model::load_model(fixture("tiny-qwen2"));
  EngineOptions options;
  options.max_context = 15;
  Engine engine(lm, options);
  GenerateConfig c;
  c.stop.max_new_tokens = 50;
  c.stop.ignore_eos = true;
  auto out = engine.generate({std::vector<int64_t>(12, 3)}, c);
  EXPECT_EQ(out.samples[0].tokens.size(), 3u);  // capped by the context, not by max_new_tokens
  EXPECT_EQ(out.samples[0].finish, FinishReason::kLength);
  try {
    engine.generate({{1, 2}, std::vector<int64_t>(15, 3)}, c);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("prompt row 1"), std::string::npos) << e.what();
  }
  EngineOptions tiny;
  tiny.kv_budget.bytes = 1000;
  tiny.kv_budget.source = "rollout.kv_cache_gb = 1e-06";
  try {  // fails before generating anything, naming the budget and the key
    Engine(lm, tiny).generate({{1, 2, 3}}, c);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rollout.kv_cache_gb = 1e-06"), std::string::npos) << e.what();
  }
}

// The KV budget changes when sequences run, never what they sample: 5 prompts x G = 4 through 3 slots
// (fewer than G: groups split across prefills), through a byte budget of 5 slots (groups wait for room and
// share one prefill) and through 300 slots (all at once) give the same tokens, finish reasons and
// log-probs. Some samples stop early on EOS, so slots free at different steps (continuous batching).
TEST(Engine, ResultsDoNotDependOnTheKvBudget) {
  auto lm = model::load_model(fixture("tiny-qwen2"));
  auto prompts = prompts_of(read_json(fixture("tiny-qwen2") + "/reference.json"));
  prompts.push_back({5, 6, 7});
  prompts.push_back({9, 8, 7, 6, 5, 4, 3, 2, 1});
  prompts.push_back({300, 301});
  auto config = sampling_config(4, 12, 77);
  config.prompt_keys = {10, 11, 12, 13, 14};
  EngineOptions wide;
  wide.kv_budget.seqs = 300;
  const auto probe = Engine(lm, wide).generate(prompts, config);
  config.stop.ignore_eos = false;  // EOS = tokens some samples draw early: they finish at different steps
  for (size_t i = 0; i < 6; ++i) config.stop.eos_ids.push_back(probe.samples[i * 3].tokens[2 + i % 4]);
  Engine all(lm, wide);
  const auto ref = all.generate(prompts, config);
  EXPECT_EQ(all.slots(), 20);
  int64_t early = 0;
  for (const auto& t : ref.samples) early += t.finish == FinishReason::kEos ? 1 : 0;
  EXPECT_GE(early, 3) << "the EOS ids should end some samples early";
  EXPECT_EQ(ref.prefills, 5);
  EngineOptions three, five_slots;
  three.kv_budget.seqs = 3;
  // max_len of the call: longest prompt 12 + 12 new tokens.
  five_slots.kv_budget.bytes = 5 * slot_bytes(kv_shape(lm->config(), lm->dtype()), 24) + 100;
  for (const auto& [options, slots] : {std::pair{three, 3}, std::pair{five_slots, 5}}) {
    Engine engine(lm, options);
    const auto got = engine.generate(prompts, config);
    EXPECT_EQ(engine.slots(), slots);
    if (slots >= 4) {
      EXPECT_EQ(got.prefills, 5) << "a group waits for room and shares one prefill";
    } else {
      EXPECT_GT(got.prefills, 5) << "fewer slots than G: groups split";
    }
    ASSERT_EQ(got.samples.size(), ref.samples.size());
    for (size_t i = 0; i < ref.samples.size(); ++i) {
      const auto &a = got.samples[i], &b = ref.samples[i];
      ASSERT_EQ(a.tokens, b.tokens) << slots << " slots, item " << i;
      EXPECT_EQ(a.finish, b.finish) << slots << " slots, item " << i;
      // float32 GEMMs over 3-5 rows vs 20 may block their K = 64..176 sums differently (OpenBLAS picks
      // kernels by shape): a log-prob may move by a few float32 ulps of the logits, ~1e-6 relative.
      for (size_t t = 0; t < b.tokens.size(); ++t) {
        EXPECT_NEAR(a.logprobs[t], b.logprobs[t], 1e-5 * (1 + std::abs(b.logprobs[t])));
        EXPECT_NEAR(a.logprobs_policy[t], b.logprobs_policy[t], 1e-5 * (1 + std::abs(b.logprobs_policy[t])));
      }
    }
  }
  // Repeated keys would give two prompts the same samples: refused.
  config.prompt_keys = {10, 11, 12, 11, 14};
  EXPECT_THROW(Engine(lm, wide).generate(prompts, config), Error);
}

TEST(Engine, SeesInPlaceWeightUpdates) {
  auto lm = model::load_model(fixture("tiny-qwen3"));
  const std::vector<std::vector<int64_t>> prompts = {{1, 2, 3, 4}};
  Engine engine(lm);
  GenerateConfig c;
  c.sampler.temperature = 0.0;
  c.stop.max_new_tokens = 8;
  auto before = engine.generate(prompts, c);
  {
    torch::NoGradGuard no_grad;
    lm->model->norm->weight.mul_(torch::linspace(-3, 3, lm->model->norm->weight.size(0)));
  }
  auto after = engine.generate(prompts, c);
  auto want = model::greedy_generate(lm, prompts, 8)[0];
  EXPECT_EQ(std::vector<int64_t>(want.begin() + 4, want.end()), after.samples[0].tokens);
  EXPECT_NE(before.samples[0].tokens, after.samples[0].tokens);
}

}  // namespace
}  // namespace zerorl::rollout

namespace zerorl::rollout {
namespace {

// Mean |engine T = 1 logprob - teacher-forced forward logprob| over a run's tokens.
double mean_gap(model::CausalLM& lm, const std::vector<std::vector<int64_t>>& prompts,
                const RolloutResult& out) {
  double sum = 0;
  int64_t n = 0;
  for (const auto& t : out.samples) {
    auto full = prompts[static_cast<size_t>(t.prompt_index)];
    const auto plen = static_cast<int64_t>(full.size());
    full.insert(full.end(), t.tokens.begin(), t.tokens.end());
    auto logits = lm->forward(torch::tensor(full, torch::kLong).unsqueeze(0))[0];
    auto rows = logits.narrow(0, plen - 1, static_cast<int64_t>(t.tokens.size()));
    auto teacher = rows.log_softmax(1).gather(1, torch::tensor(t.tokens).unsqueeze(1)).squeeze(1);
    sum += (torch::tensor(t.logprobs_policy) - teacher).abs().sum().item<double>();
    n += teacher.numel();
  }
  return sum / static_cast<double>(n);
}

// bf16 with the float32 residual stream: the decode step follows the model's setting, and the stream is
// closer to the float32 model than the bf16 default.
TEST(Engine, Float32ResidualIsFollowedByTheDecodeStep) {
  torch::NoGradGuard no_grad;
  const Json ref = read_json(fixture("tiny-qwen2") + "/reference.json");
  const auto prompts = prompts_of(ref);
  auto lm = model::load_model(fixture("tiny-qwen2"), torch::kBFloat16);
  auto lm32 = model::load_model(fixture("tiny-qwen2"), torch::kFloat32);
  auto ids = torch::tensor(prompts[0], torch::kLong).unsqueeze(0);
  auto want = lm32->forward(ids);
  const double err_bf16 = (lm->forward(ids) - want).abs().mean().item<double>();
  const double gap_bf16 = mean_gap(lm, prompts, Engine(lm, {}).generate(prompts, sampling_config(2, 12, 3)));
  lm->set_float32_residual(true);
  const double err_res = (lm->forward(ids) - want).abs().mean().item<double>();
  const double gap_res = mean_gap(lm, prompts, Engine(lm, {}).generate(prompts, sampling_config(2, 12, 3)));
  std::cout << "bf16 logits vs f32 " << err_bf16 << " -> " << err_res << "; engine gap " << gap_bf16 << " -> "
            << gap_res << "\n";
  EXPECT_LT(err_res, err_bf16);
  EXPECT_LT(gap_res, 5e-3);  // measured 3.4e-4 (4.5e-4 without the float32 stream) on x86-64 OpenBLAS
}

// DecodeStep's MLP over zero-padded rows (what batch-invariant CUDA steps of fewer than 128 rows run): the
// same tokens and, to float32 rounding of other GEMM shapes, the same log-probs as the unpadded step, over
// steps that write and read the KV cache. Rows sit at different positions (prompts of 1, 2 and 3 tokens).
TEST(DecodeStepMlpPadding, PaddedRowsChangeNothingButTheGemmShape) {
  torch::NoGradGuard no_grad;
  auto lm = model::load_model(fixture("tiny-qwen2"));
  const std::vector<std::vector<int64_t>> prompts{{11}, {12, 13}, {14, 15, 16}};
  const int64_t rows = 3, steps = 6;
  SamplerParams greedy;
  greedy.temperature = 0.0;
  std::vector<torch::Tensor> out[2];  // per padding: each step's [3, rows] (token, logprob, policy logprob)
  for (int pad = 0; pad < 2; ++pad) {
    auto cache = lm->make_cache(rows, 16);
    DecodeStep step(lm, &cache, /*cuda_graphs=*/false, 64, /*min_mlp_rows=*/pad ? 16 : 0);
    step.begin_call();
    std::vector<int64_t> ids(rows);
    // The prompts' tokens but the last go through the step too (their K/V is what later steps read).
    for (int64_t t = 0; t < 3 + steps; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        const auto& p = prompts[static_cast<size_t>(r)];
        const auto at = static_cast<size_t>(t);
        if (at < p.size()) ids[static_cast<size_t>(r)] = p[at];
      }
      auto res = step.run(ids, std::vector<double>(rows, 0.5), rows, greedy);
      for (int64_t r = 0; r < rows; ++r) {
        ++cache.lengths[static_cast<size_t>(r)];
        if (static_cast<size_t>(t) + 1 >= prompts[static_cast<size_t>(r)].size())
          ids[static_cast<size_t>(r)] = static_cast<int64_t>(res[0][r].item<double>());
      }
      out[pad].push_back(res.narrow(1, 0, rows));
    }
  }
  for (size_t t = 0; t < out[0].size(); ++t) {
    EXPECT_TRUE(torch::equal(out[0][t][0], out[1][t][0])) << "tokens of step " << t;
    EXPECT_LE(max_rel(out[1][t].narrow(0, 1, 2), out[0][t].narrow(0, 1, 2)), kLogprobRelTol) << "step " << t;
  }
  EXPECT_THROW(DecodeStep(lm, nullptr, false, 64, -1), Error);
}

// decode_bucket against a naive reference: the smallest multiple of the bucket (or the capacity) that
// covers `needed`, found by walking up from the bucket.
TEST(DecodeBucket, SmallestCoveringMultipleCappedAtCapacity) {
  for (int64_t bucket : {1, 7, 64, 128, 1000}) {
    for (int64_t capacity : {1, 63, 64, 65, 768, 777}) {
      for (int64_t needed = 1; needed <= capacity; ++needed) {
        int64_t want = bucket;
        while (want < needed) want += bucket;
        want = std::min(want, capacity);
        ASSERT_EQ(decode_bucket(needed, bucket, capacity), want)
            << "needed " << needed << " bucket " << bucket << " capacity " << capacity;
      }
    }
  }
  EXPECT_THROW(decode_bucket(0, 64, 768), Error);
  EXPECT_THROW(decode_bucket(769, 64, 768), Error);
  EXPECT_THROW(decode_bucket(10, 0, 768), Error);
}

// `zerorl generate`'s engine entry: greedy rows equal transformers' greedy_ids; texts are the tokenizer's
// decode of each row; seeded sampling is reproducible; streamed text equals decode of the new tokens.
TEST(GenerateJson, GreedyTextsAndSeededSampling) {
  auto lm = model::load_model(fixture("tiny-qwen2"));
  const Json ref = read_json(fixture("tiny-qwen2") + "/reference.json");
  const auto tok =
      tokenizer::Tokenizer::from_file(testing::data_dir() + "/tokenizers/qwen3/tokenizer.json.gz");
  GenerateRequest req;
  req.prompts = prompts_of(ref);
  req.max_new_tokens = 20;
  auto out = generate_json(lm, req, &tok);
  EXPECT_EQ(out.at("sequences"), ref.at("greedy_ids"));
  for (size_t i = 0; i < 2; ++i) {
    const auto seq = out.at("sequences")[i].get<std::vector<int32_t>>();
    EXPECT_EQ(out.at("texts")[i].get<std::string>(), tok.decode(seq));
    EXPECT_EQ(out.at("finish_reasons")[i], "length");
  }
  req.temperature = 1.0, req.top_p = 0.9, req.seed = 3, req.num_samples = 2;
  auto a = generate_json(lm, req, nullptr), b = generate_json(lm, req, nullptr);
  EXPECT_EQ(a.at("sequences").size(), 4u);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.contains("texts"));

  EngineOptions options;
  options.detokenizer = stream_detokenizer(tok);
  auto run = Engine(lm, options).generate(req.prompts, sampling_config(2, 20, 9));
  for (const auto& t : run.samples) {
    EXPECT_EQ(t.text, tok.decode(std::vector<int32_t>(t.tokens.begin(), t.tokens.end())));
  }
}

}  // namespace
}  // namespace zerorl::rollout
