// trainer/checkpoint.h: the on-disk life of checkpoints: <output_dir>/checkpoints/step_<N>/ built in a temp
// folder, sealed with a CRC32C manifest, renamed into place (atomic), pruned to keep-last-N, found for resume
// and verified. Not here: what goes inside (the trainer writes model + trainer_state/ into the temp folder).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zerorl::trainer {

inline constexpr const char* kManifestName = "manifest.json";

struct CheckpointInfo {
  int64_t step = 0;
  std::string path;
};

std::string checkpoints_dir(const std::string& output_dir);

// A fresh, empty temp folder for step N (inside checkpoints/, so the final rename stays on one filesystem).
std::string begin_checkpoint(const std::string& output_dir, int64_t step);

// Writes manifest.json (every file's size and CRC32C) last, fsyncs, renames to step_<N>. After a crash at any
// point, step_<N> either does not exist or is complete; stray temp folders are removed by the next begin.
std::string commit_checkpoint(const std::string& tmp_dir, const std::string& output_dir, int64_t step);

// Folders named step_<N> with a manifest, oldest first (not verified: see verify_checkpoint).
std::vector<CheckpointInfo> list_checkpoints(const std::string& output_dir);

// "" when every file in the manifest exists with its size and CRC32C, else what is wrong (first problem).
std::string verify_checkpoint(const std::string& dir);

// The newest checkpoint that verifies; corrupted newer ones are reported with ZRL_WARN and skipped.
std::optional<CheckpointInfo> latest_valid_checkpoint(const std::string& output_dir);

// Deletes all but the newest keep_last complete checkpoints.
void prune_checkpoints(const std::string& output_dir, int64_t keep_last);

// Step number of a folder named step_<N>, or -1.
int64_t checkpoint_step(const std::string& dir);

}  // namespace zerorl::trainer
