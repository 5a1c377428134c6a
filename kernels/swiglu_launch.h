// kernels/swiglu_launch.h: the LibTorch-free entries of kernels/swiglu.cu (compiled by nvcc).
#pragma once

#include <cstdint>

namespace zerorl::kernels {

// y = bf16(bf16(silu(gate)) * up) for y [rows, cols] bf16 contiguous, with gate's element (r, c) at
// gate[r * in_stride + c] and up's at up[r * in_stride + c]: contiguous inputs are one row of n (in_stride
// n); a stacked [rows, 2I] gate/up output is gate = its start, up = start + I, cols I, in_stride 2I. Returns
// nullptr, or the launch error.
const char* launch_silu_mul_bf16(const void* gate, const void* up, void* y, int64_t rows, int64_t cols,
                                 int64_t in_stride, void* stream);

// With a = bf16(silu(gate)): d_up = bf16(dy * a); d_gate = bf16(bf16(dy * up) * silu'(gate)), torch's
// roundings for autograd through silu(gate) * up. gate, up and dy are [rows, cols] contiguous; d_gate's and
// d_up's element (r, c) go to r * out_stride + c: contiguous outputs are one row of n (out_stride n), the
// halves of a stacked [rows, 2I] buffer are d_gate = its start, d_up = start + I, cols I, out_stride 2I.
const char* launch_silu_mul_backward_bf16(const void* gate, const void* up, const void* dy, void* d_gate,
                                          void* d_up, int64_t rows, int64_t cols, int64_t out_stride,
                                          void* stream);

}  // namespace zerorl::kernels
