// core/sample_config.h: the `sample:` section of a run config (zerorl sample: rejection sampling into SFT
// JSONL). Not here: the sampling itself (trainer/sample.h) or the filters' code (trainer/sample_filter.h).
#pragma once

#include <string>

#include "core/config.h"

namespace zerorl {

#define ZRL_SAMPLE_FIELDS(F)                                                                            \
  F(int64_t, k, 4, "Answers generated per prompt.", config::check::at_least(1))                         \
  F(double, temperature, 1.0, "Sampling temperature (0 = greedy, then k should be 1).",                 \
    config::check::non_negative())                                                                      \
  F(int64_t, max_new_tokens, 0, "Answer length limit (0 = rollout.max_new_tokens).",                    \
    config::check::at_least(0))                                                                         \
  F(int64_t, max_prompts, 0, "Sample the first N prompts of data.train_path (0 = all).",                \
    config::check::at_least(0))                                                                         \
  F(int64_t, chunk_prompts, 32, "Prompts per generation call; a finished chunk is the unit of resume.", \
    config::check::at_least(1))                                                                         \
  F(bool, require_format, true, "Drop answers that fail rewards.format_rule.", config::check::any())    \
  F(int64_t, max_response_tokens, 0, "Drop answers longer than this many tokens (0 = no limit).",       \
    config::check::at_least(0))                                                                         \
  F(double, min_language, 0.0,                                                                          \
    "Drop answers whose language consistency (rewards.language) is below this (0 = off).",              \
    config::check::range(0.0, 1.0))                                                                     \
  F(int64_t, ngram, 4, "Word n-gram size of the repetition filter.", config::check::at_least(1))        \
  F(int64_t, max_ngram_repeats, 0,                                                                      \
    "Drop answers in which one word n-gram occurs more than this many times (0 = off).",                \
    config::check::at_least(0))                                                                         \
  F(std::string, select, "all",                                                                         \
    "Per prompt, of the distinct kept answers: all, shortest (one), or random (per_prompt of them).",   \
    config::check::one_of({"all", "shortest", "random"}))                                               \
  F(int64_t, per_prompt, 1, "Answers kept per prompt with select: random.", config::check::at_least(1)) \
  F(std::string, output, "", "SFT JSONL to write (empty = <output_dir>/sample/sft.jsonl).",             \
    config::check::any())
ZRL_CONFIG_STRUCT(SampleSection, ZRL_SAMPLE_FIELDS);

}  // namespace zerorl
