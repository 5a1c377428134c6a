// tests/kernels/test_tuned_gemm.cpp: kernels::tuned_linear against torch's linear, bit for bit, at the
// decode step's shapes, with batch-invariant GEMMs and without, and the twin against a naive float64 loop
// (that torch's own bits hold across row counts is the engine-vs-trainer tests' part); tuned_linear_stacked
// against torch's linear on each stacked part. Kernel cases (label gpu through kernels_cuda) skip without
// CUDA or compiled kernels.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "compat/torch_compat.h"
#include "kernels/tuned_gemm.h"
#include "tests/kernels/kernel_test_util.h"

namespace zerorl::kernels {
namespace {

using kernel_test::cuda_bf16;
using kernel_test::differences;
using kernel_test::expect_close;
using kernel_test::kernel_here;
using kernel_test::values;

TEST(TunedGemmTwin, MatchesANaiveLoop) {
  torch::manual_seed(3);
  auto x = torch::randn({2, 3, 16}), w = torch::randn({8, 16});
  const auto xv = values(x), wv = values(w);
  std::vector<double> want(6 * 8, 0.0);
  for (int r = 0; r < 6; ++r)
    for (int n = 0; n < 8; ++n)
      for (int k = 0; k < 16; ++k) want[r * 8 + n] += xv[r * 16 + k] * wv[n * 16 + k];
  expect_close(tuned_linear_reference(x, w), torch::tensor(want).view({2, 3, 8}), 1e-6, "twin vs loop");
  EXPECT_FALSE(use_tuned_linear(x.to(torch::kBFloat16), w.to(torch::kBFloat16))) << "CPU takes the twin";
}

// Restores torch's GEMM settings at the end of a test.
struct InvariantGemms {
  explicit InvariantGemms(bool on) : ok(compat::set_batch_invariant_gemm(on)) {}
  ~InvariantGemms() { compat::set_batch_invariant_gemm(false); }
  bool ok;
};

// Qwen2.5-1.5B's and 0.5B's decode projections (N, K): qkv stacked, o_proj, gate/up, down_proj.
const std::vector<std::pair<int64_t, int64_t>> kShapes{{2048, 1536}, {1536, 1536}, {8960, 1536},
                                                       {1536, 8960}, {1152, 896},  {896, 4864}};

TEST(TunedGemmGpu, BitsAreTorchsWithBatchInvariantGemms) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  const InvariantGemms invariant(true);
  if (!invariant.ok) GTEST_SKIP() << "this torch cannot turn split-K off";
  torch::manual_seed(4);
  for (const auto& [n, k] : kShapes) {
    const auto w = torch::randn({n, k}, cuda_bf16()) * 0.05;
    for (int64_t rows : {1, 5, 64, 128, 256}) {
      const auto x = torch::randn({rows, 1, k}, cuda_bf16());  // [R, 1, K] as the decode step's
      ASSERT_TRUE(use_tuned_linear(x, w));
      const auto y = tuned_linear(x, w);
      const auto want = tuned_linear_reference(x, w);
      const std::string what = std::to_string(rows) + " x " + std::to_string(n) + " x " + std::to_string(k);
      ASSERT_EQ(y.sizes(), want.sizes()) << what;
      EXPECT_TRUE(torch::equal(y, want)) << what << ": " << differences(y, want);
      EXPECT_TRUE(torch::equal(tuned_linear(x, w), y)) << what << ": the second call (tuned) differs";
    }
  }
  // At the rows the engine decodes with (64 and more), tuning found an algorithm with torch's bits for each
  // shape (it may be the heuristic's first pick): the tuned path ran, not the fallback.
  int64_t tuned = 0;
  for (const auto& r : tuned_gemm_reports()) {
    if (r.rows < 64) continue;
    EXPECT_GT(r.matching, 0) << r.rows << " x " << r.n << " x " << r.k << " of " << r.candidates;
    tuned += r.matching > 0;
  }
  EXPECT_GE(tuned, static_cast<int64_t>(kShapes.size()) * 3);
}

TEST(TunedGemmGpu, BitsAreTorchsWithSplitK) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  const InvariantGemms split_k(false);
  torch::manual_seed(5);
  // Torch may split K here: no candidate without split-K matches it, and torch's linear runs instead.
  for (const auto& [n, k] : kShapes) {
    const auto w = torch::randn({n, k}, cuda_bf16()) * 0.05;
    for (int64_t rows : {16, 64}) {
      const auto x = torch::randn({rows, k}, cuda_bf16());
      const auto y = tuned_linear(x, w), want = tuned_linear_reference(x, w);
      EXPECT_TRUE(torch::equal(y, want)) << rows << " x " << n << " x " << k << ": " << differences(y, want);
    }
  }
}

// The tuning report of one shape (all fields zero if it was never tuned).
TunedGemmReport report_for(int64_t rows, int64_t n, int64_t k, int64_t parts) {
  for (const auto& r : tuned_gemm_reports())
    if (r.rows == rows && r.n == n && r.k == k && r.parts == parts) return r;
  return {};
}

TEST(TunedGemmGpu, StackedIsUndefinedOrThePartsBits) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  const InvariantGemms invariant(true);
  if (!invariant.ok) GTEST_SKIP() << "this torch cannot turn split-K off";
  torch::manual_seed(6);
  // gate_proj and up_proj of Qwen2.5-1.5B and 0.5B (N, K per part), stacked as model::MLPImpl stores them.
  int64_t ran = 0, fell_back = 0;
  for (const auto& [n, k] : std::vector<std::pair<int64_t, int64_t>>{{8960, 1536}, {4864, 896}}) {
    const auto w = torch::randn({2 * n, k}, cuda_bf16()) * 0.05;
    for (int64_t rows : {1, 64, 128}) {
      const auto x = torch::randn({rows, 1, k}, cuda_bf16());
      ASSERT_TRUE(use_tuned_linear(x, w));
      const auto y = tuned_linear_stacked(x, w, 2);
      const std::string what = std::to_string(rows) + " x 2*" + std::to_string(n) + " x " + std::to_string(k);
      if (!y.defined()) {  // only where no candidate gave the parts' bits (not a failed call)
        ++fell_back;
        EXPECT_EQ(report_for(rows, 2 * n, k, 2).matching, 0) << what;
        continue;
      }
      ++ran;
      const auto want = torch::cat(
          {tuned_linear_reference(x, w.narrow(0, 0, n)), tuned_linear_reference(x, w.narrow(0, n, n))}, -1);
      ASSERT_EQ(y.sizes(), want.sizes()) << what;
      EXPECT_TRUE(torch::equal(y, want)) << what << ": " << differences(y, want);
      EXPECT_TRUE(torch::equal(tuned_linear_stacked(x, w, 2), y)) << what << ": the second call differs";
    }
  }
  std::cout << "[ stacked  ] " << ran << " shapes ran one GEMM, " << fell_back << " fell back\n";
  for (const auto& r : tuned_gemm_reports()) {
    if (r.parts != 2) continue;
    std::cout << "[ stacked  ] " << r.rows << " x " << r.n << " x " << r.k << ": " << r.matching << " of "
              << r.candidates << " match, first " << r.first_us << " us, best " << r.best_us << " us\n";
    EXPECT_EQ(r.matching > 0, r.best_us > 0) << r.rows << " x " << r.n << " x " << r.k;
  }
  EXPECT_THROW(
      tuned_linear_stacked(torch::randn({4, 1536}, cuda_bf16()), torch::randn({24, 1536}, cuda_bf16()), 5),
      std::exception)
      << "24 rows do not split into 5 parts";
}

}  // namespace
}  // namespace zerorl::kernels
