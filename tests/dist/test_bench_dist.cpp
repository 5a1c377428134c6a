// tests/dist/test_bench_dist.cpp: bench/dist under `mpirun -np 2` on the CPU (label dist), started by this
// test: its JSON has the all-reduce sweep (sizes doubling, sums correct, busbw = algbw * 2(n-1)/n > 0) and
// the 2-rank GRPO step with per-phase seconds and the scaling efficiency. Not here: the numbers' speed.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "core/json_io.h"

namespace zerorl {
namespace {

TEST(BenchDist, TwoRanksPrintTheSweepAndTheStep) {
  const std::string cmd =
      std::string(ZERORL_MPIEXEC) + " -np 2 --oversubscribe " + ZERORL_BENCH_DIST +
      " --tiny --device cpu --min-bytes 1024 --max-bytes 65536 --warmup 1 --iters 3 --steps 1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  ASSERT_EQ(pclose(pipe), 0) << cmd << "\n" << out;
  Json j;
  ASSERT_NO_THROW(j = Json::parse(out)) << "stdout must be rank 0's JSON alone:\n" << out;
  EXPECT_EQ(j["ranks"], 2);
  EXPECT_EQ(j["backend"], "mpi");
  EXPECT_EQ(j["launcher"], "mpirun");
  const Json& rows = j["all_reduce"];
  ASSERT_EQ(rows.size(), 7u);  // 1 KiB, 2 KiB, ..., 64 KiB
  for (size_t i = 0; i < rows.size(); ++i) {
    const Json& r = rows[i];
    EXPECT_EQ(r["bytes"], int64_t{1024} << i);
    EXPECT_TRUE(r["correct"].get<bool>()) << r.dump();
    const double t = r["time_us"].get<double>() * 1e-6, algbw = r["algbw_gbs"].get<double>();
    EXPECT_GT(t, 0.0);
    // Independent of the bench's arithmetic: bytes / time, and the ring factor 2(n-1)/n = 1 at n = 2.
    EXPECT_NEAR(algbw, r["bytes"].get<double>() / t / 1e9, 1e-9 * algbw);
    EXPECT_NEAR(r["busbw_gbs"].get<double>(), algbw, 1e-12 * algbw);
    EXPECT_GT(r["busbw_gbs"].get<double>(), 0.0);
  }
  const Json& s = j["grpo_step"];
  EXPECT_EQ(s["prompts_per_rank"], 2);
  for (const char* phase :
       {"rollout", "reward", "old_logprobs", "advantages", "update", "grad_sync", "total"})
    EXPECT_GT(s["n_ranks"].value(phase, -1.0), 0.0) << phase << " in " << s.dump();
  EXPECT_FALSE(s["one_rank"].contains("grad_sync")) << "rank 0 alone syncs nothing";
  EXPECT_GT(s["one_rank"]["total"].get<double>(), 0.0);
  EXPECT_NEAR(s["scaling_efficiency"].get<double>(),
              s["one_rank"]["total"].get<double>() / (2 * s["n_ranks"]["total"].get<double>()),
              1e-9 * s["scaling_efficiency"].get<double>());
}

}  // namespace
}  // namespace zerorl
