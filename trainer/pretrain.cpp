// trainer/pretrain.cpp: next-token pretraining (packing, seeded window order, AdamW with warmup + cosine,
// metrics.jsonl, checkpoints, final HF model folder). Not here: the model (model/), checkpoint sealing
// (checkpoint.h), the RL loop.
#include "trainer/pretrain.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "algo/fused_adamw.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/seed.h"
#include "core/timer.h"
#include "model/checkpoint.h"
#include "model/device.h"
#include "tokenizer/tokenizer.h"
#include "trainer/checkpoint.h"
#include "trainer/lr_schedule.h"

namespace zerorl::trainer {
namespace fs = std::filesystem;
namespace {

model::CausalLM build_model(const PretrainSection& p, const tokenizer::Tokenizer& tok, torch::Device device,
                            uint64_t seed) {
  ZRL_CHECK(p.hidden_size % p.heads == 0 && (p.hidden_size / p.heads) % 2 == 0,
            "pretrain.hidden_size {} must be a multiple of 2 * pretrain.heads {}", p.hidden_size, p.heads);
  ZRL_CHECK(p.heads % p.kv_heads == 0, "pretrain.kv_heads {} must divide pretrain.heads {}", p.kv_heads,
            p.heads);
  model::ModelConfig c;
  c.arch = model::Arch::kQwen2;
  c.vocab_size = tok.vocab_size();
  c.hidden_size = p.hidden_size;
  c.intermediate_size = p.intermediate_size;
  c.num_hidden_layers = p.layers;
  c.num_attention_heads = p.heads;
  c.num_key_value_heads = p.kv_heads;
  c.head_dim = p.hidden_size / p.heads;
  c.max_position_embeddings = p.max_position_embeddings;
  c.tie_word_embeddings = true;
  c.qkv_bias = true;
  c.raw = model::config_to_json(c, "float32");
  if (tok.eos_id()) c.raw["eos_token_id"] = *tok.eos_id();
  c = model::parse_config(c.raw, "<pretrain model>");
  model::CausalLM lm(c, torch::kFloat32, device);
  model::init_random_(lm, mix_seed({seed, 0x707265ULL}));
  return lm;
}

void save_to(model::CausalLM& lm, const tokenizer::Tokenizer& tok, const std::string& dir) {
  model::save_model(lm, dir, model::SaveOptions{});
  tok.save(dir);  // tokenizer.json + tokenizer_config.json beside the weights
}

std::vector<std::vector<int64_t>> load_windows(const PretrainSection& p, const tokenizer::Tokenizer& tok) {
  ZRL_CHECK(!p.corpus_path.empty(),
            "pretrain.corpus_path is empty: name a JSONL file of {{\"{}\": ...}} lines", p.text_key);
  std::vector<std::string> texts;
  int64_t line = 0;
  for (const Json& row : read_jsonl(p.corpus_path)) {
    ++line;
    ZRL_CHECK(row.contains(p.text_key) && row[p.text_key].is_string(), "{}:{}: no string key '{}'",
              p.corpus_path, line, p.text_key);
    texts.push_back(row[p.text_key].get<std::string>());
  }
  const auto docs = tok.encode_batch(texts, 0, /*add_special_tokens=*/false);
  auto windows = pack_documents(docs, *tok.eos_id(), p.seq_len);
  ZRL_CHECK(!windows.empty(), "{}: {} documents give no full window of pretrain.seq_len + 1 = {} tokens",
            p.corpus_path, texts.size(), p.seq_len + 1);
  return windows;
}

}  // namespace

std::vector<std::vector<int64_t>> pack_documents(const std::vector<std::vector<int32_t>>& docs, int32_t eos,
                                                 int64_t seq_len) {
  std::vector<int64_t> stream;
  for (const auto& d : docs) {
    stream.insert(stream.end(), d.begin(), d.end());
    stream.push_back(eos);
  }
  std::vector<std::vector<int64_t>> out;
  const size_t w = static_cast<size_t>(seq_len + 1);
  for (size_t at = 0; at + w <= stream.size(); at += w)
    out.emplace_back(stream.begin() + at, stream.begin() + at + w);
  return out;
}

PretrainResult pretrain(const PretrainSection& p, const std::string& output_dir, uint64_t seed,
                        const std::string& device_name) {
  if (p.threads > 0) torch::set_num_threads(static_cast<int>(p.threads));
  const torch::Device device = model::resolve_device(device_name);
  const auto tok = tokenizer::Tokenizer::byte_level();
  const auto windows = load_windows(p, tok);
  auto lm = build_model(p, tok, device, seed);
  algo::FusedAdamW opt(lm->parameters(),
                       torch::optim::AdamWOptions(p.lr).betas({0.9, 0.95}).weight_decay(p.weight_decay));
  fs::create_directories(output_dir);
  JsonlWriter metrics(output_dir + "/metrics.jsonl", /*append=*/false);
  std::vector<int64_t> order(windows.size());
  std::mt19937_64 rng(mix_seed({seed, 0x6f72646572ULL}));
  size_t pos = order.size();
  PretrainResult r;
  Stopwatch total;
  double window_loss = 0, window_tokens = 0, window_s = 0;
  int64_t window_n = 0;
  bool logged = false;
  for (int64_t step = 0; step < p.steps; ++step) {
    Stopwatch sw;
    std::vector<int64_t> flat;
    for (int64_t b = 0; b < p.batch_size; ++b) {
      if (pos == order.size()) {  // new epoch: reshuffle
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        pos = 0;
      }
      const auto& w = windows[static_cast<size_t>(order[pos++])];
      flat.insert(flat.end(), w.begin(), w.end());
    }
    auto batch = torch::tensor(flat, torch::kLong).view({p.batch_size, p.seq_len + 1}).to(device);
    auto input = batch.slice(1, 0, p.seq_len), target = batch.slice(1, 1, p.seq_len + 1);
    const double lr = lr_at(lr_schedule(p), step);
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    opt.zero_grad();
    auto logits = lm->forward(input);
    auto loss = torch::nn::functional::cross_entropy(
        logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32), target.reshape({-1}));
    loss.backward();
    const double gnorm =
        p.grad_clip > 0 ? torch::nn::utils::clip_grad_norm_(lm->parameters(), p.grad_clip) : 0.0;
    opt.step();
    const double l = loss.item<double>();
    ZRL_CHECK(std::isfinite(l), "pretrain: loss is {} at step {} (lower pretrain.lr {})", l, step + 1, p.lr);
    window_loss += l;
    window_tokens += static_cast<double>(p.batch_size * p.seq_len);
    window_s += sw.seconds();
    ++window_n;
    if ((step + 1) % p.log_every == 0 || step + 1 == p.steps) {
      const double mean = window_loss / static_cast<double>(window_n);
      if (!logged) r.first_loss = mean;
      logged = true;
      r.final_loss = mean;
      metrics.write(Json{{"step", step + 1},
                         {"loss", mean},
                         {"lr", lr},
                         {"grad_norm", gnorm},
                         {"tokens_per_s", window_tokens / std::max(1e-9, window_s)}});
      ZRL_INFO("pretrain step {}/{} loss {:.4f} lr {:.2e} {:.0f} tok/s", step + 1, p.steps, mean, lr,
               window_tokens / std::max(1e-9, window_s));
      window_loss = window_tokens = window_s = 0;
      window_n = 0;
    }
    r.steps = step + 1;
    if (p.save_every > 0 && (step + 1) % p.save_every == 0 && step + 1 < p.steps) {
      const std::string tmp = begin_checkpoint(output_dir, step + 1);
      save_to(lm, tok, tmp + "/model");
      commit_checkpoint(tmp, output_dir, step + 1);
    }
  }
  r.seconds = total.seconds();
  r.tokens_per_s = static_cast<double>(r.steps * p.batch_size * p.seq_len) / std::max(1e-9, r.seconds);
  r.model_dir = output_dir + "/model";
  zerorl::remove_tree(r.model_dir);
  save_to(lm, tok, r.model_dir);
  return r;
}

int run_pretrain(const PretrainSection& p, const std::string& output_dir, int64_t seed,
                 const std::string& device) {
  const PretrainResult r = pretrain(p, output_dir, static_cast<uint64_t>(seed), device);
  std::printf("%s\n", Json{{"steps", r.steps},
                           {"first_loss", r.first_loss},
                           {"final_loss", r.final_loss},
                           {"seconds", r.seconds},
                           {"tokens_per_s", r.tokens_per_s},
                           {"model", r.model_dir}}
                          .dump()
                          .c_str());
  return 0;
}

}  // namespace zerorl::trainer
