// kernels/rope.cpp: the LibTorch side of kernels/rope.h: the twin and the autograd node around the CUDA
// kernel.
#include "kernels/rope.h"

#include "core/error.h"

#ifdef ZERORL_CUDA_KERNELS
#include "kernels/cuda_glue.h"
#include "kernels/rope_launch.h"
#endif

namespace zerorl::kernels {
namespace {

#ifdef ZERORL_CUDA_KERNELS
// x (or dy) [B, H, T, D] through the kernel into a [B, H, T, D] tensor laid out as [B, T, H, D] in memory.
torch::Tensor run_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                       bool backward) {
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  auto xc = x.stride(3) == 1 ? x : x.contiguous();
  auto c = cos.expand({B, 1, T, D}), s = sin.expand({B, 1, T, D});
  ZRL_CHECK(c.strides() == s.strides() && c.stride(3) == 1, "rope kernel: cos and sin must share one layout");
  auto out = torch::empty_strided({B, H, T, D}, {T * H * D, D, H * D, 1}, x.options());
  const char* err =
      launch_rope_bf16(xc.data_ptr(), {xc.stride(0), xc.stride(1), xc.stride(2)}, c.data_ptr(), s.data_ptr(),
                       {c.stride(0), 0, c.stride(2)}, out.data_ptr(), B, H, T, D, backward, stream_of(x));
  check_launch(err, "rope");
  return out;
}

class RopeFunction : public torch::autograd::Function<RopeFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin) {
    ctx->save_for_backward({cos, sin});
    return run_rope(x, cos, sin, /*backward=*/false);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    ZRL_CHECK(grads[0].scalar_type() == torch::kBFloat16, "rope backward: the gradient must be bf16");
    return {run_rope(grads[0], s[0], s[1], /*backward=*/true), torch::Tensor(), torch::Tensor()};
  }
};
#endif

bool table_ok(const torch::Tensor& t, const torch::Tensor& x) {
  return t.scalar_type() == torch::kBFloat16 && t.device() == x.device() && t.dim() == 4 &&
         !t.requires_grad() && (t.size(0) == x.size(0) || t.size(0) == 1) && t.size(1) == 1 &&
         t.size(2) == x.size(2) && t.size(3) == x.size(3) && t.stride(3) == 1;
}

}  // namespace

torch::Tensor rope_reference(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

bool use_rope_kernel(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  return enabled("rope") && x.is_cuda() && x.scalar_type() == torch::kBFloat16 && x.dim() == 4 &&
         x.size(3) % 2 == 0 && x.numel() > 0 && table_ok(cos, x) && table_ok(sin, x) &&
         cos.strides() == sin.strides();
}

torch::Tensor rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
#ifdef ZERORL_CUDA_KERNELS
  ZRL_CHECK(use_rope_kernel(x, cos, sin), "kernels::rope: x {}, cos {}, sin {} are not what the kernel takes",
            c10::str(x.sizes()), c10::str(cos.sizes()), c10::str(sin.sizes()));
  return RopeFunction::apply(x, cos, sin);
#else
  ZRL_FAIL("kernels::rope: this build has no CUDA kernels (x {}, cos {}, sin {})", c10::str(x.sizes()),
           c10::str(cos.sizes()), c10::str(sin.sizes()));
#endif
}

}  // namespace zerorl::kernels
