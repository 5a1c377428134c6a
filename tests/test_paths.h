// tests/test_paths.h: where tests find ../shared (fixtures, data) and the build tree.
// ZERORL_SHARED_DIR in the environment overrides the default <source>/../shared.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "zerorl/build_info.h"

namespace zerorl::testing {

inline std::string shared_dir() {
  const char* env = std::getenv("ZERORL_SHARED_DIR");
  return env != nullptr ? env : std::string(ZERORL_SOURCE_DIR) + "/../shared";
}
inline std::string source_dir() { return ZERORL_SOURCE_DIR; }
inline std::string binary_dir() { return ZERORL_BINARY_DIR; }

// Writes `text` to <temp dir>/<name> and returns the path.
inline std::string write_temp_file(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

}  // namespace zerorl::testing
