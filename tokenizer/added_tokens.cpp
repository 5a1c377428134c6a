// tokenizer/added_tokens.cpp: leftmost-longest trie matching and HF's find_matches rules.
// Not here: deciding which tokens are special for decoding (tokenizer.cpp).
#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace zerorl::tokenizer {
namespace {

char32_t last_char(std::string_view s) {
  size_t i = s.size();
  while (i > 0 && (static_cast<uint8_t>(s[i - 1]) & 0xC0) == 0x80) --i;
  if (i > 0) --i;
  return utf8_next(s, i);
}

// Start of the run of White_Space characters that ends `s` (Rust regex `\s*$`).
size_t trailing_space_start(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t i = end;
    while (i > 0 && (static_cast<uint8_t>(s[i - 1]) & 0xC0) == 0x80) --i;
    if (i > 0) --i;
    size_t j = i;
    if (!is_white_space(utf8_next(s, j))) break;
    end = i;
  }
  return end;
}

// Length of the run of White_Space characters that starts `s` (Rust regex `^\s*`).
size_t leading_space_length(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    if (!is_white_space(utf8_next(s, j))) break;
    i = j;
  }
  return i;
}

}  // namespace

int TokenMatcher::child(int node, uint8_t b) const {
  const auto& next = nodes_[node].next;
  auto it = std::lower_bound(next.begin(), next.end(), std::make_pair(b, -1));
  return it != next.end() && it->first == b ? it->second : -1;
}

void TokenMatcher::add(const std::string& pattern, int index) {
  if (pattern.empty()) return;
  int node = 0;
  for (char c : pattern) {
    uint8_t b = static_cast<uint8_t>(c);
    int next = child(node, b);
    if (next < 0) {
      next = static_cast<int>(nodes_.size());
      nodes_.push_back(Node{});
      auto& edges = nodes_[node].next;
      edges.insert(std::lower_bound(edges.begin(), edges.end(), std::make_pair(b, -1)), {b, next});
    }
    node = next;
  }
  if (nodes_[node].pattern < 0) nodes_[node].pattern = index;
  first_byte_[static_cast<uint8_t>(pattern[0])] = true;
}

int TokenMatcher::find(std::string_view s, size_t from, size_t& start, size_t& end) const {
  for (size_t i = from; i < s.size(); ++i) {
    if (!first_byte_[static_cast<uint8_t>(s[i])]) continue;
    int node = 0, found = -1;
    for (size_t j = i; j < s.size(); ++j) {
      node = child(node, static_cast<uint8_t>(s[j]));
      if (node < 0) break;
      if (nodes_[node].pattern >= 0) {
        found = nodes_[node].pattern;
        end = j + 1;
      }
    }
    if (found >= 0) {
      start = i;
      return found;
    }
  }
  return -1;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens,
                                 const std::vector<std::string>& normalized_contents)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].normalized) {
      normalized_.add(normalized_contents[i], static_cast<int>(i));
    } else {
      raw_.add(tokens_[i].content, static_cast<int>(i));
    }
  }
}

void AddedVocabulary::split(std::string_view s, bool normalized_set, std::vector<Segment>& out) const {
  const TokenMatcher& matcher = normalized_set ? normalized_ : raw_;
  size_t start_offset = 0, from = 0, start = 0, stop = 0;
  while (!matcher.empty()) {
    int index = matcher.find(s, from, start, stop);
    if (index < 0) break;
    from = stop;  // the matcher resumes after the raw match, as HF's find_iter does
    const AddedToken& token = tokens_[index];
    if (token.single_word) {
      bool start_space = start == 0 || !is_word_char(last_char(s.substr(0, start)));
      size_t k = stop;
      bool stop_space = stop == s.size() || !is_word_char(utf8_next(s, k));
      if (!start_space || !stop_space) continue;
    }
    if (token.lstrip) start = std::max(trailing_space_start(s.substr(0, start)), start_offset);
    if (token.rstrip) stop += leading_space_length(s.substr(stop));
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, token.id});
    start_offset = stop;
  }
  if (start_offset != s.size()) out.push_back({start_offset, s.size(), -1});
}

}  // namespace zerorl::tokenizer
