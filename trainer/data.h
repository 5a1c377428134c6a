// trainer/data.h: training rows (JSONL with a field mapping, or the built-in toy task), the character
// tokenizer of the toy task, and the seeded epoch sampler whose position is checkpointed.
// Not here: prompt templates and BPE (tokenizer/), verification (verifiers/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json_io.h"

namespace zerorl::trainer {

struct Row {
  std::string prompt;       // the question, before any template
  std::string answer;       // gold answer as text
  std::string data_source;  // selects the verifier
  int64_t index = 0;        // position in the file (stable id for samples and eval)
};

struct FieldMapping {
  std::string prompt_key = "prompt", answer_key = "answer", data_source_key = "data_source";
  std::string default_data_source = "math";
};

// Reads every line; a missing or non-string/number prompt or answer throws naming path:line and key.
std::vector<Row> load_rows(const std::string& path, const FieldMapping& map);

// Toy addition: "a+b=" with answer "a+b", operands 0..max_operand, rows drawn from `seed`.
std::vector<Row> toy_addition_rows(int64_t count, int64_t max_operand, uint64_t seed);

// Character tokenizer of the toy task: ids 0..9 digits, 10 '+', 11 '=', 12 ' ', 13 EOS (also padding).
// A stopgap until tokenizer/ lands (a BPE tokenizer.json is used when model.path is set).
struct ToyTokenizer {
  static constexpr int64_t kEos = 13;
  static constexpr int64_t kVocab = 16;                        // padded to a multiple of 8
  std::vector<int64_t> encode(const std::string& text) const;  // throws on a character outside the alphabet
  std::string decode(const std::vector<int64_t>& ids) const;   // stops at EOS; unknown ids print '?'
};

// Epoch sampler: a permutation of [0, n) per epoch from mix_seed(seed, epoch); next(k) hands out k indices,
// crossing epoch boundaries. Its whole state is (epoch, position): checkpointed as JSON.
class EpochSampler {
 public:
  EpochSampler(int64_t n, uint64_t seed, bool shuffle = true);
  std::vector<int64_t> next(int64_t k);
  Json state() const;
  void load_state(const Json& state);  // throws when the state is for another dataset size or seed
  int64_t epoch() const { return epoch_; }
  int64_t position() const { return pos_; }

 private:
  void build_order();
  int64_t n_;
  uint64_t seed_;
  bool shuffle_;
  int64_t epoch_ = 0, pos_ = 0;
  std::vector<int64_t> order_;
};

}  // namespace zerorl::trainer
