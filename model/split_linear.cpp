// model/split_linear.cpp: model/split_linear.h.
#include "model/split_linear.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/gemm_accumulate.h"

namespace zerorl::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Inputs x [..., in], weight [out, in], bias [out] or empty (none); saves x and the weight, as torch's
// linear.
class SplitWeightGradLinear : public torch::autograd::Function<SplitWeightGradLinear> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, int64_t splits) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["splits"] = splits;
    const bool has_bias = bias.numel() > 0;  // empty: no bias
    ctx->saved_data["bias"] = has_bias;
    return torch::nn::functional::linear(x, weight, has_bias ? bias : torch::Tensor());  // LinearImpl's bits
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1];
    variable_list out(4);
    if (!grads[0].defined()) return out;
    const auto dy = grads[0].reshape({-1, w.size(0)}).contiguous();
    if (ctx->needs_input_grad(0)) out[0] = dy.mm(w).view(x.sizes());
    if (ctx->needs_input_grad(1)) {
      const auto x2 = x.reshape({-1, w.size(1)}).contiguous();
      auto acc = torch::zeros(w.sizes(), w.options().dtype(torch::kFloat32));
      const int64_t splits = ctx->saved_data["splits"].toInt();
      if (kernels::use_gemm_accumulate(acc, dy, x2) && dy.size(0) % splits == 0) {
        kernels::gemm_accumulate(acc, dy, x2, splits);
        out[1] = acc.to(w.scalar_type());
      } else {  // a gradient of another dtype than the forward's (not seen from autograd): torch's way
        out[1] = dy.t().mm(x2.to(dy.scalar_type())).to(w.scalar_type());
      }
    }
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) out[2] = dy.sum(0);
    return out;
  }
};

}  // namespace

int64_t weight_grad_splits(int64_t rows, int64_t out, int64_t in) {
  const int64_t tiles = ((out + 127) / 128) * ((in + 127) / 128);
  if (tiles <= 0 || tiles >= 32) return 1;
  int64_t splits = std::min<int64_t>(16, (128 + tiles - 1) / tiles);
  while (splits > 1 && (rows % splits != 0 || rows / splits < 256)) --splits;
  return splits;
}

bool use_split_weight_grad(const torch::Tensor& x, const torch::Tensor& weight) {
  if (!torch::GradMode::is_enabled() || !weight.requires_grad() || !kernels::enabled("split_weight_grad"))
    return false;
  if (!x.is_cuda() || x.scalar_type() != torch::kBFloat16 || weight.scalar_type() != torch::kBFloat16 ||
      weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1) || x.device() != weight.device())
    return false;
  return weight_grad_splits(x.numel() / std::max<int64_t>(1, x.size(-1)), weight.size(0), weight.size(1)) > 1;
}

torch::Tensor linear_split_weight_grad(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias) {
  ZRL_CHECK(
      use_split_weight_grad(x, weight),
      "model::linear_split_weight_grad: x {} ({}) and weight {} ({}) must be bf16 CUDA with a weight that "
      "wants a gradient and is small enough to split (use_split_weight_grad)",
      c10::str(x.sizes()), c10::toString(x.scalar_type()), c10::str(weight.sizes()),
      c10::toString(weight.scalar_type()));
  const int64_t rows = x.numel() / x.size(-1);
  // LibTorch's apply() takes no undefined tensor: an empty one stands for no bias.
  return SplitWeightGradLinear::apply(x, weight, bias.defined() ? bias : torch::empty({0}, weight.options()),
                                      weight_grad_splits(rows, weight.size(0), weight.size(1)));
}

}  // namespace zerorl::model
