// kernels/sample.cpp: the LibTorch side of kernels/sample.h: the twin, and the checks and launch around the
// CUDA kernel.
#include "kernels/sample.h"

#include "core/error.h"

#ifdef ZERORL_CUDA_KERNELS
#include "kernels/cuda_glue.h"
#include "kernels/sample_launch.h"
#endif

namespace zerorl::kernels {

torch::Tensor inverse_cdf_reference(const torch::Tensor& logp, const torch::Tensor& uniforms) {
  ZRL_CHECK(logp.dim() == 2 && uniforms.dim() == 1 && uniforms.size(0) == logp.size(0),
            "kernels::inverse_cdf_reference: logp {} must be [n, V] and uniforms {} [n]",
            c10::str(logp.sizes()), c10::str(uniforms.sizes()));
  auto cdf = logp.exp().cumsum(1);
  auto total = cdf.narrow(1, cdf.size(1) - 1, 1);
  // Float rounding of u * total can reach total: capped just below it, the search ends at the last token
  // with nonzero probability, never past the vocabulary.
  auto below_total = torch::nextafter(total, torch::zeros_like(total));
  auto target = torch::minimum(uniforms.to(cdf.device(), torch::kFloat32).unsqueeze(1) * total, below_total);
  return torch::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true).squeeze(1);
}

bool use_sample_kernel(const torch::Tensor& logits) {
#ifdef ZERORL_CUDA_KERNELS
  return enabled("sample") && logits.is_cuda() && logits.dim() == 2 && logits.size(1) > 0 &&
         logits.size(1) <= sample_tokens_max_vocab() &&
         (logits.scalar_type() == torch::kFloat32 || logits.scalar_type() == torch::kBFloat16);
#else
  (void)logits;
  return false;
#endif
}

torch::Tensor sample_tokens(const torch::Tensor& logits, const torch::Tensor& uniforms) {
#ifdef ZERORL_CUDA_KERNELS
  ZRL_CHECK(use_sample_kernel(logits),
            "kernels::sample_tokens: logits {} ({}) are not 2-D float32/bf16 on CUDA",
            c10::str(logits.sizes()), c10::toString(logits.scalar_type()));
  ZRL_CHECK(uniforms.dim() == 1 && uniforms.size(0) == logits.size(0) && uniforms.device() == logits.device(),
            "kernels::sample_tokens: uniforms {} must be [{}] on the logits' device",
            c10::str(uniforms.sizes()), logits.size(0));
  auto x = logits.contiguous();
  auto u = uniforms.to(torch::kFloat64).contiguous();
  auto tokens = torch::zeros({x.size(0)}, x.options().dtype(torch::kInt64));
  check_launch(launch_sample_tokens(x.data_ptr(), x.scalar_type() == torch::kBFloat16, u.data_ptr<double>(),
                                    tokens.data_ptr<int64_t>(), x.size(0), x.size(1), stream_of(x)),
               "sample_tokens");
  return tokens;
#else
  ZRL_FAIL("kernels::sample_tokens: this build has no CUDA kernels (logits {}, uniforms {})",
           c10::str(logits.sizes()), c10::str(uniforms.sizes()));
#endif
}

}  // namespace zerorl::kernels
