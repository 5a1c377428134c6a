// tests/verifiers/sandbox/test_code_scoring.cpp: how the code verifier scores ordinary programs: reward
// modes, program extraction from a response, malformed samples. Not here: hostile programs, HumanEval.
#include <gtest/gtest.h>

#include "verifiers/registry.h"
#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::verifiers {
namespace {

CodeVerifierOptions options(CodeRewardMode mode) {
  CodeVerifierOptions o;
  o.sandbox.slots = 2;
  o.sandbox.uid_base = 62300;
  o.reward_mode = mode;
  o.default_timeout_s = 10.0;
  return o;
}

// Doubles its input, except 3 (-> 0): passes the first and third case, fails the second.
const char* kProgram = "n = int(input())\nprint(0 if n == 3 else 2 * n)\n";
Json three_tests() {
  return Json::array({{{"stdin", "1\n"}, {"stdout", "2\n"}},
                      {{"stdin", "3\n"}, {"stdout", "6\n"}},
                      {{"stdin", "5\n"}, {"stdout", "10\n"}}});
}

TEST(CodeScoring, FractionCountsEveryCase) {
  CodeVerifier v(options(CodeRewardMode::kFraction));
  Sample s;
  s.extra = {{"program", kProgram}, {"tests", three_tests()}};
  Verdict verdict = v.verify(s);
  EXPECT_EQ(verdict.info.value("passed", -1), 2);
  EXPECT_EQ(verdict.info.value("total", -1), 3);
  EXPECT_DOUBLE_EQ(verdict.reward, 2.0 / 3.0);
  EXPECT_FALSE(verdict.correct);
  EXPECT_EQ(verdict.status, "wrong");
}

TEST(CodeScoring, AllOrNothingStopsAtFirstFailure) {
  CodeVerifier v(options(CodeRewardMode::kAllOrNothing));
  Sample s;
  s.extra = {{"program", kProgram}, {"tests", three_tests()}};
  Verdict verdict = v.verify(s);
  EXPECT_EQ(verdict.info.value("passed", -1), 1);  // the third case never ran
  EXPECT_DOUBLE_EQ(verdict.reward, 0.0);
  EXPECT_EQ(verdict.status, "wrong");
  EXPECT_NE(verdict.reason.find("test 1"), std::string::npos) << verdict.reason;
}

TEST(CodeScoring, ProgramFromLastFencedBlock) {
  CodeVerifier v(options(CodeRewardMode::kAllOrNothing));
  Sample s;
  s.response =
      "First try:\n```python\nprint('wrong')\n```\nBetter:\n```python\nprint(int(input()) + 1)\n```\n";
  s.extra = {{"tests", Json::array({{{"stdin", "41"}, {"stdout", "42"}}})}};
  Verdict verdict = v.verify(s);
  EXPECT_EQ(verdict.status, "ok") << verdict.reason;
  EXPECT_DOUBLE_EQ(verdict.reward, 1.0);
  EXPECT_EQ(verdict.extracted, "print(int(input()) + 1)\n");
  EXPECT_GE(verdict.info.value("wall_s", 0.0), 0.0);
  EXPECT_GT(verdict.info.value("peak_memory_bytes", uint64_t{0}), 0u);
}

TEST(CodeScoring, MalformedSamplesAreVerdicts) {
  CodeVerifier v(options(CodeRewardMode::kAllOrNothing));
  Sample no_tests;
  no_tests.extra = {{"program", "print(1)"}};
  EXPECT_EQ(v.verify(no_tests).status, "error");
  Sample bad_entry;
  bad_entry.extra = {
      {"program", "def f(): pass"}, {"test_code", "def check(c): pass"}, {"entry_point", "f; import os"}};
  EXPECT_EQ(v.verify(bad_entry).status, "error");
  Sample wrong_type;
  wrong_type.extra = {{"program", "print(1)"}, {"test_code", 5}, {"entry_point", "f"}};
  EXPECT_EQ(v.verify(wrong_type).status, "error");
  Sample no_block;
  no_block.response = "I think the answer is 42.";
  no_block.extra = {{"tests", Json::array({{{"stdin", ""}, {"stdout", "42"}}})}};
  Verdict verdict = v.verify(no_block);
  EXPECT_EQ(verdict.status, "wrong");
  EXPECT_EQ(verdict.info.value("total", -1), 1);
}

// Another language by configuration only: C, compiled inside the sandbox.
TEST(CodeScoring, CompiledLanguageByConfig) {
  CodeVerifierOptions o = options(CodeRewardMode::kAllOrNothing);
  o.sandbox.language.file_name = "main.c";
  o.sandbox.language.run_argv = {"/bin/sh", "-c", "gcc -O1 -o /tmp/a {file} && exec /tmp/a"};
  CodeVerifier v(o);
  Sample s;
  s.response =
      "```c\n#include <stdio.h>\nint main(void) { int a, b; scanf(\"%d %d\", &a, &b); printf(\"%d\\n\", a + "
      "b); }\n```";
  s.extra = {{"tests", Json::array({{{"stdin", "2 40\n"}, {"stdout", "42\n"}},
                                    {{"stdin", "-1 1"}, {"stdout", "0"}}})}};
  Verdict verdict = v.verify(s);
  EXPECT_EQ(verdict.status, "ok") << verdict.reason;
  EXPECT_EQ(verdict.info.value("passed", -1), 2);
}

}  // namespace
}  // namespace zerorl::verifiers

namespace zerorl::verifiers {
namespace {

// The registry builds "code" from JSON options (what YAML configs pass); the options take effect.
TEST(CodeScoring, RegistryBuildsCodeVerifierFromOptions) {
  Registry r = Registry::with_builtins();
  ASSERT_TRUE(r.has("code"));
  EXPECT_THROW(r.create("code", Json{{"reward", "most"}}), std::exception);
  EXPECT_THROW(r.create("code", Json{{"no_such_option", 1}}), std::exception);
  auto fraction = r.create("code", Json{{"reward", "fraction"}, {"timeout_s", 10}});
  Sample s;
  s.extra = {
      {"program", "print(int(input()) * 2)"},
      {"tests", Json::array({{{"stdin", "2\n"}, {"stdout", "4\n"}}, {{"stdin", "3\n"}, {"stdout", "7\n"}}})}};
  const Verdict v = fraction->verify(s);
  EXPECT_DOUBLE_EQ(v.reward, 0.5) << v.reason;
  auto all = r.create("code", Json::object());
  EXPECT_DOUBLE_EQ(all->verify(s).reward, 0.0);
}

}  // namespace
}  // namespace zerorl::verifiers
