// trainer/checkpoint.cpp: temp folder -> manifest -> fsync -> rename; listing, verification, pruning.
// Not here: serialization of model or optimizer (trainer/state.cpp).
#include "trainer/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/crc32c.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "core/log.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {

namespace {
constexpr const char* kTmpPrefix = ".tmp_step_";

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
}  // namespace

std::string checkpoints_dir(const std::string& output_dir) { return output_dir + "/checkpoints"; }

int64_t checkpoint_step(const std::string& dir) {
  const std::string name = fs::path(dir).filename().string();
  if (name.rfind("step_", 0) != 0 || name.size() == 5) return -1;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
  }
  return std::stoll(name.substr(5));
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

std::string commit_checkpoint(const std::string& tmp_dir, const std::string& output_dir, int64_t step) {
  Json files = Json::object();
  for (const auto& rel : files_under(tmp_dir)) {
    const auto [crc, size] = file_crc(tmp_dir + "/" + rel);
    files[rel] = Json{{"crc32c", crc}, {"bytes", size}};
    fsync_path(tmp_dir + "/" + rel, false);
  }
  const Json manifest{{"format", "zerorl-checkpoint-1"}, {"step", step}, {"files", files}};
  write_file_atomic(tmp_dir + "/" + kManifestName, manifest.dump(1));
  fsync_path(tmp_dir + "/" + kManifestName, false);
  fsync_path(tmp_dir, true);
  const std::string final_dir = checkpoints_dir(output_dir) + "/step_" + std::to_string(step);
  if (fs::exists(final_dir)) {  // re-saving a step (a resumed run): move the old one aside first
    const std::string old = checkpoints_dir(output_dir) + "/" + kTmpPrefix + std::to_string(step) + "_old";
    zerorl::remove_tree(old);
    fs::rename(final_dir, old);
    fs::rename(tmp_dir, final_dir);
    zerorl::remove_tree(old);
  } else {
    fs::rename(tmp_dir, final_dir);
  }
  fsync_path(checkpoints_dir(output_dir), true);
  return final_dir;
}

std::vector<CheckpointInfo> list_checkpoints(const std::string& output_dir) {
  std::vector<CheckpointInfo> out;
  const std::string root = checkpoints_dir(output_dir);
  if (!fs::is_directory(root)) return out;
  for (const auto& e : fs::directory_iterator(root)) {
    const int64_t step = checkpoint_step(e.path().string());
    if (step >= 0 && e.is_directory() && fs::exists(e.path() / kManifestName)) {
      out.push_back({step, e.path().string()});
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return out;
}

std::string verify_checkpoint(const std::string& dir) {
  const std::string mpath = dir + "/" + kManifestName;
  if (!fs::exists(mpath)) return "no " + std::string(kManifestName) + " (incomplete save?)";
  Json manifest;
  try {
    manifest = read_json(mpath);
  } catch (const std::exception& e) {
    return std::string("unreadable manifest: ") + e.what();
  }
  if (!manifest.contains("files") || !manifest["files"].is_object()) return "manifest has no 'files' object";
  for (const auto& [rel, want] : manifest["files"].items()) {
    const std::string path = dir + "/" + rel;
    if (!fs::exists(path)) return "missing file " + rel;
    const auto [crc, size] = file_crc(path);
    if (size != want.at("bytes").get<uint64_t>()) {
      return fmt::format("{}: {} bytes, manifest says {}", rel, size, want.at("bytes").dump());
    }
    if (crc != want.at("crc32c").get<uint32_t>())
      return fmt::format("{}: checksum mismatch (corrupted)", rel);
  }
  return "";
}

std::optional<CheckpointInfo> latest_valid_checkpoint(const std::string& output_dir) {
  auto all = list_checkpoints(output_dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const std::string problem = verify_checkpoint(it->path);
    if (problem.empty()) return *it;
    ZRL_WARN("checkpoint '{}' is corrupted ({}); trying an older one", it->path, problem);
  }
  return std::nullopt;
}

void prune_checkpoints(const std::string& output_dir, int64_t keep_last) {
  auto all = list_checkpoints(output_dir);
  const int64_t extra = static_cast<int64_t>(all.size()) - keep_last;
  for (int64_t i = 0; i < extra; ++i) zerorl::remove_tree(all[static_cast<size_t>(i)].path);
}

}  // namespace zerorl::trainer
