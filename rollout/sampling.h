// rollout/sampling.h: batched token samplers (greedy, temperature, top-k, top-p, min-p) on a logits
// matrix, with per-row counter-based random streams. Not here: stop rules, KV cache, the decode loop.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace zerorl::rollout {

// Filters apply in this order (as in HF transformers' warpers and vLLM): temperature, top-k, top-p,
// min-p. temperature == 0 means greedy (argmax of the raw logits). top_k <= 0, top_p >= 1 and
// min_p <= 0 disable their filter.
struct SamplerParams {
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  double min_p = 0.0;

  bool greedy() const { return temperature <= 0.0; }
  bool filtered() const { return top_k > 0 || top_p < 1.0 || min_p > 0.0; }
  void validate() const;  // throws naming the bad value
};

// One sampled token per row.
//   tokens           [B] int64
//   logprobs         [B] float32: log-probability under the distribution actually sampled from
//                    (after temperature and filters; 0 for greedy, a point mass)
//   logprobs_policy  [B] float32: log-probability under the unmodified policy, log_softmax(logits)
//                    at temperature 1 (the trainer's importance-ratio denominator; on CUDA through
//                    kernels/token_logprobs, where the trainer's update takes its own)
struct SampleResult {
  torch::Tensor tokens;
  torch::Tensor logprobs;
  torch::Tensor logprobs_policy;
};

// log-probabilities of the sampling distribution: [B, V] float32, filtered entries = -inf.
// Not defined for greedy. logits: [B, V], any float dtype, any device.
torch::Tensor sampling_logprobs(const torch::Tensor& logits, const SamplerParams& params);

// Samples one token per row by inverse-CDF: token = first index whose cumulative probability exceeds
// uniforms[b] * total. uniforms: [B] float64 in [0, 1) on any device (one draw per row and step, see
// stream_uniform), so a row's result depends only on its own logits and its own stream.
SampleResult sample(const torch::Tensor& logits, const SamplerParams& params, const torch::Tensor& uniforms);

// Per-sample stream: row_seed = mix_seed({seed, step, prompt, sample}); the draw for generated position
// t (0-based new-token index) is a pure function of (row_seed, t): uniform in [0, 1), 53 bits.
uint64_t stream_seed(uint64_t seed, uint64_t step, uint64_t prompt, uint64_t sample);
double stream_uniform(uint64_t row_seed, uint64_t position);

}  // namespace zerorl::rollout
