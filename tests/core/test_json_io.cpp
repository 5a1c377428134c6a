// Tests of core/json_io.h: JSONL read/write round trip, gzip reading, errors that name file and line.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/json_io.h"
#include "tests/test_paths.h"

namespace zerorl {
namespace {

TEST(JsonIo, JsonlRoundTripAndBadLine) {
  const auto path = (std::filesystem::temp_directory_path() / "zerorl_jsonl_test.jsonl").string();
  std::filesystem::remove(path);
  {
    JsonlWriter w(path, false);
    w.write({{"a", 1}, {"text", "h\u00e9llo"}});
    w.write({{"a", 2}});
  }
  auto rows = read_jsonl(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["text"], "h\u00e9llo");
  EXPECT_EQ(rows[1]["a"], 2);
  write_file_atomic(path, "{\"a\": 1}\n\n{bad json\n");
  try {
    read_jsonl(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(JsonIo, ReadsGzipFromVendoredData) {
  const std::string path = testing::data_dir() + "/humaneval/HumanEval.jsonl.gz";
  auto rows = read_jsonl(path);
  EXPECT_EQ(rows.size(), 164u);
  EXPECT_EQ(rows[0]["task_id"], "HumanEval/0");
}

TEST(JsonIo, MissingFileIsNamed) {
  try {
    read_file("/nonexistent/file.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/file.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace zerorl
