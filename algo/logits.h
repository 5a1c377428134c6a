// algo/logits.h: per-token log-probabilities and entropies from logits, in float32, chunked over rows so
// no full [B*T, V] log_softmax is materialised. Shared by the trainer (with autograd) and rollout (without).
// Not here: sampling (rollout/), the losses that consume these (losses.h).
#pragma once

#include <torch/torch.h>

namespace zerorl::algo {

// Rows (positions) per chunk: 4096 rows x 152k vocab x 4 B = 2.4 GB of float32 temporaries at most.
constexpr int64_t kLogitsChunkRows = 4096;

// log pi(token) = z[token] / tau - logsumexp(z / tau): gather of log_softmax for the taken tokens only.
//   logits [..., V] any float dtype (bf16 is upcast to float32 chunk by chunk), tokens [...] int64 of the
//   same leading shape (tokens[b, t] is the token whose probability logits[b, t] give, i.e. the caller
//   has already shifted by one). temperature tau > 0: the sampling temperature, so that log-probs match
//   what the sampler drew from (verl and TRL divide logits by it too). Returns [...] float32.
//   Differentiable w.r.t. logits. With fp32 logits and tau = 1 the autograd graph holds only [N] extras.
torch::Tensor token_logprobs(const torch::Tensor& logits, const torch::Tensor& tokens,
                             double temperature = 1.0, int64_t chunk_rows = kLogitsChunkRows);

// Entropy of the softmax distribution per position, H = logsumexp(z) - sum_v softmax(z)_v z_v (with z the
// temperature-scaled logits; this form never takes log 0). logits [..., V] -> [...] float32.
// Differentiable (for an entropy bonus, see LossCoefficients::entropy); under torch::NoGradGuard the
// peak extra memory is one chunk.
torch::Tensor entropy_from_logits(const torch::Tensor& logits, double temperature = 1.0,
                                  int64_t chunk_rows = kLogitsChunkRows);

}  // namespace zerorl::algo
