// trainer/checkpoint.cpp: temp folder -> manifest -> fsync -> rename; listing (ours vs damaged or foreign),
// verification, pruning. Not here: what goes inside a checkpoint (Trainer::save_checkpoint,
// trainer/step.cpp).
#include "trainer/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/crc32c.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/timer.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {

namespace {
constexpr const char* kTmpPrefix = ".tmp_step_";
constexpr const char* kFormat = "zerorl-checkpoint-1";

void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// CRC32C and size of a file, streamed in 1 MiB blocks.
std::pair<uint32_t, uint64_t> file_crc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ZRL_CHECK(in.good(), "cannot read '{}'", path);
  std::vector<char> buf(1 << 20);
  Crc32c crc;
  uint64_t size = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<size_t>(in.gcount());
    crc.update(buf.data(), got);
    size += got;
  }
  return {crc.value(), size};
}

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool inside(const std::string& rel) {
  const fs::path p(rel);
  if (rel.empty() || p.is_absolute()) return false;
  for (const auto& part : p)
    if (part == "..") return false;
  return true;
}

// What keeps `m` from being a manifest that commit_checkpoint wrote ("" when nothing): its format, its step
// (equal to `step`, the number in the folder's name, when >= 0), every entry's types. Never throws.
std::string manifest_problem(const Json& m, int64_t step) {
  if (!m.is_object()) return "manifest is not a JSON object";
  const auto format = m.find("format");
  if (format == m.end() || !format->is_string() || *format != kFormat)
    return fmt::format("manifest format is {}, not \"{}\"",
                       format == m.end() ? "missing" : dump_excerpt(*format), kFormat);
  const auto st = m.find("step");
  if (st == m.end() || !st->is_number_unsigned())
    return fmt::format("manifest step is {}, not a step number",
                       st == m.end() ? "missing" : dump_excerpt(*st));
  if (step >= 0 && st->get<uint64_t>() != static_cast<uint64_t>(step))
    return fmt::format("manifest step is {}, the folder name says {}", st->get<uint64_t>(), step);
  const auto files = m.find("files");
  if (files == m.end() || !files->is_object()) return "manifest has no 'files' object";
  for (const auto& [rel, want] : files->items()) {
    if (!inside(rel)) return fmt::format("manifest entry '{}' points outside the checkpoint", rel);
    if (!want.is_object())
      return fmt::format("manifest entry '{}' is {}, not an object", rel, dump_excerpt(want));
    const auto bytes = want.find("bytes"), crc = want.find("crc32c");
    if (bytes == want.end() || !bytes->is_number_unsigned())
      return fmt::format("manifest entry '{}': 'bytes' is not a non-negative integer", rel);
    if (crc == want.end() || !crc->is_number_unsigned() || crc->get<uint64_t>() > 0xFFFFFFFFull)
      return fmt::format("manifest entry '{}': 'crc32c' is not a 32-bit unsigned integer", rel);
  }
  return "";
}

// Reads dir/manifest.json into `m`; what is wrong with it, or "".
std::string read_manifest(const std::string& dir, int64_t step, Json& m) {
  const std::string path = dir + "/" + kManifestName;
  if (!fs::is_regular_file(path)) return "no " + std::string(kManifestName) + " (incomplete save?)";
  try {
    m = read_json(path);
  } catch (const std::exception& e) {
    return std::string("unreadable manifest: ") + e.what();
  }
  return manifest_problem(m, step);
}

// Moves a folder in the way of a checkpoint that is not one of ours to <dir>.foreign[.K]; never deletes it.
void move_aside(const std::string& dir, const std::string& why) {
  std::string aside = dir + ".foreign";
  for (int k = 2; fs::exists(aside); ++k) aside = dir + ".foreign." + std::to_string(k);
  ZRL_WARN("'{}' is in the way of a checkpoint and is not one ({}); moved to '{}'", dir, why, aside);
  fs::rename(dir, aside);
}
}  // namespace

std::string checkpoints_dir(const std::string& output_dir) { return output_dir + "/checkpoints"; }

int64_t checkpoint_step(const std::string& dir) {
  const std::string name = fs::path(dir).filename().string();
  if (name.rfind("step_", 0) != 0) return -1;
  const char* first = name.data() + 5;
  const char* last = name.data() + name.size();
  int64_t step = -1;
  const auto [end, ec] = std::from_chars(first, last, step);
  // Only the canonical spelling commit_checkpoint writes: digits that fit int64, no sign, no leading zero.
  if (ec != std::errc() || end != last || step < 0 || std::to_string(step) != std::string(first, last))
    return -1;
  return step;
}

std::string begin_checkpoint(const std::string& output_dir, int64_t step) {
  const std::string root = checkpoints_dir(output_dir);
  fs::create_directories(root);
  for (const auto& e : fs::directory_iterator(root)) {  // leftovers of a crash mid-save
    if (e.path().filename().string().rfind(kTmpPrefix, 0) == 0) zerorl::remove_tree(e.path());
  }
  const std::string tmp = root + "/" + kTmpPrefix + std::to_string(step);
  fs::create_directories(tmp);
  return tmp;
}

std::string commit_checkpoint(const std::string& tmp_dir, const std::string& output_dir, int64_t step,
                              Json* timing) {
  Json files = Json::object();
  double crc_s = 0, fsync_s = 0;
  uint64_t bytes = 0;
  for (const auto& rel : files_under(tmp_dir)) {
    Stopwatch w;
    const auto [crc, size] = file_crc(tmp_dir + "/" + rel);
    files[rel] = Json{{"crc32c", crc}, {"bytes", size}};
    bytes += size;
    crc_s += w.seconds();
    w.reset();
    fsync_path(tmp_dir + "/" + rel, false);
    fsync_s += w.seconds();
  }
  Stopwatch w;
  const Json manifest{{"format", kFormat}, {"step", step}, {"files", files}};
  write_file_atomic(tmp_dir + "/" + kManifestName, manifest.dump(1));
  fsync_path(tmp_dir + "/" + kManifestName, false);
  fsync_path(tmp_dir, true);
  fsync_s += w.seconds();
  w.reset();
  const std::string final_dir = checkpoints_dir(output_dir) + "/step_" + std::to_string(step);
  Json old_manifest;
  const std::string problem = fs::exists(final_dir) ? read_manifest(final_dir, step, old_manifest) : "";
  if (fs::exists(final_dir) && problem.empty()) {  // re-saving a step (a resumed run): move ours aside first
    const std::string old = checkpoints_dir(output_dir) + "/" + kTmpPrefix + std::to_string(step) + "_old";
    zerorl::remove_tree(old);
    fs::rename(final_dir, old);
    fs::rename(tmp_dir, final_dir);
    zerorl::remove_tree(old);
  } else {
    if (fs::exists(final_dir)) move_aside(final_dir, problem);
    fs::rename(tmp_dir, final_dir);
  }
  fsync_path(checkpoints_dir(output_dir), true);
  if (timing) {
    (*timing)["crc_s"] = crc_s, (*timing)["fsync_s"] = fsync_s, (*timing)["rename_s"] = w.seconds();
    (*timing)["bytes"] = bytes;
  }
  return final_dir;
}

CheckpointScan scan_checkpoints(const std::string& output_dir) {
  CheckpointScan scan;
  const std::string root = checkpoints_dir(output_dir);
  if (!fs::is_directory(root)) return scan;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string path = e.path().string();
    if (e.path().filename().string().rfind("step_", 0) != 0) continue;  // temp folders, anything else
    const int64_t step = checkpoint_step(path);
    std::string problem;
    Json manifest;
    if (step < 0) {
      problem = "its name is not step_<N> with N a non-negative 64-bit integer";
    } else if (!e.is_directory()) {
      problem = "not a directory";
    } else {
      problem = read_manifest(path, step, manifest);
    }
    if (problem.empty()) {
      scan.ours.push_back({step, path});
    } else {
      scan.skipped.push_back({path, problem});
    }
  }
  std::sort(scan.ours.begin(), scan.ours.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  std::sort(scan.skipped.begin(), scan.skipped.end());
  return scan;
}

void warn_skipped(const CheckpointScan& scan) {
  for (const auto& [path, why] : scan.skipped)
    ZRL_WARN("'{}' is a damaged or foreign checkpoint folder ({}); skipped and left in place", path, why);
}

std::vector<CheckpointInfo> list_checkpoints(const std::string& output_dir) {
  return scan_checkpoints(output_dir).ours;
}

std::string verify_checkpoint(const std::string& dir) {
  Json manifest;
  const std::string problem = read_manifest(dir, checkpoint_step(dir), manifest);
  if (!problem.empty()) return problem;
  for (const auto& [rel, want] : manifest["files"].items()) {
    const std::string path = dir + "/" + rel;
    if (!fs::is_regular_file(path)) return "missing file " + rel;
    std::pair<uint32_t, uint64_t> got;
    try {
      got = file_crc(path);
    } catch (const std::exception& e) {
      return e.what();
    }
    if (got.second != want["bytes"].get<uint64_t>()) {
      return fmt::format("{}: {} bytes, manifest says {}", rel, got.second, want["bytes"].get<uint64_t>());
    }
    if (got.first != want["crc32c"].get<uint64_t>())
      return fmt::format("{}: checksum mismatch (corrupted)", rel);
  }
  return "";
}

std::optional<CheckpointInfo> latest_valid_checkpoint(const std::string& output_dir) {
  const CheckpointScan scan = scan_checkpoints(output_dir);
  warn_skipped(scan);
  for (auto it = scan.ours.rbegin(); it != scan.ours.rend(); ++it) {
    const std::string problem = verify_checkpoint(it->path);
    if (problem.empty()) return *it;
    ZRL_WARN("checkpoint '{}' is corrupted ({}); trying an older one", it->path, problem);
  }
  return std::nullopt;
}

void prune_checkpoints(const std::string& output_dir, int64_t keep_last) {
  auto all = list_checkpoints(output_dir);  // ours only: a folder we did not write is never deleted
  const int64_t extra = static_cast<int64_t>(all.size()) - keep_last;
  for (int64_t i = 0; i < extra; ++i) zerorl::remove_tree(all[static_cast<size_t>(i)].path);
}

}  // namespace zerorl::trainer
