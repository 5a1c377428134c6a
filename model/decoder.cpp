// model/decoder.cpp: modules, RoPE, attention (plain and SDPA), both forward paths and greedy decoding.
// Not here: loading/saving weights (checkpoint.cpp). Formulas follow transformers'
// modeling_{llama,qwen2,qwen3}.
#include "model/decoder.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "compat/torch_compat.h"
#include "core/error.h"
#include "core/log.h"
#include "kernels/attention.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"
#include "model/recompute.h"
#include "model/split_linear.h"

namespace zerorl::model {

using torch::indexing::Slice;

KvCache::KvCache(const ModelConfig& c, int64_t num_slots, int64_t capacity, torch::Dtype dtype,
                 torch::Device device)
    : lengths(static_cast<size_t>(num_slots), 0), capacity_(capacity) {
  ZRL_CHECK(num_slots > 0 && capacity > 0, "KvCache: num_slots {} and capacity {} must be positive",
            num_slots, capacity);
  auto options = torch::TensorOptions().dtype(dtype).device(device);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    k.push_back(torch::zeros({num_slots, c.num_key_value_heads, capacity, c.head_dim}, options));
    v.push_back(torch::zeros({num_slots, c.num_key_value_heads, capacity, c.head_dim}, options));
  }
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const torch::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}, options));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  if (kernels::use_kernel(x, weight)) return kernels::rms_norm(x, weight, eps);  // one CUDA kernel
  return kernels::rms_norm_reference(x, weight, eps);
}

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias, const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out, in}, options));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}, options));
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  if (use_split_weight_grad(x, weight)) return linear_split_weight_grad(x, weight, bias);  // k/v in training
  return torch::nn::functional::linear(x, weight, bias);
}

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t dim, const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({vocab, dim}, options));
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) { return torch::embedding(weight, ids); }

namespace {

std::atomic<bool> g_causal_sdpa{false};

}  // namespace

void set_causal_sdpa(bool on) { g_causal_sdpa = on; }

bool causal_sdpa() {
  static const int forced = [] {  // ZERORL_CAUSAL_SDPA=0|1 overrides set_causal_sdpa; -1: not set
    const char* v = std::getenv("ZERORL_CAUSAL_SDPA");
    return v == nullptr ? -1 : (std::string(v) == "0" ? 0 : 1);
  }();
  return forced >= 0 ? forced == 1 : g_causal_sdpa.load();
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  if (kernels::use_rope_kernel(x, cos, sin)) return kernels::rope(x, cos, sin);  // one CUDA kernel
  return kernels::rope_reference(x, cos, sin);
}

std::pair<torch::Tensor, torch::Tensor> add_and_norm(const torch::Tensor& x, const torch::Tensor& delta,
                                                     RMSNorm& norm) {
  if (kernels::use_kernel(x, norm->weight) && delta.scalar_type() == x.scalar_type())
    return kernels::add_rms_norm(x, delta, norm->weight, norm->eps);  // the add and the norm: one kernel
  auto h = x + delta;
  return {h, norm(h)};
}

namespace {

// q [B,Hq,T,D], k/v [B,Hkv,L,D] -> [B,Hq,T,D] under in.mask [B,1,T,L]. causal, kernel_rows: see
// AttentionInputs; cached: K/V come from the KV cache (the rows' earlier tokens and this call's).
torch::Tensor attend(const torch::Tensor& q, torch::Tensor k, torch::Tensor v, const AttentionInputs& in,
                     bool cached) {
  const auto& mask = in.mask;
  const int64_t B = q.size(0), Hq = q.size(1), T = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), L = k.size(2), g = Hq / Hkv;
  if (!cached && in.segments.width > 0) return attend_segments(q, k, v, in.segments);  // packed rows
  if (!cached && in.causal && compat::kHasSdpaGqa && q.is_cuda() && causal_sdpa()) {
    return compat::sdpa_causal(q, k, v);
  }
  // The batch-invariant kernel: the engine's decode step takes it too, so their bits agree.
  if (in.kernel_rows && kernels::use_attention_kernel(q, k, v)) {
    return kernels::causal_attention(q, k, v, cached ? in.q_start : torch::Tensor(), in.key_end);
  }
  if (compat::kHasSdpa && q.is_cuda()) {
    if (g > 1) {
      k = k.unsqueeze(2).expand({B, Hkv, g, L, D}).reshape({B, Hq, L, D});
      v = v.unsqueeze(2).expand({B, Hkv, g, L, D}).reshape({B, Hq, L, D});
    }
    return compat::sdpa(q, k, v, mask);
  }
  // Plain path: query heads of one KV group stacked along T, so K/V are never repeated.
  auto qg = q.reshape({B, Hkv, g * T, D});
  auto m = mask.unsqueeze(2).expand({B, 1, g, T, L}).reshape({B, 1, g * T, L});
  auto scores = torch::matmul(qg, k.transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(D)));
  scores = scores.masked_fill(m.logical_not(), -std::numeric_limits<float>::infinity());
  auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  return torch::matmul(probs, v).view({B, Hq, T, D});
}

// x [N, in] @ w [out, in]^T -> [N, out] float32 through mm.dtype (CUDA, torch >= 2.8). Saves x and w only.
class LinearFloat32Out : public torch::autograd::Function<LinearFloat32Out> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& w) {
    ctx->save_for_backward({x, w});
    return compat::mm_float32_out(x, w.t());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1];
    auto g = grads[0].to(x.scalar_type());
    return {g.mm(w), g.t().mm(x)};
  }
};

}  // namespace

torch::Tensor linear_float32(const torch::Tensor& x, const torch::Tensor& w) {
  ZRL_CHECK(w.dim() == 2 && x.dim() >= 1 && x.size(-1) == w.size(1) && x.scalar_type() == w.scalar_type(),
            "linear_float32: x {} ({}) and w {} ({}) disagree", c10::str(x.sizes()),
            c10::toString(x.scalar_type()), c10::str(w.sizes()), c10::toString(w.scalar_type()));
  if (x.scalar_type() == torch::kFloat32) return torch::nn::functional::linear(x, w);
  const bool half = x.scalar_type() == torch::kBFloat16 || x.scalar_type() == torch::kHalf;
  if (compat::kHasMmOutDtype && half && x.is_cuda()) {
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = w.size(0);
    try {
      return LinearFloat32Out::apply(x.reshape({-1, x.size(-1)}), w).view(shape);
    } catch (const c10::Error& e) {  // argument checks fail before any kernel runs: upcast instead
      static std::atomic<bool> warned{false};
      if (!warned.exchange(true))
        ZRL_WARN("linear_float32: mm with out_dtype failed, upcasting: {}", e.what());
    }
  }
  return torch::nn::functional::linear(x.to(torch::kFloat32), w.to(torch::kFloat32));
}

AttentionImpl::AttentionImpl(const ModelConfig& c, const torch::TensorOptions& options)
    : heads(c.num_attention_heads), kv_heads(c.num_key_value_heads), head_dim(c.head_dim) {
  q_proj = register_module("q_proj", Linear(c.hidden_size, heads * head_dim, c.qkv_bias, options));
  k_proj = register_module("k_proj", Linear(c.hidden_size, kv_heads * head_dim, c.qkv_bias, options));
  v_proj = register_module("v_proj", Linear(c.hidden_size, kv_heads * head_dim, c.qkv_bias, options));
  o_proj = register_module("o_proj", Linear(heads * head_dim, c.hidden_size, c.o_bias, options));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim, c.rms_norm_eps, options));
    k_norm = register_module("k_norm", RMSNorm(head_dim, c.rms_norm_eps, options));
  }
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const AttentionInputs& in, KvCache* cache,
                                     int64_t layer) {
  const int64_t B = x.size(0), T = x.size(1);
  auto q = q_proj(x).view({B, T, heads, head_dim});
  auto k = k_proj(x).view({B, T, kv_heads, head_dim});
  auto v = v_proj(x).view({B, T, kv_heads, head_dim});
  if (q_norm) {
    q = q_norm(q);
    k = k_norm(k);
  }
  q = apply_rope(q.transpose(1, 2), in.cos, in.sin);
  k = apply_rope(k.transpose(1, 2), in.cos, in.sin);
  v = v.transpose(1, 2);
  if (cache != nullptr) {
    auto& kc = cache->k[static_cast<size_t>(layer)];
    auto& vc = cache->v[static_cast<size_t>(layer)];
    // Advanced indices (slots [B,1], write_pos [B,T]) around a slice: the indexed view is [B,T,Hkv,D].
    kc.index_put_({in.slots.unsqueeze(1), Slice(), in.write_pos}, k.transpose(1, 2));
    vc.index_put_({in.slots.unsqueeze(1), Slice(), in.write_pos}, v.transpose(1, 2));
    const int64_t L = in.mask.size(-1);
    if (in.slot_start >= 0) {
      k = kc.narrow(0, in.slot_start, B).narrow(2, 0, L);
      v = vc.narrow(0, in.slot_start, B).narrow(2, 0, L);
    } else {
      k = kc.narrow(2, 0, L).index_select(0, in.slots);
      v = vc.narrow(2, 0, L).index_select(0, in.slots);
    }
  }
  auto out = attend(q, k, v, in, cache != nullptr);
  return o_proj(out.transpose(1, 2).reshape({B, T, heads * head_dim}));
}

MLPImpl::MLPImpl(const ModelConfig& c, const torch::TensorOptions& options) {
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, options));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, options));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, c.mlp_bias, options));
  // One storage for both weights (see stacked_gate_up_weight). set_data keeps each parameter's identity: the
  // registered parameter and the member stay one tensor, so loaders and optimizers see no difference.
  torch::NoGradGuard no_grad;
  const int64_t inter = c.intermediate_size;
  auto w = torch::cat({gate_proj->weight, up_proj->weight});
  gate_proj->weight.set_data(w.narrow(0, 0, inter));
  up_proj->weight.set_data(w.narrow(0, inter, inter));
}

torch::Tensor MLPImpl::stacked_gate_up_weight() const {
  const torch::Tensor &gate = gate_proj->weight, &up = up_proj->weight;
  if (gate_proj->bias.defined() || up_proj->bias.defined() || gate.dim() != 2 || gate.sizes() != up.sizes())
    return {};
  const int64_t inter = gate.size(0), hidden = gate.size(1);
  const bool adjacent = gate.is_alias_of(up) && gate.is_contiguous() && up.is_contiguous() &&
                        gate.scalar_type() == up.scalar_type() && gate.device() == up.device() &&
                        up.storage_offset() == gate.storage_offset() + inter * hidden;
  if (!adjacent) return {};
  return gate.detach().as_strided({2 * inter, hidden}, {hidden, 1}, gate.storage_offset());
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  if (torch::GradMode::is_enabled() && x.is_cuda()) {  // training: the stacked backward where it applies
    const auto w = stacked_gate_up_weight();
    if (kernels::use_gate_up_silu_mul(x, gate_proj->weight, up_proj->weight, w))
      return down_proj(kernels::gate_up_silu_mul(x, gate_proj->weight, up_proj->weight, w));
  }
  return forward_with(x, [](const torch::Tensor& in, Linear m) { return m(in); });
}

torch::Tensor MLPImpl::forward_with(const torch::Tensor& x, const Project& project) {
  auto gate = project(x, gate_proj), up = project(x, up_proj);
  if (kernels::use_silu_mul_kernel(gate, up))
    return project(kernels::silu_mul(gate, up), down_proj);  // one CUDA kernel
  return project(kernels::silu_mul_reference(gate, up), down_proj);
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, const torch::TensorOptions& options) {
  self_attn = register_module("self_attn", Attention(c, options));
  mlp = register_module("mlp", MLP(c, options));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const AttentionInputs& in, KvCache* cache,
                                        int64_t layer) {
  auto [h, normed] =
      add_and_norm(x, self_attn(input_layernorm(x), in, cache, layer), post_attention_layernorm);
  return h + mlp(normed);
}

DecoderModelImpl::DecoderModelImpl(const ModelConfig& c, const torch::TensorOptions& options) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c, options));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
}

torch::Tensor rope_inv_freq(const ModelConfig& c) {
  const int64_t dim = c.head_dim;
  auto exponent = torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(dim);
  auto inv_freq = 1.0 / torch::pow(c.rope_theta, exponent);
  const RopeScaling& r = c.rope_scaling;
  if (r.type == "linear") return inv_freq / r.factor;
  if (r.type != "llama3") return inv_freq;
  // Llama 3.1: keep high frequencies, divide low ones by `factor`, interpolate in between.
  const double old_len = static_cast<double>(r.original_max_position_embeddings);
  const double low_wavelen = old_len / r.low_freq_factor, high_wavelen = old_len / r.high_freq_factor;
  auto wavelen = 2 * M_PI / inv_freq;
  auto scaled = torch::where(wavelen > low_wavelen, inv_freq / r.factor, inv_freq);
  auto smooth = (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
  auto smoothed = (1 - smooth) * scaled / r.factor + smooth * scaled;
  auto medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
  return torch::where(medium, smoothed, scaled);
}

CausalLMImpl::CausalLMImpl(const ModelConfig& config, torch::Dtype dtype, torch::Device device)
    : config_(config), dtype_(dtype), device_(device) {
  auto options = torch::TensorOptions().dtype(dtype).device(device);
  model = register_module("model", DecoderModel(config, options));
  if (!config.tie_word_embeddings) {
    lm_head = register_module("lm_head", Linear(config.hidden_size, config.vocab_size, false, options));
  }
  inv_freq_ = rope_inv_freq(config).to(device);
}

torch::Tensor CausalLMImpl::lm_head_weight() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

torch::Tensor CausalLMImpl::logits(const torch::Tensor& hidden) {
  return linear_float32(hidden, lm_head_weight());
}

KvCache CausalLMImpl::make_cache(int64_t num_slots, int64_t capacity) const {
  return KvCache(config_, num_slots, capacity, dtype_, device_);
}

torch::Tensor CausalLMImpl::run_layers(const torch::Tensor& input_ids, const torch::Tensor& positions,
                                       AttentionInputs& in, KvCache* cache) {
  // RoPE tables in float32 (transformers computes them with autocast off), cast to the model dtype.
  auto freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq_;  // [B,T,D/2]
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);                // [B,1,T,D]
  in.cos = emb.cos().to(dtype_);
  in.sin = emb.sin().to(dtype_);
  auto x = model->embed_tokens(input_ids);
  if (float32_residual_) x = x.to(torch::kFloat32);
  const bool recompute = checkpointing_ && cache == nullptr && torch::GradMode::is_enabled();
  for (size_t l = 0; l < model->layers->size(); ++l) {
    auto* layer = model->layers[l]->as<DecoderLayer>();
    // x.requires_grad(): parameter grads flow only through the checkpointed function's input (recompute.h).
    x = recompute && x.requires_grad() ? checkpointed_layer(*layer, x, in)
                                       : layer->forward(x, in, cache, static_cast<int64_t>(l));
  }
  return model->norm(x);
}

bool CausalLMImpl::attention_kernel_may_run() const {
  return kernels::enabled("attention") && device_.is_cuda() && dtype_ == torch::kBFloat16;
}

torch::Tensor CausalLMImpl::hidden_states(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                          bool right_padded) {
  ZRL_CHECK(input_ids.dim() == 2, "CausalLM::forward: input_ids must be [B,T], got {} dims", input_ids.dim());
  const int64_t T = input_ids.size(1);
  auto ids = input_ids.to(device_, torch::kInt64);
  auto mask = attention_mask.defined() ? attention_mask.to(device_, torch::kInt64) : torch::ones_like(ids);
  ZRL_CHECK(mask.sizes() == ids.sizes(),
            "CausalLM::forward: attention_mask shape must equal input_ids shape");
  AttentionInputs in;
  auto positions = (mask.cumsum(-1) - 1).clamp_min(0);
  auto bool_opts = torch::TensorOptions().dtype(torch::kBool).device(device_);
  auto causal = torch::ones({T, T}, bool_opts).tril();
  auto key_valid = mask.to(torch::kBool).view({ids.size(0), 1, 1, T});
  in.mask = causal.view({1, 1, T, T})
                .logical_and(key_valid)
                .logical_or(torch::eye(T, bool_opts).view({1, 1, T, T}));
  in.causal = right_padded || !attention_mask.defined();
  // The mask of right-padded rows is kernels::causal_attention's rule with key_end = the rows' lengths.
  // Callers that did not say so are checked (one device sync) where the kernel could run.
  in.kernel_rows = in.causal;
  if (!in.kernel_rows && T > 1 && attention_kernel_may_run()) {
    in.kernel_rows = mask.narrow(1, 1, T - 1).le(mask.narrow(1, 0, T - 1)).all().item<bool>();
  }
  if (in.kernel_rows && attention_mask.defined()) in.key_end = mask.sum(-1);
  return run_layers(ids, positions, in, nullptr);
}

torch::Tensor CausalLMImpl::forward_packed(const torch::Tensor& input_ids, const torch::Tensor& segment_ids) {
  return logits(hidden_states_packed(input_ids, segment_ids));
}

torch::Tensor CausalLMImpl::hidden_states_packed(const torch::Tensor& input_ids,
                                                 const torch::Tensor& segment_ids) {
  ZRL_CHECK(input_ids.dim() == 2 && segment_ids.sizes() == input_ids.sizes(),
            "CausalLM::forward_packed: input_ids and segment_ids must both be [B,T]");
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  auto ids = input_ids.to(device_, torch::kInt64);
  AttentionInputs in;
  if (attention_kernel_may_run()) {
    in.segments = segment_rows(segment_ids, device_);  // each segment a row of its own: the padded bits
    if (in.segments.width > 0) return run_layers(ids, in.segments.positions, in, nullptr);
  }
  auto seg = segment_ids.to(device_, torch::kInt64);
  auto idx = torch::arange(T, ids.options()).expand({B, T});
  // A segment starts where the id changes; position = index - the index of its segment's start.
  auto starts = torch::ones({B, T}, ids.options().dtype(torch::kBool));
  if (T > 1) starts.slice(1, 1).copy_(seg.slice(1, 1) != seg.slice(1, 0, T - 1));
  auto first = std::get<0>(torch::where(starts, idx, torch::zeros_like(idx)).cummax(1));
  auto bool_opts = torch::TensorOptions().dtype(torch::kBool).device(device_);
  auto same = seg.unsqueeze(2) == seg.unsqueeze(1);  // [B,T,T]
  in.mask = torch::ones({T, T}, bool_opts)
                .tril()
                .unsqueeze(0)
                .logical_and(same)
                .logical_or(torch::eye(T, bool_opts).unsqueeze(0))
                .unsqueeze(1);
  return run_layers(ids, idx - first, in, nullptr);
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
  return logits(hidden_states(input_ids, attention_mask));
}

torch::Tensor CausalLMImpl::forward_cached(const torch::Tensor& input_ids, const std::vector<int64_t>& slots,
                                           KvCache& cache, const std::vector<int64_t>& num_new,
                                           bool all_logits) {
  ZRL_CHECK(input_ids.dim() == 2, "forward_cached: input_ids must be [B,T], got {} dims", input_ids.dim());
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  ZRL_CHECK(static_cast<int64_t>(slots.size()) == B, "forward_cached: {} slots for {} rows", slots.size(), B);
  ZRL_CHECK(num_new.empty() || static_cast<int64_t>(num_new.size()) == B,
            "forward_cached: {} num_new for {} rows", num_new.size(), B);
  std::vector<int64_t> pos(static_cast<size_t>(B * T)), ends(static_cast<size_t>(B)),
      last(static_cast<size_t>(B));
  std::vector<bool> used(static_cast<size_t>(cache.num_slots()), false);
  int64_t L = 0;
  bool contiguous = true;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t s = slots[static_cast<size_t>(b)];
    ZRL_CHECK(s >= 0 && s < cache.num_slots() && !used[static_cast<size_t>(s)],
              "forward_cached: slot {} out of range [0, {}) or repeated", s, cache.num_slots());
    used[static_cast<size_t>(s)] = true;
    contiguous = contiguous && s == slots[0] + b;
    const int64_t start = cache.lengths[static_cast<size_t>(s)];
    const int64_t n = num_new.empty() ? T : num_new[static_cast<size_t>(b)];
    ZRL_CHECK(n >= 1 && n <= T, "forward_cached: num_new {} of row {} outside [1, {}]", n, b, T);
    ZRL_CHECK(start + T <= cache.capacity(),
              "forward_cached: slot {} holds {} tokens, {} more exceed capacity {}", s, start, T,
              cache.capacity());
    for (int64_t t = 0; t < T; ++t) pos[static_cast<size_t>(b * T + t)] = start + t;
    ends[static_cast<size_t>(b)] = start + n;
    last[static_cast<size_t>(b)] = n - 1;
    L = std::max(L, start + T);
  }
  auto long_opts = torch::TensorOptions().dtype(torch::kInt64);
  auto positions = torch::tensor(pos, long_opts).view({B, T}).to(device_);
  AttentionInputs in;
  in.slots = torch::tensor(slots, long_opts).to(device_);
  in.write_pos = positions;
  in.slot_start = contiguous ? slots[0] : -1;
  // Key j is visible to query (b,t) at position p when j <= p and j < ends[b]; or j == p (never empty).
  auto kpos = torch::arange(L, long_opts.device(device_)).view({1, 1, 1, L});
  auto qpos = positions.view({B, 1, T, 1});
  auto end = torch::tensor(ends, long_opts).to(device_).view({B, 1, 1, 1});
  in.mask = kpos.le(qpos).logical_and(kpos.lt(end)).logical_or(kpos.eq(qpos));
  in.q_start = positions.select(1, 0).contiguous();
  in.key_end = end.view({B});
  in.kernel_rows = true;  // the mask above is the kernel's rule
  auto hidden = run_layers(input_ids.to(device_, torch::kInt64), positions, in, &cache);
  for (int64_t b = 0; b < B; ++b) {
    cache.lengths[static_cast<size_t>(slots[static_cast<size_t>(b)])] = ends[static_cast<size_t>(b)];
  }
  if (all_logits) return logits(hidden);
  auto rows = torch::arange(B, long_opts.device(device_));
  auto cols = torch::tensor(last, long_opts).to(device_);
  return logits(hidden.index({rows, cols}));
}

void init_random_(CausalLM& lm, uint64_t seed, double std) {
  torch::NoGradGuard no_grad;
  auto gen = compat::cpu_generator(seed);
  for (auto& p : lm->named_parameters()) {
    const std::string& name = p.key();
    auto& t = p.value();
    if (name.size() >= 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0) {
      t.fill_(1.0);
    } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
      t.zero_();
    } else {
      t.copy_(torch::randn(t.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat32)) * std);
    }
  }
}

std::vector<std::vector<int64_t>> greedy_generate(CausalLM& lm,
                                                  const std::vector<std::vector<int64_t>>& prompts,
                                                  int64_t max_new_tokens) {
  torch::NoGradGuard no_grad;
  const int64_t B = static_cast<int64_t>(prompts.size());
  ZRL_CHECK(B > 0, "greedy_generate: no prompts");
  int64_t T = 0;
  for (const auto& p : prompts) {
    ZRL_CHECK(!p.empty(), "greedy_generate: empty prompt");
    T = std::max<int64_t>(T, static_cast<int64_t>(p.size()));
  }
  auto ids = torch::zeros({B, T}, torch::kInt64);
  std::vector<int64_t> lens, slots;
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[static_cast<size_t>(b)];
    ids[b].narrow(0, 0, static_cast<int64_t>(p.size())).copy_(torch::tensor(p, torch::kInt64));
    lens.push_back(static_cast<int64_t>(p.size()));
    slots.push_back(b);
  }
  auto out = prompts;
  if (max_new_tokens <= 0) return out;
  KvCache cache = lm->make_cache(B, T + max_new_tokens);
  auto logits = lm->forward_cached(ids, slots, cache, lens);
  for (int64_t step = 0; step < max_new_tokens; ++step) {
    auto next = logits.argmax(-1).to(torch::kCPU);
    auto acc = next.accessor<int64_t, 1>();
    for (int64_t b = 0; b < B; ++b) out[static_cast<size_t>(b)].push_back(acc[b]);
    if (step + 1 < max_new_tokens) logits = lm->forward_cached(next.view({B, 1}), slots, cache);
  }
  return out;
}

}  // namespace zerorl::model
