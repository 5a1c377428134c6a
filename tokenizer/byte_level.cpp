// tokenizer/byte_level.cpp: Tokenizer::byte_level(), the tiny tokenizer for models trained from scratch:
// ids 0..255 are the bytes (GPT-2 byte-level chars, no merges), then kByteLevelSpecials. It is built as a
// tokenizer.json text, so save() writes a file that Hugging Face tokenizers loads too.
// Not here: loading (loader.cpp).
#include "core/json_io.h"
#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace zerorl::tokenizer {
namespace {

Json byte_level_json() {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    append_utf8(byte_to_char(static_cast<uint8_t>(b)), ch);
    vocab[ch] = b;
  }
  Json added = Json::array();
  for (size_t i = 0; i < kByteLevelSpecials.size(); ++i) {
    const std::string& content = kByteLevelSpecials[i];
    // Reasoning tags are ordinary text the model writes (kept by skip_special_tokens), like Qwen3's <think>.
    bool special = content.rfind("<|", 0) == 0;
    added.push_back({{"id", 256 + i},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", special}});
  }
  Json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level},
          {"post_processor", nullptr},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", Json::array()}}}};
}

}  // namespace

Tokenizer Tokenizer::byte_level() {
  Json config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                 {"bos_token", nullptr},
                 {"eos_token", "<|endoftext|>"},
                 {"pad_token", "<|pad|>"},
                 {"add_bos_token", false},
                 {"clean_up_tokenization_spaces", false},
                 {"model_max_length", 1 << 20}};
  return from_json(byte_level_json().dump(2), config.dump(2), "Tokenizer::byte_level()");
}

}  // namespace zerorl::tokenizer
