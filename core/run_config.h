// core/run_config.h: the schema of a zerorl run: every YAML key, its type, default, help and check.
// Not here: the mechanism (core/config.h) or what the keys do (trainer/, rollout/, ...).
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace zerorl {

using config::DoubleMap;
using config::StringList;
namespace check = config::check;

#define ZRL_RUN_FIELDS(F)                                                                          \
  F(std::string, output_dir, "runs/default", "Run directory: metrics, checkpoints, samples.",   \
    check::any())                                                                                  \
  F(int64_t, seed, 0, "Seed of every random stream (sampling, data order, init).", check::at_least(0)) \
  F(std::string, device, "auto", "auto, cpu or cuda.", check::one_of({"auto", "cpu", "cuda"}))    \
  F(std::string, log_level, "info", "Console log level: debug, info, warn, error.",              \
    check::one_of({"trace", "debug", "info", "warn", "error", "off"}))
ZRL_CONFIG_STRUCT(RunSection, ZRL_RUN_FIELDS);

#define ZRL_MODEL_FIELDS(F)                                                                       \
  F(std::string, path, "", "Hugging Face checkpoint folder (config.json + safetensors).",         \
    check::any())                                                                                  \
  F(std::string, dtype, "auto", "Compute dtype: auto (bf16 on CUDA, f32 on CPU), float32, bfloat16, float16.", \
    check::one_of({"auto", "float32", "bfloat16", "float16"}))
ZRL_CONFIG_STRUCT(ModelSection, ZRL_MODEL_FIELDS);

#define ZRL_TOKENIZER_FIELDS(F)                                                                   \
  F(std::string, path, "", "Folder with tokenizer.json; empty = the model folder.", check::any()) \
  F(std::string, prompt_template, "r1_zero", "Prompt template: r1_zero, chatml, plain.",           \
    check::one_of({"r1_zero", "chatml", "plain"}))
ZRL_CONFIG_STRUCT(TokenizerSection, ZRL_TOKENIZER_FIELDS);

#define ZRL_DATA_FIELDS(F)                                                                        \
  F(std::string, train_path, "", "Training prompts, JSONL.", check::any())                        \
  F(std::string, eval_path, "", "Held-out prompts, JSONL (empty = no eval).", check::any())      \
  F(std::string, prompt_key, "prompt", "JSONL key holding the question.", check::any())          \
  F(std::string, answer_key, "answer", "JSONL key holding the gold answer.", check::any())       \
  F(std::string, data_source_key, "data_source", "JSONL key selecting the verifier per row.",   \
    check::any())                                                                                  \
  F(std::string, default_data_source, "math", "Verifier for rows without a data source.", check::any())
ZRL_CONFIG_STRUCT(DataSection, ZRL_DATA_FIELDS);

#define ZRL_ROLLOUT_FIELDS(F)                                                                     \
  F(int64_t, prompts_per_step, 32, "Prompts sampled per step (P).", check::at_least(1))          \
  F(int64_t, group_size, 8, "Samples per prompt (G).", check::at_least(1))                       \
  F(double, temperature, 1.0, "Sampling temperature (0 = greedy).", check::non_negative())      \
  F(double, top_p, 1.0, "Nucleus sampling mass (1 = off).", check::range(0.0, 1.0))             \
  F(int64_t, top_k, 0, "Keep the k most likely tokens (0 = off).", check::at_least(0))          \
  F(double, min_p, 0.0, "Drop tokens below min_p * p_max (0 = off).", check::range(0.0, 1.0))   \
  F(int64_t, max_new_tokens, 512, "Longest answer in tokens.", check::at_least(1))              \
  F(StringList, stop, {}, "Stop strings (checked on decoded text).", check::any())
ZRL_CONFIG_STRUCT(RolloutSection, ZRL_ROLLOUT_FIELDS);

#define ZRL_OPTIM_FIELDS(F)                                                                       \
  F(double, lr, 1e-6, "Peak learning rate (AdamW).", check::positive())                          \
  F(double, weight_decay, 0.0, "AdamW decoupled weight decay.", check::non_negative())           \
  F(double, beta1, 0.9, "AdamW beta1.", check::range(0.0, 1.0))                                  \
  F(double, beta2, 0.999, "AdamW beta2.", check::range(0.0, 1.0))                                \
  F(double, eps, 1e-8, "AdamW epsilon.", check::positive())                                      \
  F(int64_t, warmup_steps, 0, "Linear warmup steps.", check::at_least(0))                        \
  F(std::string, schedule, "constant", "After warmup: constant or cosine.",                      \
    check::one_of({"constant", "cosine"}))                                                         \
  F(double, grad_clip, 1.0, "Clip the global gradient norm to this (0 = off).", check::non_negative())
ZRL_CONFIG_STRUCT(OptimSection, ZRL_OPTIM_FIELDS);

#define ZRL_TRAINER_FIELDS(F)                                                                     \
  F(int64_t, steps, 100, "RL steps to run.", check::at_least(0))                                 \
  F(int64_t, save_every, 50, "Checkpoint every N steps (0 = only at the end).", check::at_least(0)) \
  F(int64_t, keep_last, 3, "Keep the newest N checkpoints.", check::at_least(1))                  \
  F(int64_t, eval_every, 0, "Evaluate every N steps (0 = before and after only).", check::at_least(0))
ZRL_CONFIG_STRUCT(TrainerSection, ZRL_TRAINER_FIELDS);

#define ZRL_CONFIG_FIELDS(F)                                                                      \
  F(RunSection, run, {}, "Where the run writes and how it is seeded.", check::any())              \
  F(ModelSection, model, {}, "The policy model.", check::any())                                   \
  F(TokenizerSection, tokenizer, {}, "Tokenizer and prompt template.", check::any())              \
  F(DataSection, data, {}, "Datasets and their field mapping.", check::any())                     \
  F(RolloutSection, rollout, {}, "Sampling of G answers per prompt.", check::any())               \
  F(OptimSection, optim, {}, "Optimizer and learning-rate schedule.", check::any())               \
  F(TrainerSection, trainer, {}, "Step budget, checkpoints and evaluation cadence.", check::any())
ZRL_CONFIG_STRUCT(Config, ZRL_CONFIG_FIELDS);

// Loads FILE (empty = defaults only), applies --set overrides, validates. Throws naming file/key/value.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace zerorl
