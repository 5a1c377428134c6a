// model/config.cpp: config.json <-> ModelConfig (field names and defaults from transformers'
// configuration_{qwen2,qwen3,llama}.py). Not here: weights or modules.
#include "model/config.h"

#include "core/error.h"

namespace zerorl::model {

namespace {

template <typename T>
T get_or(const Json& j, const char* key, T fallback, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  try {
    return j[key].get<T>();
  } catch (const std::exception&) {
    ZRL_FAIL("{}: '{}' has the wrong type: {}", source, key, j[key].dump());
  }
}

int64_t require_int(const Json& j, const char* key, const std::string& source) {
  ZRL_CHECK(j.contains(key) && j[key].is_number_integer() && j[key].get<int64_t>() > 0,
            "{}: '{}' must be a positive integer, got {}", source, key,
            j.contains(key) ? j[key].dump() : "nothing");
  return j[key].get<int64_t>();
}

// rope settings: transformers 5 `rope_parameters` {rope_theta, rope_type, ...}; older top-level
// `rope_theta` plus `rope_scaling` {type|rope_type, factor, ...}.
void parse_rope(const Json& j, ModelConfig& c, const std::string& source) {
  Json scaling = Json::object();
  c.rope_theta = get_or<double>(j, "rope_theta", 10000.0, source);
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    scaling = j["rope_parameters"];
    c.rope_theta = get_or<double>(scaling, "rope_theta", c.rope_theta, source + " rope_parameters");
  } else if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    scaling = j["rope_scaling"];
  }
  std::string type = get_or<std::string>(scaling, "rope_type",
                                         get_or<std::string>(scaling, "type", "default", source), source);
  const std::string where = source + " rope scaling";
  RopeScaling& r = c.rope_scaling;
  r.type = type;
  if (type == "default") return;
  if (type == "linear") {
    r.factor = get_or<double>(scaling, "factor", 1.0, where);
    ZRL_CHECK(r.factor > 0, "{}: factor must be > 0, got {}", where, r.factor);
    return;
  }
  if (type == "llama3") {
    r.factor = get_or<double>(scaling, "factor", 8.0, where);
    r.low_freq_factor = get_or<double>(scaling, "low_freq_factor", 1.0, where);
    r.high_freq_factor = get_or<double>(scaling, "high_freq_factor", 4.0, where);
    r.original_max_position_embeddings =
        get_or<int64_t>(scaling, "original_max_position_embeddings", 8192, where);
    ZRL_CHECK(
        r.factor > 0 && r.high_freq_factor > r.low_freq_factor && r.original_max_position_embeddings > 0,
        "{}: llama3 needs factor > 0, high_freq_factor > low_freq_factor, original_max_position_embeddings > "
        "0",
        where);
    return;
  }
  ZRL_FAIL("{}: rope type '{}' is not supported (supported: default, linear, llama3)", where, type);
}

void reject_unsupported(const Json& j, const ModelConfig& c, const std::string& source) {
  const std::string act = get_or<std::string>(j, "hidden_act", "silu", source);
  ZRL_CHECK(act == "silu", "{}: hidden_act '{}' is not supported (only silu)", source, act);
  ZRL_CHECK(!get_or<bool>(j, "use_sliding_window", false, source),
            "{}: use_sliding_window=true is not supported (full attention only)", source);
  ZRL_CHECK(!j.contains("quantization_config"), "{}: quantization_config is not supported", source);
  if (j.contains("layer_types") && j["layer_types"].is_array()) {
    for (const auto& t : j["layer_types"]) {
      ZRL_CHECK(t == "full_attention", "{}: layer_types entry {} is not supported (only full_attention)",
                source, t.dump());
    }
  }
  ZRL_CHECK(c.num_attention_heads % c.num_key_value_heads == 0,
            "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", source,
            c.num_attention_heads, c.num_key_value_heads);
  ZRL_CHECK(c.head_dim % 2 == 0, "{}: head_dim {} must be even for RoPE", source, c.head_dim);
  ZRL_CHECK(c.dtype == "float32" || c.dtype == "bfloat16" || c.dtype == "float16",
            "{}: dtype '{}' is not supported (float32, bfloat16, float16)", source, c.dtype);
}

}  // namespace

const char* ModelConfig::architecture() const {
  switch (arch) {
    case Arch::kQwen2:
      return "Qwen2ForCausalLM";
    case Arch::kQwen3:
      return "Qwen3ForCausalLM";
    case Arch::kLlama:
      return "LlamaForCausalLM";
  }
  return "?";
}

ModelConfig parse_config(const Json& j, const std::string& source) {
  ZRL_CHECK(j.is_object(), "{}: must be a JSON object", source);
  ZRL_CHECK(j.contains("architectures") && j["architectures"].is_array() && j["architectures"].size() == 1 &&
                j["architectures"][0].is_string(),
            "{}: 'architectures' must list exactly one architecture", source);
  const std::string arch = j["architectures"][0].get<std::string>();
  ModelConfig c;
  if (arch == "Qwen2ForCausalLM") {
    c.arch = Arch::kQwen2;
  } else if (arch == "Qwen3ForCausalLM") {
    c.arch = Arch::kQwen3;
  } else if (arch == "LlamaForCausalLM") {
    c.arch = Arch::kLlama;
  } else {
    ZRL_FAIL("{}: architecture '{}' is not supported (Qwen2ForCausalLM, Qwen3ForCausalLM, LlamaForCausalLM)",
             source, arch);
  }
  c.vocab_size = require_int(j, "vocab_size", source);
  c.hidden_size = require_int(j, "hidden_size", source);
  c.intermediate_size = require_int(j, "intermediate_size", source);
  c.num_hidden_layers = require_int(j, "num_hidden_layers", source);
  c.num_attention_heads = require_int(j, "num_attention_heads", source);
  c.num_key_value_heads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                              ? require_int(j, "num_key_value_heads", source)
                              : c.num_attention_heads;
  c.head_dim = j.contains("head_dim") && !j["head_dim"].is_null() ? require_int(j, "head_dim", source)
                                                                  : c.hidden_size / c.num_attention_heads;
  c.rms_norm_eps = get_or<double>(j, "rms_norm_eps", 1e-6, source);
  c.max_position_embeddings = get_or<int64_t>(j, "max_position_embeddings", 32768, source);
  // Qwen2Config, Qwen3Config and LlamaConfig all default to untied embeddings.
  c.tie_word_embeddings = get_or<bool>(j, "tie_word_embeddings", false, source);
  const bool attention_bias = get_or<bool>(j, "attention_bias", false, source);
  c.qkv_bias = c.arch == Arch::kQwen2 ? true : attention_bias;
  c.o_bias = c.arch == Arch::kQwen2 ? false : attention_bias;
  c.mlp_bias = c.arch == Arch::kLlama ? get_or<bool>(j, "mlp_bias", false, source) : false;
  c.qk_norm = c.arch == Arch::kQwen3;
  c.dtype = get_or<std::string>(j, "dtype", get_or<std::string>(j, "torch_dtype", "float32", source), source);
  parse_rope(j, c, source);
  reject_unsupported(j, c, source);
  c.raw = j;
  return c;
}

ModelConfig load_config(const std::string& path) { return parse_config(read_json(path), path); }

Json config_to_json(const ModelConfig& c, const std::string& dtype) {
  Json j = c.raw.is_object() ? c.raw : Json::object();
  j["architectures"] = {c.architecture()};
  j["model_type"] = c.arch == Arch::kQwen2 ? "qwen2" : c.arch == Arch::kQwen3 ? "qwen3" : "llama";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = "silu";
  if (c.arch != Arch::kQwen2) j["attention_bias"] = c.o_bias;
  if (c.arch == Arch::kLlama) j["mlp_bias"] = c.mlp_bias;
  if (!j.contains("rope_parameters")) {
    j["rope_theta"] = c.rope_theta;  // older transformers read these two keys
    if (c.rope_scaling.type != "default" && !j.contains("rope_scaling")) {
      Json s = {{"rope_type", c.rope_scaling.type}, {"factor", c.rope_scaling.factor}};
      if (c.rope_scaling.type == "llama3") {
        s["low_freq_factor"] = c.rope_scaling.low_freq_factor;
        s["high_freq_factor"] = c.rope_scaling.high_freq_factor;
        s["original_max_position_embeddings"] = c.rope_scaling.original_max_position_embeddings;
      }
      j["rope_scaling"] = s;
    }
  }
  if (j.contains("dtype")) j["dtype"] = dtype;
  if (j.contains("torch_dtype") || !j.contains("dtype")) j["torch_dtype"] = dtype;
  return j;
}

ModelConfig qwen25_05b_config() {
  Json j = {{"architectures", {"Qwen2ForCausalLM"}},
            {"model_type", "qwen2"},
            {"vocab_size", 151936},
            {"hidden_size", 896},
            {"intermediate_size", 4864},
            {"num_hidden_layers", 24},
            {"num_attention_heads", 14},
            {"num_key_value_heads", 2},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", 1000000.0},
            {"max_position_embeddings", 32768},
            {"tie_word_embeddings", true},
            {"hidden_act", "silu"},
            {"torch_dtype", "bfloat16"}};
  return parse_config(j, "qwen25_05b_config");
}

}  // namespace zerorl::model
