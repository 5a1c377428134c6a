// tests/verifiers/external/test_from_config.cpp: the `verifiers:` YAML section (base files, unknown keys,
// duplicate names) and verify_with_config end to end with a python worker. Not here: transports' edge cases.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/verifiers/external/test_helpers.h"
#include "verifiers/external/from_config.h"

namespace zerorl::verifiers::external {
namespace {
using zerorl::testing::TempDir;

const char* kExactWorker = R"PY(
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    ok = r["response"].strip() == r["gold"].strip()
    print(json.dumps({"id": r["id"], "reward": 1.0 if ok else 0.0, "info": {"extra": r["extra"]}}), flush=True)
)PY";

TEST(FromConfig, SectionLoadsWithBaseAndChecks) {
  TempDir dir;
  dir.write("base.yaml",
            "trainer: {steps: 3}\nverifiers:\n  external:\n    exact:\n      command: [python3, w.py]\n"
            "      workers: 2\n");
  const std::string over =
      dir.write("over.yaml",
                "base: base.yaml\nverifiers:\n  external:\n    exact:\n"
                "      timeout_s: 3\n  remote:\n    rm: {url: 'http://127.0.0.1:9/x'}\n");
  const VerifiersSection s = load_verifiers_section(over);
  ASSERT_EQ(s.external.count("exact"), 1u);
  EXPECT_EQ(s.external.at("exact").workers, 2);
  EXPECT_EQ(s.external.at("exact").timeout_s, 3.0);
  EXPECT_EQ(s.external.at("exact").command, (config::StringList{"python3", "w.py"}));
  EXPECT_EQ(s.remote.at("rm").retries, 3);  // default
  try {
    parse_verifiers_section("verifiers:\n  external:\n    e: {command: [x], workers: 0}\n", "t.yaml");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("verifiers.external.e.workers"), std::string::npos) << e.what();
  }
  try {
    parse_verifiers_section("verifiers:\n  external:\n    e: {comand: [x]}\n", "t.yaml");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("comand"), std::string::npos) << e.what();
  }
  try {  // a verifier declared twice under one key: yaml-cpp would silently keep the first
    parse_verifiers_section("verifiers:\n  external:\n    e: {command: [x]}\n    e: {command: [y]}\n",
                            "t.yaml");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("t.yaml:4: duplicate key 'verifiers.external.e' (first at line 3)"),
              std::string::npos)
        << e.what();
  }
  const auto dup = parse_verifiers_section(
      "verifiers:\n  external:\n    x: {command: [a]}\n  remote:\n    x: {url: 'http://h:1/'}\n", "t.yaml");
  EXPECT_THROW(user_verifier_factories(dup), std::exception);
  const auto aliases = user_data_source_aliases(parse_verifiers_section(
      "verifiers:\n  external:\n    a: {command: [x], data_sources: [openai/gsm8k, g2]}\n  plugins:\n"
      "    b: {path: x.so, data_sources: [chem]}\n",
      "t.yaml"));
  EXPECT_EQ(aliases, (std::map<std::string, std::string>{{"openai/gsm8k", "a"}, {"g2", "a"}, {"chem", "b"}}));
  EXPECT_THROW(user_data_source_aliases(parse_verifiers_section(
                   "verifiers:\n  external:\n    a: {command: [x], data_sources: [d]}\n"
                   "    b: {command: [x], data_sources: [d]}\n",
                   "t.yaml")),
               std::exception);
  try {
    create_user_verifier(s, "nope");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("declared: exact, rm"), std::string::npos) << e.what();
  }
}

TEST(FromConfig, VerifyWithConfigWritesOneLinePerInputInOrder) {
  TempDir dir;
  const std::string worker = dir.write("w.py", kExactWorker);
  const std::string cfg = dir.write("c.yaml", "verifiers:\n  external:\n    exact:\n      command: [" +
                                                  std::string(zerorl::testing::kPython) + ", " + worker +
                                                  "]\n      workers: 3\n");
  std::string input;
  for (int i = 0; i < 25; ++i) {
    input += Json{{"prompt", "q"},
                  {"response", i % 2 ? std::to_string(i) : "x"},
                  {"gold", i},
                  {"extra", {{"k", i}}}}
                 .dump() +
             "\n";
  }
  const std::string in = dir.write("in.jsonl", input);
  std::ostringstream out;
  EXPECT_EQ(verify_with_config(cfg, "exact", in, out), 0);
  std::istringstream lines(out.str());
  std::string line;
  int i = 0;
  for (; std::getline(lines, line); ++i) {
    const Json row = Json::parse(line);
    const bool ok = i % 2 == 1;
    EXPECT_EQ(row["correct"], ok) << line;
    EXPECT_EQ(row["reward"], ok ? 1.0 : 0.0);
    EXPECT_EQ(row["status"], ok ? "ok" : "wrong");
    EXPECT_EQ(row["info"]["extra"]["k"], i);
  }
  EXPECT_EQ(i, 25);
  const std::string bad = dir.write("bad.jsonl", "{\"gold\": \"1\"}\n");
  std::ostringstream none;
  try {
    verify_with_config(cfg, "exact", bad, none);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("line 1: missing key 'response'"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(none.str().empty());
}

}  // namespace
}  // namespace zerorl::verifiers::external
