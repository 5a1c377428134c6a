// tests/trainer/test_data.cpp: JSONL field mapping and its errors, toy tokenizer, epoch sampler state.
// Not here: prompt templates (tokenizer/).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "tests/test_paths.h"
#include "tokenizer/tokenizer.h"
#include "trainer/data.h"

namespace zerorl::trainer {
namespace {

TEST(Data, FieldMappingReadsChosenKeys) {
  const std::string path =
      testing::write_temp_file("zrl_rows.jsonl", R"({"q": "1+1?", "a": 2, "src": "gsm8k"})"
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

TEST(Data, MissingKeyNamesFileLineAndKey) {
  const std::string path = testing::write_temp_file("zrl_bad.jsonl", R"({"q": "a", "a": "b"})"
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

TEST(Data, DeeplyNestedValuesAreCleanErrors) {
  // 100000 nested arrays once overflowed the stack (exit 139) when the error message dumped the value.
  auto nested = [](int depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); };
  auto error_of = [](const std::string& path) {
    try {
      load_rows(path, FieldMapping{"q", "a", "src", "math"});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  std::string msg =
      error_of(testing::write_temp_file("zrl_deep.jsonl", "{\"q\": \"x\", \"a\": " + nested(100000) + "}\n"));
  EXPECT_NE(msg.find("zrl_deep.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
  // Within the bound the value reaches the error path, which prints a bounded excerpt of it.
  msg = error_of(testing::write_temp_file("zrl_deep_ok.jsonl",
                                          "{\"q\": \"x\", \"a\": " + nested(kMaxJsonDepth - 1) + "}\n"));
  EXPECT_NE(msg.find("zrl_deep_ok.jsonl:1: key 'a' must be a string or number, got [[[["), std::string::npos)
      << msg;
  EXPECT_LT(msg.size(), 300u) << msg;
}

TEST(Data, ExtraObjectComesFromTheMappedKey) {
  const std::string path = testing::write_temp_file(
      "zrl_extra.jsonl", R"({"q": "a", "a": "b", "extra_info": {"index": 7, "split": "train"}})"
                         "\n"
                         R"({"q": "c", "a": "d"})"
                         "\n"
                         R"({"q": "e", "a": "f", "extra_info": null, "extra": {"x": 1}})"
                         "\n");
  auto rows = load_rows(path, FieldMapping{"q", "a", "src", "math", "extra_info"});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].extra, (Json{{"index", 7}, {"split", "train"}}));
  EXPECT_EQ(rows[1].extra, Json::object());
  EXPECT_EQ(rows[2].extra, Json::object());  // only the mapped key counts
  EXPECT_EQ(load_rows(path, FieldMapping{"q", "a", "src", "math"})[2].extra,
            (Json{{"x", 1}}));  // default "extra"
  const std::string bad =
      testing::write_temp_file("zrl_extra_bad.jsonl", R"({"q": "a", "a": "b", "extra": [1, 2]})"
                                                      "\n");
  try {
    load_rows(bad, FieldMapping{"q", "a", "src", "math"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("zrl_extra_bad.jsonl:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'extra' must be a JSON object"), std::string::npos) << e.what();
  }
}

// verl's parquet layout exported to JSONL: the answer nested under reward_model, per-row data in extra_info.
TEST(Data, DottedKeysReachNestedFields) {
  const std::string path = testing::write_temp_file(
      "zrl_verl_rows.jsonl",
      R"({"data_source": "openai/gsm8k", "question": "q1", "reward_model": {"style": "rule", )"
      R"("ground_truth": "72"}, "extra_info": {"split": "train", "index": 0}, "a": {"b": "nested"}})"
      "\n"
      R"({"question": "q2", "reward_model": {"ground_truth": 5}, "a.b": "literal key wins", "a": {"b": "x"}})"
      "\n");
  auto rows = load_rows(
      path, FieldMapping{"question", "reward_model.ground_truth", "data_source", "math", "extra_info"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].answer, "72");
  EXPECT_EQ(rows[0].data_source, "openai/gsm8k");
  EXPECT_EQ(rows[0].extra, (Json{{"split", "train"}, {"index", 0}}));
  EXPECT_EQ(rows[1].answer, "5");
  const auto by_path = load_rows(path, FieldMapping{"question", "a.b", "src", "math"});
  EXPECT_EQ(by_path[0].answer, "nested");
  EXPECT_EQ(by_path[1].answer, "literal key wins");
  try {
    load_rows(path, FieldMapping{"question", "reward_model.answer", "src", "math"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'reward_model.answer' missing (set data.answer_key"),
              std::string::npos)
        << e.what();
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
    EXPECT_EQ(r.extra.at("a").get<int>(), std::stoi(r.prompt.substr(0, plus)));  // verl-style extra_info
    EXPECT_EQ(r.extra.at("b").get<int>(), std::stoi(r.prompt.substr(plus + 1)));
    EXPECT_EQ(r.extra.at("index").get<int64_t>(), r.index);
  }
}

// A step that crosses an epoch boundary may draw a row twice: each draw gets its own key; first draws keep
// the row index (so steps without repeats sample as they always did).
TEST(DrawKeys, RepeatedDrawsGetTheirOwnKeys) {
  const std::vector<int64_t> rows = {5, 2, 9, 5, 0, 5, 2};
  const auto keys = draw_keys(rows);
  ASSERT_EQ(keys.size(), rows.size());
  EXPECT_EQ(keys[0], 5u);
  EXPECT_EQ(keys[1], 2u);
  EXPECT_EQ(keys[2], 9u);
  EXPECT_EQ(keys[4], 0u);
  for (size_t i : {3, 5, 6}) EXPECT_NE(keys[i] >> 63, 0u) << "repeat " << i << " is outside the row range";
  EXPECT_EQ(std::set<uint64_t>(keys.begin(), keys.end()).size(), keys.size());
  EXPECT_EQ(draw_keys(rows), keys);  // a pure function of the draws: resume gives the same keys
  EXPECT_THROW(draw_keys({-1}), Error);
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
