// tokenizer/added_tokens.h: the added vocabulary of tokenizer.json ("added_tokens"): finding those
// tokens inside text exactly as Hugging Face does (leftmost-longest over a trie; single_word, lstrip,
// rstrip; normalized tokens matched on normalized text). Not here: BPE, pre-tokenization.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zerorl::tokenizer {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = true;
};

// A piece of text: either an added token (id >= 0) or plain text still to be tokenized.
struct Segment {
  size_t begin, end;
  int32_t id;  // -1: plain text
};

// Leftmost-longest matcher for one set of patterns (a byte trie; HF uses Aho-Corasick with the same
// match semantics).
class TokenMatcher {
 public:
  void add(const std::string& pattern, int index);
  bool empty() const { return nodes_.size() <= 1; }
  // Leftmost-longest match at or after `from`: returns the pattern index and sets [start, end); -1 if none.
  int find(std::string_view s, size_t from, size_t& start, size_t& end) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int>> next;  // sorted by byte
    int pattern = -1;
  };
  int child(int node, uint8_t b) const;
  std::vector<Node> nodes_{Node{}};
  bool first_byte_[256] = {};
};

class AddedVocabulary {
 public:
  // `normalized_contents[i]` is tokens[i].content after the tokenizer's normalizer (used for tokens with
  // normalized = true).
  AddedVocabulary(std::vector<AddedToken> tokens, const std::vector<std::string>& normalized_contents);
  AddedVocabulary() = default;
  // HF find_matches: splits `s` into segments covering all of it (no empty plain segments), using the
  // raw-text tokens (normalized_set = false) or the normalized ones.
  void split(std::string_view s, bool normalized_set, std::vector<Segment>& out) const;
  bool has_normalized() const { return !normalized_.empty(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;
  TokenMatcher raw_, normalized_;
};

}  // namespace zerorl::tokenizer
