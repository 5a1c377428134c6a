// tests/dist/test_bench_rollout_workers.cpp: bench/rollout_workers on the CPU with the tiny shape (a trainer
// process and the worker process it starts, loopback): its JSON has the sizes worked out by hand, several
// buckets, per-phase seconds that add up, and a bit-for-bit check that holds, and that fails when the
// worker corrupts one bit. Not here: the numbers' speed.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "core/json_io.h"

namespace zerorl {
namespace {

struct BenchRun {
  int code;
  std::string out;  // stdout alone: the JSON
};

BenchRun run_bench(const std::string& args) {
  const std::string cmd = std::string(ZERORL_BENCH_ROLLOUT_WORKERS) + " " + args;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed: " + cmd};
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The tiny shape of the bench (vocab 512, hidden 64, intermediate 128, 2 layers, 4 heads of 16, 2 kv heads,
// q/k/v biases, tied embeddings), counted by hand: per layer q 64*64+64, k and v 64*32+32 each, o 64*64,
// gate/up/down 3*64*128, two norms 2*64 = 37120 in 12 tensors; embeddings 512*64 and the final norm 64.
constexpr int64_t kTinyParams = 2 * 37120 + 512 * 64 + 64;  // 107072
constexpr size_t kTinyTensors = 2 * 12 + 2;
constexpr double kBucketMb = 0.05;  // 52428 bytes: the 214144 bf16 bytes need at least 5 buckets

const std::string kArgs =
    "--model-size tiny --dtype bfloat16 --device cpu --bucket-mb 0.05 --reps 2 --warmup 1";

TEST(BenchRolloutWorkers, TinySyncIsTimedAndBitExact) {
  const BenchRun r = run_bench(kArgs);
  ASSERT_EQ(r.code, 0) << r.out;
  Json j;
  ASSERT_NO_THROW(j = Json::parse(r.out)) << "stdout must be the JSON alone:\n" << r.out;
  EXPECT_EQ(j["params"], kTinyParams);
  EXPECT_EQ(j["bytes"], 2 * kTinyParams);  // bf16
  const auto bucket_bytes = static_cast<int64_t>(kBucketMb * 1048576.0);
  const int64_t at_least = (2 * kTinyParams + bucket_bytes - 1) / bucket_bytes;
  EXPECT_GE(j["buckets"].get<int64_t>(), at_least);
  EXPECT_TRUE(j["weights_equal"].get<bool>()) << j.dump(1);
  // The worker starts from weights no random init makes: every tensor differs before the first sync, so
  // the check below compares real bits.
  EXPECT_EQ(j["tensors_differing_before_first_sync"], kTinyTensors);
  ASSERT_EQ(j["runs"].size(), 2u);
  ASSERT_EQ(j["warmup"].size(), 1u);
  for (const Json& run : j["runs"]) {
    EXPECT_TRUE(run["weights_equal"].get<bool>());
    EXPECT_EQ(run["tensors_differing"], 0);
    EXPECT_EQ(run["bytes"], 2 * kTinyParams);
    const double pack = run["pack_s"], transfer = run["transfer_s"], unpack = run["unpack_s"];
    const double total = run["total_s"];
    EXPECT_GT(pack, 0.0);
    EXPECT_GT(transfer, 0.0);
    EXPECT_GT(unpack, 0.0);
    // Sums of a few doubles of size total: rounding only.
    EXPECT_NEAR(pack + transfer + unpack, total, 1e-9 * total);
    EXPECT_NEAR(run["gbps"].get<double>(), 2.0 * kTinyParams / total / 1e9, 1e-9 * run["gbps"].get<double>());
  }
  for (const char* k : {"pack_s", "transfer_s", "unpack_s", "total_s", "gbps"})
    EXPECT_GT(j["median"].value(k, -1.0), 0.0) << k;
  const Json& codec = j["codec"];
  EXPECT_GT(codec.value("bucket_bytes", int64_t{0}), 0);
  // A tensor larger than a bucket (the bf16 embeddings, 512 * 64 * 2 bytes) is split: no bucket is larger.
  EXPECT_LE(codec.value("bucket_bytes", int64_t{0}), bucket_bytes);
  for (const char* k : {"encode_s", "decode_s", "plain_copy_s"}) EXPECT_GT(codec.value(k, -1.0), 0.0) << k;
  // Two runs: the median is their mean.
  const double mean_total =
      0.5 * (j["runs"][0]["total_s"].get<double>() + j["runs"][1]["total_s"].get<double>());
  EXPECT_NEAR(j["median"]["total_s"].get<double>(), mean_total, 1e-12 * mean_total);
}

TEST(BenchRolloutWorkers, ACorruptedWorkerIsReported) {
  const BenchRun r = run_bench(kArgs + " --corrupt-worker");
  EXPECT_EQ(r.code, 2) << "a sync that does not give equal weights must fail the bench:\n" << r.out;
  Json j;
  ASSERT_NO_THROW(j = Json::parse(r.out)) << r.out;
  EXPECT_FALSE(j["weights_equal"].get<bool>());
  for (const Json& run : j["runs"]) {
    EXPECT_FALSE(run["weights_equal"].get<bool>());
    EXPECT_EQ(run["tensors_differing"], 1) << "one flipped bit in one tensor";
  }
}

// The CUDA IPC transport (a trainer and a worker process on one GPU): one handle message per sync, and the
// worker's weights equal the trainer's bit for bit. Needs a GPU (skipped without /dev/nvidiactl).
TEST(BenchRolloutWorkers, TinyCudaIpcSyncIsBitExactOnTheGpu) {
  if (access("/dev/nvidiactl", F_OK) != 0) GTEST_SKIP() << "no NVIDIA GPU on this machine";
  const BenchRun r = run_bench(
      "--model-size tiny --dtype bfloat16 --device cuda --transport cuda_ipc --bucket-mb 0.05 --reps 2 "
      "--warmup 1");
  ASSERT_EQ(r.code, 0) << r.out;
  Json j;
  ASSERT_NO_THROW(j = Json::parse(r.out)) << r.out;
  EXPECT_EQ(j["transport"], "cuda_ipc");
  EXPECT_EQ(j["buckets"], 1) << "one message with the handle, whatever the bucket size";
  EXPECT_GE(j["bytes"].get<int64_t>(), 2 * kTinyParams);  // the buffer: every tensor, 256-byte aligned
  EXPECT_EQ(j["tensors_differing_before_first_sync"], kTinyTensors);
  EXPECT_TRUE(j["weights_equal"].get<bool>()) << j.dump(1);
}

}  // namespace
}  // namespace zerorl
