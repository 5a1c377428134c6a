// tokenizer/bpe.cpp: BPE merging (scan and heap variants of the same rule) and the merge table.
// Not here: pre-tokenization and caching. Hand-written: no packaged C++ BPE reads tokenizer.json.
#include "tokenizer/bpe.h"

#include <limits>
#include <queue>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace zerorl::tokenizer {

void MergeTable::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  keys_.assign(cap, kEmpty);
  values_.assign(cap, 0);
  mask_ = cap - 1;
  size_ = 0;
}

void MergeTable::insert(int32_t left, int32_t right, int32_t rank, int32_t merged) {
  ZRL_CHECK(size_ * 2 < keys_.size(), "MergeTable::insert past its reserved size {}", size_);
  uint64_t key = pack(left, right);
  size_t i = hash(key) & mask_;
  while (keys_[i] != kEmpty) {
    if (keys_[i] == key) return;
    i = (i + 1) & mask_;
  }
  keys_[i] = key;
  values_[i] = (static_cast<uint64_t>(static_cast<uint32_t>(rank)) << 32) | static_cast<uint32_t>(merged);
  ++size_;
}

bool byte_level_to_bytes(std::string_view token, std::string& bytes) {
  bytes.clear();
  size_t i = 0;
  while (i < token.size()) {
    int b = char_to_byte(utf8_next(token, i));
    if (b < 0) return false;
    bytes.push_back(static_cast<char>(b));
  }
  return true;
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  for (char c : bytes) append_utf8(byte_to_char(static_cast<uint8_t>(c)), out);
  return out;
}

BpeModel::BpeModel(const std::unordered_map<std::string, int32_t>& vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
                   int32_t unk_id, bool fuse_unk)
    : ignore_merges_(ignore_merges), unk_id_(unk_id), fuse_unk_(fuse_unk) {
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    append_utf8(byte_to_char(static_cast<uint8_t>(b)), ch);
    auto it = vocab.find(ch);
    byte_ids_[b] = it == vocab.end() ? -1 : it->second;
  }
  std::string bytes;
  for (const auto& [token, id] : vocab) {
    if (byte_level_to_bytes(token, bytes)) raw_vocab_.emplace(bytes, id);
  }
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto ia = vocab.find(a), ib = vocab.find(b), im = vocab.find(a + b);
    ZRL_CHECK(ia != vocab.end() && ib != vocab.end(),
              "BPE merge #{} '{} {}' names a token missing from the vocab", rank, a, b);
    ZRL_CHECK(im != vocab.end(), "BPE merge #{} '{} {}': merged token '{}' is missing from the vocab", rank,
              a, b, a + b);
    merges_.insert(ia->second, ib->second, static_cast<int32_t>(rank), im->second);
  }
}

std::vector<int32_t> BpeModel::initial_symbols(std::string_view bytes) const {
  std::vector<int32_t> symbols;
  symbols.reserve(bytes.size());
  bool last_unk = false;
  for (char c : bytes) {
    int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id >= 0) {
      symbols.push_back(id);
      last_unk = false;
    } else if (unk_id_ >= 0) {
      if (!(fuse_unk_ && last_unk)) symbols.push_back(unk_id_);
      last_unk = true;
    }
  }
  return symbols;
}

void BpeModel::merge_scan(std::vector<int32_t>& symbols) const {
  while (symbols.size() > 1) {
    int32_t best_rank = std::numeric_limits<int32_t>::max(), best_merged = -1;
    size_t best_pos = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      int32_t rank, merged;
      if (merges_.find(symbols[i], symbols[i + 1], rank, merged) && rank < best_rank) {
        best_rank = rank;
        best_merged = merged;
        best_pos = i;
      }
    }
    if (best_merged < 0) return;
    symbols[best_pos] = best_merged;
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best_pos) + 1);
  }
}

void BpeModel::merge_heap(std::vector<int32_t>& symbols) const {
  const int n = static_cast<int>(symbols.size());
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto push = [&](int pos) {
    int32_t rank, merged;
    if (pos >= 0 && next[pos] >= 0 && merges_.find(symbols[pos], symbols[next[pos]], rank, merged))
      heap.push({rank, pos, merged});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    Candidate top = heap.top();
    heap.pop();
    if (!alive[top.pos] || next[top.pos] < 0) continue;
    int right = next[top.pos];
    int32_t rank, merged;
    if (!merges_.find(symbols[top.pos], symbols[right], rank, merged) || merged != top.merged) continue;
    symbols[top.pos] = merged;
    alive[right] = false;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    push(prev[top.pos]);
    push(top.pos);
  }
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i)
    if (alive[i]) out.push_back(symbols[i]);
  symbols.swap(out);
}

void BpeModel::encode_word(std::string_view bytes, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    auto it = raw_vocab_.find(std::string(bytes));
    if (it != raw_vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<int32_t> symbols = initial_symbols(bytes);
  if (symbols.size() <= 48) {
    merge_scan(symbols);
  } else {
    merge_heap(symbols);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
}

}  // namespace zerorl::tokenizer
