// algo/logits.h: per-token log-probabilities and entropies from logits, in float32, chunked over rows so
// no full [B*T, V] log_softmax is materialised. Shared by the trainer (with autograd) and rollout (without).
// Not here: sampling (rollout/), the losses that consume these (losses.h).
#pragma once

#include <torch/torch.h>

namespace zerorl::algo {

// Rows (positions) per chunk: 2048 rows x 152k vocab x 4 B = 1.2 GB per float32 temporary (a few live at
// once). Without autograd this bounds the extra memory; with autograd see each function's note.
constexpr int64_t kLogitsChunkRows = 2048;

// log pi(token) = z[token] / tau - logsumexp(z / tau): gather of log_softmax for the taken tokens only.
//   logits [..., V] any float dtype (bf16 is upcast to float32 chunk by chunk), tokens [...] int64 of the
//   same leading shape (tokens[b, t] is the token whose probability logits[b, t] give, i.e. the caller
//   has already shifted by one). temperature tau > 0: the sampling temperature, so that log-probs match
//   what the sampler drew from (verl and TRL divide logits by it too). Returns [...] float32.
//   Computed as log_softmax(z)[token], the sampler's own formula (rollout/sampling.cpp), so the same logits
//   give the engine's bits. Differentiable w.r.t. logits: the graph keeps only the logits and tokens, and
//   backward recomputes each chunk's softmax into one [N, V] gradient of the logits' dtype.
torch::Tensor token_logprobs(const torch::Tensor& logits, const torch::Tensor& tokens,
                             double temperature = 1.0, int64_t chunk_rows = kLogitsChunkRows);

// Entropy of the softmax distribution per position, H = logsumexp(z) - sum_v softmax(z)_v z_v (with z the
// temperature-scaled logits; this form never takes log 0; -inf logits, e.g. top-k-masked tokens, count as
// probability 0). logits [..., V] -> [...] float32.
// Differentiable (for an entropy bonus, see LossCoefficients::entropy); under torch::NoGradGuard the
// peak extra memory is one chunk.
torch::Tensor entropy_from_logits(const torch::Tensor& logits, double temperature = 1.0,
                                  int64_t chunk_rows = kLogitsChunkRows);

struct LinearLogprobs {
  torch::Tensor logp;     // [...] float32, differentiable w.r.t. hidden and weight
  torch::Tensor entropy;  // [...] float32, detached (a metric; use entropy_from_logits for an entropy bonus)
};

// token_logprobs (differentiable, bit-equal to it) and, detached, entropy_from_logits (to float rounding)
// in one walk over the logits: what the update needs when the entropy is a metric, not a loss term.
LinearLogprobs token_logprobs_entropy(const torch::Tensor& logits, const torch::Tensor& tokens,
                                      double temperature = 1.0, int64_t chunk_rows = kLogitsChunkRows);

// token_logprobs and entropy_from_logits of logits = hidden @ weight^T, WITHOUT ever holding the [N, V]
// logits: forward walks chunk_rows rows at a time keeping none of them; backward recomputes each
// chunk's logits (one extra lm_head matmul) and forms dz = g (onehot - softmax) / tau per chunk. The idea
// of Liger-Kernel's fused linear cross-entropy and of Wijmans et al. 2024 "Cut Your Losses in Large-
// Vocabulary Language Models". Peak extra memory O(chunk_rows * V) instead of O(N * V) (plus a float32
// [V, H] gradient accumulator when weight is bf16/fp16).
//   hidden [..., H] (the decoder's final normed hidden states of the positions that predict `tokens`),
//   weight [V, H] (lm_head, possibly the tied embedding), tokens [...] int64, temperature tau > 0.
LinearLogprobs linear_token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                     const torch::Tensor& tokens, double temperature = 1.0,
                                     int64_t chunk_rows = kLogitsChunkRows);

}  // namespace zerorl::algo
