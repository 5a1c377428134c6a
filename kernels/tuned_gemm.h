// kernels/tuned_gemm.h: y = x w^T for the decode step's bf16 projections through cuBLASLt, with the
// algorithm that ran fastest for the shape among those that give torch's own bits (where zerorl was built
// with nvcc; its twin is torch's linear).
//
// Why: with batch-invariant GEMMs (no split-K), cuBLASLt's heuristic pick for the decode shapes is far from
// the weights' read time (1.5B, 128 rows: 54 us of GEMMs a layer against a 28 us floor, H100). Other
// algorithms without split-K exist; each sums an output element in one sequence, as the pick does. So each
// (rows, N, K) is tuned once: the heuristic's candidates without a split-K reduction run on random inputs,
// those whose output differs from torch's linear in any bit are dropped, and the fastest of the rest is kept.
// The bit check makes it safe in every mode: where torch splits K (batch invariance off) no candidate
// matches and torch's linear runs.
#pragma once

#include <torch/torch.h>

#include "kernels/switch.h"

namespace zerorl::kernels {

// Twin: torch::nn::functional::linear(x, w).
torch::Tensor tuned_linear_reference(const torch::Tensor& x, const torch::Tensor& w);

// Whether tuned_linear takes cuBLASLt: a build with the kernels, "tuned_gemm" enabled, x [..., K] and
// w [N, K] bf16 on one CUDA device, both 256-byte aligned, w contiguous, K and N multiples of 8, and no
// gradient wanted (there is no backward).
bool use_tuned_linear(const torch::Tensor& x, const torch::Tensor& w);

// tuned_linear_reference's bits (use_tuned_linear must hold); no autograd. The first call of a shape tunes
// it (a few ms, outside CUDA graph capture: a shape first seen while capturing runs the twin).
torch::Tensor tuned_linear(const torch::Tensor& x, const torch::Tensor& w);

// What tuning found for one shape: the candidates timed, how many gave torch's bits, and the time of the
// heuristic's first pick and of the kept one (us; 0 where none matched).
struct TunedGemmReport {
  int64_t rows = 0, n = 0, k = 0;
  int candidates = 0, matching = 0;
  double first_us = 0, best_us = 0;
};
std::vector<TunedGemmReport> tuned_gemm_reports();

}  // namespace zerorl::kernels
