// algo/advantages.cpp: group-relative advantage estimators and whitening (formulas in advantages.h).
// Not here: the policy loss, KL estimators, aggregation (losses.cpp).
#include "algo/advantages.h"

#include "core/error.h"

namespace zerorl::algo {

AdvantageEstimator parse_advantage_estimator(const std::string& name) {
  if (name == "grpo") return AdvantageEstimator::kGrpo;
  if (name == "dr_grpo") return AdvantageEstimator::kDrGrpo;
  if (name == "rloo") return AdvantageEstimator::kRloo;
  ZRL_FAIL("unknown advantage estimator '{}': expected grpo, dr_grpo or rloo", name);
}

std::string to_string(AdvantageEstimator estimator) {
  switch (estimator) {
    case AdvantageEstimator::kGrpo:
      return "grpo";
    case AdvantageEstimator::kDrGrpo:
      return "dr_grpo";
    case AdvantageEstimator::kRloo:
      return "rloo";
  }
  return "?";
}

torch::Tensor group_advantages(const torch::Tensor& rewards, const torch::Tensor& group_ids,
                               const AdvantageOptions& options) {
  ZRL_CHECK(rewards.dim() == 1 && group_ids.dim() == 1 && rewards.size(0) == group_ids.size(0),
            "group_advantages: rewards {} and group_ids {} must be 1-D of equal length",
            c10::str(rewards.sizes()), c10::str(group_ids.sizes()));
  ZRL_CHECK(!group_ids.is_floating_point(), "group_advantages: group_ids must be integers, got {}",
            c10::toString(group_ids.scalar_type()));
  ZRL_CHECK(options.eps >= 0, "group_advantages: eps must be >= 0, got {}", options.eps);
  if (rewards.numel() == 0) return torch::zeros({0}, rewards.options().dtype(torch::kFloat32));
  auto r = rewards.detach().to(torch::kFloat64);
  ZRL_CHECK(torch::isfinite(r).all().item<bool>(), "group_advantages: rewards contain NaN or inf");

  // Dense group index per sample (inverse) and samples per group (counts).
  auto unique = torch::_unique2(group_ids.to(r.device()), /*sorted=*/true, /*return_inverse=*/true,
                                /*return_counts=*/true);
  const auto& inverse = std::get<1>(unique);
  auto count = std::get<2>(unique).to(torch::kFloat64);
  const int64_t groups = count.size(0);

  auto zeros = torch::zeros({groups}, r.options());
  auto mean = zeros.index_add(0, inverse, r) / count;
  auto deviation = r - mean.index_select(0, inverse);
  auto count_i = count.index_select(0, inverse);

  torch::Tensor advantage;
  switch (options.estimator) {
    case AdvantageEstimator::kDrGrpo:
      advantage = deviation;
      break;
    case AdvantageEstimator::kGrpo: {
      auto var = zeros.index_add(0, inverse, deviation * deviation) / (count - 1).clamp_min(1);
      advantage = deviation / (var.sqrt().index_select(0, inverse) + options.eps);
      break;
    }
    case AdvantageEstimator::kRloo:
      // r_i - (S - r_i)/(G-1) = G/(G-1) * (r_i - S/G)
      advantage = deviation * count_i / (count_i - 1).clamp_min(1);
      break;
  }
  advantage = torch::where(count_i > 1, advantage, torch::zeros_like(advantage));
  return advantage.to(torch::kFloat32);
}

torch::Tensor group_advantages(const torch::Tensor& rewards, const AdvantageOptions& options) {
  ZRL_CHECK(rewards.dim() == 2, "group_advantages: rewards must be [P, G], got {}",
            c10::str(rewards.sizes()));
  const int64_t prompts = rewards.size(0), group = rewards.size(1);
  auto ids = torch::arange(prompts, rewards.options().dtype(torch::kInt64))
                 .unsqueeze(1)
                 .expand({prompts, group})
                 .reshape({-1});
  return group_advantages(rewards.reshape({-1}), ids, options).view({prompts, group});
}

torch::Tensor whiten(const torch::Tensor& values, bool shift_mean, double eps) {
  ZRL_CHECK(values.numel() >= 2, "whiten: needs at least 2 values, got {}", values.numel());
  auto v = values.to(torch::kFloat64);
  auto mean = v.mean();
  auto std = v.std(/*unbiased=*/true);
  auto white = (v - mean) / (std + eps);
  if (!shift_mean) white = white + mean;
  return white.to(values.scalar_type());
}

torch::Tensor kl_penalized_rewards(const torch::Tensor& rewards, const torch::Tensor& kl,
                                   const torch::Tensor& mask, double beta) {
  ZRL_CHECK(
      kl.dim() == 2 && kl.sizes() == mask.sizes() && rewards.dim() == 1 && rewards.size(0) == kl.size(0),
      "kl_penalized_rewards: rewards [B] {}, kl [B, T] {} and mask [B, T] {} disagree",
      c10::str(rewards.sizes()), c10::str(kl.sizes()), c10::str(mask.sizes()));
  auto kl_sum = (kl.detach().to(torch::kFloat64) * mask.to(torch::kFloat64)).sum(-1);
  return (rewards.to(torch::kFloat64) - beta * kl_sum).to(rewards.scalar_type());
}

}  // namespace zerorl::algo
