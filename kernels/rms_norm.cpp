// kernels/rms_norm.cpp: the LibTorch side of kernels/rms_norm.h: the reference twin, the autograd nodes
// around the CUDA kernel (backward in LibTorch ops), and the on/off switch.
#include "kernels/rms_norm.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "core/error.h"

#ifdef ZERORL_CUDA_KERNELS
#include <c10/cuda/CUDAStream.h>

#include "kernels/rms_norm_launch.h"
#endif

namespace zerorl::kernels {
namespace {

// ZERORL_KERNELS=0 in the environment starts with the kernels off (the twins' path) without a rebuild.
bool enabled_from_environment() {
  const char* v = std::getenv("ZERORL_KERNELS");
  return v == nullptr || std::string(v) != "0";
}

std::atomic<bool> g_enabled{enabled_from_environment()};

#ifdef ZERORL_CUDA_KERNELS
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Forward of both nodes: {sum (x + delta, or x), y, rstd}.
std::vector<torch::Tensor> run_kernel(const torch::Tensor& x, const torch::Tensor& delta,
                                      const torch::Tensor& w, double eps) {
  const int64_t hidden = x.size(-1);
  auto xc = x.contiguous(), dc = delta.defined() ? delta.contiguous() : delta, wc = w.contiguous();
  const int64_t rows = hidden == 0 ? 0 : xc.numel() / hidden;
  auto y = torch::empty_like(xc), sum = delta.defined() ? torch::empty_like(xc) : xc;
  auto rstd = torch::empty({rows}, xc.options().dtype(torch::kFloat32));
  const char* err = launch_rms_norm_bf16(xc.data_ptr(), dc.defined() ? dc.data_ptr() : nullptr, wc.data_ptr(),
                                         delta.defined() ? sum.data_ptr() : nullptr, y.data_ptr(),
                                         rstd.data_ptr<float>(), rows, hidden, static_cast<float>(eps),
                                         c10::cuda::getCurrentCUDAStream(x.device().index()).stream());
  ZRL_CHECK(err == nullptr, "rms_norm kernel: {}", err ? err : "");
  return {sum, y, rstd};
}

// d/d(sum) of y = w * bf16(h r), h = float(sum), r = rsqrt(mean(h^2) + eps), given dy; and d/dw.
std::pair<torch::Tensor, torch::Tensor> norm_backward(const torch::Tensor& sum, const torch::Tensor& w,
                                                      const torch::Tensor& rstd, const torch::Tensor& dy) {
  auto h = sum.to(torch::kFloat32);
  auto r = rstd.view({-1}).reshape(sum.sizes().slice(0, sum.dim() - 1).vec()).unsqueeze(-1);
  auto normed = (h * r).to(w.scalar_type());
  std::vector<int64_t> rows_dims;
  for (int64_t d = 0; d + 1 < dy.dim(); ++d) rows_dims.push_back(d);
  auto dw = (dy.to(torch::kFloat32) * normed.to(torch::kFloat32))
                .sum(torch::IntArrayRef(rows_dims))
                .to(w.scalar_type());
  auto dh = (dy * w).to(torch::kFloat32);
  auto dx = r * dh - h * r.pow(3) * (dh * h).mean(-1, /*keepdim=*/true);
  return {dx.to(sum.scalar_type()), dw};
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
    auto [dx, dw] = norm_backward(s[0], s[1], s[2], grads[0]);
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
    if (grads[1].defined()) {
      auto [dx, dw_norm] = norm_backward(s[0], s[1], s[2], grads[1]);
      d_sum = d_sum.defined() ? d_sum + dx : dx;
      dw = dw_norm;
    }
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

bool compiled() {
#ifdef ZERORL_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

void set_enabled(bool on) { g_enabled = on; }

bool use_kernel(const torch::Tensor& x, const torch::Tensor& weight) {
  return compiled() && g_enabled && x.is_cuda() && x.scalar_type() == torch::kBFloat16 &&
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
