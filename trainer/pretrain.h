// trainer/pretrain.h: `zerorl pretrain`: next-token training of a from-scratch Qwen2-shaped model (model/)
// with the byte-level tokenizer on a JSONL corpus. Not here: the RL loop (step.h), the corpus generators
// (tasks/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/pretrain_config.h"

namespace zerorl::trainer {

// Documents -> one token stream (each document's byte-level ids followed by EOS) cut into windows of
// seq_len + 1 tokens (input = [0, seq_len), target = [1, seq_len]). A trailing partial window is dropped.
std::vector<std::vector<int64_t>> pack_documents(const std::vector<std::vector<int32_t>>& docs, int32_t eos,
                                                 int64_t seq_len);

struct PretrainResult {
  int64_t steps = 0;
  double first_loss = 0, final_loss = 0;  // mean loss over the first / last log_every steps
  double seconds = 0, tokens_per_s = 0;
  std::string model_dir;  // <output_dir>/model: config.json, model.safetensors, tokenizer files
};

// Trains on p.corpus_path and writes <output_dir>/metrics.jsonl ({"step","loss","lr","grad_norm",
// "tokens_per_s"} every log_every steps), checkpoints/step_<N>/ every save_every steps and the final model
// to <output_dir>/model. Deterministic on CPU for a fixed seed and thread count. device: run.device's value
// (model::resolve_device: cuda without CUDA is an error).
PretrainResult pretrain(const PretrainSection& p, const std::string& output_dir, uint64_t seed,
                        const std::string& device);

// CLI adapter for `zerorl pretrain`: runs pretrain, prints a JSON summary line, returns the exit code.
int run_pretrain(const PretrainSection& p, const std::string& output_dir, int64_t seed,
                 const std::string& device);

}  // namespace zerorl::trainer
