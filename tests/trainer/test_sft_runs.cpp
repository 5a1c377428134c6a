// tests/trainer/test_sft_runs.cpp: `zerorl sft` as a process: the tiny pretrained base (assets/tiny_base)
// fine-tuned on worked answers to the zero_tiny prompts, killed with SIGKILL after its step-3 checkpoint (of
// 9) and resumed, must end with the same weights and losses as an uninterrupted run. Not here: the loss and
// packing (test_sft.cpp).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/run_process.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {
namespace {

// 64 worked answers in the R1-Zero format for the first zero_tiny training prompts.
std::string write_sft_data() {
  const std::vector<Json> rows = read_jsonl(testing::source_dir() + "/assets/zero_tiny/train.jsonl");
  const std::string path = (fs::temp_directory_path() / "zrl_sft_data.jsonl").string();
  std::ofstream out(path);
  for (size_t i = 0; i < 64; ++i) {
    const std::string a = rows[i]["answer"].get<std::string>();
    out << Json{{"prompt", rows[i]["prompt"]},
                {"response", " <think> " + rows[i]["prompt"].get<std::string>() + " = " + a +
                                 " </think> <answer> " + a + " </answer>"}}
               .dump()
        << "\n";
  }
  return path;
}

pid_t spawn_sft(const std::string& out, const std::string& data, bool resume,
                std::vector<std::string> extra = {}) {
  const std::string src = testing::source_dir();
  std::vector<std::string> args = {testing::binary_dir() + "/zerorl",
                                   "sft",
                                   "--config",
                                   src + "/configs/zero_tiny.yaml",
                                   "--set",
                                   "run.output_dir=" + out,
                                   "--set",
                                   "model.path=" + src + "/assets/tiny_base",
                                   "--set",
                                   "sft.train_path=" + data,
                                   "--set",
                                   "sft.batch_rows=4",
                                   "--set",
                                   "trainer.steps=9",
                                   "--set",
                                   "trainer.save_every=3",
                                   "--set",
                                   "trainer.keep_last=3",
                                   "--set",
                                   "trainer.eval_every=0",
                                   "--set",
                                   "trainer.tensorboard=false",
                                   "--set",
                                   "optim.lr=0.001"};
  if (resume) args.insert(args.end(), {"--resume", "auto"});
  args.insert(args.end(), extra.begin(), extra.end());
  return testing::spawn_logged(args, out + ".log");
}

std::string fresh(const std::string& name) {
  const std::string d = (fs::temp_directory_path() / name).string();
  zerorl::remove_tree(d);
  fs::remove(d + ".log");
  return d;
}

std::vector<double> losses(const std::string& out) {
  std::vector<double> l;
  for (const auto& r : read_jsonl(out + "/metrics.jsonl")) l.push_back(r["loss"].get<double>());
  return l;
}

TEST(SftRuns, KilledAfterStep3AndResumedMatchesUninterruptedBitForBit) {
  const std::string data = write_sft_data();
  const std::string a = fresh("zrl_sft_a"), b = fresh("zrl_sft_b");
  ASSERT_EQ(testing::wait_exit(spawn_sft(a, data, false)), 0) << read_file(a + ".log");
  const pid_t pid = spawn_sft(b, data, false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(b + "/checkpoints/step_3/manifest.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  kill(pid, SIGKILL);
  EXPECT_EQ(testing::wait_exit(pid), 128 + SIGKILL);
  ASSERT_TRUE(fs::exists(b + "/checkpoints/step_3"));
  ASSERT_FALSE(fs::exists(b + "/checkpoints/step_9")) << "the kill came too late to test anything";
  ASSERT_EQ(testing::wait_exit(spawn_sft(b, data, true)), 0) << read_file(b + ".log");
  EXPECT_TRUE(read_file(a + "/checkpoints/step_9/model.safetensors") ==
              read_file(b + "/checkpoints/step_9/model.safetensors"));
  EXPECT_TRUE(read_file(a + "/checkpoints/step_9/trainer_state/state.json") ==
              read_file(b + "/checkpoints/step_9/trainer_state/state.json"));
  EXPECT_EQ(losses(a), losses(b));
  ASSERT_EQ(losses(a).size(), 9u);
  // It learned: the loss fell, and the weights moved.
  EXPECT_LT(losses(a).back(), losses(a).front());
  EXPECT_FALSE(read_file(a + "/checkpoints/step_3/model.safetensors") ==
               read_file(a + "/checkpoints/step_9/model.safetensors"));
}

// trainer.max_minutes in sft: a 2 s budget of 100000 steps stops at a step boundary, saves that step, and
// the steps before the last took less than the budget (time/total: each step's own clock, a subset of what
// the budget counts). sft.max_samples: only the first 8 of the 64 samples are trained on.
TEST(SftRuns, WallClockBudgetAndMaxSamples) {
  const std::string data = write_sft_data();
  const std::string out = fresh("zrl_sft_budget");
  pid_t pid = spawn_sft(out, data, false,
                        {"--set", "trainer.steps=100000", "--set", "trainer.max_minutes=0.0334", "--set",
                         "trainer.save_every=0", "--set", "sft.max_samples=8"});
  ASSERT_EQ(testing::wait_exit(pid), 0) << read_file(out + ".log");
  const std::vector<Json> rows = read_jsonl(out + "/metrics.jsonl");
  ASSERT_GE(rows.size(), 1u);
  ASSERT_LT(rows.size(), 100000u);
  const int64_t last = rows.back()["step"].get<int64_t>();
  EXPECT_TRUE(fs::exists(out + "/checkpoints/step_" + std::to_string(last) + "/manifest.json"));
  double before_last = 0;
  for (size_t i = 0; i + 1 < rows.size(); ++i) before_last += rows[i]["time/total"].get<double>();
  EXPECT_LT(before_last, 0.0334 * 60.0);
  const std::string log = read_file(out + ".log");
  EXPECT_NE(log.find("reached after step " + std::to_string(last)), std::string::npos) << log;
  EXPECT_NE(log.find("sft: 8 samples in"), std::string::npos) << log;  // the loaded set, of 64 in the file
}

}  // namespace
}  // namespace zerorl::trainer
