// tests/trainer/test_runs.cpp: whole runs of build/zerorl on configs/tiny_test.yaml: exact resume after
// SIGKILL, corrupted-checkpoint reporting, and the learning curve. Not here: unit pieces (test_*.cpp).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/run_process.h"
#include "trainer/metrics.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {
namespace {

// Starts build/zerorl <command> with the tiny config and overrides; stdout/stderr go to <out>.log.
pid_t spawn(const std::string& command, const std::string& out, std::vector<std::string> extra) {
  std::vector<std::string> args = {testing::binary_dir() + "/zerorl",
                                   command,
                                   "--config",
                                   testing::source_dir() + "/configs/tiny_test.yaml",
                                   "--set",
                                   "run.output_dir=" + out};
  args.insert(args.end(), extra.begin(), extra.end());
  return testing::spawn_logged(args, out + ".log");
}

pid_t spawn_train(const std::string& out, std::vector<std::string> extra) {
  return spawn("train", out, extra);
}

using testing::wait_exit;

std::string fresh(const std::string& name) {
  const std::string d = (fs::temp_directory_path() / name).string();
  zerorl::remove_tree(d);
  fs::remove(d + ".log");
  return d;
}

// Metrics rows with the wall-clock fields removed.
std::vector<Json> metrics_without_timing(const std::string& out) {
  std::vector<Json> rows = read_jsonl(out + "/metrics.jsonl");
  for (auto& r : rows) {
    Json kept = Json::object();
    for (const auto& [k, v] : r.items()) {
      if (!is_timing_field(k)) kept[k] = v;
    }
    r = kept;
  }
  return rows;
}

// Slower steps than the default tiny config (~0.3 s) so the kill lands between checkpoints.
const std::vector<std::string> kResumeSets = {"--set", "trainer.steps=6",
                                              "--set", "trainer.save_every=3",
                                              "--set", "model.tiny_hidden_size=128",
                                              "--set", "model.tiny_layers=2",
                                              "--set", "rollout.prompts_per_step=16"};

TEST(Runs, KilledAfterStep3AndResumedMatchesUninterruptedBitForBit) {
  const std::string a = fresh("zrl_run_a"), b = fresh("zrl_run_b");
  ASSERT_EQ(wait_exit(spawn_train(a, kResumeSets)), 0) << read_file(a + ".log");

  const pid_t pid = spawn_train(b, kResumeSets);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(b + "/checkpoints/step_3/manifest.json") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
  ASSERT_TRUE(fs::exists(b + "/checkpoints/step_3"));
  ASSERT_FALSE(fs::exists(b + "/checkpoints/step_6")) << "the kill came too late to test anything";

  std::vector<std::string> resume = kResumeSets;
  resume.insert(resume.end(), {"--resume", "auto"});
  ASSERT_EQ(wait_exit(spawn_train(b, resume)), 0) << read_file(b + ".log");
  EXPECT_EQ(read_file(a + "/checkpoints/step_6/model.safetensors"),
            read_file(b + "/checkpoints/step_6/model.safetensors"));
  EXPECT_EQ(read_file(a + "/checkpoints/step_6/trainer_state/optimizer.pt").size(),
            read_file(b + "/checkpoints/step_6/trainer_state/optimizer.pt").size());
  const auto ma = metrics_without_timing(a), mb = metrics_without_timing(b);
  ASSERT_EQ(ma.size(), 6u);
  ASSERT_EQ(mb.size(), 6u);
  for (size_t i = 0; i < ma.size(); ++i) EXPECT_EQ(ma[i].dump(), mb[i].dump()) << "step " << i + 1;
  // A run that learned something: weights moved from the initial ones.
  EXPECT_NE(read_file(a + "/checkpoints/step_3/model.safetensors"),
            read_file(a + "/checkpoints/step_6/model.safetensors"));
}

TEST(Runs, CorruptedCheckpointIsReportedAndAutoFallsBack) {
  const std::string out = fresh("zrl_run_c");
  ASSERT_EQ(wait_exit(spawn_train(out, {"--set", "trainer.steps=4", "--set", "trainer.save_every=2"})), 0);
  const std::string ck = out + "/checkpoints/step_4/model.safetensors";
  std::string bytes = read_file(ck);
  bytes[bytes.size() / 2] ^= 0x01;
  write_file_atomic(ck, bytes);
  EXPECT_NE(
      wait_exit(spawn_train(out, {"--set", "trainer.steps=4", "--resume", out + "/checkpoints/step_4"})), 0);
  EXPECT_NE(read_file(out + ".log").find("checksum mismatch"), std::string::npos) << read_file(out + ".log");
  // auto skips it (with a warning) and continues from step 2
  ASSERT_EQ(wait_exit(spawn_train(
                out, {"--set", "trainer.steps=4", "--set", "run.log_level=info", "--resume", "auto"})),
            0);
  EXPECT_NE(read_file(out + ".log").find("resumed from " + out + "/checkpoints/step_2"), std::string::npos);
  EXPECT_EQ(read_jsonl(out + "/metrics.jsonl").size(), 4u);
  // and a fresh start into a folder with checkpoints refuses
  EXPECT_EQ(wait_exit(spawn_train(out, {})), 1);
}

// Learning: with seed 1 the tiny config's reward (accuracy + 0.5 format) climbs from ~0.1 to ~0.55 over 20
// steps. The margin 0.25 leaves room for platform differences in float summation.
TEST(Runs, RewardRisesOnTheTinyConfig) {
  const std::string out = fresh("zrl_run_learn");
  ASSERT_EQ(wait_exit(spawn_train(out, {})), 0) << read_file(out + ".log");
  const auto rows = read_jsonl(out + "/metrics.jsonl");
  ASSERT_EQ(rows.size(), 20u);
  double first = 0, last = 0;
  for (size_t i = 0; i < 5; ++i) first += rows[i]["reward_mean"].get<double>() / 5;
  for (size_t i = 15; i < 20; ++i) last += rows[i]["reward_mean"].get<double>() / 5;
  EXPECT_GT(last, first + 0.25) << "first-5 mean " << first << ", last-5 mean " << last;
  EXPECT_TRUE(fs::exists(out + "/tb"));
  EXPECT_FALSE(read_jsonl(out + "/samples.jsonl").empty());
  EXPECT_EQ(std::distance(fs::directory_iterator(out + "/checkpoints"), fs::directory_iterator{}),
            2);  // keep_last 2
  // The checkpoint is a Hugging Face folder with its tokenizer: `zerorl eval` loads it as model.path.
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(out + "/checkpoints/step_20/" + f)) << f;
  }
  const std::string summary_path = out + "/eval4.json";
  ASSERT_EQ(wait_exit(spawn("eval", out,
                            {"--checkpoint", out + "/checkpoints/step_20", "--set", "eval.k=4", "--set",
                             "eval.temperature=1.0", "--set", "eval.max_questions=16", "--set",
                             "eval.output=" + summary_path})),
            0)
      << read_file(out + ".log");
  const Json summary = read_json(summary_path);
  EXPECT_EQ(summary["questions"], 16);
  const double avg = summary["avg@4"], maj = summary["maj@4"], pass = summary["pass@4"];
  EXPECT_GE(pass, avg);
  EXPECT_GE(pass, maj);
  EXPECT_LE(summary["response_len_mean"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(summary["accuracy"].get<double>(), avg);  // pass@1 = the mean over the 4 samples
  const auto lines = read_jsonl(out + "/eval4_samples.jsonl");
  ASSERT_EQ(lines.size(), 64u + 16u);  // 4 samples and one greedy answer per question
  double greedy_correct = 0;
  for (const auto& l : lines) greedy_correct += l["greedy"].get<bool>() && l["correct"].get<bool>() ? 1 : 0;
  EXPECT_DOUBLE_EQ(summary["greedy_accuracy"].get<double>(), greedy_correct / 16.0);
  const double fmt = summary["format_rate"];
  EXPECT_GE(fmt, 0.0);
  EXPECT_LE(fmt, 1.0);
}

}  // namespace
}  // namespace zerorl::trainer
