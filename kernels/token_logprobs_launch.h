// kernels/token_logprobs_launch.h: the LibTorch-free entries of kernels/token_logprobs.cu (compiled by nvcc).
#pragma once

#include <cstdint>

namespace zerorl::kernels {

// logits [rows, vocab] contiguous, float32 or (logits_bf16) bf16; ids [rows] int64; with z = logits / T:
// logp[r] = log_softmax(z)[ids[r]], entropy[r] = -sum p log p, lse[r] = logsumexp(z), all float32 [rows].
// One block per row, one read of the row. Returns nullptr, or the launch error.
const char* launch_token_logprobs(const void* logits, bool logits_bf16, const int64_t* ids, float* logp,
                                  float* entropy, float* lse, int64_t rows, int64_t vocab, float temperature,
                                  void* stream);

// dlogits [rows, vocab] (float32, or bf16 with out_bf16) = grad[r] (onehot(ids[r]) - exp(z - lse[r])) / T:
// the gradient of sum_r grad[r] logp[r] with respect to the logits. One read of the row, one write.
const char* launch_token_logprobs_backward(const void* logits, bool logits_bf16, const int64_t* ids,
                                           const float* lse, const float* grad, void* dlogits, bool out_bf16,
                                           int64_t rows, int64_t vocab, float temperature, void* stream);

}  // namespace zerorl::kernels
