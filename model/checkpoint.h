// model/checkpoint.h: Hugging Face checkpoint folders <-> CausalLM (config.json, safetensors single or
// sharded, generation_config.json, tokenizer files), and the torch view of safetensors tensors. Not here:
// parsing safetensors (safetensors.h) or config.json (config.h).
#pragma once

#include <torch/torch.h>

#include <string>

#include "model/decoder.h"
#include "model/safetensors.h"

namespace zerorl::model {

// A CPU tensor over the mapped bytes (zero copy when aligned; read-only memory: copy before writing).
// Supports F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL.
torch::Tensor to_tensor(const TensorView& view);
// "float32" | "bfloat16" | "float16" (also "f32", "bf16", "f16") -> dtype; throws naming the value.
torch::Dtype parse_dtype(const std::string& name);
std::string dtype_to_hf(torch::Dtype dtype);  // torch::kBFloat16 -> "bfloat16"

// Copies every parameter of `lm` from `ckpt`, casting to the parameter's dtype and device. Errors name
// missing tensors, shape mismatches and tensors the model does not use (except lm_head.weight when tied,
// which must then equal embed_tokens).
void load_weights(CausalLM& lm, const SafetensorsCheckpoint& ckpt);

// config.json + safetensors in `dir` -> model with parameters in `dtype` on `device`.
CausalLM load_model(const std::string& dir, torch::Dtype dtype = torch::kFloat32,
                    torch::Device device = torch::kCPU);

struct SaveOptions {
  size_t max_shard_bytes = 5ull << 30;  // shard above this many bytes (HF's default 5 GB)
  std::string tokenizer_dir;            // copy tokenizer files from here when non-empty
  std::string generation_config_from;   // copy generation_config.json from this folder when non-empty
};

// Writes config.json (dtype = the parameters' dtype), model.safetensors or shards + index,
// generation_config.json (copied, else made from config's bos/eos ids) and, when known, the tokenizer files
// (tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.json, merges.txt, ...).
// Tied models store only model.embed_tokens.weight, like transformers.
void save_model(CausalLM& lm, const std::string& dir, const SaveOptions& options = {});

}  // namespace zerorl::model
