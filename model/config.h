// model/config.h: Hugging Face config.json for Qwen2ForCausalLM, Qwen3ForCausalLM and LlamaForCausalLM ->
// ModelConfig, and back. Not here: weights (checkpoint.h) or modules (decoder.h). Torch-free.
#pragma once

#include <string>

#include "core/json_io.h"

namespace zerorl::model {

enum class Arch { kQwen2, kQwen3, kLlama };

// RoPE frequency scaling (HF modeling_rope_utils): default, linear (inv_freq / factor), llama3 (Llama 3.1).
struct RopeScaling {
  std::string type = "default";
  double factor = 1.0;
  double low_freq_factor = 1.0;                     // llama3
  double high_freq_factor = 4.0;                    // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct ModelConfig {
  Arch arch = Arch::kQwen2;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // config's head_dim when given, else hidden / heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;          // Qwen2: always; Llama/Qwen3: attention_bias
  bool o_bias = false;            // Llama/Qwen3: attention_bias; Qwen2: never
  bool mlp_bias = false;          // Llama: mlp_bias
  bool qk_norm = false;           // Qwen3: per-head RMSNorm on q and k (q_norm, k_norm)
  std::string dtype = "float32";  // torch_dtype / dtype: float32, bfloat16, float16
  Json raw;                       // the parsed config.json, written back on save

  const char* architecture() const;  // "Qwen2ForCausalLM", ...
};

// Parses a config.json object; `source` names it in errors. Throws zerorl::Error naming any unsupported
// architecture or field value (sliding window, non-SiLU activation, unknown rope type, quantization).
ModelConfig parse_config(const Json& j, const std::string& source = "config.json");
ModelConfig load_config(const std::string& path);

// config.json for `c` with `dtype` as torch_dtype/dtype: the original keys kept, ours updated.
Json config_to_json(const ModelConfig& c, const std::string& dtype);

// A Qwen2.5-0.5B-shaped config (vocab 151936, hidden 896, inter 4864, 24 layers, 14 heads, 2 kv, tied).
ModelConfig qwen25_05b_config();

}  // namespace zerorl::model
