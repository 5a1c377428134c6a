// tests/dist/test_dp_runs.cpp: whole data-parallel runs of build/zerorl under `mpirun -np 2` (label dist),
// started by this test: 2 ranks equal 1 rank with the same global batch (same trajectories and rewards,
// weights within float summation order), ZeRO-1 equals ZeRO-0 (and its shards resume), a 2-rank checkpoint
// resumes on 1 rank, the start-up errors reach every rank, kill -9 of a rank ends the job naming it and
// --resume auto finishes, and a hung rank is named by the watchdog. Not here: the collectives themselves
// (test_comm_mpirun.cpp).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/files.h"
#include "core/json_io.h"
#include "model/checkpoint.h"
#include "tests/dist/weights_close.h"
#include "tests/run_process.h"

namespace fs = std::filesystem;

namespace zerorl {
namespace {

using testing::spawn_logged;
using testing::wait_exit;

std::string fresh(const std::string& name) {
  const std::string d = (fs::temp_directory_path() / ("zerorl_dp_" + name)).string();
  remove_tree(d);
  fs::remove(d + ".log");
  return d;
}

std::vector<std::string> train_args(const std::string& out, const std::vector<std::string>& extra) {
  std::vector<std::string> a{testing::binary_dir() + "/zerorl",
                             "train",
                             "--config",
                             testing::source_dir() + "/configs/tiny_test.yaml",
                             "--set",
                             "run.output_dir=" + out};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::vector<std::string> mpirun(int np, const std::vector<std::string>& cmd) {
  std::vector<std::string> a{ZERORL_MPIEXEC, "-np", std::to_string(np), "--oversubscribe"};
  a.insert(a.end(), cmd.begin(), cmd.end());
  return a;
}

int run(const std::vector<std::string>& args, const std::string& log) {
  return wait_exit(spawn_logged(args, log));
}

// algo.old_logprobs=recompute: the old-log-prob forward runs sharded too, and rollout_logprob_diff (which
// only a recompute measures) is compared below.
const std::vector<std::string> kThreeSteps{"--set", "trainer.steps=3",
                                           "--set", "trainer.save_every=3",
                                           "--set", "trainer.sample_every=1",
                                           "--set", "trainer.tensorboard=false",
                                           "--set", "algo.old_logprobs=recompute"};

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

using testing::expect_weights_close;  // tests/dist/weights_close.h

// Two runs of kThreeSteps agree: the same rewards and trajectories, loss statistics to float summation order.
void expect_same_run(const std::string& a, const std::string& b) {
  const auto ra = read_jsonl(a + "/metrics.jsonl"), rb = read_jsonl(b + "/metrics.jsonl");
  ASSERT_EQ(ra.size(), 3u);
  ASSERT_EQ(rb.size(), 3u) << "only rank 0 writes metrics.jsonl";
  for (size_t i = 0; i < ra.size(); ++i) {
    // Counts and sums of exactly representable values (rewards 0/0.5/1/1.5, lengths): exact.
    for (const char* k : {"step", "reward_mean", "accuracy", "format_rate", "response_len_mean",
                          "response_len_max", "truncated_frac", "groups_kept", "groups_sampled", "epoch"}) {
      EXPECT_EQ(ra[i][k], rb[i][k]) << "step " << i + 1 << " " << k;
    }
    // Loss statistics: float sums over the same tokens in another order (relative, float32 scale).
    for (const char* k : {"entropy", "pg_loss", "clip_frac", "grad_norm", "rollout_logprob_diff"}) {
      const double x = ra[i][k].get<double>(), y = rb[i][k].get<double>();
      EXPECT_NEAR(x, y, 1e-4 * std::max(1e-3, std::abs(x))) << "step " << i + 1 << " " << k;
    }
  }
  // The same trajectories: rank 0 holds the step's first prompts, whose answers samples.jsonl shows.
  const auto sa = read_jsonl(a + "/samples.jsonl"), sb = read_jsonl(b + "/samples.jsonl");
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i]["prompt"], sb[i]["prompt"]) << i;
    EXPECT_EQ(sa[i]["response"], sb[i]["response"]) << i;
    EXPECT_EQ(sa[i]["reward"], sb[i]["reward"]) << i;
  }
}

// Eleven held-out toy questions (an odd count: the ranks' shards differ in size) for periodic evaluation
// at steps 0 and 3, two samples each: {"--set", "data.eval_path=...", ...}.
std::vector<std::string> eval_settings() {
  const std::string path = (fs::temp_directory_path() / "zerorl_dp_eval_rows.jsonl").string();
  std::string rows;
  for (int i = 0; i < 11; ++i) {
    const int x = i % 5, y = (i * 3) % 5;
    rows += Json{{"prompt", std::to_string(x) + "+" + std::to_string(y) + "="},
                 {"answer", std::to_string(x + y)},
                 {"data_source", "toy_addition"}}
                .dump() +
            "\n";
  }
  write_file_atomic(path, rows);
  return {"--set", "data.eval_path=" + path, "--set", "trainer.eval_every=3", "--set", "eval.k=2"};
}

// The periodic evaluations of two runs agree (sharded over ranks or not): summaries (but their seconds) and
// every sample line, since answers are keyed by question index.
void expect_same_evals(const std::string& a, const std::string& b, const std::vector<int>& steps) {
  for (int step : steps) {
    const std::string base = "/eval/step_" + std::to_string(step);
    Json ea = read_json(a + base + ".json"), eb = read_json(b + base + ".json");
    ea.erase("seconds"), eb.erase("seconds");
    EXPECT_EQ(ea, eb) << "step " << step;
    EXPECT_EQ(ea["questions"], 11) << ea.dump();
    const auto sa = read_jsonl(a + base + "_samples.jsonl"), sb = read_jsonl(b + base + "_samples.jsonl");
    ASSERT_EQ(sa.size(), 11u * 3u) << "2 samples + 1 greedy per question, step " << step;
    ASSERT_EQ(sa.size(), sb.size());
    for (size_t i = 0; i < sa.size(); ++i) EXPECT_EQ(sa[i], sb[i]) << "step " << step << " line " << i;
  }
}

TEST(DataParallel, TwoRanksEqualOneRankWithTheSameGlobalBatch) {
  const std::string a = fresh("one"), b = fresh("two");
  const auto evals = eval_settings();
  ASSERT_EQ(run(train_args(a, plus(kThreeSteps, evals)), a + ".log"), 0) << read_file(a + ".log");
  // Tiny buckets (1 KiB: several per step) and a weight checksum after every step.
  const auto dp = plus(plus(kThreeSteps, evals), {"--set", "dist.bucket_mb=0.001", "--set",
                                                  "dist.check_every=1", "--set", "run.log_level=debug"});
  ASSERT_EQ(run(mpirun(2, train_args(b, dp)), b + ".log"), 0) << read_file(b + ".log");
  expect_weights_close(a + "/checkpoints/step_3", b + "/checkpoints/step_3");
  expect_same_run(a, b);
  expect_same_evals(a, b, {0, 3});
  // ... and it was sharded: rank 1 answered its own share of the questions (its info lines show at debug
  // level, under its own rank's prefix).
  const std::string log = read_file(b + ".log");
  EXPECT_NE(log.find("[zerorl r1] info eval: rank 1 of 2 answers questions [5, 11) of 11"), std::string::npos)
      << log;

  // A checkpoint written by 2 ranks resumes on 1: one more step from each equals the other.
  const std::vector<std::string> four =
      plus(evals, {"--set", "trainer.steps=4", "--set", "trainer.save_every=4", "--resume", "auto"});
  ASSERT_EQ(run(train_args(a, four), a + ".log"), 0) << read_file(a + ".log");
  ASSERT_EQ(run(train_args(b, four), b + ".log"), 0) << read_file(b + ".log");
  expect_weights_close(a + "/checkpoints/step_4", b + "/checkpoints/step_4");
}

// Every weight of two checkpoints is bit for bit the same.
void expect_weights_equal(const std::string& a, const std::string& b) {
  auto ma = model::load_model(a), mb = model::load_model(b);
  const auto pa = ma->named_parameters(), pb = mb->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
}

void copy_run(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive);
}

// ZeRO-1 (fp32 masters and AdamW moments sharded, gradients reduce-scattered, weights all-gathered) takes the
// optimizer step of ZeRO-0, on 2 ranks and on 1; its checkpoint holds every rank's shard and a manifest,
// resumes bit-exactly on the same world size and re-partitions onto 1 rank; a ZeRO-0 run refuses it.
TEST(DataParallel, ZeroOneEqualsZeroZero) {
  const std::string a = fresh("z0_two"), b = fresh("z1_two"), c = fresh("z1_straight"),
                    d = fresh("z1_to_one");
  const std::string e = fresh("z0_one"), f = fresh("z1_one"), g = fresh("z1_refused");
  const auto zero1 = plus(kThreeSteps, {"--set", "dist.zero=1"});
  ASSERT_EQ(run(mpirun(2, train_args(a, kThreeSteps)), a + ".log"), 0) << read_file(a + ".log");
  ASSERT_EQ(run(mpirun(2, train_args(b, plus(zero1, {"--set", "dist.check_every=1"}))), b + ".log"), 0)
      << read_file(b + ".log");
  expect_weights_close(a + "/checkpoints/step_3", b + "/checkpoints/step_3");
  expect_same_run(a, b);
  const std::string shards = b + "/checkpoints/step_3/trainer_state/zero";
  EXPECT_TRUE(fs::exists(shards + "/shard_0.pt") && fs::exists(shards + "/shard_1.pt"));
  EXPECT_FALSE(fs::exists(b + "/checkpoints/step_3/trainer_state/optimizer.pt"));
  const Json manifest = read_json(shards + "/zero.json");
  EXPECT_EQ(manifest["world_size"], 2);
  EXPECT_EQ(manifest["steps"], 3);
  EXPECT_EQ(manifest["shard"].get<int64_t>() * 2, manifest["padded"].get<int64_t>());
  EXPECT_GE(manifest["padded"].get<int64_t>(), manifest["numel"].get<int64_t>());

  // World size 1: ZeRO-1 equals ZeRO-0 too.
  ASSERT_EQ(run(train_args(e, kThreeSteps), e + ".log"), 0) << read_file(e + ".log");
  ASSERT_EQ(run(train_args(f, zero1), f + ".log"), 0) << read_file(f + ".log");
  expect_weights_close(e + "/checkpoints/step_3", f + "/checkpoints/step_3");
  expect_same_run(e, f);

  // Resume on the same world size is bit-exact: 3 steps + 1 resumed equals 4 straight.
  copy_run(b, d);
  copy_run(b, g);
  const std::vector<std::string> four{"--set", "trainer.steps=4", "--set",    "trainer.save_every=4",
                                      "--set", "dist.zero=1",     "--resume", "auto"};
  ASSERT_EQ(run(mpirun(2, train_args(b, plus(kThreeSteps, four))), b + ".log"), 0) << read_file(b + ".log");
  const auto straight = plus(
      kThreeSteps, {"--set", "trainer.steps=4", "--set", "trainer.save_every=4", "--set", "dist.zero=1"});
  ASSERT_EQ(run(mpirun(2, train_args(c, straight)), c + ".log"), 0) << read_file(c + ".log");
  expect_weights_equal(c + "/checkpoints/step_4", b + "/checkpoints/step_4");

  // 2 -> 1 rank: the shards are re-partitioned; the step equals the 2-rank one to summation order.
  ASSERT_EQ(run(train_args(d, plus(kThreeSteps, four)), d + ".log"), 0) << read_file(d + ".log");
  expect_weights_close(b + "/checkpoints/step_4", d + "/checkpoints/step_4");
  EXPECT_EQ(read_json(d + "/checkpoints/step_4/trainer_state/zero/zero.json")["world_size"], 1);

  // A ZeRO-0 run cannot read the shards: a clear error naming the key.
  const std::vector<std::string> four0{"--set", "trainer.steps=4", "--resume", "auto"};
  EXPECT_NE(run(train_args(g, plus(kThreeSteps, four0)), g + ".log"), 0);
  EXPECT_NE(read_file(g + ".log").find("resume it with dist.zero: 1"), std::string::npos)
      << read_file(g + ".log");
}

TEST(DataParallel, StartUpErrorsReachEveryRankNamingTheValue) {
  const std::string a = fresh("indivisible");
  EXPECT_NE(run(mpirun(2, train_args(a, {"--set", "rollout.prompts_per_step=7"})), a + ".log"), 0);
  const std::string log = read_file(a + ".log");
  const std::string msg = "rollout.prompts_per_step = 7 does not divide by the 2 ranks";
  const size_t first = log.find(msg);
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_NE(log.find(msg, first + 1), std::string::npos) << "both ranks report it:\n" << log;

  const std::string b = fresh("config_hash");
  auto args = mpirun(1, train_args(b, {}));
  args.push_back(":");
  const auto rank1 = train_args(b, {"--set", "optim.lr=0.02"});
  args.insert(args.end(), {"-np", "1"});
  args.insert(args.end(), rank1.begin(), rank1.end());
  EXPECT_NE(run(args, b + ".log"), 0);
  EXPECT_NE(read_file(b + ".log").find("rank(s) 1 resolved a config that differs from rank 0's"),
            std::string::npos)
      << read_file(b + ".log");
}

// Pids of the processes whose environment says OMPI_COMM_WORLD_RANK=<rank> and whose command line names
// `out` (only the ranks this test started: the output folder is unique to it).
std::vector<pid_t> rank_pids(const std::string& out, int rank) {
  std::vector<pid_t> pids;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmd(e.path() / "cmdline"), env(e.path() / "environ");
    const std::string c((std::istreambuf_iterator<char>(cmd)), {}),
        v((std::istreambuf_iterator<char>(env)), {});
    if (c.find("run.output_dir=" + out) == std::string::npos || c.find("zerorl") == std::string::npos)
      continue;
    if (v.find(std::string("OMPI_COMM_WORLD_RANK=") + std::to_string(rank) + '\0') == std::string::npos)
      continue;
    pids.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return pids;
}

// Exit code of `pid`, or -1 if it is still running after `seconds`.
int wait_exit_within(pid_t pid, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

TEST(DataParallel, KilledRankEndsEveryRankAndResumeAutoFinishes) {
  const std::string out = fresh("killed");
  const std::vector<std::string> long_run{
      "--set", "trainer.steps=100000", "--set", "trainer.save_every=2",
      "--set", "dist.timeout_s=20",    "--set", "trainer.tensorboard=false"};
  const pid_t job = spawn_logged(mpirun(2, train_args(out, long_run)), out + ".log");
  const auto start = std::chrono::steady_clock::now();
  while (!fs::exists(out + "/checkpoints/step_2") &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto r1 = rank_pids(out, 1), r0 = rank_pids(out, 0);
  ASSERT_EQ(r1.size(), 1u) << read_file(out + ".log");
  ASSERT_EQ(r0.size(), 1u);
  ASSERT_EQ(kill(r1[0], SIGKILL), 0);
  const int code = wait_exit_within(job, 60);  // the bound: every rank gone within 60 s
  if (code < 0) {                              // clean up what this test started before failing
    kill(r0[0], SIGKILL);
    kill(job, SIGKILL);
    wait_exit(job);
  }
  ASSERT_GE(code, 0) << "the job did not end within 60 s of kill -9 of rank 1\n" << read_file(out + ".log");
  EXPECT_NE(code, 0);
  EXPECT_TRUE(rank_pids(out, 0).empty()) << "rank 0 was left behind";
  const std::string log = read_file(out + ".log");
  // mpirun names the rank it saw die; the watchdog names the rank that stopped answering.
  EXPECT_TRUE(log.find("rank 1") != std::string::npos || log.find("lost rank(s) 1") != std::string::npos)
      << log;
  // --resume auto finishes from the newest sealed checkpoint (2 more steps past it).
  int64_t newest = 0;
  for (const auto& e : fs::directory_iterator(out + "/checkpoints")) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step_", 0) == 0 && n.find_first_not_of("0123456789", 5) == std::string::npos)
      newest = std::max<int64_t>(newest, std::stoll(n.substr(5)));
  }
  ASSERT_GE(newest, 2);
  const std::string steps = "trainer.steps=" + std::to_string(newest + 2);
  const std::vector<std::string> finish{
      "--set",    steps, "--set", "trainer.save_every=2", "--set", "trainer.tensorboard=false",
      "--resume", "auto"};
  ASSERT_EQ(run(mpirun(2, train_args(out, finish)), out + ".log"), 0) << read_file(out + ".log");
  EXPECT_TRUE(fs::exists(out + "/checkpoints/step_" + std::to_string(newest + 2)));
}

TEST(DataParallel, HungRankIsNamedAndTheJobEnds) {
  const std::string log = fresh("hung") + ".log";
  const pid_t job = spawn_logged({ZERORL_MPIEXEC, "-np", "2", "--oversubscribe", ZERORL_HANG_RANK, "3"}, log);
  const int code = wait_exit_within(job, 60);
  if (code < 0) kill(job, SIGKILL), wait_exit(job);
  ASSERT_GE(code, 0) << "a hung rank kept the job alive\n" << read_file(log);
  EXPECT_NE(code, 0);
  EXPECT_NE(read_file(log).find("lost rank(s) 1"), std::string::npos) << read_file(log);
}

}  // namespace
}  // namespace zerorl
