// tokenizer/tokenizer.h: the public tokenizer: load a Hugging Face tokenizer.json (+ tokenizer_config.json),
// encode text to ids and decode ids to text with the exact results of HF `tokenizers`, stream-decode during
// generation, save. Not here: prompt templates (template.h), the tiny byte-level vocab (byte_level.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zerorl::tokenizer {

struct TokenizerImpl;

// Immutable after loading; copies share the loaded tables. encode/decode are safe to call from many
// threads at once (each thread keeps its own pre-token cache).
class Tokenizer {
 public:
  // Reads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json. Either may instead be stored
  // gzip-compressed as NAME.gz (used only when the plain file is absent).
  static Tokenizer from_dir(const std::string& dir);
  // Reads one tokenizer.json; `config_path` (optional) names a tokenizer_config.json. A path ending in
  // .gz is read gzip-compressed.
  static Tokenizer from_file(const std::string& tokenizer_json_path, const std::string& config_path = "");
  // From the JSON texts themselves (config may be empty). `origin` names the source in error messages.
  static Tokenizer from_json(const std::string& tokenizer_json, const std::string& config_json = "",
                             const std::string& origin = "tokenizer.json");
  // The tiny byte-level tokenizer for models trained from scratch: ids 0..255 are the bytes, then
  // kByteLevelSpecials in order (<|endoftext|> = 256 is eos, <|pad|> is pad).
  static Tokenizer byte_level();

  // Text -> ids like HF `Tokenizer.encode(text, add_special_tokens)`. Added tokens inside the text
  // become their ids. Invalid UTF-8 is first repaired to U+FFFD (HF only accepts valid strings).
  std::vector<int32_t> encode(const std::string& text, bool add_special_tokens = true) const;
  // A model prompt -> ids, as transformers' `tokenizer(text)` gives them: the post-processor's special
  // tokens for a single sequence (Llama 3's TemplateProcessing "<|begin_of_text|> $A"; Qwen's ByteLevel adds
  // none), plus bos_token first when tokenizer_config.json says add_bos_token and the post-processor does
  // not add it (transformers' Llama-family tokenizers rebuild their post-processor from that flag). Special
  // tokens that the text already begins with (a chat template's "<|begin_of_text|>") are not added again.
  // Responses and pretraining text use encode(text, false).
  std::vector<int32_t> encode_prompt(const std::string& text) const;
  // Many texts, on `threads` threads (0: hardware concurrency).
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts, int threads = 0,
                                                 bool add_special_tokens = true) const;
  // Ids -> text like HF `Tokenizer.decode`: ByteLevel bytes of every token concatenated, ill-formed
  // UTF-8 replaced by U+FFFD; unknown ids are skipped; special tokens too when skip_special_tokens.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  // Largest id + 1 (base vocab and added tokens).
  int64_t vocab_size() const;
  std::optional<int32_t> token_to_id(const std::string& token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  bool is_special(int32_t id) const;
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> pad_id() const;
  // tokenizer_config.json's chat_template ("" when absent) and add_bos_token (false when absent).
  const std::string& chat_template() const;
  bool add_bos_token() const;

  // Writes DIR/tokenizer.json and DIR/tokenizer_config.json (creating DIR), readable by from_dir and by HF.
  void save(const std::string& dir) const;

  // Bytes that decoding `id` contributes (before UTF-8 repair); empty for unknown ids.
  const std::string& token_bytes(int32_t id) const;
  // Whether decode joins tokens with ' ' (no decoder in tokenizer.json) rather than concatenating.
  bool joins_with_space() const;

 private:
  explicit Tokenizer(std::shared_ptr<const TokenizerImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const TokenizerImpl> impl_;
};

// Special tokens of Tokenizer::byte_level(), ids 256.. in this order; eos = <|endoftext|>, pad = <|pad|>.
// The <|...|> ones are special (skipped by skip_special_tokens); the reasoning tags are not.
inline const std::vector<std::string> kByteLevelSpecials = {
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<answer>", "</answer>", "<|pad|>"};

// Incremental detokenization: step() returns only text made of complete UTF-8 characters; the
// concatenation of all step() results and finish() equals tokenizer.decode(all ids).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);
  std::string step(int32_t id);
  std::string step(const std::vector<int32_t>& ids);
  // Flushes held bytes (an unfinished character becomes U+FFFD) and resets.
  std::string finish();
  void reset();

 private:
  Tokenizer tokenizer_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace zerorl::tokenizer
