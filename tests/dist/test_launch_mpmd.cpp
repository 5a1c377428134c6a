// tests/dist/test_launch_mpmd.cpp: rollout workers started by one MPMD mpirun (label dist). `-np 1 zerorl
// train : -np 2 zerorl rollout-worker`: the trainer is a world of one, both workers register, the run ends 0
// and leaves no process. `-np 2 zerorl train : -np 2 zerorl rollout-worker`: the two data-parallel ranks
// talk over their own app context (the workers join MPI but never call it) and end with the metrics and
// weights of two colocated ranks, and a failing worker ends the whole launch. Not here: separately started
// workers (test_rollout_workers.cpp, test_dp_workers.cpp), Slurm (test_slurm.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/dist/free_port.h"
#include "tests/dist/rollout_workers_helpers.h"
#include "tests/run_process.h"

namespace fs = std::filesystem;

namespace zerorl {
namespace {

// Pids of live processes whose command line contains `marker` (this test's token path is in every one).
std::vector<std::string> processes_with(const std::string& marker) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), {});
    if (cmdline.find(marker) != std::string::npos) found.push_back(pid + ": " + cmdline);
  }
  return found;
}

size_t count(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  return static_cast<size_t>(std::distance(std::sregex_iterator(text.begin(), text.end(), re), {}));
}

TEST(LaunchMpmd, TrainerAndTwoWorkersInOneMpirun) {
  const std::string run = (fs::temp_directory_path() / "zerorl_mpmd_run").string();
  remove_tree(run);
  const std::string token = run + "_token", log = run + ".log";
  write_file_atomic(token, "the mpmd test's secret\n");
  // A fixed port: the workers start with the trainer and must be told where it will listen.
  const int port = testing::free_port();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  const std::string zerorl = testing::binary_dir() + "/zerorl";
  const std::string config = testing::source_dir() + "/configs/tiny_test.yaml";
  const std::vector<std::string> args{
      ZERORL_MPIEXEC, "--oversubscribe", "-np", "1", zerorl, "train", "--config", config, "--set",
      "trainer.steps=2", "--set", "trainer.save_every=2", "--set", "trainer.tensorboard=false", "--set",
      "run.output_dir=" + run, "--set", "rollout.mode=workers", "--set", "rollout.workers=2", "--set",
      "rollout.listen=" + address, "--set", "rollout.worker_wait_s=120", "--set",
      "rollout.auth_token_file=" + token, "--set", "run.log_level=info",  // "worker N joined"
      // the workers: the same config and secret; they retry until the trainer listens
      ":", "-np", "2", zerorl, "rollout-worker", "--config", config, "--set",
      "rollout.auth_token_file=" + token, "--set", "rollout.worker_wait_s=120", "--trainer", address};
  fs::remove(log);
  const int code = testing::wait_exit(testing::spawn_logged(args, log));
  const std::string out = read_file(log);
  ASSERT_EQ(code, 0) << out;
  // The trainer ran as a world of one (a 3-rank world would have called MPI_Init and waited for the workers,
  // or refused rollout.mode = workers); both workers registered and were served.
  EXPECT_EQ(count(out, "rollout coordinator: worker [0-9]+ \\([^)]*\\) joined"), 2u) << out;
  EXPECT_EQ(count(out, "zerorl rollout-worker [^ ]+: registered with " + address), 2u) << out;
  EXPECT_EQ(count(out, "zerorl rollout-worker: done after [1-9][0-9]* groups"), 2u) << out;
  const auto metrics = read_jsonl(run + "/metrics.jsonl");
  ASSERT_EQ(metrics.size(), 2u) << out;
  for (const auto& m : metrics) EXPECT_EQ(m["rollout/workers"], 2) << m.dump();
  EXPECT_TRUE(fs::exists(run + "/checkpoints/step_2/manifest.json")) << out;
  // mpirun returned: nothing of this launch is left.
  const auto left = processes_with(token);
  EXPECT_TRUE(left.empty()) << left.size() << " processes left, first: " << (left.empty() ? "" : left[0]);
}

TEST(LaunchMpmd, TwoDataParallelRanksAndTwoWorkersInOneMpirunEqualTwoColocatedRanks) {
  using testing::kThreeSteps;
  using testing::plus;
  using testing::zerorl_tiny;
  const std::string a = testing::fresh_run("mpmd_dp_colocated"), b = testing::fresh_run("mpmd_dp_workers");
  // --bind-to none in both: mpirun binds 2 processes to a core each but leaves 4 on 2 cores unbound, and the
  // thread count changes LibTorch's float sums.
  const std::vector<std::string> mpirun{ZERORL_MPIEXEC, "--oversubscribe", "--bind-to", "none", "-np", "2"};
  ASSERT_EQ(testing::wait_exit(testing::spawn_logged(
                plus(mpirun, zerorl_tiny("train", plus(kThreeSteps, {"--set", "run.output_dir=" + a}))),
                a + ".log")),
            0)
      << read_file(a + ".log");
  const std::string token = b + "_token";
  write_file_atomic(token, "the mpmd data-parallel test's secret\n");
  const std::string address = "127.0.0.1:" + std::to_string(testing::free_port());
  const std::vector<std::string> secret{"--set", "rollout.auth_token_file=" + token, "--set",
                                        "rollout.worker_wait_s=120"};
  auto args =
      plus(mpirun,
           zerorl_tiny("train", plus(plus(kThreeSteps, secret),
                                     {"--set", "run.output_dir=" + b, "--set", "rollout.mode=workers",
                                      "--set", "rollout.workers=2", "--set", "rollout.listen=" + address})));
  args = plus(plus(args, {":", "-np", "2"}),
              zerorl_tiny("rollout-worker", plus(secret, {"--trainer", address})));
  const int code = testing::wait_exit(testing::spawn_logged(args, b + ".log"));
  const std::string out = read_file(b + ".log");
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(count(out, "zerorl rollout-worker: done after [1-9][0-9]* groups"), 2u) << out;
  const auto ra = read_jsonl(a + "/metrics.jsonl"), rb = read_jsonl(b + "/metrics.jsonl");
  ASSERT_EQ(ra.size(), 3u);
  ASSERT_EQ(rb.size(), 3u) << out;
  for (size_t i = 0; i < ra.size(); ++i) {
    for (const auto& [k, v] : ra[i].items()) {  // all but where and when generation ran (test_dp_workers.cpp)
      if (k.rfind("time/", 0) == 0 || k.rfind("rollout/", 0) == 0 || k.rfind("tokens_per_s/", 0) == 0 ||
          k == "rollout_logprob_diff")
        continue;
      EXPECT_EQ(v, rb[i].value(k, Json())) << "step " << i + 1 << " " << k;
    }
    EXPECT_EQ(rb[i]["rollout/workers"], 2) << rb[i].dump();
  }
  EXPECT_TRUE(read_file(a + "/checkpoints/step_3/model.safetensors") ==
              read_file(b + "/checkpoints/step_3/model.safetensors"))
      << "the step-3 weights differ";
  const auto left = processes_with(token);
  EXPECT_TRUE(left.empty()) << left.size() << " processes left, first: " << (left.empty() ? "" : left[0]);
}

// A worker that fails (here: the wrong secret) exits without MPI_Finalize; mpirun then ends the whole job,
// data-parallel ranks included, with a non-zero code, and nothing of the launch is left.
TEST(LaunchMpmd, AFailingWorkerEndsTheDataParallelLaunch) {
  using testing::plus;
  using testing::zerorl_tiny;
  const std::string b = testing::fresh_run("mpmd_dp_bad_worker");
  const std::string token = b + "_token", wrong = b + "_wrong_token";
  write_file_atomic(token, "the trainer's secret\n");
  write_file_atomic(wrong, "not the trainer's secret\n");
  const std::string address = "127.0.0.1:" + std::to_string(testing::free_port());
  const std::vector<std::string> mpirun{ZERORL_MPIEXEC, "--oversubscribe", "--bind-to", "none", "-np", "2"};
  auto args = plus(
      mpirun, zerorl_tiny("train", {"--set", "trainer.steps=2", "--set", "run.output_dir=" + b, "--set",
                                    "rollout.mode=workers", "--set", "rollout.workers=1", "--set",
                                    "rollout.listen=" + address, "--set", "rollout.auth_token_file=" + token,
                                    "--set", "rollout.worker_wait_s=120"}));
  args = plus(plus(args, {":", "-np", "1"}),
              zerorl_tiny("rollout-worker", {"--set", "rollout.auth_token_file=" + wrong, "--set",
                                             "rollout.worker_wait_s=120", "--trainer", address}));
  const auto t0 = std::chrono::steady_clock::now();
  const int code = testing::wait_exit(testing::spawn_logged(args, b + ".log"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string out = read_file(b + ".log");
  EXPECT_NE(code, 0) << out;
  EXPECT_LT(seconds, 90) << "the job should end when the worker fails, not after rollout.worker_wait_s";
  EXPECT_NE(out.find("did not admit this worker"), std::string::npos) << out;  // the worker says why
  const auto left = processes_with(token);
  EXPECT_TRUE(left.empty()) << left.size() << " processes left, first: " << (left.empty() ? "" : left[0]);
}

}  // namespace
}  // namespace zerorl
