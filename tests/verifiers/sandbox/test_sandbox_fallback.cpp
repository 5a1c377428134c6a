// tests/verifiers/sandbox/test_sandbox_fallback.cpp: when a protection is missing the sandbox refuses to run
// untrusted code, unless insecure_allow says otherwise (then: unprivileged uid, rlimits, seccomp, temp dir).
// Not here: the fully protected path (test_sandbox_adversarial.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::verifiers {
namespace {

CodeVerifierOptions without_bwrap(bool insecure_allow) {
  CodeVerifierOptions o;
  o.sandbox.slots = 1;
  o.sandbox.uid_base = 62200;
  o.sandbox.bwrap = "/nonexistent/bwrap";
  o.sandbox.insecure_allow = insecure_allow;
  o.sandbox.limits.wall_s = 2.0;
  return o;
}

Sample io_sample(const std::string& program, const std::string& expected) {
  Sample s;
  s.extra = {{"program", program}, {"tests", Json::array({{{"stdin", ""}, {"stdout", expected}}})}};
  return s;
}

TEST(SandboxFallback, RefusesWhenNamespacesAreMissing) {
  CodeVerifier v(without_bwrap(false));
  EXPECT_NE(v.sandbox().missing_protections().find("bubblewrap"), std::string::npos);
  Verdict verdict = v.verify(io_sample("print(1)", "1"));
  EXPECT_EQ(verdict.status, "sandbox_error");
  EXPECT_FALSE(verdict.correct);
  EXPECT_NE(verdict.reason.find("bubblewrap"), std::string::npos) << verdict.reason;
}

TEST(SandboxFallback, InsecureAllowRunsUnprivilegedWithSeccomp) {
  CodeVerifier v(without_bwrap(true));
  std::string uid = std::to_string(v.sandbox().uids().at(0));
  EXPECT_GE(v.sandbox().uids().at(0), 62200u);
  Verdict ok = v.verify(io_sample("import os\nprint(os.getuid(), os.getgid())", uid + " " + uid));
  EXPECT_EQ(ok.status, "ok") << ok.reason;
  Verdict net =
      v.verify(io_sample("import socket\ntry:\n    socket.socket(socket.AF_INET)\n    print('open')\nexcept "
                         "OSError:\n    print('denied')",
                         "denied"));
  EXPECT_EQ(net.status, "ok") << net.reason;
  // The private working directory is gone after the run.
  sandbox::RunRequest req;
  req.program = "import os\nprint(os.getcwd())\n";
  sandbox::Sandbox& sb = v.sandbox();
  sandbox::RunResult r = sb.run(req);
  ASSERT_EQ(r.status, sandbox::RunStatus::kExited) << r.err << r.error;
  std::string dir = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(dir.rfind("/tmp/zerorl-sandbox-", 0), 0u) << dir;
  EXPECT_NE(access(dir.c_str(), F_OK), 0) << dir << " was left behind";
}

// Without bubblewrap (insecure_allow), an assert test still runs as two processes of two uids, each in
// its own 0700 directory: the candidate cannot read the tests, and right and wrong answers score as usual.
TEST(SandboxFallback, InsecureAllowRunsAssertTestsAsTwoUids) {
  CodeVerifierOptions o = without_bwrap(true);
  o.default_timeout_s = 5.0;
  CodeVerifier v(o);
  const char* tests =
      "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 4\n";
  auto assert_sample = [&](const std::string& program) {
    Sample s;
    s.extra = {{"program", program}, {"test_code", tests}, {"entry_point", "add"}};
    return s;
  };
  Verdict right = v.verify(assert_sample("def add(a, b):\n    return a + b\n"));
  EXPECT_TRUE(right.correct) << right.status << " " << right.reason;
  // Reads every file it can reach for the asserts, including the harness's folder next to its own.
  Verdict peek = v.verify(assert_sample(
      "import glob, os, re\nT = {}\nfor p in glob.glob('../*/*') + glob.glob('/tmp/*/*') + glob.glob('*'):\n"
      "    try:\n        t = open(p).read()\n    except Exception:\n        continue\n"
      "    for a, w in re.findall(r'candidate\\(([^)]*)\\) == (\\d+)', t):\n"
      "        T[tuple(int(x) for x in a.split(','))] = int(w)\n"
      "def add(a, b):\n    return T.get((a, b), 0)\n"));
  EXPECT_FALSE(peek.correct) << peek.reason;
  EXPECT_EQ(peek.status, "wrong") << peek.reason;
}

// sandbox.memory_mb is a cgroup limit: a machine without writable cgroups cannot enforce it, so the
// sandbox refuses (naming cgroups) unless insecure_allow, and then still runs inside the namespaces.
CodeVerifierOptions without_cgroups(bool insecure_allow) {
  CodeVerifierOptions o;
  o.sandbox.slots = 1;
  o.sandbox.uid_base = 62250;
  o.sandbox.cgroup_root = "/nonexistent/cgroup";
  o.sandbox.insecure_allow = insecure_allow;
  o.sandbox.limits.wall_s = 5.0;
  o.default_timeout_s = 5.0;
  return o;
}

TEST(SandboxFallback, RefusesWithoutCgroups) {
  CodeVerifier v(without_cgroups(false));
  EXPECT_FALSE(v.sandbox().has_cgroups());
  EXPECT_NE(v.sandbox().missing_protections().find("cgroups"), std::string::npos)
      << v.sandbox().missing_protections();
  Verdict verdict = v.verify(io_sample("print(1)", "1"));
  EXPECT_EQ(verdict.status, "sandbox_error");
  EXPECT_NE(verdict.reason.find("cgroups"), std::string::npos) << verdict.reason;
}

TEST(SandboxFallback, InsecureAllowWithoutCgroupsKeepsNamespaces) {
  CodeVerifier v(without_cgroups(true));
  // PID 1 of its own namespace, no /home: bubblewrap still isolates; only the cgroup is missing.
  Verdict ok = v.verify(io_sample("import os\nprint(os.getpid(), os.path.exists('/home'))", "1 False"));
  EXPECT_EQ(ok.status, "ok") << ok.reason;
}

}  // namespace
}  // namespace zerorl::verifiers
