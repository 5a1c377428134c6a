// tests/tokenizer/test_prompt_tokens.cpp: the special tokens a prompt gets (Tokenizer::encode_prompt) on the
// Llama 3 tokenizer with the post-processor Meta's tokenizer.json declares, and the other post-processor
// forms. Not here: corpus parity of encode (test_parity.cpp), prompt templates (test_template.cpp).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "tests/test_paths.h"
#include "tokenizer/tokenizer.h"

namespace zerorl::tokenizer {
namespace {

using Ids = std::vector<int32_t>;
constexpr int32_t kBeginOfText = 128000;  // Llama 3's <|begin_of_text|>

// The post_processor of meta-llama/Meta-Llama-3-8B's tokenizer.json (TemplateProcessing: single =
// "<|begin_of_text|> $A"). The shared llama3 copy (@lenml) keeps only the ByteLevel step.
Json llama3_post_processor() {
  const Json bos = {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}};
  return Json{
      {"type", "Sequence"},
      {"processors",
       Json::array(
           {Json{{"type", "ByteLevel"},
                 {"add_prefix_space", true},
                 {"trim_offsets", false},
                 {"use_regex", true}},
            Json{{"type", "TemplateProcessing"},
                 {"single", Json::array({bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                 {"pair", Json::array({bos,
                                       {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                       {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 1}}}},
                                       {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
                 {"special_tokens",
                  {{"<|begin_of_text|>",
                    {{"id", "<|begin_of_text|>"},
                     {"ids", {kBeginOfText}},
                     {"tokens", {"<|begin_of_text|>"}}}}}}}})}};
}

std::string llama3_dir() { return testing::data_dir() + "/tokenizers/llama3"; }

const Tokenizer& llama3_meta() {
  static const Tokenizer tok = [] {
    Json spec = read_json(llama3_dir() + "/tokenizer.json.gz");
    spec["post_processor"] = llama3_post_processor();
    return Tokenizer::from_json(spec.dump(), read_file(llama3_dir() + "/tokenizer_config.json.gz"),
                                "llama3 + Meta post_processor");
  }();
  return tok;
}

// Hugging Face's ids for the first corpus line (made without special tokens: the shared copy adds none).
std::pair<std::string, Ids> first_reference_line(const std::string& name) {
  const auto rows =
      read_jsonl(testing::data_dir() + "/tokenizers/reference/" + name + "_public_ids.jsonl.gz");
  return {rows.at(0).at("text").get<std::string>(), rows.at(0).at("ids").get<Ids>()};
}

TEST(PromptTokens, Llama3PromptStartsWithBeginOfTextOnce) {
  const Tokenizer& tok = llama3_meta();
  const auto [text, ref] = first_reference_line("llama3");
  Ids expected = {kBeginOfText};
  expected.insert(expected.end(), ref.begin(), ref.end());
  EXPECT_EQ(tok.encode(text), expected);  // add_special_tokens = true follows the post-processor
  EXPECT_EQ(tok.encode(text, false), ref);
  EXPECT_EQ(tok.encode_prompt(text), expected);
  // A chat template that writes <|begin_of_text|> itself gets it once, not twice.
  EXPECT_EQ(tok.encode_prompt("<|begin_of_text|>" + text), expected);
  EXPECT_EQ(tok.encode_prompt("Hello"), (Ids{kBeginOfText, 9906}));  // "Hello" is 9906 in Llama 3
}

TEST(PromptTokens, PostProcessorWithoutTemplateAddsNothing) {
  // The shared copies: ByteLevel only, no add_bos_token (llama3 @lenml, qwen3): the prompt is the text.
  for (const char* name : {"llama3", "qwen3"}) {
    const Tokenizer tok = Tokenizer::from_dir(testing::data_dir() + "/tokenizers/" + name);
    const auto [text, ref] = first_reference_line(name);
    EXPECT_EQ(tok.encode_prompt(text), ref) << name;
    EXPECT_EQ(tok.encode(text), ref) << name;
  }
}

TEST(PromptTokens, AddBosTokenFromTokenizerConfig) {
  // deepseek_v3: ByteLevel post-processor, but tokenizer_config.json says add_bos_token: true (a
  // LlamaTokenizerFast), so transformers puts <｜begin▁of▁sentence｜> (id 0) first; encode() stays HF
  // tokenizers'.
  const Tokenizer tok = Tokenizer::from_dir(testing::data_dir() + "/tokenizers/deepseek_v3");
  const auto [text, ref] = first_reference_line("deepseek_v3");
  ASSERT_EQ(tok.bos_id(), 0);
  Ids expected = {0};
  expected.insert(expected.end(), ref.begin(), ref.end());
  EXPECT_EQ(tok.encode(text), ref);
  EXPECT_EQ(tok.encode_prompt(text), expected);
  EXPECT_EQ(tok.encode_prompt(*tok.id_to_token(0) + text), expected);  // a chat template's bos_token: once
}

// The byte-level tokenizer with a different post_processor: ids 0..255 are bytes, 256.. kByteLevelSpecials.
Tokenizer byte_level_with_post(const Json& post) {
  const auto dir = std::filesystem::temp_directory_path() / ("zrl_tok_post_" + std::to_string(::getpid()));
  Tokenizer::byte_level().save(dir.string());
  Json spec = read_json((dir / "tokenizer.json").string());
  zerorl::remove_tree(dir);
  spec["post_processor"] = post;
  return Tokenizer::from_json(spec.dump(), "", "byte-level + post_processor");
}

TEST(PromptTokens, RobertaAndBertProcessingAddClsAndSep) {
  const int32_t cls = 257, sep = 258;  // <|im_start|>, <|im_end|> stand in for <s>, </s>
  for (const char* type : {"RobertaProcessing", "BertProcessing"}) {
    const Tokenizer tok = byte_level_with_post(
        Json{{"type", type}, {"cls", {"<|im_start|>", cls}}, {"sep", {"<|im_end|>", sep}}});
    EXPECT_EQ(tok.encode("hi"), (Ids{cls, 'h', 'i', sep})) << type;
    EXPECT_EQ(tok.encode("hi", false), (Ids{'h', 'i'})) << type;
    EXPECT_EQ(tok.encode_prompt("hi"), (Ids{cls, 'h', 'i', sep})) << type;
  }
}

TEST(PromptTokens, UnknownPostProcessorIsNamed) {
  try {
    byte_level_with_post(Json{{"type", "SomethingNew"}});
    FAIL() << "an unknown post_processor loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SomethingNew"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zerorl::tokenizer
