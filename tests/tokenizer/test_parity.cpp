// tests/tokenizer/test_parity.cpp: exact ids and decoded text against Hugging Face tokenizers 0.23 for every
// line of data/tokenizers/corpus_public.jsonl.gz, for qwen3, llama3 and deepseek_v3.
// Not here: unit behaviour of the parts (test_units.cpp), fuzzing (test_fuzz.cpp).
#include <gtest/gtest.h>

#include "core/json_io.h"
#include "tests/test_paths.h"
#include "tokenizer/tokenizer.h"

namespace zerorl::tokenizer {
namespace {

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, EveryCorpusLineMatchesHuggingFace) {
  const std::string root = testing::data_dir() + "/tokenizers/";
  Tokenizer tok = Tokenizer::from_dir(root + GetParam());
  auto rows = read_jsonl(root + "reference/" + GetParam() + "_public_ids.jsonl.gz");
  ASSERT_GT(rows.size(), 1000u);
  size_t ids_ok = 0, decoded_ok = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string text = rows[i].at("text").get<std::string>();
    const auto expected = rows[i].at("ids").get<std::vector<int32_t>>();
    const auto ids = tok.encode(text);
    if (ids == expected) {
      ++ids_ok;
    } else if (ids_ok + 5 > i) {
      ADD_FAILURE() << GetParam() << " line " << i << " ids differ for: " << text;
    }
    const std::string decoded = tok.decode(expected);
    if (decoded == rows[i].at("decoded").get<std::string>()) {
      ++decoded_ok;
    } else if (decoded_ok + 5 > i) {
      ADD_FAILURE() << GetParam() << " line " << i << " decoded differs: " << decoded;
    }
  }
  EXPECT_EQ(ids_ok, rows.size());
  EXPECT_EQ(decoded_ok, rows.size());
}

INSTANTIATE_TEST_SUITE_P(HuggingFace, Parity, ::testing::Values("qwen3", "llama3", "deepseek_v3"));

}  // namespace
}  // namespace zerorl::tokenizer
