// bench/grpo_step/main.cpp: one full GRPO step on random-weight Qwen2.5-0.5B shapes (P prompts x G samples x
// exactly N new tokens, random prompt ids), the trainer's own pieces: rollout::Engine on the bf16 model,
// trainer::policy_update (old log-probs, advantages, micro-batched PPO-clip update) with fp32 master weights.
// Prints per-phase seconds as JSON beside bench/baselines/measured_h200.json's grpo_step_pytorch_trl_style.
// Not here: tokenizer, dataset, real verifiers (weights are random, so the reward is a trivial rule).
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <random>

#include "algo/fused_adamw.h"
#include "bench/common/grpo_bench_step.h"
#include "bench/common/kernel_profile.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/malloc_tuning.h"
#include "core/timer.h"
#include "model/config.h"
#include "model/decoder.h"
#include "rollout/engine.h"
#include "trainer/memory_plan.h"
#include "trainer/mixed_precision.h"
#include "trainer/update.h"
#include "zerorl/build_info.h"

namespace zr = zerorl;

namespace {

struct Options {
  bool tiny = false;
  int64_t prompts = 64, group = 8, prompt_len = 256, new_tokens = 512, micro_batch_tokens = 16384, steps = 2;
  int64_t prompt_len_min = 0;  // > 0: prompt lengths drawn from [prompt_len_min, prompt_len]
  int64_t new_min = 0;  // > 0: answers cut to lengths drawn from [new_min, new_tokens] before the update
  std::string device = torch::cuda::is_available() ? "cuda" : "cpu", old_logprobs = "auto";
  bool gradient_checkpointing = false, batch_invariant = true, pack_sequences = false, profile = false;
  std::string profile_trace;
  uint64_t seed = 1;
};

zr::Config run_config(const Options& o) {
  zr::Config cfg;
  cfg.rollout.prompts_per_step = o.prompts, cfg.rollout.group_size = o.group;
  cfg.rollout.temperature = 1.0, cfg.rollout.max_new_tokens = o.new_tokens;
  cfg.algo.micro_batch_tokens = o.micro_batch_tokens, cfg.algo.old_logprobs = o.old_logprobs;
  cfg.algo.pack_sequences = o.pack_sequences, cfg.rollout.batch_invariant = o.batch_invariant;
  cfg.optim.lr = 1e-6, cfg.trainer.steps = 1000;
  return cfg;
}

// One step (bench/common/grpo_bench_step.h) and its rates.
zr::Json grpo_step(const zr::Config& cfg, const Options& o, zr::rollout::Engine& engine,
                   zr::trainer::PolicyState& policy, const std::vector<std::vector<int64_t>>& prompts,
                   uint64_t step) {
  zr::PhaseTimes times;
  const auto r = zr::bench::grpo_step(cfg, engine, policy, prompts, o.group, o.seed, o.new_tokens, step,
                                      times, o.new_min);
  const zr::Json& upd = r.update;
  zr::Json j;
  for (const auto& [phase, s] : times) j[phase] = s;
  j["new_tokens"] = r.new_tokens;
  j["gen_tok_per_s"] = static_cast<double>(r.new_tokens) / times["rollout"];
  j["update_tok_per_s"] = upd["update_tokens"].get<double>() / times["update"];
  j["update_tokens"] = upd["update_tokens"], j["update_tokens_padded"] = upd["update_tokens_padded"];
  j["grad_norm"] = upd["grad_norm"];
  if (upd.contains("rollout_logprob_diff")) j["rollout_logprob_diff"] = upd["rollout_logprob_diff"];
  j["cuda_graph_active"] = engine.cuda_graph_active();
  return j;
}

zr::Json baseline() {
  try {
    return zr::read_json(std::string(ZERORL_SOURCE_DIR) + "/bench/baselines/measured_h200.json")
        .at("grpo_step_pytorch_trl_style");
  } catch (const std::exception&) {
    return zr::Json();
  }
}

}  // namespace

int main(int argc, char** argv) {
  zerorl::keep_freed_memory_for_reuse();  // host memory kept as the zerorl binary keeps it
  CLI::App app{
      "one GRPO step (rollout, reward, old log-probs, update) on random Qwen2.5-0.5B-shaped weights"};
  Options o;
  app.add_flag("--tiny", o.tiny, "tiny model, and a tiny batch unless the options below size it");
  app.add_option("--prompts", o.prompts, "P prompts");
  app.add_option("--group", o.group, "G samples per prompt");
  app.add_option("--prompt-len", o.prompt_len, "prompt tokens (random ids)");
  app.add_option("--new", o.new_tokens, "new tokens per answer (EOS ignored: exactly this many)");
  app.add_option("--micro-batch-tokens", o.micro_batch_tokens, "algo.micro_batch_tokens");
  app.add_option(
      "--old-logprobs", o.old_logprobs,
      "auto | recompute | rollout | current (algo.old_logprobs; auto as zerorl train resolves it)");
  app.add_option("--gradient-checkpointing", o.gradient_checkpointing, "model.gradient_checkpointing");
  app.add_option("--prompt-len-min", o.prompt_len_min,
                 "> 0: prompt lengths uniform in [this, --prompt-len] (the trainer pads them)");
  app.add_option(
      "--new-min", o.new_min,
      "> 0: each answer cut to a length uniform in [this, --new] before the reward, as an EOS would "
      "end it (the rollout still generates --new)");
  app.add_option("--pack-sequences", o.pack_sequences,
                 "algo.pack_sequences (packed rows; pays with --prompt-len-min spread lengths)");
  app.add_option("--batch-invariant", o.batch_invariant, "rollout.batch_invariant (GEMMs without split-K)");
  app.add_option("--steps", o.steps, "full steps; the first is cold (allocator, kernels, graph capture)");
  app.add_option("--device", o.device, "cuda | cpu");
  app.add_option("--seed", o.seed, "weights, prompts and sampling seed");
  app.add_flag("--profile", o.profile,
               "then one more step under the profiler: device time per kernel (torch >= 2)");
  app.add_option("--profile-trace", o.profile_trace, "with --profile: also save the Chrome trace here");
  CLI11_PARSE(app, argc, argv);
  zr::log::init(0, "info");  // logs on stderr: stdout is the JSON alone
  if (o.tiny) {  // a tiny batch too, where the command line does not size it (a CPU measurement may)
    const auto unless_given = [&](const char* name, int64_t& v, int64_t tiny) {
      if (app.count(name) == 0) v = tiny;
    };
    unless_given("--prompts", o.prompts, 4), unless_given("--group", o.group, 4);
    unless_given("--prompt-len", o.prompt_len, 16), unless_given("--new", o.new_tokens, 8);
    unless_given("--micro-batch-tokens", o.micro_batch_tokens, 64);
  }
  if (o.prompt_len_min > o.prompt_len)
    throw std::invalid_argument("--prompt-len-min must not exceed --prompt-len");
  if (o.new_min > o.new_tokens) throw std::invalid_argument("--new-min must not exceed --new");

  const torch::Device device(o.device);
  const auto dtype = device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  const auto mc = zr::bench::model_config(o.tiny);
  zr::model::CausalLM lm(mc, dtype, device);
  zr::model::init_random_(lm, o.seed);
  lm->set_gradient_checkpointing(o.gradient_checkpointing);
  std::unique_ptr<zr::trainer::MasterWeights> masters;
  if (dtype != torch::kFloat32) masters = std::make_unique<zr::trainer::MasterWeights>(lm, torch::kFloat32);
  zr::algo::FusedAdamW opt(masters ? masters->parameters() : lm->parameters(),
                           torch::optim::AdamWOptions(1e-6));
  zr::trainer::PolicyState policy{lm, zr::model::CausalLM(nullptr), &opt, masters.get(), 0};
  zr::rollout::EngineOptions eo;
  eo.batch_invariant = o.batch_invariant;
  zr::rollout::Engine engine(lm, eo);
  const zr::Config cfg = run_config(o);
  zr::trainer::validate_old_logprobs(cfg);

  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int64_t> id(0, mc.vocab_size - 1);
  std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(o.prompts));
  std::uniform_int_distribution<int64_t> len(o.prompt_len_min > 0 ? o.prompt_len_min : o.prompt_len,
                                             o.prompt_len);
  for (auto& p : prompts) {
    p.resize(static_cast<size_t>(len(rng)));
    for (auto& t : p) t = id(rng);
  }
  zr::Json steps = zr::Json::array();
  for (int64_t s = 0; s < o.steps; ++s) steps.push_back(grpo_step(cfg, o, engine, policy, prompts, s + 1));
  zr::Json profile;
  if (o.profile)
    profile = zr::bench::profile_kernels(
        [&] { grpo_step(cfg, o, engine, policy, prompts, static_cast<uint64_t>(o.steps) + 1); },
        o.profile_trace);
  int64_t params = 0;
  for (const auto& p : lm->parameters()) params += p.numel();
  zr::Json out{{"bench", "grpo_step"},
               {"model", o.tiny ? "tiny random" : "qwen2.5-0.5b shapes, random weights"},
               {"device", o.device},
               {"dtype", dtype == torch::kBFloat16 ? "bfloat16 compute, fp32 master weights" : "float32"},
               {"torch", TORCH_VERSION},
               {"params", params},
               {"prompts", o.prompts},
               {"group", o.group},
               {"prompt_len", o.prompt_len},
               {"new_tokens", o.new_tokens},
               {"micro_batch_tokens", o.micro_batch_tokens},
               {"old_logprobs", o.old_logprobs},
               {"old_logprobs_resolved",
                zr::trainer::resolve_old_logprobs(cfg, dtype, torch::Device(o.device).is_cuda()).value},
               {"causal_sdpa", zr::model::causal_sdpa()},
               {"gradient_checkpointing", o.gradient_checkpointing},
               {"prompt_len_min", o.prompt_len_min > 0 ? o.prompt_len_min : o.prompt_len},
               {"response_len_min", o.new_min > 0 ? o.new_min : o.new_tokens},
               {"batch_invariant", o.batch_invariant},
               {"pack_sequences", o.pack_sequences},
               {"reward", "trivial rule (majority of even token ids): weights are random"},
               {"steps", steps},
               {"seconds", steps.back()},
               {"goal_step_seconds", 6.0}};
  if (const auto mem = zr::trainer::cuda_device_memory()) {  // includes the caching allocator's reserve
    out["device_used_gib_after"] = (mem->total - mem->free) / 1073741824.0;
    out["device_total_gib"] = mem->total / 1073741824.0;
  }
  if (o.profile) {
    out["profile"] = profile;
    out["profile"]["kernel_s_over_unprofiled"] =
        profile["kernel_s"].get<double>() / steps.back().at("total").get<double>();
  }
  const zr::Json base = baseline();
  if (!o.tiny && !base.is_null()) {
    out["hf_trl_style"] = base;
    out["speedup_vs_hf"] = base.at("step_seconds").get<double>() / steps.back().at("total").get<double>();
  }
  std::cout << out.dump(1) << std::endl;
  return 0;
}
