// tests/trainer/tasks/test_report.cpp: summary.json shape, curves.png rendering (a real PNG from gnuplot,
// also into a folder whose name has quotes), and the choice of the fourth panel. Not here: the metrics'
// values.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "trainer/report.h"

namespace zerorl::trainer {
namespace {
namespace fs = std::filesystem;

TEST(Report, SummaryHasTheDemoKeys) {
  const std::string dir = (fs::temp_directory_path() / "zerorl_test_report_summary").string();
  zerorl::remove_tree(dir);
  const Json before{{"accuracy", 0.25}, {"format_rate", 0.5}, {"mean_response_tokens", 40.0}, {"k", 1}};
  const Json after{{"accuracy", 0.75}, {"format_rate", 1.0}, {"response_len_mean", 30.0}};
  write_summary(dir, before, after, 60, 123.5);
  const Json s = Json::parse(std::ifstream(dir + "/summary.json"));
  EXPECT_EQ(s["eval_before"], (Json{{"accuracy", 0.25},
                                    {"greedy_accuracy", nullptr},
                                    {"format_rate", 0.5},
                                    {"response_len_mean", 40.0}}));
  EXPECT_EQ(s["eval_after"]["accuracy"], 0.75);
  EXPECT_EQ(s["eval_after"]["response_len_mean"], 30.0);
  EXPECT_EQ(s["steps"], 60);
  EXPECT_EQ(s["seconds"], 123.5);
  EXPECT_TRUE(eval_brief(Json::object())["accuracy"].is_null());
  zerorl::remove_tree(dir);
}

TEST(Report, CurvesPngIsWrittenAndMissingInputIsAValue) {
  const std::string dir = (fs::temp_directory_path() / "zerorl_test_report_png").string();
  zerorl::remove_tree(dir);
  fs::create_directories(dir);
  {
    JsonlWriter w(dir + "/metrics.jsonl", false);
    for (int s = 1; s <= 10; ++s) {
      w.write(
          Json{{"step", s}, {"reward_mean", 0.1 * s}, {"accuracy", 0.05 * s}, {"response_len_mean", 50 - s}});
    }
  }
  ASSERT_EQ(plot_curves(dir + "/metrics.jsonl", dir + "/curves.png"), "");
  std::ifstream png(dir + "/curves.png", std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_GT(fs::file_size(dir + "/curves.png"), 5000u);
  EXPECT_FALSE(fs::exists(dir + "/curves.png.dat"));
  EXPECT_NE(plot_curves(dir + "/nope.jsonl", dir + "/x.png"), "");
  zerorl::remove_tree(dir);
}

// The report used to run `gnuplot '<path>'` through a shell: a quote in the run folder's name broke it (and
// worse paths could run commands). Paths now reach gnuplot only inside its own escaped strings.
TEST(Report, CurvesOfARunDirWhoseNameHasQuotes) {
  const std::string dir =
      (fs::temp_directory_path() / "zerorl_test_report_it's a \"run\" $(touch zrl_pwned) `id`").string();
  const std::string pwned = (fs::temp_directory_path() / "zrl_pwned").string();
  zerorl::remove_tree(dir);
  fs::remove(pwned);
  fs::remove("zrl_pwned");
  fs::create_directories(dir);
  {
    JsonlWriter w(dir + "/metrics.jsonl", false);
    for (int s = 1; s <= 5; ++s)
      w.write(Json{{"step", s}, {"reward_mean", 0.1 * s}, {"entropy", 2.0 - 0.1 * s}});
  }
  EXPECT_EQ(plot_curves(dir + "/metrics.jsonl", dir + "/curves.png", {{0, 0.2}, {5, 0.4}}), "");
  EXPECT_GT(fs::file_size(dir + "/curves.png"), 5000u);
  EXPECT_FALSE(fs::exists(pwned));
  EXPECT_FALSE(fs::exists("zrl_pwned"));
  // A line break would end gnuplot's string and start a command: refused, and nothing runs.
  const std::string injected = dir + "/x.png\nsystem('touch " + pwned + "')\n";
  EXPECT_NE(plot_curves(dir + "/metrics.jsonl", injected), "");
  EXPECT_FALSE(fs::exists(pwned));
  EXPECT_EQ(gnuplot_quote("it's"), "'it''s'");
  EXPECT_EQ(gnuplot_quote("a\\b\"c"), "'a\\b\"c'");  // no backslash escapes inside gnuplot's single quotes
  zerorl::remove_tree(dir);
}

// With kl_coef 0 the KL panel was a flat zero line; it shows the entropy unless KL was measured.
TEST(Report, FourthPanelIsKlOnlyWhenMeasured) {
  const std::vector<Json> no_kl = {Json{{"step", 1}, {"entropy", 1.5}}, Json{{"step", 2}, {"entropy", 1.4}}};
  const std::vector<Json> zero_kl = {Json{{"step", 1}, {"kl", 0.0}, {"entropy", 1.5}}};  // older runs' files
  const std::vector<Json> kl = {Json{{"step", 1}, {"kl", 0.0}}, Json{{"step", 2}, {"kl", 0.003}}};
  EXPECT_EQ(curve_panels(no_kl).at(3).key, "entropy");
  EXPECT_EQ(curve_panels(zero_kl).at(3).key, "entropy");
  EXPECT_EQ(curve_panels(kl).at(3).key, "kl");
  EXPECT_EQ(curve_panels(kl).size(), 4u);
  EXPECT_EQ(curve_panels(kl).at(0).key, "reward_mean");
}

TEST(Report, RunReportReadsEvalsAndSumsTheRunsSeconds) {
  const std::string dir = (fs::temp_directory_path() / "zerorl_test_run_report").string();
  zerorl::remove_tree(dir);
  fs::create_directories(dir + "/eval");
  auto eval_json = [&](int step, double acc, double greedy, double seconds) {
    std::ofstream(dir + "/eval/step_" + std::to_string(step) + ".json") << Json{
        {"step", step},
        {"accuracy", acc},
        {"greedy_accuracy", greedy},
        {"format_rate", 0.5},
        {"response_len_mean", 40.0 - step},
        {"seconds", seconds}}.dump();
  };
  eval_json(0, 0.30, 0.40, 10.0);
  eval_json(4, 0.45, 0.50, 11.0);
  eval_json(8, 0.60, 0.70, 12.0);
  std::ofstream(dir + "/eval/step_8_samples.jsonl") << "{}\n";  // not a summary: ignored
  {
    JsonlWriter w(dir + "/metrics.jsonl", false);
    for (int s = 1; s <= 8; ++s) w.write(Json{{"step", s}, {"accuracy", 0.1 * s}, {"time/total", 2.5}});
  }
  const Json summary = write_run_report(dir, 8);
  EXPECT_EQ(summary["eval_before"]["accuracy"], 0.30);
  EXPECT_EQ(summary["eval_after"]["accuracy"], 0.60);
  EXPECT_EQ(summary["eval_after"]["greedy_accuracy"], 0.70);
  EXPECT_EQ(summary["steps"], 8);
  EXPECT_DOUBLE_EQ(summary["seconds"].get<double>(), 8 * 2.5 + 10.0 + 11.0 + 12.0);
  EXPECT_EQ(summary["curves"], dir + "/curves.png");
  EXPECT_TRUE(fs::exists(dir + "/curves.png"));
  EXPECT_EQ(Json::parse(std::ifstream(dir + "/summary.json"))["eval_after"], summary["eval_after"]);
  EXPECT_EQ(write_run_report(dir, -1)["eval_after"], summary["eval_after"]);  // -1: the newest eval (8)
  const std::string table = summary_table(summary);
  EXPECT_NE(table.find("pass@1 (sampled)           0.300     0.600"), std::string::npos) << table;
  EXPECT_NE(table.find("response length (tokens)    40.0      32.0"), std::string::npos) << table;
  zerorl::remove_tree(dir);
}

}  // namespace
}  // namespace zerorl::trainer
