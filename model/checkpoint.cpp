// model/checkpoint.cpp: loading and saving Hugging Face checkpoint folders; safetensors <-> torch.
// Not here: safetensors parsing (safetensors.cpp), module definitions (decoder.cpp).
#include "model/checkpoint.h"

#include <cstring>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/json_io.h"

namespace zerorl::model {

namespace {

torch::Dtype to_torch(DType d, const std::string& name) {
  switch (d) {
    case DType::kF32:
      return torch::kFloat32;
    case DType::kF16:
      return torch::kFloat16;
    case DType::kBF16:
      return torch::kBFloat16;
    case DType::kF64:
      return torch::kFloat64;
    case DType::kI64:
      return torch::kInt64;
    case DType::kI32:
      return torch::kInt32;
    case DType::kI16:
      return torch::kInt16;
    case DType::kI8:
      return torch::kInt8;
    case DType::kU8:
      return torch::kUInt8;
    case DType::kBool:
      return torch::kBool;
    default:
      ZRL_FAIL("tensor '{}': safetensors dtype {} has no torch equivalent here", name, dtype_name(d));
  }
}

DType from_torch(torch::Dtype d) {
  if (d == torch::kFloat32) return DType::kF32;
  if (d == torch::kFloat16) return DType::kF16;
  if (d == torch::kBFloat16) return DType::kBF16;
  ZRL_FAIL("save: dtype {} is not saved (float32, bfloat16, float16)", c10::toString(d));
}

const char* kTokenizerFiles[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
    "merges.txt",     "added_tokens.json",     "tokenizer.model",         "chat_template.jinja"};

void copy_if_exists(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (std::filesystem::exists(from) && std::filesystem::absolute(from) != std::filesystem::absolute(to)) {
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  }
}

// A tokenizer file of the saved folder from `dir`: NAME as is, else NAME.gz inflated (the vendored
// tokenizers in data/ are gzipped; a Hugging Face folder needs them plain).
void copy_tokenizer_file(const std::filesystem::path& dir, const char* name,
                         const std::filesystem::path& to) {
  const std::filesystem::path plain = dir / name, gz = dir / (std::string(name) + ".gz");
  if (!std::filesystem::exists(plain) && std::filesystem::exists(gz)) {
    write_file_atomic(to.string(), read_file(gz.string()));
  } else {
    copy_if_exists(plain, to);
  }
}

}  // namespace

torch::Tensor to_tensor(const TensorView& view) {
  const torch::Dtype dtype = to_torch(view.dtype, view.name);
  const size_t esize = dtype_size(view.dtype);
  auto options = torch::TensorOptions().dtype(dtype);
  if (view.nbytes == 0) return torch::empty(view.shape, options);
  if (reinterpret_cast<uintptr_t>(view.data) % esize != 0) {  // unaligned: copy out
    auto t = torch::empty(view.shape, options);
    std::memcpy(t.data_ptr(), view.data, view.nbytes);
    return t;
  }
  auto owner = view.owner;
  return torch::from_blob(
      const_cast<uint8_t*>(view.data), view.shape, [owner](void*) {}, options);
}

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "float32" || name == "f32" || name == "fp32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "f16" || name == "fp16") return torch::kFloat16;
  ZRL_FAIL("dtype '{}' is not supported (float32, bfloat16, float16)", name);
}

std::string dtype_to_hf(torch::Dtype dtype) {
  if (dtype == torch::kFloat32) return "float32";
  if (dtype == torch::kBFloat16) return "bfloat16";
  if (dtype == torch::kFloat16) return "float16";
  ZRL_FAIL("dtype {} has no Hugging Face name here", c10::toString(dtype));
}

void load_weights(CausalLM& lm, const SafetensorsCheckpoint& ckpt) {
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& p : lm->named_parameters()) {
    const std::string& name = p.key();
    ZRL_CHECK(ckpt.contains(name), "checkpoint lacks tensor '{}' needed by {}", name,
              lm->config().architecture());
    auto src = to_tensor(ckpt.get(name));
    ZRL_CHECK(src.sizes() == p.value().sizes(), "tensor '{}': checkpoint shape {} != model shape {}", name,
              c10::str(src.sizes()), c10::str(p.value().sizes()));
    p.value().copy_(src);
    used.insert(name);
  }
  for (const auto& name : ckpt.names()) {
    if (used.count(name) > 0) continue;
    if (name == "lm_head.weight" && lm->config().tie_word_embeddings) {
      auto head = to_tensor(ckpt.get(name)).to(torch::kFloat32);
      auto emb = to_tensor(ckpt.get("model.embed_tokens.weight")).to(torch::kFloat32);
      ZRL_CHECK(head.sizes() == emb.sizes() && torch::equal(head, emb),
                "tie_word_embeddings is true but lm_head.weight differs from model.embed_tokens.weight");
      continue;
    }
    if (name.find("rotary_emb.inv_freq") != std::string::npos) continue;  // old checkpoints store this buffer
    ZRL_FAIL("checkpoint tensor '{}' is not a parameter of {} (wrong config?)", name,
             lm->config().architecture());
  }
}

CausalLM load_model(const std::string& dir, torch::Dtype dtype, torch::Device device) {
  const ModelConfig config = load_config((std::filesystem::path(dir) / "config.json").string());
  CausalLM lm(config, dtype, device);
  load_weights(lm, SafetensorsCheckpoint(dir));
  return lm;
}

void save_model(CausalLM& lm, const std::string& dir, const SaveOptions& options) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::vector<torch::Tensor> keep;  // contiguous CPU copies, alive until written
  std::vector<TensorBytes> tensors;
  for (const auto& p : lm->named_parameters()) {
    auto t = p.value().detach().to(torch::kCPU).contiguous();
    keep.push_back(t);
    tensors.push_back({p.key(), from_torch(t.scalar_type()), t.sizes().vec(), t.data_ptr(),
                       static_cast<size_t>(t.numel()) * t.element_size()});
  }
  write_safetensors_checkpoint(dir, tensors, options.max_shard_bytes);
  const ModelConfig& c = lm->config();
  write_file_atomic((fs::path(dir) / "config.json").string(),
                    config_to_json(c, dtype_to_hf(lm->dtype())).dump(2) + "\n");
  const fs::path gen_to = fs::path(dir) / "generation_config.json";
  if (!options.generation_config_from.empty() &&
      fs::exists(fs::path(options.generation_config_from) / "generation_config.json")) {
    copy_if_exists(fs::path(options.generation_config_from) / "generation_config.json", gen_to);
  } else if (!fs::exists(gen_to)) {
    Json g = Json::object();
    for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id"}) {
      if (c.raw.contains(key) && !c.raw[key].is_null()) g[key] = c.raw[key];
    }
    write_file_atomic(gen_to.string(), g.dump(2) + "\n");
  }
  if (!options.tokenizer_dir.empty()) {
    for (const char* f : kTokenizerFiles) copy_tokenizer_file(options.tokenizer_dir, f, fs::path(dir) / f);
  }
}

}  // namespace zerorl::model
