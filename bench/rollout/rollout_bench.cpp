// bench/rollout/rollout_bench.cpp: rollout::Engine throughput on random-weight Qwen2.5 shapes (the
// reference case of ../shared/bench/baselines.json), printed as JSON with a per-phase breakdown.
// Not here: the transformers baseline (../shared/bench/hf_baseline.py, run beside this by the lead).
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <random>

#include "core/json_io.h"
#include "core/timer.h"
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

// transformers generate() tokens/s measured for (model, batch) in baselines.json; 0 when not listed.
double baseline_for(const std::string& size, int64_t batch) {
  try {
    const auto j = zr::read_json(std::string(ZERORL_SOURCE_DIR) + "/../shared/bench/baselines.json");
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rollout::Engine throughput (new tokens/s) on random Qwen2.5-shaped weights"};
  std::string size = "0.5b", device_name = torch::cuda::is_available() ? "cuda" : "cpu", dtype_name = "bf16";
  int64_t batch = 0, prompt_len = 256, new_tokens = 512, group = 1, profile_tokens = 64;
  uint64_t seed = 1;
  app.add_option("--model-size", size, "0.5b | 1.5b | tiny (CPU smoke test)");
  app.add_option("--batch", batch, "sequences (default: 256 for 0.5b, 128 for 1.5b, 8 for tiny)");
  app.add_option("--prompt", prompt_len, "prompt tokens (random ids)");
  app.add_option("--new", new_tokens, "new tokens per sequence (EOS ignored)");
  app.add_option("--group", group, "samples per prompt (batch / group prompts, one prefill each)");
  app.add_option("--device", device_name, "cuda | cpu");
  app.add_option("--dtype", dtype_name, "bf16 | f32");
  app.add_option("--profile-new", profile_tokens, "new tokens of the synchronized breakdown run (0 = skip)");
  app.add_option("--seed", seed, "weights, prompts and sampling seed");
  CLI11_PARSE(app, argc, argv);
  if (batch == 0) batch = size == "1.5b" ? 128 : size == "tiny" ? 8 : 256;

  const auto config = config_for(size);
  const torch::Device device(device_name);
  const auto dtype = dtype_name == "f32" ? torch::kFloat32 : torch::kBFloat16;
  zr::model::CausalLM lm(config, dtype, device);
  zr::model::init_random_(lm, seed);
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

  zr::rollout::Engine engine(lm);
  gen.stop.max_new_tokens = 8;  // warm-up: allocator, kernels, the KV cache at full size
  engine.generate(prompts, gen);
  gen.stop.max_new_tokens = new_tokens;
  engine.generate(prompts, gen);  // allocates the cache at its final size
  if (device.is_cuda()) torch::cuda::synchronize();
  zr::Stopwatch watch;
  auto run = engine.generate(prompts, gen);
  if (device.is_cuda()) torch::cuda::synchronize();
  const double seconds = watch.seconds();

  zr::Json out;
  out["bench"] = "rollout";
  out["model"] = "qwen2.5-" + size + " shapes, random weights";
  out["device"] = device_name;
  out["dtype"] = dtype_name;
  out["torch"] = TORCH_VERSION;
  out["batch"] = batch, out["group"] = group, out["prompt"] = prompt_len, out["new"] = new_tokens;
  out["seconds"] = seconds;
  out["new_tokens"] = run.new_tokens;
  out["gen_tok_per_s"] = static_cast<double>(run.new_tokens) / seconds;
  out["decode_steps"] = run.decode_steps;
  out["phases_unsynchronized"] = phases_json(run.times, run.decode_steps);
  const double base = baseline_for(size, batch);
  if (base > 0)
    out["hf_baseline_tok_per_s"] = base, out["ratio_vs_hf"] = out["gen_tok_per_s"].get<double>() / base;
  if (profile_tokens > 0) {
    // Device synchronized at phase borders: where the time goes (slower than the run above).
    zr::rollout::EngineOptions options;
    options.timing_sync = true;
    zr::rollout::Engine profiled(lm, options);
    gen.stop.max_new_tokens = profile_tokens;
    auto p = profiled.generate(prompts, gen);
    out["breakdown_synchronized"] = phases_json(p.times, p.decode_steps);
    out["breakdown_synchronized"]["new"] = profile_tokens;
  }
  std::cout << out.dump(1) << std::endl;
  return 0;
}
