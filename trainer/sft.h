// trainer/sft.h: `zerorl sft`: supervised fine-tuning on {prompt, response} or chat {messages} JSONL under
// the RL prompt template, loss on response tokens only, samples packed into rows without attention across
// them, with train's optimizer (optim.*), schedule, checkpoints and exact resume, metrics/TensorBoard and
// eval (trainer.*). Not here: the attention mask of packed rows (model/decoder.h forward_packed), the RL
// loop.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/run_config.h"
#include "model/decoder.h"
#include "tokenizer/tokenizer.h"

namespace zerorl::trainer {

// One example: ids = template(prompt) tokens, then the response's tokens and EOS. The loss covers the
// predictions of ids[prompt_len..] (the response and its EOS) only.
struct SftSample {
  std::vector<int64_t> ids;
  int64_t prompt_len = 0;
};

// Reads sft.train_path: rows with sft.prompt_key + sft.response_key, or sft.messages_key (one user turn,
// then one assistant turn). The prompt goes through tokenizer.prompt_template like an RL prompt. Bad rows
// throw naming path:line and the key. Samples longer than sft.seq_len are dropped with a warning (count).
std::vector<SftSample> load_sft_samples(const Config& cfg, const tokenizer::Tokenizer& tok);

// Next-fit packing in order: sample indices per row, each row's total length <= seq_len. pack = false: one
// sample per row.
std::vector<std::vector<size_t>> pack_samples(const std::vector<SftSample>& samples, int64_t seq_len,
                                              bool pack);

// Rows of samples -> tensors padded to the longest row: ids [B,T] (pad = pad_id), segments [B,T] (sample
// number within its row, -1 = padding), labels [B,T] (the next token where it is a response token of the
// same sample, else -100). label_tokens = count of labels != -100.
struct SftBatch {
  torch::Tensor ids, segments, labels;
  int64_t label_tokens = 0;
};
SftBatch make_sft_batch(const std::vector<SftSample>& samples, const std::vector<std::vector<size_t>>& rows,
                        int64_t pad_id);

// Sum of cross-entropy over the labelled positions / label_tokens (a token mean over the whole batch, so
// packed and unpacked layouts of the same samples give the same loss and gradient).
torch::Tensor sft_loss(model::CausalLM& lm, const SftBatch& batch);

// Trains trainer.steps steps into run.output_dir (checkpoints/step_<N>/ in the Hugging Face layout,
// metrics.jsonl, tb/, eval/step_<N>.json when trainer.eval_every > 0 and data.eval_path is set), prints a
// JSON summary. resume: "auto" (newest valid checkpoint), a checkpoint folder, or "" (fresh: refuses a
// folder that has checkpoints).
int run_sft(const Config& cfg, const std::string& resume);

}  // namespace zerorl::trainer
