// tests/verifiers/sandbox/test_fork_server.cpp: the slot's fork server behind assert-style tests: one
// server serves many tests, a killed server is restarted, a test stuck in the trusted code is stopped at
// its deadline without losing the server, a plain run_pair takes the cell over, and no process outlives
// a test, the verifier or its owner process.
// Not here: the verdicts of hostile candidates (test_red_team.cpp), HumanEval (test_humaneval_sandbox.cpp).
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "tests/verifiers/sandbox/own_uid_base.h"
#include "verifiers/sandbox/assert_tests.h"
#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::verifiers {
namespace {

const char* kTests =
    "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 4\n";
const char* kRight = "def add(a, b):\n    return a + b\n";

Sample add_sample(const std::string& program, const std::string& tests = kTests, double timeout_s = 5.0) {
  Sample s;
  s.extra = {{"program", program}, {"test_code", tests}, {"entry_point", "add"}, {"timeout_s", timeout_s}};
  return s;
}

CodeVerifierOptions one_slot() {
  CodeVerifierOptions o;
  o.sandbox.slots = 1;
  o.sandbox.uid_base = testing::own_uid_base(62500, 10);  // 8 tests: 62500-62571
  o.sandbox.limits.wall_s = 5.0;
  return o;
}

// The host pids whose real uid is `uid` (from /proc/<pid>/status), with their command names.
std::set<std::pair<int, std::string>> processes_of(uid_t uid) {
  std::set<std::pair<int, std::string>> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line, name;
    while (std::getline(status, line)) {
      if (line.rfind("Name:", 0) == 0) name = line.substr(line.find_first_not_of(" \t", 5));
      if (line.rfind("Uid:", 0) == 0 && std::stoul(line.substr(4)) == uid) out.insert({pid, name});
    }
  }
  closedir(d);
  return out;
}

// The python3 processes among them: the server (its forked children are gone once a verify returns).
std::set<int> pythons_of(uid_t uid) {
  std::set<int> out;
  for (const auto& [pid, name] : processes_of(uid))
    if (name.rfind("python3", 0) == 0) out.insert(pid);
  return out;
}

// Polls up to `s` seconds for every process of `uid` to be gone.
bool all_gone(uid_t uid, double s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(s);
  while (!processes_of(uid).empty()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The uid of slot 0's trusted cell (where its fork server lives).
uid_t trusted_uid(const CodeVerifier& v) { return v.sandbox().uids()[v.sandbox().options().slots]; }

TEST(ForkServer, ServesManyTestsFromOneProcess) {
  CodeVerifier v(one_slot());
  if (!v.sandbox().missing_protections().empty()) GTEST_SKIP() << v.sandbox().missing_protections();
  Verdict first = v.verify(add_sample(kRight));
  ASSERT_TRUE(first.correct) << first.status << " " << first.reason;
  const std::set<int> server = pythons_of(trusted_uid(v));
  ASSERT_EQ(server.size(), 1u) << "one fork server, no test's child left running";
  for (int i = 0; i < 3; ++i) {
    Verdict right = v.verify(add_sample(kRight));
    EXPECT_TRUE(right.correct) << right.status << " " << right.reason;
    Verdict wrong = v.verify(add_sample("def add(a, b):\n    return a - b\n"));
    EXPECT_FALSE(wrong.correct);
    EXPECT_EQ(wrong.status, "wrong") << wrong.reason;
  }
  EXPECT_EQ(pythons_of(trusted_uid(v)), server) << "the same server served every test";
}

TEST(ForkServer, KilledServerIsRestarted) {
  CodeVerifier v(one_slot());
  if (!v.sandbox().missing_protections().empty()) GTEST_SKIP() << v.sandbox().missing_protections();
  ASSERT_TRUE(v.verify(add_sample(kRight)).correct);
  const std::set<int> server = pythons_of(trusted_uid(v));
  ASSERT_EQ(server.size(), 1u);
  ASSERT_EQ(kill(*server.begin(), SIGKILL), 0);  // this test's own sandboxed server
  Verdict after = v.verify(add_sample(kRight));
  EXPECT_TRUE(after.correct) << after.status << " " << after.reason;
  const std::set<int> restarted = pythons_of(trusted_uid(v));
  EXPECT_EQ(restarted.size(), 1u);
  EXPECT_NE(restarted, server);
}

// The trusted side's own code never ends (a broken dataset test): the server stops that test's child at
// the deadline, the sample is a timeout, and the same server serves the next test.
TEST(ForkServer, StuckTrustedCodeIsATimeoutAndTheServerStays) {
  CodeVerifier v(one_slot());
  if (!v.sandbox().missing_protections().empty()) GTEST_SKIP() << v.sandbox().missing_protections();
  ASSERT_TRUE(v.verify(add_sample(kRight)).correct);
  const std::set<int> server = pythons_of(trusted_uid(v));
  const auto t0 = std::chrono::steady_clock::now();
  Verdict stuck = v.verify(add_sample(kRight, "def check(candidate):\n    while True:\n        pass\n", 1.0));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(stuck.correct);
  EXPECT_EQ(stuck.status, "timeout") << stuck.reason;
  EXPECT_LT(s, 1.0 + 2.0) << "stopped at its 1 s deadline (plus the reply grace at most)";
  Verdict next = v.verify(add_sample(kRight));
  EXPECT_TRUE(next.correct) << next.status << " " << next.reason;
  EXPECT_EQ(pythons_of(trusted_uid(v)), server);
}

// The trusted test code starts a process of its own that would outlive it: it ends with the test.
TEST(ForkServer, ATestsOwnProcessesEndWithIt) {
  CodeVerifier v(one_slot());
  if (!v.sandbox().missing_protections().empty()) GTEST_SKIP() << v.sandbox().missing_protections();
  ASSERT_TRUE(v.verify(add_sample(kRight)).correct);
  const std::set<int> server = pythons_of(trusted_uid(v));
  const std::string tests = std::string(kTests) +
                            "import os, time\n"
                            "if os.fork() == 0:\n    time.sleep(30)\n    os._exit(0)\n";
  Verdict v2 = v.verify(add_sample(kRight, tests));
  EXPECT_TRUE(v2.correct) << v2.status << " " << v2.reason;
  // Killed at once; reaped by the server (its sandbox's PID 1) at the latest with the next test.
  ASSERT_TRUE(v.verify(add_sample(kRight)).correct);
  EXPECT_EQ(pythons_of(trusted_uid(v)), server);
}

// Plain run_pair (a fresh trusted sandbox) takes the trusted cell from the slot's server, which is
// stopped first and restarted by the next forked pair.
TEST(ForkServer, PlainRunPairSharesTheCellWithTheServer) {
  CodeVerifier v(one_slot());
  if (!v.sandbox().missing_protections().empty()) GTEST_SKIP() << v.sandbox().missing_protections();
  ASSERT_TRUE(v.verify(add_sample(kRight)).correct);
  sandbox::RunRequest trusted, untrusted;
  trusted.program = "import os\nos.write(3, b'ping')\nos.close(3)\nprint(os.read(4, 100).decode())\n";
  untrusted.program = "import os\nos.write(4, os.read(3, 100).upper())\n";
  const sandbox::PairResult r = v.sandbox().run_pair(trusted, untrusted);
  EXPECT_EQ(r.trusted.status, sandbox::RunStatus::kExited) << r.trusted.error << r.trusted.err;
  EXPECT_EQ(r.trusted.out, "PING\n");
  EXPECT_TRUE(pythons_of(trusted_uid(v)).empty()) << "the server was stopped for the plain pair";
  Verdict after = v.verify(add_sample(kRight));
  EXPECT_TRUE(after.correct) << after.status << " " << after.reason;
  EXPECT_EQ(pythons_of(trusted_uid(v)).size(), 1u);
}

// run_pair_forked with a server of the test's own: the child's stdin, stdout and exit status go through
// as in a normal run, an output flood is stopped (kOutputLimit) and the server serves the next call.
TEST(ForkServer, ServedRunsFeedCaptureAndCap) {
  CodeVerifierOptions o = one_slot();
  o.sandbox.limits.stdout_bytes = 1 << 20;
  CodeVerifier v(o);
  if (!v.sandbox().missing_protections().empty()) GTEST_SKIP() << v.sandbox().missing_protections();
  const std::string server =
      "import posix as _zrl_os, select as _zrl_select, time as _zrl_time\n"
      "def zrl_main():\n"
      "    data = _zrl_os.read(0, 100)\n"
      "    while data == b'flood':\n"
      "        _zrl_os.write(1, b'x' * 65536)\n"
      "    _zrl_os.write(1, data.upper())\n"
      "    _zrl_os._exit(3)\n" +
      sandbox::harness_python("fork_server");
  auto call = [&](const std::string& in) {
    sandbox::RunRequest trusted, untrusted;
    trusted.program = server;
    trusted.argv = {"/usr/bin/python3", "-I", "-B", "-S", "{file}"};
    trusted.stdin_data = in;
    trusted.wall_s = 5.0;
    untrusted.program = "pass\n";
    return v.sandbox().run_pair_forked(trusted, untrusted).trusted;
  };
  const sandbox::RunResult hello = call("hello");
  EXPECT_EQ(hello.status, sandbox::RunStatus::kExited) << hello.error << hello.err;
  EXPECT_EQ(hello.exit_code, 3);
  EXPECT_EQ(hello.out, "HELLO");
  const std::set<int> first = pythons_of(trusted_uid(v));
  const sandbox::RunResult flood = call("flood");
  EXPECT_EQ(flood.status, sandbox::RunStatus::kOutputLimit) << flood.error << flood.err;
  EXPECT_EQ(flood.out.size(), size_t{1} << 20);
  const sandbox::RunResult again = call("again");
  EXPECT_EQ(again.out, "AGAIN") << again.error << again.err;
  EXPECT_EQ(pythons_of(trusted_uid(v)), first) << "one server throughout";
}

TEST(ForkServer, NothingOutlivesTheVerifier) {
  uid_t uid = 0;
  {
    CodeVerifier v(one_slot());
    if (!v.sandbox().missing_protections().empty()) GTEST_SKIP() << v.sandbox().missing_protections();
    ASSERT_TRUE(v.verify(add_sample(kRight)).correct);
    uid = trusted_uid(v);
    ASSERT_FALSE(processes_of(uid).empty());
  }
  EXPECT_TRUE(all_gone(uid, 2.0)) << processes_of(uid).size() << " processes of uid " << uid << " left";
}

// The owner is SIGKILLed with its server running (no destructor runs): the server dies with it.
TEST(ForkServer, ServerEndsWithItsOwnerProcess) {
  {
    CodeVerifier probe(one_slot());  // destroyed before the fork: no thread of it is left
    if (!probe.sandbox().missing_protections().empty()) GTEST_SKIP() << probe.sandbox().missing_protections();
  }
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  const pid_t owner = fork();
  ASSERT_GE(owner, 0);
  if (owner == 0) {
    close(p[0]);
    CodeVerifier v(one_slot());
    uid_t uid = 0;
    if (v.sandbox().missing_protections().empty() && v.verify(add_sample(kRight)).correct &&
        pythons_of(trusted_uid(v)).size() == 1) {
      uid = trusted_uid(v);
    }
    if (write(p[1], &uid, sizeof uid) != sizeof uid) _exit(1);
    raise(SIGKILL);
    _exit(1);
  }
  close(p[1]);
  uid_t uid = 0;
  const bool got = read(p[0], &uid, sizeof uid) == sizeof uid;
  close(p[0]);
  int status = 0;
  waitpid(owner, &status, 0);
  ASSERT_TRUE(got && uid != 0) << "the owner could not start a server";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_TRUE(all_gone(uid, 3.0)) << processes_of(uid).size() << " processes of uid " << uid << " left";
}

}  // namespace
}  // namespace zerorl::verifiers
