// compat/torch_compat.h: the one place where LibTorch version differences live (Debian's 1.13 on CPU,
// pip's 2.x with CUDA on GPU), guarded by TORCH_VERSION_MAJOR. Not here: any model or algorithm code.
#pragma once

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <string>
#include <vector>

namespace zerorl::compat {

inline std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

// torch >= 2 has fused scaled_dot_product_attention (flash / memory-efficient kernels on CUDA).
constexpr bool kHasSdpa = TORCH_VERSION_MAJOR >= 2;

}  // namespace zerorl::compat

namespace zerorl::compat {

// Fused attention: q [B,H,T,D], k/v [B,H,L,D], mask [B,1,T,L] bool (true = attend). Only callable when
// kHasSdpa; on torch 1.13 it throws (callers use their plain path there).
inline torch::Tensor sdpa(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const torch::Tensor& mask) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, mask);
#else
  (void)q, (void)k, (void)v, (void)mask;
  TORCH_CHECK(false, "scaled_dot_product_attention needs torch >= 2");
#endif
}

// torch >= 2.5: scaled_dot_product_attention takes enable_gqa (K/V with fewer heads than Q, never repeated).
constexpr bool kHasSdpaGqa = TORCH_VERSION_MAJOR > 2 ||
                             (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5);

// Causal attention without a mask: q [B,Hq,T,D], k/v [B,Hkv,T,D] (Hq a multiple of Hkv), query t sees keys
// 0..t. With no mask torch may pick its flash kernel (causal blocks skipped). Only callable when kHasSdpaGqa.
inline torch::Tensor sdpa_causal(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true, std::nullopt,
                                          /*enable_gqa=*/k.size(1) != q.size(1));
#else
  (void)q, (void)k, (void)v;
  TORCH_CHECK(false, "scaled_dot_product_attention with enable_gqa needs torch >= 2.5");
#endif
}

// torch >= 2.9 on CUDA: cuDNN's attention backward as an op of its own, fed a forward's output and softmax
// statistics (the log-sum-exp of each query's scaled scores) instead of recomputing the forward.
constexpr bool kHasCudnnSdpaBackward = TORCH_VERSION_MAJOR > 2 ||
                                       (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9);

// Gradients {dq, dk, dv} of causal attention (no dropout) for dout, q, out [B,Hq,T,D] and k, v [B,Hkv,T,D]
// (Hq a multiple of Hkv), lse [B,Hq,T] float32 contiguous (natural log). Only callable when
// kHasCudnnSdpaBackward; throws c10::Error where cuDNN cannot run the shapes.
inline std::vector<torch::Tensor> sdpa_causal_backward_cudnn(const torch::Tensor& dout,
                                                             const torch::Tensor& q, const torch::Tensor& k,
                                                             const torch::Tensor& v, const torch::Tensor& out,
                                                             const torch::Tensor& lse, double scale) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9)
  const auto unused = torch::zeros({1}, q.options().dtype(torch::kLong));  // dropout's philox seed, offset
  auto [dq, dk, dv] = at::_scaled_dot_product_cudnn_attention_backward(
      dout, q, k, v, out, lse.unsqueeze(-1), unused, unused, torch::Tensor(), torch::Tensor(),
      torch::Tensor(), q.size(2), k.size(2), 0.0, /*is_causal=*/true, scale);
  return {dq, dk, dv};
#else
  (void)dout, (void)q, (void)k, (void)v, (void)out, (void)lse, (void)scale;
  TORCH_CHECK(false, "cuDNN's attention backward op needs torch >= 2.9");
#endif
}

// torch >= 2.8 on CUDA: mm with an output dtype (mm.dtype in native_functions.yaml): bf16/fp16 inputs,
// float32 accumulation and a float32 result, without rounding the product to the input dtype.
constexpr bool kHasMmOutDtype = TORCH_VERSION_MAJOR > 2 ||
                                (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 8);

// a [M,K] @ b [K,N] -> [M,N] float32 for bf16/fp16 CUDA a, b. Only callable when kHasMmOutDtype.
inline torch::Tensor mm_float32_out(const torch::Tensor& a, const torch::Tensor& b) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 8)
  return at::mm(a, b, at::kFloat);
#else
  (void)a, (void)b;
  TORCH_CHECK(false, "mm with out_dtype needs torch >= 2.8");
#endif
}

// torch >= 2.10: cuBLAS can be told not to split a GEMM's reduction dimension (split-K is picked by the
// number of rows, so a row's sum order, and its bf16 bits, would depend on how many rows share the call).
constexpr bool kHasSplitKControl = TORCH_VERSION_MAJOR > 2 ||
                                   (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 10);

// on: bf16/fp16 GEMMs through cuBLASLt without split-K and without reduced-precision sums, so each output
// element is summed in one order whatever the batch; off: torch's defaults. Returns false where torch
// cannot do it (then nothing changes).
inline bool set_batch_invariant_gemm(bool on) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 10)
  auto& ctx = at::globalContext();
  ctx.setAllowBF16ReductionCuBLAS(!on, !on);
  ctx.setAllowFP16ReductionCuBLAS(!on, !on);
  ctx.setBlasPreferredBackend(on ? at::BlasBackend::Cublaslt : at::BlasBackend::Default);
  return true;
#else
  (void)on;
  return false;
#endif
}

// A number that changes when torch's bf16 GEMM settings that set_batch_invariant_gemm touches change (for
// caches of what was measured under one setting); 0 where torch cannot change them.
inline int gemm_settings_key() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 10)
  auto& ctx = at::globalContext();
  return static_cast<int>(ctx.allowBF16ReductionCuBLAS()) * 16 + static_cast<int>(ctx.blasPreferredBackend());
#else
  return 0;
#endif
}

// Restricts scaled_dot_product_attention to one CUDA backend: "math", "efficient", "cudnn", "flash"; "auto"
// enables them all again (torch's default) and lets torch choose. Unknown names and torch < 2.5 throw.
inline void select_sdpa_backend(const std::string& name) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
  TORCH_CHECK(name == "auto" || name == "math" || name == "efficient" || name == "cudnn" || name == "flash",
              "sdpa backend must be auto, math, efficient, cudnn or flash, got ", name);
  auto& ctx = at::globalContext();
  const bool all = name == "auto";
  ctx.setSDPUseMath(all || name == "math");
  ctx.setSDPUseMemEfficient(all || name == "efficient");
  ctx.setSDPUseCuDNN(all || name == "cudnn");
  ctx.setSDPUseFlash(all || name == "flash");
#else
  TORCH_CHECK(name == "auto", "choosing the sdpa backend needs torch >= 2.5, got ", name);
#endif
}

// A CPU generator seeded with `seed` (same stream on every torch version).
inline at::Generator cpu_generator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

}  // namespace zerorl::compat
