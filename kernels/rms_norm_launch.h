// kernels/rms_norm_launch.h: the LibTorch-free entries of kernels/rms_norm.cu (compiled by nvcc).
#pragma once

#include <cstdint>

namespace zerorl::kernels {

// x, delta (nullable: no residual add), sum_out (with delta), y: [rows, hidden] bf16, contiguous; weight
// [hidden] bf16; rstd [rows] float32; stream: a cudaStream_t. Returns nullptr, or the launch error.
const char* launch_rms_norm_bf16(const void* x, const void* delta, const void* weight, void* sum_out, void* y,
                                 float* rstd, int64_t rows, int64_t hidden, float eps, void* stream);

// Backward of y = weight * bf16(h * rstd), h = float(sum): dx = d/d(sum) [rows, hidden] bf16, plus
// d_residual (nullable, [rows, hidden] bf16: the gradient that reaches sum by the residual path, added as
// torch's bf16 add would); dw_partial [blocks, hidden] float32: block b's sum over its rows of
// dy * bf16(h * rstd) (the caller sums over blocks). All contiguous; blocks <= rows.
const char* launch_rms_norm_backward_bf16(const void* sum, const void* weight, const float* rstd,
                                          const void* dy, const void* d_residual, void* dx, float* dw_partial,
                                          int64_t rows, int64_t hidden, int64_t blocks, void* stream);

}  // namespace zerorl::kernels
