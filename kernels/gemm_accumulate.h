// kernels/gemm_accumulate.h: acc += a^T b into a float32 accumulator from bf16 operands, as one cuBLAS GEMM
// with beta = 1 (bf16 products summed in float32 and added to acc without rounding to bf16 on the way),
// where zerorl was built with nvcc; its twin is the same sum through LibTorch in float32.
//
// Why: the LM head's weight gradient is summed over chunks of rows (algo/logits.cpp) into a float32 [V, H]
// buffer. Through LibTorch each chunk wrote its bf16 product (V x H) and a second kernel added it to the
// float32 buffer: for Qwen2.5-0.5B's 151,936 x 896 head that is 1.6 GB of memory traffic a chunk besides the
// GEMM, and a bf16 rounding of every chunk's sum. cuBLAS's GEMM takes a float32 C with bf16 A and B
// (cublasGemmEx, CUBLAS_COMPUTE_32F) and adds into it in its epilogue.
//
// With splits > 1 the K rows are cut into `splits` blocks, each block's product goes to its own float32
// [M, N] slice in one strided-batched GEMM, and the slices are summed into acc: a split-K of our own, for
// weight gradients whose output is too small to fill the GPU (Qwen2.5-0.5B's k_proj and v_proj: 128 x 896
// over 8192 tokens is 7 output tiles of 128 x 128 for 132 SMs; torch's batch-invariant setting, which the
// forward needs, turns cuBLAS's own split-K off for every GEMM of the process).
#pragma once

#include <torch/torch.h>

#include "kernels/switch.h"

namespace zerorl::kernels {

// Twin: acc += a^T b with a and b upcast to float32 (acc [M, N] float32, a [K, M], b [K, N]).
void gemm_accumulate_reference(torch::Tensor& acc, const torch::Tensor& a, const torch::Tensor& b);

// Whether gemm_accumulate takes cuBLAS: a build with the kernels, "gemm_accumulate" enabled, acc [M, N]
// float32 contiguous, a [K, M] and b [K, N] bf16 contiguous, all on one CUDA device, no gradient wanted.
bool use_gemm_accumulate(const torch::Tensor& acc, const torch::Tensor& a, const torch::Tensor& b);

// acc += a^T b in float32 through cuBLAS (use_gemm_accumulate must hold; splits >= 1 must divide K). The sum
// order is cuBLAS's (with splits, each block's, then the blocks in order), so the bits differ from the
// twin's within float32 rounding; the same call gives the same bits.
void gemm_accumulate(torch::Tensor& acc, const torch::Tensor& a, const torch::Tensor& b, int64_t splits = 1);

}  // namespace zerorl::kernels
