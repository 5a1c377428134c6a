// apps/commands.h: one registration function per subcommand group of the zerorl CLI (docs/design.md's
// contract). Not here: any subsystem logic; each command parses, builds components from the layers, and runs.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "core/run_config.h"

namespace zerorl::apps {

// Each registers its subcommands on `app`. A subcommand's callback sets `exit_code`.
void register_train_commands(CLI::App& app, int& exit_code);  // train, eval, pretrain, sample, sft, pipeline,
                                                              // rollout-worker
void register_model_commands(CLI::App& app, int& exit_code);  // generate, logits
void register_tokenize_command(CLI::App& app, int& exit_code);  // tokenize
void register_verify_command(CLI::App& app, int& exit_code);    // verify
void register_version_command(CLI::App& app, int& exit_code);   // version

// `zerorl verify` arguments (cmd_verify.cpp).
struct VerifyArgs {
  std::string verifier, input, config_path;
  int threads = 0;        // 0: one per core up to 16 (code: sandbox.workers)
  double deadline_s = 0;  // per item; 0: rewards.verifier_timeout_s of --config (or its default)
};
int run_verify(const VerifyArgs& args);

// `zerorl verify --verifier code`: reads docs/design.md's code lines, prints one verdict line each, sandboxed
// with `sandbox`'s limits, `threads` programs at once (0: sandbox.workers), `deadline_s` per item
// (cmd_verify_code.cpp).
int verify_code_jsonl(const std::string& input_path, const SandboxSection& sandbox, int threads,
                      double deadline_s);

// `zerorl rollout-worker`: serves the coordinator at `trainer_address` (host:port) until the trainer ends
// (cmd_rollout_worker.cpp). Returns the exit code: 0 when the trainer said bye; 1 when the trainer was lost
// (a connection ending without a bye) and no trainer took the worker back within `reconnect_s` (0 = no
// retry), or on a protocol error. `cuda_ipc`: "auto" (offer CUDA IPC when the model is on CUDA), "on" (an
// error unless it can be offered), "off" (frames only).
int run_rollout_worker(const Config& cfg, const std::string& trainer_address, double reconnect_s,
                       const std::string& cuda_ipc = "auto");

// Prints "not implemented yet: see issue N" to stderr and returns 2 (the only allowed placeholder).
int not_implemented(const char* what, int issue);

}  // namespace zerorl::apps
