// bench/sandbox/bench_sandbox.cpp: sandboxed runs/s of a trivial Python program vs bare
// `/usr/bin/python3 -c pass` (fork+exec+wait), single and concurrent; and the assert-test harness (a
// trusted and a candidate sandbox joined by a pipe) vs the same solution + tests run bare in one python3
// process; prints one JSON object. Not here: correctness (tests/verifiers/sandbox/).
// Usage: bench_sandbox [runs] [workers] [cgroups 1|0]
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "core/json_io.h"
#include "verifiers/sandbox/code_verifier.h"
#include "verifiers/sandbox/sandbox.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

// A HumanEval-shaped task: the solution, then check() with five asserts.
const char* kSolution = "def add(a, b):\n    return a + b\n";
const char* kTests =
    "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n"
    "    assert candidate(2.5, 0.5) == 3.0\n    assert candidate('a', 'b') == 'ab'\n"
    "    assert candidate([1], [2]) == [1, 2]\n";

bool bare_python(const char* code) {
  const char* argv[] = {"/usr/bin/python3", "-I", "-B", "-c", code, nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ) != 0) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool bare_run() {
  const char* argv[] = {"/usr/bin/python3", "-c", "pass", nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ) != 0) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// CPU seconds (user + system) of every reaped descendant so far.
double children_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// Runs `runs` calls of `one` on `workers` threads; returns runs per second (-1 if any failed).
template <class F>
double runs_per_second(int runs, int workers, F one) {
  std::atomic<int> next{0}, failed{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      while (next++ < runs) {
        if (!one()) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  return failed > 0 ? -1.0 : runs / s;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace zerorl::verifiers::sandbox;
  int runs = argc > 1 ? std::atoi(argv[1]) : 100;
  int workers = argc > 2 ? std::atoi(argv[2]) : static_cast<int>(std::thread::hardware_concurrency());
  SandboxOptions options;
  options.slots = workers;
  options.use_cgroups = argc > 3 ? std::atoi(argv[3]) != 0 : true;
  Sandbox sandbox(options);
  if (!sandbox.missing_protections().empty()) {
    std::fprintf(stderr, "bench_sandbox: sandbox unavailable: %s\n", sandbox.missing_protections().c_str());
    return 1;
  }
  RunRequest req;
  req.program = "pass\n";
  auto sandboxed = [&] {
    RunResult r = sandbox.run(req);
    return r.status == RunStatus::kExited && r.exit_code == 0;
  };
  runs_per_second(5, 1, bare_run);  // warm the page cache
  runs_per_second(5, 1, sandboxed);
  double bare1 = runs_per_second(runs, 1, bare_run);
  double sand1 = runs_per_second(runs, 1, sandboxed);
  double bareN = runs_per_second(runs, workers, bare_run);
  double sandN = runs_per_second(runs, workers, sandboxed);
  // The assert harness: verify() of the task, vs the task run in one bare process (no sandbox, no pipe).
  zerorl::verifiers::CodeVerifierOptions vo;
  vo.sandbox = options;
  vo.sandbox.uid_base = options.uid_base + 2 * static_cast<uid_t>(workers);  // beside the sandbox above
  zerorl::verifiers::CodeVerifier verifier(vo);
  zerorl::verifiers::Sample task;
  task.extra = {{"program", kSolution}, {"test_code", kTests}, {"entry_point", "add"}, {"timeout_s", 10.0}};
  const std::string in_process = std::string(kSolution) + kTests + "check(add)\n";
  auto assert_pair = [&] { return verifier.verify(task).correct; };
  auto assert_bare = [&] { return bare_python(in_process.c_str()); };
  runs_per_second(5, 1, assert_pair);
  double cpu0 = children_cpu_s();
  double pair1 = runs_per_second(runs, 1, assert_pair);
  double cpu1 = children_cpu_s();
  double abare1 = runs_per_second(runs, 1, assert_bare);
  double cpu2 = children_cpu_s();
  double pairN = runs_per_second(runs, workers, assert_pair);
  double abareN = runs_per_second(runs, workers, assert_bare);
  zerorl::Json out = {
      {"bench", "sandbox"},
      {"assert_harness_ms_single", 1000.0 / pair1},
      {"assert_bare_ms_single", 1000.0 / abare1},
      {"assert_overhead_ms_single", 1000.0 / pair1 - 1000.0 / abare1},
      {"assert_harness_cpu_ms", 1000.0 * (cpu1 - cpu0) / runs},  // both sandboxes, bwrap included
      {"assert_bare_cpu_ms", 1000.0 * (cpu2 - cpu1) / runs},
      {"assert_harness_ms_concurrent", 1000.0 / pairN},
      {"assert_bare_ms_concurrent", 1000.0 / abareN},
      {"assert_overhead_ms_concurrent", 1000.0 / pairN - 1000.0 / abareN},
      {"runs", runs},
      {"workers", workers},
      {"cgroups", sandbox.has_cgroups()},
      {"bare_runs_per_s_single", bare1},
      {"sandbox_runs_per_s_single", sand1},
      {"bare_runs_per_s_concurrent", bareN},
      {"sandbox_runs_per_s_concurrent", sandN},
      {"overhead_ms_per_run_single", 1000.0 / sand1 - 1000.0 / bare1},
      {"overhead_ms_per_run_concurrent", 1000.0 / sandN - 1000.0 / bareN},
      {"target_overhead_ms", 20.0},
  };
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
