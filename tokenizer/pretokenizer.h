// tokenizer/pretokenizer.h: the tokenizer.json "normalizer" and "pre_tokenizer" stages: NFC-family
// normalizers, Split (PCRE2 regex or literal, five behaviors, invert) and ByteLevel (prefix space,
// GPT-2 regex). Not here: the byte -> char mapping itself (BPE works on raw bytes), added tokens.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_io.h"
#include "tokenizer/fast_split.h"
#include "tokenizer/unicode.h"

namespace zerorl::tokenizer {

// A compiled PCRE2 pattern (UTF + UCP, JIT when available; \s means White_Space as in Oniguruma).
// Thread-safe: match data is per thread.
class Regex {
 public:
  Regex(const std::string& pattern, bool literal);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // Non-overlapping leftmost matches [start, end) over valid UTF-8 `s`, appended to `out`.
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
};

// Normalizer sequence from tokenizer.json ("NFC", "NFD", "NFKC", "NFKD", "Sequence", null).
class Normalizer {
 public:
  Normalizer() = default;
  explicit Normalizer(const Json& spec);  // throws naming an unsupported type
  bool empty() const { return forms_.empty(); }
  std::string apply(std::string_view s) const;

 private:
  std::vector<NormalForm> forms_;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A span [begin, end) of bytes of the text being pre-tokenized.
struct Span {
  size_t begin, end;
};

// The pre_tokenizer chain: zero or more Split steps, then optionally one ByteLevel step (last).
class PreTokenizer {
 public:
  PreTokenizer() = default;
  explicit PreTokenizer(const Json& spec);  // throws naming an unsupported type or option
  // Splits `text` (already normalized) into pre-tokens. ByteLevel add_prefix_space may rewrite the
  // text, so the spans refer to `text` as updated here.
  void split(std::string& text, std::vector<Span>& spans) const;
  bool has_byte_level() const { return has_byte_level_; }

 private:
  struct Step {
    std::shared_ptr<Regex> regex;
    std::shared_ptr<FastSplitter> fast;  // same matches as `regex`, when the pattern is a known one
    SplitBehavior behavior;
    bool invert;
  };
  void apply_step(const Step& step, const std::string& text, std::vector<Span>& spans) const;
  void add_prefix_spaces(std::string& text, std::vector<Span>& spans) const;
  void add(const Json& spec);
  std::vector<Step> steps_;
  bool has_byte_level_ = false;
  bool prefix_space_ = false;
  std::shared_ptr<Regex> byte_level_regex_;  // set when ByteLevel use_regex is true
};

}  // namespace zerorl::tokenizer
