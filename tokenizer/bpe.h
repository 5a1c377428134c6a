// tokenizer/bpe.h: the byte-level BPE model: vocab, merge ranks, and merging one pre-token's bytes
// into ids exactly like Hugging Face's BPE (lowest rank first, leftmost on ties; ignore_merges).
// Not here: splitting text into pre-tokens, added tokens, caching (tokenizer.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace zerorl::tokenizer {

// Open-addressing hash map (id_left, id_right) -> (rank, id_merged): the hot lookup of BPE.
class MergeTable {
 public:
  void reserve(size_t n);
  // Keeps the first insertion of a pair (HF keeps the lowest rank as well).
  void insert(int32_t left, int32_t right, int32_t rank, int32_t merged);
  // Returns false when (left, right) is no merge.
  bool find(int32_t left, int32_t right, int32_t& rank, int32_t& merged) const {
    uint64_t key = pack(left, right);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) {
        rank = static_cast<int32_t>(values_[i] >> 32);
        merged = static_cast<int32_t>(values_[i] & 0xFFFFFFFFu);
        return true;
      }
      if (keys_[i] == kEmpty) return false;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static size_t hash(uint64_t k) { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 20); }
  std::vector<uint64_t> keys_{kEmpty};
  std::vector<uint64_t> values_{0};
  size_t mask_ = 0, size_ = 0;
};

class BpeModel {
 public:
  // `vocab` maps byte-level token strings to ids; `merges` lists pairs of token strings, rank = index.
  // Throws when a merge names a token that is not in the vocab (like HF).
  BpeModel(const std::unordered_map<std::string, int32_t>& vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges, int32_t unk_id,
           bool fuse_unk);

  // Appends the ids of one pre-token given as raw bytes (before the byte-level mapping).
  void encode_word(std::string_view bytes, std::vector<int32_t>& out) const;
  // The same merge rule through a linear scan per merge (O(n^2)): the reference twin used for short
  // words and in tests.
  void merge_scan(std::vector<int32_t>& symbols) const;
  // The same merge rule through a priority queue (O(n log n)) for long words.
  void merge_heap(std::vector<int32_t>& symbols) const;
  // Initial symbols (one per byte; unknown bytes become unk or are dropped, like HF).
  std::vector<int32_t> initial_symbols(std::string_view bytes) const;

  const MergeTable& merges() const { return merges_; }

 private:
  MergeTable merges_;
  int32_t byte_ids_[256];
  std::unordered_map<std::string, int32_t> raw_vocab_;  // raw bytes -> id, for ignore_merges
  bool ignore_merges_;
  int32_t unk_id_;
  bool fuse_unk_;
};

// Byte-level string (GPT-2 chars) -> raw bytes; false when a char is outside the byte table.
bool byte_level_to_bytes(std::string_view token, std::string& bytes);
std::string bytes_to_byte_level(std::string_view bytes);

}  // namespace zerorl::tokenizer
