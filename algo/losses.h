// algo/losses.h: per-token policy-gradient terms (PPO-clip with clip-higher and dual-clip, KL estimators,
// entropy bonus) and their aggregation into a micro-batch loss with GLOBAL normalizers.
// Not here: advantages (advantages.h), log-probs/entropy from logits (logits.h), the optimizer loop.
//
// Shapes: every per-token tensor is [B, T] (B sequences of a micro-batch, right-padded to T response
// tokens); mask [B, T] is 1 for response tokens that count in the loss, 0 for padding. Advantages are
// per sequence [B] (broadcast over tokens) or per token [B, T].
//
// How the trainer uses it (one minibatch = one optimizer step, split into micro-batches):
//   LossCounts counts;                       // 1. once per minibatch, before any backward
//   for (mb : minibatch) counts += count_loss_terms(mb.mask);
//   counts = all_reduce_sum(counts);         //    (data parallel: sum over ranks; world 1: nothing)
//   for (mb : minibatch) {                   // 2. per micro-batch
//     auto pg = policy_loss(logp, mb.logp_old, mb.adv, clip);
//     auto tok = token_loss(pg.loss, kl_or_undefined, entropy_or_undefined, coefs);
//     aggregate_loss(tok, mb.mask, agg, counts).backward();   // grads accumulate to the global loss
//   }
// Because each micro-batch divides by the same global denominator, the summed gradient is the gradient
// of the full-minibatch loss whatever the micro-batch split, accumulation or data-parallel layout.
// Data parallel: all-reduce the gradients with SUM, not average (the 1/D is already in every rank's loss).
#pragma once

#include <torch/torch.h>

#include <string>

namespace zerorl::algo {

// ---- policy loss -------------------------------------------------------------------------------------

struct ClipOptions {
  double clip_low = 0.2;      // eps_low: ratio floor 1 - clip_low
  double clip_high = 0.2;     // eps_high: ratio ceiling 1 + clip_high (DAPO clip-higher: 0.28)
  double clip_ratio_c = 3.0;  // dual-clip bound c > 1 for A < 0; 0 disables dual-clip
};

struct PolicyLossTerms {
  torch::Tensor loss;          // [B, T] per-token surrogate loss (to be minimised), NOT masked
  torch::Tensor ratio;         // [B, T] importance ratio pi_theta / pi_old (detached)
  torch::Tensor clipped;       // [B, T] bool: the clipped branch was active (pg clip fraction)
  torch::Tensor dual_clipped;  // [B, T] bool: the dual-clip bound -A*c was active
};

// PPO clipped surrogate, Schulman et al. 2017 "Proximal Policy Optimization", eq. (7), with
//   - asymmetric bounds (DAPO, Yu et al. 2025, sec. 3.1 "Clip-Higher"):
//       L1 = -A * rho,  L2 = -A * clip(rho, 1 - clip_low, 1 + clip_high),  L = max(L1, L2)
//   - dual-clip for negative advantages (Ye et al. 2020 "Mastering Complex Control in MOBA Games", sec. 3.2,
//       dual-clip PPO): if A < 0: L = min(L, -A * c)   (bounds the loss when rho >> 1; never for A >= 0)
//   rho = exp(logp - logp_old); logp_old are the behaviour policy's log-probs recorded at rollout (or
//   recomputed by the trainer before the first update), so the 2nd..k-th minibatch updates on the same
//   rollout batch see rho != 1. log rho is clamped to [-20, 20] before exp (as verl) to stay finite.
//   logp [B, T] (requires grad), logp_old [B, T], advantages [B] or [B, T].
//   `clipped` is true where L2 > L1 (the clip bound is what the loss uses); averaged over masked tokens
//   this is the clip fraction verl and TRL report.
PolicyLossTerms policy_loss(const torch::Tensor& logp, const torch::Tensor& logp_old,
                            const torch::Tensor& advantages, const ClipOptions& options = {});

// ---- KL to a reference policy ------------------------------------------------------------------------

enum class KlEstimator { kK1, kK2, kK3 };
// "k1" | "k2" | "k3" (aliases: "kl" = k1, "mse" = k2, "low_var_kl" = k3, verl's names).
KlEstimator parse_kl_estimator(const std::string& name);

// Per-token estimate of KL(pi_theta || pi_ref) from tokens sampled from pi_theta, J. Schulman 2020
// "Approximating KL Divergence" (http://joschu.net/blog/kl-approx.html). With log r = logp_ref - logp:
//   k1 = -log r                  unbiased, high variance, can be negative
//   k2 = (log r)^2 / 2           biased, low variance, >= 0
//   k3 = (r - 1) - log r         unbiased, low variance, >= 0: DeepSeekMath (Shao et al. 2024) eq. (4),
//                                 the estimator GRPO/R1 put in the loss
// log r is clamped to [-20, 20] (k3's exp stays finite). logp, logp_ref [B, T] -> [B, T], unmasked.
// Gradients flow through logp (KL in the loss); detach the result for KL in the reward.
torch::Tensor kl_penalty(const torch::Tensor& logp, const torch::Tensor& logp_ref, KlEstimator estimator);

// ---- composing the per-token loss --------------------------------------------------------------------

struct LossCoefficients {
  double kl = 0.0;  // beta: KL in the loss (DeepSeekMath eq. 3: + beta * D_KL); 0 = no reference
  double entropy =
      0.0;  // entropy bonus: loss - coef * H (Mnih et al. 2016 "A3C", sec. 4; Schulman 2017 eq. 9)
};

// pg_loss + kl_coef * kl - entropy_coef * entropy, per token [B, T]. kl / entropy may be undefined
// tensors (not computed: no reference model, or no entropy bonus); a term with a nonzero coefficient
// must then be defined.
torch::Tensor token_loss(const torch::Tensor& pg_loss, const torch::Tensor& kl, const torch::Tensor& entropy,
                         const LossCoefficients& coefs);

// ---- aggregation ---------------------------------------------------------------------------------------

enum class LossAggregation {
  // sum_{i,t} m_it l_it / sum_{i,t} m_it. DAPO (Yu et al. 2025) sec. 3.3, token-level loss: every token
  // weighs the same.
  kTokenMean,
  // 1/S sum_i (sum_t m_it l_it / sum_t m_it). GRPO paper (Shao et al. 2024) eq. (3): per-sequence mean,
  // then mean over the S sequences.
  kSeqMeanTokenMean,
  // 1/S sum_i sum_t m_it l_it / C with a constant C (e.g. the max response length). Dr. GRPO (Liu et al.
  // 2025) sec. 3.1 / their masked_mean(constant_normalizer): no per-length bias.
  kSeqMeanTokenSumNorm,
};
// "token_mean" | "seq_mean_token_mean" | "seq_mean_token_sum_norm" (verl's spellings with '_').
LossAggregation parse_loss_aggregation(const std::string& name);
std::string to_string(LossAggregation mode);

// What the global denominators are made of. Summable over micro-batches and (all-reduce) ranks.
// Sequences are counted only if they have at least one masked token (an all-masked row, e.g. a
// truncated answer under overlong filtering or a padding row, contributes nothing anywhere).
struct LossCounts {
  double tokens = 0;
  double sequences = 0;
  LossCounts& operator+=(const LossCounts& other) {
    tokens += other.tokens;
    sequences += other.sequences;
    return *this;
  }
};
LossCounts count_loss_terms(const torch::Tensor& mask);

struct AggregationOptions {
  LossAggregation mode = LossAggregation::kTokenMean;
  double norm_constant = 0;  // C for kSeqMeanTokenSumNorm (required > 0 there), e.g. max_new_tokens
};

// This micro-batch's share of the minibatch loss: sum_{i,t} w_i m_it l_it / D, with
//   token_mean:              w_i = 1,                D = global.tokens
//   seq_mean_token_mean:     w_i = 1 / sum_t m_it,   D = global.sequences
//   seq_mean_token_sum_norm: w_i = 1 / C,            D = global.sequences
// Summed over the micro-batches of a minibatch (with `global` = the sum of their counts) this equals
// the formula of the mode over the whole minibatch. Returns a float32 scalar (0 when D = 0).
torch::Tensor aggregate_loss(const torch::Tensor& loss, const torch::Tensor& mask,
                             const AggregationOptions& options, const LossCounts& global);

// sum(x * mask) as a double (one host sync; prefer loss_stat_sums inside the micro-batch loop).
double masked_sum(const torch::Tensor& x, const torch::Tensor& mask);

// ---- metrics -------------------------------------------------------------------------------------------

// Masked sums of one micro-batch's terms as a float64 device tensor [kLossStatCount], with no host sync:
// the trainer adds these up over micro-batches (and ranks) and reads them once with read_loss_stats.
// kl / entropy may be undefined (summed as 0). Order: tokens, pg_loss, clipped, dual_clipped, kl, entropy.
constexpr int64_t kLossStatCount = 6;
torch::Tensor loss_stat_sums(const PolicyLossTerms& pg, const torch::Tensor& kl, const torch::Tensor& entropy,
                             const torch::Tensor& mask);

// Token means of the summed stats (clip_frac as verl's pg_clipfrac, dual_clip_frac as its
// pg_clipfrac_lower, kl, entropy, pg_loss); all 0 when no token counted.
struct LossStats {
  double tokens = 0;
  double pg_loss = 0;
  double clip_frac = 0;
  double dual_clip_frac = 0;
  double kl = 0;
  double entropy = 0;
};
LossStats read_loss_stats(const torch::Tensor& sums);

}  // namespace zerorl::algo
