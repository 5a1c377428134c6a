// kernels/swiglu.cpp: the LibTorch side of kernels/swiglu.h: the twin and the autograd node around the
// CUDA kernels.
#include "kernels/swiglu.h"

#include "core/error.h"

#ifdef ZERORL_CUDA_KERNELS
#include "kernels/cuda_glue.h"
#include "kernels/swiglu_launch.h"
#endif

namespace zerorl::kernels {
namespace {

#ifdef ZERORL_CUDA_KERNELS
class SiluMulFunction : public torch::autograd::Function<SiluMulFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& gate, const torch::Tensor& up) {
    auto g = gate.contiguous(), u = up.contiguous();
    auto y = torch::empty_like(g);
    const int64_t n = g.numel();  // one row of n
    const char* err = launch_silu_mul_bf16(g.data_ptr(), u.data_ptr(), y.data_ptr(), 1, n, n, stream_of(g));
    check_launch(err, "silu_mul");
    ctx->save_for_backward({g, u});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    const auto &g = s[0], &u = s[1];
    ZRL_CHECK(grads[0].scalar_type() == torch::kBFloat16 && grads[0].sizes() == g.sizes(),
              "silu_mul backward: the gradient must be bf16 shaped {}", c10::str(g.sizes()));
    auto dy = grads[0].contiguous();
    auto d_gate = torch::empty_like(g), d_up = torch::empty_like(u);
    const char* err =
        launch_silu_mul_backward_bf16(g.data_ptr(), u.data_ptr(), dy.data_ptr(), d_gate.data_ptr(),
                                      d_up.data_ptr(), g.numel(), stream_of(g));
    check_launch(err, "silu_mul backward");
    return {d_gate, d_up};
  }
};
#endif

}  // namespace

torch::Tensor silu_mul_reference(const torch::Tensor& gate, const torch::Tensor& up) {
  return torch::silu(gate) * up;
}

bool use_silu_mul_kernel(const torch::Tensor& gate, const torch::Tensor& up) {
  return enabled("swiglu") && gate.is_cuda() && gate.scalar_type() == torch::kBFloat16 &&
         up.scalar_type() == torch::kBFloat16 && gate.sizes() == up.sizes() && gate.device() == up.device();
}

torch::Tensor silu_mul(const torch::Tensor& gate, const torch::Tensor& up) {
#ifdef ZERORL_CUDA_KERNELS
  ZRL_CHECK(use_silu_mul_kernel(gate, up),
            "kernels::silu_mul: gate {} and up {} must be bf16 CUDA tensors of one shape",
            c10::str(gate.sizes()), c10::str(up.sizes()));
  return SiluMulFunction::apply(gate, up);
#else
  ZRL_FAIL("kernels::silu_mul: this build has no CUDA kernels (gate {}, up {})", c10::str(gate.sizes()),
           c10::str(up.sizes()));
#endif
}

torch::Tensor silu_mul_stacked_reference(const torch::Tensor& gu) {
  ZRL_CHECK(gu.dim() >= 1 && gu.size(-1) % 2 == 0, "kernels::silu_mul_stacked: gu {} must be [..., 2I]",
            c10::str(gu.sizes()));
  const int64_t inter = gu.size(-1) / 2;
  return silu_mul_reference(gu.narrow(-1, 0, inter), gu.narrow(-1, inter, inter));
}

bool use_silu_mul_stacked_kernel(const torch::Tensor& gu) {
  return enabled("swiglu") && gu.is_cuda() && gu.scalar_type() == torch::kBFloat16 && gu.dim() >= 1 &&
         gu.size(-1) > 0 && gu.size(-1) % 2 == 0;
}

torch::Tensor silu_mul_stacked(const torch::Tensor& gu) {
  ZRL_CHECK(
      use_silu_mul_stacked_kernel(gu),
      "kernels::silu_mul_stacked: gu {} must be a bf16 CUDA tensor [..., 2I] (use_silu_mul_stacked_kernel)",
      c10::str(gu.sizes()));
  ZRL_CHECK(!(torch::GradMode::is_enabled() && gu.requires_grad()),
            "kernels::silu_mul_stacked has no backward (inference only), but gu {} wants a gradient: run it "
            "under torch::NoGradGuard, or silu_mul on the two halves",
            c10::str(gu.sizes()));
#ifdef ZERORL_CUDA_KERNELS
  const int64_t inter = gu.size(-1) / 2;
  auto rows = gu.reshape({-1, 2 * inter});
  if (rows.stride(1) != 1) rows = rows.contiguous();
  // Row r's gate at r * stride(0), its up I further: no copy of either half.
  const int64_t in_stride = rows.size(0) > 1 ? rows.stride(0) : 2 * inter;
  auto shape = gu.sizes().vec();
  shape.back() = inter;
  auto y = torch::empty(shape, gu.options());
  const char* err = launch_silu_mul_bf16(rows.data_ptr(), rows.narrow(1, inter, inter).data_ptr(),
                                         y.data_ptr(), rows.size(0), inter, in_stride, stream_of(rows));
  check_launch(err, "silu_mul_stacked");
  return y;
#else
  ZRL_FAIL("kernels::silu_mul_stacked: this build has no CUDA kernels (gu {})", c10::str(gu.sizes()));
#endif
}

}  // namespace zerorl::kernels
