// tests/dist/test_slurm.cpp: scripts/slurm/*.sbatch submitted with `sbatch --wait` to a real Slurm that this
// test starts on this host (label dist): train.sbatch's 2 tasks started by srun --mpi=pmix form one 2-rank
// world, run configs/tiny_test.yaml to the end, and equal the 1-rank run; rollout_workers.sbatch runs a
// trainer and 2 rollout workers as a heterogeneous job. Not here: the daemons (slurm_cluster.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "core/files.h"
#include "core/json_io.h"
#include "model/checkpoint.h"
#include "tests/dist/free_port.h"
#include "tests/dist/slurm_cluster.h"
#include "tests/dist/weights_close.h"
#include "tests/run_process.h"

namespace fs = std::filesystem;

namespace zerorl {
namespace {

using testing::SlurmCluster;

const std::vector<std::string> kThreeSteps{
    "--set", "trainer.steps=3",           "--set", "trainer.save_every=3",
    "--set", "trainer.tensorboard=false", "--set", "trainer.sample_every=1"};

std::string read_or_empty(const std::string& path) { return fs::exists(path) ? read_file(path) : ""; }

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += " '" + x + "'";
  return s;
}

// Submits the real train.sbatch (2 tasks on the one node, no GPUs) and waits for its end; returns sbatch's
// exit code (the job's). ZERORL_BIN points the script at this build; sbatch passes the environment on.
int submit(const SlurmCluster& c, const std::string& out, const std::vector<std::string>& sets,
           std::string* log) {
  const std::string cmd =
      "cd '" + testing::source_dir() + "' && ZERORL_BIN='" + testing::binary_dir() +
      "/zerorl' timeout 400 sbatch --wait --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 "
      "--gpus-per-node=0 --time=8 --output='" +
      out + ".log' scripts/slurm/train.sbatch configs/tiny_test.yaml --set run.output_dir='" + out + "'" +
      join(sets);
  std::string said;
  const int code = c.client(cmd, &said);
  *log = "$ " + cmd + "\n" + said + "\n--- job output\n" + read_or_empty(out + ".log");
  return code;
}

using testing::expect_weights_close;  // tests/dist/weights_close.h

TEST(Slurm, TrainSbatchRunsTwoRanksToTheEnd) {
  const std::string why = SlurmCluster::unavailable_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  SlurmCluster cluster(2);
  const std::string base = cluster.dir() + "/runs";
  fs::create_directory(base);

  // One world of 2 ranks, not 2 worlds of 1: only a 2-rank communicator checks the divisibility, and
  // --kill-on-bad-exit makes the failed job's exit code non-zero.
  std::string log;
  EXPECT_NE(submit(cluster, base + "/indivisible", {"--set", "rollout.prompts_per_step=7"}, &log), 0) << log;
  const std::regex msg("rollout.prompts_per_step = 7 does not divide by the 2 ranks");
  EXPECT_EQ(std::distance(std::sregex_iterator(log.begin(), log.end(), msg), std::sregex_iterator()), 2)
      << "each of the 2 ranks names the value:\n"
      << log;

  // The run itself: 3 steps to the end, equal to the 1-rank run of the same global batch.
  const std::string two = base + "/two", one = base + "/one";
  ASSERT_EQ(submit(cluster, two, kThreeSteps, &log), 0) << log << cluster.logs();
  auto args = std::vector<std::string>{testing::binary_dir() + "/zerorl",
                                       "train",
                                       "--config",
                                       testing::source_dir() + "/configs/tiny_test.yaml",
                                       "--set",
                                       "run.output_dir=" + one};
  args.insert(args.end(), kThreeSteps.begin(), kThreeSteps.end());
  ASSERT_EQ(testing::wait_exit(testing::spawn_logged(args, one + ".log")), 0) << read_file(one + ".log");
  ASSERT_TRUE(fs::exists(two + "/checkpoints/step_3/manifest.json")) << log;
  expect_weights_close(one + "/checkpoints/step_3", two + "/checkpoints/step_3");
  const auto m1 = read_jsonl(one + "/metrics.jsonl"), m2 = read_jsonl(two + "/metrics.jsonl");
  ASSERT_EQ(m2.size(), 3u) << "rank 0 alone writes one line a step";
  ASSERT_EQ(m1.size(), 3u);
  for (size_t i = 0; i < m1.size(); ++i)
    for (const char* k :
         {"step", "reward_mean", "accuracy", "format_rate", "response_len_mean", "groups_kept"})
      EXPECT_EQ(m1[i][k], m2[i][k]) << "step " << i + 1 << " " << k;
}

// scripts/slurm/rollout_workers.sbatch as a real heterogeneous job (1 trainer task : 2 worker tasks, CPU
// only) on two slurmd nodes of this host: the workers find the trainer through Slurm (its node's NodeAddr),
// present the job's token, both are served, the run ends 0 and the token is gone.
TEST(Slurm, RolloutWorkersSbatchRunsATrainerAndTwoWorkersAsAHetjob) {
  const std::string why = SlurmCluster::unavailable_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  SlurmCluster cluster(2, 2);
  const std::string run = cluster.dir() + "/runs/hetjob", job_dir = cluster.dir() + "/job";
  fs::create_directories(job_dir);
  fs::create_directories(cluster.dir() + "/runs");
  const int port = testing::free_port();
  const std::string cmd =
      "cd '" + testing::source_dir() + "' && ZERORL_BIN='" + testing::binary_dir() +
      "/zerorl' ZERORL_JOB_DIR='" + job_dir + "' ZERORL_ROLLOUT_PORT=" + std::to_string(port) +
      " timeout 400 sbatch --wait --output='" + run +
      ".log' --gpus-per-node=0 --cpus-per-task=1 --time=8 : --ntasks-per-node=2 --gpus-per-task=0 "
      "--cpus-per-task=1 --time=8 scripts/slurm/rollout_workers.sbatch configs/tiny_test.yaml --set "
      "run.output_dir='" +
      run + "' --set rollout.worker_wait_s=120 --set run.log_level=info" + join(kThreeSteps);
  std::string said;
  const int code = cluster.client(cmd, &said);
  const std::string log = read_or_empty(run + ".log");
  ASSERT_EQ(code, 0) << "$ " << cmd << "\n" << said << "\n--- job output\n" << log << cluster.logs();
  const std::string where = "trainer on n0 at 127.0.0.1:" + std::to_string(port) + ", 2 workers on n1";
  EXPECT_NE(log.find(where), std::string::npos) << log;
  EXPECT_NE(log.find("(mode 600)"), std::string::npos) << "the token must be the job user's only:\n" << log;
  const std::regex joined("rollout coordinator: worker [0-9]+ \\([^)]*\\) joined");
  EXPECT_EQ(std::distance(std::sregex_iterator(log.begin(), log.end(), joined), std::sregex_iterator()), 2)
      << log;
  const std::regex served("zerorl rollout-worker: done after [1-9][0-9]* groups");
  EXPECT_EQ(std::distance(std::sregex_iterator(log.begin(), log.end(), served), std::sregex_iterator()), 2)
      << log;
  const auto metrics = read_jsonl(run + "/metrics.jsonl");
  ASSERT_EQ(metrics.size(), 3u) << log;
  for (const auto& m : metrics) EXPECT_EQ(m["rollout/workers"], 2) << m.dump();
  EXPECT_TRUE(fs::exists(run + "/checkpoints/step_3/manifest.json")) << log;
  EXPECT_TRUE(fs::is_empty(job_dir)) << "the token outlived the job";
}

}  // namespace
}  // namespace zerorl
