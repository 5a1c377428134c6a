// model/decoder.h: the Qwen2 / Qwen3 / Llama decoder as LibTorch modules (parameter names equal Hugging
// Face's: model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight, ..., model.norm.weight,
// lm_head.weight), the slot-based KV cache, and greedy decoding. Not here: safetensors IO (checkpoint.h),
// sampling (rollout/).
//
// Two forward paths:
//  * CausalLM::forward(input_ids [B,T], attention_mask [B,T] or undefined) -> logits [B,T,V]: no cache, for
//    training and scoring. Padding (left or right) is allowed: positions are cumsum(mask) - 1, padded keys
//    are masked, so every real position equals its row run alone. Outputs at padded positions are finite
//    garbage.
//  * CausalLM::forward_cached(input_ids [B,T], slots, cache, num_new) -> logits: the generation path over a
//    preallocated KvCache (see below). Prefill and decode are the same call: a prefill is T prompt tokens
//    (rows right-padded to T, num_new[b] real ones), a decode step is T = 1.
// Attention: torch >= 2 on CUDA uses scaled_dot_product_attention; otherwise a plain path (softmax in
// float32, like transformers' eager attention). Both use a boolean mask where a query may always attend
// to itself, so no row is fully masked (no NaN from padding).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <utility>
#include <vector>

#include "model/config.h"
#include "model/packed_attention.h"

namespace zerorl::model {

// Preallocated KV cache for continuous batching. For each layer l: k[l], v[l] of shape
// [num_slots, kv_heads, capacity, head_dim] (model dtype, model device), zero-initialised.
// lengths[s] = tokens stored in slot s (host side); a slot's tokens occupy positions [0, lengths[s]) and
// their RoPE positions are the same indices. A finished sequence frees its slot with reset(s); stale
// K/V beyond lengths[s] are never attended to.
struct KvCache {
  KvCache(const ModelConfig& config, int64_t num_slots, int64_t capacity, torch::Dtype dtype,
          torch::Device device);
  int64_t num_slots() const { return static_cast<int64_t>(lengths.size()); }
  int64_t capacity() const { return capacity_; }
  void reset(int64_t slot) { lengths.at(static_cast<size_t>(slot)) = 0; }
  void reset_all() { std::fill(lengths.begin(), lengths.end(), 0); }

  std::vector<torch::Tensor> k, v;
  std::vector<int64_t> lengths;

 private:
  int64_t capacity_;
};

// y = x / sqrt(mean(x^2) + eps) * weight, computed in float32 and cast to the weight's dtype before the
// product (transformers' RMSNorm casts to x's dtype: the same unless x is a float32 residual stream).
struct RMSNormImpl : torch::nn::Module {
  RMSNormImpl(int64_t dim, double eps, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

// y = x W^T + b. Parameters "weight" [out, in] and optional "bias" [out]; created uninitialised.
struct LinearImpl : torch::nn::Module {
  LinearImpl(int64_t in, int64_t out, bool bias, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
};
TORCH_MODULE(Linear);

struct EmbeddingImpl : torch::nn::Module {
  EmbeddingImpl(int64_t vocab, int64_t dim, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& ids);
  torch::Tensor weight;  // [vocab, dim]
};
TORCH_MODULE(Embedding);

// Per-forward inputs shared by all layers. cos/sin [B,1,T,head_dim] (RoPE at the tokens' positions);
// mask [B,1,T,L] bool (true = may attend). Cached path only: slots [B] int64, write_pos [B,T] int64 (cache
// positions of this call's tokens), slot_start >= 0 when slots are the contiguous range [slot_start, +B).
// causal: no cache, and the mask is plain causal for every query whose output counts (rows without padding,
// or right-padded ones: a real token's keys are all real); CUDA attention may then drop the mask (flash).
// kernel_rows: the mask is exactly kernels::causal_attention's rule with q_start [B] (cached path: each
// row's first position) and key_end [B] (each row's length; undefined: no padding), so that kernel may run.
// segments: packed rows (hidden_states_packed) on the kernel's path; when its width is > 0, attention runs
// within each segment through attend_segments (packed_attention.h) and mask is unused.
struct AttentionInputs {
  torch::Tensor cos, sin, mask, slots, write_pos, q_start, key_end;
  int64_t slot_start = -1;
  bool causal = false;
  bool kernel_rows = false;
  SegmentRows segments;
};

// Causal rows on CUDA (AttentionInputs::causal) may run scaled_dot_product_attention with is_causal and
// enable_gqa instead of the bool mask and repeated K/V heads (torch >= 2.5; flash where it applies). Off by
// default: the masked path sums a token's keys in the blocks of the engine's decode attention, so with
// batch-invariant GEMMs the trainer's bf16 log-probs equal the engine's bit for bit; the causal kernel gave
// right-padded rows a mean difference of 1.7e-3 (TrainerGpu.RecomputedOldLogprobsEqualTheEngines) for an
// update 1.055x as fast (H100, 0.5B and 1.5B shapes, bench/results/update_kernels_h100.json). So it goes
// with that trade: rollout::use_batch_invariant_gemm(on) sets it to !on (rollout.batch_invariant: false turns
// it on). ZERORL_CAUSAL_SDPA=0|1 in the environment overrides both (A/B runs).
void set_causal_sdpa(bool on);
bool causal_sdpa();

struct AttentionImpl : torch::nn::Module {
  AttentionImpl(const ModelConfig& c, const torch::TensorOptions& options);
  // x [B,T,H]. Without cache: keys are this call's tokens. With cache: writes K/V at (slots, write_pos)
  // in layer `layer` of `cache`, then attends over cache positions [0, L) where L = mask.size(-1).
  torch::Tensor forward(const torch::Tensor& x, const AttentionInputs& in, KvCache* cache, int64_t layer);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // Qwen3 only
  int64_t heads, kv_heads, head_dim;
};
TORCH_MODULE(Attention);

// down(silu(gate(x)) * up(x)). gate_proj's and up_proj's weights are created as the two halves of one
// [2I, H] storage (gate rows, then up rows) so that the engine's decode step can run both projections as one
// GEMM (stacked_gate_up_weight); they stay two parameters. Training runs them forward as two linears (the
// bits the decode step is held to) and, on bf16 CUDA, backward as one GEMM per gradient over both weights
// (kernels::gate_up_silu_mul; switch stacked_mlp_backward).
struct MLPImpl : torch::nn::Module {
  // How a projection runs: m(x) by default; the engine's decode step passes its tuned GEMMs.
  using Project = std::function<torch::Tensor(const torch::Tensor& x, Linear m)>;
  MLPImpl(const ModelConfig& c, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor forward_with(const torch::Tensor& x, const Project& project);
  // [2I, H] detached view of both weights (gate rows first) while they are still adjacent in one storage:
  // contiguous, one dtype and device, up right after gate, no biases. Otherwise (a parameter's data was
  // replaced, e.g. by set_data or Module::to) an undefined tensor: the caller runs the two projections.
  // In-place writes (copy_, optimizer steps) keep the adjacency and show through the view.
  torch::Tensor stacked_gate_up_weight() const;
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(MLP);

struct DecoderLayerImpl : torch::nn::Module {
  DecoderLayerImpl(const ModelConfig& c, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const AttentionInputs& in, KvCache* cache, int64_t layer);
  Attention self_attn{nullptr};
  MLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

// HF's `model.` submodule: embed_tokens, layers, norm.
struct DecoderModelImpl : torch::nn::Module {
  DecoderModelImpl(const ModelConfig& c, const torch::TensorOptions& options);
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(DecoderModel);

class CausalLMImpl : public torch::nn::Module {
 public:
  // Parameters are created uninitialised in `dtype` on `device`: load weights (checkpoint.h) or init_random_.
  CausalLMImpl(const ModelConfig& config, torch::Dtype dtype = torch::kFloat32,
               torch::Device device = torch::kCPU);

  // input_ids [B,T] int64; attention_mask [B,T] (1 = token, 0 = padding) or undefined = all ones.
  // Returns float32 logits [B,T,V] whatever the model dtype (see logits()).
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {});
  // Packed rows (SFT): segment_ids [B,T] int64 numbers the samples of a row, each sample's tokens
  // contiguous; -1 marks padding. A token attends only to earlier tokens of its own segment and its position
  // restarts at 0 in each segment, so every sample's outputs equal the sample run alone. Returns float32
  // logits [B,T,V]; outputs at padding are finite garbage. bf16 on CUDA with the attention kernel: the
  // padded layout's bits (segment by segment, attend_segments); elsewhere a masked attention (equal to
  // float rounding).
  torch::Tensor forward_packed(const torch::Tensor& input_ids, const torch::Tensor& segment_ids);
  // forward_packed's final-norm hidden states [B,T,hidden] (the packed GRPO update's chunked log-probs).
  torch::Tensor hidden_states_packed(const torch::Tensor& input_ids, const torch::Tensor& segment_ids);
  // Same as forward but returns the final-norm hidden states [B,T,hidden] (for chunked logprobs).
  // right_padded: the caller promises each row's mask is ones then zeros (the trainer's layout), so a real
  // token's keys are all real and only padded positions' outputs (finite garbage either way) depend on the
  // padding; causal attention then needs no mask (AttentionInputs::causal). No mask at all is the same case.
  torch::Tensor hidden_states(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                              bool right_padded = false);
  // hidden [..., hidden] -> logits [..., V] float32 with the (possibly tied) LM head (linear_float32):
  // the one LM head of the trainer's forward and of rollout's prefill and decode step.
  torch::Tensor logits(const torch::Tensor& hidden);

  // Residual stream (embeddings and every layer's sums) in float32 for a bf16/fp16 model: the sublayers
  // still run in the model dtype (RMSNorm casts to its weight's dtype), only the sums are not rounded.
  // Off by default (transformers keeps the stream in the model dtype). rollout's decode step follows it.
  void set_float32_residual(bool on) { float32_residual_ = on; }
  bool float32_residual() const { return float32_residual_; }

  // Generation step over the KV cache. Row b of input_ids [B,T] continues slot slots[b] (distinct slots);
  // its token t gets position cache.lengths[slot] + t. num_new[b] in [1, T] = real tokens of row b (the
  // rest is right padding; empty = all T). Padding K/V are written but never attended, and overwritten
  // by the next call. Requires lengths[slot] + T <= capacity. Afterwards lengths[slot] += num_new[b].
  // Returns logits [B,T,V] when all_logits, else [B,V] at each row's last real token.
  torch::Tensor forward_cached(const torch::Tensor& input_ids, const std::vector<int64_t>& slots,
                               KvCache& cache, const std::vector<int64_t>& num_new = {},
                               bool all_logits = false);

  // A cache sized for this model (its dtype and device).
  KvCache make_cache(int64_t num_slots, int64_t capacity) const;

  // Gradient checkpointing per decoder layer (model/recompute.h): when on, forward() under grad mode keeps
  // only each layer's input and recomputes the layer during backward. forward_cached and no-grad forwards
  // are unaffected.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  bool gradient_checkpointing() const { return checkpointing_; }

  const ModelConfig& config() const { return config_; }
  torch::Dtype dtype() const { return dtype_; }
  torch::Device device() const { return device_; }
  torch::Tensor lm_head_weight() const;  // [V, hidden]; embed_tokens.weight when tied

  DecoderModel model{nullptr};
  Linear lm_head{nullptr};  // null when tie_word_embeddings

 private:
  // Embeds, runs every layer and the final norm. `in.cos/sin` are filled here from `positions` [B,T].
  torch::Tensor run_layers(const torch::Tensor& input_ids, const torch::Tensor& positions,
                           AttentionInputs& in, KvCache* cache);
  // Whether the batch-invariant attention kernel may take this model's uncached rows: enabled, CUDA, bf16.
  bool attention_kernel_may_run() const;

  ModelConfig config_;
  torch::Dtype dtype_;
  torch::Device device_;
  torch::Tensor inv_freq_;  // [head_dim/2] float32, with rope scaling applied
  bool checkpointing_ = false;
  bool float32_residual_ = false;
};
TORCH_MODULE(CausalLM);

// y = x W^T in float32: x [..., in], w [out, in] of one dtype -> [..., out] float32. For bf16/fp16 the
// products are exact in float32 and accumulated in float32 (like cuBLAS's bf16 GEMM) but the result is not
// rounded back to bf16: bf16 logits (ulp 2^-8 relative, ~0.016 at |z| ~ 3) would let tiny hidden-state
// differences between two forwards flip roundings and move log-probs by ~1e-2. CUDA with torch >= 2.8:
// one bf16 GEMM with a float32 output (its backward: bf16 GEMMs of the gradient cast to x's dtype, as
// for linear(x, w).to(float32)); elsewhere: linear of the float32 upcasts (same values, more memory).
// Differentiable w.r.t. x and w.
torch::Tensor linear_float32(const torch::Tensor& x, const torch::Tensor& w);

// RoPE inverse frequencies [head_dim/2] float32 (transformers' default / linear / llama3 rope init).
torch::Tensor rope_inv_freq(const ModelConfig& c);

// RoPE of x [B, H, T, D] with cos/sin [B or 1, 1, T, D]: kernels::rope where it runs, else its twin (the
// same bits). The attention takes it; the engine's decode step takes kernels::rope_decode (the same bits).
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// {x + delta, norm(x + delta)}: one kernel (kernels::add_rms_norm) where it runs, else the add and the
// norm; the same bits either way (the kernel rounds the sum to the dtype before the norm).
std::pair<torch::Tensor, torch::Tensor> add_and_norm(const torch::Tensor& x, const torch::Tensor& delta,
                                                     RMSNorm& norm);

// Fills parameters from a seeded CPU generator: matrices ~ N(0, std^2), norms = 1, biases = 0. The same seed
// gives the same weights in every dtype and device.
void init_random_(CausalLM& lm, uint64_t seed, double std = 0.02);

// Greedy decoding (plain argmax, no EOS): returns each prompt followed by max_new_tokens new ids.
// Rows may differ in length; they run as one batch through the KV cache.
std::vector<std::vector<int64_t>> greedy_generate(CausalLM& lm,
                                                  const std::vector<std::vector<int64_t>>& prompts,
                                                  int64_t max_new_tokens);

}  // namespace zerorl::model
