// tests/dist/test_dp_eval.cpp: `zerorl eval` under `mpirun -np 2` (label dist), started by this test: each
// rank answers its half of the questions, and the gathered summary and samples file equal the 1-rank run's
// (answers are keyed by question index). Not here: eval's metrics themselves (tests/trainer/test_eval.cpp).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/run_process.h"

namespace fs = std::filesystem;

namespace zerorl {
namespace {

std::vector<std::string> eval_args(const std::string& out) {
  // The toy task's 64 questions, k = 4 samples at T = 1 plus the greedy answer of each.
  return {testing::binary_dir() + "/zerorl",
          "eval",
          "--config",
          testing::source_dir() + "/configs/tiny_test.yaml",
          "--set",
          "run.output_dir=" + out,
          "--set",
          "run.log_level=info",
          "--set",
          "eval.k=4",
          "--set",
          "eval.temperature=1.0"};
}

std::string fresh(const std::string& name) {
  const std::string d = (fs::temp_directory_path() / ("zerorl_dp_eval_" + name)).string();
  remove_tree(d);
  fs::remove(d + ".log");
  return d;
}

TEST(DataParallelEval, TwoRanksEqualOneRank) {
  const std::string one = fresh("one"), two = fresh("two");
  ASSERT_EQ(testing::wait_exit(testing::spawn_logged(eval_args(one), one + ".log")), 0)
      << read_file(one + ".log");
  std::vector<std::string> mpi{ZERORL_MPIEXEC, "-np", "2", "--oversubscribe"};
  auto cmd = eval_args(two);
  cmd.insert(cmd.end(), {"--set", "run.log_level=debug"});  // rank 1's info lines show at debug
  mpi.insert(mpi.end(), cmd.begin(), cmd.end());
  ASSERT_EQ(testing::wait_exit(testing::spawn_logged(mpi, two + ".log")), 0) << read_file(two + ".log");
  const std::string log = read_file(two + ".log");
  EXPECT_NE(log.find("[zerorl r0] info eval: rank 0 of 2 answers questions [0, 32) of 64"), std::string::npos)
      << log;
  EXPECT_NE(log.find("[zerorl r1] info eval: rank 1 of 2 answers questions [32, 64) of 64"),
            std::string::npos)
      << log;

  Json a = read_json(one + "/eval/eval.json"), b = read_json(two + "/eval/eval.json");
  a.erase("seconds"), b.erase("seconds");
  EXPECT_EQ(a, b);  // counts and sums of 0/1 verdicts and integer lengths, in the same order: exact
  EXPECT_EQ(a["questions"], 64);
  EXPECT_TRUE(a.contains("maj@4") && a.contains("pass@4")) << a.dump();
  const auto sa = read_jsonl(one + "/eval/eval_samples.jsonl"),
             sb = read_jsonl(two + "/eval/eval_samples.jsonl");
  ASSERT_EQ(sa.size(), 64u * 5u);  // 4 samples + 1 greedy per question
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_EQ(sa[i], sb[i]) << "line " << i;
}

}  // namespace
}  // namespace zerorl
