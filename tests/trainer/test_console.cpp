// tests/trainer/test_console.cpp: the console line of a step (what a Slurm log or nohup file shows when there
// is no terminal for the progress bar), from hand-written metrics rows. Not here: a whole run printing it
// (tests/apps/test_cli_runs.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "trainer/metrics.h"

namespace zerorl::trainer {
namespace {

TEST(Console, LineHasStepRewardAccuracyLengthSecondsAndEta) {
  const Json row{{"step", 3},
                 {"reward_mean", 0.5123},
                 {"accuracy", 0.25},
                 {"format_rate", 0.875},
                 {"response_len_mean", 41.26},
                 {"entropy", 1.23456},
                 {"time/total", 0.314},
                 {"lr", 1e-6}};
  EXPECT_EQ(console_line(row, 20, 65.0),
            "step 3/20 | reward 0.512 | acc 0.250 | format 0.875 | len 41.3 | entropy 1.235 | 0.31 s | "
            "ETA 01:05");
}

TEST(Console, UnmeasuredMetricsAreLeftOutNotZero) {
  // No kl (no reference model) and no entropy (no update ran): absent, not "kl 0.0000".
  const Json row{{"step", 7}, {"reward_mean", 1.0}, {"accuracy", 1.0}, {"response_len_mean", 2.0}};
  EXPECT_EQ(console_fields(row), "reward 1.000 | acc 1.000 | len 2.0");
  EXPECT_EQ(console_line(row, 7, NAN), "step 7/7 | reward 1.000 | acc 1.000 | len 2.0 | ETA --:--");
  const Json with_kl{{"step", 1}, {"kl", 0.00123}};
  EXPECT_EQ(console_fields(with_kl), "kl 0.0012");
}

}  // namespace
}  // namespace zerorl::trainer
