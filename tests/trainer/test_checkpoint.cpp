// tests/trainer/test_checkpoint.cpp: temp -> manifest -> rename, corruption detection, crash leftovers,
// keep-last-N, resume discovery; damaged or foreign step_* folders (names that overflow, manifests with wrong
// types) are skipped, never deleted. Not here: what the trainer writes inside (test_runs.cpp covers that).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>

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

TEST(Checkpoint, StepNamesParseOnlyInTheSpellingWeWrite) {
  EXPECT_EQ(checkpoint_step("/x/step_0"), 0);
  EXPECT_EQ(checkpoint_step("/x/step_9223372036854775807"), INT64_MAX);
  EXPECT_EQ(checkpoint_step("/x/step_9223372036854775808"), -1);  // one past int64: no exception
  EXPECT_EQ(checkpoint_step("/x/step_99999999999999999999"), -1);
  EXPECT_EQ(checkpoint_step("/x/step_-3"), -1);
  EXPECT_EQ(checkpoint_step("/x/step_+3"), -1);
  EXPECT_EQ(checkpoint_step("/x/step_007"), -1);
  EXPECT_EQ(checkpoint_step("/x/step_7.foreign"), -1);
}

TEST(Checkpoint, StrayFolderWithAnOverflowingNameIsSkippedNotFatal) {
  const std::string out = fresh_dir("zrl_ck5");
  const std::string stray = out + "/checkpoints/step_99999999999999999999";
  fs::create_directories(stray);
  write_file_atomic(stray + "/" + kManifestName, R"({"format": "zerorl-checkpoint-1", "files": {}})");
  EXPECT_TRUE(list_checkpoints(out).empty());  // a fresh run checks exactly this
  EXPECT_FALSE(latest_valid_checkpoint(out).has_value());
  save(out, 2, "two");
  const CheckpointScan scan = scan_checkpoints(out);
  ASSERT_EQ(scan.ours.size(), 1u);
  EXPECT_EQ(scan.ours[0].step, 2);
  ASSERT_EQ(scan.skipped.size(), 1u);
  EXPECT_EQ(scan.skipped[0].first, stray);
  EXPECT_NE(scan.skipped[0].second.find("name"), std::string::npos) << scan.skipped[0].second;
  EXPECT_EQ(latest_valid_checkpoint(out)->step, 2);
  prune_checkpoints(out, 1);
  EXPECT_TRUE(fs::exists(stray));
}

TEST(Checkpoint, ManifestWithWrongTypesIsDamagedAndResumeFallsBack) {
  const std::string out = fresh_dir("zrl_ck6");
  save(out, 2, "intact");
  const std::string newest = save(out, 4, "newest");
  const std::string good_manifest = read_file(newest + "/" + kManifestName);
  // Each is valid JSON that once escaped as a bare nlohmann type_error (or was trusted) on --resume auto.
  const struct {
    std::string manifest, expect;
  } cases[] = {
      {R"([1, 2])", "not a JSON object"},
      {R"({"format": "zerorl-checkpoint-1", "step": 4, "files": []})", "no 'files' object"},
      {R"({"format": "zerorl-checkpoint-1", "step": 4,
           "files": {"model.safetensors": {"bytes": "6", "crc32c": 1}}})",
       "'bytes'"},
      {R"({"format": "zerorl-checkpoint-1", "step": 4,
           "files": {"model.safetensors": {"bytes": -6, "crc32c": 1}}})",
       "'bytes'"},
      {R"({"format": "zerorl-checkpoint-1", "step": 4,
           "files": {"model.safetensors": {"bytes": 6, "crc32c": [1]}}})",
       "'crc32c'"},
      {R"({"format": "zerorl-checkpoint-1", "step": 4,
           "files": {"model.safetensors": {"bytes": 6, "crc32c": 4294967296}}})",
       "'crc32c'"},
      {R"({"format": "zerorl-checkpoint-1", "step": 4, "files": {"model.safetensors": 6}})", "not an object"},
      {R"({"format": "zerorl-checkpoint-1", "step": 4,
           "files": {"../../model.safetensors": {"bytes": 6, "crc32c": 1}}})",
       "outside"},
      {R"({"format": "other-tool", "step": 4, "files": {}})", "format"},
      {R"({"format": "zerorl-checkpoint-1", "step": "4", "files": {}})", "step"},
      {R"({"format": "zerorl-checkpoint-1", "step": 5, "files": {}})", "step"},
      {R"({"format": "zerorl-checkpoint-1", "step)", "unreadable manifest"},
  };
  for (const auto& c : cases) {
    write_file_atomic(newest + "/" + kManifestName, c.manifest);
    EXPECT_NE(verify_checkpoint(newest).find(c.expect), std::string::npos)
        << c.manifest << " -> " << verify_checkpoint(newest);
    std::optional<CheckpointInfo> latest;
    EXPECT_NO_THROW(latest = latest_valid_checkpoint(out)) << c.manifest;
    ASSERT_TRUE(latest.has_value()) << c.manifest;
    EXPECT_EQ(latest->step, 2) << c.manifest;
    prune_checkpoints(out, 1);  // step_2 is the newest of ours now; step_4 is not ours to delete
    EXPECT_TRUE(fs::exists(newest)) << c.manifest;
  }
  write_file_atomic(newest + "/" + kManifestName, good_manifest);
  EXPECT_EQ(latest_valid_checkpoint(out)->step, 4);
}

TEST(Checkpoint, PruneAndResaveNeverDeleteFoldersThatAreNotOurs) {
  const std::string out = fresh_dir("zrl_ck7");
  const std::string root = out + "/checkpoints";
  fs::create_directories(root + "/step_1");  // no manifest
  write_file_atomic(root + "/step_1/weights.bin", "theirs");
  fs::create_directories(root + "/step_x");
  fs::create_directories(root + "/step_5");  // where our step 5 will go
  write_file_atomic(root + "/step_5/" + kManifestName, R"({"format": "someone-else"})");
  write_file_atomic(root + "/notes.txt", "keep me");
  for (int64_t s : {2, 3, 4, 5}) save(out, s, "ours " + std::to_string(s));
  prune_checkpoints(out, 2);
  auto ours = list_checkpoints(out);
  ASSERT_EQ(ours.size(), 2u);
  EXPECT_EQ(ours[0].step, 4);
  EXPECT_EQ(ours[1].step, 5);
  EXPECT_EQ(read_file(root + "/step_5/model.safetensors"), "ours 5");
  EXPECT_EQ(read_file(root + "/step_1/weights.bin"), "theirs");
  EXPECT_TRUE(fs::is_directory(root + "/step_x"));
  EXPECT_EQ(read_file(root + "/step_5.foreign/" + kManifestName), R"({"format": "someone-else"})");
  EXPECT_EQ(read_file(root + "/notes.txt"), "keep me");
  const CheckpointScan scan = scan_checkpoints(out);
  ASSERT_EQ(scan.skipped.size(), 3u);  // step_1, step_5.foreign, step_x (sorted by path)
  EXPECT_NE(scan.skipped[0].second.find("no manifest.json"), std::string::npos) << scan.skipped[0].second;
  EXPECT_NE(scan.skipped[1].first.find("step_5.foreign"), std::string::npos);
}

}  // namespace
}  // namespace zerorl::trainer
