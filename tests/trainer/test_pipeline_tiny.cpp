// tests/trainer/test_pipeline_tiny.cpp: configs/pipeline_tiny.yaml end to end from the checkout (teacher RL,
// cut to 10 steps -> samples -> a smaller pretrained student -> distilled / RL-only / cold start at an equal
// time budget), checking what holds on any machine: every stage finished, the summary has every row with
// held-out numbers in [0, 1], the student is smaller than the teacher, the samples are verified answers. Not
// which method wins: that is the experiment (docs/results.md), not a property of the code.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/run_process.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {
namespace {

void expect_fraction(const Json& row, const char* key) {
  ASSERT_TRUE(row.contains(key)) << row.dump();
  EXPECT_GE(row[key].get<double>(), 0.0) << row.dump();
  EXPECT_LE(row[key].get<double>(), 1.0) << row.dump();
}

TEST(PipelineTiny, RunsEveryStageAndSummarizesEveryRow) {
  const std::string out = (fs::temp_directory_path() / "zrl_pipeline_tiny").string();
  zerorl::remove_tree(out);
  // The shipped file with its output_dir moved out of the checkout; its other paths stay checkout-relative.
  std::string text = read_file(testing::source_dir() + "/configs/pipeline_tiny.yaml");
  const std::string from = "output_dir: runs/pipeline_tiny";
  const size_t o = text.find(from);
  ASSERT_NE(o, std::string::npos);
  text.replace(o, from.size(), "output_dir: " + out);
  // The teacher stage is the embedded default, which Demo.* already runs whole (40 steps, 10 minutes on a
  // busy 2-core machine). Here 10 steps do: the stages after it need a teacher, not a good one (its base
  // model already passes ~78% of prompts at k=4, enough verified samples for the cold start's 300).
  const std::string teacher_stage = "  - name: teacher";
  const std::string config_line = "    config: configs/zero_tiny.yaml\n";
  const size_t t = text.find(teacher_stage);
  ASSERT_NE(t, std::string::npos);
  const size_t c = text.find(config_line, t);
  ASSERT_NE(c, std::string::npos);
  text.insert(c + config_line.size(), "    set: [trainer.steps=10]\n");
  const std::string file = out + ".yaml";
  std::ofstream(file) << text;
  const std::string log = out + ".log";
  const pid_t pid = testing::spawn_logged({testing::binary_dir() + "/zerorl", "pipeline", "--config", file},
                                          log, testing::source_dir(), /*append=*/false);
  ASSERT_EQ(testing::wait_exit(pid), 0) << read_file(log);

  const Json summary = read_json(out + "/pipeline_summary.json");
  const std::vector<std::pair<std::string, std::string>> want = {
      {"teacher", "train"}, {"samples", "sample"},    {"student_base", "pretrain"}, {"distilled", "sft"},
      {"rl_only", "train"}, {"coldstart_sft", "sft"}, {"coldstart_rl", "train"}};
  ASSERT_EQ(summary["stages"].size(), want.size()) << summary.dump(2);
  for (size_t i = 0; i < want.size(); ++i) {
    const Json& row = summary["stages"][i];
    EXPECT_EQ(row["name"], want[i].first);
    EXPECT_EQ(row["kind"], want[i].second);
    EXPECT_TRUE(fs::exists(out + "/" + want[i].first + "/stage.json")) << want[i].first;
    if (want[i].second == "train" || want[i].second == "sft") {
      // Held-out numbers of the starting model (step 0) and of the final one, after at least one step.
      for (const char* k : {"accuracy", "greedy_accuracy", "before_accuracy", "before_greedy_accuracy"})
        expect_fraction(row, k);
      EXPECT_GE(row["step"].get<int64_t>(), 1) << row.dump();
    }
  }
  EXPECT_EQ(summary["stages"][0]["step"].get<int64_t>(), 10);  // the stage's `set` reached the teacher
  // The three students start from the same base: the same step-0 numbers (one model, one seed).
  const Json& distilled = summary["stages"][3];
  const Json& rl_only = summary["stages"][4];
  EXPECT_EQ(distilled["before_accuracy"], rl_only["before_accuracy"]);
  EXPECT_EQ(distilled["before_greedy_accuracy"], rl_only["before_greedy_accuracy"]);
  // The equal budget is what stopped them (100000 steps were allowed).
  const std::string text_log = read_file(log);
  EXPECT_NE(text_log.find("trainer.max_minutes = 1 reached"), std::string::npos);

  // The student is smaller than the teacher: fewer layers, the same width.
  const Json teacher = read_json(testing::source_dir() + "/assets/tiny_base/config.json");
  const Json student = read_json(out + "/student_base/model/config.json");
  EXPECT_LT(student["num_hidden_layers"].get<int64_t>(), teacher["num_hidden_layers"].get<int64_t>());
  // Samples: verified teacher answers, one per prompt at most (select: shortest) of the first 1000 prompts.
  const std::vector<Json> samples = read_jsonl(out + "/samples/sample/sft.jsonl");
  EXPECT_GE(samples.size(), 300u);  // the cold start trains on 300; the teacher passes ~70% of its prompts
  EXPECT_LE(samples.size(), 1000u);
  for (const Json& s : samples) {
    EXPECT_FALSE(s["response"].get<std::string>().empty());
    EXPECT_EQ(s["verdict"]["correct"], true) << s.dump();
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    EXPECT_TRUE(fs::exists(out + "/pipeline.png"));
  }
}

}  // namespace
}  // namespace zerorl::trainer
