// tokenizer/tokenizer_impl.h: the loaded tables behind Tokenizer (shared, immutable).
// Not here: parsing (loader.cpp), encoding (tokenizer.cpp).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"

namespace zerorl::tokenizer {

struct TokenizerImpl {
  uint64_t uid = 0;                    // distinguishes tokenizers in the per-thread caches
  std::string json_text, config_text;  // as loaded, written back by save()
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::unique_ptr<BpeModel> bpe;
  AddedVocabulary added;
  std::vector<int32_t> prefix_ids, suffix_ids;  // post_processor TemplateProcessing "single"
  std::vector<std::string> id_to_token;         // "" for holes
  std::vector<std::string> id_bytes;            // what decode emits per id
  std::vector<uint8_t> special;                 // 1 for special added tokens
  std::unordered_map<std::string, int32_t> token_to_id;
  bool join_with_space = false;
  std::optional<int32_t> bos, eos, pad;
  std::string chat_template;
  bool add_bos_token = false;
};

// Parses tokenizer.json (+ config) into a TokenizerImpl; throws naming `origin` and the component.
std::shared_ptr<TokenizerImpl> load_tokenizer(const std::string& json_text, const std::string& config_text,
                                              const std::string& origin);

}  // namespace zerorl::tokenizer
