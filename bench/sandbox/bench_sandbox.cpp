// bench/sandbox/bench_sandbox.cpp: sandboxed runs/s of a trivial Python program vs bare
// `/usr/bin/python3 -c pass` (fork+exec+wait), single and concurrent; prints one JSON object.
// Not here: correctness (tests/verifiers/sandbox/). Usage: bench_sandbox [runs] [workers] [cgroups 1|0]
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "core/json_io.h"
#include "verifiers/sandbox/sandbox.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

bool bare_run() {
  const char* argv[] = {"/usr/bin/python3", "-c", "pass", nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ) != 0) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
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
  zerorl::Json out = {
      {"bench", "sandbox"},
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
