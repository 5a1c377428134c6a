// bench/train_step/main.cpp: tokens/s and MFU of one policy-gradient update: forward to hidden states,
// lm_head -> log-probs, PPO-clip loss, token-mean aggregation, backward, AdamW. --lm-head trainer (the
// default): trainer::policy_token_logprobs, what trainer/update.cpp runs (the float32 logits the engine's
// log-probs are equal to, kept for backward; one fused node on bf16 CUDA). --lm-head chunked:
// algo::linear_token_logprobs, bf16 logits chunk by chunk, recomputed in backward (less memory, one more
// lm_head GEMM, not the engine's bits); bench/results before 2026-12-07 measured this one.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "algo/fused_adamw.h"
#include "algo/logits.h"
#include "algo/losses.h"
#include "bench/common/kernel_profile.h"
#include "bench/common/model_shape.h"
#include "compat/torch_compat.h"
#include "core/json_io.h"
#include "core/malloc_tuning.h"
#include "kernels/switch.h"
#include "model/config.h"
#include "model/decoder.h"
#include "trainer/update.h"

namespace {

using zerorl::Json;
namespace algo = zerorl::algo;
namespace model = zerorl::model;

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

}  // namespace

int main(int argc, char** argv) {
  zerorl::keep_freed_memory_for_reuse();  // host memory kept as the zerorl binary keeps it
  CLI::App app{"zerorl policy-update benchmark (random weights, Qwen2.5 shapes)"};
  std::string size = "1.5b", device_name = torch::cuda::is_available() ? "cuda" : "cpu";
  int64_t batch = 16, seqlen = 1024, micro = 4, steps = 5;
  bool batch_invariant = true, checkpointing = false, fused_adamw = true, kernels = true;
  std::string profile_trace, lm_head = "trainer";
  bool profile = false;
  app.add_option("--model-size", size, "0.5b | 1.5b | tiny");
  app.add_option("--batch", batch, "sequences per update");
  app.add_option("--seqlen", seqlen, "tokens per sequence");
  app.add_option("--micro-batch", micro, "sequences per forward/backward (gradient accumulation)");
  app.add_option("--steps", steps, "timed updates after one warm-up");
  app.add_option("--device", device_name, "cuda | cpu");
  app.add_option("--batch-invariant", batch_invariant,
                 "GEMMs without split-K (rollout.batch_invariant's setting)");
  app.add_option("--gradient-checkpointing", checkpointing,
                 "recompute each layer in backward (model.gradient_checkpointing); compare with the "
                 "baseline's run of the same setting");
  app.add_option("--fused-adamw", fused_adamw,
                 "AdamW as one multi-tensor kernel on CUDA (the trainer's algo::FusedAdamW); 0 = LibTorch's "
                 "per-parameter loop");
  app.add_flag("--profile", profile,
               "after the timed updates, profile one more: device time per kernel in the JSON (torch >= 2)");
  app.add_option("--profile-trace", profile_trace, "with --profile: also save the Chrome trace here");
  app.add_option(
      "--lm-head", lm_head,
      "trainer (trainer::policy_token_logprobs, what the update runs: float32 logits kept, the engine's "
      "bits) | chunked (algo::linear_token_logprobs: bf16 logits recomputed in backward)");
  app.add_option("--kernels", kernels,
                 "zerorl's CUDA kernels (kernels/) where built; 0 = their LibTorch twins");
  CLI11_PARSE(app, argc, argv);
  if (lm_head != "trainer" && lm_head != "chunked") {
    std::fprintf(stderr, "--lm-head must be trainer or chunked, got %s\n", lm_head.c_str());
    return 2;
  }
  const bool chunked = lm_head == "chunked";
  zerorl::kernels::set_enabled(kernels);
  batch_invariant = batch_invariant && zerorl::compat::set_batch_invariant_gemm(true);
  model::set_causal_sdpa(!batch_invariant);  // as rollout::use_batch_invariant_gemm does for the trainer

  const torch::Device device(device_name);
  const torch::Dtype dtype = device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  const model::ModelConfig cfg = zerorl::bench::model_shape(size);
  torch::manual_seed(0);
  model::CausalLM lm(cfg, dtype, device);
  model::init_random_(lm, 0);
  lm->set_gradient_checkpointing(checkpointing);
  int64_t params = 0;
  for (const auto& p : lm->parameters()) params += p.numel();
  std::unique_ptr<torch::optim::AdamW> opt_ptr =
      fused_adamw ? std::make_unique<algo::FusedAdamW>(lm->parameters(), torch::optim::AdamWOptions(1e-6))
                  : std::make_unique<torch::optim::AdamW>(lm->parameters(), torch::optim::AdamWOptions(1e-6));
  torch::optim::AdamW& opt = *opt_ptr;
  // Random ids below the special tokens at the top of Qwen's vocabulary; the tiny vocabulary has none.
  const int64_t id_limit = cfg.vocab_size > 2000 ? cfg.vocab_size - 1000 : cfg.vocab_size;
  const auto ids = torch::randint(0, id_limit, {batch, seqlen},
                                  torch::TensorOptions().dtype(torch::kInt64).device(device));
  const auto adv = torch::randn({batch}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  const auto mask =
      torch::ones({batch, seqlen - 1}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  const algo::LossCounts global = algo::count_loss_terms(mask);

  auto update = [&]() {
    for (int64_t s = 0; s < batch; s += micro) {
      const int64_t n = std::min(micro, batch - s);
      const auto mb = ids.narrow(0, s, n);
      const auto h = lm->hidden_states(mb).narrow(1, 0, seqlen - 1);
      const auto targets = mb.narrow(1, 1, seqlen - 1);
      const auto lp = chunked ? algo::linear_token_logprobs(h, lm->lm_head_weight(), targets).logp
                              : zerorl::trainer::policy_token_logprobs(lm, h, targets, 1.0).logp;
      const auto terms = algo::policy_loss(lp, lp.detach(), adv.narrow(0, s, n));
      algo::aggregate_loss(terms.loss, mask.narrow(0, s, n), {}, global).backward();
    }
    opt.step();
    opt.zero_grad();
  };
  update();  // warm-up: allocator, kernels, optimizer state
  sync(device);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) update();
  sync(device);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
  const double tokens = static_cast<double>(batch * seqlen);
  Json out = {
      {"bench", "train_step"},
      {"model", "qwen2.5-" + size + " shapes, random weights"},
      {"device", device_name},
      {"dtype", dtype == torch::kBFloat16 ? "bfloat16" : "float32"},
      {"batch", batch},
      {"seqlen", seqlen},
      {"micro_batch", micro},
      {"batch_invariant", batch_invariant},
      {"causal_sdpa", model::causal_sdpa()},
      {"lm_head", lm_head},
      {"gradient_checkpointing", checkpointing},
      {"kernels", kernels && zerorl::kernels::compiled()},
      {"fused_adamw", fused_adamw && algo::FusedAdamW::fused_on(device)},
      {"params", params},
      {"sec_per_step", dt},
      {"train_tok_per_s", tokens / dt},
      {"mfu_6N", 6.0 * params * tokens / dt / 989e12},
      {"note", "mfu_6N as in bench/baselines/hf_baseline.py: 6*N*tokens/s over 989 TFLOP/s dense bf16"}};
  if (profile) {
    out["profile"] = zerorl::bench::profile_kernels(update, profile_trace);
    out["profile"]["kernel_s_over_unprofiled"] = out["profile"]["kernel_s"].get<double>() / dt;
  }
  std::cout << out.dump(1) << "\n";
  return 0;
}
