// trainer/update.h: the learning half of a GRPO step as three timed phases: old_logprobs (a no-grad forward,
// the rollout engine's own log-probs, or nothing: the update's own forward, detached), advantages (algo/),
// update (micro-batches by token budget, algo/ losses, backward, fp32 master-grad accumulation, clip, AdamW,
// masters -> compute weights). Used by Trainer::step and bench/grpo_step. Not here: sampling prompts,
// rollout, rewards (step.cpp).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "algo/logits.h"
#include "core/json_io.h"
#include "core/run_config.h"
#include "core/timer.h"
#include "dist/communicator.h"
#include "dist/grad_overlap.h"
#include "dist/zero_optimizer.h"
#include "model/decoder.h"
#include "trainer/mixed_precision.h"

namespace zerorl::trainer {

// P' prompts x G answers, prompt-major (rows g*G .. g*G+G-1 are one group).
struct UpdateBatch {
  std::vector<std::vector<int64_t>> prompt_ids, responses;  // responses include the finishing EOS
  std::vector<bool> truncated;                              // cut at max_new_tokens
  std::vector<double> rewards;                              // total reward per answer
  // Per response token, from the rollout engine (Trajectory::logprobs_policy at T = 1, ::logprobs at the
  // sampling temperature): read when algo.old_logprobs = rollout, and logprobs_sampling as the behaviour
  // policy mu when algo.off_policy_correction is on (the distribution the answers were drawn from).
  std::vector<std::vector<float>> logprobs_policy, logprobs_sampling;
};

// What the update reads and changes. `lm` computes (bf16 on GPU); `opt` optimizes `masters->parameters()`
// when masters is set, else lm's parameters. `ref` may be empty (kl_coef = 0).
struct PolicyState {
  model::CausalLM lm{nullptr}, ref{nullptr};
  torch::optim::Optimizer* opt = nullptr;
  MasterWeights* masters = nullptr;
  int64_t opt_steps = 0;  // optimizer steps so far (the LR schedule's clock)
  // Data parallel (null or the local backend: one process): the batch is this rank's share of the step; loss
  // normalizers, gradients (fp32 buckets of bucket_bytes) and the returned statistics are reduced over ranks,
  // so every rank takes the optimizer step of the global batch.
  dist::Communicator* comm = nullptr;
  int64_t bucket_bytes = int64_t{25} << 20;
  // dist.zero = 1: the sharded AdamW over lm's parameters (its own fp32 masters and gradient buffer) takes
  // the place of opt and masters (both null): reduce-scatter, clip, step and all-gather in one call.
  dist::ShardedAdamW* zero = nullptr;
  // Data parallel, dist.zero = 0: the hook-driven buckets, armed for the last micro-batch of each minibatch
  // so its all-reduces overlap that backward (null: buckets after backward, grad_sync.h).
  dist::OverlappedGradSync* overlap = nullptr;
  std::vector<torch::Tensor> trainable() const;
};

// algo.old_logprobs (trainer/old_logprobs.cpp): which log-probs stand for pi_old in the update's ratio.
// - rollout reads, per token, the engine's log-probs of the distribution the trainer scores
//   (T = rollout.temperature, no filters).
// - recompute runs a no-grad forward of the trainer before the update.
// - current takes the update's own forward, detached (verl's on-policy case): exact when the batch takes one
//   optimizer step (algo.minibatches = algo.epochs = 1), since every micro-batch's forward then runs the
//   weights that sampled the batch's rollout step, and free: no extra forward. The ratio is 1 by
//   construction.
// validate_old_logprobs throws, naming the keys, where the configured value cannot work:
// - rollout with temperature != 1 together with top_k / top_p / min_p (no engine value matches);
// - rollout with algo.off_policy_correction != none (then mu = pi_old and every weight is 1: a correction
// that
//   does nothing is refused rather than run silently);
// - current with more than one optimizer step per batch, with algo.kl_in = reward (the rewards need pi_old
//   before the update) or with algo.off_policy_correction = mask (it changes the normalizers before it);
// - any correction with greedy decoding (temperature 0: no sampling distribution).
// check_old_logprobs does the same for a resolved value (policy_update checks the one it uses).
void validate_old_logprobs(const Config& cfg);
void check_old_logprobs(const Config& cfg, const std::string& value);

// algo.old_logprobs = auto, resolved once at start (value "rollout", "current" or "recompute", and why):
// - rollout where the engine's log-probs are the trainer's: rollout.temperature exactly 1, no
//   top_k/top_p/min_p, no off-policy correction (it needs pi_old apart from the engine's mu), and the same
//   numbers from the same dtype path: float32 compute (the engine's decode and the trainer's forward differ
//   by float rounding of different GEMM shapes, ~1e-7 on CPU), or bf16/fp16 on CUDA with
//   rollout.batch_invariant, the attention kernel where algo.pack_sequences is on (it runs each packed
//   sequence as a row of its own; a masked attention over packed rows sums the keys in other blocks) and a
//   LibTorch that can turn split-K off (compat::kHasSplitKControl: equal to fp32 rounding);
// - else current where it is exact (see above);
// - else recompute.
// A value other than auto is returned as it is ("set in the config"). policy_update resolves auto the same
// way from PolicyState::lm; the trainer resolves it once at start to log the choice.
struct OldLogprobsChoice {
  std::string value, why;
};
OldLogprobsChoice resolve_old_logprobs(const Config& cfg, torch::Dtype compute, bool cuda);

// The old policy's log-probs [n, Tr] (float32, on lm's device; 0 beyond each response) as the old_logprobs
// phase recomputes them: the same layout, micro-batch rows and temperature, so the same numbers.
torch::Tensor recompute_old_logprobs(const Config& cfg, model::CausalLM& lm, const UpdateBatch& b,
                                     int64_t pad);

// The log-probs of `tokens` [...] and their entropies (detached: a metric) from the policy's hidden states
// [..., H] that predict them, as the update takes them: one fused node where algo::float32_lm_head_fused
// holds (algo::linear_float32_token_logprobs: bf16 CUDA), else the model's float32 logits walked by
// algo::token_logprobs_entropy. The same bits and gradients either way.
algo::LinearLogprobs policy_token_logprobs(model::CausalLM& lm, const torch::Tensor& hidden,
                                           const torch::Tensor& tokens, double temperature);

// Prompt + response tokens of every answer in `b`, without padding: what one pass over the batch learns from.
int64_t real_tokens(const UpdateBatch& b);

// algo.pack_sequences packs each micro-batch's answers into rows (trainer/packing.h); the micro-batches,
// loss terms and normalizers stay those of the padded layout, so the result is the same to float rounding.
// Runs the three phases over `b` (times: "old_logprobs", "advantages", "update"; data parallel adds
// "grad_sync", inside "update": the bucket all-reduce, or under ZeRO-1 the reduce-scatter, sharded AdamW
// step and all-gather). `pad` fills the layout. Data parallel: the returned fields are global
// (summed or averaged over every rank's tokens); a minibatch (algo.minibatches > 1) is every rank's k-th
// chunk of its share.
// Returns {update_tokens (real_tokens(b), counted once however many epochs), update_tokens_padded (rows x
// width of every update forward, over algo.epochs: what they computed; with algo.pack_sequences the packed
// rows, trainer/packing.h), and when an update ran: entropy, clip_frac,
// grad_norm, pg_loss, and kl only with a reference model}. A field that was not measured is absent, never 0.
// With algo.off_policy_correction on, the policy-gradient loss of each token is multiplied by its importance
// weight (algo/off_policy.h; pg_loss is the weighted one) and the result adds off_policy/{is_ratio_mean,
// is_ratio_max, is_weight_mean, is_clip_frac (tis) or is_masked_frac (mask), logprob_abs_diff}, over the
// valid response tokens of every rank.
Json policy_update(const Config& cfg, PolicyState& p, const UpdateBatch& b, int64_t pad, PhaseTimes& times);

}  // namespace zerorl::trainer
