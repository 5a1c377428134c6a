// tests/trainer/test_scorer.cpp: a dataset row's `extra` object reaching its verifier through the trainer's
// Scorer (countdown numbers from a JSONL row), the fields the trainer adds, the format check measured at
// format_weight 0, the toy task's verifiers, and eval verifying each answer once (a call-counting external
// verifier). Not here: whole runs (test_runs.cpp, test_verl_run.cpp), the verifiers' own logic
// (tests/verifiers).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "core/json_io.h"
#include "core/strings.h"
#include "tests/test_paths.h"
#include "tokenizer/template.h"
#include "trainer/components.h"
#include "trainer/eval.h"

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
  const std::string src = testing::data_dir() + "/tokenizers/llama3";
  Json spec = read_json(src + "/tokenizer.json.gz");
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
  write_file_atomic(dir + "/tokenizer_config.json", read_file(src + "/tokenizer_config.json.gz"));
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

// format_weight 0 used to skip the format check and report format_rate 0 for well-formatted answers.
TEST(Scorer, FormatIsMeasuredAtWeightZero) {
  const std::string path = testing::write_temp_file(
      "zrl_math_rows.jsonl", R"({"prompt": "1+2", "answer": "3", "data_source": "math"})"
                             "\n");
  Config cfg;
  cfg.data.train_path = path;
  cfg.rewards.format_weight = 0;  // the default
  const std::vector<Row> rows = build_rows(cfg);
  Scorer scorer(cfg);
  // The r1_zero rule: the first answer follows it, the second does not.
  const auto scored = scorer.score_all({{&rows[0], "<think> 1+2 is 3 </think> <answer> 3 </answer>", 9, true},
                                        {&rows[0], "The answer is \\boxed{3}.", 7, true}});
  ASSERT_EQ(scored.rewards.size(), 2u);
  ASSERT_EQ(scored.format.size(), 2u);
  EXPECT_TRUE(scored.rewards[0].has_format);
  EXPECT_EQ(scored.rewards[0].format, 1.0);
  EXPECT_EQ(scored.rewards[1].format, 0.0);
  EXPECT_TRUE(scored.rewards[0].correct);
  EXPECT_TRUE(scored.rewards[1].correct);
  EXPECT_EQ(scored.rewards[0].total, 1.0);  // weight 0: measured, not rewarded
  EXPECT_EQ(scored.rewards[1].total, 1.0);
}

TEST(Scorer, ToyTaskVerifiers) {
  Config cfg;  // data.train_path empty: the toy task
  const std::vector<Row> rows = build_rows(cfg);
  ASSERT_FALSE(rows.empty());
  const Row& row = rows[0];
  ASSERT_EQ(row.data_source, "toy_addition");
  Scorer scorer(cfg);
  const auto s =
      scorer.score_all({{&row, " " + row.answer + " ", 2, true},  // trimmed: correct; spaces: no format
                        {&row, row.answer + "0", 2, true},        // wrong sum, digits only
                        {&row, row.answer, 2, false},             // right sum, cut off: no format
                        {&row, "+" + row.answer, 2, true}});      // not digits only
  EXPECT_TRUE(s.accuracy[0].correct);
  EXPECT_EQ(s.accuracy[0].extracted, row.answer);
  EXPECT_FALSE(s.accuracy[1].correct);
  EXPECT_TRUE(s.accuracy[2].correct);
  EXPECT_FALSE(s.accuracy[3].correct);
  EXPECT_FALSE(s.format[0].correct);  // " 3 " has spaces: not digits only
  EXPECT_TRUE(s.format[1].correct);
  EXPECT_FALSE(s.format[2].correct);
  EXPECT_FALSE(s.format[3].correct);
}

// An external verifier that appends every response it is asked about to a log file: eval must ask once per
// answer (it used to verify every answer twice, doubling sandboxed and external verifier cost).
TEST(Eval, VerifiesEachAnswerOnce) {
  const std::string log = testing::write_temp_file("zrl_eval_calls.log", "");
  Config cfg;  // the toy task with the tiny random model
  cfg.model.tiny_hidden_size = 16, cfg.model.tiny_layers = 1, cfg.model.tiny_heads = 2;
  cfg.rollout.max_new_tokens = 3;
  cfg.eval.max_questions = 5;
  ExternalSection counting;
  counting.command = {
      "python3", "-c",
      "import json, sys\n"
      "log = open(sys.argv[1], 'a')\n"
      "for line in sys.stdin:\n"
      "    r = json.loads(line)\n"
      "    log.write(json.dumps(r['response']) + '\\n'); log.flush()\n"
      "    ok = r['response'].strip() == r['gold']\n"
      "    print(json.dumps({'id': r['id'], 'reward': float(ok), 'correct': ok}), flush=True)\n",
      log};
  counting.workers = 1;
  counting.data_sources = {"toy_addition"};  // takes over the toy rows
  cfg.verifiers.external["counting"] = counting;
  const auto tok = build_tokenizer(cfg);
  auto lm = build_model(cfg, tok, torch::Device(torch::kCPU));
  const std::vector<Row> rows = load_eval_rows(cfg, tok);
  ASSERT_EQ(rows.size(), 5u);
  const std::string samples = testing::write_temp_file("zrl_eval_samples.jsonl", "");
  for (const int64_t k : {1, 3}) {
    write_file_atomic(log, "");
    cfg.eval.k = k;
    const Json summary = evaluate(cfg, lm, tok, rows, samples, 0);
    const std::vector<std::string> calls = split(trim(read_file(log)), '\n');
    const size_t answers = rows.size() * static_cast<size_t>(k) + (k > 1 ? rows.size() : 0);  // + greedy
    EXPECT_EQ(calls.size(), answers) << "k = " << k;
    // format_rate is measured (toy_format: digits only, finished): a naive recount from the sample lines.
    double formatted = 0, counted = 0;
    for (const Json& line : read_jsonl(samples)) {
      if (line["greedy"].get<bool>() && k > 1) continue;
      const std::string r = line["response"];
      bool ok = !r.empty() && line["finished"].get<bool>();
      for (char c : r) ok = ok && c >= '0' && c <= '9';
      formatted += ok ? 1 : 0, counted += 1;
    }
    ASSERT_EQ(counted, static_cast<double>(rows.size() * static_cast<size_t>(k)));
    EXPECT_DOUBLE_EQ(summary["format_rate"].get<double>(), formatted / counted) << "k = " << k;
  }
}

}  // namespace
}  // namespace zerorl::trainer
