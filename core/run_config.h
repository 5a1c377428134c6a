// core/run_config.h: the schema of a zerorl run: every YAML key, its type, default, help and check.
// Not here: the mechanism (core/config.h) or what the keys do (trainer/, rollout/, ...).
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/pretrain_config.h"
#include "core/sample_config.h"
#include "core/sft_config.h"
#include "core/verifier_config.h"

namespace zerorl {

using config::DoubleMap;
using config::StringList;
namespace check = config::check;

namespace config::check {
// tokenizer.prompt_template: a built-in name (r1_zero, chatml, plain) or a template string holding
// "{prompt}" exactly once (the built-in names are tokenizer/template.h's).
std::function<std::string(const std::string&)> prompt_template();
// run.device: auto, cpu, cuda or cuda:N (N a device index). Whether the device exists is checked when
// the run starts (model/device.h), since a config may be written on one machine and run on another.
std::function<std::string(const std::string&)> device();
}  // namespace config::check

#define ZRL_RUN_FIELDS(F)                                                                                    \
  F(std::string, output_dir, "runs/default", "Run directory: metrics, checkpoints, samples.", check::any())  \
  F(int64_t, seed, 0, "Seed of every random stream (sampling, data order, init).", check::at_least(0))       \
  F(std::string, device, "auto",                                                                             \
    "auto (CUDA device 0 when there is one, else CPU), cpu, cuda or cuda:N; cuda without CUDA is an error.", \
    check::device())                                                                                         \
  F(std::string, log_level, "info", "Console log level: debug, info, warn, error.",                          \
    check::one_of({"trace", "debug", "info", "warn", "error", "off"}))
ZRL_CONFIG_STRUCT(RunSection, ZRL_RUN_FIELDS);

#define ZRL_MODEL_FIELDS(F)                                                                              \
  F(std::string, path, "", "Hugging Face checkpoint folder (config.json + safetensors).", check::any())  \
  F(std::string, dtype, "auto",                                                                          \
    "Compute dtype: auto (bf16 on CUDA, f32 on CPU), float32, bfloat16, float16; below float32 AdamW "   \
    "updates fp32 master weights.",                                                                      \
    check::one_of({"auto", "float32", "bfloat16", "float16"}))                                           \
  F(int64_t, tiny_hidden_size, 64, "path empty: hidden size of the tiny random Qwen2-shaped model.",     \
    check::at_least(8))                                                                                  \
  F(int64_t, tiny_layers, 2, "path empty: decoder layers of the tiny random model.", check::at_least(1)) \
  F(int64_t, tiny_heads, 4, "path empty: attention heads of the tiny random model (2 KV heads).",        \
    check::at_least(2))                                                                                  \
  F(bool, gradient_checkpointing, false,                                                                 \
    "Recompute each layer's activations in backward (memory); the memory plan turns it on when needed.", \
    check::any())
ZRL_CONFIG_STRUCT(ModelSection, ZRL_MODEL_FIELDS);

#define ZRL_TOKENIZER_FIELDS(F)                                                                           \
  F(std::string, path, "", "Folder with tokenizer.json; empty = the model folder.", check::any())         \
  F(std::string, prompt_template, "r1_zero",                                                              \
    "Prompt template: r1_zero, chatml, plain, or a string with {prompt} exactly once where the question " \
    "goes (quote it in YAML: \"Q: {prompt} A:\"). Special tokens that the tokenizer's post-processor "    \
    "adds (Llama 3's BOS) come first, once.",                                                             \
    check::prompt_template())                                                                             \
  F(int64_t, max_prompt_tokens, 1024,                                                                     \
    "Prompts longer than this (template and special tokens applied) are dropped from train and eval "     \
    "data at load, with a count per file; it bounds the rollout memory plan.",                            \
    check::at_least(1))
ZRL_CONFIG_STRUCT(TokenizerSection, ZRL_TOKENIZER_FIELDS);

#define ZRL_DATA_FIELDS(F)                                                                                   \
  F(std::string, train_path, "", "Training prompts, JSONL (empty = the built-in toy task below).",           \
    check::any())                                                                                            \
  F(std::string, toy_task, "addition", "Built-in task when train_path is empty: addition (a+b=).",           \
    check::one_of({"addition"}))                                                                             \
  F(int64_t, toy_size, 256, "Rows of the built-in toy task.", check::at_least(1))                            \
  F(int64_t, toy_max_operand, 4, "Toy addition operands are 0..this.", check::at_least(1))                   \
  F(std::string, eval_path, "", "Held-out prompts, JSONL (empty = no eval).", check::any())                  \
  F(std::string, prompt_key, "prompt",                                                                       \
    "JSONL key holding the question; a dotted path reaches nested fields (a.b).", check::any())              \
  F(std::string, answer_key, "answer",                                                                       \
    "JSONL key holding the gold answer (verl datasets: reward_model.ground_truth).", check::any())           \
  F(std::string, data_source_key, "data_source", "JSONL key selecting the verifier per row.", check::any())  \
  F(std::string, default_data_source, "math", "Verifier for rows without a data source.", check::any())      \
  F(std::string, extra_key, "extra",                                                                         \
    "JSONL key holding a JSON object of per-row verifier fields (verl datasets: extra_info).", check::any()) \
  F(bool, shuffle, true, "Reshuffle every epoch from (run.seed, epoch).", check::any())
ZRL_CONFIG_STRUCT(DataSection, ZRL_DATA_FIELDS);

#define ZRL_ROLLOUT_FIELDS(F)                                                                                \
  F(int64_t, prompts_per_step, 32, "Prompts sampled per step (P).", check::at_least(1))                      \
  F(int64_t, group_size, 8, "Samples per prompt (G).", check::at_least(1))                                   \
  F(double, temperature, 1.0, "Sampling temperature (0 = greedy).", check::non_negative())                   \
  F(double, top_p, 1.0, "Nucleus sampling mass (1 = off).", check::range(0.0, 1.0))                          \
  F(int64_t, top_k, 0, "Keep the k most likely tokens (0 = off).", check::at_least(0))                       \
  F(double, min_p, 0.0, "Drop tokens below min_p * p_max (0 = off).", check::range(0.0, 1.0))                \
  F(int64_t, max_new_tokens, 512, "Longest answer in tokens.", check::at_least(1))                           \
  F(StringList, stop, {}, "Stop strings (checked on decoded text).", check::any())                           \
  F(double, kv_cache_fraction, 0.3,                                                                          \
    "KV cache budget as a share of the device's free memory, measured once the model is loaded (like "       \
    "vLLM's gpu_memory_utilization, for the cache alone; on CPU: of available RAM). The engine keeps it "    \
    "allocated across the update; trainer.memory_check counts it. Sequences beyond it queue for a slot.",    \
    [](const double& x) { return x > 0 && x <= 1 ? std::string() : std::string("must be in (0, 1]"); })      \
  F(double, kv_cache_gb, 0.0,                                                                                \
    "Explicit KV cache budget in GiB, replacing kv_cache_fraction (0 = use the fraction).",                  \
    check::non_negative())                                                                                   \
  F(int64_t, max_total_tokens, 0,                                                                            \
    "KV cache budget in cached tokens over all sequences (SGLang's max_total_tokens; 0 = off); applies "     \
    "with the byte budget, the smaller wins.",                                                               \
    check::at_least(0))                                                                                      \
  F(int64_t, max_num_seqs, 0, "Sequences decoded at once at most (vLLM's max_num_seqs; 0 = what fits).",     \
    check::at_least(0))                                                                                      \
  F(int64_t, max_num_batched_tokens, 65536,                                                                  \
    "Padded prompt tokens per prefill forward (vLLM's max_num_batched_tokens; one prompt at least).",        \
    check::at_least(1))                                                                                      \
  F(bool, batch_invariant, true,                                                                             \
    "bf16 on CUDA: GEMMs without split-K, so the engine's log-probs equal the trainer's forward to fp32 "    \
    "rounding (rollout costs 4% at 256 sequences per step, ~35% at 64-128). Off also lets the update's "     \
    "attention run the causal flash kernel (1.055x update tokens/s on an H100, model/decoder.h).",           \
    check::any())                                                                                            \
  F(bool, dynamic_sampling, false, "DAPO: drop groups whose rewards are all equal, resample to refill.",     \
    check::any())                                                                                            \
  F(int64_t, max_resample_rounds, 3, "DAPO dynamic sampling: extra rollout rounds per step at most.",        \
    check::at_least(0))                                                                                      \
  F(std::string, mode, "colocated",                                                                          \
    "Where answers are generated: colocated (the trainer's own engine) or workers (`zerorl "                 \
    "rollout-worker` processes that register with the trainer's coordinator; README, \"Rollout workers\"). " \
    "Placement does not change the samples: every stream is keyed by (seed, step, prompt, sample); the "     \
    "weights are bit-identical with algo.old_logprobs: recompute (the engine's log-probs round with its "    \
    "batch).",                                                                                               \
    check::one_of({"colocated", "workers"}))                                                                 \
  F(std::string, listen, "127.0.0.1:0",                                                                      \
    "workers mode: host:port the coordinator listens on (port 0 = any free port; the bound one is "          \
    "logged as \"rollout coordinator: listening on HOST:PORT\"). Loopback by default.",                      \
    check::any())                                                                                            \
  F(std::string, auth_token_file, "",                                                                        \
    "workers mode: file holding the shared secret every worker must present (trainer and workers read "      \
    "the same file; required in workers mode).",                                                             \
    check::any())                                                                                            \
  F(int64_t, workers, 1, "workers mode: workers to wait for before the first step.", check::at_least(1))     \
  F(double, worker_wait_s, 600.0,                                                                            \
    "workers mode: how long the trainer waits for workers (at start, or when every worker is gone) "         \
    "before it exits with a message naming the coordinator's address; also how long a starting worker "      \
    "retries connecting to a trainer that does not listen yet (an MPMD mpirun, a Slurm hetjob).",            \
    check::positive())                                                                                       \
  F(double, heartbeat_s, 5.0,                                                                                \
    "workers mode: each worker sends a heartbeat this often (the coordinator announces it at "               \
    "registration); a worker silent for 3.5 periods (hung, SIGSTOPped, host gone) is dropped and its "       \
    "groups re-queued. 0 = no liveness check.",                                                              \
    check::non_negative())                                                                                   \
  F(double, weight_bucket_mb, 256.0,                                                                         \
    "workers mode: weights go to each worker in buckets of this many MiB (model dtype), one frame each, "    \
    "versioned by the step that produced them.",                                                             \
    check::positive())                                                                                       \
  F(int64_t, max_staleness, 0,                                                                               \
    "workers mode: K = 0 is synchronous (each step's answers come from its own weights). K >= 1 is "         \
    "K-step-off: step s's groups go to the workers during step s - K, with the weights of that moment, "     \
    "and are generated while the trainer updates; every answer is then exactly min(K, s - 1) versions "      \
    "old (metric rollout/staleness). Pair with algo.off_policy_correction: tis. K >= 2 excludes "            \
    "rollout.dynamic_sampling.",                                                                             \
    check::at_least(0))
ZRL_CONFIG_STRUCT(RolloutSection, ZRL_ROLLOUT_FIELDS);

#define ZRL_ALGO_FIELDS(F)                                                                                   \
  F(std::string, advantage, "grpo", "grpo: (r-mean)/(std+eps); dr_grpo: r-mean; rloo: leave-one-out.",       \
    check::one_of({"grpo", "dr_grpo", "rloo"}))                                                              \
  F(bool, whiten_batch, false, "Whiten advantages over the whole batch after the group step.", check::any()) \
  F(double, clip_low, 0.2, "PPO ratio clip below: 1 - clip_low.", check::non_negative())                     \
  F(double, clip_high, 0.2, "PPO ratio clip above: 1 + clip_high (DAPO clip-higher: 0.28).",                 \
    check::non_negative())                                                                                   \
  F(double, dual_clip_c, 0.0, "Dual-clip bound c > 1 for negative advantages (0 = off).",                    \
    check::non_negative())                                                                                   \
  F(double, kl_coef, 0.0, "KL-to-reference coefficient (0 = no reference model loaded).",                    \
    check::non_negative())                                                                                   \
  F(std::string, kl_estimator, "k3", "KL estimator: k1, k2, k3 (Schulman 2020).",                            \
    check::one_of({"k1", "k2", "k3"}))                                                                       \
  F(std::string, kl_in, "loss", "Where KL goes: loss (DeepSeekMath/R1) or reward.",                          \
    check::one_of({"loss", "reward"}))                                                                       \
  F(int64_t, ref_reset_every, 0, "Copy the policy into the reference every N steps (0 = never).",            \
    check::at_least(0))                                                                                      \
  F(double, entropy_coef, 0.0, "Entropy bonus coefficient.", check::non_negative())                          \
  F(std::string, loss_agg, "seq_mean_token_mean",                                                            \
    "token_mean (DAPO), seq_mean_token_mean (GRPO), seq_mean_token_sum_norm (Dr. GRPO).",                    \
    check::one_of({"token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"}))                         \
  F(int64_t, minibatches, 1, "Optimizer steps per rollout batch (minibatch updates).", check::at_least(1))   \
  F(int64_t, epochs, 1, "Passes over the rollout batch.", check::at_least(1))                                \
  F(int64_t, micro_batch_tokens, 16384, "Token budget of one forward/backward micro-batch.",                 \
    check::at_least(1))                                                                                      \
  F(bool, pack_sequences, false,                                                                             \
    "Pack the sequences (prompt + response) of each micro-batch into rows as wide as the batch's longest "   \
    "sequence (first-fit decreasing), each attending only within itself, instead of one padded row each; "   \
    "a micro-batch takes as many answers as pack into algo.micro_batch_tokens. Same loss and gradients as "  \
    "unpacked, to float rounding; fewer rows when lengths vary. "                                            \
    "Off by default: no gain on the CPU demo, whose rows are mostly prompt (bench/results/pack_cpu.json).",  \
    check::any())                                                                                            \
  F(std::string, overlong, "none", "Truncated answers: none, mask (no loss), soft (DAPO penalty).",          \
    check::one_of({"none", "mask", "soft"}))                                                                 \
  F(int64_t, overlong_buffer, 0, "DAPO soft penalty ramps over the last N tokens before the limit.",         \
    check::at_least(0))                                                                                      \
  F(double, overlong_penalty, 1.0, "DAPO soft penalty at the limit (subtracted from the reward).",           \
    check::non_negative())                                                                                   \
  F(std::string, old_logprobs, "auto",                                                                       \
    "Importance-ratio denominator pi_old: rollout (the engine's log-probs, no extra forward), "              \
    "recompute (a no-grad forward of the trainer before the update), current (the update's own "             \
    "forward, detached, as verl does on-policy: exact and free when algo.minibatches = algo.epochs = "       \
    "1; refused with more optimizer steps, kl_in: reward or off_policy_correction: mask) or auto: "          \
    "rollout where the engine's log-probs are the trainer's (temperature 1, no top_k/top_p/min_p, no "       \
    "off-policy correction, and float32, or bf16 on CUDA with rollout.batch_invariant), else current "       \
    "where it is exact, else recompute: a tempered or filtered sampler, or bf16 GEMMs that round "           \
    "differently in decode and in the trainer, would make the ratio start away from 1. The choice and "      \
    "why are logged at start.",                                                                              \
    check::one_of({"auto", "recompute", "rollout", "current"}))                                              \
  F(std::string, off_policy_correction, "none",                                                              \
    "Correct for answers sampled by a policy mu (the engine) other than the old policy pi_old (the "         \
    "trainer's recompute), per token, r = pi_old / mu: none; tis (truncated importance sampling, Yao et "    \
    "al. "                                                                                                   \
    "2025, as verl/TRL/NeMo-RL): the PPO loss of each token times min(r, algo.is_cap), no gradient through " \
    "the weight; mask: tokens with r outside [1 / is_cap, is_cap] leave the loss and its normalizers, the "  \
    "rest are weighted by r. Token level, not sequence level: a product of hundreds of ratios has a "        \
    "variance that grows exponentially with the length. Needs pi_old apart from mu: auto then resolves "     \
    "old_logprobs to current or recompute, and old_logprobs = rollout (mu = pi_old, every weight 1) is "     \
    "refused. "                                                                                              \
    "Metrics: off_policy/*.",                                                                                \
    check::one_of({"none", "tis", "mask"}))                                                                  \
  F(double, is_cap, 2.0,                                                                                     \
    "Importance-weight cap C > 1 of algo.off_policy_correction: tis truncates r at C, mask keeps r in "      \
    "[1/C, C] (Yao et al. and verl use 2).",                                                                 \
    check::greater_than(1.0))
ZRL_CONFIG_STRUCT(AlgoSection, ZRL_ALGO_FIELDS);

#define ZRL_HACK_PENALTY_FIELDS(F)                                                                        \
  F(double, code, 0.0,                                                                                    \
    "Subtracted when a code answer reaches for the test harness (_getframe, __eq__, ...).",               \
    check::non_negative())                                                                                \
  F(double, math, 0.0, "Subtracted when a math answer hedges (several final answers, lists, intervals).", \
    check::non_negative())                                                                                \
  F(double, format, 0.0, "Subtracted for an empty or duplicated <think> block, or duplicated <answer>.",  \
    check::non_negative())                                                                                \
  F(double, repetition, 0.0, "Subtracted for degenerate repetition (repeated 4-grams or characters).",    \
    check::non_negative())
ZRL_CONFIG_STRUCT(HackPenaltySection, ZRL_HACK_PENALTY_FIELDS);

#define ZRL_HACK_MONITOR_FIELDS(F)                                                                        \
  F(int64_t, window, 5,                                                                                   \
    "Warn when a hack-sign fraction's mean over the last N steps rises min_rise above the N before (0 = " \
    "never).",                                                                                            \
    check::at_least(0))                                                                                   \
  F(double, min_rise, 0.1, "Rise of a window mean that warns (a fraction of the step's samples).",        \
    check::range(0.001, 1.0))                                                                             \
  F(int64_t, flagged_per_step, 32, "Samples with hack signs written to flagged.jsonl per step at most.",  \
    check::at_least(0))
ZRL_CONFIG_STRUCT(HackMonitorSection, ZRL_HACK_MONITOR_FIELDS);

#define ZRL_REWARDS_FIELDS(F)                                                                          \
  F(double, accuracy_weight, 1.0, "Weight of the verifier's correctness (0/1).", check::any())         \
  F(double, format_weight, 0.0, "Weight of the format check (template tags present and ordered).",     \
    check::any())                                                                                      \
  F(std::string, format_rule, "r1_zero",                                                               \
    "Format check: r1_zero, trl_think, open_r1_format, open_r1_tag_count, open_r1_code, nemo_rl.",     \
    check::one_of(                                                                                     \
        {"r1_zero", "trl_think", "open_r1_format", "open_r1_tag_count", "open_r1_code", "nemo_rl"}))   \
  F(double, length_weight, 0.0, "Weight of length shaping (-len/max_new_tokens).", check::any())       \
  F(double, language_consistency_weight, 0.0,                                                          \
    "Weight of R1's language reward: share of target-language words in the reasoning (0 = off).",      \
    check::any())                                                                                      \
  F(std::string, language, "en",                                                                       \
    "Target language (en, zh, ja, ...: verifiers/language.h) of the reward and sample filter.",        \
    check::any())                                                                                      \
  F(int64_t, verifier_threads, 4, "Verifier thread pool size.", check::at_least(1))                    \
  F(double, verifier_timeout_s, 5.0, "Hard deadline per verification (a timeout scores 0).",           \
    check::positive())                                                                                 \
  F(HackPenaltySection, hack_penalty, {},                                                              \
    "Reward penalties per hack-sign category (rewards/hack_signs.h); all 0: signs are only reported.", \
    check::any())                                                                                      \
  F(HackMonitorSection, hack_monitor, {},                                                              \
    "Hack-sign monitoring: metrics hack/*_frac, flagged.jsonl, rising-fraction warnings.", check::any())
ZRL_CONFIG_STRUCT(RewardsSection, ZRL_REWARDS_FIELDS);

#define ZRL_SANDBOX_FIELDS(F)                                                                              \
  F(double, timeout_s, 2.0, "Wall-clock limit per program run.", check::positive())                        \
  F(int64_t, memory_mb, 512,                                                                               \
    "Memory limit of a program run's whole process tree (a cgroup); without writable cgroups the sandbox " \
    "refuses to run unless insecure_allow.",                                                               \
    check::at_least(16))                                                                                   \
  F(int64_t, workers, 4, "Concurrent sandboxed programs.", check::at_least(1))                             \
  F(bool, insecure_allow, false,                                                                           \
    "Run untrusted code even where namespaces/seccomp/cgroups are unavailable (logged; never on shared "   \
    "machines).",                                                                                          \
    check::any())                                                                                          \
  F(std::string, reward, "all_or_nothing", "Code reward: all_or_nothing or fraction of tests passed.",     \
    check::one_of({"all_or_nothing", "fraction"}))
ZRL_CONFIG_STRUCT(SandboxSection, ZRL_SANDBOX_FIELDS);

#define ZRL_EVAL_FIELDS(F)                                                                                 \
  F(int64_t, k, 1, "Samples per question (avg@k, maj@k, pass@k); 1 = greedy accuracy only.",               \
    check::at_least(1))                                                                                    \
  F(double, temperature, 0.6, "Sampling temperature when k > 1.", check::non_negative())                   \
  F(int64_t, max_new_tokens, 0, "Answer length limit (0 = rollout.max_new_tokens).", check::at_least(0))   \
  F(int64_t, max_questions, 0, "Evaluate the first N questions (0 = all).", check::at_least(0))            \
  F(std::string, output, "",                                                                               \
    "zerorl eval summary JSON (empty = <output_dir>/eval/eval.json; training writes eval/step_<N>.json).", \
    check::any())
ZRL_CONFIG_STRUCT(EvalSection, ZRL_EVAL_FIELDS);

#define ZRL_OPTIM_FIELDS(F)                                                            \
  F(double, lr, 1e-6, "Peak learning rate (AdamW).", check::positive())                \
  F(double, weight_decay, 0.0, "AdamW decoupled weight decay.", check::non_negative()) \
  F(double, beta1, 0.9, "AdamW beta1.", check::range(0.0, 1.0))                        \
  F(double, beta2, 0.999, "AdamW beta2.", check::range(0.0, 1.0))                      \
  F(double, eps, 1e-8, "AdamW epsilon.", check::positive())                            \
  F(int64_t, warmup_steps, 0, "Linear warmup steps.", check::at_least(0))              \
  F(std::string, schedule, "constant", "After warmup: constant or cosine.",            \
    check::one_of({"constant", "cosine"}))                                             \
  F(double, grad_clip, 1.0, "Clip the global gradient norm to this (0 = off).", check::non_negative())
ZRL_CONFIG_STRUCT(OptimSection, ZRL_OPTIM_FIELDS);

#define ZRL_TRAINER_FIELDS(F)                                                                                \
  F(int64_t, steps, 100, "RL steps to run.", check::at_least(0))                                             \
  F(int64_t, save_every, 50, "Checkpoint every N steps (0 = only at the end).", check::at_least(0))          \
  F(int64_t, keep_last, 3, "Keep the newest N checkpoints.", check::at_least(1))                             \
  F(int64_t, eval_every, 0, "Evaluate data.eval_path every N steps into <output_dir>/eval/ (0 = off).",      \
    check::at_least(0))                                                                                      \
  F(int64_t, sample_every, 10, "Write prompts/responses/rewards to samples.jsonl every N steps (0 = off).",  \
    check::at_least(0))                                                                                      \
  F(int64_t, log_every, 1,                                                                                   \
    "Console not a terminal (Slurm log, nohup, pipe): print a plain line every N steps with step, reward, "  \
    "accuracy, response length, step seconds and ETA (0 = never). A terminal gets a progress bar instead.",  \
    check::at_least(0))                                                                                      \
  F(bool, tensorboard, true, "Write TensorBoard event files under <output_dir>/tb/.", check::any())          \
  F(bool, memory_check, true, "Estimate memory before step 1 and fail fast if it cannot fit.", check::any()) \
  F(double, max_minutes, 0.0,                                                                                \
    "Wall-clock budget of train and sft (0 = off): no step starts once the steps of this process (rollout, " \
    "update, checkpoint; evals not counted) took this long; the run then saves and evaluates as at "         \
    "trainer.steps. A resumed run gets the budget afresh. Compares methods at equal time (pipelines).",      \
    check::non_negative())
ZRL_CONFIG_STRUCT(TrainerSection, ZRL_TRAINER_FIELDS);

#define ZRL_DIST_FIELDS(F)                                                                                   \
  F(std::string, backend, "auto",                                                                            \
    "Collectives between ranks (mpirun/srun launches): auto (nccl for CUDA runs, mpi for CPU runs), mpi or " \
    "nccl. One process needs neither.",                                                                      \
    check::one_of({"auto", "mpi", "nccl"}))                                                                  \
  F(double, bucket_mb, 25.0, "Gradients are summed over ranks in fp32 buckets of this many MiB.",            \
    check::positive())                                                                                       \
  F(double, timeout_s, 600.0,                                                                                \
    "Deadline of every collective: a rank that dies or hangs ends every rank within it, naming the lost "    \
    "rank. Keep it above the longest rank-0-only pause (checkpoint save, evaluation).",                      \
    check::positive())                                                                                       \
  F(int64_t, check_every, 0,                                                                                 \
    "Every N steps compare a checksum of every weight over ranks; a mismatch stops the run naming the "      \
    "first tensor that differs (0 = off).",                                                                  \
    check::at_least(0))                                                                                      \
  F(int64_t, zero, 0,                                                                                        \
    "ZeRO stage: 0 = every rank holds the whole fp32 optimizer state; 1 = the fp32 master weights and "      \
    "AdamW moments are sharded over ranks (gradients reduce-scattered, weights all-gathered), 12 bytes "     \
    "per parameter / world size. Use 1 when the memory plan says the optimizer state does not fit.",         \
    check::range(0, 1))
ZRL_CONFIG_STRUCT(DistSection, ZRL_DIST_FIELDS);

#define ZRL_CONFIG_FIELDS(F)                                                                             \
  F(RunSection, run, {}, "Where the run writes and how it is seeded.", check::any())                     \
  F(ModelSection, model, {}, "The policy model.", check::any())                                          \
  F(TokenizerSection, tokenizer, {}, "Tokenizer and prompt template.", check::any())                     \
  F(DataSection, data, {}, "Datasets and their field mapping.", check::any())                            \
  F(RolloutSection, rollout, {}, "Sampling of G answers per prompt.", check::any())                      \
  F(AlgoSection, algo, {}, "Advantages, policy loss, KL and loss aggregation.", check::any())            \
  F(RewardsSection, rewards, {}, "Verdicts to a scalar reward.", check::any())                           \
  F(SandboxSection, sandbox, {}, "Limits of the code-execution sandbox.", check::any())                  \
  F(VerifiersSection, verifiers, {},                                                                     \
    "User verifiers: C++ plugins, worker processes, remote services (docs/verifiers.md).", check::any()) \
  F(EvalSection, eval, {}, "Evaluation: greedy accuracy, avg@k, maj@k, pass@k.", check::any())           \
  F(OptimSection, optim, {}, "Optimizer and learning-rate schedule.", check::any())                      \
  F(TrainerSection, trainer, {}, "Step budget, checkpoints and evaluation cadence.", check::any())       \
  F(DistSection, dist, {}, "Data parallelism over the ranks of an mpirun/srun launch.", check::any())    \
  F(PretrainSection, pretrain, {}, "zerorl pretrain: corpus, model shape, schedule.", check::any())      \
  F(SampleSection, sample, {}, "zerorl sample: rejection sampling into SFT JSONL.", check::any())        \
  F(SftSection, sft, {}, "zerorl sft: supervised fine-tuning data and packing.", check::any())
ZRL_CONFIG_STRUCT(Config, ZRL_CONFIG_FIELDS);

// Loads FILE (empty = defaults only), applies --set overrides, validates. Throws naming file/key/value.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace zerorl
