// tests/trainer/test_sample_runs.cpp: `zerorl sample` as a process on the tiny pretrained base (assets/) and
// the zero_tiny prompts: the output's shape and yield report, and a SIGKILL mid-run (plus a torn last chunk)
// resumed to the same file an uninterrupted run writes, without duplicates. Not here: the filters
// (test_sample.cpp).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/run_process.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {
namespace {

pid_t spawn_sample(const std::string& out) {
  const std::string src = testing::source_dir();
  std::vector<std::string> args = {testing::binary_dir() + "/zerorl",
                                   "sample",
                                   "--config",
                                   src + "/configs/zero_tiny.yaml",
                                   "--set",
                                   "run.output_dir=" + out,
                                   "--set",
                                   "model.path=" + src + "/assets/tiny_base",
                                   "--set",
                                   "data.train_path=" + src + "/assets/zero_tiny/train.jsonl",
                                   "--set",
                                   "sample.k=4",
                                   "--set",
                                   "sample.max_prompts=48",
                                   "--set",
                                   "sample.chunk_prompts=4",
                                   "--set",
                                   "sample.require_format=false",
                                   "--set",
                                   "run.log_level=warn"};
  return testing::spawn_logged(args, out + ".log");
}

std::string fresh(const std::string& name) {
  const std::string d = (fs::temp_directory_path() / name).string();
  zerorl::remove_tree(d);
  fs::remove(d + ".log");
  return d;
}

TEST(SampleRuns, KilledAndResumedWritesTheUninterruptedFile) {
  const std::string a = fresh("zrl_sample_a"), b = fresh("zrl_sample_b");
  ASSERT_EQ(testing::wait_exit(spawn_sample(a)), 0) << read_file(a + ".log");
  const std::string expected = read_file(a + "/sample/sft.jsonl");
  const std::vector<Json> rows = read_jsonl(a + "/sample/sft.jsonl");
  ASSERT_GT(rows.size(), 0u) << "the base model solved nothing: the resume check would be empty";
  std::set<std::pair<int64_t, int64_t>> ids;
  for (const auto& r : rows) {
    EXPECT_TRUE(r["verdict"]["correct"].get<bool>());
    EXPECT_EQ(r["provenance"]["k"], 4);
    ids.insert({r["index"].get<int64_t>(), r["provenance"]["sample"].get<int64_t>()});
  }
  EXPECT_EQ(ids.size(), rows.size()) << "duplicate (prompt, sample) lines";
  const Json summary = read_json(a + "/sample/sft_summary.json");
  EXPECT_EQ(summary["by_source"]["math"]["prompts"], 48);
  EXPECT_EQ(summary["by_source"]["math"]["answers"], 192);
  EXPECT_EQ(summary["by_source"]["math"]["kept"], static_cast<int64_t>(rows.size()));

  const pid_t pid = spawn_sample(b);
  const std::string state = b + "/sample/sft.jsonl.state.json";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(state) && read_json(state)["chunks_done"].get<int64_t>() >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  EXPECT_EQ(testing::wait_exit(pid), 128 + SIGKILL);
  ASSERT_LT(read_json(state)["chunks_done"].get<int64_t>(), 12) << "the kill came too late to test anything";
  // A chunk torn mid-write: bytes past the state's count must be dropped on resume.
  {
    std::ofstream torn(b + "/sample/sft.jsonl", std::ios::app);
    torn << "{\"prompt\": \"half a li";
  }
  ASSERT_EQ(testing::wait_exit(spawn_sample(b)), 0) << read_file(b + ".log");
  EXPECT_TRUE(read_file(b + "/sample/sft.jsonl") == expected) << "resumed output differs";
  EXPECT_EQ(read_json(b + "/sample/sft_summary.json")["by_source"], summary["by_source"]);
  // A finished run started again writes nothing new.
  ASSERT_EQ(testing::wait_exit(spawn_sample(b)), 0) << read_file(b + ".log");
  EXPECT_TRUE(read_file(b + "/sample/sft.jsonl") == expected);
}

}  // namespace
}  // namespace zerorl::trainer
