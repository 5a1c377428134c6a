// tests/dist/test_slurm.cpp: scripts/slurm/train.sbatch submitted with `sbatch --wait` to a real single-node
// Slurm that this test starts (label dist): 2 tasks started by srun --mpi=pmix form one 2-rank world, run
// configs/tiny_test.yaml to the end, and equal the 1-rank run. Not here: the daemons (slurm_cluster.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "core/files.h"
#include "core/json_io.h"
#include "model/checkpoint.h"
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

}  // namespace
}  // namespace zerorl
