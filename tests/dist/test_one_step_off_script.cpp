// tests/dist/test_one_step_off_script.cpp: bench/rollout_workers/one_step_off.sh on configs/tiny_test.yaml
// (build/zerorl, the trainer and its worker on loopback, processes the script starts and ends). Its JSON is
// checked against the runs' own metrics.jsonl: each median step time recomputed here, the ratios, the
// synchronous workers run equal to the colocated one (algo.old_logprobs=recompute: bit-identical runs, as in
// test_rollout_workers.cpp), and the one-step-off run one version stale with its IS metrics. Not here: speed.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/test_paths.h"

namespace zerorl {
namespace {

using testing::binary_dir;
using testing::source_dir;

// The median of time/total over steps 2..N of one run's metrics.jsonl, worked out here from the file.
double median_step_s(const std::string& metrics) {
  std::vector<double> v;
  const std::vector<Json> rows = read_jsonl(metrics);
  for (size_t i = 1; i < rows.size(); ++i) v.push_back(rows[i]["time/total"].get<double>());
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

TEST(OneStepOffScript, ComparesThreeRunsOfOneConfigAndSummarizesTheirMetrics) {
  const std::string out = (std::filesystem::temp_directory_path() / "zerorl_one_step_off_script").string();
  remove_tree(out);
  const std::string cmd = source_dir() + "/bench/rollout_workers/one_step_off.sh " + binary_dir() +
                          "/zerorl " + source_dir() + "/configs/tiny_test.yaml " + out +
                          " trainer.steps=4 trainer.save_every=100 trainer.tensorboard=false"
                          " algo.old_logprobs=recompute";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string text;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), pipe)) > 0;) text.append(buf, n);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
  Json j;
  ASSERT_NO_THROW(j = Json::parse(text)) << "stdout must be the JSON alone:\n" << text;

  for (const char* run : {"colocated", "workers_sync", "workers_one_step_off"}) {
    const Json& r = j[run];
    EXPECT_EQ(r["steps"], 4) << run;
    const double expected = median_step_s(out + "/" + run + "/run/metrics.jsonl");
    // The same doubles through Python's statistics.median and JSON: equal up to the printing's rounding.
    EXPECT_NEAR(r["step_s"].get<double>(), expected, 1e-12 * expected) << run;
    EXPECT_EQ(r["phases_s"]["total"], r["step_s"]) << run;
  }
  const double colocated = j["colocated"]["step_s"];
  for (const char* run : {"workers_sync", "workers_one_step_off"}) {
    const double s = j[run]["step_s"], ratio = j[run]["speedup_vs_colocated"];
    EXPECT_NEAR(ratio, colocated / s, 1e-12 * ratio) << run;
    EXPECT_TRUE(j[run]["phases_s"].contains("weight_sync")) << j[run].dump();
  }
  EXPECT_FALSE(j["colocated"]["phases_s"].contains("weight_sync"));
  // Synchronous workers: the colocated run's numbers.
  EXPECT_EQ(j["workers_sync"]["last_step"]["reward_mean"], j["colocated"]["last_step"]["reward_mean"]);
  EXPECT_EQ(j["workers_sync"]["last_step"]["rollout/staleness"], 0);
  // One-step-off: the last step's answers come from the weights one version back, corrected by tis.
  const Json& off = j["workers_one_step_off"]["last_step"];
  EXPECT_EQ(off["rollout/staleness"], 1) << off.dump();
  EXPECT_GT(off.value("off_policy/is_weight_mean", 0.0), 0.0) << off.dump();
  EXPECT_EQ(off["rollout/requeued_groups"], 0);
  remove_tree(out);
}

}  // namespace
}  // namespace zerorl
