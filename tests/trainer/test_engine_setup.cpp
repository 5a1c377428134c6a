// tests/trainer/test_engine_setup.cpp: what a run feeds the engine: the KV budget from the config and the
// device's free memory, prompts longer than tokenizer.max_prompt_tokens dropped at load (with a count per
// file), streams keyed by the draw (a row drawn twice in a step samples twice), and a budget that holds no
// sequence failing before step 1. Not here: the engine's use of the budget (tests/rollout/engine_test.cpp).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "tests/test_paths.h"
#include "trainer/components.h"
#include "trainer/engine_setup.h"
#include "trainer/eval.h"
#include "trainer/step.h"

namespace zerorl::trainer {
namespace {

namespace fs = std::filesystem;
constexpr double kGiB = 1024.0 * 1024 * 1024;

// Routes the default spdlog logger into a string for the test's lifetime.
class CaptureLog {
 public:
  CaptureLog() : old_(spdlog::default_logger()) {
    auto logger =
        std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(text_));
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~CaptureLog() { spdlog::set_default_logger(old_); }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> old_;
};

TEST(KvBudget, FromTheConfigAndFreeMemory) {
  RolloutSection ro;  // kv_cache_fraction 0.3, nothing explicit
  auto b = kv_budget(ro, 100 * kGiB, "cuda:0");
  EXPECT_EQ(b.bytes, static_cast<int64_t>(30 * kGiB));  // 0.3 x 100 GiB
  EXPECT_EQ(b.tokens, 0);
  EXPECT_EQ(b.seqs, 0);
  EXPECT_NE(b.source.find("rollout.kv_cache_fraction 0.3 x 100.00 GiB free on cuda:0"), std::string::npos)
      << b.source;
  ro.kv_cache_gb = 2.5;  // explicit bytes replace the fraction
  ro.max_total_tokens = 4096, ro.max_num_seqs = 64;
  b = kv_budget(ro, 100 * kGiB, "cuda:0");
  EXPECT_EQ(b.bytes, static_cast<int64_t>(2.5 * kGiB));
  EXPECT_EQ(b.tokens, 4096);
  EXPECT_EQ(b.seqs, 64);
  EXPECT_EQ(b.source,
            "rollout.kv_cache_gb = 2.5, rollout.max_total_tokens = 4096, rollout.max_num_seqs = 64");
  ro.kv_cache_gb = 200;  // more than the device has free: refused, naming the key and the numbers
  try {
    kv_budget(ro, 100 * kGiB, "cuda:0");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rollout.kv_cache_gb = 200 exceeds the 100.00 GiB free on cuda:0"),
              std::string::npos)
        << e.what();
  }
  ro.kv_cache_gb = 0;  // free memory unknown: no byte limit, the token and sequence limits remain
  b = kv_budget(ro, std::nullopt, "cuda:0");
  EXPECT_EQ(b.bytes, 0);
  EXPECT_EQ(b.tokens, 4096);
  // On this machine's CPU: the fraction of available RAM.
  Config cfg;
  const auto tok = build_tokenizer(cfg);
  const auto eo = engine_options(cfg, tok, torch::kCPU);
  EXPECT_GT(eo.kv_budget.bytes, 0);
  EXPECT_NE(eo.kv_budget.source.find("free on cpu"), std::string::npos) << eo.kv_budget.source;
  EXPECT_EQ(eo.max_prefill_tokens, cfg.rollout.max_num_batched_tokens);
}

// Toy tokenizer: one token per character, so a prompt's length is its character count.
TEST(DropLongPrompts, PerFileCountAndErrorWhenNothingIsLeft) {
  const std::string path =
      testing::write_temp_file("zrl_mem_eval.jsonl",
                               "{\"prompt\": \"123+456=\", \"answer\": \"579\"}\n"     // 8
                               "{\"prompt\": \"1+2=\", \"answer\": \"3\"}\n"           // 4
                               "{\"prompt\": \"1234+5678=\", \"answer\": \"6912\"}\n"  // 10
                               "{\"prompt\": \"12+34=\", \"answer\": \"46\"}\n");      // 6
  Config cfg;
  cfg.data.eval_path = path;
  cfg.tokenizer.max_prompt_tokens = 6;
  const auto tok = build_tokenizer(cfg);
  std::vector<Row> rows;
  {
    CaptureLog log;
    rows = load_eval_rows(cfg, tok);
    EXPECT_NE(log.text().find("dropped 2 of 4 rows of " + path + " longer than 6 tokens"), std::string::npos)
        << log.text();
  }
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].index, 1);  // rows keep their position in the file
  EXPECT_EQ(rows[1].index, 3);
  cfg.eval.max_questions = 1;  // the cut applies to the rows that fit
  rows = load_eval_rows(cfg, tok);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].prompt, "1+2=");
  cfg.tokenizer.max_prompt_tokens = 3;
  try {
    load_eval_rows(cfg, tok);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("tokenizer.max_prompt_tokens = 3"), std::string::npos) << m;
    EXPECT_NE(m.find("the shortest has 4"), std::string::npos) << m;
  }
}

Config tiny_config(const std::string& out) {
  Config cfg;
  config::load_yaml_file(cfg, testing::source_dir() + "/configs/tiny_test.yaml");
  cfg.run.output_dir = out;
  cfg.trainer.save_every = 0, cfg.trainer.tensorboard = false;
  return cfg;
}

// A training prompt longer than the model's context used to abort the run at the step that drew it ("no
// room for a new token"); it is dropped at load now and the run trains on the rest.
TEST(DropLongPrompts, ALongTrainingPromptNoLongerAbortsTheRun) {
  const std::string out = (fs::temp_directory_path() / "zrl_mem_long_prompt").string();
  const std::string tok_dir = (fs::temp_directory_path() / "zrl_mem_toy_tok").string();
  zerorl::remove_tree(out);
  fs::create_directories(tok_dir);
  write_file_atomic(tok_dir + "/tokenizer.json", toy_tokenizer_json());
  write_file_atomic(tok_dir + "/tokenizer_config.json", toy_tokenizer_config_json());
  // The tiny model's context is 4096 tokens; the toy tokenizer gives one token per character.
  const std::string path = testing::write_temp_file(
      "zrl_mem_train.jsonl", "{\"prompt\": \"1+2=\", \"answer\": \"3\"}\n{\"prompt\": \"" +
                                 std::string(5000, '1') +
                                 "=\", \"answer\": \"1\"}\n{\"prompt\": \"2+2=\", \"answer\": \"4\"}\n");
  Config cfg = tiny_config(out);
  cfg.tokenizer.path = tok_dir, cfg.tokenizer.prompt_template = "plain";
  cfg.data.train_path = path;
  cfg.rollout.prompts_per_step = 3;  // would draw the long row in step 1
  CaptureLog log;
  Trainer t(cfg, dist::Context{});
  EXPECT_NE(log.text().find("dropped 1 of 3 rows of " + path + " longer than 1024 tokens"), std::string::npos)
      << log.text();
  t.start("");
  EXPECT_NO_THROW(t.step());
  zerorl::remove_tree(out);
}

// One dataset row and 3 prompts per step: every step draws the row 3 times (epoch boundaries inside the
// step). Each draw has its own streams, so the three groups differ; a second run repeats them exactly.
TEST(DrawKeys, ARowDrawnTwiceInAStepSamplesTwice) {
  std::vector<std::vector<std::string>> runs;
  for (const char* name : {"zrl_mem_draws_a", "zrl_mem_draws_b"}) {
    const std::string out = (fs::temp_directory_path() / name).string();
    zerorl::remove_tree(out);
    Config cfg = tiny_config(out);
    cfg.data.toy_size = 1;
    cfg.rollout.prompts_per_step = 3, cfg.rollout.group_size = 4;
    cfg.trainer.steps = 1, cfg.trainer.sample_every = 1;
    Trainer t(cfg, dist::Context{});
    t.start("");
    t.step();
    std::vector<std::string> responses;
    for (const auto& line : read_jsonl(out + "/samples.jsonl")) responses.push_back(line.at("response"));
    ASSERT_EQ(responses.size(), 12u);
    runs.push_back(responses);
    zerorl::remove_tree(out);
  }
  const auto& r = runs[0];
  auto group = [&](size_t d) { return std::vector<std::string>(r.begin() + 4 * d, r.begin() + 4 * d + 4); };
  EXPECT_NE(group(0), group(1));
  EXPECT_NE(group(1), group(2));
  EXPECT_NE(group(0), group(2));
  EXPECT_EQ(runs[0], runs[1]);
}

// A KV budget that holds not one prompt + answer fails before step 1, naming the key and the numbers:
// through the memory plan (trainer.memory_check), else from the engine before anything is generated.
TEST(KvBudget, TooSmallForOneSequenceFailsBeforeGenerating) {
  const std::string out = (fs::temp_directory_path() / "zrl_mem_small_kv").string();
  zerorl::remove_tree(out);
  Config cfg = tiny_config(out);
  cfg.rollout.kv_cache_gb = 1e-7;  // 107 bytes
  try {
    Trainer t(cfg, dist::Context{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("memory plan"), std::string::npos) << m;
    EXPECT_NE(m.find("rollout.kv_cache_gb = 1e-07"), std::string::npos) << m;
  }
  cfg.trainer.memory_check = false;
  Trainer t(cfg, dist::Context{});
  t.start("");
  try {
    t.step();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rollout.kv_cache_gb = 1e-07"), std::string::npos) << e.what();
  }
  zerorl::remove_tree(out);
}

}  // namespace
}  // namespace zerorl::trainer
