// tests/trainer/test_trainer_gpu.cpp (label gpu; skips without CUDA): the trainer on CUDA computes in bf16
// with fp32 master weights; checkpoints hold the fp32 masters and resume restores them bit for bit.
// Not here: the master-weights arithmetic (test_mixed_precision.cpp, CPU).
#include <gtest/gtest.h>

#include <filesystem>

#include "model/checkpoint.h"
#include "tests/test_paths.h"
#include "trainer/step.h"

namespace zerorl::trainer {
namespace {

namespace fs = std::filesystem;

Config gpu_tiny_config(const std::string& out) {
  Config cfg;
  config::load_yaml_file(cfg, testing::source_dir() + "/configs/tiny_test.yaml");
  cfg.run.device = "cuda", cfg.run.output_dir = out;
  cfg.model.gradient_checkpointing = true;
  cfg.trainer.steps = 3, cfg.trainer.save_every = 0, cfg.trainer.tensorboard = false;
  return cfg;
}

void expect_equal_params(model::CausalLM& a, model::CausalLM& b, const char* what) {
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << what << " " << p.key();
}

TEST(TrainerGpu, Bf16ComputeFp32MastersAndExactResume) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string out = (fs::temp_directory_path() / "zerorl_trainer_gpu").string();
  fs::remove_all(out);
  const Config cfg = gpu_tiny_config(out);
  Trainer t(cfg, dist::Context{});
  t.start("");
  ASSERT_EQ(t.model()->dtype(), torch::kBFloat16) << "model.dtype auto on CUDA";
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
  auto saved = model::load_model(ck, torch::kFloat32, torch::Device(torch::kCUDA, 0));
  expect_equal_params(saved, t.masters()->masters(), "saved");
  Trainer r(cfg, dist::Context{});
  r.start(ck);
  expect_equal_params(r.masters()->masters(), t.masters()->masters(), "resumed masters");
  expect_equal_params(r.model(), t.model(), "resumed bf16 weights");
  const Json a = t.step(), b = r.step();
  EXPECT_EQ(a["reward_mean"], b["reward_mean"]) << "the same weights sample the same answers";
  fs::remove_all(out);
}

}  // namespace
}  // namespace zerorl::trainer
