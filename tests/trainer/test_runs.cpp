// tests/trainer/test_runs.cpp: whole runs of build/zerorl on configs/tiny_test.yaml: exact resume after
// SIGKILL (between checkpoints and during a background checkpoint write), corrupted-checkpoint reporting, and
// the learning curve. Not here: unit pieces (test_*.cpp).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "compat/optim_state_key.h"
#include "core/files.h"
#include "core/json_io.h"
#include "model/checkpoint.h"
#include "tests/run_process.h"
#include "trainer/checkpoint.h"
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

std::string tensor_bytes(const torch::Tensor& t) {
  if (!t.defined()) return "<undefined>";
  const auto c = t.detach().to(torch::kCPU).contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.nbytes());
}

// A checkpoint's AdamW state, per parameter in model order: step and the bytes of every moment tensor, and
// the group options. optimizer.pt itself is not byte-reproducible across processes: LibTorch keys the state
// by each parameter's address, so the archive's record order changes with the heap; loading it into an
// optimizer over the checkpoint's own model puts it back in parameter order.
std::vector<std::string> adamw_state(const std::string& checkpoint) {
  auto lm = model::load_model(checkpoint);
  torch::optim::AdamW opt(lm->parameters());
  torch::serialize::InputArchive ar;
  ar.load_from(checkpoint + "/trainer_state/optimizer.pt");
  opt.load(ar);
  std::vector<std::string> out;
  for (const auto& group : opt.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    std::ostringstream os;
    os.precision(17);
    os << "lr " << o.lr() << " betas " << std::get<0>(o.betas()) << " " << std::get<1>(o.betas()) << " eps "
       << o.eps() << " weight_decay " << o.weight_decay() << " amsgrad " << o.amsgrad();
    out.push_back(os.str());
  }
  for (const auto& p : lm->parameters()) {
    const auto it = opt.state().find(compat::optimizer_state_key(opt, p));
    if (it == opt.state().end()) {
      out.push_back("<no state>");
      continue;
    }
    const auto& st = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    out.push_back("step " + std::to_string(st.step()));
    for (const auto& t : {st.exp_avg(), st.exp_avg_sq(), st.max_exp_avg_sq()}) out.push_back(tensor_bytes(t));
  }
  return out;
}

// Offset of the first byte where a and b differ (the shorter length when one is a prefix of the other).
size_t first_difference(const std::string& a, const std::string& b) {
  return static_cast<size_t>(
      std::mismatch(a.begin(), a.begin() + std::min(a.size(), b.size()), b.begin()).first - a.begin());
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
  // Byte for byte: the weights, and the optimizer state (AdamW moments, step counts, options) of both runs.
  const std::string wa = read_file(a + "/checkpoints/step_6/model.safetensors");
  const std::string wb = read_file(b + "/checkpoints/step_6/model.safetensors");
  EXPECT_TRUE(wa == wb) << "model.safetensors differs first at byte " << first_difference(wa, wb);
  const auto sa = adamw_state(a + "/checkpoints/step_6"), sb = adamw_state(b + "/checkpoints/step_6");
  ASSERT_EQ(sa.size(), sb.size());
  ASSERT_GT(sa.size(), 4u);
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_TRUE(sa[i] == sb[i]) << "optimizer state entry " << i << " differs first at byte "
                                << first_difference(sa[i], sb[i]);
  }
  EXPECT_EQ(sa[1], "step 6");  // one optimizer step per RL step (minibatches 1, epochs 1)
  const auto ma = metrics_without_timing(a), mb = metrics_without_timing(b);
  ASSERT_EQ(ma.size(), 6u);
  ASSERT_EQ(mb.size(), 6u);
  for (size_t i = 0; i < ma.size(); ++i) EXPECT_EQ(ma[i].dump(), mb[i].dump()) << "step " << i + 1;
  // A run that learned something: weights moved from the initial ones.
  EXPECT_NE(read_file(a + "/checkpoints/step_3/model.safetensors"),
            read_file(a + "/checkpoints/step_6/model.safetensors"));
}

// Checkpoints are written on a background thread while the next steps run. A kill -9 while step_6 is being
// written (held open by the test hook ZERORL_TEST_CHECKPOINT_DELAY_MS between its files and its seal) leaves
// step_3 the newest intact checkpoint, and --resume auto continues from it bit for bit.
TEST(Runs, KilledDuringABackgroundCheckpointWriteResumesFromThePreviousOne) {
  const std::string a = fresh("zrl_run_bg_a"), b = fresh("zrl_run_bg_b");
  std::vector<std::string> sets = kResumeSets;
  sets.insert(sets.end(), {"--set", "run.log_level=info"});
  ASSERT_EQ(wait_exit(spawn_train(a, sets)), 0) << read_file(a + ".log");
  const std::string log_a = read_file(a + ".log");
  EXPECT_NE(log_a.find("checkpoint step_3: the step loop waited"), std::string::npos) << log_a;
  EXPECT_NE(log_a.find("checkpoints/step_6 written in the background"), std::string::npos) << log_a;
  const auto rows_a = read_jsonl(a + "/metrics.jsonl");
  ASSERT_EQ(rows_a.size(), 6u);
  for (const auto& r : rows_a) {  // the blocked time is a metric of the steps that saved, and only of them
    const bool saved = r["step"] == 3 || r["step"] == 6;
    EXPECT_EQ(r.contains("time/checkpoint_blocking"), saved) << r.dump();
  }

  setenv("ZERORL_TEST_CHECKPOINT_DELAY_MS", "4000", 1);
  const pid_t pid = spawn_train(b, sets);
  unsetenv("ZERORL_TEST_CHECKPOINT_DELAY_MS");
  const std::string writing = b + "/checkpoints/.tmp_step_6/trainer_state/state.json";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(writing) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const bool in_window = fs::exists(writing) && !fs::exists(b + "/checkpoints/step_6");
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
  ASSERT_TRUE(in_window) << "the kill did not land in the background write\n" << read_file(b + ".log");
  ASSERT_FALSE(fs::exists(b + "/checkpoints/step_6"));
  EXPECT_EQ(verify_checkpoint(b + "/checkpoints/step_3"), "");
  // Steps 4 to 6 ran while step_3 was being written (4 s): training was not held up by the write.
  EXPECT_EQ(read_jsonl(b + "/metrics.jsonl").size(), 6u);

  std::vector<std::string> resume = sets;
  resume.insert(resume.end(), {"--resume", "auto"});
  ASSERT_EQ(wait_exit(spawn_train(b, resume)), 0) << read_file(b + ".log");
  EXPECT_NE(read_file(b + ".log").find("resumed from " + b + "/checkpoints/step_3"), std::string::npos);
  const std::string wa = read_file(a + "/checkpoints/step_6/model.safetensors");
  const std::string wb = read_file(b + "/checkpoints/step_6/model.safetensors");
  EXPECT_TRUE(wa == wb) << "model.safetensors differs first at byte " << first_difference(wa, wb);
  const auto sa = adamw_state(a + "/checkpoints/step_6"), sb = adamw_state(b + "/checkpoints/step_6");
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(sa[i] == sb[i]) << "optimizer state entry " << i;
  const auto ma = metrics_without_timing(a), mb = metrics_without_timing(b);
  ASSERT_EQ(mb.size(), 6u);
  for (size_t i = 0; i < ma.size(); ++i) EXPECT_EQ(ma[i].dump(), mb[i].dump()) << "step " << i + 1;
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

// trainer.max_minutes: no step starts once the steps so far took the budget. Steps of the tiny config take
// ~0.05 s, so a 1.2 s budget stops after some 10-100 of the 100000 steps; the run then saves that step. The
// metrics' time/total (each step's own clock, a subset of what the budget counts) bounds where it stopped:
// the steps before the last took less than the budget.
TEST(Runs, WallClockBudgetStopsAtAStepBoundaryAndSaves) {
  const std::string out = fresh("zrl_runs_budget");
  ASSERT_EQ(wait_exit(spawn_train(out, {"--set", "trainer.steps=100000", "--set", "trainer.max_minutes=0.02",
                                        "--set", "trainer.save_every=0", "--set", "run.log_level=info"})),
            0)
      << read_file(out + ".log");
  const std::vector<Json> rows = read_jsonl(out + "/metrics.jsonl");
  ASSERT_GE(rows.size(), 1u);
  ASSERT_LT(rows.size(), 100000u);
  const int64_t last = rows.back()["step"].get<int64_t>();
  EXPECT_EQ(last, static_cast<int64_t>(rows.size()));
  const auto ck = latest_valid_checkpoint(out);
  ASSERT_TRUE(ck.has_value());
  EXPECT_EQ(ck->path, out + "/checkpoints/step_" + std::to_string(last));
  double before_last = 0;
  for (size_t i = 0; i + 1 < rows.size(); ++i) before_last += rows[i]["time/total"].get<double>();
  EXPECT_LT(before_last, 0.02 * 60.0);
  EXPECT_NE(
      read_file(out + ".log").find("trainer.max_minutes = 0.02 reached after step " + std::to_string(last)),
      std::string::npos)
      << read_file(out + ".log");
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
  // The summary against a tally of the per-answer lines: 4 samples and one greedy answer per question.
  const auto lines = read_jsonl(out + "/eval4_samples.jsonl");
  ASSERT_EQ(lines.size(), 64u + 16u);
  double greedy_correct = 0, sampled_correct = 0, sampled_format = 0;
  std::map<int64_t, bool> any_correct;  // question index -> some sample is correct
  for (const auto& l : lines) {
    const bool correct = l["correct"].get<bool>();
    if (l["greedy"].get<bool>()) {
      greedy_correct += correct ? 1 : 0;
      continue;
    }
    sampled_correct += correct ? 1 : 0;
    sampled_format += l["format"].get<double>();
    any_correct[l["index"].get<int64_t>()] |= correct;
  }
  ASSERT_EQ(any_correct.size(), 16u);
  double passed = 0;
  for (const auto& [index, ok] : any_correct) passed += ok ? 1 : 0;
  EXPECT_DOUBLE_EQ(avg, sampled_correct / 64.0);  // avg@4 = pass@1 = the mean over the 4 samples
  EXPECT_DOUBLE_EQ(summary["accuracy"].get<double>(), sampled_correct / 64.0);
  EXPECT_DOUBLE_EQ(pass, passed / 16.0);
  EXPECT_DOUBLE_EQ(summary["greedy_accuracy"].get<double>(), greedy_correct / 16.0);
  EXPECT_DOUBLE_EQ(summary["format_rate"].get<double>(), sampled_format / 64.0);
}

}  // namespace
}  // namespace zerorl::trainer
