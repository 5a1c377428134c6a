// tests/verifiers/math/test_jsonl_verify.cpp: the engine behind `zerorl verify` (docs/design.md's input and
// output lines for math, countdown, format). Not here: the CLI wrapper (apps/), the code verifier.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/json_io.h"
#include "verifiers/jsonl_verify.h"

namespace zerorl::verifiers {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::vector<Json> run(const std::string& verifier, const std::string& text) {
  std::ostringstream out;
  EXPECT_EQ(verify_jsonl(verifier, write_temp(verifier + ".jsonl", text), out, 2, 1.0), 0);
  std::vector<Json> rows;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) rows.push_back(Json::parse(line));
  return rows;
}

TEST(JsonlVerify, MathLinesInOrder) {
  auto rows = run("math",
                  "{\"gold\": \"1/2\", \"response\": \"so \\\\boxed{0.5}\"}\n"
                  "{\"gold\": \"#### 1,080\", \"pred\": \"$1080$\"}\n"
                  "{\"gold\": 27.0, \"pred\": \"\\\\boxed{27}\"}\n"
                  "{\"gold\": \"3\", \"response\": \"I think 3\"}\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_TRUE(rows[0]["correct"]);
  EXPECT_EQ(rows[0]["extracted"], "0.5");
  EXPECT_TRUE(rows[1]["correct"]);
  EXPECT_TRUE(rows[2]["correct"]);
  EXPECT_FALSE(rows[3]["correct"]);  // no boxed/tagged/phrased answer in training mode
  for (const auto& r : rows) {
    EXPECT_TRUE(r.contains("reason"));
    EXPECT_EQ(r.size(), 3u);
  }
}

TEST(JsonlVerify, CountdownAndFormat) {
  auto cd = run(
      "countdown",
      "{\"numbers\": [30, 100, 93], \"target\": 23, \"response\": \"<answer>100 - 93 + 30 - 14</answer>\"}\n"
      "{\"numbers\": [30, 100, 93], \"target\": 23, \"response\": \"<answer>30 - (100 - 93)</answer>\"}\n");
  ASSERT_EQ(cd.size(), 2u);
  EXPECT_FALSE(cd[0]["correct"]);
  EXPECT_TRUE(cd[1]["correct"]);
  auto fmt = run("format", "{\"response\": \"<think>a</think><answer>b</answer>\"}\n{\"response\": \"b\"}\n");
  ASSERT_EQ(fmt.size(), 2u);
  EXPECT_TRUE(fmt[0]["correct"]);
  EXPECT_EQ(fmt[1]["reward"], 0.0);
}

TEST(JsonlVerify, BadInputNamesFileRowAndKey) {
  std::ostringstream out;
  std::string path = write_temp("bad.jsonl", "{\"gold\": \"1\", \"response\": \"x\"}\n{\"gold\": \"1\"}\n");
  try {
    verify_jsonl("math", path, out);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.jsonl"), std::string::npos) << msg;
    EXPECT_NE(msg.find("row 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("response"), std::string::npos) << msg;
  }
  EXPECT_TRUE(out.str().empty());
  EXPECT_THROW(verify_jsonl("nope", path, out), std::exception);
}

TEST(JsonlVerify, DeeplyNestedValuesAreCleanErrors) {
  // 100000 nested arrays once overflowed the stack (exit 139) when the error message dumped the value.
  auto nested = [](int depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); };
  auto error_of = [](const std::string& path) {
    std::ostringstream out;
    try {
      verify_jsonl("math", path, out, 2, 1.0);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  std::string msg =
      error_of(write_temp("deep.jsonl", "{\"gold\": " + nested(100000) + ", \"pred\": \"1\"}\n"));
  EXPECT_NE(msg.find("deep.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
  // Within the bound the value reaches the error path, which prints a bounded excerpt of it.
  msg = error_of(
      write_temp("deep_ok.jsonl", "{\"gold\": " + nested(kMaxJsonDepth - 1) + ", \"pred\": \"1\"}\n"));
  EXPECT_NE(msg.find("row 1: key \"gold\" must be a string or number, got [[[["), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 300u) << msg;
}

}  // namespace
}  // namespace zerorl::verifiers
