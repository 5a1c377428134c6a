// kernels/rms_norm.cpp: the LibTorch side of kernels/rms_norm.h: the reference twin and the autograd nodes
// around the CUDA kernels.
#include "kernels/rms_norm.h"

#include <algorithm>
#include <tuple>

#include "core/error.h"

#ifdef ZERORL_CUDA_KERNELS
#include <ATen/cuda/CUDAContext.h>

#include "kernels/cuda_glue.h"
#include "kernels/rms_norm_launch.h"
#endif

namespace zerorl::kernels {
namespace {

#ifdef ZERORL_CUDA_KERNELS
// Forward of both nodes: {sum (x + delta, or x), y, rstd}.
std::vector<torch::Tensor> run_kernel(const torch::Tensor& x, const torch::Tensor& delta,
                                      const torch::Tensor& w, double eps) {
  const int64_t hidden = x.size(-1);
  auto xc = x.contiguous(), dc = delta.defined() ? delta.contiguous() : delta, wc = w.contiguous();
  const int64_t rows = hidden == 0 ? 0 : xc.numel() / hidden;
  auto y = torch::empty_like(xc), sum = delta.defined() ? torch::empty_like(xc) : xc;
  auto rstd = torch::empty({rows}, xc.options().dtype(torch::kFloat32));
  const char* err =
      launch_rms_norm_bf16(xc.data_ptr(), dc.defined() ? dc.data_ptr() : nullptr, wc.data_ptr(),
                           delta.defined() ? sum.data_ptr() : nullptr, y.data_ptr(), rstd.data_ptr<float>(),
                           rows, hidden, static_cast<float>(eps), stream_of(x));
  check_launch(err, "rms_norm");
  return {sum, y, rstd};
}

// d/d(sum) of y = w * bf16(h r), h = float(sum), r = rstd, given dy, plus d_residual (undefined: none);
// and d/dw. One kernel; d/dw is its per-block partial sums added here.
std::pair<torch::Tensor, torch::Tensor> norm_backward(const torch::Tensor& sum, const torch::Tensor& w,
                                                      const torch::Tensor& rstd, const torch::Tensor& dy,
                                                      const torch::Tensor& d_residual) {
  ZRL_CHECK(dy.scalar_type() == torch::kBFloat16 && dy.sizes() == sum.sizes() &&
                (!d_residual.defined() ||
                 (d_residual.scalar_type() == torch::kBFloat16 && d_residual.sizes() == sum.sizes())),
            "rms_norm backward kernel: gradients must be bf16 shaped {}", c10::str(sum.sizes()));
  const int64_t hidden = sum.size(-1), rows = sum.numel() / hidden;
  auto dyc = dy.contiguous(), drc = d_residual.defined() ? d_residual.contiguous() : d_residual;
  auto dx = torch::empty_like(sum), wc = w.contiguous();
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t blocks = std::min<int64_t>(rows, 4 * sms);
  auto partial = torch::empty({blocks, hidden}, sum.options().dtype(torch::kFloat32));
  const char* err =
      launch_rms_norm_backward_bf16(sum.data_ptr(), wc.data_ptr(), rstd.data_ptr<float>(), dyc.data_ptr(),
                                    drc.defined() ? drc.data_ptr() : nullptr, dx.data_ptr(),
                                    partial.data_ptr<float>(), rows, hidden, blocks, stream_of(sum));
  check_launch(err, "rms_norm backward");
  return {dx, partial.sum(0).to(w.scalar_type())};
}

class RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               double eps) {
    auto out = run_kernel(x, torch::Tensor(), w, eps);
    ctx->save_for_backward({out[0], w, out[2]});
    return out[1];
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    auto [dx, dw] = norm_backward(s[0], s[1], s[2], grads[0], torch::Tensor());
    return {dx, dw, torch::Tensor()};
  }
};

class AddRmsNormFunction : public torch::autograd::Function<AddRmsNormFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& delta,
                               const torch::Tensor& w, double eps) {
    auto out = run_kernel(x, delta, w, eps);
    ctx->save_for_backward({out[0], w, out[2]});
    return {out[0], out[1]};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    torch::Tensor d_sum = grads[0], dw;
    if (grads[1].defined()) std::tie(d_sum, dw) = norm_backward(s[0], s[1], s[2], grads[1], grads[0]);
    return {d_sum, d_sum, dw, torch::Tensor()};
  }
};
#endif

}  // namespace

torch::Tensor rms_norm_reference(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  auto h = x.to(torch::kFloat32);
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * h.to(weight.scalar_type());
}

bool use_kernel(const torch::Tensor& x, const torch::Tensor& weight) {
  return enabled("rms_norm") && x.is_cuda() && x.scalar_type() == torch::kBFloat16 &&
         weight.scalar_type() == torch::kBFloat16 && weight.dim() == 1 && x.size(-1) == weight.size(0) &&
         x.size(-1) <= 12288 && x.numel() > 0;
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
#ifdef ZERORL_CUDA_KERNELS
  ZRL_CHECK(use_kernel(x, weight), "kernels::rms_norm: not a bf16 CUDA tensor the kernel takes");
  return RmsNormFunction::apply(x, weight, eps);
#else
  (void)eps;
  ZRL_FAIL("kernels::rms_norm: this build has no CUDA kernels (x {}, weight {})", c10::str(x.sizes()),
           c10::str(weight.sizes()));
#endif
}

std::pair<torch::Tensor, torch::Tensor> add_rms_norm(const torch::Tensor& x, const torch::Tensor& delta,
                                                     const torch::Tensor& weight, double eps) {
#ifdef ZERORL_CUDA_KERNELS
  ZRL_CHECK(use_kernel(x, weight) && delta.sizes() == x.sizes() && delta.scalar_type() == x.scalar_type() &&
                delta.device() == x.device(),
            "kernels::add_rms_norm: x {} and delta {} must be bf16 CUDA tensors of one shape",
            c10::str(x.sizes()), c10::str(delta.sizes()));
  auto out = AddRmsNormFunction::apply(x, delta, weight, eps);
  return {out[0], out[1]};
#else
  (void)eps;
  ZRL_FAIL("kernels::add_rms_norm: this build has no CUDA kernels (x {}, delta {})", c10::str(x.sizes()),
           c10::str(delta.sizes()));
#endif
}

}  // namespace zerorl::kernels
