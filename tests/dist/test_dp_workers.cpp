// tests/dist/test_dp_workers.cpp: rollout.mode = workers with a data-parallel trainer (`mpirun -np 2 zerorl
// train`, label dist) and `zerorl rollout-worker` processes this test starts on loopback: the same metrics,
// samples and step-3 weights as a colocated 2-rank run; one-step-off draws the colocated run's prompts and a
// 2-rank one-step-off checkpoint resumes drawing the prefetched prompts again; rank 0's coordinator giving up
// (no worker within rollout.worker_wait_s) ends both ranks with its message. Not here: one trainer process
// with workers (test_rollout_workers.cpp), the share's bytes (test_rollout_share.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/dist/rollout_workers_helpers.h"

namespace fs = std::filesystem;

namespace zerorl {
namespace {

using testing::Children;
using testing::coordinator_address;
using testing::fresh_run;
using testing::kThreeSteps;
using testing::plus;
using testing::prompts_of;
using testing::spawn_logged;
using testing::wait_exit;
using testing::WorkersRun;
using testing::zerorl_tiny;

// mpirun -np 2 build/zerorl train --config configs/tiny_test.yaml EXTRA...
std::vector<std::string> two_ranks(const std::vector<std::string>& extra) {
  return plus({ZERORL_MPIEXEC, "-np", "2", "--oversubscribe"}, zerorl_tiny("train", extra));
}

// A colocated 2-rank run of kThreeSteps (+ extra) into `dir`; returns mpirun's exit code.
int colocated(const std::string& dir, const std::vector<std::string>& extra = {}) {
  return wait_exit(spawn_logged(two_ranks(plus(plus(kThreeSteps, extra), {"--set", "run.output_dir=" + dir})),
                                dir + ".log"));
}

// Keys whose values depend on where and when generation ran, not on what was generated.
bool scheduling_key(const std::string& k) {
  return k.rfind("time/", 0) == 0 || k.rfind("rollout/", 0) == 0 || k.rfind("tokens_per_s/", 0) == 0;
}

TEST(DpWorkers, TwoRanksWithTwoWorkersEqualTwoColocatedRanksBitForBit) {
  const std::string a = fresh_run("dp_colocated"), b = fresh_run("dp_workers");
  ASSERT_EQ(colocated(a), 0) << read_file(a + ".log");
  WorkersRun run(b, kThreeSteps, 2, two_ranks);
  ASSERT_FALSE(run.address.empty()) << read_file(b + ".log");
  ASSERT_EQ(run.finish(), 0) << read_file(b + ".log");
  for (const std::string& w : {b + "_w1.log", b + "_w2.log"}) {  // both workers served groups
    EXPECT_EQ(read_file(w).find("after 0 groups"), std::string::npos) << read_file(w);
  }
  // Every key of every row but the scheduling ones: identical values (exactly the same trajectories, so the
  // same sums in the same order on the same ranks).
  const auto ra = read_jsonl(a + "/metrics.jsonl"), rb = read_jsonl(b + "/metrics.jsonl");
  ASSERT_EQ(ra.size(), 3u);
  ASSERT_EQ(rb.size(), 3u) << "only rank 0 writes metrics.jsonl";
  for (size_t i = 0; i < ra.size(); ++i) {
    for (const auto& [k, v] : ra[i].items()) {
      if (scheduling_key(k) || k == "rollout_logprob_diff") continue;
      EXPECT_EQ(v, rb[i].value(k, Json())) << "step " << i + 1 << " " << k;
    }
    // The engines' log-probs against the trainer's forward: a worker's engine batch holds one prompt's G rows
    // where a colocated rank's holds its P / 2 * G, so they differ in float32 rounding (|log p| < ~10 here;
    // tests/dist/test_rollout_workers.cpp uses the same bound). The update itself recomputes them.
    EXPECT_NEAR(ra[i]["rollout_logprob_diff"].get<double>(), rb[i]["rollout_logprob_diff"].get<double>(),
                1e-5)
        << "step " << i + 1;
    EXPECT_EQ(rb[i]["rollout/workers"], 2) << rb[i].dump();  // rank 0's coordinator metrics in the row
    EXPECT_EQ(rb[i]["rollout/staleness"], 0) << rb[i].dump();
    EXPECT_EQ(rb[i]["groups_sampled"], 8) << "every rank's shard was answered once";
  }
  const auto sa = read_jsonl(a + "/samples.jsonl"), sb = read_jsonl(b + "/samples.jsonl");
  ASSERT_EQ(sa.size(), sb.size());
  ASSERT_FALSE(sa.empty());
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_EQ(sa[i], sb[i]) << i;
  const std::string wa = read_file(a + "/checkpoints/step_3/model.safetensors");
  EXPECT_FALSE(wa.empty());
  EXPECT_TRUE(wa == read_file(b + "/checkpoints/step_3/model.safetensors")) << "step-3 weights differ";
}

// rollout.max_staleness = 1: step s + 1's prompts are drawn on every rank (and submitted by rank 0) before
// step s updates; each step still draws the colocated run's prompts, and the staleness is in every row.
TEST(DpWorkers, OneStepOffWithTwoRanksDrawsTheColocatedPrompts) {
  const std::string a = fresh_run("dp_offstep_colocated"), b = fresh_run("dp_offstep_workers");
  ASSERT_EQ(colocated(a), 0) << read_file(a + ".log");
  WorkersRun run(
      b, plus(kThreeSteps, {"--set", "rollout.max_staleness=1", "--set", "algo.off_policy_correction=tis"}),
      2, two_ranks);
  ASSERT_FALSE(run.address.empty()) << read_file(b + ".log");
  ASSERT_EQ(run.finish(), 0) << read_file(b + ".log");
  const auto ra = read_jsonl(a + "/metrics.jsonl"), rb = read_jsonl(b + "/metrics.jsonl");
  ASSERT_EQ(rb.size(), 3u);
  for (size_t i = 0; i < rb.size(); ++i) {
    const auto step = static_cast<int64_t>(i + 1);
    EXPECT_EQ(rb[i]["rollout/staleness"], i == 0 ? 0 : 1) << rb[i].dump();
    EXPECT_TRUE(rb[i].contains("off_policy/is_ratio_mean")) << rb[i].dump();
    EXPECT_EQ(rb[i]["groups_sampled"], 8) << rb[i].dump();
    EXPECT_EQ(ra[i]["epoch"], rb[i]["epoch"]) << "step " << step;
    EXPECT_FALSE(prompts_of(a, step).empty());
    EXPECT_EQ(prompts_of(a, step), prompts_of(b, step)) << "step " << step;
  }
  // Step 1 is on-policy (the initial weights either way): the same answers as colocated.
  EXPECT_EQ(ra[0]["reward_mean"], rb[0]["reward_mean"]);
}

// A 2-rank checkpoint taken while step 3's groups are out (every rank drew them) saves the sampler before
// that draw: the resumed 2-rank run draws step 3's prompts again, on every rank, and goes on one step off.
TEST(DpWorkers, OneStepOffResumeRedrawsThePrefetchedPromptsOnEveryRank) {
  const auto [ra, rb] = testing::expect_resume_redraws_prefetched(fresh_run("dp_offstep_full"),
                                                                  fresh_run("dp_offstep_resumed"), two_ranks);
  for (size_t i = 0; i < rb.size(); ++i) EXPECT_EQ(ra[i + 2]["groups_sampled"], rb[i]["groups_sampled"]);
}

// No worker ever registers: rank 0's coordinator gives up after rollout.worker_wait_s and rank 1, waiting for
// its shard, gets the message instead of hanging until dist.timeout_s.
TEST(DpWorkers, CoordinatorGivingUpEndsEveryRank) {
  const std::string b = fresh_run("dp_noworker");
  const auto start = std::chrono::steady_clock::now();
  WorkersRun run(b, plus(kThreeSteps, {"--set", "rollout.worker_wait_s=2", "--set", "dist.timeout_s=300"}), 0,
                 two_ranks);
  EXPECT_NE(run.finish(), 0);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(took, 120.0) << "dist.timeout_s is 300 s: rank 1 must not wait for it";
  const std::string log = read_file(b + ".log");
  EXPECT_NE(log.find("rollout.worker_wait_s = 2"), std::string::npos) << log;
  EXPECT_NE(log.find("rank 0's rollout coordinator failed, so this rank stops too"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace zerorl
