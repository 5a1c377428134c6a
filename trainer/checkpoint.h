// trainer/checkpoint.h: the on-disk life of checkpoints: <output_dir>/checkpoints/step_<N>/ built in a temp
// folder, sealed with a CRC32C manifest, renamed into place (atomic), pruned to keep-last-N, found for resume
// and verified. Not here: what goes inside (the trainer writes model + trainer_state/ into the temp folder).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/json_io.h"

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
// A step_<N> already there is replaced when it is ours, else moved aside to step_<N>.foreign (never deleted).
// timing, when given, gets the seconds spent on "crc_s" (reading every file back for its CRC32C), "fsync_s"
// and "rename_s", and the "bytes" checksummed.
std::string commit_checkpoint(const std::string& tmp_dir, const std::string& output_dir, int64_t step,
                              Json* timing = nullptr);

// The step_* entries of checkpoints/: `ours` are folders named step_<N> whose manifest reads as one
// commit_checkpoint wrote (format, step == N, typed entries), oldest first, not CRC-verified
// (verify_checkpoint); `skipped` are all other step_* entries (a name that does not parse, no or a foreign
// manifest), with why.
struct CheckpointScan {
  std::vector<CheckpointInfo> ours;
  std::vector<std::pair<std::string, std::string>> skipped;  // (path, what is wrong)
};
CheckpointScan scan_checkpoints(const std::string& output_dir);
// One ZRL_WARN per skipped folder, naming it and what is wrong.
void warn_skipped(const CheckpointScan& scan);
// scan_checkpoints(output_dir).ours.
std::vector<CheckpointInfo> list_checkpoints(const std::string& output_dir);

// "" when the manifest is ours and every file in it exists with its size and CRC32C, else what is wrong
// (first problem). Never throws: a manifest with wrong types is a problem like any other.
std::string verify_checkpoint(const std::string& dir);

// The newest checkpoint that verifies; skipped folders and corrupted newer checkpoints are reported with
// ZRL_WARN and passed over.
std::optional<CheckpointInfo> latest_valid_checkpoint(const std::string& output_dir);

// Deletes all but the newest keep_last of `ours`; a skipped (damaged or foreign) folder is never deleted.
void prune_checkpoints(const std::string& output_dir, int64_t keep_last);

// Step number of a folder named step_<N> (N as commit_checkpoint spells it: digits, no leading zero, fits
// int64), else -1.
int64_t checkpoint_step(const std::string& dir);

}  // namespace zerorl::trainer
