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
  std::string prompt;           // the question, before any template
  std::string answer;           // gold answer as text
  std::string data_source;      // selects the verifier
  int64_t index = 0;            // position in the file (stable id for samples and eval)
  Json extra = Json::object();  // the row's verifier fields (countdown numbers, code tests, verl extra_info)
};

struct FieldMapping {
  std::string prompt_key = "prompt", answer_key = "answer", data_source_key = "data_source";
  std::string default_data_source = "math";
  std::string extra_key = "extra";  // a JSON object per row (verl datasets: "extra_info"); may be absent
};

// Reads every line; a missing or non-string/number prompt or answer throws naming path:line and key, and
// so does an `extra_key` value that is not a JSON object (null or absent = {}). A key that is not in the
// row may be a dotted path into nested objects: "reward_model.ground_truth" (verl's layout).
std::vector<Row> load_rows(const std::string& path, const FieldMapping& map);

// Toy addition: "a+b=" with answer "a+b", operands 0..max_operand, rows drawn from `seed`; extra holds
// {"index", "a", "b"} (what a verl preprocessing script keeps in extra_info).
std::vector<Row> toy_addition_rows(int64_t count, int64_t max_operand, uint64_t seed);

// The toy task's tokenizer as Hugging Face files: a byte-level BPE over the task alphabet only (ids 0..9
// digits, 10 '+', 11 '=', 12 ' ' (as the byte-level 'Ġ'), 13 <|endoftext|> = eos = pad), no merges. A random
// model over 14 tokens finds digits-then-EOS often enough for RL to get a signal in a few steps; the
// 264-token byte-level vocabulary would not. Loadable by tokenizer::Tokenizer::from_json and by HF
// tokenizers.
std::string toy_tokenizer_json();
std::string toy_tokenizer_config_json();

// Random-stream key of each prompt draw of one rollout call (rollout::GenerateConfig::prompt_keys), given the
// drawn rows' indices in draw order. A row's first draw is keyed by its index (its samples do not depend on
// the draws around it); a repeated draw of the same row (an epoch boundary inside a step) by
// mix_seed(index, repeat) with bit 63 set, which no row index has: every draw gets its own samples.
std::vector<uint64_t> draw_keys(const std::vector<int64_t>& row_indices);

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
