// rollout/decode_step.cpp: the static-shape decode step and its CUDA graph. Not here: prefill, stop rules.
#include "rollout/decode_step.h"

#include <cmath>
#include <limits>

#include "compat/torch_compat.h"
#include "core/error.h"
#include "core/log.h"

// ZERORL_TORCH_CUDA comes from rollout/CMakeLists.txt when LibTorch was built with CUDA.
#if defined(ZERORL_TORCH_CUDA) && __has_include(<ATen/cuda/CUDAGraph.h>) && __has_include(<cuda_runtime_api.h>)
#define ZERORL_CUDA_GRAPHS 1
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#else
#define ZERORL_CUDA_GRAPHS 0
#endif

namespace zerorl::rollout {

bool cuda_graphs_compiled() { return ZERORL_CUDA_GRAPHS != 0; }

struct DecodeStep::Graph {
#if ZERORL_CUDA_GRAPHS
  at::cuda::CUDAGraph graph;
#endif
  torch::Tensor out;  // [3, slots] float64 on the device, rewritten by every replay
  SamplerParams params;
  std::vector<const void*> weights;  // parameter storage captured; replaced tensors force a recapture
};

namespace {

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

std::vector<const void*> weight_pointers(model::CausalLM& lm) {
  std::vector<const void*> out;
  for (const auto& p : lm->parameters()) out.push_back(p.data_ptr());
  return out;
}

bool same_params(const SamplerParams& a, const SamplerParams& b) {
  return a.temperature == b.temperature && a.top_k == b.top_k && a.top_p == b.top_p && a.min_p == b.min_p;
}

}  // namespace

DecodeStep::DecodeStep(model::CausalLM lm, model::KvCache* cache, bool cuda_graphs)
    : lm_(std::move(lm)),
      cache_(cache),
      want_graphs_(cuda_graphs && ZERORL_CUDA_GRAPHS && lm_->device().is_cuda()) {
  inv_freq_ = model::rope_inv_freq(lm_->config()).to(lm_->device(), torch::kFloat32);
}

DecodeStep::~DecodeStep() = default;

torch::Tensor DecodeStep::attention(int64_t layer, const torch::Tensor& h, const torch::Tensor& cos,
                                    const torch::Tensor& sin, const torch::Tensor& mask,
                                    const torch::Tensor& positions, int64_t rows, int64_t L) {
  auto* attn = lm_->model->layers[static_cast<size_t>(layer)]->as<model::DecoderLayerImpl>()->self_attn.get();
  const int64_t Hq = attn->heads, Hkv = attn->kv_heads, D = attn->head_dim, g = Hq / Hkv;
  auto q = attn->q_proj(h).view({rows, 1, Hq, D});  // [R, T=1, H, D]
  auto k = attn->k_proj(h).view({rows, 1, Hkv, D});
  auto v = attn->v_proj(h).view({rows, Hkv, D});
  if (attn->q_norm) {
    q = attn->q_norm(q);
    k = attn->k_norm(k);
  }
  q = q * cos + rotate_half(q) * sin;  // cos/sin [R, 1, 1, D]
  k = k * cos + rotate_half(k) * sin;
  auto& kc = cache_->k[static_cast<size_t>(layer)];  // [slots, Hkv, capacity, D]
  auto& vc = cache_->v[static_cast<size_t>(layer)];
  auto slot_index = torch::arange(rows, positions.options());
  using torch::indexing::Slice;
  kc.index_put_({slot_index, Slice(), positions}, k.view({rows, Hkv, D}));
  vc.index_put_({slot_index, Slice(), positions}, v);
  auto keys = kc.narrow(0, 0, rows).narrow(2, 0, L);  // [R, Hkv, L, D], no copy
  auto values = vc.narrow(0, 0, rows).narrow(2, 0, L);
  // Query heads h = kv * g + j (transformers' repeat_kv order) folded into the query length.
  auto qf = q.view({rows, Hkv, g, D});
  torch::Tensor out;
  if (compat::kHasSdpa && qf.is_cuda()) {
    out = compat::sdpa(qf, keys, values, mask);
  } else {
    auto scores = torch::matmul(qf, keys.transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(D)));
    scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
    out = torch::matmul(torch::softmax(scores, -1, torch::kFloat32).to(qf.scalar_type()), values);
  }
  return attn->o_proj(out.reshape({rows, 1, Hq * D}));
}

torch::Tensor DecodeStep::forward(const torch::Tensor& ids, const torch::Tensor& positions, int64_t rows,
                                  int64_t L) {
  const auto dtype = lm_->dtype();
  // RoPE in float32 at each row's position, cast to the model dtype (as CausalLM::run_layers does).
  auto freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq_;  // [R, D/2]
  auto emb = torch::cat({freqs, freqs}, -1).view({rows, 1, 1, -1});
  auto cos = emb.cos().to(dtype), sin = emb.sin().to(dtype);
  // Key j is visible to the query at position p when j <= p (j == p is the token written this step).
  auto mask = torch::arange(L, positions.options()).view({1, 1, 1, L}).le(positions.view({rows, 1, 1, 1}));
  auto x = lm_->model->embed_tokens(ids.view({rows, 1}));
  for (size_t l = 0; l < lm_->model->layers->size(); ++l) {
    auto* layer = lm_->model->layers[l]->as<model::DecoderLayerImpl>();
    x = x + attention(static_cast<int64_t>(l), layer->input_layernorm(x), cos, sin, mask, positions, rows, L);
    x = x + layer->mlp(layer->post_attention_layernorm(x));
  }
  return lm_->logits(lm_->model->norm(x)).view({rows, -1});
}

torch::Tensor DecodeStep::body(const torch::Tensor& ids, const torch::Tensor& positions,
                               const torch::Tensor& uniforms, int64_t rows, int64_t L,
                               const SamplerParams& params) {
  torch::NoGradGuard no_grad;
  auto r = sample(forward(ids, positions, rows, L), params, uniforms);
  return torch::stack(
      {r.tokens.to(torch::kDouble), r.logprobs.to(torch::kDouble), r.logprobs_policy.to(torch::kDouble)});
}

void DecodeStep::capture(const SamplerParams& params) {
#if ZERORL_CUDA_GRAPHS
  const int64_t slots = cache_->num_slots(), L = cache_->capacity();
  graph_ = std::make_unique<Graph>();
  graph_->params = params;
  graph_->weights = weight_pointers(lm_);
  auto stream = c10::cuda::getStreamFromPool();
  {
    c10::cuda::CUDAStreamGuard guard(stream);
    // Warm-up outside capture (cuBLAS handles, kernel selection). It computes exactly what the replay
    // will (same inputs), so the K/V it writes are the step's own.
    for (int i = 0; i < 2; ++i) body(ids_, pos_, uniforms_, slots, L, params);
    stream.synchronize();
    graph_->graph.capture_begin();
    graph_->out = body(ids_, pos_, uniforms_, slots, L, params);
    graph_->graph.capture_end();
  }
  torch::cuda::synchronize();
  ZRL_INFO("rollout: captured the decode step as a CUDA graph ({} slots x {} positions)", slots, L);
#else
  (void)params;
#endif
}

torch::Tensor DecodeStep::run(const std::vector<int64_t>& ids, const std::vector<double>& uniforms,
                              int64_t rows, const SamplerParams& params) {
  ZRL_CHECK(rows >= 1 && rows <= cache_->num_slots() && static_cast<int64_t>(ids.size()) >= rows &&
                static_cast<int64_t>(uniforms.size()) >= rows,
            "DecodeStep::run: {} rows for {} slots, {} ids, {} uniforms", rows, cache_->num_slots(),
            ids.size(), uniforms.size());
  const auto device = lm_->device();
  const int64_t n = want_graphs_ ? cache_->num_slots() : rows;
  auto host = torch::empty({3, n}, torch::kDouble);  // ids, positions, uniforms in one transfer
  auto a = host.accessor<double, 2>();
  for (int64_t s = 0; s < n; ++s) {
    const bool given = s < rows;
    a[0][s] = given ? static_cast<double>(ids[static_cast<size_t>(s)]) : 0.0;
    a[1][s] = static_cast<double>(cache_->lengths[static_cast<size_t>(s)]);
    a[2][s] = given ? uniforms[static_cast<size_t>(s)] : 0.5;
  }
  if (!want_graphs_) {
    int64_t L = 0;
    for (int64_t s = 0; s < rows; ++s) L = std::max(L, cache_->lengths[static_cast<size_t>(s)] + 1);
    auto dev = host.to(device);
    auto out = body(dev[0].to(torch::kLong), dev[1].to(torch::kLong), dev[2], rows, L, params);
    return out.cpu();
  }
  if (!ids_.defined()) {
    ids_ = torch::zeros({n}, torch::TensorOptions().dtype(torch::kLong).device(device));
    pos_ = torch::zeros_like(ids_);
    uniforms_ = torch::zeros({n}, torch::TensorOptions().dtype(torch::kDouble).device(device));
  }
  auto dev = host.to(device);
  ids_.copy_(dev[0]);
  pos_.copy_(dev[1]);
  uniforms_.copy_(dev[2]);
  if (!graph_ || !same_params(graph_->params, params) || graph_->weights != weight_pointers(lm_)) {
    try {
      capture(params);
    } catch (const std::exception& e) {
      ZRL_WARN("rollout: CUDA graph capture failed, decoding eagerly: {}", e.what());
      graph_.reset();
      want_graphs_ = false;
      return run(ids, uniforms, rows, params);
    }
  }
#if ZERORL_CUDA_GRAPHS
  graph_->graph.replay();
#endif
  return graph_->out.cpu();
}

}  // namespace zerorl::rollout
