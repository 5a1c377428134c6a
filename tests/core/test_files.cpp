// tests/core/test_files.cpp: remove_tree against what is left on disk (nested dirs, files, a symlink that
// must not be followed, a missing path). Not here: other file helpers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"

namespace zerorl {
namespace {
namespace fs = std::filesystem;

TEST(Files, RemoveTreeDeletesEverythingButNotSymlinkTargets) {
  const fs::path root = fs::temp_directory_path() / ("zerorl_test_files_" + std::to_string(::getpid()));
  const fs::path outside = root.string() + "_outside";
  fs::create_directories(root / "a" / "b" / "c");
  fs::create_directories(outside);
  std::ofstream(root / "top.txt") << "x";
  std::ofstream(root / "a" / "b" / "c" / "deep.txt") << "y";
  std::ofstream(outside / "keep.txt") << "z";
  fs::create_directory_symlink(outside, root / "a" / "link");
  // 7 entries: root, top.txt, a, a/b, a/b/c, deep.txt, the link itself (not what it points to).
  EXPECT_EQ(remove_tree(root.string()), 7);
  EXPECT_FALSE(fs::exists(root));
  EXPECT_TRUE(fs::exists(outside / "keep.txt"));
  EXPECT_EQ(remove_tree(root.string()), 0);  // missing: nothing to do, no error
  std::ofstream(root.string() + "_file") << "f";
  EXPECT_EQ(remove_tree(root.string() + "_file"), 1);  // a plain file is a tree of one
  EXPECT_EQ(remove_tree(outside.string()), 2);
}

}  // namespace
}  // namespace zerorl
