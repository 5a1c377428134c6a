// trainer/components.h: the subsystems a run is built from, made from the Config: tokenizer (a folder, or the
// toy task's), policy model (a Hugging Face folder, or a tiny random Qwen2), dataset rows, and the scorer
// (verifier per data_source on a deadline pool -> rewards). Not here: the loop (step.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/run_config.h"
#include "model/decoder.h"
#include "rewards/reward.h"
#include "tokenizer/tokenizer.h"
#include "trainer/data.h"
#include "verifiers/pool.h"
#include "verifiers/registry.h"

namespace zerorl::trainer {

// tokenizer.path, else model.path, else the toy tokenizer (data.train_path must then be empty).
tokenizer::Tokenizer build_tokenizer(const Config& cfg);

// model.dtype; auto = bfloat16 on CUDA, float32 on CPU (float16 needs CUDA). Below float32 the trainer keeps
// fp32 master weights (trainer/mixed_precision.h).
torch::Dtype model_dtype(const Config& cfg, torch::Device device);

// model.path loaded, else a tiny random Qwen2 (model.tiny_*) over the tokenizer's vocabulary, weights from
// mix_seed(run.seed, "init").
model::CausalLM build_model(const Config& cfg, const tokenizer::Tokenizer& tok, torch::Device device);

// A deep copy in the same dtype/device (the reference policy).
model::CausalLM clone_model(model::CausalLM& src);
// dst's parameters := src's, in place (shapes must match): resume and reference resets.
void copy_parameters(model::CausalLM& dst, model::CausalLM& src);

// data.train_path (JSONL with the field mapping), else the toy task.
std::vector<Row> build_rows(const Config& cfg);
// The data.*_key settings (train and eval files share them).
FieldMapping field_mapping(const DataSection& data);

// Template applied to the row's question (the toy task: none), then Tokenizer::encode_prompt: the special
// tokens the tokenizer's post-processor adds to a single sequence (Llama 3's <|begin_of_text|>), once.
std::vector<int64_t> encode_prompt(const Config& cfg, const tokenizer::Tokenizer& tok, const Row& row);

// The "code" verifier's options (verifiers::Registry) from the sandbox section: timeout_s, memory_mb,
// slots (= sandbox.workers), insecure_allow, reward.
Json code_verifier_options(const SandboxSection& sandbox);

// The rows whose encoded prompt (template applied) has at most tokenizer.max_prompt_tokens tokens, in order
// (Row::index unchanged). Logs "dropped N of M rows of FILE longer than K tokens" (a warning) when any are
// dropped; every row dropped is an error naming `file` and the key. `file` names the data in messages.
std::vector<Row> drop_long_prompts(const Config& cfg, const tokenizer::Tokenizer& tok, std::vector<Row> rows,
                                   const std::string& file);

// Verifies answers on a VerifierPool and turns verdicts into rewards (rewards/). Every answer gets its
// data_source's accuracy verdict and a format verdict (rewards.format_rule; the toy task's "toy_format"),
// the latter even when rewards.format_weight is 0, so format_rate is always measured.
class Scorer {
 public:
  explicit Scorer(const Config& cfg);
  ~Scorer();
  struct Item {
    const Row* row;
    std::string response;  // decoded, special tokens skipped
    int64_t tokens = 0;    // response length in tokens (EOS included)
    bool finished = true;  // false when cut at max_new_tokens
  };
  // Per item, in order: both verdicts and the reward made from them (with its hack signs, rewards/hack_signs.h,
  // and rewards.hack_penalty.* applied). Each verifier runs once per item.
  struct Scored {
    std::vector<verifiers::Verdict> accuracy, format;
    std::vector<rewards::Reward> rewards;
  };
  Scored score_all(const std::vector<Item>& items);
  std::vector<rewards::Reward> score(const std::vector<Item>& items);  // score_all(items).rewards
  // What a verifier sees: the row's prompt, answer and `extra` object, with two fields set by the trainer
  // (overwriting same-named row fields): "finished" (false when cut at max_new_tokens) and "data_source"
  // (the row's; verl's compute_score argument, read by scripts/verl_bridge.py).
  static verifiers::Sample sample_of(const Item& item);

 private:
  std::shared_ptr<const verifiers::Verifier> verifier_for_source(const std::string& source);
  verifiers::Registry registry_;
  Json code_options_;  // the "code" verifier's options, from the sandbox section
  rewards::RewardOptions options_;
  std::unique_ptr<verifiers::VerifierPool> pool_;
  std::map<std::string, std::shared_ptr<const verifiers::Verifier>> by_name_;
  std::shared_ptr<const verifiers::Verifier> format_;
  bool toy_ = false;
};

}  // namespace zerorl::trainer
