// algo/losses.cpp: PPO-clip policy loss, KL estimators, per-token loss composition and global-normalizer
// aggregation (formulas and sources in losses.h). Not here: advantages, log-probs from logits.
#include "algo/losses.h"

#include "core/error.h"

namespace zerorl::algo {
namespace {

constexpr double kMaxLogRatio = 20.0;  // |log rho| clamp before exp, as verl

void check_same_shape(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  ZRL_CHECK(a.dim() == 2 && a.sizes() == b.sizes(),
            "{}: expected two [B, T] tensors of one shape, got {} and {}", what, c10::str(a.sizes()),
            c10::str(b.sizes()));
}

// Advantages [B] or [B, T] as a detached [B, 1] / [B, T] tensor of `like`'s dtype.
torch::Tensor broadcast_advantages(const torch::Tensor& advantages, const torch::Tensor& like) {
  const bool per_sequence = advantages.dim() == 1 && advantages.size(0) == like.size(0);
  const bool per_token = advantages.sizes() == like.sizes();
  ZRL_CHECK(per_sequence || per_token, "policy_loss: advantages must be [B] or [B, T] for logp {}, got {}",
            c10::str(like.sizes()), c10::str(advantages.sizes()));
  auto adv = advantages.detach().to(like.scalar_type());
  return per_sequence ? adv.unsqueeze(1) : adv;
}

}  // namespace

PolicyLossTerms policy_loss(const torch::Tensor& logp, const torch::Tensor& logp_old,
                            const torch::Tensor& advantages, const ClipOptions& options) {
  check_same_shape(logp, logp_old, "policy_loss(logp, logp_old)");
  ZRL_CHECK(options.clip_low >= 0 && options.clip_low < 1, "policy_loss: clip_low must be in [0, 1), got {}",
            options.clip_low);
  ZRL_CHECK(options.clip_high >= 0, "policy_loss: clip_high must be >= 0, got {}", options.clip_high);
  ZRL_CHECK(options.clip_ratio_c == 0 || options.clip_ratio_c > 1,
            "policy_loss: clip_ratio_c (dual-clip) must be > 1, or 0 to disable; got {}",
            options.clip_ratio_c);
  auto adv = broadcast_advantages(advantages, logp);

  auto log_ratio = (logp - logp_old.detach().to(logp.scalar_type())).clamp(-kMaxLogRatio, kMaxLogRatio);
  auto ratio = log_ratio.exp();
  auto loss_unclipped = -adv * ratio;
  auto loss_clipped = -adv * ratio.clamp(1.0 - options.clip_low, 1.0 + options.clip_high);
  auto loss = torch::maximum(loss_unclipped, loss_clipped);

  PolicyLossTerms out;
  out.clipped = (loss_clipped > loss_unclipped).expand_as(logp);
  out.dual_clipped = torch::zeros(logp.sizes(), logp.options().dtype(torch::kBool));
  if (options.clip_ratio_c > 0) {
    auto loss_dual = -adv * options.clip_ratio_c;  // [B, 1] or [B, T]
    auto negative = (adv < 0).expand_as(logp);
    out.dual_clipped = negative & (loss > loss_dual);
    loss = torch::where(negative, torch::minimum(loss, loss_dual), loss);
  }
  out.loss = loss;
  out.ratio = ratio.detach();
  return out;
}

KlEstimator parse_kl_estimator(const std::string& name) {
  if (name == "k1" || name == "kl") return KlEstimator::kK1;
  if (name == "k2" || name == "mse") return KlEstimator::kK2;
  if (name == "k3" || name == "low_var_kl") return KlEstimator::kK3;
  ZRL_FAIL("unknown KL estimator '{}': expected k1, k2 or k3 (or kl, mse, low_var_kl)", name);
}

torch::Tensor kl_penalty(const torch::Tensor& logp, const torch::Tensor& logp_ref, KlEstimator estimator) {
  check_same_shape(logp, logp_ref, "kl_penalty(logp, logp_ref)");
  auto log_r = (logp_ref.detach().to(logp.scalar_type()) - logp).clamp(-kMaxLogRatio, kMaxLogRatio);
  switch (estimator) {
    case KlEstimator::kK1:
      return -log_r;
    case KlEstimator::kK2:
      return 0.5 * log_r * log_r;
    case KlEstimator::kK3:
      return log_r.exp() - 1.0 - log_r;
  }
  ZRL_FAIL("kl_penalty: bad estimator {}", static_cast<int>(estimator));
}

torch::Tensor token_loss(const torch::Tensor& pg_loss, const torch::Tensor& kl, const torch::Tensor& entropy,
                         const LossCoefficients& coefs) {
  ZRL_CHECK(coefs.kl == 0 || kl.defined(), "token_loss: kl coefficient {} but no KL computed", coefs.kl);
  ZRL_CHECK(coefs.entropy == 0 || entropy.defined(), "token_loss: entropy coefficient {} but no entropy",
            coefs.entropy);
  auto loss = pg_loss;
  if (coefs.kl != 0) {
    check_same_shape(pg_loss, kl, "token_loss(pg_loss, kl)");
    loss = loss + coefs.kl * kl;
  }
  if (coefs.entropy != 0) {
    check_same_shape(pg_loss, entropy, "token_loss(pg_loss, entropy)");
    loss = loss - coefs.entropy * entropy;
  }
  return loss;
}

LossAggregation parse_loss_aggregation(const std::string& name) {
  if (name == "token_mean") return LossAggregation::kTokenMean;
  if (name == "seq_mean_token_mean") return LossAggregation::kSeqMeanTokenMean;
  if (name == "seq_mean_token_sum_norm") return LossAggregation::kSeqMeanTokenSumNorm;
  ZRL_FAIL(
      "unknown loss aggregation '{}': expected token_mean, seq_mean_token_mean or seq_mean_token_sum_norm",
      name);
}

std::string to_string(LossAggregation mode) {
  switch (mode) {
    case LossAggregation::kTokenMean:
      return "token_mean";
    case LossAggregation::kSeqMeanTokenMean:
      return "seq_mean_token_mean";
    case LossAggregation::kSeqMeanTokenSumNorm:
      return "seq_mean_token_sum_norm";
  }
  return "?";
}

LossCounts count_loss_terms(const torch::Tensor& mask) {
  ZRL_CHECK(mask.dim() == 2, "count_loss_terms: mask must be [B, T], got {}", c10::str(mask.sizes()));
  auto per_sequence = mask.to(torch::kFloat64).sum(-1);
  LossCounts counts;
  counts.tokens = per_sequence.sum().item<double>();
  counts.sequences = (per_sequence > 0).sum().item<double>();
  return counts;
}

torch::Tensor aggregate_loss(const torch::Tensor& loss, const torch::Tensor& mask,
                             const AggregationOptions& options, const LossCounts& global) {
  check_same_shape(loss, mask, "aggregate_loss(loss, mask)");
  // where(), not loss * mask: a NaN/inf in a padded position must not reach the sum or the gradient.
  auto kept = torch::where(mask.to(torch::kBool), loss.to(torch::kFloat32),
                           torch::zeros({}, loss.options().dtype(torch::kFloat32)));
  torch::Tensor numerator;
  double denominator = 0;
  switch (options.mode) {
    case LossAggregation::kTokenMean:
      numerator = kept.sum();
      denominator = global.tokens;
      break;
    case LossAggregation::kSeqMeanTokenMean: {
      auto lengths = mask.to(torch::kFloat32).sum(-1).clamp_min(1);
      numerator = (kept.sum(-1) / lengths).sum();
      denominator = global.sequences;
      break;
    }
    case LossAggregation::kSeqMeanTokenSumNorm:
      ZRL_CHECK(
          options.norm_constant > 0,
          "aggregate_loss: seq_mean_token_sum_norm needs norm_constant > 0 (e.g. max_new_tokens), got {}",
          options.norm_constant);
      numerator = kept.sum() / options.norm_constant;
      denominator = global.sequences;
      break;
  }
  if (denominator <= 0) return numerator * 0.0;  // nothing counts: zero loss, zero (not NaN) gradient
  return numerator / denominator;
}

double masked_sum(const torch::Tensor& x, const torch::Tensor& mask) {
  check_same_shape(x, mask, "masked_sum(x, mask)");
  auto kept = torch::where(mask.to(torch::kBool), x.detach().to(torch::kFloat64),
                           torch::zeros({}, x.options().dtype(torch::kFloat64)));
  return kept.sum().item<double>();
}

torch::Tensor loss_stat_sums(const PolicyLossTerms& pg, const torch::Tensor& kl, const torch::Tensor& entropy,
                             const torch::Tensor& mask) {
  check_same_shape(pg.loss, mask, "loss_stat_sums(pg.loss, mask)");
  auto keep = mask.to(torch::kBool);
  auto zero = torch::zeros({}, pg.loss.options().dtype(torch::kFloat64));
  auto sum = [&](const torch::Tensor& x) {
    if (!x.defined()) return zero;
    return torch::where(keep, x.detach().to(torch::kFloat64), zero).sum();
  };
  return torch::stack({keep.sum().to(torch::kFloat64), sum(pg.loss), sum(pg.clipped), sum(pg.dual_clipped),
                       sum(kl), sum(entropy)});
}

LossStats read_loss_stats(const torch::Tensor& sums) {
  ZRL_CHECK(sums.dim() == 1 && sums.size(0) == kLossStatCount, "read_loss_stats: expected [{}] sums, got {}",
            kLossStatCount, c10::str(sums.sizes()));
  auto cpu = sums.to(torch::kCPU, torch::kFloat64).contiguous();  // the one host sync
  const double* v = cpu.data_ptr<double>();
  LossStats s;
  s.tokens = v[0];
  if (s.tokens <= 0) return s;
  s.pg_loss = v[1] / s.tokens;
  s.clip_frac = v[2] / s.tokens;
  s.dual_clip_frac = v[3] / s.tokens;
  s.kl = v[4] / s.tokens;
  s.entropy = v[5] / s.tokens;
  return s;
}

}  // namespace zerorl::algo
