// rollout/decode_step.cpp: the static-shape decode step and its CUDA graph. Not here: prefill, stop rules.
#include "rollout/decode_step.h"

#include <cmath>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>

#include "compat/torch_compat.h"
#include "core/error.h"
#include "core/log.h"
#include "kernels/attention.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"
#include "kernels/tuned_gemm.h"

// ZERORL_TORCH_CUDA comes from rollout/CMakeLists.txt when LibTorch was built with CUDA.
#if defined(ZERORL_TORCH_CUDA) && __has_include(<ATen/cuda/CUDAGraph.h>) && __has_include(<cuda_runtime_api.h>)
#define ZERORL_CUDA_GRAPHS 1
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
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
  std::optional<c10::cuda::CUDAStream> stream;  // the capture stream, one for all graphs (see capture())
#endif
  torch::Tensor out;  // [3, slots] float64 on the device, rewritten by every replay
  SamplerParams params;
  std::vector<const void*> weights;  // parameter storage captured; replaced tensors force a recapture
};

// Per-step tensors shared by all layers.
struct DecodeStep::StepInputs {
  torch::Tensor positions;  // [R] int64: each row's position (its new token's cache index)
  int64_t rows = 0, L = 0;
  torch::TensorOptions dtype;  // the model's

  // [R, 1, 1, L]: bool (true = attend) or, for SDPA, additive (0 / -inf) in the dtype. Built at the first
  // call (the attention kernel needs none).
  const torch::Tensor& mask() {
    if (mask_.defined()) return mask_;
    // Key j is visible to the query at position p when j <= p (j == p is the token written this step).
    auto keep = torch::arange(L, positions.options()).view({1, 1, 1, L}).le(positions.view({rows, 1, 1, 1}));
    // SDPA turns a bool mask into this additive one in every call; built once per step instead.
    mask_ = compat::kHasSdpa && positions.is_cuda()
                ? torch::zeros({rows, 1, 1, L}, dtype)
                      .masked_fill_(keep.logical_not(), -std::numeric_limits<float>::infinity())
                : keep;
    return mask_;
  }

 private:
  torch::Tensor mask_;
};

namespace {

std::vector<const void*> weight_pointers(model::CausalLM& lm) {
  std::vector<const void*> out;
  for (const auto& p : lm->parameters()) out.push_back(p.data_ptr());
  return out;
}

// w's projection of x, with `bias` if defined: kernels::tuned_linear where it runs (torch's bits through a
// faster cuBLASLt algorithm), else torch's linear.
torch::Tensor project(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias = {}) {
  if (!bias.defined() && kernels::use_tuned_linear(x, w)) return kernels::tuned_linear(x, w);
  return torch::nn::functional::linear(x, w, bias);
}

torch::Tensor project(const torch::Tensor& x, const model::Linear& m) {
  return project(x, m->weight, m->bias);
}

bool same_params(const SamplerParams& a, const SamplerParams& b) {
  return a.temperature == b.temperature && a.top_k == b.top_k && a.top_p == b.top_p && a.min_p == b.min_p;
}

}  // namespace

int64_t decode_bucket(int64_t needed, int64_t bucket, int64_t capacity) {
  ZRL_CHECK(bucket >= 1 && needed >= 1 && needed <= capacity,
            "decode_bucket: needed {} must be in [1, capacity {}], bucket {} >= 1", needed, capacity, bucket);
  return std::min(capacity, (needed + bucket - 1) / bucket * bucket);
}

DecodeStep::DecodeStep(model::CausalLM lm, model::KvCache* cache, bool cuda_graphs, int64_t graph_bucket,
                       int64_t min_mlp_rows)
    : lm_(std::move(lm)),
      cache_(cache),
      want_graphs_(cuda_graphs && ZERORL_CUDA_GRAPHS && lm_->device().is_cuda()),
      bucket_(graph_bucket),
      min_mlp_rows_(min_mlp_rows) {
  ZRL_CHECK(graph_bucket >= 1, "DecodeStep: graph_bucket must be >= 1, got {}", graph_bucket);
  ZRL_CHECK(min_mlp_rows >= 0, "DecodeStep: min_mlp_rows must be >= 0, got {}", min_mlp_rows);
  // RoPE in float32 at every cache position, cast to the model dtype (as CausalLM::run_layers does, so
  // the values are identical), looked up per step instead of recomputed.
  auto inv_freq = model::rope_inv_freq(lm_->config()).to(lm_->device(), torch::kFloat32);
  auto pos = torch::arange(cache_->capacity(), inv_freq.options());
  auto freqs = pos.unsqueeze(-1) * inv_freq;  // [capacity, D/2]
  auto emb = torch::cat({freqs, freqs}, -1);
  rope_cos_ = emb.cos().to(lm_->dtype());
  rope_sin_ = emb.sin().to(lm_->dtype());
}

DecodeStep::~DecodeStep() = default;

void DecodeStep::begin_call() {
  check_weights_ = true;
  if (!lm_->device().is_cuda()) return;
  torch::NoGradGuard no_grad;
  const auto& layers = *lm_->model->layers;
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& a = *layers[l]->as<model::DecoderLayerImpl>()->self_attn;
    const std::vector<torch::Tensor> w{a.q_proj->weight, a.k_proj->weight, a.v_proj->weight};
    if (qkv_weight_.size() == l) {
      qkv_weight_.push_back(torch::cat(w, 0));
      qkv_bias_.push_back(a.q_proj->bias.defined()
                              ? torch::cat({a.q_proj->bias, a.k_proj->bias, a.v_proj->bias}, 0)
                              : torch::Tensor());
      continue;
    }
    torch::cat_out(qkv_weight_[l], w, 0);  // same shape: written in place
    if (qkv_bias_[l].defined())
      torch::cat_out(qkv_bias_[l], {a.q_proj->bias, a.k_proj->bias, a.v_proj->bias}, 0);
  }
}

torch::Tensor DecodeStep::attention(int64_t layer, const torch::Tensor& h, StepInputs& in) {
  const int64_t rows = in.rows, L = in.L;
  auto* attn = lm_->model->layers[static_cast<size_t>(layer)]->as<model::DecoderLayerImpl>()->self_attn.get();
  const int64_t Hq = attn->heads, Hkv = attn->kv_heads, D = attn->head_dim, g = Hq / Hkv;
  kernels::RopeDecodeInputs r;
  r.cos = rope_cos_, r.sin = rope_sin_, r.positions = in.positions;
  if (!qkv_weight_.empty()) {
    // The biases (none before a q/k norm) go to rope_decode: torch's bias add after the GEMM, fused.
    const auto& b = qkv_bias_[static_cast<size_t>(layer)];
    const bool fuse_bias = b.defined() && !attn->q_norm;
    auto qkv = project(h, qkv_weight_[static_cast<size_t>(layer)], fuse_bias ? torch::Tensor() : b);
    r.q = qkv.narrow(-1, 0, Hq * D).view({rows, 1, Hq, D});
    r.k = qkv.narrow(-1, Hq * D, Hkv * D).view({rows, 1, Hkv, D});
    r.v = qkv.narrow(-1, (Hq + Hkv) * D, Hkv * D).view({rows, 1, Hkv, D});
    if (fuse_bias) {
      r.q_bias = b.narrow(0, 0, Hq * D);
      r.k_bias = b.narrow(0, Hq * D, Hkv * D);
      r.v_bias = b.narrow(0, (Hq + Hkv) * D, Hkv * D);
    }
  } else {
    r.q = attn->q_proj(h).view({rows, 1, Hq, D});
    r.k = attn->k_proj(h).view({rows, 1, Hkv, D});
    r.v = attn->v_proj(h).view({rows, 1, Hkv, D});
  }
  if (attn->q_norm) {
    r.q = attn->q_norm(r.q);
    r.k = attn->k_norm(r.k);
  }
  auto& kc = cache_->k[static_cast<size_t>(layer)];  // [slots, Hkv, capacity, D], contiguous
  auto& vc = cache_->v[static_cast<size_t>(layer)];
  // The model's RoPE (kernels::rope_reference's bits, as model::apply_rope) and this step's K/V written at
  // each row's position: one kernel on CUDA.
  auto q = kernels::use_rope_decode_kernel(r, kc, vc) ? kernels::rope_decode(r, kc, vc)
                                                      : kernels::rope_decode_reference(r, kc, vc);
  auto keys = kc.narrow(0, 0, rows).narrow(2, 0, L);  // [R, Hkv, L, D], no copy
  auto values = vc.narrow(0, 0, rows).narrow(2, 0, L);
  // The trainer's forward takes the same kernel (model/decoder.cpp): their bits agree.
  if (kernels::use_attention_kernel(q.transpose(1, 2), keys, values)) {
    auto out = kernels::causal_attention(q.transpose(1, 2), keys, values, in.positions);  // [R, Hq, 1, D]
    return project(out.transpose(1, 2).reshape({rows, 1, Hq * D}), attn->o_proj);
  }
  // Query heads h = kv * g + j (transformers' repeat_kv order) folded into the query length.
  auto qf = q.view({rows, Hkv, g, D});
  torch::Tensor out;
  if (compat::kHasSdpa && qf.is_cuda()) {
    out = compat::sdpa(qf, keys, values, in.mask());
  } else {
    auto scores = torch::matmul(qf, keys.transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(D)));
    scores = scores.masked_fill(in.mask().logical_not(), -std::numeric_limits<float>::infinity());
    out = torch::matmul(torch::softmax(scores, -1, torch::kFloat32).to(qf.scalar_type()), values);
  }
  return project(out.reshape({rows, 1, Hq * D}), attn->o_proj);
}

torch::Tensor DecodeStep::mlp(model::DecoderLayerImpl& layer, const torch::Tensor& x, int64_t rows) {
  model::MLPImpl& m = *layer.mlp;
  auto run = [&m](const torch::Tensor& in) {
    // gate_proj and up_proj as one GEMM over their stacked weights where tuning found one with the bits of
    // the two projections (the trainer runs them apart); else the model's MLP, each projection through
    // project().
    if (kernels::enabled("stacked_gemm")) {
      const auto w = m.stacked_gate_up_weight();
      const auto gu = w.defined() && kernels::use_tuned_linear(in, w)
                          ? kernels::tuned_linear_stacked(in, w, 2)
                          : torch::Tensor();
      if (gu.defined()) {
        return project(kernels::use_silu_mul_stacked_kernel(gu) ? kernels::silu_mul_stacked(gu)
                                                                : kernels::silu_mul_stacked_reference(gu),
                       m.down_proj);
      }
    }
    return m.forward_with(in, [](const torch::Tensor& v, model::Linear p) { return project(v, p); });
  };
  if (rows >= min_mlp_rows_) return run(x);
  // Zero rows below the real ones: each row's GEMM output bits do not depend on the others.
  auto padded = torch::constant_pad_nd(x, {0, 0, 0, 0, 0, min_mlp_rows_ - rows});
  return run(padded).narrow(0, 0, rows);
}

torch::Tensor DecodeStep::forward(const torch::Tensor& ids, const torch::Tensor& positions, int64_t rows,
                                  int64_t L) {
  StepInputs in;
  in.positions = positions, in.rows = rows, in.L = L, in.dtype = rope_cos_.options();
  auto x = lm_->model->embed_tokens(ids.view({rows, 1}));
  if (lm_->float32_residual()) x = x.to(torch::kFloat32);  // as CausalLM::run_layers
  // Each residual add goes with the norm after it: the next layer's input norm, or the final one.
  auto& layers = *lm_->model->layers;
  auto normed = layers[0]->as<model::DecoderLayerImpl>()->input_layernorm(x);
  for (size_t l = 0; l < layers.size(); ++l) {
    auto* layer = layers[l]->as<model::DecoderLayerImpl>();
    auto [h, h_normed] = model::add_and_norm(x, attention(static_cast<int64_t>(l), normed, in),
                                             layer->post_attention_layernorm);
    auto& next = l + 1 < layers.size() ? layers[l + 1]->as<model::DecoderLayerImpl>()->input_layernorm
                                       : lm_->model->norm;
    std::tie(x, normed) = model::add_and_norm(h, mlp(*layer, h_normed, rows), next);
  }
  return lm_->logits(normed).view({rows, -1});
}

torch::Tensor DecodeStep::body(const torch::Tensor& ids, const torch::Tensor& positions,
                               const torch::Tensor& uniforms, int64_t rows, int64_t L,
                               const SamplerParams& params) {
  torch::NoGradGuard no_grad;
  auto r = sample(forward(ids, positions, rows, L), params, uniforms);
  return torch::stack(
      {r.tokens.to(torch::kDouble), r.logprobs.to(torch::kDouble), r.logprobs_policy.to(torch::kDouble)});
}

#if ZERORL_CUDA_GRAPHS
namespace {
// Bytes the caching allocator holds from the driver on `device` (all pools, graph pools included).
int64_t reserved_bytes(c10::DeviceIndex device) {
  return c10::cuda::CUDACachingAllocator::getDeviceStats(device).reserved_bytes[0].current;  // 0: aggregate
}
}  // namespace
#endif

// Captures the step over all slots attending over [0, L). Memory: every graph is captured into the
// private memory pool of the first one, so their intermediates (the [slots, V] logits, sampling
// temporaries and attention workspaces) share the same blocks. Sharing is safe here because replays are
// serialized on one stream, no graph reads another's intermediates, and each `out` stays allocated (never
// handed to a later capture) and is read right after its own replay. graph_for() captures the longest
// length first, so later (shorter) graphs fit in its freed blocks instead of each adding its own, and all
// captures run on one stream (blocks are reusable only on the stream that allocated them).
std::unique_ptr<DecodeStep::Graph> DecodeStep::capture(int64_t L, const SamplerParams& params) {
  auto g = std::make_unique<Graph>();
  g->params = params;
  g->weights = weight_pointers(lm_);
#if ZERORL_CUDA_GRAPHS
  const int64_t slots = cache_->num_slots();
  decltype(g->graph.pool()) pool{0, 0};
  // The caching allocator serves a free block only to the stream that allocated it: all captures go on
  // the first one's stream, or no graph could reuse another's blocks (each would grow the pool).
  g->stream = graphs_.empty() ? c10::cuda::getStreamFromPool() : *graphs_.begin()->second->stream;
  if (!graphs_.empty()) pool = graphs_.begin()->second->graph.pool();
  torch::cuda::synchronize();  // the static inputs were written on the current stream
  const c10::cuda::CUDAStream stream = *g->stream;
  {
    c10::cuda::CUDAStreamGuard guard(stream);
    // Warm-up outside capture (cuBLAS handles, kernel selection). It computes exactly what the replay
    // will (same inputs), so the K/V it writes are the step's own.
    for (int i = 0; i < 2; ++i) body(ids_, pos_, uniforms_, slots, L, params);
    stream.synchronize();
    const int64_t before = reserved_bytes(stream.device_index());
    g->graph.capture_begin(pool);
    try {
      g->out = body(ids_, pos_, uniforms_, slots, L, params);
    } catch (...) {
      // e.g. out of memory inside the capture: leave capture mode before anything else runs on the
      // device (the failed graph is discarded; the caller decodes eagerly).
      try {
        g->graph.capture_end();
      } catch (...) {
      }
      throw;
    }
    g->graph.capture_end();
    pool_bytes_ += reserved_bytes(stream.device_index()) - before;
  }
  torch::cuda::synchronize();
  ZRL_INFO(
      "rollout: captured the decode step as a CUDA graph ({} slots x {} positions, {} graphs, pool {:.2f} "
      "GiB)",
      slots, L, graphs_.size() + 1, static_cast<double>(pool_bytes_) / (1 << 30));
#else
  (void)L;
#endif
  return g;
}

DecodeStep::Graph& DecodeStep::graph_for(int64_t L, const SamplerParams& params) {
  if (!graphs_.empty()) {
    const auto& any = *graphs_.begin()->second;
    // Walking the parameters costs host time every step; once per generate() call is enough.
    if (!same_params(any.params, params) || (check_weights_ && any.weights != weight_pointers(lm_))) {
      graphs_.clear();
    }
  }
  check_weights_ = false;
  if (graphs_.empty()) {
    pool_bytes_ = 0;
    // The longest first: its blocks are the largest, and the shared pool serves later graphs from them.
    const int64_t longest = decode_bucket(cache_->capacity(), bucket_, cache_->capacity());
    if (L != longest) graphs_.emplace(longest, capture(longest, params));
  }
  auto it = graphs_.find(L);
  if (it == graphs_.end()) it = graphs_.emplace(L, capture(L, params)).first;
  return *it->second;
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
  int64_t needed = 1;  // attention length: every row's position + 1
  for (int64_t s = 0; s < n; ++s) {
    const bool given = s < rows;
    const int64_t len = cache_->lengths[static_cast<size_t>(s)];
    ZRL_CHECK(len < cache_->capacity(), "DecodeStep::run: slot {} is full ({} tokens)", s, len);
    a[0][s] = given ? static_cast<double>(ids[static_cast<size_t>(s)]) : 0.0;
    a[1][s] = static_cast<double>(len);
    a[2][s] = given ? uniforms[static_cast<size_t>(s)] : 0.5;
    needed = std::max(needed, len + 1);
  }
  if (!want_graphs_) {
    auto dev = host.to(device);
    auto out = body(dev[0].to(torch::kLong), dev[1].to(torch::kLong), dev[2], rows, needed, params);
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
  Graph* graph = nullptr;
  try {
    graph = &graph_for(decode_bucket(needed, bucket_, cache_->capacity()), params);
  } catch (const std::exception& e) {  // e.g. out of memory for the graph pool: eager needs less
    const auto* torch_error = dynamic_cast<const c10::Error*>(&e);  // its what() carries a stack trace
    ZRL_WARN("rollout: CUDA graph capture failed, decoding eagerly: {}",
             torch_error != nullptr ? torch_error->what_without_backtrace() : e.what());
    graphs_.clear();
    want_graphs_ = false;
    return run(ids, uniforms, rows, params);
  }
#if ZERORL_CUDA_GRAPHS
  graph->graph.replay();
#endif
  return graph->out.cpu();
}

}  // namespace zerorl::rollout
