// tokenizer/fast_split.h: a hand-written matcher for the GPT-4-style pre-tokenizer regex that Qwen2/2.5/3
// (\p{N}) and Llama 3 (\p{N}{1,3}) put in their Split step, giving the same matches as PCRE2 on that exact
// pattern without the regex engine. Any other pattern keeps using PCRE2 (pretokenizer.cpp).
// Not here: other patterns, the Split behaviors. Hand-written because it is the hot loop of encoding.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zerorl::tokenizer {

class FastSplitter {
 public:
  // Returns a splitter when `pattern` is one of the known patterns, else nullptr.
  static std::unique_ptr<FastSplitter> for_pattern(const std::string& pattern);
  // Same contract as Regex::find_all: non-overlapping leftmost matches [start, end) over valid UTF-8.
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  explicit FastSplitter(int max_digits) : max_digits_(max_digits) {}
  size_t match_at(std::string_view s, size_t i) const;
  int max_digits_;
};

}  // namespace zerorl::tokenizer
