// trainer/policy.cpp: STOPGAP tiny Qwen2 decoder (HF parameter names, safetensors + config.json save) and a
// KV-cache-free batched sampler, until model/ and rollout/ merge. Formulas follow transformers' Qwen2:
// RMSNorm, rotary embeddings (rotate_half form), grouped-query attention with q/k/v bias, SwiGLU MLP.
// Not here: the GRPO loss (trainer/grpo.h), data, checkpoints.
#include "trainer/policy.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "core/error.h"
#include "core/json_io.h"

namespace zerorl::trainer {

std::vector<torch::Tensor> CausalLm::parameters() {
  std::vector<torch::Tensor> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

namespace {

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  auto halves = x.chunk(2, -1);
  return torch::cat({-halves[1], halves[0]}, -1);
}

class TinyQwen2 : public CausalLm {
 public:
  TinyQwen2(const TinyQwen2Config& cfg, torch::Device device) : cfg_(cfg), device_(device) {
    const int64_t hd = cfg.hidden / cfg.heads;
    auto add = [&](const std::string& name, std::vector<int64_t> shape) {
      params_.emplace_back(
          name, torch::zeros(shape, torch::dtype(torch::kFloat32).device(device)).requires_grad_());
    };
    add("model.embed_tokens.weight", {cfg.vocab, cfg.hidden});
    for (int64_t l = 0; l < cfg.layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      add(p + "input_layernorm.weight", {cfg.hidden});
      add(p + "self_attn.q_proj.weight", {cfg.heads * hd, cfg.hidden});
      add(p + "self_attn.q_proj.bias", {cfg.heads * hd});
      add(p + "self_attn.k_proj.weight", {cfg.kv_heads * hd, cfg.hidden});
      add(p + "self_attn.k_proj.bias", {cfg.kv_heads * hd});
      add(p + "self_attn.v_proj.weight", {cfg.kv_heads * hd, cfg.hidden});
      add(p + "self_attn.v_proj.bias", {cfg.kv_heads * hd});
      add(p + "self_attn.o_proj.weight", {cfg.hidden, cfg.heads * hd});
      add(p + "post_attention_layernorm.weight", {cfg.hidden});
      add(p + "mlp.gate_proj.weight", {cfg.intermediate, cfg.hidden});
      add(p + "mlp.up_proj.weight", {cfg.intermediate, cfg.hidden});
      add(p + "mlp.down_proj.weight", {cfg.hidden, cfg.intermediate});
    }
    add("model.norm.weight", {cfg.hidden});
    add("lm_head.weight", {cfg.vocab, cfg.hidden});
    for (size_t i = 0; i < params_.size(); ++i) index_[params_[i].first] = i;
  }

  void init_random(uint64_t seed) {
    torch::NoGradGuard ng;
    auto gen = at::detail::createCPUGenerator(seed);
    for (auto& [name, p] : params_) {
      const bool norm = name.find("norm") != std::string::npos;
      const bool bias = name.find(".bias") != std::string::npos;
      if (norm) {
        p.fill_(1.0);
      } else if (bias) {
        p.zero_();
      } else {
        p.copy_(torch::randn(p.sizes(), gen, torch::kFloat32) * 0.02);
      }
    }
  }

  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& mask) override {
    const int64_t B = ids.size(0), T = ids.size(1), H = cfg_.heads, KV = cfg_.kv_heads, D = cfg_.hidden / H;
    auto m = mask.to(device_, torch::kFloat32);
    auto pos = (m.cumsum(1) - 1).clamp_min(0);  // [B, T]
    auto inv_freq = torch::pow(cfg_.rope_theta, -torch::arange(0, D, 2, m.options()) / double(D));
    auto freqs = pos.unsqueeze(-1) * inv_freq;               // [B, T, D/2]
    auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);  // [B, 1, T, D]
    auto cos = emb.cos(), sin = emb.sin();
    auto causal = torch::ones({T, T}, m.options()).tril();
    auto allowed = causal.unsqueeze(0) * m.unsqueeze(1);  // [B, T(q), T(k)]
    auto bias = ((1.0 - allowed) * -1e9).unsqueeze(1);    // [B, 1, T, T]
    auto x = w("model.embed_tokens.weight").index_select(0, ids.to(device_).reshape(-1)).view({B, T, -1});
    for (int64_t l = 0; l < cfg_.layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      auto h = rms_norm(x, w(p + "input_layernorm.weight"), cfg_.rms_eps);
      auto q = torch::linear(h, w(p + "self_attn.q_proj.weight"), w(p + "self_attn.q_proj.bias"));
      auto k = torch::linear(h, w(p + "self_attn.k_proj.weight"), w(p + "self_attn.k_proj.bias"));
      auto v = torch::linear(h, w(p + "self_attn.v_proj.weight"), w(p + "self_attn.v_proj.bias"));
      q = q.view({B, T, H, D}).transpose(1, 2);
      k = k.view({B, T, KV, D}).transpose(1, 2).repeat_interleave(H / KV, 1);
      v = v.view({B, T, KV, D}).transpose(1, 2).repeat_interleave(H / KV, 1);
      q = q * cos + rotate_half(q) * sin;
      k = k * cos + rotate_half(k) * sin;
      auto att = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(D)) + bias, -1);
      auto o = torch::matmul(att, v).transpose(1, 2).reshape({B, T, H * D});
      x = x + torch::linear(o, w(p + "self_attn.o_proj.weight"));
      h = rms_norm(x, w(p + "post_attention_layernorm.weight"), cfg_.rms_eps);
      auto g = torch::silu(torch::linear(h, w(p + "mlp.gate_proj.weight"))) *
               torch::linear(h, w(p + "mlp.up_proj.weight"));
      x = x + torch::linear(g, w(p + "mlp.down_proj.weight"));
    }
    x = rms_norm(x, w("model.norm.weight"), cfg_.rms_eps);
    return torch::linear(x, w("lm_head.weight"));
  }

  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override { return params_; }
  int64_t vocab_size() const override { return cfg_.vocab; }
  int64_t num_layers() const override { return cfg_.layers; }
  int64_t hidden_size() const override { return cfg_.hidden; }

  std::unique_ptr<CausalLm> clone() const override {
    auto c = std::make_unique<TinyQwen2>(cfg_, device_);
    torch::NoGradGuard ng;
    for (size_t i = 0; i < params_.size(); ++i) c->params_[i].second.copy_(params_[i].second);
    return c;
  }

  void save(const std::string& dir) override;
  void load(const std::string& dir) override;

 private:
  const torch::Tensor& w(const std::string& name) const { return params_[index_.at(name)].second; }
  TinyQwen2Config cfg_;
  torch::Device device_;
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  std::map<std::string, size_t> index_;
};

// safetensors: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, raw little-endian
// data.
void TinyQwen2::save(const std::string& dir) {
  Json header = Json::object();
  std::string data;
  for (auto& [name, p] : params_) {
    auto t = p.detach().to(torch::kCPU).contiguous();
    const size_t bytes = static_cast<size_t>(t.numel()) * sizeof(float);
    header[name] = Json{
        {"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {data.size(), data.size() + bytes}}};
    data.append(static_cast<const char*>(t.data_ptr()), bytes);
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h += ' ';
  std::string file(8, '\0');
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) file[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  write_file_atomic(dir + "/model.safetensors", file + h + data);
  const Json config{{"architectures", {"Qwen2ForCausalLM"}},
                    {"model_type", "qwen2"},
                    {"vocab_size", cfg_.vocab},
                    {"hidden_size", cfg_.hidden},
                    {"intermediate_size", cfg_.intermediate},
                    {"num_hidden_layers", cfg_.layers},
                    {"num_attention_heads", cfg_.heads},
                    {"num_key_value_heads", cfg_.kv_heads},
                    {"rms_norm_eps", cfg_.rms_eps},
                    {"rope_theta", cfg_.rope_theta},
                    {"max_position_embeddings", 4096},
                    {"tie_word_embeddings", false},
                    {"hidden_act", "silu"},
                    {"torch_dtype", "float32"},
                    {"bos_token_id", 13},
                    {"eos_token_id", 13}};
  write_file_atomic(dir + "/config.json", config.dump(2));
}

void TinyQwen2::load(const std::string& dir) {
  const std::string path = dir + "/model.safetensors";
  const std::string file = read_file(path);
  ZRL_CHECK(file.size() >= 8, "'{}' is too short for safetensors", path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<uint64_t>(static_cast<unsigned char>(file[static_cast<size_t>(i)])) << (8 * i);
  ZRL_CHECK(8 + n <= file.size(), "'{}': header length {} exceeds the file", path, n);
  const Json header = Json::parse(file.substr(8, n));
  const char* base = file.data() + 8 + n;
  torch::NoGradGuard ng;
  for (auto& [name, p] : params_) {
    ZRL_CHECK(header.contains(name), "'{}' has no tensor '{}'", path, name);
    const auto& e = header[name];
    ZRL_CHECK(e.at("dtype") == "F32" && e.at("shape").get<std::vector<int64_t>>() == p.sizes().vec(),
              "'{}': tensor '{}' has dtype/shape {}/{}, expected F32/{}", path, name, e.at("dtype").dump(),
              e.at("shape").dump(), Json(p.sizes().vec()).dump());
    const auto off = e.at("data_offsets").get<std::vector<size_t>>();
    auto src = torch::from_blob(const_cast<char*>(base + off[0]), p.sizes(), torch::kFloat32);
    p.copy_(src);
  }
}

}  // namespace

std::unique_ptr<CausalLm> make_tiny_qwen2(const TinyQwen2Config& cfg, uint64_t seed, torch::Device device) {
  ZRL_CHECK(cfg.hidden % cfg.heads == 0 && cfg.heads % cfg.kv_heads == 0 && (cfg.hidden / cfg.heads) % 2 == 0,
            "tiny model: hidden {} / heads {} / kv_heads {} do not divide evenly", cfg.hidden, cfg.heads,
            cfg.kv_heads);
  auto m = std::make_unique<TinyQwen2>(cfg, device);
  m->init_random(seed);
  return m;
}

torch::Tensor response_logprobs(CausalLm& model, const torch::Tensor& ids,
                                const torch::Tensor& attention_mask, int64_t prompt_len, double temperature,
                                torch::Tensor* entropy) {
  const int64_t T = ids.size(1), Tr = T - prompt_len;
  auto logits = model.forward(ids, attention_mask).narrow(1, prompt_len - 1, Tr);  // predicts tokens Tp..T-1
  if (temperature > 0) logits = logits / temperature;
  auto logp = torch::log_softmax(logits, -1);
  auto target = ids.narrow(1, prompt_len, Tr).to(logp.device()).unsqueeze(-1);
  if (entropy != nullptr) *entropy = -(logp.exp() * logp).sum(-1);
  return logp.gather(-1, target).squeeze(-1);
}

namespace {
// Left-pads prompts to the longest: ids [N, Tp], mask [N, Tp].
std::pair<torch::Tensor, torch::Tensor> left_pad(const std::vector<std::vector<int64_t>>& prompts,
                                                 int64_t pad) {
  int64_t tp = 0;
  for (const auto& p : prompts) tp = std::max<int64_t>(tp, static_cast<int64_t>(p.size()));
  const auto n = static_cast<int64_t>(prompts.size());
  auto ids = torch::full({n, tp}, pad, torch::kInt64);
  auto mask = torch::zeros({n, tp}, torch::kInt64);
  for (int64_t i = 0; i < n; ++i) {
    const auto& p = prompts[static_cast<size_t>(i)];
    const int64_t off = tp - static_cast<int64_t>(p.size());
    for (size_t j = 0; j < p.size(); ++j) ids[i][off + static_cast<int64_t>(j)] = p[j];
    mask.narrow(1, off, tp - off).select(0, i).fill_(1);
  }
  return {ids, mask};
}
}  // namespace

RolloutBatch sample_batch(CausalLm& model, const SampleRequest& req) {
  torch::NoGradGuard ng;
  const auto n = static_cast<int64_t>(req.prompts.size());
  ZRL_CHECK(static_cast<int64_t>(req.row_seeds.size()) == n, "sample_batch: {} seeds for {} rows",
            req.row_seeds.size(), n);
  auto [ids, mask] = left_pad(req.prompts, req.pad_id);
  RolloutBatch out;
  out.prompt_len = ids.size(1);
  std::vector<at::Generator> gens;
  for (uint64_t s : req.row_seeds) gens.push_back(at::detail::createCPUGenerator(s));
  std::vector<bool> done(static_cast<size_t>(n), false);
  out.responses.assign(static_cast<size_t>(n), {});
  std::vector<torch::Tensor> logps;
  for (int64_t t = 0; t < req.max_new_tokens; ++t) {
    auto logits = model.forward(ids, mask).select(1, ids.size(1) - 1).to(torch::kCPU);  // [N, V]
    auto logp = torch::log_softmax(req.temperature > 0 ? logits / req.temperature : logits, -1);
    auto next = torch::full({n}, req.pad_id, torch::kInt64);
    auto step_mask = torch::zeros({n}, torch::kInt64);
    auto chosen_logp = torch::zeros({n});
    for (int64_t i = 0; i < n; ++i) {
      if (done[static_cast<size_t>(i)]) continue;
      int64_t tok = 0;
      if (req.temperature > 0) {  // Gumbel-max: argmax(logp - log(-log U)) ~ softmax(logp)
        auto u = torch::rand({logp.size(1)}, gens[static_cast<size_t>(i)], torch::kFloat32).clamp(1e-10, 1.0);
        tok = (logp[i] - torch::log(-torch::log(u))).argmax().item<int64_t>();
      } else {
        tok = logp[i].argmax().item<int64_t>();
      }
      next[i] = tok;
      step_mask[i] = 1;
      chosen_logp[i] = logp[i][tok];
      if (tok == req.eos_id) {
        done[static_cast<size_t>(i)] = true;
      } else {
        out.responses[static_cast<size_t>(i)].push_back(tok);
      }
    }
    ids = torch::cat({ids, next.unsqueeze(1)}, 1);
    mask = torch::cat({mask, step_mask.unsqueeze(1)}, 1);
    logps.push_back(chosen_logp);
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
  }
  out.ids = ids;
  out.attention_mask = mask;
  out.response_mask = mask.narrow(1, out.prompt_len, ids.size(1) - out.prompt_len).to(torch::kFloat32);
  out.logprobs_sampling = torch::stack(logps, 1) * out.response_mask;
  for (int64_t i = 0; i < n; ++i) out.truncated.push_back(!done[static_cast<size_t>(i)]);
  return out;
}

}  // namespace zerorl::trainer
