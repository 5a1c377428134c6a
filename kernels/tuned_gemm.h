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
// matches and torch's linear runs. tuned_linear_stacked runs gate_proj and up_proj as one GEMM over their
// stacked weights, with the bits of the two projections run apart.
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

// y = x w^T where w [parts * N, K] stacks the weights of `parts` projections of x (the decode step's
// gate_proj and up_proj, model::MLPImpl::stacked_gate_up_weight): one GEMM where the model runs `parts`.
// A candidate is kept only if it gives the bits of torch's linear run on each part separately, side by side
// (torch's own pick for the stacked N may be another kernel: the parts are the reference). use_tuned_linear
// must hold and `parts` divide w's rows. Returns an undefined tensor where no candidate gives those bits, or
// where the shape is first seen during CUDA graph capture: the caller then runs the parts on their own.
torch::Tensor tuned_linear_stacked(const torch::Tensor& x, const torch::Tensor& w, int64_t parts);

// What tuning found for one shape: the candidates timed, how many gave torch's bits, and the time of the
// heuristic's first pick and of the kept one (us; 0 where none matched). n is the GEMM's (all parts); parts:
// the projections stacked in it (tuned_linear_stacked), 1 for tuned_linear.
struct TunedGemmReport {
  int64_t rows = 0, n = 0, k = 0;
  int candidates = 0, matching = 0;
  double first_us = 0, best_us = 0;
  int64_t parts = 1;
};
std::vector<TunedGemmReport> tuned_gemm_reports();

}  // namespace zerorl::kernels
