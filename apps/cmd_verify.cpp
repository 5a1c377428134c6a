// apps/cmd_verify.cpp: `zerorl verify`: one verdict JSON line per input line, in order.
// Not here: the verifiers (verifiers/), the row <-> verdict mapping (verifiers/jsonl_verify.h).
#include <iostream>
#include <string>

#include "apps/commands.h"
#include "core/error.h"
#include "verifiers/external/from_config.h"
#include "verifiers/jsonl_verify.h"

namespace zerorl::apps {

void register_verify_command(CLI::App& app, int& exit_code) {
  static std::string verifier, input, config_path;
  static int threads = 0;
  static double deadline_s = 2.0;
  auto* cmd =
      app.add_subcommand("verify", "Verify JSONL answers; prints one verdict JSON line per input line");
  cmd->add_option("--verifier", verifier, "math, countdown, format, code, or a name from --config")
      ->required();
  cmd->add_option("--input", input, "JSONL input (fields depend on the verifier; see docs/design.md)")
      ->required();
  cmd->add_option("--config", config_path, "Run config declaring custom verifiers");
  cmd->add_option("--threads", threads, "Verifier threads (0: one per core, at most 16)");
  cmd->add_option("--deadline", deadline_s, "Per-item deadline in seconds (a late item reports a timeout)");
  cmd->callback([&exit_code]() {
    if (verifier == "code") {
      exit_code = verify_code_jsonl(input);
      return;
    }
    if (!config_path.empty() && verifier != "math" && verifier != "countdown" && verifier != "format") {
      exit_code = verifiers::external::verify_with_config(config_path, verifier, input, std::cout);
      return;
    }
    exit_code = verifiers::verify_jsonl(verifier, input, std::cout, threads, deadline_s);
  });
}

}  // namespace zerorl::apps
