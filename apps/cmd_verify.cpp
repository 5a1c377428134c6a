// apps/cmd_verify.cpp: `zerorl verify`: one verdict JSON line per input line, in order, verified as a run
// would: --config's settings (sandbox, verifiers, rewards.format_rule), --threads, --deadline, for every
// verifier. Not here: the verifiers (verifiers/), the row <-> verdict mapping (verifiers/jsonl_verify.h).
#include <iostream>
#include <string>

#include "apps/commands.h"
#include "core/error.h"
#include "core/run_config.h"
#include "verifiers/external/from_config.h"
#include "verifiers/jsonl_verify.h"

namespace zerorl::apps {

int run_verify(const VerifyArgs& a) {
  ZRL_CHECK(a.threads >= 0, "--threads {} must be >= 0", a.threads);
  ZRL_CHECK(a.deadline_s >= 0, "--deadline {} must be >= 0 (0: rewards.verifier_timeout_s)", a.deadline_s);
  // The run config's verifier settings; without --config, their defaults.
  const Config cfg = load_config(a.config_path, {});
  const double deadline_s = a.deadline_s > 0 ? a.deadline_s : cfg.rewards.verifier_timeout_s;
  if (a.verifier == "code") return verify_code_jsonl(a.input, cfg.sandbox, a.threads, deadline_s);
  if (a.verifier == "math" || a.verifier == "countdown" || a.verifier == "language_consistency") {
    return verifiers::verify_jsonl(a.verifier, a.input, std::cout, a.threads, deadline_s);
  }
  if (a.verifier == "format") {
    return verifiers::verify_jsonl(a.verifier, a.input, std::cout, a.threads, deadline_s,
                                   Json{{"rule", cfg.rewards.format_rule}});
  }
  ZRL_CHECK(!a.config_path.empty(),
            "--verifier '{}' is not a built-in (math, countdown, format, language_consistency, code): "
            "declare it under verifiers: in "
            "a config and pass --config FILE",
            a.verifier);
  return verifiers::external::verify_with_section(cfg.verifiers, a.verifier, a.input, std::cout, a.threads,
                                                  deadline_s);
}

void register_verify_command(CLI::App& app, int& exit_code) {
  static VerifyArgs args;  // CLI11 binds options to storage that outlives parse.
  auto* cmd =
      app.add_subcommand("verify", "Verify JSONL answers; prints one verdict JSON line per input line");
  cmd->add_option("--verifier", args.verifier,
                  "math, countdown, format, language_consistency, code, or a name from --config")
      ->required();
  cmd->add_option("--input", args.input, "JSONL input (fields depend on the verifier; see docs/design.md)")
      ->required();
  cmd->add_option(
      "--config", args.config_path,
      "Run config: its sandbox (code), verifiers (user verifiers), rewards.format_rule (format) and "
      "rewards.verifier_timeout_s (the default --deadline)");
  cmd->add_option("--threads", args.threads,
                  "Verifications at once (code: sandboxed programs at once; 0: one per core up to 16, code: "
                  "sandbox.workers)");
  cmd->add_option(
      "--deadline", args.deadline_s,
      "Seconds per item, a late item reports a timeout (0: rewards.verifier_timeout_s, 5 by default)");
  cmd->callback([&exit_code]() { exit_code = run_verify(args); });
}

}  // namespace zerorl::apps
