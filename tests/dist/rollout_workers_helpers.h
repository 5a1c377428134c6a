// tests/dist/rollout_workers_helpers.h: what the rollout-workers process tests share: fresh run folders,
// `zerorl` command lines on configs/tiny_test.yaml, the children a test started (killed and reaped when it
// fails early), polls of a run's logs and files, and the one-step-off resume check. Not here: the tests
// (test_rollout_workers.cpp, test_rollout_faults.cpp, test_dp_workers.cpp), the process primitives
// (tests/run_process.h).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/files.h"
#include "core/json_io.h"
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

// `zerorl train` on configs/tiny_test.yaml in this process's launch: one rank.
inline std::vector<std::string> one_rank(const std::vector<std::string>& extra) {
  return zerorl_tiny("train", extra);
}

// `zerorl train` in workers mode (`launch` turns the settings into the command: one_rank, or an mpirun over
// ranks) with the test's settings, the coordinator's address, and `n` workers started once it listens (n = 0:
// none, though the trainer waits for one). rollout.worker_wait_s is 120 unless the settings say otherwise.
struct WorkersRun {
  using Launch = std::vector<std::string> (*)(const std::vector<std::string>&);
  Children children;
  pid_t trainer = 0;
  std::vector<pid_t> workers;
  std::string address;
  WorkersRun(const std::string& dir, const std::vector<std::string>& settings, int n,
             Launch launch = one_rank) {
    write_file_atomic(dir + "_token", "a secret for " + dir + "\n");
    const std::vector<std::string> remote{"--set", "rollout.auth_token_file=" + dir + "_token"};
    trainer = children.start(launch(plus(plus(plus({"--set", "rollout.worker_wait_s=120"}, settings), remote),
                                         {"--set", "run.output_dir=" + dir, "--set", "rollout.mode=workers",
                                          "--set", "rollout.workers=" + std::to_string(std::max(n, 1))})),
                             dir + ".log");
    if (n == 0) return;
    address = coordinator_address(dir + ".log");
    for (int i = 1; !address.empty() && i <= n; ++i)
      workers.push_back(children.worker(remote, address, dir + "_w" + std::to_string(i) + ".log"));
  }
  int finish() {
    const int code = children.wait(trainer);
    for (pid_t w : workers) children.wait(w);
    return code;
  }
};

// The prompts of a step's logged samples, in order (trainer.sample_every = 1; consecutive answers of one
// prompt counted once).
inline std::vector<std::string> prompts_of(const std::string& run, int64_t step) {
  std::vector<std::string> out;
  for (const Json& s : read_jsonl(run + "/samples.jsonl")) {
    if (s["step"] == step && (out.empty() || out.back() != s["prompt"])) out.push_back(s["prompt"]);
  }
  return out;
}

// One-step-off resume (the trainer started by `launch`, with one worker): run `a` 4 steps with a checkpoint
// at step 2, taken while step 3's groups were out; resume a copy of that checkpoint in `b`. The resumed run
// draws steps 3 and 4's prompts again and is one step off again from step 4. Returns both runs' metrics rows
// (empty after a failed assertion).
inline std::pair<std::vector<Json>, std::vector<Json>> expect_resume_redraws_prefetched(
    const std::string& a, const std::string& b, WorkersRun::Launch launch) {
  namespace fs = std::filesystem;
  const std::vector<std::string> steps{
      "--set", "trainer.steps=4",           "--set", "trainer.save_every=2",
      "--set", "trainer.keep_last=2",       "--set", "trainer.sample_every=1",
      "--set", "trainer.tensorboard=false", "--set", "rollout.max_staleness=1"};
  {
    WorkersRun run(a, steps, 1, launch);
    EXPECT_FALSE(run.address.empty()) << read_file(a + ".log");
    EXPECT_EQ(run.finish(), 0) << read_file(a + ".log");
  }
  if (!fs::exists(a + "/checkpoints/step_2")) return {};
  fs::create_directories(b + "/checkpoints");
  fs::copy(a + "/checkpoints/step_2", b + "/checkpoints/step_2", fs::copy_options::recursive);
  {
    WorkersRun run(b, plus(steps, {"--resume", "auto"}), 1, launch);
    EXPECT_FALSE(run.address.empty()) << read_file(b + ".log");
    EXPECT_EQ(run.finish(), 0) << read_file(b + ".log");
  }
  auto ra = read_jsonl(a + "/metrics.jsonl"), rb = read_jsonl(b + "/metrics.jsonl");
  EXPECT_EQ(ra.size(), 4u);
  EXPECT_EQ(rb.size(), 2u);
  if (ra.size() != 4u || rb.size() != 2u) return {};
  EXPECT_EQ(rb[0]["step"], 3);
  EXPECT_EQ(rb[0]["rollout/staleness"], 0) << "the prefetched groups died with the first run";
  EXPECT_EQ(rb[1]["rollout/staleness"], 1);
  for (int64_t step : {3, 4}) {
    EXPECT_FALSE(prompts_of(a, step).empty());
    EXPECT_EQ(prompts_of(a, step), prompts_of(b, step)) << "step " << step;
  }
  return {ra, rb};
}

}  // namespace zerorl::testing
