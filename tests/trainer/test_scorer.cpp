// tests/trainer/test_scorer.cpp: a dataset row's `extra` object reaching its verifier through the trainer's
// Scorer (countdown numbers from a JSONL row), the fields the trainer adds, and a Llama 3 prompt's BOS.
// Not here: whole runs (test_runs.cpp, test_verl_run.cpp), the verifiers' own logic (tests/verifiers).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/test_paths.h"
#include "tokenizer/template.h"
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

// Prompts were encoded without special tokens, so a Llama 3 model never saw its <|begin_of_text|>. With the
// post_processor of Meta's tokenizer.json (TemplateProcessing "<|begin_of_text|> $A") a prompt starts with
// it, once, also when the template writes it itself.
TEST(Components, Llama3PromptStartsWithBeginOfTextOnce) {
  const std::string src = testing::shared_dir() + "/tokenizers/llama3";
  Json spec = read_json(src + "/tokenizer.json");
  const Json bos = {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}};
  spec["post_processor"] =
      Json{{"type", "TemplateProcessing"},
           {"single", Json::array({bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
           {"pair", Json::array()},
           {"special_tokens",
            {{"<|begin_of_text|>",
              {{"id", "<|begin_of_text|>"}, {"ids", {128000}}, {"tokens", {"<|begin_of_text|>"}}}}}}};
  const std::string dir = (std::filesystem::temp_directory_path() / "zrl_llama3_meta_tok").string();
  std::filesystem::create_directories(dir);
  write_file_atomic(dir + "/tokenizer.json", spec.dump());
  write_file_atomic(dir + "/tokenizer_config.json", read_file(src + "/tokenizer_config.json"));
  Config cfg;
  cfg.tokenizer.path = dir;
  cfg.data.train_path = testing::write_temp_file("zrl_one_row.jsonl", R"({"prompt": "1+2", "answer": "3"})"
                                                                      "\n");
  const auto tok = build_tokenizer(cfg);
  const std::vector<Row> rows = build_rows(cfg);
  for (const char* tmpl : {"r1_zero", "plain", "<|begin_of_text|>Q: {prompt}\nA:"}) {
    cfg.tokenizer.prompt_template = tmpl;
    const std::vector<int64_t> ids = encode_prompt(cfg, tok, rows[0]);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 128000) << tmpl;
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 128000), 1) << tmpl;
    const auto body = tok.encode(tokenizer::apply_template(tmpl, "1+2"), false);
    EXPECT_EQ(ids.size(), body.size() + (body[0] == 128000 ? 0 : 1)) << tmpl;  // nothing else added
  }
  zerorl::remove_tree(dir);
}

}  // namespace
}  // namespace zerorl::trainer
