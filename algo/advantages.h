// algo/advantages.h: outcome-reward advantage estimators for group sampling (GRPO, Dr. GRPO, RLOO) and
// batch whitening. Not here: rewards themselves (rewards/), token-level credit assignment, the loss.
#pragma once

#include <torch/torch.h>

#include <string>

namespace zerorl::algo {

enum class AdvantageEstimator {
  kGrpo,    // (r - mean_group) / (std_group + eps)
  kDrGrpo,  // r - mean_group
  kRloo,    // r - mean of the other samples of the group
};

// "grpo" | "dr_grpo" | "rloo" (the config spelling); throws naming the value otherwise.
AdvantageEstimator parse_advantage_estimator(const std::string& name);
std::string to_string(AdvantageEstimator estimator);

struct AdvantageOptions {
  AdvantageEstimator estimator = AdvantageEstimator::kGrpo;
  double eps = 1e-6;  // GRPO's std guard (verl's default; TRL uses 1e-4)
};

// Per-sequence advantages from one scalar reward per sample, grouped by prompt.
//   rewards   [N] float, group_ids [N] int64 (any values; samples with equal ids form a group; groups may
//   differ in size). Returns [N], float32 computed in float64 internally.
//
// GRPO, Shao et al. 2024 "DeepSeekMath", sec. 4.1.2 (outcome supervision):
//   A_i = (r_i - mean(r_group)) / (std(r_group) + eps),
//   std is the UNBIASED sample std (divide by G - 1), as torch.std in verl's compute_grpo_outcome_advantage
//   and TRL's GRPOTrainer. A group whose rewards are all equal gets A = 0.
// Dr. GRPO, Liu et al. 2025 "Understanding R1-Zero-Like Training", sec. 3.1: A_i = r_i - mean(r_group)
//   (no std division: removes the question-difficulty bias).
// RLOO, Kool et al. 2019 "Buy 4 REINFORCE Samples, Get a Baseline for Free!"; Ahmadian et al. 2024
//   "Back to Basics", sec. 3: A_i = r_i - 1/(G-1) * sum_{j != i} r_j  (= G/(G-1) * (r_i - mean)).
// A group of one sample has no baseline: its advantage is 0 for every estimator (it carries no
// group-relative signal; verl instead passes the raw reward through).
torch::Tensor group_advantages(const torch::Tensor& rewards, const torch::Tensor& group_ids,
                               const AdvantageOptions& options = {});

// The same for the usual layout: rewards [P, G] (P prompts, G samples each) -> advantages [P, G].
torch::Tensor group_advantages(const torch::Tensor& rewards, const AdvantageOptions& options = {});

// Batch whitening of per-sequence advantages, as REINFORCE++ (Hu 2025, sec. 3.2) and verl's masked_whiten:
//   A'_i = (A_i - mean(A)) / (std(A) + eps)   over the whole batch, unbiased std;
//   shift_mean = false keeps the mean: A'_i = (A_i - mean) / (std + eps) + mean.
// values [N] (or any shape: whitened over all elements). Needs N >= 2.
torch::Tensor whiten(const torch::Tensor& values, bool shift_mean = true, double eps = 1e-8);

// KL in the reward (the alternative to KL in the loss; Ouyang et al. 2022 "InstructGPT", eq. 2, with
// outcome rewards): r'_i = r_i - beta * sum_t mask_it * kl_it.  rewards [B], kl [B, T], mask [B, T].
torch::Tensor kl_penalized_rewards(const torch::Tensor& rewards, const torch::Tensor& kl,
                                   const torch::Tensor& mask, double beta);

}  // namespace zerorl::algo
