// model/recompute.cpp: the autograd::Function behind checkpointed_layer (see recompute.h).
// Not here: the layer math (decoder.cpp).
#include "model/recompute.h"

#include "core/error.h"

namespace zerorl::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct LayerRecompute : public torch::autograd::Function<LayerRecompute> {
  // Function::apply runs this with grad mode off: no graph, no intermediate activations kept.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin, const torch::Tensor& mask, int64_t layer_address,
                               bool causal) {
    ctx->save_for_backward({x, cos, sin, mask});
    ctx->saved_data["layer"] = layer_address;
    ctx->saved_data["causal"] = causal;
    AttentionInputs in;
    in.cos = cos, in.sin = sin, in.mask = mask, in.causal = causal;
    return reinterpret_cast<DecoderLayerImpl*>(layer_address)->forward(x, in, nullptr, 0);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    AttentionInputs in;
    in.cos = saved[1], in.sin = saved[2], in.mask = saved[3], in.causal = ctx->saved_data["causal"].toBool();
    auto x = saved[0].detach().requires_grad_(true);
    torch::Tensor y;
    {
      torch::AutoGradMode grad_on(true);
      y = layer->forward(x, in, nullptr, 0);
    }
    torch::autograd::backward({y}, {grad_out[0]});
    return {x.grad(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor checkpointed_layer(DecoderLayerImpl& layer, const torch::Tensor& x, const AttentionInputs& in) {
  ZRL_CHECK(x.requires_grad(), "checkpointed_layer: the layer input must require grad");
  return LayerRecompute::apply(x, in.cos, in.sin, in.mask, reinterpret_cast<int64_t>(&layer), in.causal);
}

}  // namespace zerorl::model
