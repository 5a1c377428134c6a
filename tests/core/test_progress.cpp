// Tests of the progress bar's rendering (rate, ETA) and its tty detection being overridable.
#include <gtest/gtest.h>

#include "core/progress.h"

namespace zerorl {
namespace {

TEST(Progress, RendersCountRateAndEta) {
  ProgressBar bar(10, "train", "step", 0);
  EXPECT_FALSE(bar.enabled());
  const std::string line = bar.render(4, 2.0, "reward 0.50");
  EXPECT_NE(line.find("4/10"), std::string::npos) << line;
  EXPECT_NE(line.find("2.00 step/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 00:03"), std::string::npos) << line;  // 6 left at 2/s
  EXPECT_NE(line.find("reward 0.50"), std::string::npos) << line;
  EXPECT_NE(line.find("[#########"), std::string::npos) << line;  // 40% of 24 columns
}

TEST(Progress, DurationFormat) {
  EXPECT_EQ(format_duration(59.4), "00:59");
  EXPECT_EQ(format_duration(3725), "1:02:05");
  EXPECT_EQ(format_duration(-1), "--:--");
}

}  // namespace
}  // namespace zerorl
