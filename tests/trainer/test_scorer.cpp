// tests/trainer/test_scorer.cpp: a dataset row's `extra` object reaching its verifier through the trainer's
// Scorer (countdown numbers from a JSONL row), and the fields the trainer adds. Not here: whole runs
// (test_runs.cpp, test_verl_run.cpp), the verifiers' own logic (tests/verifiers).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/test_paths.h"
#include "trainer/components.h"

namespace zerorl::trainer {
namespace {

// Countdown rows as a verl-style dataset: the numbers and target live in "extra_info".
TEST(Scorer, RowExtraReachesTheCountdownVerifier) {
  const std::string path = testing::write_temp_file(
      "zrl_countdown_rows.jsonl",
      R"({"prompt": "Use 30 100 93 to make 23", "answer": "23", )"
      R"("data_source": "countdown", "extra_info": {"numbers": [30, 100, 93], "target": 23}})"
      "\n"
      R"({"prompt": "Use 3 4 to make 7", "answer": "7", "data_source": "countdown"})"
      "\n");
  Config cfg;
  cfg.data.train_path = path;
  cfg.data.extra_key = "extra_info";
  cfg.rewards.format_weight = 0;
  const std::vector<Row> rows = build_rows(cfg);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].extra, (Json{{"numbers", {30, 100, 93}}, {"target", 23}}));
  EXPECT_EQ(rows[1].extra, Json::object());
  Scorer scorer(cfg);
  const std::vector<Scorer::Item> items = {
      {&rows[0], "<think>x</think><answer>93 - (100 - 30)</answer>", 12, true},  // 93 - 70 = 23
      {&rows[0], "<think>x</think><answer>100 - 93 + 30</answer>", 12, true},    // 37
      {&rows[0], "<think>x</think><answer>93 - 100 + 30</answer>", 12, false},   // 23, cut off
      {&rows[1], "<think>x</think><answer>3 + 4</answer>", 8, true},             // no numbers: error
  };
  const auto rewards = scorer.score(items);
  ASSERT_EQ(rewards.size(), 4u);
  EXPECT_TRUE(rewards[0].correct);
  EXPECT_EQ(rewards[0].total, 1.0);
  EXPECT_FALSE(rewards[1].correct);
  EXPECT_EQ(rewards[1].status, "wrong");
  EXPECT_TRUE(rewards[2].correct);
  EXPECT_FALSE(rewards[3].correct);
  EXPECT_EQ(rewards[3].status, "error");  // the verifier says what it missed; the step goes on
}

TEST(Scorer, SampleCarriesRowExtraPlusFinishedAndDataSource) {
  Row row{"1+2=", "3", "toy_addition", 5, Json{{"a", 1}, {"b", 2}, {"finished", "row value"}}};
  const verifiers::Sample s = Scorer::sample_of({&row, "3", 2, false});
  EXPECT_EQ(s.prompt, "1+2=");
  EXPECT_EQ(s.response, "3");
  EXPECT_EQ(s.gold, "3");
  EXPECT_EQ(s.extra, (Json{{"a", 1}, {"b", 2}, {"finished", false}, {"data_source", "toy_addition"}}));
}

}  // namespace
}  // namespace zerorl::trainer
