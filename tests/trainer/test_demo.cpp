// tests/trainer/test_demo.cpp: the README's first command end to end: `zerorl train` with no --config runs
// the embedded configs/zero_tiny.yaml (pure RL from assets/tiny_base) from the checkout, and the held-out
// pass@1 it reports before and after must rise by at least 20 points (issue 9's bar), with summary.json and
// the before/after table written. Not here: the algorithm's pieces (tests/algo) or resume (test_runs.cpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/run_process.h"

namespace zerorl::trainer {
namespace {
namespace fs = std::filesystem;

TEST(Demo, EmbeddedDefaultLiftsHeldOutAccuracyByTwentyPoints) {
  const std::string out = (fs::temp_directory_path() / "zerorl_test_demo").string();
  zerorl::remove_tree(out);
  const std::string log = out + ".log";
  // From the checkout, like scripts/run.sh: the embedded config's paths (assets/...) are relative.
  const pid_t pid =
      testing::spawn_logged({testing::binary_dir() + "/zerorl", "train", "--set", "run.output_dir=" + out},
                            log, testing::source_dir(),
                            /*append=*/false);
  ASSERT_EQ(testing::wait_exit(pid), 0) << read_file(log);
  const Json s = read_json(out + "/summary.json");
  const double before = s["eval_before"]["accuracy"], after = s["eval_after"]["accuracy"];
  EXPECT_GE(after - before, 0.20) << s.dump(2);
  EXPECT_GT(before, 0.05);  // the base is well above zero...
  EXPECT_LT(before, 0.60);  // ...and well below its ceiling
  EXPECT_EQ(s["steps"], 40);
  EXPECT_GE(s["eval_after"]["greedy_accuracy"].get<double>(),
            s["eval_before"]["greedy_accuracy"].get<double>());
  EXPECT_EQ(read_jsonl(out + "/eval/step_0_samples.jsonl").size(), 200u * 5u);  // 4 samples + greedy
  const std::string text = read_file(log);
  EXPECT_NE(text.find("pass@1 (sampled)"), std::string::npos) << text;
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    EXPECT_TRUE(fs::exists(out + "/curves.png"));
  }
}

}  // namespace
}  // namespace zerorl::trainer
