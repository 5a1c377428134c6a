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

// Whether linear_float32_token_logprobs takes these tensors: bf16 CUDA hidden [..., H] and weight [V, H],
// torch's mm with a float32 output (torch >= 2.8) and the token log-prob kernel (kernels/token_logprobs.h);
// the kernel switch fused_lm_head (ZERORL_KERNELS_OFF=fused_lm_head) turns it off.
bool float32_lm_head_fused(const torch::Tensor& hidden, const torch::Tensor& weight);

// token_logprobs_entropy of the float32 logits = hidden @ weight^T as one autograd node: the logits come from
// mm with a float32 output (the values model::linear_float32 gives the trainer and the engine; algo never
// includes model) and are kept for backward as the two nodes keep them, and the logp and entropy are the
// kernel's, so both match the two nodes bit for bit; so do the gradients. What changes is backward: it writes
// d logp / d logits once, in bf16 straight from the kernel, where the two nodes write it in float32 and cast
// it (per logit 8 of the 18 bytes that backward moves, and a float32 [N, V] temporary).
// Needs float32_lm_head_fused(hidden, weight); tokens [...] int64 as for linear_token_logprobs.
LinearLogprobs linear_float32_token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                             const torch::Tensor& tokens, double temperature = 1.0);

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
