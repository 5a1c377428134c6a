// rollout/decode_step.h: the engine's one-token decode step over the first R slots of the KV cache, with
// static shapes so that on CUDA the whole step (forward + sampling) can be captured once as a CUDA graph
// and replayed. Not here: prefill (model::CausalLM::forward_cached), the decode loop (engine.cpp).
//
// Why rollout has its own step instead of CausalLM::forward_cached: the step runs the model's own
// modules (norms, MLP, LM head: the trainer's weights) but does the attention glue itself: on CUDA one
// GEMM over q/k/v weights stacked from the model's (re-copied at each generate()), then one kernel for the
// bias add, RoPE and both KV-cache writes (kernels::rope_decode), query heads of one KV group folded into
// the query length so GQA never repeats K/V, each residual add fused with the norm after it, and with
// batch-invariant GEMMs the MLP over at least kMinInvariantMlpRows rows, its gate and up projections as one
// GEMM over the model's stacked storage (kernels::tuned_linear_stacked) where that gives the model's bits;
// its inputs live in
// fixed device buffers (graph capture needs fixed shapes and addresses). Its equality with the model's
// forward is tested (tests/rollout/engine_test.cpp: greedy == transformers, logprobs == teacher forcing; on
// the GPU, bit for bit with the trainer's forward).
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <vector>

#include "model/decoder.h"
#include "rollout/sampling.h"

namespace zerorl::rollout {

// True when this build can capture CUDA graphs (LibTorch with CUDA and its headers).
bool cuda_graphs_compiled();

// Attention length of the CUDA graph that serves a step whose longest live row needs `needed` cache
// positions (its length + the token written this step): `needed` rounded up to a multiple of `bucket`,
// capped at `capacity`. Requires 1 <= needed <= capacity and bucket >= 1.
int64_t decode_bucket(int64_t needed, int64_t bucket, int64_t capacity);

// The MLP rows a batch-invariant CUDA decode step pads to. cuBLASLt without split-K picks, for 64 rows of
// Qwen2.5-0.5B's down_proj (K 4864, N 896), a kernel of 4 CTAs: 103 us where split-K took 8 us. Padded to
// 128 rows, 64 rows decode at 26,927 new tok/s against split-K's 28,221 (13,045 before; H100,
// bench/results/update_kernels_h100.json): the GEMMs are weight-bound at these sizes, so the padded rows
// cost little, and a row's bits do not depend on the rows beside it.
inline constexpr int64_t kMinInvariantMlpRows = 128;

class DecodeStep {
 public:
  // `cache` must outlive the step. cuda_graphs: capture on CUDA (ignored elsewhere or when not compiled).
  // graph_bucket: granularity (positions) of the per-length graphs, see decode_bucket. min_mlp_rows: a step
  // over fewer rows runs its MLP over this many, zero-padded (see kMinInvariantMlpRows).
  DecodeStep(model::CausalLM lm, model::KvCache* cache, bool cuda_graphs, int64_t graph_bucket = 64,
             int64_t min_mlp_rows = 0);
  ~DecodeStep();

  // One token for each slot s in [0, rows): feeds ids[s] at position cache->lengths[s] (its K/V written
  // there; cache->lengths is not changed: the caller advances live slots), samples with uniforms[s].
  // Slots that are not live may carry any id; their results are ignored. Returns a CPU float64 [3, n]
  // tensor (n >= rows): sampled token, its sampling logprob, its T = 1 policy logprob per slot.
  torch::Tensor run(const std::vector<int64_t>& ids, const std::vector<double>& uniforms, int64_t rows,
                    const SamplerParams& params);
  // Called at the start of each Engine::generate(): the next step compares the parameters' storage with
  // the graphs' (parameters replaced by new tensors force a recapture; in-place updates need none), and
  // the stacked q/k/v weights are copied again from the model's.
  void begin_call();
  bool graph_active() const { return !graphs_.empty(); }
  // CUDA graphs captured so far (one per length bucket reached; all dropped on a recapture).
  int64_t graphs_captured() const { return static_cast<int64_t>(graphs_.size()); }
  // Device memory the captures of the current graphs added to the allocator's reserve (bytes).
  int64_t graph_pool_bytes() const { return pool_bytes_; }

 private:
  struct Graph;
  struct StepInputs;
  // logits [R, V] for slots [0, R) attending over cache positions [0, L).
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& positions, int64_t rows, int64_t L);
  // layer.mlp(x) for x [R, 1, hidden], over at least min_mlp_rows_ rows.
  torch::Tensor mlp(model::DecoderLayerImpl& layer, const torch::Tensor& x, int64_t rows);
  torch::Tensor attention(int64_t layer, const torch::Tensor& h, StepInputs& in);
  torch::Tensor body(const torch::Tensor& ids, const torch::Tensor& positions, const torch::Tensor& uniforms,
                     int64_t rows, int64_t L, const SamplerParams& params);
  Graph& graph_for(int64_t L, const SamplerParams& params);
  std::unique_ptr<Graph> capture(int64_t L, const SamplerParams& params);

  model::CausalLM lm_;
  model::KvCache* cache_;
  bool want_graphs_;
  int64_t bucket_;
  int64_t min_mlp_rows_;
  bool check_weights_ = true;
  // [capacity, D] in the model dtype: RoPE cos and sin of every cache position
  torch::Tensor rope_cos_, rope_sin_;
  // CUDA: per layer, q_proj's, k_proj's and v_proj's weights (and biases) stacked in that order, so a step
  // runs one projection GEMM where the model runs three (batch-invariant GEMMs give each output element
  // the same bits either way; the engine-vs-trainer tests hold it). Written in place, so graphs keep them.
  std::vector<torch::Tensor> qkv_weight_, qkv_bias_;
  torch::Tensor ids_, pos_, uniforms_;  // static device inputs [slots] (graph mode), shared by all graphs
  std::map<int64_t, std::unique_ptr<Graph>> graphs_;  // by attention length L
  int64_t pool_bytes_ = 0;                            // see graph_pool_bytes()
};

}  // namespace zerorl::rollout
