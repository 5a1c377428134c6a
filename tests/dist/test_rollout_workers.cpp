// tests/dist/test_rollout_workers.cpp: rollout.mode = workers end to end, with processes this test starts on
// loopback: `zerorl train` plus two `zerorl rollout-worker` give bit-identical weights, metrics and samples
// to a colocated run of configs/tiny_test.yaml. Not here: the control plane's bad peers (test_control.cpp).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

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
using testing::steps_logged;
using testing::text_of;
using testing::wait_exit;
using testing::WorkersRun;
using testing::zerorl_tiny;

TEST(RolloutWorkers, TwoWorkersGiveBitIdenticalRunsToColocated) {
  const std::string a = fresh_run("colocated"), b = fresh_run("workers");
  ASSERT_EQ(wait_exit(spawn_logged(zerorl_tiny("train", plus(kThreeSteps, {"--set", "run.output_dir=" + a})),
                                   a + ".log")),
            0)
      << read_file(a + ".log");

  const std::string token = b + "_token";
  write_file_atomic(token, "a shared secret for this test\n");
  const std::vector<std::string> remote{"--set", "rollout.auth_token_file=" + token};
  Children children;
  const pid_t trainer = children.start(
      zerorl_tiny("train", plus(plus(kThreeSteps, remote),
                                {"--set", "run.output_dir=" + b, "--set", "rollout.mode=workers", "--set",
                                 "rollout.workers=2", "--set", "rollout.listen=127.0.0.1:0", "--set",
                                 "rollout.worker_wait_s=120", "--set", "rollout.weight_bucket_mb=0.01"})),
      b + ".log");
  const std::string address = coordinator_address(b + ".log");
  ASSERT_FALSE(address.empty()) << read_file(b + ".log");
  const pid_t w1 = children.worker(remote, address, b + "_w1.log");
  const pid_t w2 = children.worker(remote, address, b + "_w2.log");
  ASSERT_EQ(children.wait(trainer), 0) << read_file(b + ".log");
  EXPECT_EQ(children.wait(w1), 0) << read_file(b + "_w1.log");
  EXPECT_EQ(children.wait(w2), 0) << read_file(b + "_w2.log");
  // Both workers answered groups (placement really was spread), and weights went out in several buckets.
  for (const std::string& w : {b + "_w1.log", b + "_w2.log"}) {
    const std::string log = read_file(w);
    EXPECT_EQ(log.find("after 0 groups"), std::string::npos) << log;
    EXPECT_NE(log.find("done after"), std::string::npos) << log;
    // The groups a worker held at once went through one engine call (as a colocated step does), not one
    // call per group: fewer calls than groups.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(after (\d+) groups in (\d+) engine calls)"))) << log;
    EXPECT_LT(std::stoll(m[2]), std::stoll(m[1])) << log;
  }

  // Bit-identical: the same trajectories, rewards, update statistics and final weights.
  const auto ra = read_jsonl(a + "/metrics.jsonl"), rb = read_jsonl(b + "/metrics.jsonl");
  ASSERT_EQ(ra.size(), 3u);
  ASSERT_EQ(rb.size(), 3u);
  for (size_t i = 0; i < ra.size(); ++i) {
    for (const char* k :
         {"step", "reward_mean", "accuracy", "format_rate", "response_len_mean", "response_len_max",
          "truncated_frac", "groups_kept", "entropy", "pg_loss", "grad_norm"}) {
      EXPECT_EQ(ra[i][k], rb[i][k]) << "step " << i + 1 << " " << k;
    }
    // The engines' log-probs against the trainer's forward: float32 rounding either way (|log p| < ~10 here).
    EXPECT_NEAR(ra[i]["rollout_logprob_diff"].get<double>(), rb[i]["rollout_logprob_diff"].get<double>(),
                1e-5)
        << "step " << i + 1;
    EXPECT_EQ(rb[i]["rollout/workers"], 2) << rb[i].dump();
    EXPECT_EQ(rb[i]["rollout/requeued_groups"], 0) << rb[i].dump();
  }
  const auto sa = read_jsonl(a + "/samples.jsonl"), sb = read_jsonl(b + "/samples.jsonl");
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i]["prompt"], sb[i]["prompt"]) << i;
    EXPECT_EQ(sa[i]["response"], sb[i]["response"]) << i;
    EXPECT_EQ(sa[i]["reward"], sb[i]["reward"]) << i;
  }
  const std::string wa = read_file(a + "/checkpoints/step_3/model.safetensors");
  const std::string wb = read_file(b + "/checkpoints/step_3/model.safetensors");
  EXPECT_FALSE(wa.empty());
  EXPECT_TRUE(wa == wb) << "step-3 weights differ between colocated and workers";
}

// kill -9 of a worker mid-run, and a new worker joining: the run completes, every group of every step is
// answered exactly once (the run equals the colocated one bit for bit), re-queues are counted.
TEST(RolloutWorkers, AKilledWorkersGroupsAreRequeuedAndANewWorkerJoins) {
  const std::vector<std::string> steps{"--set", "trainer.steps=8", "--set", "trainer.save_every=8"};
  const std::string a = fresh_run("kill_colocated"), b = fresh_run("kill_workers");
  ASSERT_EQ(wait_exit(spawn_logged(
                zerorl_tiny("train", plus(plus(kThreeSteps, steps), {"--set", "run.output_dir=" + a})),
                a + ".log")),
            0)
      << read_file(a + ".log");
  const std::string token = b + "_token";
  write_file_atomic(token, "another secret\n");
  const std::vector<std::string> remote{"--set", "rollout.auth_token_file=" + token};
  Children children;
  const pid_t trainer = children.start(
      zerorl_tiny("train", plus(plus(plus(kThreeSteps, steps), remote),
                                {"--set", "run.output_dir=" + b, "--set", "rollout.mode=workers", "--set",
                                 "rollout.workers=2", "--set", "rollout.worker_wait_s=120"})),
      b + ".log");
  const std::string address = coordinator_address(b + ".log");
  ASSERT_FALSE(address.empty()) << read_file(b + ".log");
  const pid_t w1 = children.worker(remote, address, b + "_w1.log");
  const pid_t w2 = children.worker(remote, address, b + "_w2.log");
  for (int i = 0; i < 2400 && steps_logged(b) < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Both workers frozen: the next step's groups go out (2 per worker) and stay unanswered. Then w1 dies with
  // its groups in flight, and a new worker must register before the step can finish (w2 still frozen).
  kill(w2, SIGSTOP);
  kill(w1, SIGSTOP);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  kill(w1, SIGKILL);
  EXPECT_EQ(children.wait(w1), 128 + SIGKILL);
  const pid_t w3 = children.worker(remote, address, b + "_w3.log");
  for (int i = 0; i < 2400 && text_of(b + "_w3.log").find("registered") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(w2, SIGCONT);
  ASSERT_EQ(children.wait(trainer), 0) << read_file(b + ".log");
  EXPECT_EQ(children.wait(w2), 0) << read_file(b + "_w2.log");
  EXPECT_EQ(children.wait(w3), 0) << read_file(b + "_w3.log");

  const auto ra = read_jsonl(a + "/metrics.jsonl"), rb = read_jsonl(b + "/metrics.jsonl");
  ASSERT_EQ(rb.size(), 8u);
  int64_t requeued = 0;
  for (size_t i = 0; i < rb.size(); ++i) {
    for (const char* k :
         {"reward_mean", "accuracy", "response_len_mean", "groups_sampled", "pg_loss", "grad_norm"}) {
      EXPECT_EQ(ra[i][k], rb[i][k]) << "step " << i + 1 << " " << k;
    }
    requeued += rb[i]["rollout/requeued_groups"].get<int64_t>();
  }
  EXPECT_GE(requeued, 1) << "w1 was killed holding groups";
  EXPECT_NE(read_file(b + "_w3.log").find("registered"), std::string::npos) << read_file(b + "_w3.log");
  EXPECT_EQ(rb.back()["rollout/workers"], 2) << "w3 should have replaced w1: " << rb.back().dump();
  EXPECT_TRUE(read_file(a + "/checkpoints/step_8/model.safetensors") ==
              read_file(b + "/checkpoints/step_8/model.safetensors"));
}

// The only worker dies mid-run (frozen first, so it holds the step's groups): the trainer waits
// rollout.worker_wait_s for another one, then exits non-zero saying so.
TEST(RolloutWorkers, EveryWorkerGoneEndsTheRunAfterTheWait) {
  const std::string b = fresh_run("all_gone");
  const std::string token = b + "_token";
  write_file_atomic(token, "secret\n");
  const std::vector<std::string> remote{"--set", "rollout.auth_token_file=" + token};
  Children children;
  const pid_t trainer = children.start(
      zerorl_tiny("train", plus(plus(kThreeSteps, remote),
                                {"--set", "trainer.steps=50", "--set", "run.output_dir=" + b, "--set",
                                 "rollout.mode=workers", "--set", "rollout.worker_wait_s=3"})),
      b + ".log");
  const std::string address = coordinator_address(b + ".log");
  ASSERT_FALSE(address.empty()) << read_file(b + ".log");
  const pid_t w1 = children.worker(remote, address, b + "_w1.log");
  for (int i = 0; i < 2400 && steps_logged(b) < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(w1, SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(w1, SIGKILL);
  EXPECT_EQ(children.wait(w1), 128 + SIGKILL);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(children.wait(trainer), 1);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(waited, 2.0) << "the trainer must wait rollout.worker_wait_s (3 s) for a worker";
  const std::string log = read_file(b + ".log");
  EXPECT_NE(log.find("every worker is gone and none registered with the coordinator at " + address),
            std::string::npos)
      << log;
  EXPECT_LT(steps_logged(b), 50u);
}

// rollout.max_staleness = 1 (one-step-off) with truncated importance sampling: step s's groups are generated
// with the weights of step s - 1 while step s - 1 updates. The tiny config still learns by the synchronous
// test's margin (tests/trainer/test_runs.cpp, RewardRisesOnTheTinyConfig), every step draws the prompts a
// colocated run draws, and the staleness and IS metrics are in every row.
TEST(RolloutWorkers, OneStepOffLearnsWithTruncatedImportanceSampling) {
  const std::vector<std::string> steps{
      "--set", "trainer.steps=20",       "--set", "trainer.save_every=20",
      "--set", "trainer.sample_every=1", "--set", "trainer.tensorboard=false"};
  const std::string a = fresh_run("offstep_colocated"), b = fresh_run("offstep_workers");
  ASSERT_EQ(wait_exit(spawn_logged(zerorl_tiny("train", plus(steps, {"--set", "run.output_dir=" + a})),
                                   a + ".log")),
            0)
      << read_file(a + ".log");
  WorkersRun run(b,
                 plus(steps, {"--set", "rollout.max_staleness=1", "--set", "algo.off_policy_correction=tis",
                              "--set", "algo.is_cap=2"}),
                 2);
  ASSERT_FALSE(run.address.empty()) << read_file(b + ".log");
  ASSERT_EQ(run.finish(), 0) << read_file(b + ".log");
  const auto rows = read_jsonl(b + "/metrics.jsonl");
  ASSERT_EQ(rows.size(), 20u);
  double first = 0, last = 0;
  for (size_t i = 0; i < 5; ++i) first += rows[i]["reward_mean"].get<double>() / 5;
  for (size_t i = 15; i < 20; ++i) last += rows[i]["reward_mean"].get<double>() / 5;
  EXPECT_GT(last, first + 0.25) << "first-5 mean " << first << ", last-5 mean " << last;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["rollout/staleness"], i == 0 ? 0 : 1) << rows[i].dump();
    for (const char* k : {"off_policy/is_ratio_mean", "off_policy/is_ratio_max", "off_policy/is_clip_frac",
                          "rollout/worker_utilization", "rollout/groups_per_worker_max"}) {
      EXPECT_TRUE(rows[i].contains(k)) << k << " missing at step " << i + 1 << ": " << rows[i].dump();
    }
    EXPECT_EQ(prompts_of(a, static_cast<int64_t>(i + 1)), prompts_of(b, static_cast<int64_t>(i + 1)))
        << "step " << i + 1;
  }
  // Stale answers are off-policy: their behaviour log-probs differ from the trainer's (on-policy they agree
  // to float rounding, ~1e-7).
  EXPECT_GT(rows[5]["off_policy/logprob_abs_diff"].get<double>(), 1e-4) << rows[5].dump();
}

// A checkpoint taken while the next step's groups are out saves the sampler as it was before their draw: the
// resumed run draws them again (no prompt skipped or repeated) and generates them with the checkpoint's
// weights; from then on it is one step off again.
TEST(RolloutWorkers, OneStepOffResumeRedrawsThePrefetchedPrompts) {
  testing::expect_resume_redraws_prefetched(fresh_run("offstep_full"), fresh_run("offstep_resumed"),
                                            testing::one_rank);
}

TEST(RolloutWorkers, NoWorkerWithinTheWaitIsAClearError) {
  const std::string b = fresh_run("noworker");
  const std::string token = b + "_token";
  write_file_atomic(token, "secret\n");
  Children children;
  const pid_t trainer = children.start(
      zerorl_tiny("train", plus(kThreeSteps,
                                {"--set", "run.output_dir=" + b, "--set", "rollout.mode=workers", "--set",
                                 "rollout.auth_token_file=" + token, "--set", "rollout.worker_wait_s=1"})),
      b + ".log");
  EXPECT_EQ(children.wait(trainer), 1);
  const std::string log = read_file(b + ".log");
  EXPECT_NE(log.find("0 of 1 workers registered with the coordinator at 127.0.0.1:"), std::string::npos)
      << log;
  EXPECT_NE(log.find("zerorl rollout-worker --config"), std::string::npos) << log;
}

// --cuda-ipc on a CPU model is refused at start, naming the device, before any connection is tried.
TEST(RolloutWorkers, CudaIpcOnTheCpuIsAClearError) {
  const std::string b = fresh_run("ipc_cpu");
  write_file_atomic(b + "_token", "secret\n");
  Children children;
  const pid_t worker = children.start(
      zerorl_tiny("rollout-worker", {"--set", "rollout.auth_token_file=" + b + "_token", "--device", "cpu",
                                     "--trainer", "127.0.0.1:1", "--cuda-ipc"}),
      b + ".log");
  EXPECT_EQ(children.wait(worker), 1);
  const std::string log = read_file(b + ".log");
  EXPECT_NE(log.find("--cuda-ipc needs this worker's model on a CUDA device (run.device or --device is cpu)"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace zerorl
