// Tests of core/json_io.h: JSONL read/write round trip, gzip reading, errors that name file and line, the
// nesting bound (100000 nested arrays: an error, not a stack overflow), bounded excerpts.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

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

std::string nested(int depth, const std::string& open = "[", const std::string& close = "]") {
  std::string s;
  for (int i = 0; i < depth; ++i) s += open;
  s += "1";
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonIo, NestingIsBoundedAtParseTime) {
  // Exactly kMaxJsonDepth containers parse, and the value survives copy and dump (both recursive).
  for (const auto& [open, close] : {std::pair{"[", "]"}, std::pair{"{\"k\":", "}"}}) {
    const Json deepest = parse_json(nested(kMaxJsonDepth, open, close), "mem");
    const Json copy = deepest;  // NOLINT(performance-unnecessary-copy-initialization): the copy is the test
    EXPECT_EQ(copy.dump(), nested(kMaxJsonDepth, open, close));
    const std::string msg = error_of([&] { parse_json(nested(kMaxJsonDepth + 1, open, close), "ORIGIN"); });
    EXPECT_NE(msg.find("ORIGIN: invalid JSON"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
  }
  EXPECT_TRUE(parse_json_or_discarded(nested(100000)).is_discarded());
  EXPECT_TRUE(parse_json_or_discarded("{bad").is_discarded());
  EXPECT_EQ(parse_json_or_discarded("[1, {\"a\": 2}]"), Json::parse("[1, {\"a\": 2}]"));
}

TEST(JsonIo, DeeplyNestedFilesFailCleanly) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string jsonl = (dir / "zerorl_deep.jsonl").string();
  write_file_atomic(jsonl, "{\"a\": 1}\n{\"gold\": " + nested(100000) + ", \"pred\": \"1\"}\n");
  std::string msg = error_of([&] { read_jsonl(jsonl); });
  EXPECT_NE(msg.find("line 2 of '" + jsonl + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
  const std::string json = (dir / "zerorl_deep.json").string();
  write_file_atomic(json, nested(100000, "{\"a\":", "}"));
  msg = error_of([&] { read_json(json); });
  EXPECT_NE(msg.find(json), std::string::npos) << msg;
  EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
}

TEST(JsonIo, DumpExcerptIsBoundedAndKeepsCharactersWhole) {
  EXPECT_EQ(dump_excerpt(Json{1, 2}), "[1,2]");
  const std::string long_text = dump_excerpt(Json(std::string(1000, 'x')), 10);
  EXPECT_EQ(long_text, "\"xxxxxxxxx...");
  // "\"é..." : the cut at byte 2 would split the two-byte 'é'; the excerpt stops before it instead.
  EXPECT_EQ(dump_excerpt(Json("\u00e9\u00e9\u00e9"), 2), "\"...");
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
