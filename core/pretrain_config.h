// core/pretrain_config.h: the `pretrain:` section of a run config (zerorl pretrain: next-token training of a
// from-scratch Qwen2-shaped model on a JSONL corpus). Not here: the training itself (trainer/pretrain.h).
#pragma once

#include <string>

#include "core/config.h"

namespace zerorl {

#define ZRL_PRETRAIN_FIELDS(F)                                                                            \
  F(std::string, corpus_path, "", "Corpus JSONL, one document per line.", config::check::any())           \
  F(std::string, text_key, "text", "JSONL key holding a document's text.", config::check::any())          \
  F(int64_t, seq_len, 256, "Tokens per training window (documents packed, EOS between).",                 \
    config::check::at_least(8))                                                                           \
  F(int64_t, batch_size, 32, "Windows per optimizer step.", config::check::at_least(1))                   \
  F(int64_t, steps, 1000, "Optimizer steps.", config::check::at_least(0))                                 \
  F(double, lr, 1e-3, "Peak learning rate (AdamW).", config::check::positive())                           \
  F(double, min_lr_ratio, 0.1, "Cosine decay ends at lr * this.", config::check::range(0.0, 1.0))         \
  F(int64_t, warmup_steps, 50, "Linear warmup steps.", config::check::at_least(0))                        \
  F(double, weight_decay, 0.1, "AdamW decoupled weight decay.", config::check::non_negative())            \
  F(double, grad_clip, 1.0, "Global gradient-norm clip (0 = off).", config::check::non_negative())        \
  F(int64_t, hidden_size, 128, "Model hidden size.", config::check::at_least(8))                          \
  F(int64_t, layers, 4, "Decoder layers.", config::check::at_least(1))                                    \
  F(int64_t, heads, 4, "Attention heads (hidden_size / heads must be even).", config::check::at_least(1)) \
  F(int64_t, kv_heads, 2, "Key/value heads (divides heads).", config::check::at_least(1))                 \
  F(int64_t, intermediate_size, 512, "MLP width.", config::check::at_least(8))                            \
  F(int64_t, max_position_embeddings, 1024, "Longest sequence the model is built for.",                   \
    config::check::at_least(8))                                                                           \
  F(int64_t, log_every, 10, "Write a metrics line every N steps.", config::check::at_least(1))            \
  F(int64_t, save_every, 0, "Checkpoint every N steps (0 = only the final model).",                       \
    config::check::at_least(0))                                                                           \
  F(int64_t, threads, 0, "CPU threads for torch (0 = torch's default).", config::check::at_least(0))
ZRL_CONFIG_STRUCT(PretrainSection, ZRL_PRETRAIN_FIELDS);

}  // namespace zerorl
