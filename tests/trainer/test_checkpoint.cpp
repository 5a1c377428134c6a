// tests/trainer/test_checkpoint.cpp: temp -> manifest -> rename, corruption detection, crash leftovers,
// keep-last-N, resume discovery. Not here: what the trainer writes inside (test_runs.cpp covers that).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "core/json_io.h"
#include "trainer/checkpoint.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {
namespace {

std::string fresh_dir(const std::string& name) {
  const std::string d = (fs::temp_directory_path() / name).string();
  zerorl::remove_tree(d);
  return d;
}

std::string save(const std::string& out, int64_t step, const std::string& payload) {
  const std::string tmp = begin_checkpoint(out, step);
  fs::create_directories(tmp + "/trainer_state");
  write_file_atomic(tmp + "/model.safetensors", payload);
  write_file_atomic(tmp + "/trainer_state/state.json", "{\"step\": " + std::to_string(step) + "}");
  return commit_checkpoint(tmp, out, step);
}

TEST(Checkpoint, CommitThenVerifyThenDetectCorruption) {
  const std::string out = fresh_dir("zrl_ck1");
  const std::string dir = save(out, 3, std::string(5000, 'w'));
  EXPECT_EQ(dir, out + "/checkpoints/step_3");
  EXPECT_EQ(verify_checkpoint(dir), "");
  {  // flip one byte in place, same size
    std::fstream f(dir + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1234);
    f.put('x');
  }
  EXPECT_NE(verify_checkpoint(dir).find("checksum mismatch"), std::string::npos);
  write_file_atomic(dir + "/model.safetensors", "short");
  EXPECT_NE(verify_checkpoint(dir).find("bytes"), std::string::npos);
  write_file_atomic(dir + "/model.safetensors", std::string(5000, 'w'));
  EXPECT_EQ(verify_checkpoint(dir), "");  // restored: valid again
  fs::remove(dir + "/trainer_state/state.json");
  EXPECT_NE(verify_checkpoint(dir).find("missing file trainer_state/state.json"), std::string::npos);
}

TEST(Checkpoint, CrashLeftoversAreNeverListedAndAreCleanedUp) {
  const std::string out = fresh_dir("zrl_ck2");
  save(out, 1, "a");
  const std::string tmp = begin_checkpoint(out, 2);  // a save killed before its rename
  write_file_atomic(tmp + "/model.safetensors", "partial");
  fs::create_directories(out + "/checkpoints/step_9");  // a folder without a manifest
  auto all = list_checkpoints(out);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].step, 1);
  begin_checkpoint(out, 3);  // the next save removes stale temp folders
  EXPECT_FALSE(fs::exists(tmp));
}

TEST(Checkpoint, LatestValidSkipsCorruptedAndPruneKeepsNewest) {
  const std::string out = fresh_dir("zrl_ck3");
  for (int64_t s : {2, 4, 6, 8}) save(out, s, std::string(100, static_cast<char>('a' + s)));
  prune_checkpoints(out, 3);
  auto all = list_checkpoints(out);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.front().step, 4);
  EXPECT_EQ(latest_valid_checkpoint(out)->step, 8);
  write_file_atomic(out + "/checkpoints/step_8/model.safetensors", std::string(100, 'z'));
  EXPECT_EQ(latest_valid_checkpoint(out)->step, 6);
  EXPECT_FALSE(latest_valid_checkpoint(fresh_dir("zrl_ck_empty")).has_value());
}

TEST(Checkpoint, ResavingAStepReplacesIt) {
  const std::string out = fresh_dir("zrl_ck4");
  save(out, 5, "old");
  const std::string dir = save(out, 5, "new!");
  EXPECT_EQ(read_file(dir + "/model.safetensors"), "new!");
  EXPECT_EQ(verify_checkpoint(dir), "");
  EXPECT_EQ(checkpoint_step(dir), 5);
  EXPECT_EQ(checkpoint_step("/x/step_"), -1);
  EXPECT_EQ(checkpoint_step("/x/step_3a"), -1);
}

}  // namespace
}  // namespace zerorl::trainer
