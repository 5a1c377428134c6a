// algo/off_policy.h: off-policy correction between the behaviour policy mu (the engine that sampled) and the
// old policy pi_old (the trainer's no-grad forward): per-token importance weights and their metrics.
// Not here: the PPO ratio pi_theta / pi_old (losses.h), where mu and pi_old come from (trainer/update.cpp).
//
// Why: the PPO/GRPO ratio is taken against pi_old, but the answers were sampled from mu. The two differ when
// the engine's decode rounds differently from the trainer's forward (bf16 GEMM shapes) or when the engine's
// weights are older (asynchronous rollout). The policy-gradient loss is then biased; truncated importance
// sampling (TIS, Yao et al. 2025 "Your Efficient RL Framework Secretly Brings You Off-Policy RL Training")
// multiplies each token's PPO loss by w = min(pi_old / mu, C), with no gradient through w. verl (rollout_is,
// mode truncate), TRL (vllm_importance_sampling_correction) and NeMo-RL do the same, token-level, C = 2.
//
// Token level, not sequence level: a sequence ratio is a product over hundreds of tokens whose variance grows
// exponentially with the length (verl recommends separate, larger thresholds for it), and zerorl's loss is
// already a per-token sum; token-level TIS is Yao et al.'s estimator and the default of verl and TRL.
//
// Shapes: logp_old, logp_behaviour, mask [B, T] as in losses.h (mask 1 = response token that counts).
#pragma once

#include <torch/torch.h>

#include <string>

namespace zerorl::algo {

enum class OffPolicyCorrection {
  kNone,  // w = 1 everywhere
  kTis,   // truncated IS: w = min(r, C), r = exp(logp_old - logp_behaviour); every token stays
  kMask,  // masked IS (verl's rollout_is mode mask, IcePop): tokens with r outside [1/C, C] leave the loss
          // (and its normalizers); kept tokens are weighted by their true ratio w = r
};
// "none" | "tis" | "mask".
OffPolicyCorrection parse_off_policy_correction(const std::string& name);

struct ImportanceWeights {
  torch::Tensor
      weight;          // [B, T] float32, detached: multiplies the per-token policy-gradient loss; 1 off mask
  torch::Tensor keep;  // [B, T] float32: mask without the tokens kMask drops (== mask for none and tis)
};

// Per-token weights from the behaviour and old log-probs. log r = logp_old - logp_behaviour is clamped to
// [-20, 20] before exp (as losses.h). cap = C must be > 1 (the mask bounds are [1/C, C], both inclusive).
// Neither input's gradient reaches the result.
ImportanceWeights importance_weights(const torch::Tensor& logp_old, const torch::Tensor& logp_behaviour,
                                     const torch::Tensor& mask, OffPolicyCorrection correction, double cap);

// ---- metrics -------------------------------------------------------------------------------------------

// One micro-batch's (or rank's) sums over the tokens of `mask` as a float64 device tensor
// [kOffPolicyStatCount], no host sync. Order: tokens, sum r, sum w over kept tokens, kept tokens, tokens out
// of bound (tis: r > C, truncated; mask: r outside [1/C, C], dropped; none: 0), sum |logp_old -
// logp_behaviour|, and last the MAX of r (combine that entry with max, the others with +).
constexpr int64_t kOffPolicyStatCount = 7;
torch::Tensor off_policy_stat_sums(const torch::Tensor& logp_old, const torch::Tensor& logp_behaviour,
                                   const torch::Tensor& mask, const ImportanceWeights& w,
                                   OffPolicyCorrection correction, double cap);

// Means of the sums (all 0 when no token counted).
struct OffPolicyStats {
  double tokens = 0;
  double ratio_mean = 0;         // mean r = pi_old / mu over valid tokens, before truncation
  double ratio_max = 0;          // max r over valid tokens, before truncation (verl's rollout_is_max)
  double weight_mean = 0;        // mean w over the tokens left in the loss (what the loss was multiplied by)
  double out_of_bound_frac = 0;  // tis: fraction truncated (r > C); mask: fraction dropped
  double logprob_abs_diff = 0;   // mean |logp_old - logp_behaviour|: how off-policy the batch is
};
OffPolicyStats read_off_policy_stats(const torch::Tensor& sums);

}  // namespace zerorl::algo
