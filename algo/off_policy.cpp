// algo/off_policy.cpp: importance weights between behaviour and old log-probs (none, tis, mask) and their
// metric sums (formulas and sources in off_policy.h). Not here: the PPO ratio, loss aggregation (losses.cpp).
#include "algo/off_policy.h"

#include "core/error.h"

namespace zerorl::algo {
namespace {

constexpr double kMaxLogRatio = 20.0;  // |log r| clamp before exp, as losses.cpp

void check_inputs(const torch::Tensor& logp_old, const torch::Tensor& logp_behaviour,
                  const torch::Tensor& mask, double cap, const char* what) {
  ZRL_CHECK(
      logp_old.dim() == 2 && logp_old.sizes() == logp_behaviour.sizes() && logp_old.sizes() == mask.sizes(),
      "{}: expected logp_old, logp_behaviour and mask of one [B, T] shape, got {}, {} and {}", what,
      c10::str(logp_old.sizes()), c10::str(logp_behaviour.sizes()), c10::str(mask.sizes()));
  ZRL_CHECK(cap > 1.0, "{}: the importance-weight cap (algo.is_cap) must be > 1, got {}", what, cap);
}

// log r in float64 (ratios near the bounds must not flip with float32 rounding of the difference).
torch::Tensor log_ratio(const torch::Tensor& logp_old, const torch::Tensor& logp_behaviour) {
  return (logp_old.detach().to(torch::kFloat64) - logp_behaviour.detach().to(torch::kFloat64))
      .clamp(-kMaxLogRatio, kMaxLogRatio);
}

}  // namespace

OffPolicyCorrection parse_off_policy_correction(const std::string& name) {
  if (name == "none") return OffPolicyCorrection::kNone;
  if (name == "tis") return OffPolicyCorrection::kTis;
  if (name == "mask") return OffPolicyCorrection::kMask;
  ZRL_FAIL("unknown off-policy correction '{}': expected none, tis or mask", name);
}

ImportanceWeights importance_weights(const torch::Tensor& logp_old, const torch::Tensor& logp_behaviour,
                                     const torch::Tensor& mask, OffPolicyCorrection correction, double cap) {
  check_inputs(logp_old, logp_behaviour, mask, cap, "importance_weights");
  const auto valid = mask.to(torch::kBool);
  const auto f32 = logp_old.options().dtype(torch::kFloat32);
  ImportanceWeights out;
  out.keep = mask.detach().to(torch::kFloat32);
  if (correction == OffPolicyCorrection::kNone) {
    out.weight = torch::ones(logp_old.sizes(), f32);
    return out;
  }
  const auto r = log_ratio(logp_old, logp_behaviour).exp();
  torch::Tensor w;
  if (correction == OffPolicyCorrection::kTis) {
    w = r.clamp_max(cap);
  } else {
    const auto in_bound = (r >= 1.0 / cap) & (r <= cap);
    out.keep = (valid & in_bound).to(torch::kFloat32);
    w = torch::where(in_bound, r, torch::ones_like(r));
  }
  out.weight = torch::where(valid, w, torch::ones_like(w)).to(torch::kFloat32);
  return out;
}

torch::Tensor off_policy_stat_sums(const torch::Tensor& logp_old, const torch::Tensor& logp_behaviour,
                                   const torch::Tensor& mask, const ImportanceWeights& w,
                                   OffPolicyCorrection correction, double cap) {
  check_inputs(logp_old, logp_behaviour, mask, cap, "off_policy_stat_sums");
  const auto valid = mask.to(torch::kBool);
  const auto kept = valid & w.keep.to(torch::kBool);
  const auto lr = log_ratio(logp_old, logp_behaviour);
  const auto r = lr.exp();
  const auto zero = torch::zeros({}, r.options());
  auto sum_over = [&](const torch::Tensor& where, const torch::Tensor& x) {
    return torch::where(where, x, zero).sum();
  };
  torch::Tensor out_of_bound = zero;
  if (correction == OffPolicyCorrection::kTis) out_of_bound = (valid & (r > cap)).sum().to(torch::kFloat64);
  if (correction == OffPolicyCorrection::kMask) out_of_bound = (valid & ~kept).sum().to(torch::kFloat64);
  // The max over no token is 0 (r > 0 elsewhere): padding never wins the max.
  const auto r_max = torch::where(valid, r, zero).max();
  return torch::stack({valid.sum().to(torch::kFloat64), sum_over(valid, r),
                       sum_over(kept, w.weight.detach().to(torch::kFloat64)), kept.sum().to(torch::kFloat64),
                       out_of_bound, sum_over(valid, lr.abs()), r_max});
}

OffPolicyStats read_off_policy_stats(const torch::Tensor& sums) {
  ZRL_CHECK(sums.dim() == 1 && sums.size(0) == kOffPolicyStatCount,
            "read_off_policy_stats: expected [{}] sums, got {}", kOffPolicyStatCount, c10::str(sums.sizes()));
  const auto cpu = sums.to(torch::kCPU, torch::kFloat64).contiguous();  // the one host sync
  const double* v = cpu.data_ptr<double>();
  OffPolicyStats s;
  s.tokens = v[0];
  if (s.tokens <= 0) return s;
  s.ratio_mean = v[1] / s.tokens;
  s.weight_mean = v[3] > 0 ? v[2] / v[3] : 0.0;
  s.out_of_bound_frac = v[4] / s.tokens;
  s.logprob_abs_diff = v[5] / s.tokens;
  s.ratio_max = v[6];
  return s;
}

}  // namespace zerorl::algo
