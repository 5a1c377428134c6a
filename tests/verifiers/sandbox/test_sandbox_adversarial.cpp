// tests/verifiers/sandbox/test_sandbox_adversarial.cpp: hostile programs (fork/memory bombs, floods, escapes,
// daemons, network) are contained, the verifier keeps serving, and nothing is left behind. Hostile code runs
// only inside the sandbox (unprivileged uid, its limits). Not here: scoring of correct programs (HumanEval).
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "tests/verifiers/sandbox/own_uid_base.h"
#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::verifiers {
namespace {

constexpr uid_t kUidBase = 62000;
constexpr int kSlots = 2;
constexpr double kDeadline = 2.0;  // seconds, for the cases that must be stopped by the deadline

CodeVerifierOptions test_options() {
  CodeVerifierOptions o;
  o.sandbox.slots = kSlots;
  o.sandbox.uid_base = testing::own_uid_base(kUidBase, 2 * kSlots);  // 17 tests: 62000-62067
  o.sandbox.limits.wall_s = 2.0;
  o.sandbox.limits.memory_bytes = 256ull << 20;
  o.sandbox.limits.address_space_bytes = 512ull << 20;
  o.sandbox.limits.max_processes = 16;
  o.sandbox.limits.stdout_bytes = 1ull << 20;
  o.default_timeout_s = 2.0;
  return o;
}

// Processes (zombies included) whose real uid is one of `uids` (the sandbox's), except each slot's fork
// server in its trusted cell (uids[slots + i]): one bwrap and one python3 that stay between runs.
int sandbox_processes(const std::vector<uid_t>& uids) {
  int n = 0;
  std::vector<int> servers(uids.size(), 0);
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/status");
    std::string line, name, state;
    long uid = -1;
    while (std::getline(f, line)) {
      if (line.rfind("Name:", 0) == 0) name = line.substr(line.find_first_not_of(" \t", 5));
      if (line.rfind("State:", 0) == 0) state = line.substr(line.find_first_not_of(" \t", 6), 1);
      if (line.rfind("Uid:", 0) == 0) uid = std::stol(line.substr(5));
    }
    const auto it = std::find(uids.begin(), uids.end(), static_cast<uid_t>(uid));
    if (it == uids.end()) continue;
    const size_t cell = static_cast<size_t>(it - uids.begin());
    // Zombies count too: nothing may be orphaned to the host's init.
    const bool server_part =
        cell >= uids.size() / 2 && state != "Z" && (name == "bwrap" || name == "python3");
    if (server_part && ++servers[cell] <= 2) continue;
    ++n;
  }
  closedir(d);
  return n;
}

std::string random_tag() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

class Adversarial : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { verifier_ = new CodeVerifier(test_options()); }
  static void TearDownTestSuite() {
    delete verifier_;
    verifier_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(verifier_->sandbox().missing_protections(), "") << "this machine cannot sandbox";
  }
  // After each hostile case: nothing of the sandbox survives, and a correct program still passes.
  void TearDown() override {
    int left = sandbox_processes(verifier_->sandbox().uids());
    for (int i = 0; i < 100 && left > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      left = sandbox_processes(verifier_->sandbox().uids());
    }
    EXPECT_EQ(left, 0) << "sandboxed processes left behind";
    Verdict ok = run_io("print(int(input()) * 2)", "21\n", "42");
    EXPECT_EQ(ok.status, "ok") << ok.reason;
  }
  // timeout_s: generous by default (a loaded CI machine); the deadline tests pass kDeadline.
  static Verdict run_io(const std::string& program, const std::string& in, const std::string& out,
                        double timeout_s = 10.0) {
    Sample s;
    s.extra = {{"program", program},
               {"tests", Json::array({{{"stdin", in}, {"stdout", out}}})},
               {"timeout_s", timeout_s}};
    Verdict v = verifier_->verify(s);
    EXPECT_NO_THROW((void)Json({{"reason", v.reason}, {"info", v.info}}).dump()) << "verdict must serialize";
    return v;
  }
  static double seconds(const Verdict& v) { return v.info.value("wall_s", 0.0); }
  static CodeVerifier* verifier_;
};
CodeVerifier* Adversarial::verifier_ = nullptr;

TEST_F(Adversarial, ForkBomb) {
  Verdict v =
      run_io("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", "",
             "x", kDeadline);
  EXPECT_EQ(v.status, "timeout");
  EXPECT_LT(seconds(v), 4.0);
}

TEST_F(Adversarial, MemoryBomb) {
  Verdict v = run_io("x = []\nwhile True:\n    x.append(bytearray(10**7))\n", "", "x");
  EXPECT_EQ(v.status, "memory") << v.reason;
  EXPECT_LT(v.info.value("peak_memory_bytes", uint64_t{0}), uint64_t{600} << 20);
}

// Each process stays under RLIMIT_AS (512 MiB); together they exceed the cgroup's 256 MiB: the cgroup
// is the wall that stops them.
TEST_F(Adversarial, MemoryBombAcrossProcesses) {
  if (!verifier_->sandbox().has_cgroups()) GTEST_SKIP() << "no pids/memory cgroup on this machine";
  Verdict v = run_io(
      "import os, time\nfor _ in range(5):\n    if os.fork() == 0:\n        b = b'\\x01' * (200 * 2**20)\n"
      "        time.sleep(5)\n        os._exit(0)\nfor _ in range(5):\n    os.wait()\nprint('x')\n",
      "", "x", 6.0);  // time for the allocations on a loaded machine; children sleep 5 s after them
  EXPECT_EQ(v.status, "memory") << v.status << " " << v.reason;
  EXPECT_LE(v.info.value("peak_memory_bytes", uint64_t{0}), uint64_t{300} << 20);
}

TEST_F(Adversarial, BusyLoop) {
  Verdict v = run_io("while True:\n    pass\n", "", "x", kDeadline);
  EXPECT_EQ(v.status, "timeout");
  EXPECT_LT(seconds(v), 3.5);
}

TEST_F(Adversarial, SleepPastDeadline) {
  Verdict v = run_io("import time\ntime.sleep(100)\nprint('x')\n", "", "x", kDeadline);
  EXPECT_EQ(v.status, "timeout");
  EXPECT_LT(seconds(v), 3.5);
}

TEST_F(Adversarial, GigabyteOfStdout) {
  Verdict v = run_io(
      "import sys\nb = b'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.buffer.write(b)\n", "", "x");
  EXPECT_EQ(v.status, "output_limit");
  EXPECT_LT(seconds(v), 3.5);
}

TEST_F(Adversarial, WritesToHostDirectoriesStayInside) {
  std::string tag = "zerorl-sandbox-escape-" + random_tag();
  const char* home = std::getenv("HOME");
  std::vector<std::string> paths = {"/tmp/" + tag, "/var/tmp/" + tag,
                                    std::string(home ? home : "/root") + "/" + tag};
  std::string program = "import os\nfor p in [";
  for (auto& p : paths) program += "'" + p + "', ";
  program += "os.path.expanduser('~/" + tag +
             "')]:\n    try:\n        os.makedirs(os.path.dirname(p), exist_ok=True)\n"
             "        open(p, 'w').write('pwned')\n    except Exception:\n        pass\nprint('done')\n";
  Verdict v = run_io(program, "", "done");
  EXPECT_EQ(v.status, "ok") << v.reason;  // the writes may succeed, on the sandbox's private tmpfs
  for (auto& p : paths) EXPECT_NE(access(p.c_str(), F_OK), 0) << p << " appeared on the host";
}

TEST_F(Adversarial, CannotReadHostHome) {
  const char* home = std::getenv("HOME");
  std::string path = std::string(home ? home : "/root") + "/zerorl-sandbox-secret-" + random_tag();
  std::string secret = "secret-" + random_tag();
  { std::ofstream(path) << secret; }
  Verdict v = run_io("print(open('" + path + "').read())\n", "", secret);
  std::remove(path.c_str());
  EXPECT_EQ(v.status, "runtime_error") << v.reason;
  EXPECT_NE(v.reason.find("FileNotFoundError"), std::string::npos) << v.reason;
}

TEST_F(Adversarial, TcpToLocalListenerNeverArrives) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(ls, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(ls, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string port = std::to_string(ntohs(addr.sin_port));
  Verdict v = run_io("import socket\ns = socket.create_connection(('127.0.0.1', " + port +
                         "), timeout=1)\ns.sendall(b'hello')\nprint('connected')\n",
                     "", "connected");
  EXPECT_EQ(v.status, "runtime_error") << v.reason;
  EXPECT_LT(accept(ls, nullptr, nullptr), 0) << "the listener saw a connection";
  close(ls);
}

TEST_F(Adversarial, DoubleForkedDaemonDoesNotSurvive) {
  Verdict v = run_io(
      "import os, time\n"
      "if os.fork() == 0:\n"
      "    os.setsid()\n"
      "    if os.fork() == 0:\n"
      "        time.sleep(3)\n"
      "        open('/tmp/daemon-was-here', 'w').write('x')\n"
      "        while True: time.sleep(1)\n"
      "    os._exit(0)\n"
      "print('ok')\n",
      "", "ok");
  EXPECT_EQ(v.status, "ok") << v.reason;
  for (int i = 0; i < 35; ++i) {  // 3.5 s: the daemon's wake-up time has passed
    ASSERT_EQ(sandbox_processes(verifier_->sandbox().uids()), 0) << "a daemon survived the run";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(access("/tmp/daemon-was-here", F_OK), 0);
}

TEST_F(Adversarial, KillingTheParentIsContained) {
  Verdict v = run_io(
      "import os, signal\nfor p in (os.getppid(), 1):\n    try:\n        os.kill(p, signal.SIGKILL)\n"
      "    except Exception as e:\n        pass\nprint('alive')\n",
      "", "alive");
  // The program is PID 1 of its namespace: its "parent" is outside (getppid() is 0) and signals it sends
  // to itself as init are ignored, so it survives and so does the verifier.
  EXPECT_EQ(v.status, "ok") << v.reason;
}

TEST_F(Adversarial, EarlyExitZeroPassesNothing) {
  Sample s;
  s.extra = {{"program", "import os\ndef add(a, b):\n    return a - b\nos._exit(0)\n"},
             {"test_code", "def check(f):\n    assert f(1, 2) == 3\n"},
             {"entry_point", "add"}};
  Verdict v = verifier_->verify(s);
  EXPECT_FALSE(v.correct);
  EXPECT_EQ(v.info.value("passed", -1), 0);
  Verdict io = run_io("import os\nos._exit(0)\n", "", "");  // empty expected output: still needs exit 0
  EXPECT_EQ(io.status, "ok");
  Verdict io2 = run_io("import os\nos._exit(0)\n", "", "5");
  EXPECT_EQ(io2.status, "wrong");
}

TEST_F(Adversarial, ClosedStdout) {
  Verdict v = run_io("import os\nos.close(1)\nprint('x')\n", "", "x");
  EXPECT_FALSE(v.correct);
}

TEST_F(Adversarial, ReadingStdinForever) {
  Verdict v =
      run_io("import sys\nwhile True:\n    sys.stdin.read()\n", std::string(1 << 20, 'a'), "x", kDeadline);
  EXPECT_EQ(v.status, "timeout");
  Verdict unread =
      run_io("import time\ntime.sleep(10)\n", std::string(8 << 20, 'a'), "x", kDeadline);  // never reads
  EXPECT_EQ(unread.status, "timeout");
}

TEST_F(Adversarial, DeepRecursion) {
  Verdict v = run_io(
      "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1) + 1\nprint(f(0))\n", "", "x");
  EXPECT_TRUE(v.status == "runtime_error" || v.status == "memory") << v.status << " " << v.reason;
}

TEST_F(Adversarial, BinaryGarbageOutput) {
  Verdict v = run_io(
      "import os, sys\nsys.stdout.buffer.write(os.urandom(100000))\n"
      "sys.stderr.buffer.write(os.urandom(1000))\nraise SystemExit(3)\n",
      "", "x");
  EXPECT_EQ(v.status, "runtime_error");
  Verdict w = run_io("import os, sys\nsys.stdout.buffer.write(os.urandom(100000))\n", "", "x");
  EXPECT_EQ(w.status, "wrong");
}

TEST_F(Adversarial, SyscallFilterAndNamespaces) {
  // Each line prints one fact from inside; the expected output is what containment means.
  std::string program =
      "import ctypes, os, socket\n"
      "libc = ctypes.CDLL(None, use_errno=True)\n"
      "print('ptrace', libc.ptrace(0, 0, 0, 0))\n"
      "print('unshare', libc.unshare(0x10000000))\n"
      "print('uid', os.getuid() != 0)\n"
      "print('pid', os.getpid() < 10)\n"
      "try:\n    socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n    print('inet6 open')\n"
      "except OSError:\n    print('inet6 denied')\n"
      "socket.socket(socket.AF_UNIX).close()\nprint('unix ok')\n"
      "print('home', os.path.exists('/home') or os.path.exists('/root'))\n";
  Verdict v =
      run_io(program, "", "ptrace -1\nunshare -1\nuid True\npid True\ninet6 denied\nunix ok\nhome False");
  EXPECT_EQ(v.status, "ok") << v.reason;
}

}  // namespace
}  // namespace zerorl::verifiers
