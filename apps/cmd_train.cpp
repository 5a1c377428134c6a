// apps/cmd_train.cpp: `zerorl train | eval | pretrain`: load the YAML config (with --set), then run.
// Not here: the RL loop (trainer/), which these commands only call.
#include <cstdio>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "core/log.h"
#include "core/run_config.h"
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

void add_config_options(CLI::App* cmd, RunArgs& args) {
  cmd->add_option("--config", args.config_path, "Run config (YAML); see configs/README.md");
  cmd->add_option("--set", args.overrides, "Override a key: --set optim.lr=1e-6 (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--print-config", args.print_config, "Print the fully resolved config and exit");
}
}  // namespace

void register_train_commands(CLI::App& app, int& exit_code) {
  static RunArgs train_args, eval_args, pretrain_args;  // CLI11 binds options to storage that outlives parse.

  auto* train = app.add_subcommand("train", "Run GRPO-style RL from a YAML config");
  add_config_options(train, train_args);
  train->add_option("--resume", train_args.resume, "auto (newest complete checkpoint) or a checkpoint DIR");
  train->callback([&exit_code]() {
    Config cfg = load_config(train_args.config_path, train_args.overrides);
    if (train_args.print_config) {
      std::fputs(config::to_yaml(cfg).c_str(), stdout);
      exit_code = 0;
      return;
    }
    log::init(0, cfg.run.log_level);
    exit_code = trainer::run_train(cfg, train_args.resume);
  });

  auto* eval = app.add_subcommand("eval", "Evaluate a checkpoint: pass@1, avg@k, maj@k");
  add_config_options(eval, eval_args);
  eval->add_option("--checkpoint", eval_args.checkpoint, "Checkpoint folder (default: model.path)");
  eval->callback([&exit_code]() {
    Config cfg = load_config(eval_args.config_path, eval_args.overrides);
    if (eval_args.print_config) {
      std::fputs(config::to_yaml(cfg).c_str(), stdout);
      return;
    }
    exit_code = not_implemented("eval", 8);
  });

  auto* pretrain = app.add_subcommand("pretrain", "Next-token training with the same model code");
  add_config_options(pretrain, pretrain_args);
  pretrain->callback([&exit_code]() {
    Config cfg = load_config(pretrain_args.config_path, pretrain_args.overrides);
    if (pretrain_args.print_config) {
      std::fputs(config::to_yaml(cfg).c_str(), stdout);
      return;
    }
    exit_code = not_implemented("pretrain", 9);
  });
}

}  // namespace zerorl::apps
