// apps/cmd_train.cpp: `zerorl train | eval | pretrain | sample | sft | pipeline | rollout-worker`: load the
// YAML config (with
// --set), then run. Not here: the RL loop (trainer/), which these commands only call.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/embedded_configs.h"
#include "core/log.h"
#include "core/run_config.h"
#include "dist/context.h"
#include "trainer/eval.h"
#include "trainer/pipeline.h"
#include "trainer/pretrain.h"
#include "trainer/sample.h"
#include "trainer/sft.h"
#include "trainer/step.h"

namespace zerorl::apps {

namespace {
struct RunArgs {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string resume;
  std::string checkpoint;
  bool print_config = false;
};

// The embedded default run when --config is absent (configs/ is compiled in: apps/embedded_configs.h).
constexpr const char* kDefaultConfig = "zero_tiny.yaml";

constexpr const char* kEmbeddedPrefix = "<embedded>/configs/";

// `base: FILE` inside an embedded config names another embedded config (relative to configs/, like on disk),
// never a file of the current directory.
config::ConfigSource embedded_base(const std::string& including, const std::string& base) {
  const std::filesystem::path p = (std::filesystem::path("configs") / base).lexically_normal();
  const std::string name = p.filename().string();
  const auto it = embedded_configs().find(name);
  if (p.parent_path() != "configs" || it == embedded_configs().end()) {
    std::string names;
    for (const auto& [n, text] : embedded_configs()) names += (names.empty() ? "" : ", ") + n;
    ZRL_FAIL("{}: base '{}' is not an embedded config (embedded: {})", including, base, names);
  }
  return {it->second, kEmbeddedPrefix + name};
}

// --config FILE, else a configs/ file name compiled into the binary, else the embedded default;
// then --set overrides and checks. Errors name the file, key and value.
Config resolve_config(const RunArgs& args) {
  if (!args.config_path.empty() && std::filesystem::exists(args.config_path)) {
    return load_config(args.config_path, args.overrides);
  }
  const std::string name = args.config_path.empty() ? kDefaultConfig : args.config_path;
  const auto it = embedded_configs().find(name);
  if (it == embedded_configs().end()) return load_config(args.config_path, args.overrides);  // names the file
  Config cfg;
  config::load_yaml_text(cfg, it->second, kEmbeddedPrefix + name, 0, embedded_base);
  config::apply_overrides(cfg, args.overrides);
  config::validate(cfg);
  return cfg;
}

// This process's rank in an mpirun/srun/torchrun launch (0 alone), for the log prefix and level.
int launch_rank() { return dist::discover().rank; }

void add_config_options(CLI::App* cmd, RunArgs& args) {
  cmd->add_option(
      "--config", args.config_path,
      "Run config (YAML; a configs/ file name also works from anywhere); default: the embedded "
      "configs/zero_tiny.yaml (run from the checkout: its paths are relative). See configs/README.md");
  cmd->add_option("--set", args.overrides, "Override a key: --set optim.lr=1e-6 (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--print-config", args.print_config, "Print the fully resolved config and exit");
}
}  // namespace

void register_train_commands(CLI::App& app, int& exit_code) {
  static RunArgs train_args, eval_args, pretrain_args, sample_args, sft_args, pipeline_args,
      worker_args;  // CLI11 binds options to storage that outlives parse.
  static std::string worker_trainer, worker_device;
  static double worker_reconnect_s = 0;
  static bool worker_cuda_ipc = false, worker_no_cuda_ipc = false;

  auto* train = app.add_subcommand("train", "Run GRPO-style RL from a YAML config");
  add_config_options(train, train_args);
  train->add_option("--resume", train_args.resume, "auto (newest complete checkpoint) or a checkpoint DIR");
  train->callback([&exit_code]() {
    Config cfg = resolve_config(train_args);
    if (train_args.print_config) {
      std::fputs(config::to_yaml(cfg).c_str(), stdout);
      exit_code = 0;
      return;
    }
    log::init(launch_rank(), cfg.run.log_level);
    exit_code = trainer::run_train(cfg, train_args.resume);
  });

  auto* worker = app.add_subcommand(
      "rollout-worker", "Generate answers for a trainer running with rollout.mode: workers (same config)");
  add_config_options(worker, worker_args);
  worker
      ->add_option("--trainer", worker_trainer,
                   "The trainer's coordinator HOST:PORT (its log: \"rollout coordinator: listening on ...\")")
      ->required();
  worker->add_option("--device", worker_device, "Device of this worker (overrides run.device): cpu, cuda:N");
  worker
      ->add_option("--reconnect-s", worker_reconnect_s,
                   "When the trainer is lost (its connection ends without a bye: killed, crashed), retry "
                   "connecting for up to this many seconds, then register again and serve the restarted "
                   "trainer (`zerorl train --resume auto` on the same rollout.listen). 0 (default): exit 1.")
      ->check(CLI::NonNegativeNumber);
  worker->add_flag(
      "--cuda-ipc", worker_cuda_ipc,
      "Require CUDA IPC for the weights: an error unless this worker's model is on CUDA in a CUDA "
      "build. Without either flag a CUDA worker offers IPC and the trainer uses it when both are on "
      "one host (device to device, no host copy); else frames over the connection.");
  worker->add_flag("--no-cuda-ipc", worker_no_cuda_ipc,
                   "Take the weights as frames over the connection even beside the trainer on one host.");
  worker->callback([&exit_code]() {
    if (!worker_device.empty()) worker_args.overrides.push_back("run.device=" + worker_device);
    Config cfg = resolve_config(worker_args);
    if (worker_args.print_config) {
      std::fputs(config::to_yaml(cfg).c_str(), stdout);
      return;
    }
    log::init(0, cfg.run.log_level);
    ZRL_CHECK(!(worker_cuda_ipc && worker_no_cuda_ipc), "--cuda-ipc and --no-cuda-ipc exclude each other");
    exit_code = run_rollout_worker(cfg, worker_trainer, worker_reconnect_s,
                                   worker_cuda_ipc      ? "on"
                                   : worker_no_cuda_ipc ? "off"
                                                        : "auto");
  });

  auto* eval = app.add_subcommand("eval", "Evaluate a checkpoint: pass@1, avg@k, maj@k");
  add_config_options(eval, eval_args);
  eval->add_option("--checkpoint", eval_args.checkpoint, "Checkpoint folder (default: model.path)");
  eval->callback([&exit_code]() {
    Config cfg = resolve_config(eval_args);
    if (eval_args.print_config) {
      std::fputs(config::to_yaml(cfg).c_str(), stdout);
      return;
    }
    log::init(launch_rank(), cfg.run.log_level);
    exit_code = trainer::run_eval(cfg, eval_args.checkpoint);
  });

  auto* pretrain = app.add_subcommand("pretrain", "Next-token training with the same model code");
  add_config_options(pretrain, pretrain_args);
  pretrain->callback([&exit_code]() {
    Config cfg = resolve_config(pretrain_args);
    if (pretrain_args.print_config) {
      std::fputs(config::to_yaml(cfg).c_str(), stdout);
      return;
    }
    log::init(launch_rank(), cfg.run.log_level);
    exit_code = trainer::run_pretrain(cfg.pretrain, cfg.run.output_dir, cfg.run.seed, cfg.run.device);
  });

  auto* sample = app.add_subcommand("sample", "Rejection sampling: verified answers -> SFT JSONL (sample:)");
  add_config_options(sample, sample_args);
  sample->add_option("--checkpoint", sample_args.checkpoint, "Checkpoint folder (default: model.path)");
  sample->callback([&exit_code]() {
    Config cfg = resolve_config(sample_args);
    if (sample_args.print_config) {
      std::fputs(config::to_yaml(cfg).c_str(), stdout);
      return;
    }
    log::init(launch_rank(), cfg.run.log_level);
    exit_code = trainer::run_sample(cfg, sample_args.checkpoint);
  });

  auto* sft =
      app.add_subcommand("sft", "Supervised fine-tuning on prompt/response JSONL (sft:, optim:, trainer:)");
  add_config_options(sft, sft_args);
  sft->add_option("--resume", sft_args.resume, "auto (newest complete checkpoint) or a checkpoint DIR");
  sft->callback([&exit_code]() {
    Config cfg = resolve_config(sft_args);
    if (sft_args.print_config) {
      std::fputs(config::to_yaml(cfg).c_str(), stdout);
      return;
    }
    log::init(launch_rank(), cfg.run.log_level);
    exit_code = trainer::run_sft(cfg, sft_args.resume);
  });

  auto* pipeline =
      app.add_subcommand("pipeline", "Run stages (pretrain | sft | train | sample | eval) in order");
  pipeline->add_option("--config", pipeline_args.config_path, "Pipeline YAML (trainer/pipeline.h)")
      ->required();
  pipeline->add_flag("--check", pipeline_args.print_config,
                     "Resolve every stage's config (overrides, from:) and print them; run nothing");
  pipeline->callback([&exit_code]() {
    log::init(0, "info");
    const trainer::ConfigLoader load = [](const std::string& config, const std::vector<std::string>& set) {
      RunArgs a;
      a.config_path = config;
      a.overrides = set;
      return resolve_config(a);
    };
    exit_code = pipeline_args.print_config ? trainer::check_pipeline(pipeline_args.config_path, load)
                                           : trainer::run_pipeline(pipeline_args.config_path, load);
  });
}

}  // namespace zerorl::apps
