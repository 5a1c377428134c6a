// kernels/sample_launch.h: the LibTorch-free entry of kernels/sample.cu (compiled by nvcc).
#pragma once

#include <cstdint>

namespace zerorl::kernels {

// The largest vocabulary the kernel takes (its per-chunk sums live in shared memory).
int64_t sample_tokens_max_vocab();

// Inverse-CDF draws from softmax(logits) per row: tokens[r] = the first v whose cumulative probability
// exceeds float(uniforms[r]) * total (capped just below the total). logits [rows, vocab] contiguous,
// float32 or (logits_bf16) bf16, vocab <= sample_tokens_max_vocab(); uniforms [rows] float64. One block
// per row. Returns nullptr, or the error.
const char* launch_sample_tokens(const void* logits, bool logits_bf16, const double* uniforms,
                                 int64_t* tokens, int64_t rows, int64_t vocab, void* stream);

}  // namespace zerorl::kernels
