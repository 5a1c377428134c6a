// tests/kernels/test_gemm_accumulate.cpp: kernels::gemm_accumulate (acc += a^T b into float32 from bf16)
// against its twin, with a tolerance scaled to each element's sum of |products| (float32 sums in another
// order), and the twin against a naive float64 loop. Kernel cases (label gpu through kernels_cuda) skip
// without CUDA or compiled kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/gemm_accumulate.h"
#include "tests/kernels/kernel_test_util.h"

namespace zerorl::kernels {
namespace {

using kernel_test::kernel_here;
using kernel_test::values;

TEST(GemmAccumulateTwin, MatchesANaiveLoop) {
  torch::manual_seed(5);
  const int64_t K = 7, M = 5, N = 3;
  auto a = torch::randn({K, M}), b = torch::randn({K, N}), acc = torch::randn({M, N});
  const auto av = values(a), bv = values(b);
  auto want = values(acc);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) want[i * N + j] += av[k * M + i] * bv[k * N + j];
  gemm_accumulate_reference(acc, a, b);
  const auto got = values(acc);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5 * (1 + std::abs(want[i]))) << i;
  EXPECT_FALSE(use_gemm_accumulate(acc, a.to(torch::kBFloat16), b.to(torch::kBFloat16))) << "CPU: the twin";
}

// Each element of the cuBLAS sum against the twin's, within float32 rounding of its sum of |terms|: the
// start value plus the bf16 products, each exact in float32.
void expect_sum_close(int64_t K, int64_t M, int64_t N, int rounds, int64_t splits = 1) {
  const auto f32 = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat32);
  auto acc = torch::randn({M, N}, f32), want = acc.clone();
  auto bound = acc.abs();
  for (int r = 0; r < rounds; ++r) {  // a chunked sum, as the LM head's weight gradient
    auto a = torch::randn({K, M}, f32).to(torch::kBFloat16),
         b = torch::randn({K, N}, f32).to(torch::kBFloat16);
    ASSERT_TRUE(use_gemm_accumulate(acc, a, b));
    gemm_accumulate(acc, a, b, splits);
    gemm_accumulate_reference(want, a, b);
    bound += torch::matmul(a.t().to(torch::kFloat32).abs(), b.to(torch::kFloat32).abs());
  }
  // Two float32 sums of up to rounds * K + 1 terms: each off by at most ~terms * 2^-24 of the sum of |terms|.
  const double rel = 2.0 * static_cast<double>(rounds * K + 1) * std::ldexp(1.0, -24);
  const auto excess = ((acc - want).abs() - bound * rel).max().item<float>();
  EXPECT_LE(excess, 0.f) << K << "x" << M << "x" << N << ", " << rounds << " rounds, " << splits << " splits";
}

TEST(GemmAccumulateGpu, EqualsTheTwinWithinFloat32Rounding) {
  if (!kernel_here()) GTEST_SKIP() << "needs CUDA and the compiled kernels";
  torch::manual_seed(11);
  expect_sum_close(64, 40, 24, 1);
  expect_sum_close(1000, 136, 72, 3);       // no dimension a multiple of 128
  expect_sum_close(2048, 1024, 896, 2);     // a chunk of the LM head's gradient, a narrower vocabulary
  expect_sum_close(8192, 128, 896, 1, 16);  // 0.5B's k_proj weight gradient in 16 blocks of rows
  expect_sum_close(1000, 136, 72, 2, 4);    // blocks of 250 rows, no dimension a multiple of 128
}

TEST(GemmAccumulateGpu, SplitsAreDeterministicAndMustDivideK) {
  if (!kernel_here()) GTEST_SKIP() << "needs CUDA and the compiled kernels";
  const auto bf = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  const auto a = torch::randn({4096, 128}, bf), b = torch::randn({4096, 896}, bf);
  auto one = torch::zeros({128, 896}, bf.dtype(torch::kFloat32)), two = one.clone();
  gemm_accumulate(one, a, b, 16);
  gemm_accumulate(two, a, b, 16);
  EXPECT_TRUE(torch::equal(one, two)) << "the same call, the same bits";
  EXPECT_THROW(gemm_accumulate(one, a, b, 3), std::exception) << "3 does not divide 4096";
}

TEST(GemmAccumulateGpu, TakesOnlyWhatItCanRun) {
  if (!kernel_here()) GTEST_SKIP() << "needs CUDA and the compiled kernels";
  const auto bf = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  auto acc = torch::zeros({8, 4}, bf.dtype(torch::kFloat32));
  auto a = torch::ones({16, 8}, bf), b = torch::ones({16, 4}, bf);
  EXPECT_TRUE(use_gemm_accumulate(acc, a, b));
  EXPECT_FALSE(use_gemm_accumulate(acc.to(torch::kBFloat16), a, b)) << "a bf16 accumulator";
  EXPECT_FALSE(use_gemm_accumulate(acc, a.t().contiguous().t(), b)) << "a not contiguous";
  EXPECT_FALSE(use_gemm_accumulate(acc, a.to(torch::kFloat32), b)) << "float32 operands";
  EXPECT_FALSE(use_gemm_accumulate(acc, a.narrow(1, 0, 7), b)) << "shapes that disagree";
  EXPECT_THROW(gemm_accumulate(acc, a.narrow(1, 0, 7), b), std::exception);
  gemm_accumulate(acc, a, b);
  EXPECT_EQ(acc.eq(16.f).all().item<bool>(), true) << "each element a sum of 16 ones";
}

}  // namespace
}  // namespace zerorl::kernels
