// trainer/policy.h: what the trainer needs from a causal LM (forward to logits, parameters, save/load), the
// stopgap tiny Qwen2-shaped model used when model.path is empty, and a stopgap batched sampler.
// STOPGAP: TinyQwen2 and sample_batch stand in for model/ and rollout/ until those branches merge; the
// trainer only sees the CausalLm interface, so swapping them in is an adapter, not a rewrite.
// Not here: the GRPO math (trainer/grpo.h until algo/ lands), data, checkpoint folders.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace zerorl::trainer {

class CausalLm {
 public:
  virtual ~CausalLm() = default;
  // ids [B, T] int64, attention_mask [B, T] (1 = real token, 0 = left/right padding) -> logits [B, T, V] f32.
  virtual torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& attention_mask) = 0;
  virtual std::vector<std::pair<std::string, torch::Tensor>>
  named_parameters() = 0;                         // HF names, stable order
  virtual void save(const std::string& dir) = 0;  // writes config.json + weights into dir
  virtual void load(const std::string& dir) = 0;  // reads what save wrote (exact)
  virtual int64_t vocab_size() const = 0;
  virtual int64_t num_layers() const = 0;
  virtual int64_t hidden_size() const = 0;
  virtual std::unique_ptr<CausalLm> clone() const = 0;  // a deep copy (reference model)
  std::vector<torch::Tensor> parameters();
};

struct TinyQwen2Config {
  int64_t vocab = 16, hidden = 64, layers = 2, heads = 4, kv_heads = 2, intermediate = 128;
  double rope_theta = 10000.0, rms_eps = 1e-6;
};

// Random weights drawn N(0, 0.02) in parameter order from a generator seeded with `seed`; norms = 1.
std::unique_ptr<CausalLm> make_tiny_qwen2(const TinyQwen2Config& cfg, uint64_t seed, torch::Device device);

// Sequences laid out for both sampling and training: prompts left-padded to Tp, responses right-padded to Tr.
struct RolloutBatch {
  torch::Tensor ids;                // [N, Tp + Tr] int64
  torch::Tensor attention_mask;     // [N, Tp + Tr] (0 on padding)
  torch::Tensor response_mask;      // [N, Tr] float, 1 on generated tokens (EOS included)
  torch::Tensor logprobs_sampling;  // [N, Tr] log p of each sampled token under the sampling distribution
  std::vector<std::vector<int64_t>> responses;  // generated ids per row, EOS excluded
  std::vector<bool> truncated;                  // hit max_new_tokens without EOS
  int64_t prompt_len = 0;                       // Tp
};

struct SampleRequest {
  std::vector<std::vector<int64_t>> prompts;  // N rows (already repeated G times)
  std::vector<uint64_t> row_seeds;            // one seed per row: mix_seed(seed, step, prompt, sample)
  int64_t max_new_tokens = 16;
  double temperature = 1.0;  // 0 = greedy
  int64_t eos_id = 0, pad_id = 0;
};

// STOPGAP sampler: recomputes the full forward each token (no KV cache); fine for the tiny CPU model.
// Gumbel-max with per-row CPU generators, so a row's tokens do not depend on the batch it is in.
RolloutBatch sample_batch(CausalLm& model, const SampleRequest& req);

// log p(token) at each response position: [N, Tr], from logits / temperature (temperature 0 treated as 1).
// Also returns per-token entropy [N, Tr] when `entropy` is non-null.
torch::Tensor response_logprobs(CausalLm& model, const torch::Tensor& ids,
                                const torch::Tensor& attention_mask, int64_t prompt_len, double temperature,
                                torch::Tensor* entropy = nullptr);

}  // namespace zerorl::trainer
