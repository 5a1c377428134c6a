// bench/sandbox/bench_sandbox.cpp: sandboxed runs/s of a trivial Python program vs bare
// `/usr/bin/python3 -c pass` (fork+exec+wait), single and concurrent; and the assert-test harness (the
// trusted harness forked by the slot's fork server, the candidate in a fresh sandbox, joined by a pipe)
// vs the same solution + tests run bare in one python3 process, and in one sandbox (the harness zerorl
// had before); prints one JSON object with the machine's load average. Not here: correctness
// (tests/verifiers/sandbox/). Usage: bench_sandbox [runs] [workers] [cgroups 1|0]
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include "core/json_io.h"
#include "verifiers/sandbox/assert_tests.h"
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

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// The assert harness on the task above, five ways, interleaved run by run so that all five see the same
// machine load: verify() (a forked trusted harness, a candidate sandbox and a pipe), the task in one
// sandboxed process (the old harness, tests beside the candidate), the task in one bare python3, the
// two-sandbox harness without the fork server (fresh_trusted_sandbox; latency and CPU only), and verify()
// with cgroups the other way (interleaved_harness_*). Medians of the single-run latencies, the children's
// CPU per run, and throughput over `workers` threads.
zerorl::Json assert_harness_bench(const zerorl::verifiers::sandbox::SandboxOptions& base, int runs,
                                  int workers) {
  using namespace zerorl::verifiers;
  CodeVerifierOptions vo;
  vo.sandbox = base;
  vo.sandbox.uid_base = base.uid_base + 2 * static_cast<uid_t>(workers);  // beside main()'s sandbox
  CodeVerifier verifier(vo);
  Sample task;
  task.extra = {{"program", kSolution}, {"test_code", kTests}, {"entry_point", "add"}, {"timeout_s", 10.0}};
  const std::string in_process = std::string(kSolution) + kTests + "check(add)\n";
  sandbox::RunRequest one;
  one.program = in_process;
  auto pair = [&] { return verifier.verify(task).correct; };
  // The trusted side is a child of the slot's fork server, reaped by the server, not by this process: its
  // CPU is the verdict's cpu_s (the trusted child's, as the server's wait4 saw it, plus the candidate
  // tree's). The server's own per-test work (a fork, a few messages) is counted nowhere.
  double pair_cpu_ms = 0.0;
  auto pair_timed = [&] {
    const Verdict v = verifier.verify(task);
    pair_cpu_ms = 1000.0 * v.info.value("cpu_s", 0.0);
    return v.correct;
  };
  auto single = [&] {
    auto r = verifier.sandbox().run(one);
    return r.status == sandbox::RunStatus::kExited && r.exit_code == 0;
  };
  auto bare = [&] { return bare_python(in_process.c_str()); };
  // The harness before the fork server, for comparison in the same run: the trusted side a fresh sandboxed
  // interpreter per test (run_pair). Its own sandbox: run_pair would stop `verifier`'s fork servers.
  CodeVerifierOptions fo = vo;
  fo.sandbox.uid_base = vo.sandbox.uid_base + 2 * static_cast<uid_t>(workers);
  CodeVerifier fresh(fo);
  auto fresh_pair = [&] {
    using sandbox::harness_python;
    sandbox::RunRequest trusted, untrusted;
    trusted.program = harness_python("codec") + harness_python("trusted_harness") + "zrl_main()\n";
    trusted.stdin_data =
        zerorl::Json(
            {{"nonce", "N"}, {"entry_point", "add"}, {"deadline_ms", 9000}, {"setup", ""}, {"tests", kTests}})
            .dump() +
        "\n";
    untrusted.program = harness_python("codec") + harness_python("candidate_server");
    untrusted.files = {{"solution.py", kSolution}};
    trusted.argv = untrusted.argv = {"/usr/bin/python3", "-I", "-B", "-S", "{file}"};
    const auto r = fresh.sandbox().run_pair(trusted, untrusted);
    return r.trusted.out.rfind("N {\"result\":\"pass\"", 0) == 0;  // the codec writes compact JSON
  };
  // The same harness with cgroups the other way (flipped.use_cgroups = !base.use_cgroups), interleaved too:
  // what the cgroups cost at the same load, which two runs of the bench apart cannot tell.
  CodeVerifierOptions flipped_options = fo;
  flipped_options.sandbox.uid_base = fo.sandbox.uid_base + 2 * static_cast<uid_t>(workers);
  flipped_options.sandbox.use_cgroups = !base.use_cgroups;
  CodeVerifier flipped(flipped_options);
  // A machine without writable cgroups has no such comparison (that sandbox refuses to run): left out.
  const bool flip_ok = flipped.sandbox().missing_protections().empty();
  double flipped_cpu_ms = 0.0;
  auto flipped_timed = [&] {
    if (!flip_ok) return true;
    const Verdict v = flipped.verify(task);
    flipped_cpu_ms = 1000.0 * v.info.value("cpu_s", 0.0);
    return v.correct;
  };
  for (int i = 0; i < 5; ++i) pair(), single(), bare(), fresh_pair(), flipped_timed();  // warm the page cache
  runs_per_second(2 * workers, workers, pair);  // every slot's fork server started
  std::vector<double> ms[5], cpu[5];
  bool ok = true;
  for (int i = 0; i < runs; ++i) {
    int k = 0;
    for (const std::function<bool()>& f :
         {std::function<bool()>(pair_timed), std::function<bool()>(single), std::function<bool()>(bare),
          std::function<bool()>(fresh_pair), std::function<bool()>(flipped_timed)}) {
      const double c0 = children_cpu_s();
      const auto t0 = Clock::now();
      ok = f() && ok;
      ms[k].push_back(1000.0 * std::chrono::duration<double>(Clock::now() - t0).count());
      cpu[k].push_back(k == 0 ? pair_cpu_ms : k == 4 ? flipped_cpu_ms : 1000.0 * (children_cpu_s() - c0));
      ++k;
    }
  }
  const bool cg = base.use_cgroups;
  const double pairN = runs_per_second(runs, workers, pair), bareN = runs_per_second(runs, workers, bare);
  zerorl::Json out = {{"all_correct", ok},
                      {"harness_ms_median", median(ms[0])},
                      {"old_single_sandbox_ms_median", median(ms[1])},
                      {"bare_ms_median", median(ms[2])},
                      {"overhead_ms_median", median(ms[0]) - median(ms[2])},
                      {"harness_cpu_ms_median", median(cpu[0])},
                      {"old_single_sandbox_cpu_ms_median", median(cpu[1])},
                      {"bare_cpu_ms_median", median(cpu[2])},
                      {"fresh_trusted_sandbox_ms_median", median(ms[3])},
                      {"fresh_trusted_sandbox_cpu_ms_median", median(cpu[3])},
                      {"fresh_trusted_sandbox_overhead_ms_median", median(ms[3]) - median(ms[2])},
                      {"harness_ms_per_run_concurrent", 1000.0 / pairN},
                      {"bare_ms_per_run_concurrent", 1000.0 / bareN},
                      {"overhead_ms_per_run_concurrent", 1000.0 / pairN - 1000.0 / bareN}};
  if (flip_ok) {
    out["interleaved_harness_with_cgroups_ms_median"] = median(ms[cg ? 0 : 4]);
    out["interleaved_harness_without_cgroups_ms_median"] = median(ms[cg ? 4 : 0]);
    out["interleaved_harness_with_cgroups_cpu_ms_median"] = median(cpu[cg ? 0 : 4]);
    out["interleaved_harness_without_cgroups_cpu_ms_median"] = median(cpu[cg ? 4 : 0]);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace zerorl::verifiers::sandbox;
  int runs = argc > 1 ? std::atoi(argv[1]) : 100;
  int workers = argc > 2 ? std::atoi(argv[2]) : static_cast<int>(std::thread::hardware_concurrency());
  const std::string load_before = load_average();
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
      {"assert_harness", assert_harness_bench(options, runs, workers)},
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
      {"load_average_before", load_before},
      {"load_average_after", load_average()},
  };
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
