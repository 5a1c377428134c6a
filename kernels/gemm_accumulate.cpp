// kernels/gemm_accumulate.cpp: kernels/gemm_accumulate.h. cuBLAS is called directly because LibTorch's
// matmul has no float32 output for bf16 operands that adds into an existing tensor (mm's out_dtype makes a
// new one, torch >= 2.8, which a second kernel would then add).
#include "kernels/gemm_accumulate.h"

#include "core/error.h"

#ifdef ZERORL_CUDA_KERNELS
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cublas_v2.h>
#endif

namespace zerorl::kernels {

void gemm_accumulate_reference(torch::Tensor& acc, const torch::Tensor& a, const torch::Tensor& b) {
  acc.add_(torch::matmul(a.t().to(torch::kFloat32), b.to(torch::kFloat32)));
}

bool use_gemm_accumulate(const torch::Tensor& acc, const torch::Tensor& a, const torch::Tensor& b) {
  const bool needs_grad =
      torch::GradMode::is_enabled() && (acc.requires_grad() || a.requires_grad() || b.requires_grad());
  return enabled("gemm_accumulate") && !needs_grad && acc.is_cuda() && acc.scalar_type() == torch::kFloat32 &&
         a.scalar_type() == torch::kBFloat16 && b.scalar_type() == torch::kBFloat16 && acc.dim() == 2 &&
         a.dim() == 2 && b.dim() == 2 && a.size(0) == b.size(0) && acc.size(0) == a.size(1) &&
         acc.size(1) == b.size(1) && a.device() == acc.device() && b.device() == acc.device() &&
         acc.is_contiguous() && a.is_contiguous() && b.is_contiguous() && a.size(0) <= INT32_MAX &&
         acc.size(0) <= INT32_MAX && acc.size(1) <= INT32_MAX;
}

void gemm_accumulate(torch::Tensor& acc, const torch::Tensor& a, const torch::Tensor& b, int64_t splits) {
  ZRL_CHECK(use_gemm_accumulate(acc, a, b),
            "kernels::gemm_accumulate: acc {} ({}) must be [M, N] float32, a {} ({}) [K, M] and b {} ({}) "
            "[K, N] bf16, all contiguous on one CUDA device, no gradient wanted (use_gemm_accumulate)",
            c10::str(acc.sizes()), c10::toString(acc.scalar_type()), c10::str(a.sizes()),
            c10::toString(a.scalar_type()), c10::str(b.sizes()), c10::toString(b.scalar_type()));
  ZRL_CHECK(splits >= 1 && a.size(0) % splits == 0, "kernels::gemm_accumulate: splits {} must divide K = {}",
            splits, a.size(0));
#ifdef ZERORL_CUDA_KERNELS
  const auto m = static_cast<int>(acc.size(0)), n = static_cast<int>(acc.size(1));
  const auto k = static_cast<int>(a.size(0));
  if (k == 0 || m == 0 || n == 0) return;
  const c10::cuda::CUDAGuard guard(acc.device());
  // Column-major, as cuBLAS sees row-major tensors: acc^T [N, M] += b^T [N, K] (b as stored) times
  // a [K, M] (a as stored, transposed by the call: op T of the [M, K] it sees).
  const float one = 1.f;
  if (splits > 1) {  // block s of K rows into part[s], one strided-batched GEMM; then the blocks summed
    const int kb = k / static_cast<int>(splits);
    auto part = torch::empty({splits, m, n}, acc.options());
    const float zero = 0.f;
    const auto status = cublasGemmStridedBatchedEx(
        at::cuda::getCurrentCUDABlasHandle(), CUBLAS_OP_N, CUBLAS_OP_T, n, m, kb, &one, b.data_ptr(),
        CUDA_R_16BF, n, static_cast<int64_t>(kb) * n, a.data_ptr(), CUDA_R_16BF, m,
        static_cast<int64_t>(kb) * m, &zero, part.data_ptr(), CUDA_R_32F, n, static_cast<int64_t>(m) * n,
        static_cast<int>(splits), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    ZRL_CHECK(status == CUBLAS_STATUS_SUCCESS,
              "kernels::gemm_accumulate: cublasGemmStridedBatchedEx failed (status {})",
              static_cast<int>(status));
    acc.add_(part.sum(0));
    return;
  }
  const auto status = cublasGemmEx(at::cuda::getCurrentCUDABlasHandle(), CUBLAS_OP_N, CUBLAS_OP_T, n, m, k,
                                   &one, b.data_ptr(), CUDA_R_16BF, n, a.data_ptr(), CUDA_R_16BF, m, &one,
                                   acc.data_ptr(), CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  ZRL_CHECK(status == CUBLAS_STATUS_SUCCESS, "kernels::gemm_accumulate: cublasGemmEx failed (status {})",
            static_cast<int>(status));
#endif
}

}  // namespace zerorl::kernels
