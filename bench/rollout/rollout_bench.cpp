// bench/rollout/rollout_bench.cpp: rollout::Engine throughput on random-weight Qwen2.5 shapes (the
// reference case of bench/baselines/measured_h200.json), printed as JSON with a per-phase breakdown.
// Not here: the transformers baseline (bench/baselines/hf_baseline.py gen, run beside this).
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <random>

#include "algo/logits.h"
#include "bench/common/kernel_profile.h"
#include "compat/torch_compat.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/malloc_tuning.h"
#include "core/timer.h"
#include "kernels/switch.h"
#include "kernels/tuned_gemm.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "rollout/engine.h"
#include "zerorl/build_info.h"

namespace zr = zerorl;

namespace {

zr::model::ModelConfig config_for(const std::string& size) {
  auto c = zr::model::qwen25_05b_config();
  if (size == "0.5b") return c;
  if (size == "1.5b") {
    c.hidden_size = 1536, c.intermediate_size = 8960, c.num_hidden_layers = 28;
    c.num_attention_heads = 12, c.num_key_value_heads = 2, c.head_dim = 128;
    return c;
  }
  if (size == "tiny") {  // CPU smoke test
    c.vocab_size = 512, c.hidden_size = 64, c.intermediate_size = 176, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 16;
    return c;
  }
  throw std::invalid_argument("--model-size must be 0.5b, 1.5b or tiny, got " + size);
}

// transformers generate() tokens/s recorded for (model, batch) in bench/baselines/measured_h200.json; 0 when
// not listed.
double baseline_for(const std::string& size, int64_t batch) {
  try {
    const auto j = zr::read_json(std::string(ZERORL_SOURCE_DIR) + "/bench/baselines/measured_h200.json");
    for (const auto& run : j.at("generate_hf_transformers").at("runs")) {
      if (run.at("model") == "qwen2.5-" + size && run.at("batch") == batch) return run.at("gen_tok_per_s");
    }
  } catch (const std::exception&) {
  }
  return 0.0;
}

zr::Json phases_json(const zr::PhaseTimes& t, int64_t steps) {
  zr::Json j;
  for (const auto& [name, s] : t) j[name + "_s"] = s;
  for (const auto& [name, s] : t) {
    if (name != "prefill" && steps > 0) j[name + "_ms_per_step"] = 1e3 * s / static_cast<double>(steps);
  }
  return j;
}

struct Timed {
  zr::rollout::RolloutResult result;
  zr::Json json;
};

// Warm-up (allocator, kernels, graph capture, the KV cache at full size), then one timed generate().
Timed timed_run(zr::model::CausalLM lm, const std::vector<std::vector<int64_t>>& prompts,
                zr::rollout::GenerateConfig gen, const zr::rollout::EngineOptions& options,
                int64_t new_tokens, const torch::Device& device) {
  zr::rollout::Engine engine(lm, options);
  gen.stop.max_new_tokens = new_tokens;
  engine.generate(prompts, gen);
  if (device.is_cuda()) torch::cuda::synchronize();
  zr::Stopwatch watch;
  Timed t;
  t.result = engine.generate(prompts, gen);
  if (device.is_cuda()) torch::cuda::synchronize();
  const double seconds = watch.seconds();
  t.json["seconds"] = seconds;
  t.json["new_tokens"] = t.result.new_tokens;
  t.json["gen_tok_per_s"] = static_cast<double>(t.result.new_tokens) / seconds;
  t.json["decode_steps"] = t.result.decode_steps;
  t.json["cuda_graph_active"] = engine.cuda_graph_active();
  t.json["cuda_graphs_captured"] = engine.cuda_graphs_captured();  // one per length bucket reached
  t.json["cuda_graph_bucket"] = options.cuda_graph_bucket;
  t.json["phases"] = phases_json(t.result.times, t.result.decode_steps);
  return t;
}

// Teacher-forced T = 1 log-probs of each sample's tokens (prompt + sample in one forward and the trainer's
// log-prob function: the trainer's view).
std::vector<torch::Tensor> teacher_forced(zr::model::CausalLM lm,
                                          const std::vector<std::vector<int64_t>>& prompts,
                                          const zr::rollout::RolloutResult& run, size_t count) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < std::min(count, run.samples.size()); ++i) {
    const auto& t = run.samples[i];
    auto full = prompts[static_cast<size_t>(t.prompt_index)];
    const auto plen = static_cast<int64_t>(full.size());
    full.insert(full.end(), t.tokens.begin(), t.tokens.end());
    auto logits = lm->forward(torch::tensor(full, torch::kLong).unsqueeze(0))[0].to(torch::kFloat);
    auto rows = logits.narrow(0, plen - 1, static_cast<int64_t>(t.tokens.size()));
    auto ids = torch::tensor(t.tokens, torch::kLong).to(rows.device());
    out.push_back(zr::algo::token_logprobs(rows, ids).cpu().to(torch::kDouble));  // the trainer's log-probs
  }
  return out;
}

zr::Json abs_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double sum = 0, worst = 0;
  int64_t n = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    auto d = (a[i] - b[i]).abs();
    sum += d.sum().item<double>(), worst = std::max(worst, d.max().item<double>()), n += d.numel();
  }
  return {{"mean_abs_diff", n > 0 ? sum / static_cast<double>(n) : 0.0}, {"max_abs_diff", worst}};
}

// Engine T = 1 logprobs vs a fresh teacher-forced forward of prompt + sample (the trainer's view); with
// `reference`, both against the same weights in float32 (how far each bf16 path is from the exact policy).
zr::Json consistency(zr::model::CausalLM lm, const std::vector<std::vector<int64_t>>& prompts,
                     const zr::rollout::RolloutResult& run, size_t count, bool reference) {
  std::vector<torch::Tensor> engine;
  for (size_t i = 0; i < std::min(count, run.samples.size()); ++i)
    engine.push_back(torch::tensor(run.samples[i].logprobs_policy, torch::kDouble));
  const auto tf = teacher_forced(lm, prompts, run, count);
  zr::Json j = abs_diff(engine, tf);
  j["sequences"] = tf.size();
  if (reference && lm->dtype() != torch::kFloat32) {
    torch::NoGradGuard no_grad;
    zr::model::CausalLM f32(lm->config(), torch::kFloat32, lm->device());
    auto src = lm->named_parameters();
    for (auto& p : f32->named_parameters()) p.value().copy_(src[p.key()]);
    f32->eval();
    const auto exact = teacher_forced(f32, prompts, run, count);
    j["engine_vs_float32_model"] = abs_diff(engine, exact);
    j["teacher_forced_vs_float32_model"] = abs_diff(tf, exact);
  }
  return j;
}

double token_match(const zr::rollout::RolloutResult& a, const zr::rollout::RolloutResult& b) {
  int64_t same = 0, total = 0;
  for (size_t i = 0; i < a.samples.size() && i < b.samples.size(); ++i) {
    const auto& x = a.samples[i].tokens;
    const auto& y = b.samples[i].tokens;
    for (size_t t = 0; t < x.size() && t < y.size(); ++t) same += x[t] == y[t], ++total;
  }
  return total > 0 ? static_cast<double>(same) / static_cast<double>(total) : 0.0;
}

// sample() alone on a [batch, vocab] logits matrix, device synchronized (ms per call).
double sampling_ms(int64_t batch, int64_t vocab, torch::Dtype dtype, const torch::Device& device,
                   const zr::rollout::SamplerParams& params) {
  auto logits = torch::randn({batch, vocab}, torch::TensorOptions().dtype(dtype).device(device));
  auto u = torch::rand({batch}, torch::TensorOptions().dtype(torch::kDouble).device(device));
  zr::rollout::sample(logits, params, u);
  if (device.is_cuda()) torch::cuda::synchronize();
  zr::Stopwatch watch;
  const int reps = 10;
  for (int i = 0; i < reps; ++i) zr::rollout::sample(logits, params, u);
  if (device.is_cuda()) torch::cuda::synchronize();
  return 1e3 * watch.seconds() / reps;
}

}  // namespace

int main(int argc, char** argv) {
  zerorl::keep_freed_memory_for_reuse();  // host memory kept as the zerorl binary keeps it
  CLI::App app{"rollout::Engine throughput (new tokens/s) on random Qwen2.5-shaped weights"};
  std::string size = "0.5b", device_name = torch::cuda::is_available() ? "cuda" : "cpu", dtype_name = "bf16";
  int64_t batch = 0, prompt_len = 256, new_tokens = 512, group = 1, profile_tokens = 64;
  uint64_t seed = 1;
  bool cuda_graphs = true, compare_eager = true, kernels = true;
  int64_t graph_bucket = 64;
  bool float32_residual = false, reference = false, batch_invariant = true, profile = false;
  std::string sdpa_backend = "auto";
  size_t consistency_sequences = 8;
  app.add_option("--model-size", size, "0.5b | 1.5b | tiny (CPU smoke test)");
  app.add_option("--batch", batch, "sequences (default: 256 for 0.5b, 128 for 1.5b, 8 for tiny)");
  app.add_option("--prompt", prompt_len, "prompt tokens (random ids)");
  app.add_option("--new", new_tokens, "new tokens per sequence (EOS ignored)");
  app.add_option("--group", group, "samples per prompt (batch / group prompts, one prefill each)");
  app.add_option("--device", device_name, "cuda | cpu");
  app.add_option("--dtype", dtype_name, "bf16 | f32");
  app.add_option("--profile-new", profile_tokens, "new tokens of the synchronized breakdown run (0 = skip)");
  app.add_option("--seed", seed, "weights, prompts and sampling seed");
  app.add_option("--cuda-graphs", cuda_graphs, "replay the decode step as a CUDA graph (CUDA builds)");
  app.add_option("--graph-bucket", graph_bucket,
                 "attention-length granularity of the per-length CUDA graphs");
  app.add_option("--fp32-residual", float32_residual, "keep the residual stream in float32 (bf16 model)");
  app.add_option("--batch-invariant", batch_invariant,
                 "EngineOptions::batch_invariant (GEMMs without split-K)");
  app.add_option("--sdpa", sdpa_backend, "attention backend: auto | math | efficient | cudnn | flash");
  app.add_option("--fp32-reference", reference, "also compare both log-prob paths with a float32 copy");
  app.add_option("--consistency-sequences", consistency_sequences, "samples in the log-prob comparison");
  app.add_option("--compare-eager", compare_eager, "with graphs: also time the eager step, compare tokens");
  std::string save_dir, tokenizer_dir = std::string(ZERORL_SOURCE_DIR) + "/data/tokenizers/qwen3";
  app.add_option(
      "--save-model", save_dir,
      "write the random-weight model (--model-size, --dtype, --seed) as a Hugging Face folder to DIR "
      "and exit: a checkpoint for `zerorl eval/train` memory checks");
  app.add_option("--tokenizer", tokenizer_dir,
                 "with --save-model: tokenizer files to copy beside the weights");
  app.add_flag("--profile", profile,
               "then one more timed generate under the profiler: device time per kernel");
  app.add_option("--kernels", kernels,
                 "zerorl's CUDA kernels (kernels/) where built; 0 = their LibTorch twins");
  CLI11_PARSE(app, argc, argv);
  zr::log::init(0, "info");  // logs on stderr: stdout is the JSON alone
  zr::kernels::set_enabled(kernels);
  if (batch == 0) batch = size == "1.5b" ? 128 : size == "tiny" ? 8 : 256;

  zr::compat::select_sdpa_backend(sdpa_backend);
  const auto config = config_for(size);
  const torch::Device device(device_name);
  const auto dtype = dtype_name == "f32" ? torch::kFloat32 : torch::kBFloat16;
  zr::model::CausalLM lm(config, dtype, device);
  zr::model::init_random_(lm, seed);
  if (!save_dir.empty()) {
    zr::model::SaveOptions so;
    so.tokenizer_dir = tokenizer_dir;
    zr::model::save_model(lm, save_dir, so);
    std::cout
        << zr::Json{{"saved", save_dir}, {"model", "qwen2.5-" + size + " shapes, random weights"}}.dump()
        << "\n";
    return 0;
  }
  lm->set_float32_residual(float32_residual);
  lm->eval();

  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> id(0, config.vocab_size - 1);
  std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(batch / group));
  for (auto& p : prompts) {
    p.resize(static_cast<size_t>(prompt_len));
    for (auto& t : p) t = id(rng);
  }
  zr::rollout::GenerateConfig gen;  // temperature 1, top-p 1, top-k off: the baseline's sampling
  gen.group_size = group;
  gen.stop.ignore_eos = true;
  gen.seed = seed;

  zr::rollout::EngineOptions options;
  options.cuda_graphs = cuda_graphs;
  options.cuda_graph_bucket = graph_bucket;
  options.batch_invariant = batch_invariant;
  zr::Json out;
  auto timed = timed_run(lm, prompts, gen, options, new_tokens, device);
  out["bench"] = "rollout";
  out["model"] = "qwen2.5-" + size + " shapes, random weights";
  out["device"] = device_name;
  out["dtype"] = dtype_name;
  out["float32_residual"] = float32_residual;
  out["kernels"] = kernels && zr::kernels::compiled();
  out["float32_logits"] = true;  // CausalLM::logits (model::linear_float32), engine and teacher forcing
  out["torch"] = TORCH_VERSION;
  out["cuda_graphs_compiled"] = zr::rollout::cuda_graphs_compiled();
  out["batch"] = batch, out["group"] = group, out["prompt"] = prompt_len, out["new"] = new_tokens;
  out.update(timed.json);
  const double base = baseline_for(size, batch);
  if (base > 0)
    out["hf_baseline_tok_per_s"] = base, out["ratio_vs_hf"] = out["gen_tok_per_s"].get<double>() / base;
  out["sdpa"] = sdpa_backend, out["batch_invariant"] = batch_invariant;
  out["logprob_consistency"] = consistency(lm, prompts, timed.result, consistency_sequences, reference);
  if (timed.json["cuda_graph_active"].get<bool>() && compare_eager) {
    options.cuda_graphs = false;
    auto eager = timed_run(lm, prompts, gen, options, new_tokens, device);
    out["eager"] = eager.json;
    out["eager"]["graph_vs_eager_token_match"] = token_match(timed.result, eager.result);
  }
  out["sampling_ms_per_step"] = sampling_ms(batch, config.vocab_size, dtype, device, gen.sampler);
  if (profile_tokens > 0) {
    // Device synchronized at phase borders: where the time goes (slower than the run above).
    options.cuda_graphs = cuda_graphs;
    options.timing_sync = true;
    zr::rollout::Engine profiled(lm, options);
    gen.stop.max_new_tokens = profile_tokens;
    auto p = profiled.generate(prompts, gen);
    out["breakdown_synchronized"] = phases_json(p.times, p.decode_steps);
    out["breakdown_synchronized"]["new"] = profile_tokens;
    out["breakdown_synchronized"]["note"] =
        "decode = one step of forward + sampling over all live slots (one CUDA graph per attention-length "
        "bucket when active); sample = "
        "sampling of the first token after prefill; host = stop checks and bookkeeping";
  }
  if (profile) {
    options.cuda_graphs = cuda_graphs;
    options.timing_sync = false;
    zr::rollout::Engine engine(lm, options);
    gen.stop.max_new_tokens = new_tokens;
    engine.generate(prompts, gen);  // graphs captured outside the profiled run
    out["profile"] = zr::bench::profile_kernels([&] { engine.generate(prompts, gen); }, "");
  }
  // What kernels::tuned_linear's tuning found per decode GEMM shape (empty where it never ran).
  out["tuned_gemm"] = zr::Json::array();
  for (const auto& r : zr::kernels::tuned_gemm_reports())
    out["tuned_gemm"].push_back({{"rows", r.rows},
                                 {"n", r.n},
                                 {"k", r.k},
                                 {"candidates", r.candidates},
                                 {"matching", r.matching},
                                 {"first_us", r.first_us},
                                 {"best_us", r.best_us},
                                 {"parts", r.parts}});
  std::cout << out.dump(1) << std::endl;
  return 0;
}
