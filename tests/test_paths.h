// tests/test_paths.h: where tests find their inputs (tests/fixtures/, data/) and the build tree, all inside
// the repository. Not here: anything outside it (tests/test_repo_paths.cpp fails when a file names such a
// path).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "zerorl/build_info.h"

namespace zerorl::testing {

// tests/fixtures/: reference checkpoints (models/tiny-*), see tests/fixtures/README.md.
inline std::string fixture_dir() { return std::string(ZERORL_SOURCE_DIR) + "/tests/fixtures"; }
// data/: vendored data sets, verifier cases and tokenizers (gzip), see data/README.md.
inline std::string data_dir() { return std::string(ZERORL_SOURCE_DIR) + "/data"; }
inline std::string source_dir() { return ZERORL_SOURCE_DIR; }
inline std::string binary_dir() { return ZERORL_BINARY_DIR; }

// Writes `text` to <temp dir>/<name> and returns the path.
inline std::string write_temp_file(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

}  // namespace zerorl::testing
