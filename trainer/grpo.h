// trainer/grpo.h: STOPGAP GRPO math (group advantages, PPO-clip loss with dual clip, k1/k2/k3 KL, loss
// aggregation with global normalizers) until algo/ merges; then these become calls into zerorl_algo.
// Not here: anything stateful; every function is pure on tensors.
#pragma once

#include <torch/torch.h>

#include <string>

namespace zerorl::trainer::grpo {

// r [P, G] -> A [P, G]. grpo: (r - mean_g) / (std_g + eps) with the unbiased std (Shao et al. 2024, eq. 3 as
// implemented by TRL/verl); dr_grpo: r - mean_g (Liu et al. 2025); rloo: r - mean of the other G-1 samples
// (Ahmadian et al. 2024) = G/(G-1) (r - mean_g).
inline torch::Tensor group_advantages(const torch::Tensor& r, const std::string& kind, double eps = 1e-6) {
  auto mean = r.mean(1, true);
  if (kind == "dr_grpo") return r - mean;
  const auto g = static_cast<double>(r.size(1));
  if (kind == "rloo") return g > 1 ? (r - mean) * (g / (g - 1)) : torch::zeros_like(r);
  auto std = g > 1 ? r.std(1, true, true) : torch::zeros_like(mean);
  return (r - mean) / (std + eps);
}

// Per-token PPO-clip loss (Schulman et al. 2017) with asymmetric clip (DAPO clip-higher, Yu et al. 2025) and
// dual clip c (Ye et al. 2020) for A < 0: loss = min(max(-A ratio, -A clip(ratio)), -A c).
// Returns loss [N, T]; *clipped (optional) is 1 where the clipped branch was active.
inline torch::Tensor ppo_clip_loss(const torch::Tensor& logp, const torch::Tensor& logp_old,
                                   const torch::Tensor& adv, double clip_low, double clip_high, double dual_c,
                                   torch::Tensor* clipped) {
  auto ratio = torch::exp(logp - logp_old);
  auto a = adv.unsqueeze(-1).expand_as(ratio);
  auto l1 = -a * ratio;
  auto l2 = -a * ratio.clamp(1.0 - clip_low, 1.0 + clip_high);
  auto loss = torch::max(l1, l2);
  if (clipped != nullptr) *clipped = (l2 > l1).to(torch::kFloat32);
  if (dual_c > 1.0) loss = torch::where(a < 0, torch::min(loss, -a * dual_c), loss);
  return loss;
}

// KL(pi || ref) estimators per token (Schulman 2020, "Approximating KL divergence"); d = logp_ref - logp:
// k1 = -d, k2 = d^2 / 2, k3 = exp(d) - d - 1.
inline torch::Tensor kl_estimate(const torch::Tensor& logp, const torch::Tensor& logp_ref,
                                 const std::string& kind) {
  auto d = logp_ref - logp;
  if (kind == "k1") return -d;
  if (kind == "k2") return 0.5 * d * d;
  return torch::exp(d) - d - 1.0;
}

// Sum over this micro-batch of per-token values, divided by the normalizer of the *whole* minibatch so the
// gradient does not depend on micro-batching. token_mean: / total tokens; seq_mean_token_mean: each row /
// its own length, then / rows; seq_mean_token_sum_norm: / (rows * max_new_tokens) (Dr. GRPO).
inline torch::Tensor aggregate(const torch::Tensor& x, const torch::Tensor& mask, const std::string& mode,
                               double global_tokens, double global_rows, double max_new_tokens) {
  auto masked = x * mask;
  if (mode == "token_mean") return masked.sum() / global_tokens;
  if (mode == "seq_mean_token_mean") return (masked.sum(1) / mask.sum(1).clamp_min(1.0)).sum() / global_rows;
  return masked.sum() / (global_rows * max_new_tokens);
}

}  // namespace zerorl::trainer::grpo
