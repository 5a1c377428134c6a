// model/recompute.cpp: the autograd::Function behind checkpointed_layer (see recompute.h).
// Not here: the layer math (decoder.cpp).
#include "model/recompute.h"

#include "core/error.h"

namespace zerorl::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The AttentionInputs fields an uncached layer reads go to ctx->saved_data (none wants a gradient; the
// cache's slots and positions never reach a recomputed layer, and segments.positions only built cos/sin):
// the recomputation must take the attention path the forward took (the kernel on right-padded or packed
// rows: the engine's bits), not only its mask.
void save_inputs(AutogradContext* ctx, const AttentionInputs& in) {
  auto& d = ctx->saved_data;
  d["cos"] = in.cos, d["sin"] = in.sin, d["mask"] = in.mask, d["key_end"] = in.key_end;
  d["causal"] = in.causal, d["kernel_rows"] = in.kernel_rows;
  const SegmentRows& r = in.segments;
  d["gather"] = r.gather, d["scatter"] = r.scatter, d["lengths"] = r.lengths, d["filled"] = r.filled;
  d["real"] = r.real, d["width"] = r.width;
}

AttentionInputs saved_inputs(AutogradContext* ctx) {
  auto& d = ctx->saved_data;
  AttentionInputs in;
  in.cos = d["cos"].toTensor(), in.sin = d["sin"].toTensor(), in.mask = d["mask"].toTensor();
  in.key_end = d["key_end"].toTensor();
  in.causal = d["causal"].toBool(), in.kernel_rows = d["kernel_rows"].toBool();
  SegmentRows& r = in.segments;
  r.gather = d["gather"].toTensor(), r.scatter = d["scatter"].toTensor(), r.lengths = d["lengths"].toTensor();
  r.filled = d["filled"].toTensor(), r.real = d["real"].toTensor(), r.width = d["width"].toInt();
  return in;
}

struct LayerRecompute : public torch::autograd::Function<LayerRecompute> {
  // Function::apply runs this with grad mode off: no graph, no intermediate activations kept. The layer and
  // its inputs come as addresses: both outlive the call.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, int64_t layer_address,
                               int64_t inputs_address) {
    ctx->save_for_backward({x});
    ctx->saved_data["layer"] = layer_address;
    const auto& in = *reinterpret_cast<const AttentionInputs*>(inputs_address);
    save_inputs(ctx, in);
    return reinterpret_cast<DecoderLayerImpl*>(layer_address)->forward(x, in, nullptr, 0);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    const AttentionInputs in = saved_inputs(ctx);
    auto x = saved[0].detach().requires_grad_(true);
    torch::Tensor y;
    {
      torch::AutoGradMode grad_on(true);
      y = layer->forward(x, in, nullptr, 0);
    }
    torch::autograd::backward({y}, {grad_out[0]});
    return {x.grad(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor checkpointed_layer(DecoderLayerImpl& layer, const torch::Tensor& x, const AttentionInputs& in) {
  ZRL_CHECK(x.requires_grad(), "checkpointed_layer: the layer input must require grad");
  return LayerRecompute::apply(x, reinterpret_cast<int64_t>(&layer), reinterpret_cast<int64_t>(&in));
}

}  // namespace zerorl::model
