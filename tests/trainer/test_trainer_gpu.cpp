// tests/trainer/test_trainer_gpu.cpp: the trainer computing in bf16 with fp32 master weights: the bf16
// weights are the masters rounded, checkpoints hold the fp32 masters, resume restores them bit for bit and
// continues the run identically. On CPU with model.dtype = bfloat16 (test_trainer_bf16, unit), on CUDA with
// model.dtype = auto (label gpu; skips without a device). Not here: the master arithmetic
// (test_mixed_precision).
#include <gtest/gtest.h>

#include <filesystem>

#include "compat/torch_compat.h"
#include "core/files.h"
#include "model/checkpoint.h"
#include "rollout/engine.h"
#include "tests/test_paths.h"
#include "tests/trainer/rollout_batch.h"
#include "trainer/step.h"
#include "trainer/update.h"

namespace zerorl::trainer {
namespace {

namespace fs = std::filesystem;

Config tiny_config(const std::string& out, bool cuda) {
  Config cfg;
  config::load_yaml_file(cfg, testing::source_dir() + "/configs/tiny_test.yaml");
  cfg.run.output_dir = out;
  cfg.run.device = cuda ? "cuda" : "cpu";
  cfg.model.dtype = cuda ? "auto" : "bfloat16";
  cfg.model.gradient_checkpointing = true;
  cfg.trainer.steps = 3, cfg.trainer.save_every = 0, cfg.trainer.tensorboard = false;
  cfg.algo.old_logprobs = "recompute";  // the checks read rollout_logprob_diff: only a recompute measures it
  return cfg;
}

void expect_equal_params(model::CausalLM& a, model::CausalLM& b, const char* what) {
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << what << " " << p.key();
}

void run_bf16_with_masters(bool cuda) {
  const std::string out =
      (fs::temp_directory_path() / (cuda ? "zerorl_bf16_cuda" : "zerorl_bf16_cpu")).string();
  zerorl::remove_tree(out), zerorl::remove_tree(out + "_resumed");
  const Config cfg = tiny_config(out, cuda);
  Trainer t(cfg, dist::Context{});
  t.start("");
  ASSERT_EQ(t.model()->dtype(), torch::kBFloat16);
  ASSERT_NE(t.masters(), nullptr);
  ASSERT_EQ(t.masters()->dtype(), torch::kFloat32);
  for (int i = 0; i < 2; ++i) t.step();
  auto compute = t.model()->parameters();
  auto masters = t.masters()->parameters();
  double fp32_only = 0;
  for (size_t i = 0; i < compute.size(); ++i) {
    EXPECT_TRUE(torch::equal(compute[i], masters[i].to(torch::kBFloat16))) << "param " << i;
    fp32_only += (masters[i] - compute[i].to(torch::kFloat32)).abs().sum().item<double>();
  }
  EXPECT_GT(fp32_only, 0.0) << "the masters must carry precision the bf16 weights do not";
  t.save_checkpoint();
  const std::string ck = out + "/checkpoints/step_2";
  auto saved = model::load_model(ck, torch::kFloat32, t.model()->device());
  expect_equal_params(saved, t.masters()->masters(), "saved");
  Config cfg2 = cfg;
  cfg2.run.output_dir = out + "_resumed";
  Trainer r(cfg2, dist::Context{});
  r.start(ck);
  expect_equal_params(r.masters()->masters(), t.masters()->masters(), "resumed masters");
  expect_equal_params(r.model(), t.model(), "resumed bf16 weights");
  const Json a = t.step(), b = r.step();
  if (!cuda) {  // CPU kernels are deterministic: the continued runs agree bit for bit
    EXPECT_EQ(a["reward_mean"], b["reward_mean"]) << "the same weights sample the same answers";
    EXPECT_EQ(a["grad_norm"], b["grad_norm"]);
    expect_equal_params(r.masters()->masters(), t.masters()->masters(), "step 3 masters");
  } else {  // a fresh engine decodes eagerly once before its CUDA graph: rare bf16 token flips allowed
    EXPECT_NEAR(a["reward_mean"].get<double>(), b["reward_mean"].get<double>(), 0.1);
    // rollout.batch_invariant (default): the recomputed old log-probs are the engine's up to float32
    // rounding of the log-softmax (bf16 rounding would show as ~1e-3 and more).
    if (compat::kHasSplitKControl) {
      EXPECT_LT(a["rollout_logprob_diff"].get<double>(), 1e-6);
    }
  }
  zerorl::remove_tree(out), zerorl::remove_tree(out + "_resumed");
}

TEST(TrainerBf16, CpuBf16ComputeFp32MastersAndExactResume) { run_bf16_with_masters(false); }

TEST(TrainerGpu, CudaBf16ComputeFp32MastersAndExactResume) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  run_bf16_with_masters(true);
}

// bf16 on CUDA with batch-invariant GEMMs: prompts of different lengths (so the update pads rows, or packs
// them), several micro-batches; the trainer's recomputed old log-probs must equal the engine's T = 1
// log-probs up to float32 rounding of the log-softmax (measured 1.6e-7; 0.0 packed and padded, H100,
// 2026-12-07): the same logits, not bf16-rounding neighbours.
TEST(TrainerGpu, RecomputedOldLogprobsEqualTheEngines) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!compat::kHasSplitKControl) GTEST_SKIP() << "torch " << compat::torch_version() << " < 2.10";
  model::ModelConfig c = model::qwen25_05b_config();
  c.vocab_size = 512, c.hidden_size = 128, c.intermediate_size = 384, c.num_hidden_layers = 3;
  c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 32;
  model::CausalLM lm(c, torch::kBFloat16, torch::kCUDA);
  model::init_random_(lm, 7, 0.1);
  rollout::Engine engine(lm);  // EngineOptions::batch_invariant defaults to on
  rollout::GenerateConfig gc;
  gc.sampler.temperature = 1.0, gc.group_size = 4, gc.seed = 3;
  gc.stop.max_new_tokens = 40, gc.stop.eos_ids = {1};
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t len : {5, 17, 33, 70}) {
    prompts.emplace_back();
    for (int64_t t = 0; t < len; ++t) prompts.back().push_back((t * 37 + len) % 500 + 2);
  }
  const UpdateBatch b = testing::rollout_batch(engine, prompts, gc);
  Config cfg;
  cfg.rollout.group_size = 4, cfg.rollout.temperature = 1.0, cfg.rollout.max_new_tokens = 40;
  cfg.algo.micro_batch_tokens = 400;  // ~3 rows per micro-batch
  cfg.trainer.steps = 1;
  cfg.algo.old_logprobs = "recompute";  // rollout_logprob_diff is the recompute's measurement
  // Packed rows (algo.pack_sequences) too, before the update below moves the weights (its learning rate is
  // cfg.optim's): each packed sequence runs the attention kernel as a row of its own.
  for (const bool pack : {false, true}) {
    Config c2 = cfg;
    c2.algo.pack_sequences = pack;
    const auto lp = recompute_old_logprobs(c2, lm, b, 0).cpu();
    for (size_t i = 0; i < b.responses.size(); ++i) {
      const auto nr = static_cast<int64_t>(b.responses[i].size());
      const auto engine_lp = torch::tensor(b.logprobs_policy[i]);
      EXPECT_LT((lp[static_cast<int64_t>(i)].narrow(0, 0, nr) - engine_lp).abs().max().item<double>(), 1e-6)
          << (pack ? "packed" : "padded") << ", answer " << i;
    }
  }
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(0.0));
  PolicyState p{lm, model::CausalLM(nullptr), &opt, nullptr, 0};
  PhaseTimes times;
  const Json out = policy_update(cfg, p, b, 0, times);
  ASSERT_TRUE(out.contains("rollout_logprob_diff"));
  EXPECT_LT(out["rollout_logprob_diff"].get<double>(), 1e-6);
}

}  // namespace
}  // namespace zerorl::trainer
