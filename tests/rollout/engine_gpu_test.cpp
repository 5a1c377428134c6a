// tests/rollout/engine_gpu_test.cpp (label gpu): the CUDA decode step, replayed as a CUDA graph and run
// eagerly, against the fixtures' transformers greedy continuations and a teacher-forced forward.
// Not here: CPU behaviour (engine_test.cpp). Skips without CUDA.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "compat/torch_compat.h"
#include "core/json_io.h"
#include "model/checkpoint.h"
#include "rollout/engine.h"
#include "tests/test_paths.h"

namespace zerorl::rollout {
namespace {

std::string fixture(const std::string& name) { return testing::fixture_dir() + "/models/" + name; }

double mean_logprob_gap(model::CausalLM& lm, const std::vector<std::vector<int64_t>>& prompts,
                        const RolloutResult& run) {
  torch::NoGradGuard no_grad;
  double sum = 0;
  int64_t n = 0;
  for (const auto& t : run.samples) {
    auto full = prompts[static_cast<size_t>(t.prompt_index)];
    const auto plen = static_cast<int64_t>(full.size());
    full.insert(full.end(), t.tokens.begin(), t.tokens.end());
    auto logits = lm->forward(torch::tensor(full, torch::kLong).unsqueeze(0))[0].to(torch::kFloat).cpu();
    auto rows = logits.narrow(0, plen - 1, static_cast<int64_t>(t.tokens.size()));
    auto ref = rows.log_softmax(1).gather(1, torch::tensor(t.tokens, torch::kLong).unsqueeze(1)).squeeze(1);
    sum += (torch::tensor(t.logprobs_policy) - ref).abs().sum().item<double>();
    n += ref.numel();
  }
  return sum / static_cast<double>(n);
}

class Gpu : public ::testing::TestWithParam<bool> {};  // param: CUDA graphs on

TEST_P(Gpu, GreedyAndLogprobsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA";
  const Json ref = read_json(fixture("tiny-qwen2") + "/reference.json");
  const auto prompts = ref.at("input_ids").get<std::vector<std::vector<int64_t>>>();
  const auto want = ref.at("greedy_ids").get<std::vector<std::vector<int64_t>>>();
  auto lm = model::load_model(fixture("tiny-qwen2"), torch::kFloat32, torch::kCUDA);
  EngineOptions options;
  options.cuda_graphs = GetParam();
  Engine engine(lm, options);
  GenerateConfig c;
  c.sampler.temperature = 0.0;
  c.stop.max_new_tokens = 20;
  auto out = engine.generate(prompts, c);
  EXPECT_EQ(engine.cuda_graph_active(), GetParam() && cuda_graphs_compiled());
  for (size_t b = 0; b < prompts.size(); ++b) {
    auto full = prompts[b];
    full.insert(full.end(), out.samples[b].tokens.begin(), out.samples[b].tokens.end());
    EXPECT_EQ(full, want[b]) << "row " << b;
  }
  c.sampler.temperature = 1.0, c.group_size = 4, c.seed = 11;
  auto sampled = engine.generate(prompts, c);
  EXPECT_LT(mean_logprob_gap(lm, prompts, sampled), 1e-4);
  auto again = Engine(lm, options).generate(prompts, c);
  for (size_t i = 0; i < sampled.samples.size(); ++i)
    EXPECT_EQ(sampled.samples[i].tokens, again.samples[i].tokens);
  // bf16: with batch-invariant GEMMs (EngineOptions default, torch >= 2.10) the decode step and the
  // teacher-forced forward compute the same logits, so log-probs agree to float32 rounding of the log-softmax
  // (measured 4e-8); without them the gap is bf16 rounding, ~1e-2 on 0.5B shapes.
  auto lm16 = model::load_model(fixture("tiny-qwen2"), torch::kBFloat16, torch::kCUDA);
  auto run16 = Engine(lm16, options).generate(prompts, c);
  const double gap16 = mean_logprob_gap(lm16, prompts, run16);
  std::cout << "bf16 mean |logprob engine - teacher forced| = " << gap16 << " (graphs " << GetParam()
            << ")\n";
  if (compat::kHasSplitKControl) {
    EXPECT_LT(gap16, 1e-6);
  } else {
    EXPECT_LT(gap16, 5e-2);
  }
}

INSTANTIATE_TEST_SUITE_P(Graphs, Gpu, ::testing::Values(false, true));

// The bucketed-graph tests' run: the tiny-qwen2 fixture's prompts and float32 model on CUDA, 3 samples a
// prompt of 40 new tokens at T = 1, a graph every 8 positions (one generate crosses several buckets).
struct BucketedRun {
  std::vector<std::vector<int64_t>> prompts;
  model::CausalLM lm{nullptr};
  GenerateConfig config;
  EngineOptions options;
};
BucketedRun bucketed_run() {
  BucketedRun r;
  const Json ref = read_json(fixture("tiny-qwen2") + "/reference.json");
  r.prompts = ref.at("input_ids").get<std::vector<std::vector<int64_t>>>();
  r.lm = model::load_model(fixture("tiny-qwen2"), torch::kFloat32, torch::kCUDA);
  r.config.sampler.temperature = 1.0, r.config.group_size = 3, r.config.seed = 5;
  r.config.stop.max_new_tokens = 40, r.config.stop.ignore_eos = true;
  r.options.cuda_graph_bucket = 8;
  return r;
}

// Per-length-bucket graphs (a small bucket, so one generate crosses several) against the eager step, which
// attends over exactly the live length: same tokens, logprobs equal to teacher forcing (float32).
TEST(GpuBuckets, BucketedGraphsMatchEager) {
  if (!torch::cuda::is_available() || !cuda_graphs_compiled()) GTEST_SKIP() << "no CUDA graphs";
  auto [prompts, lm, c, options] = bucketed_run();
  Engine bucketed(lm, options);
  auto a = bucketed.generate(prompts, c);
  EXPECT_GE(bucketed.cuda_graphs_captured(), 4);
  options.cuda_graphs = false;
  auto b = Engine(lm, options).generate(prompts, c);
  int64_t same = 0, total = 0;
  for (size_t i = 0; i < a.samples.size(); ++i) {
    for (size_t t = 0; t < a.samples[i].tokens.size(); ++t) {
      same += a.samples[i].tokens[t] == b.samples[i].tokens[t], ++total;
    }
  }
  EXPECT_GE(static_cast<double>(same) / static_cast<double>(total), 0.98) << same << " of " << total;
  EXPECT_LT(mean_logprob_gap(lm, prompts, a), 1e-4);
  const int64_t captured = bucketed.cuda_graphs_captured();
  auto again = bucketed.generate(prompts, c);  // graphs reused: no new capture, same tokens
  EXPECT_EQ(bucketed.cuda_graphs_captured(), captured);
  for (size_t i = 0; i < a.samples.size(); ++i) EXPECT_EQ(a.samples[i].tokens, again.samples[i].tokens);
}

// A thread pinning host memory while the engine captures its graphs, as the checkpoint writer does while
// the first rollouts run (trainer/checkpoint_saver.h, reserve): the captures must hold (no fallback to eager
// decoding) and every allocation succeed. A capture in CUDA's global mode refuses capture-unsafe calls on
// other threads and is invalidated by them; on an H100 (2026-12-07) cudaHostAlloc was not among them: 1,024
// pinned blocks of 1 MiB, taken one after another from before generate() to its end, left all 6 captures
// standing. An overlap with each ~6 ms capture window is likely, not certain.
TEST(GpuBuckets, CapturesHoldWhileAnotherThreadPinsHostMemory) {
  if (!torch::cuda::is_available() || !cuda_graphs_compiled()) GTEST_SKIP() << "no CUDA graphs";
  auto [prompts, lm, c, options] = bucketed_run();
  Engine engine(lm, options);
  std::atomic<bool> stop{false}, started{false};
  std::atomic<int> pinned{0};
  std::string error;
  std::thread pinner([&] {
    std::vector<torch::Tensor> kept;
    try {
      while (!stop && kept.size() < 1024) {  // at most 1 GiB
        kept.push_back(
            torch::empty({1 << 20}, torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(true)));
        ++pinned, started = true;
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    started = true;
  });
  while (!started) std::this_thread::yield();
  const auto out = engine.generate(prompts, c);
  stop = true;
  pinner.join();
  EXPECT_EQ(error, "");
  EXPECT_GT(pinned.load(), 0);
  EXPECT_TRUE(engine.cuda_graph_active()) << "a capture failed and the engine decodes eagerly";
  EXPECT_GE(engine.cuda_graphs_captured(), 4);
  EXPECT_EQ(out.samples.size(), prompts.size() * 3);
}

// Graphs of every length bucket share one memory pool, served from the longest step's blocks: many buckets
// cost about what one graph over the whole cache costs. (Captured shortest-first, each longer step needed
// blocks a little larger than any freed one: the 1.5B recipe's eval grew the pool by ~2.6 GiB per bucket
// until the H200 ran out.)
TEST(GpuBuckets, AllBucketsShareThePoolOfTheLongestStep) {
  if (!torch::cuda::is_available() || !cuda_graphs_compiled()) GTEST_SKIP() << "no CUDA graphs";
  const Json ref = read_json(fixture("tiny-qwen2") + "/reference.json");
  const auto prompts = ref.at("input_ids").get<std::vector<std::vector<int64_t>>>();
  auto lm = model::load_model(fixture("tiny-qwen2"), torch::kFloat32, torch::kCUDA);
  GenerateConfig c;
  c.sampler.temperature = 1.0, c.group_size = 128, c.seed = 7;  // hundreds of slots: MiB-sized workspaces
  c.stop.max_new_tokens = 256, c.stop.ignore_eos = true;
  EngineOptions options;
  options.cuda_graph_bucket = 16;
  Engine many(lm, options);
  many.generate(prompts, c);
  options.cuda_graph_bucket = 1 << 20;  // one bucket: every step attends over the whole cache
  Engine one(lm, options);
  one.generate(prompts, c);
  ASSERT_EQ(one.cuda_graphs_captured(), 1);
  ASSERT_GE(many.cuda_graphs_captured(), 10);
  ASSERT_GT(one.cuda_graph_pool_bytes(), 0);
  // Slack: each graph keeps its [3, slots] float64 output (small-block segments of 2 MiB).
  EXPECT_LE(many.cuda_graph_pool_bytes(), one.cuda_graph_pool_bytes() * 3 / 2 + (8 << 20))
      << many.cuda_graphs_captured() << " graphs vs one";
}

// The KV budget decides when sequences run, not what they sample: 3 slots (groups split across prefills)
// and 300 give the same tokens and log-probs on CUDA (graphs on). In bf16 with batch-invariant GEMMs a
// row's logits do not depend on how many rows share the step (torch >= 2.10): equal to float32 rounding
// of the log-softmax; elsewhere the tokens must still agree almost everywhere.
TEST(GpuBudget, ThreeSlotsAndThreeHundredSampleAlike) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA";
  auto prompts = read_json(fixture("tiny-qwen2") + "/reference.json")
                     .at("input_ids")
                     .get<std::vector<std::vector<int64_t>>>();
  prompts.push_back({5, 6, 7});
  prompts.push_back({9, 8, 7, 6, 5, 4, 3, 2, 1});
  GenerateConfig c;
  c.sampler.temperature = 1.0, c.group_size = 4, c.seed = 21;
  c.stop.max_new_tokens = 24, c.stop.ignore_eos = true;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto lm = model::load_model(fixture("tiny-qwen2"), dtype, torch::kCUDA);
    EngineOptions three, wide;
    three.kv_budget.seqs = 3, wide.kv_budget.seqs = 300;
    const auto a = Engine(lm, three).generate(prompts, c), b = Engine(lm, wide).generate(prompts, c);
    ASSERT_EQ(a.samples.size(), b.samples.size());
    int64_t same = 0, total = 0;
    double worst = 0;
    for (size_t i = 0; i < a.samples.size(); ++i) {
      for (size_t t = 0; t < a.samples[i].tokens.size(); ++t) {
        same += a.samples[i].tokens[t] == b.samples[i].tokens[t], ++total;
        if (a.samples[i].tokens[t] != b.samples[i].tokens[t]) break;  // the rest of the row diverged
        worst = std::max<double>(worst,
                                 std::abs(a.samples[i].logprobs_policy[t] - b.samples[i].logprobs_policy[t]));
      }
    }
    std::cout << (dtype == torch::kFloat32 ? "f32" : "bf16") << ": " << same << " of " << total
              << " tokens equal, max |logprob diff| " << worst << "\n";
    if (dtype == torch::kBFloat16 && compat::kHasSplitKControl) {
      EXPECT_EQ(same, total);
      EXPECT_LT(worst, 1e-5);
    } else {
      EXPECT_GE(static_cast<double>(same) / static_cast<double>(total), 0.98);
    }
  }
}

}  // namespace
}  // namespace zerorl::rollout
