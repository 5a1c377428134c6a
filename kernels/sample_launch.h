// kernels/sample_launch.h: the LibTorch-free entry of kernels/sample.cu (compiled by nvcc).
#pragma once

#include <cstdint>

namespace zerorl::kernels {

// Inverse-CDF draws from softmax(logits) per row: tokens[r] = the first v whose cumulative probability
// exceeds float(uniforms[r]) * total (capped just below the total). logits [rows, vocab] contiguous,
// float32 or (logits_bf16) bf16; uniforms [rows] float64. One block per row. Returns nullptr, or the error.
const char* launch_sample_tokens(const void* logits, bool logits_bf16, const double* uniforms,
                                 int64_t* tokens, int64_t rows, int64_t vocab, void* stream);

}  // namespace zerorl::kernels
