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
// silu_mul of contiguous gate and up through the kernel (one row of n).
torch::Tensor launch_silu_mul(const torch::Tensor& g, const torch::Tensor& u, const char* what) {
  auto y = torch::empty_like(g);
  const int64_t n = g.numel();
  check_launch(launch_silu_mul_bf16(g.data_ptr(), u.data_ptr(), y.data_ptr(), 1, n, n, stream_of(g)), what);
  return y;
}

class SiluMulFunction : public torch::autograd::Function<SiluMulFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& gate, const torch::Tensor& up) {
    auto g = gate.contiguous(), u = up.contiguous();
    ctx->save_for_backward({g, u});
    return launch_silu_mul(g, u, "silu_mul");
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
                                      d_up.data_ptr(), 1, g.numel(), g.numel(), stream_of(g));
    check_launch(err, "silu_mul backward");
    return {d_gate, d_up};
  }
};

// Inputs x [..., H], w_gate and w_up [I, H] (the parameters), w_stacked [2I, H] (a detached view of both);
// output silu_mul(x w_gate^T, x w_up^T) [..., I]. Saves x, the gate and up activations and w_stacked.
class GateUpSiluMulFunction : public torch::autograd::Function<GateUpSiluMulFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w_gate,
                               const torch::Tensor& w_up, const torch::Tensor& w_stacked) {
    // model::LinearImpl::forward's calls: the bits the engine's decode step is held to.
    auto g = torch::nn::functional::linear(x, w_gate).contiguous();
    auto u = torch::nn::functional::linear(x, w_up).contiguous();
    ctx->save_for_backward({x, g, u, w_stacked});
    return launch_silu_mul(g, u, "gate_up_silu_mul");
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    const auto &x = s[0], &g = s[1], &u = s[2], &w = s[3];
    const int64_t inter = g.size(-1), rows = g.numel() / inter;
    auto dy = grads[0].to(torch::kBFloat16).contiguous();
    auto dgu = torch::empty({rows, 2 * inter}, g.options());  // [d gate | d up] per row
    check_launch(launch_silu_mul_backward_bf16(g.data_ptr(), u.data_ptr(), dy.data_ptr(), dgu.data_ptr(),
                                               dgu.narrow(1, inter, inter).data_ptr(), rows, inter, 2 * inter,
                                               stream_of(g)),
                 "gate_up_silu_mul backward");
    variable_list out(4);
    if (ctx->needs_input_grad(0)) out[0] = dgu.mm(w).view(x.sizes());  // K = 2I: both products in one sum
    if (ctx->needs_input_grad(1) || ctx->needs_input_grad(2)) {
      auto dw = dgu.t().mm(x.reshape({rows, x.size(-1)}));  // [2I, H]: both weights' gradients
      out[1] = dw.narrow(0, 0, inter), out[2] = dw.narrow(0, inter, inter);
    }
    return out;
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

bool use_gate_up_silu_mul(const torch::Tensor& x, const torch::Tensor& w_gate, const torch::Tensor& w_up,
                          const torch::Tensor& w_stacked) {
  const auto bf16_cuda = [&](const torch::Tensor& t) {
    return t.defined() && t.is_cuda() && t.scalar_type() == torch::kBFloat16 && t.device() == x.device();
  };
  return enabled("swiglu") && enabled("stacked_mlp_backward") && bf16_cuda(x) && bf16_cuda(w_gate) &&
         bf16_cuda(w_up) && bf16_cuda(w_stacked) && x.dim() >= 1 && w_gate.dim() == 2 &&
         w_gate.sizes() == w_up.sizes() && x.size(-1) == w_gate.size(1) && w_stacked.dim() == 2 &&
         w_stacked.size(0) == 2 * w_gate.size(0) && w_stacked.size(1) == w_gate.size(1) && w_gate.size(0) > 0;
}

torch::Tensor gate_up_silu_mul(const torch::Tensor& x, const torch::Tensor& w_gate, const torch::Tensor& w_up,
                               const torch::Tensor& w_stacked) {
  ZRL_CHECK(use_gate_up_silu_mul(x, w_gate, w_up, w_stacked),
            "kernels::gate_up_silu_mul: x {}, w_gate {}, w_up {} and w_stacked {} must be bf16 CUDA tensors "
            "[..., H], [I, H], [I, H], [2I, H] (use_gate_up_silu_mul)",
            c10::str(x.sizes()), c10::str(w_gate.sizes()), c10::str(w_up.sizes()),
            c10::str(w_stacked.sizes()));
#ifdef ZERORL_CUDA_KERNELS
  return GateUpSiluMulFunction::apply(x, w_gate, w_up, w_stacked.detach());
#else
  ZRL_FAIL("kernels::gate_up_silu_mul: this build has no CUDA kernels");
#endif
}

}  // namespace zerorl::kernels
