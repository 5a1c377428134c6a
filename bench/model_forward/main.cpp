// bench/model_forward/main.cpp: prefill and decode tokens/s of a Qwen2.5-0.5B-shaped random model through
// CausalLM::forward_cached, and (--check-bf16) the relative error of bf16 logits vs float32 logits of the
// same weights. Prints one JSON object. Not here: correctness tests (tests/model).
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>

#include "compat/torch_compat.h"
#include "core/json_io.h"
#include "core/malloc_tuning.h"
#include "model/checkpoint.h"
#include "model/decoder.h"

namespace {

using zerorl::Json;
using namespace zerorl::model;

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One prefill of [batch, prompt_len] then decode_steps single-token steps; returns {prefill_s, decode_s}.
std::pair<double, double> run_once(CausalLM& lm, int64_t batch, int64_t prompt_len, int64_t decode_steps) {
  torch::NoGradGuard no_grad;
  auto cache = lm->make_cache(batch, prompt_len + decode_steps + 1);
  std::vector<int64_t> slots;
  for (int64_t b = 0; b < batch; ++b) slots.push_back(b);
  auto ids = torch::randint(0, lm->config().vocab_size, {batch, prompt_len}, torch::kInt64);
  sync(lm->device());
  auto t0 = std::chrono::steady_clock::now();
  auto logits = lm->forward_cached(ids, slots, cache);
  sync(lm->device());
  const double prefill = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < decode_steps; ++s) {
    auto next = logits.argmax(-1).view({batch, 1});
    logits = lm->forward_cached(next, slots, cache);
  }
  sync(lm->device());
  return {prefill, seconds_since(t0)};
}

Json check_bf16(const ModelConfig& c, torch::Device device, int64_t seq_len) {
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, c.vocab_size, {2, seq_len}, torch::kInt64);
  torch::Tensor ref, got;
  {
    CausalLM f32(c, torch::kFloat32, device);
    init_random_(f32, 1234);
    ref = f32->forward(ids).to(torch::kFloat32);
  }
  {
    CausalLM bf16(c, torch::kBFloat16, device);
    init_random_(bf16, 1234);
    got = bf16->forward(ids).to(torch::kFloat32);
  }
  const double rel = ((got - ref).norm() / ref.norm()).item<double>();
  const double max_abs = (got - ref).abs().max().item<double>();
  const double argmax_agree = got.argmax(-1).eq(ref.argmax(-1)).to(torch::kFloat32).mean().item<double>();
  return {{"rel_l2_error", rel},
          {"max_abs_error", max_abs},
          {"ref_abs_max", ref.abs().max().item<double>()},
          {"argmax_agreement", argmax_agree},
          {"seq_len", seq_len},
          {"bf16_tolerance_rel", 2e-2},
          {"pass", rel < 2e-2}};
}

}  // namespace

int main(int argc, char** argv) {
  zerorl::keep_freed_memory_for_reuse();  // host memory kept as the zerorl binary keeps it
  CLI::App app{"Prefill/decode throughput of a Qwen2.5-0.5B-shaped random model"};
  std::string device_name = torch::cuda::is_available() ? "cuda" : "cpu", dtype_name;
  int64_t batch = 2, prompt_len = 32, decode_steps = 8, layers = 0, repeats = 1;
  bool bf16_check = false;
  app.add_option("--device", device_name, "cpu or cuda (default: cuda when available)");
  app.add_option("--dtype", dtype_name, "float32 | bfloat16 (default: bf16 on cuda, f32 on cpu)");
  app.add_option("--batch", batch, "rows");
  app.add_option("--prompt-len", prompt_len, "prefill tokens per row");
  app.add_option("--decode-steps", decode_steps, "single-token decode steps");
  app.add_option("--layers", layers, "override num_hidden_layers (0 = 24)");
  app.add_option("--repeats", repeats, "timed repeats after one warm-up (best is reported)");
  app.add_flag("--check-bf16", bf16_check,
               "also compare bf16 logits with float32 logits of the same weights");
  CLI11_PARSE(app, argc, argv);
  const torch::Device device(device_name);
  if (dtype_name.empty()) dtype_name = device.is_cuda() ? "bfloat16" : "float32";
  ModelConfig c = qwen25_05b_config();
  if (layers > 0) c.num_hidden_layers = layers;
  Json out = {{"bench", "model_forward"},
              {"model", "qwen2.5-0.5b-shaped random"},
              {"layers", c.num_hidden_layers},
              {"device", device_name},
              {"dtype", dtype_name},
              {"batch", batch},
              {"prompt_len", prompt_len},
              {"decode_steps", decode_steps},
              {"torch", zerorl::compat::torch_version()},
              {"threads", at::get_num_threads()}};
  {
    CausalLM lm(c, parse_dtype(dtype_name), device);
    init_random_(lm, 1);
    run_once(lm, batch, std::min<int64_t>(prompt_len, 8), 2);  // warm-up
    double best_prefill = 1e30, best_decode = 1e30;
    for (int64_t r = 0; r < repeats; ++r) {
      auto [p, d] = run_once(lm, batch, prompt_len, decode_steps);
      best_prefill = std::min(best_prefill, p);
      best_decode = std::min(best_decode, d);
    }
    out["prefill_s"] = best_prefill;
    out["decode_s"] = best_decode;
    out["prefill_tokens_per_s"] = static_cast<double>(batch * prompt_len) / best_prefill;
    out["decode_tokens_per_s"] = static_cast<double>(batch * decode_steps) / best_decode;
  }
  if (bf16_check) out["bf16_vs_f32"] = check_bf16(c, device, prompt_len);
  std::cout << out.dump() << std::endl;
  return 0;
}
