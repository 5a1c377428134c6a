// tests/dist/rollout_workers_helpers.h: what the rollout-workers process tests share: fresh run folders,
// `zerorl` command lines on configs/tiny_test.yaml, the children a test started (killed and reaped when it
// fails early), and polls of a run's logs and files. Not here: the tests (test_rollout_workers.cpp,
// test_rollout_faults.cpp), the process primitives (tests/run_process.h).
#pragma once

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "core/files.h"
#include "tests/run_process.h"

namespace zerorl::testing {

// A run folder under the temp directory, emptied, with the logs of an earlier run beside it removed (they
// must not answer this run's polls: a log is truncated only once its process starts).
inline std::string fresh_run(const std::string& name) {
  namespace fs = std::filesystem;
  const std::string d = (fs::temp_directory_path() / ("zerorl_workers_" + name)).string();
  remove_tree(d);
  for (const char* log : {".log", "_resumed.log", "_w1.log", "_w2.log", "_w3.log"}) fs::remove(d + log);
  return d;
}

// build/zerorl COMMAND --config configs/tiny_test.yaml EXTRA...
inline std::vector<std::string> zerorl_tiny(const std::string& command,
                                            const std::vector<std::string>& extra) {
  std::vector<std::string> a{binary_dir() + "/zerorl", command, "--config",
                             source_dir() + "/configs/tiny_test.yaml"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

inline std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// algo.old_logprobs=recompute: the update then depends on the sampled tokens only. A worker's engine batch
// holds one prompt's G rows where the colocated engine holds all P * G, so the engine's log-probs may differ
// in their last bits (BLAS blocking depends on the row count: tests/rollout/engine_test.cpp), which the
// default (the engine's log-probs as the ratio denominator on CPU fp32) would carry into the weights.
inline const std::vector<std::string> kThreeSteps{"--set", "trainer.steps=3",
                                                  "--set", "trainer.save_every=3",
                                                  "--set", "trainer.sample_every=1",
                                                  "--set", "trainer.tensorboard=false",
                                                  "--set", "algo.old_logprobs=recompute"};

// Every process this test started and has not waited for is killed (SIGKILL) and reaped when it fails early.
struct Children {
  std::vector<pid_t> pids;
  pid_t start(const std::vector<std::string>& args, const std::string& log) {
    pids.push_back(spawn_logged(args, log, "", false));
    return pids.back();
  }
  // `zerorl rollout-worker` with the test's settings, registering at the trainer's `address`.
  pid_t worker(const std::vector<std::string>& settings, const std::string& address, const std::string& log) {
    return start(zerorl_tiny("rollout-worker", plus(settings, {"--trainer", address})), log);
  }
  int wait(pid_t pid) {
    const int code = wait_exit(pid);
    pids.erase(std::find(pids.begin(), pids.end(), pid));
    return code;
  }
  ~Children() {
    for (pid_t pid : pids) {
      kill(pid, SIGKILL);
      wait_exit(pid);
    }
  }
};

// A file's text so far ("" while it does not exist).
inline std::string text_of(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Polls every 20 ms until `done()` or `seconds` have passed; returns done().
template <typename F>
bool poll_until(F done, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done() && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The coordinator's "listening on HOST:PORT" line of the trainer's log, waiting up to 120 s for it.
inline std::string coordinator_address(const std::string& log) {
  const std::string marker = "rollout coordinator: listening on ";
  std::string address;
  poll_until(
      [&] {
        const std::string text = text_of(log);
        const size_t at = text.find(marker);
        if (at == std::string::npos) return false;
        const size_t end = text.find('\n', at);
        if (end == std::string::npos) return false;  // the line is still being written
        address = text.substr(at + marker.size(), end - at - marker.size());
        return true;
      },
      120.0);
  return address;
}

// Lines of a run's metrics.jsonl so far (0 while it does not exist).
inline size_t steps_logged(const std::string& run) {
  std::ifstream in(run + "/metrics.jsonl");
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) n += line.empty() ? 0 : 1;
  return n;
}

}  // namespace zerorl::testing
