// trainer/data.cpp: JSONL rows, the toy addition task and its character tokenizer, the epoch sampler.
// Not here: templates and BPE (tokenizer/).
#include "trainer/data.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/seed.h"

namespace zerorl::trainer {

namespace {
// The value at `key`: the key itself, else a dotted path into nested objects ("reward_model.ground_truth",
// where verl datasets keep the answer); null when absent.
const Json* find_field(const Json& row, const std::string& key) {
  auto it = row.find(key);
  if (it != row.end()) return &*it;
  const Json* cur = &row;
  for (size_t start = 0;;) {
    const size_t dot = key.find('.', start);
    if (!cur->is_object()) return nullptr;
    auto f = cur->find(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (f == cur->end()) return nullptr;
    cur = &*f;
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// `setting` is the data.* key that names `key`, for the hint.
std::string field_text(const Json& row, const std::string& key, const char* setting, const std::string& where,
                       bool required, const std::string& fallback) {
  const Json* v = find_field(row, key);
  if (v == nullptr || v->is_null()) {
    ZRL_CHECK(!required, "{}: key '{}' missing (set data.{} to the right field)", where, key, setting);
    return fallback;
  }
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number()) return v->dump();
  ZRL_FAIL("{}: key '{}' must be a string or number, got {}", where, key, dump_excerpt(*v));
}

Json field_object(const Json& row, const std::string& key, const std::string& where) {
  const Json* v = find_field(row, key);
  if (v == nullptr || v->is_null()) return Json::object();
  ZRL_CHECK(v->is_object(),
            "{}: key '{}' must be a JSON object (set data.extra_key to the right field), got {}", where, key,
            dump_excerpt(*v));
  return *v;
}
}  // namespace

std::vector<Row> load_rows(const std::string& path, const FieldMapping& map) {
  std::vector<Json> lines = read_jsonl(path);
  ZRL_CHECK(!lines.empty(), "dataset '{}' has no rows", path);
  std::vector<Row> rows;
  rows.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = path + ":" + std::to_string(i + 1);
    ZRL_CHECK(lines[i].is_object(), "{}: expected a JSON object per line", where);
    Row r;
    r.prompt = field_text(lines[i], map.prompt_key, "prompt_key", where, true, "");
    r.answer = field_text(lines[i], map.answer_key, "answer_key", where, true, "");
    r.data_source =
        field_text(lines[i], map.data_source_key, "data_source_key", where, false, map.default_data_source);
    r.index = static_cast<int64_t>(i);
    r.extra = field_object(lines[i], map.extra_key, where);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<Row> toy_addition_rows(int64_t count, int64_t max_operand, uint64_t seed) {
  std::mt19937_64 rng(mix_seed({seed, 0x746f79ULL}));
  std::uniform_int_distribution<int64_t> operand(0, max_operand);
  std::vector<Row> rows;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t a = operand(rng), b = operand(rng);
    rows.push_back({std::to_string(a) + "+" + std::to_string(b) + "=", std::to_string(a + b), "toy_addition",
                    i, Json{{"index", i}, {"a", a}, {"b", b}}});
  }
  return rows;
}

std::string toy_tokenizer_json() {
  Json vocab = Json::object();
  const std::string chars = "0123456789+=";
  for (size_t i = 0; i < chars.size(); ++i) vocab[std::string(1, chars[i])] = static_cast<int64_t>(i);
  vocab["\u0120"] = 12;  // byte-level image of ' '
  vocab["<|endoftext|>"] = 13;
  const Json byte_level{
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  const Json tok{{"version", "1.0"},
                 {"truncation", nullptr},
                 {"padding", nullptr},
                 {"added_tokens",
                  {{{"id", 13},
                    {"content", "<|endoftext|>"},
                    {"single_word", false},
                    {"lstrip", false},
                    {"rstrip", false},
                    {"normalized", false},
                    {"special", true}}}},
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
  return tok.dump();
}

std::string toy_tokenizer_config_json() {
  return Json{{"eos_token", "<|endoftext|>"}, {"pad_token", "<|endoftext|>"}, {"add_bos_token", false}}
      .dump();
}

std::vector<uint64_t> draw_keys(const std::vector<int64_t>& row_indices) {
  std::map<int64_t, uint64_t> repeats;
  std::vector<uint64_t> keys;
  keys.reserve(row_indices.size());
  for (const int64_t row : row_indices) {
    ZRL_CHECK(row >= 0, "draw_keys: row index {} < 0", row);
    const uint64_t repeat = repeats[row]++;
    keys.push_back(repeat == 0 ? static_cast<uint64_t>(row)
                               : (uint64_t{1} << 63) | mix_seed({static_cast<uint64_t>(row), repeat}));
  }
  return keys;
}

EpochSampler::EpochSampler(int64_t n, uint64_t seed, bool shuffle) : n_(n), seed_(seed), shuffle_(shuffle) {
  ZRL_CHECK(n > 0, "sampler over an empty dataset");
  build_order();
}

void EpochSampler::build_order() {
  order_.resize(static_cast<size_t>(n_));
  std::iota(order_.begin(), order_.end(), 0);
  if (!shuffle_) return;
  // Fisher-Yates with our own index draw: std::shuffle's algorithm is implementation-defined.
  std::mt19937_64 rng(mix_seed({seed_, static_cast<uint64_t>(epoch_), 0x73616d70ULL}));
  for (int64_t i = n_ - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order_[static_cast<size_t>(i)], order_[static_cast<size_t>(j)]);
  }
}

std::vector<int64_t> EpochSampler::next(int64_t k) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(k));
  while (static_cast<int64_t>(out.size()) < k) {
    if (pos_ == n_) {
      ++epoch_;
      pos_ = 0;
      build_order();
    }
    out.push_back(order_[static_cast<size_t>(pos_++)]);
  }
  return out;
}

Json EpochSampler::state() const {
  return Json{{"n", n_}, {"seed", seed_}, {"shuffle", shuffle_}, {"epoch", epoch_}, {"position", pos_}};
}

void EpochSampler::load_state(const Json& s) {
  ZRL_CHECK(s.at("n").get<int64_t>() == n_, "sampler state is for {} rows, the dataset has {}",
            s.at("n").dump(), n_);
  ZRL_CHECK(s.at("seed").get<uint64_t>() == seed_, "sampler state has seed {}, the run has {}",
            s.at("seed").dump(), seed_);
  shuffle_ = s.at("shuffle").get<bool>();
  epoch_ = s.at("epoch").get<int64_t>();
  pos_ = s.at("position").get<int64_t>();
  ZRL_CHECK(pos_ >= 0 && pos_ <= n_ && epoch_ >= 0, "sampler state out of range: {}", s.dump());
  build_order();
}

}  // namespace zerorl::trainer
