// rollout/sampling.cpp: batched samplers on torch tensors (one code path for CPU and CUDA).
// Not here: the decode loop. Inverse-CDF sampling keeps one uniform per row and step, so the random
// stream of a row never depends on the batch it shares (no per-row torch::Generator launches on GPU).
#include "rollout/sampling.h"

#include <limits>

#include "core/error.h"
#include "core/seed.h"
#include "kernels/sample.h"
#include "kernels/token_logprobs.h"

namespace zerorl::rollout {

void SamplerParams::validate() const {
  ZRL_CHECK(temperature >= 0.0, "sampling temperature must be >= 0 (0 = greedy), got {}", temperature);
  ZRL_CHECK(top_p > 0.0 && top_p <= 1.0, "sampling top_p must be in (0, 1], got {}", top_p);
  ZRL_CHECK(min_p >= 0.0 && min_p < 1.0, "sampling min_p must be in [0, 1), got {}", min_p);
  ZRL_CHECK(top_k >= 0, "sampling top_k must be >= 0 (0 = off), got {}", top_k);
}

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Keeps the k largest logits per row (ties at the k-th value are all kept, like HF's TopKLogitsWarper).
torch::Tensor apply_top_k(const torch::Tensor& scaled, int64_t k) {
  if (k <= 0 || k >= scaled.size(1)) return scaled;
  auto kth = std::get<0>(scaled.topk(k, /*dim=*/1)).narrow(1, k - 1, 1);
  return scaled.masked_fill(scaled < kth, kNegInf);
}

// Keeps the smallest set of highest-probability tokens whose mass reaches top_p (at least one token):
// a token is dropped when the mass strictly before it, in descending order, is already >= top_p.
torch::Tensor apply_top_p(const torch::Tensor& scaled, double top_p) {
  if (top_p >= 1.0) return scaled;
  auto sorted = scaled.sort(/*dim=*/1, /*descending=*/true);
  auto values = std::get<0>(sorted);
  auto order = std::get<1>(sorted);
  auto probs = values.softmax(1);
  auto mass_before = probs.cumsum(1) - probs;
  auto drop_sorted = mass_before >= top_p;
  auto drop = torch::zeros_like(drop_sorted).scatter(1, order, drop_sorted);
  return scaled.masked_fill(drop, kNegInf);
}

// Drops tokens whose probability is below min_p times the row's largest probability.
torch::Tensor apply_min_p(const torch::Tensor& scaled, double min_p) {
  if (min_p <= 0.0) return scaled;
  auto logp = scaled.log_softmax(1);
  auto max_logp = std::get<0>(logp.max(1, /*keepdim=*/true));
  return scaled.masked_fill(logp < max_logp + std::log(min_p), kNegInf);
}

}  // namespace

torch::Tensor sampling_logprobs(const torch::Tensor& logits, const SamplerParams& params) {
  ZRL_CHECK(logits.dim() == 2, "sampling_logprobs: logits must be [B, V], got {} dims", logits.dim());
  ZRL_CHECK(!params.greedy(), "sampling_logprobs: undefined for greedy (temperature 0)");
  auto scaled = logits.to(torch::kFloat);
  if (params.temperature != 1.0) scaled = scaled / params.temperature;
  scaled = apply_top_k(scaled, params.top_k);
  scaled = apply_top_p(scaled, params.top_p);
  scaled = apply_min_p(scaled, params.min_p);
  return scaled.log_softmax(1);
}

SampleResult sample(const torch::Tensor& logits, const SamplerParams& params, const torch::Tensor& uniforms) {
  ZRL_CHECK(logits.dim() == 2, "sample: logits must be [B, V], got {} dims", logits.dim());
  const auto rows = logits.size(0);
  const bool fused = kernels::use_token_logprobs_kernel(logits);  // the trainer's log-probs: its bits
  SampleResult out;
  if (params.greedy()) {
    auto policy = logits.to(torch::kFloat).log_softmax(1);
    out.tokens = policy.argmax(1);
    out.logprobs_policy = fused ? kernels::token_logprobs(logits, out.tokens, 1.0).logp
                                : policy.gather(1, out.tokens.unsqueeze(1)).squeeze(1);
    out.logprobs = torch::zeros_like(out.logprobs_policy);
    return out;
  }
  ZRL_CHECK(uniforms.dim() == 1 && uniforms.size(0) == rows,
            "sample: uniforms must be [{}] (one per row), got {} dims", rows, uniforms.dim());
  const bool plain = params.temperature == 1.0 && !params.filtered();
  if (plain && fused && kernels::use_sample_kernel(logits)) {  // one kernel draws, one gives the log-probs
    out.tokens = kernels::sample_tokens(logits, uniforms.to(logits.device()));
    out.logprobs_policy = kernels::token_logprobs(logits, out.tokens, 1.0).logp;
    out.logprobs = out.logprobs_policy;
    return out;
  }
  auto policy = logits.to(torch::kFloat).log_softmax(1);
  auto logp = plain ? policy : sampling_logprobs(logits, params);
  out.tokens = kernels::inverse_cdf_reference(logp, uniforms);
  if (fused) {
    out.logprobs_policy = kernels::token_logprobs(logits, out.tokens, 1.0).logp;
    out.logprobs = plain               ? out.logprobs_policy
                   : params.filtered() ? logp.gather(1, out.tokens.unsqueeze(1)).squeeze(1)
                                       : kernels::token_logprobs(logits, out.tokens, params.temperature).logp;
    return out;
  }
  auto index = out.tokens.unsqueeze(1);
  out.logprobs = logp.gather(1, index).squeeze(1);
  out.logprobs_policy = plain ? out.logprobs : policy.gather(1, index).squeeze(1);
  return out;
}

uint64_t stream_seed(uint64_t seed, uint64_t step, uint64_t prompt, uint64_t sample) {
  return mix_seed({seed, step, prompt, sample});
}

double stream_uniform(uint64_t row_seed, uint64_t position) {
  const uint64_t bits = mix_seed({row_seed, position}) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

}  // namespace zerorl::rollout
