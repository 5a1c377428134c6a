// tokenizer/tokenizer.cpp: encode (added tokens -> normalize -> pre-tokenize -> cached BPE), decode,
// streaming decode, save, and the accessors of Tokenizer. Not here: parsing tokenizer.json (loader.cpp).
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "core/json_io.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace zerorl::tokenizer {
namespace {

// Pre-token bytes -> ids, one per (thread, tokenizer): no locks on the hot path. Open addressing over
// an arena of keys and ids; cleared when full, so memory stays bounded.
class WordCache {
 public:
  static constexpr size_t kMaxEntries = 1 << 17;
  static constexpr size_t kMaxWordBytes = 4096;
  WordCache() : slots_(4096) {}
  // Appends the cached ids of `word` to `out`; false on a miss.
  bool lookup(std::string_view word, std::vector<int32_t>& out) const {
    uint64_t h = hash(word);
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[i];
      if (slot.key_len == kEmpty) return false;
      if (slot.hash == h && slot.key_len == word.size() &&
          std::memcmp(keys_.data() + slot.key_off, word.data(), word.size()) == 0) {
        out.insert(out.end(), ids_.begin() + slot.ids_off, ids_.begin() + slot.ids_off + slot.ids_len);
        return true;
      }
    }
  }
  void store(std::string_view word, const int32_t* ids, size_t n) {
    if (size_ >= kMaxEntries || keys_.size() + word.size() > (1u << 30)) clear();
    if (2 * (size_ + 1) > slots_.size()) grow();
    uint64_t h = hash(word);
    size_t i = h & (slots_.size() - 1);
    while (slots_[i].key_len != kEmpty) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = {h, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(word.size()),
                 static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(n)};
    keys_.append(word.data(), word.size());
    ids_.insert(ids_.end(), ids, ids + n);
    ++size_;
  }

 private:
  static constexpr uint32_t kEmpty = ~0u;
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_off = 0, key_len = kEmpty, ids_off = 0, ids_len = 0;
  };
  static uint64_t hash(std::string_view s) {  // FNV-1a over 8-byte words, then a final mix
    uint64_t h = 0xcbf29ce484222325ull ^ s.size();
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < s.size(); ++i) h = (h ^ static_cast<uint8_t>(s[i])) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& slot : old) {
      if (slot.key_len == kEmpty) continue;
      size_t i = slot.hash & (slots_.size() - 1);
      while (slots_[i].key_len != kEmpty) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = slot;
    }
  }
  void clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    keys_.clear();
    ids_.clear();
    size_ = 0;
  }
  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t size_ = 0;
};

WordCache& cache_for(uint64_t uid) {
  thread_local std::unordered_map<uint64_t, WordCache> caches;
  thread_local uint64_t last_uid = 0;
  thread_local WordCache* last = nullptr;
  if (uid != last_uid) {
    // Caches of tokenizers no longer used would otherwise stay for the thread's lifetime.
    if (caches.size() >= 8 && caches.count(uid) == 0) caches.clear();
    last = &caches[uid];
    last_uid = uid;
  }
  return *last;
}

// Pre-tokenizes and BPE-encodes normalized text that holds no added token.
void encode_plain(const TokenizerImpl& t, std::string text, std::vector<int32_t>& out) {
  std::vector<Span> spans;
  t.pre_tokenizer.split(text, spans);
  WordCache& cache = cache_for(t.uid);
  for (const Span& span : spans) {
    std::string_view word(text.data() + span.begin, span.end - span.begin);
    if (word.size() > WordCache::kMaxWordBytes) {  // rare giant words are not worth keeping
      t.bpe->encode_word(word, out);
      continue;
    }
    if (cache.lookup(word, out)) continue;
    size_t before = out.size();
    t.bpe->encode_word(word, out);
    cache.store(word, out.data() + before, out.size() - before);
  }
}

// HF extract_and_normalize: raw-text added tokens first, then normalize each remaining piece and find the
// normalized added tokens in it; what is left goes to the pre-tokenizer and the model.
void encode_text(const TokenizerImpl& t, std::string_view text, std::vector<int32_t>& out) {
  std::vector<Segment> segments, inner;
  t.added.split(text, false, segments);
  for (const Segment& seg : segments) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      continue;
    }
    std::string normalized = t.normalizer.apply(text.substr(seg.begin, seg.end - seg.begin));
    if (!t.added.has_normalized()) {
      encode_plain(t, std::move(normalized), out);
      continue;
    }
    inner.clear();
    t.added.split(normalized, true, inner);
    for (const Segment& s : inner) {
      if (s.id >= 0) {
        out.push_back(s.id);
      } else {
        encode_plain(t, normalized.substr(s.begin, s.end - s.begin), out);
      }
    }
  }
}

// DIR/NAME if it exists, else DIR/NAME.gz if that exists, else "" (read_file inflates a .gz path).
std::string plain_or_gzip(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  for (const fs::path& p : {fs::path(dir) / name, fs::path(dir) / (name + ".gz")})
    if (fs::exists(p)) return p.string();
  return "";
}

}  // namespace

Tokenizer Tokenizer::from_json(const std::string& tokenizer_json, const std::string& config_json,
                               const std::string& origin) {
  return Tokenizer(load_tokenizer(tokenizer_json, config_json, origin));
}

Tokenizer Tokenizer::from_file(const std::string& tokenizer_json_path, const std::string& config_path) {
  std::string config = config_path.empty() ? "" : read_file(config_path);
  return from_json(read_file(tokenizer_json_path), config, tokenizer_json_path);
}

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  const std::string json = plain_or_gzip(dir, "tokenizer.json");
  ZRL_CHECK(!json.empty(), "tokenizer: no tokenizer.json (nor tokenizer.json.gz) in '{}'", dir);
  return from_file(json, plain_or_gzip(dir, "tokenizer_config.json"));
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_special_tokens) const {
  const TokenizerImpl& t = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special_tokens) out = t.prefix_ids;
  if (utf8_valid_prefix(text) == text.size()) {
    encode_text(t, text, out);
  } else {
    encode_text(t, utf8_lossy(text), out);
  }
  if (add_special_tokens) out.insert(out.end(), t.suffix_ids.begin(), t.suffix_ids.end());
  return out;
}

std::vector<int32_t> Tokenizer::encode_prompt(const std::string& text) const {
  const TokenizerImpl& t = *impl_;
  std::vector<int32_t> prefix = t.prefix_ids;
  if (t.add_bos_token && t.bos && (prefix.empty() || prefix.front() != *t.bos))
    prefix.insert(prefix.begin(), *t.bos);
  const std::vector<int32_t> body = encode(text, false);
  const bool has_prefix =
      body.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), body.begin());
  std::vector<int32_t> out = has_prefix ? std::vector<int32_t>{} : prefix;
  out.insert(out.end(), body.begin(), body.end());
  out.insert(out.end(), t.suffix_ids.begin(), t.suffix_ids.end());
  return out;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts, int threads,
                                                          bool add_special_tokens) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, static_cast<int>(texts.size()));
  std::atomic<size_t> next{0};
  auto work = [&]() {
    for (size_t i = next++; i < texts.size(); i = next++) out[i] = encode(texts[i], add_special_tokens);
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < threads; ++k) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  StreamDecoder stream(*this, skip_special_tokens);
  std::string out = stream.step(ids);
  return out + stream.finish();
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  static const std::string kEmpty;
  const auto& bytes = impl_->id_bytes;
  return id >= 0 && static_cast<size_t>(id) < bytes.size() ? bytes[id] : kEmpty;
}

int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_to_token.size()); }

std::optional<int32_t> Tokenizer::token_to_id(const std::string& token) const {
  auto it = impl_->token_to_id.find(token);
  if (it == impl_->token_to_id.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= vocab_size() || impl_->id_to_token[id].empty()) return std::nullopt;
  return impl_->id_to_token[id];
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[id] != 0;
}

std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }
std::optional<int32_t> Tokenizer::pad_id() const { return impl_->pad; }
const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }
bool Tokenizer::add_bos_token() const { return impl_->add_bos_token; }
bool Tokenizer::joins_with_space() const { return impl_->join_with_space; }

void Tokenizer::save(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  write_file_atomic(dir + "/tokenizer.json", impl_->json_text);
  if (!impl_->config_text.empty()) write_file_atomic(dir + "/tokenizer_config.json", impl_->config_text);
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_(skip_special_tokens) {}

std::string StreamDecoder::step(int32_t id) { return step(std::vector<int32_t>{id}); }

std::string StreamDecoder::step(const std::vector<int32_t>& ids) {
  for (int32_t id : ids) {
    if (id < 0 || id >= tokenizer_.vocab_size() || !tokenizer_.id_to_token(id)) continue;
    if (skip_special_ && tokenizer_.is_special(id)) continue;
    if (tokenizer_.joins_with_space() && !first_) pending_.push_back(' ');
    first_ = false;
    pending_ += tokenizer_.token_bytes(id);
  }
  std::string out;
  size_t used = append_utf8_lossy(pending_, out, /*hold_incomplete_tail=*/true);
  pending_.erase(0, used);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = utf8_lossy(pending_);
  reset();
  return out;
}

void StreamDecoder::reset() {
  pending_.clear();
  first_ = true;
}

}  // namespace zerorl::tokenizer
