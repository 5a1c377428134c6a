// core/sft_config.h: the `sft:` section of a run config (zerorl sft: supervised fine-tuning on
// prompt/response JSONL). The optimizer, schedule, steps, checkpoints, metrics and eval come from optim: and
// trainer:, as in zerorl train. Not here: the training (trainer/sft.h).
#pragma once

#include <string>

#include "core/config.h"

namespace zerorl {

#define ZRL_SFT_FIELDS(F)                                                                                  \
  F(std::string, train_path, "",                                                                           \
    "SFT JSONL: {prompt, response} rows (zerorl sample writes them) or chat {messages}.",                  \
    config::check::any())                                                                                  \
  F(std::string, prompt_key, "prompt", "Key of the question (the prompt template is applied to it).",      \
    config::check::any())                                                                                  \
  F(std::string, response_key, "response", "Key of the answer: the only tokens the loss covers.",          \
    config::check::any())                                                                                  \
  F(std::string, messages_key, "messages",                                                                 \
    "Key of chat rows: [{role: user, content}, {role: assistant, content}] (one turn).",                   \
    config::check::any())                                                                                  \
  F(int64_t, seq_len, 512, "Tokens per packed row; longer samples are dropped (counted).",                 \
    config::check::at_least(8))                                                                            \
  F(int64_t, batch_rows, 8, "Rows per optimizer step.", config::check::at_least(1))                        \
  F(int64_t, max_samples, 0,                                                                               \
    "Train on the first N samples of train_path (0 = all), e.g. an R1-style cold start on a few hundred.", \
    config::check::at_least(0))                                                                            \
  F(bool, pack, true,                                                                                      \
    "Pack several samples per row (attention cannot cross samples); false: one sample per row, padded.",   \
    config::check::any())
ZRL_CONFIG_STRUCT(SftSection, ZRL_SFT_FIELDS);

}  // namespace zerorl
