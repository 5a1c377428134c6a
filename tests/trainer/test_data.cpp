// tests/trainer/test_data.cpp: JSONL field mapping and its errors, toy tokenizer, epoch sampler state.
// Not here: prompt templates (tokenizer/).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "trainer/components.h"
#include "trainer/data.h"

namespace zerorl::trainer {
namespace {

std::string write_tmp(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(Data, FieldMappingReadsChosenKeys) {
  const std::string path = write_tmp("zrl_rows.jsonl", R"({"q": "1+1?", "a": 2, "src": "gsm8k"})"
                                                       "\n"
                                                       R"({"q": "x", "a": "y"})"
                                                       "\n");
  FieldMapping m{"q", "a", "src", "math"};
  auto rows = load_rows(path, m);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].prompt, "1+1?");
  EXPECT_EQ(rows[0].answer, "2");  // numbers become their JSON text
  EXPECT_EQ(rows[0].data_source, "gsm8k");
  EXPECT_EQ(rows[1].data_source, "math");  // default for rows without one
  EXPECT_EQ(rows[1].index, 1);
}

TEST(Data, ExtraKeysReachTheVerifier) {
  // A Countdown row: its numbers and target are not in the prompt/answer fields; the countdown verifier
  // needs them from Sample::extra, so a right expression only scores when they travel with the row.
  const std::string path = write_tmp("zrl_cd.jsonl", R"({"prompt": "Reach 99 with 6, 7, 15", "answer": "99",)"
                                                     R"( "data_source": "countdown", "numbers": [6, 7, 15],)"
                                                     R"( "target": 99})"
                                                     "\n");
  const auto rows = load_rows(path, FieldMapping{});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].extra, (Json{{"numbers", {6, 7, 15}}, {"target", 99}}));
  Config cfg;
  cfg.data.train_path = path;
  Scorer scorer(cfg);
  const auto v =
      scorer.verify({{&rows[0], "<think>7 * 15 = 105</think> <answer>(7 * 15) - 6</answer>", 9, true},
                     {&rows[0], "<think>6 * 15 = 90</think> <answer>6 * 15 + 9</answer>", 9, true}});
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(v[0].correct) << v[0].status << ": " << v[0].reason;
  EXPECT_FALSE(v[1].correct);  // 9 is not one of the numbers
}

TEST(Data, MissingKeyNamesFileLineAndKey) {
  const std::string path = write_tmp("zrl_bad.jsonl", R"({"q": "a", "a": "b"})"
                                                      "\n"
                                                      R"({"question": "c"})"
                                                      "\n");
  try {
    load_rows(path, FieldMapping{"q", "a", "src", "math"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("zrl_bad.jsonl:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'q'"), std::string::npos) << e.what();
  }
}

TEST(Data, ToyTokenizerLoadsAsAHuggingFaceTokenizer) {
  auto t = tokenizer::Tokenizer::from_json(toy_tokenizer_json(), toy_tokenizer_config_json(), "toy");
  EXPECT_EQ(t.encode("12+3= 4", false), (std::vector<int32_t>{1, 2, 10, 3, 11, 12, 4}));
  EXPECT_EQ(t.eos_id(), 13);
  EXPECT_EQ(t.vocab_size(), 14);
  EXPECT_EQ(t.decode({1, 2, 10, 3, 11, 12, 4, 13}, true), "12+3= 4");
  for (const auto& r : toy_addition_rows(50, 4, 3)) {
    const auto plus = r.prompt.find('+');
    EXPECT_EQ(std::stoi(r.prompt.substr(0, plus)) + std::stoi(r.prompt.substr(plus + 1)),
              std::stoi(r.answer));
  }
}

TEST(Sampler, EachEpochIsAPermutationAndEpochsDiffer) {
  EpochSampler s(10, 7);
  auto e0 = s.next(10), e1 = s.next(10);
  EXPECT_EQ(std::set<int64_t>(e0.begin(), e0.end()).size(), 10u);
  EXPECT_EQ(std::set<int64_t>(e1.begin(), e1.end()).size(), 10u);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(s.epoch(), 1);
  EpochSampler unshuffled(4, 7, false);
  EXPECT_EQ(unshuffled.next(6), (std::vector<int64_t>{0, 1, 2, 3, 0, 1}));
}

TEST(Sampler, StateRestoresTheExactSequenceAcrossEpochs) {
  EpochSampler a(7, 11);
  std::vector<int64_t> all;
  for (int i = 0; i < 5; ++i) {
    auto b = a.next(3);
    all.insert(all.end(), b.begin(), b.end());
  }
  EpochSampler b(7, 11);
  b.next(3), b.next(3), b.next(3);  // 9 drawn: already in epoch 1
  EpochSampler c(7, 11);
  c.load_state(Json::parse(b.state().dump()));
  std::vector<int64_t> tail;
  for (int i = 0; i < 2; ++i) {
    auto x = c.next(3);
    tail.insert(tail.end(), x.begin(), x.end());
  }
  EXPECT_EQ(tail, std::vector<int64_t>(all.begin() + 9, all.end()));
  EpochSampler other(8, 11);
  EXPECT_THROW(other.load_state(b.state()), Error);  // another dataset size
}

}  // namespace
}  // namespace zerorl::trainer
