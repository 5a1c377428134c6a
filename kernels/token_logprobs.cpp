// kernels/token_logprobs.cpp: the LibTorch side of kernels/token_logprobs.h: the twin, and the checks and
// launches around the CUDA kernels.
#include "kernels/token_logprobs.h"

#include "core/error.h"

#ifdef ZERORL_CUDA_KERNELS
#include "kernels/cuda_glue.h"
#include "kernels/token_logprobs_launch.h"
#endif

namespace zerorl::kernels {
namespace {

#ifdef ZERORL_CUDA_KERNELS
// The shapes both kernels take: logits [n, V], ids [n].
void check_rows(const torch::Tensor& logits, const torch::Tensor& ids, const char* what) {
  ZRL_CHECK(use_token_logprobs_kernel(logits),
            "kernels::{}: logits {} ({}) are not a 2-D float32/bf16 CUDA tensor", what,
            c10::str(logits.sizes()), c10::toString(logits.scalar_type()));
  ZRL_CHECK(ids.dim() == 1 && ids.size(0) == logits.size(0) && ids.scalar_type() == torch::kInt64 &&
                ids.device() == logits.device(),
            "kernels::{}: ids {} must be [{}] int64 on the logits' device", what, c10::str(ids.sizes()),
            logits.size(0));
}
#endif

}  // namespace

TokenLogprobs token_logprobs_reference(const torch::Tensor& logits, const torch::Tensor& ids,
                                       double temperature) {
  auto z = logits.to(torch::kFloat32);
  if (temperature != 1.0) z = z / temperature;
  auto ls = z.log_softmax(1);
  return {ls.gather(1, ids.view({-1, 1})).squeeze(1), ls.exp().mul(ls).nansum(1).neg(), z.logsumexp(1)};
}

bool use_token_logprobs_kernel(const torch::Tensor& logits) {
  return enabled("token_logprobs") && logits.is_cuda() && logits.dim() == 2 && logits.size(1) > 0 &&
         (logits.scalar_type() == torch::kFloat32 || logits.scalar_type() == torch::kBFloat16);
}

TokenLogprobs token_logprobs(const torch::Tensor& logits, const torch::Tensor& ids, double temperature) {
#ifdef ZERORL_CUDA_KERNELS
  check_rows(logits, ids, "token_logprobs");
  ZRL_CHECK(temperature > 0, "kernels::token_logprobs: temperature must be > 0, got {}", temperature);
  auto x = logits.contiguous(), id = ids.contiguous();
  auto options = x.options().dtype(torch::kFloat32);
  const int64_t n = x.size(0);
  TokenLogprobs out{torch::empty({n}, options), torch::empty({n}, options), torch::empty({n}, options)};
  const char* err = launch_token_logprobs(x.data_ptr(), x.scalar_type() == torch::kBFloat16,
                                          id.data_ptr<int64_t>(), out.logp.data_ptr<float>(),
                                          out.entropy.data_ptr<float>(), out.lse.data_ptr<float>(), n,
                                          x.size(1), static_cast<float>(temperature), stream_of(x));
  check_launch(err, "token_logprobs");
  return out;
#else
  (void)temperature;
  ZRL_FAIL("kernels::token_logprobs: this build has no CUDA kernels (logits {}, ids {})",
           c10::str(logits.sizes()), c10::str(ids.sizes()));
#endif
}

torch::Tensor token_logprobs_backward(const torch::Tensor& logits, const torch::Tensor& ids,
                                      const torch::Tensor& lse, const torch::Tensor& grad, double temperature,
                                      torch::ScalarType out_dtype) {
#ifdef ZERORL_CUDA_KERNELS
  check_rows(logits, ids, "token_logprobs_backward");
  const int64_t n = logits.size(0);
  ZRL_CHECK(lse.numel() == n && grad.numel() == n && lse.scalar_type() == torch::kFloat32 &&
                grad.scalar_type() == torch::kFloat32,
            "kernels::token_logprobs_backward: lse {} and grad {} must be [{}] float32",
            c10::str(lse.sizes()), c10::str(grad.sizes()), n);
  ZRL_CHECK(out_dtype == torch::kFloat32 || out_dtype == torch::kBFloat16,
            "kernels::token_logprobs_backward: out_dtype must be float32 or bf16, got {}",
            c10::toString(out_dtype));
  auto x = logits.contiguous(), id = ids.contiguous(), l = lse.contiguous(), g = grad.contiguous();
  auto out = torch::empty(x.sizes(), x.options().dtype(out_dtype));
  const char* err = launch_token_logprobs_backward(
      x.data_ptr(), x.scalar_type() == torch::kBFloat16, id.data_ptr<int64_t>(), l.data_ptr<float>(),
      g.data_ptr<float>(), out.data_ptr(), out_dtype == torch::kBFloat16, n, x.size(1),
      static_cast<float>(temperature), stream_of(x));
  check_launch(err, "token_logprobs backward");
  return out;
#else
  (void)lse, (void)grad, (void)temperature, (void)out_dtype;
  ZRL_FAIL("kernels::token_logprobs_backward: this build has no CUDA kernels (logits {}, ids {})",
           c10::str(logits.sizes()), c10::str(ids.sizes()));
#endif
}

}  // namespace zerorl::kernels
