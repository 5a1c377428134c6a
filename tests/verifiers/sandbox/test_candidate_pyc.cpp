// tests/verifiers/sandbox/test_candidate_pyc.cpp: the candidate's side of the assert harness runs from a
// .pyc image that the sandbox's own interpreter compiled (candidate_server_pyc), and the source stays the
// fallback when that cannot be made. Not here: the harness's verdicts (test_red_team.cpp,
// test_humaneval_sandbox.cpp), the fork server (test_fork_server.cpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "verifiers/sandbox/assert_tests.h"
#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::verifiers {
namespace {

CodeVerifierOptions one_slot() {
  CodeVerifierOptions o;
  o.sandbox.slots = 1;
  o.sandbox.uid_base = 62600;
  return o;
}

// The interpreter's magic number, asked of it directly on the host (the reference for the image's header).
std::string host_magic() {
  FILE* p = ::popen(
      "/usr/bin/python3 -I -S -c \"import importlib.util, sys; "
      "sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER.hex().encode())\"",
      "r");
  if (p == nullptr) return "";
  char buf[64] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, p);
  ::pclose(p);
  return std::string(buf, n);
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {digits[c >> 4], digits[c & 15]};
  return out;
}

TEST(CandidatePyc, ImageCarriesTheInterpretersMagicAndIsMadeOnce) {
  CodeVerifier v(one_slot());
  const std::string& image = sandbox::candidate_server_pyc(v.sandbox(), "/usr/bin/python3");
  ASSERT_GT(image.size(), 1000u);  // the codec and the server: thousands of bytes of marshalled code
  const std::string magic = host_magic();
  ASSERT_EQ(magic.size(), 8u) << "the host's python3 did not report its magic number";
  EXPECT_EQ(hex(image.substr(0, 4)), magic);
  EXPECT_EQ(image.substr(4, 12), std::string(12, '\0'));  // flags, date, size: unchecked when run by name
  // Cached per interpreter path: the same object, not a second compile.
  EXPECT_EQ(&sandbox::candidate_server_pyc(v.sandbox(), "/usr/bin/python3"), &image);
}

TEST(CandidatePyc, MissingInterpreterGivesNoImage) {
  CodeVerifier v(one_slot());
  EXPECT_EQ(sandbox::candidate_server_pyc(v.sandbox(), "/usr/bin/no-such-python3"), "");
}

// The candidate's process runs the image (its __main__ is the .pyc), and the harness works from it: a right
// answer passes, a wrong one fails.
TEST(CandidatePyc, CandidateRunsFromTheImage) {
  CodeVerifier v(one_slot());
  Sample s;
  s.extra = {{"program",
              "import sys\ndef main_file():\n    return sys.modules['__main__'].__file__\n"
              "def add(a, b):\n    return a + b\n"},
             {"test_code",
              "def check(candidate):\n    assert candidate(1, 2) == 3\n"
              "    assert main_file().endswith('zrl_candidate.pyc'), main_file()\n"},
             {"entry_point", "add"},
             {"timeout_s", 10.0}};
  const Verdict ok = v.verify(s);
  EXPECT_TRUE(ok.correct) << ok.status << ": " << ok.reason;
  s.extra["program"] = "def main_file():\n    return 'zrl_candidate.pyc'\ndef add(a, b):\n    return a - b\n";
  const Verdict wrong = v.verify(s);
  EXPECT_FALSE(wrong.correct);
  EXPECT_EQ(wrong.status, "wrong") << wrong.reason;
}

}  // namespace
}  // namespace zerorl::verifiers
