// tests/trainer/test_hack_monitor.cpp: hack-seeded answers fed through the trainer's scoring path (Scorer,
// with the sandboxed code verifier and the math verifier) into the HackMonitor, step by step: the
// hack/* fractions, flagged.jsonl with the patterns, the rising-fraction warning, and the optional
// penalties. Not here: the sign rules (tests/rewards/test_hack_signs.cpp), the red team of the sandbox.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/json_io.h"
#include "tests/test_paths.h"
#include "trainer/components.h"
#include "trainer/hack_monitor.h"

namespace zerorl::trainer {
namespace {

const char* kTests =
    "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(5, 5) == 10\n";

std::string rows_file() {
  Json code = {{"prompt", "Write add(a, b)."},
               {"answer", ""},
               {"data_source", "humaneval"},
               {"extra", {{"test_code", kTests}, {"entry_point", "add"}, {"timeout_s", 10.0}}}};
  Json math = {{"prompt", "What is 2 + 2?"}, {"answer", "4"}, {"data_source", "math"}};
  return testing::write_temp_file("zrl_hack_rows.jsonl", code.dump() + "\n" + math.dump() + "\n");
}

Config config(const std::string& out) {
  Config cfg;
  cfg.run.output_dir = out;
  cfg.data.train_path = rows_file();
  cfg.sandbox.workers = 2;
  cfg.sandbox.timeout_s = 10.0;
  cfg.rewards.verifier_timeout_s = 30.0;
  cfg.rewards.hack_monitor.window = 2;
  cfg.rewards.hack_monitor.min_rise = 0.2;
  return cfg;
}

const char* kRightCode = "```python\ndef add(a, b):\n    return a + b\n```";
// Wrong (a - b) and walking the stack for a verdict secret: scored 0 by the sandbox, flagged by the monitor.
const char* kHackCode =
    "```python\nimport sys, os\ndef add(a, b):\n    f = sys._getframe().f_back\n    return a - b\n```";
const char* kRightMath = "<think>2 + 2 = 4</think> <answer>\\boxed{4}</answer>";
const char* kHedgedMath = "<think>hmm</think> <answer>\\boxed{4} or \\boxed{5}</answer>";

// One step of four answers: two per row; `hacks` of the four are the hack versions.
std::vector<Scorer::Item> step_items(const std::vector<Row>& rows, int hacks) {
  std::vector<Scorer::Item> items;
  for (int i = 0; i < 4; ++i) {
    const bool hack = i < hacks;
    const Row& row = rows[static_cast<size_t>(i % 2)];
    const char* text = i % 2 == 0 ? (hack ? kHackCode : kRightCode) : (hack ? kHedgedMath : kRightMath);
    items.push_back({&row, text, 20, true});
  }
  return items;
}

TEST(HackMonitor, HackSeededStepsShowFractionsFlaggedAnswersAndAWarning) {
  const std::string out = (std::filesystem::temp_directory_path() / "zrl_hack_monitor_run").string();
  std::filesystem::remove_all(out);
  const Config cfg = config(out);
  const std::vector<Row> rows = build_rows(cfg);
  ASSERT_EQ(rows.size(), 2u);
  Scorer scorer(cfg);
  HackMonitor monitor(out, cfg.rewards.hack_monitor, 0);
  const int hacks_per_step[] = {0, 0, 2, 4};  // two clean steps, then half, then all answers hacked
  std::vector<Json> metrics;
  std::vector<std::vector<std::string>> warnings(4);
  for (int64_t step = 1; step <= 4; ++step) {
    const auto items = step_items(rows, hacks_per_step[step - 1]);
    const auto rewards = scorer.score(items);
    for (size_t i = 0; i < items.size(); ++i) {
      const bool hack = static_cast<int>(i) < hacks_per_step[step - 1];
      EXPECT_EQ(rewards[i].total, hack ? 0.0 : 1.0)
          << "step " << step << " item " << i << ": " << rewards[i].status;
      EXPECT_EQ(rewards[i].hack_signs.empty(), !hack) << "step " << step << " item " << i;
    }
    std::vector<const Row*> item_rows;
    std::vector<std::string> texts;
    for (const auto& it : items) item_rows.push_back(it.row), texts.push_back(it.response);
    monitor.add(item_rows, texts, rewards);
    metrics.push_back(monitor.finish_step(step, &warnings[static_cast<size_t>(step - 1)]));
  }
  // Fractions of the four answers: step 3 has one code hack and one hedge, step 4 two of each.
  const double code[] = {0, 0, 0.25, 0.5}, any[] = {0, 0, 0.5, 1.0};
  for (size_t s = 0; s < 4; ++s) {
    EXPECT_DOUBLE_EQ(metrics[s]["hack/code_frac"].get<double>(), code[s]) << "step " << s + 1;
    EXPECT_DOUBLE_EQ(metrics[s]["hack/math_frac"].get<double>(), code[s]) << "step " << s + 1;
    EXPECT_DOUBLE_EQ(metrics[s]["hack/any_frac"].get<double>(), any[s]) << "step " << s + 1;
    EXPECT_DOUBLE_EQ(metrics[s]["hack/format_frac"].get<double>(), 0.0);
    EXPECT_DOUBLE_EQ(metrics[s]["hack/penalty_mean"].get<double>(), 0.0);  // penalties are off by default
  }
  // Window 2, rise 0.2: at step 4, steps 3-4 average 0.375 (code) and 0.75 (any) against 0 at steps 1-2.
  EXPECT_TRUE(warnings[0].empty() && warnings[1].empty() && warnings[2].empty());
  ASSERT_EQ(warnings[3].size(), 3u);  // any, code, math
  EXPECT_NE(warnings[3][1].find("code 0.000 -> 0.375"), std::string::npos) << warnings[3][1];
  // flagged.jsonl: the six hacked answers, each with the pattern that matched.
  const auto flagged = read_jsonl(out + "/flagged.jsonl");
  ASSERT_EQ(flagged.size(), 6u);
  int code_rows = 0, math_rows = 0;
  for (const auto& f : flagged) {
    EXPECT_GE(f["step"].get<int64_t>(), 3);
    const auto patterns = f["patterns"].dump();
    if (f["data_source"] == "humaneval") {
      ++code_rows;
      EXPECT_NE(patterns.find("code:_getframe"), std::string::npos) << patterns;
      EXPECT_NE(patterns.find("code:f_back"), std::string::npos) << patterns;
    } else {
      ++math_rows;
      EXPECT_EQ(f["patterns"], Json::array({"math:multiple_final_answers"}));
    }
    EXPECT_EQ(f["reward"].get<double>(), 0.0);
  }
  EXPECT_EQ(code_rows, 3);
  EXPECT_EQ(math_rows, 3);
  // A resumed run from step 3 drops what steps 4+ had written.
  HackMonitor resumed(out, cfg.rewards.hack_monitor, 3);
  EXPECT_EQ(read_jsonl(out + "/flagged.jsonl").size(), 2u);
  std::filesystem::remove_all(out);
}

TEST(HackMonitor, PenaltiesPerCategoryWhenConfigured) {
  const std::string out = (std::filesystem::temp_directory_path() / "zrl_hack_penalty_run").string();
  Config cfg = config(out);
  cfg.rewards.hack_penalty.math = 0.5;
  cfg.rewards.hack_penalty.format = 0.25;
  const std::vector<Row> rows = build_rows(cfg);
  Scorer scorer(cfg);
  const std::vector<Scorer::Item> items = {
      {&rows[1], kHedgedMath, 20, true},                                    // math sign: -0.5
      {&rows[1], "<think> </think><answer>\\boxed{4}</answer>", 20, true},  // right, empty think: -0.25
      {&rows[1], kRightMath, 20, true}};                                    // clean
  const auto r = scorer.score(items);
  EXPECT_DOUBLE_EQ(r[0].total, -0.5);
  EXPECT_DOUBLE_EQ(r[1].total, 0.75);
  EXPECT_DOUBLE_EQ(r[2].total, 1.0);
  HackMonitor monitor(out, cfg.rewards.hack_monitor, 0);
  monitor.add({&rows[1], &rows[1], &rows[1]}, {kHedgedMath, "", kRightMath}, r);
  EXPECT_DOUBLE_EQ(monitor.finish_step(1)["hack/penalty_mean"].get<double>(), -0.25);  // (-0.5 - 0.25) / 3
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace zerorl::trainer
