// model/split_linear.h: a linear layer whose weight gradient is summed in blocks of rows (a split-K of our
// own, kernels::gemm_accumulate with splits), for the update's projections whose weight is too small to fill
// the GPU with one GEMM: Qwen2.5's k_proj and v_proj (128 x 896 at 0.5B, 256 x 1536 at 1.5B) over 8192
// tokens. torch's batch-invariant setting, which the forward needs for the engine-vs-trainer bits, turns
// cuBLAS's own split-K off for every GEMM of the process, backward included; there the 0.5B k/v weight
// gradients ran on 8 CTAs of 132 SMs, 19 ms of a 154 ms update (H100 profile,
// bench/results/update_kernels_h100.json).
#pragma once

#include <torch/torch.h>

namespace zerorl::model {

// Blocks to cut `rows` into for the weight gradient of a [out, in] weight: 1 (no split) unless the weight
// has fewer than 32 output tiles of 128 x 128; then up to 16 blocks, enough for ~128 tiles in all, of at
// least 256 rows each, a divisor of rows.
int64_t weight_grad_splits(int64_t rows, int64_t out, int64_t in);

// Whether linear_split_weight_grad applies: grad mode on, a weight that wants a gradient, x and weight bf16
// on CUDA, the kernels built and the switch split_weight_grad on, and weight_grad_splits(...) > 1.
bool use_split_weight_grad(const torch::Tensor& x, const torch::Tensor& weight);

// y = x W^T + b (b may be undefined) with torch's linear's forward bits and input gradient; W's gradient
// summed in weight_grad_splits blocks through kernels::gemm_accumulate (float32, then rounded once to W's
// dtype), b's as the sum of dy over rows. Needs use_split_weight_grad(x, weight).
torch::Tensor linear_split_weight_grad(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias);

}  // namespace zerorl::model
