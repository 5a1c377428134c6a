// kernels/rms_norm_launch.h: the LibTorch-free entry of kernels/rms_norm.cu (compiled by nvcc).
#pragma once

#include <cstdint>

namespace zerorl::kernels {

// x, delta (nullable: no residual add), sum_out (with delta), y: [rows, hidden] bf16, contiguous; weight
// [hidden] bf16; rstd [rows] float32; stream: a cudaStream_t. Returns nullptr, or the launch error.
const char* launch_rms_norm_bf16(const void* x, const void* delta, const void* weight, void* sum_out, void* y,
                                 float* rstd, int64_t rows, int64_t hidden, float eps, void* stream);

}  // namespace zerorl::kernels
