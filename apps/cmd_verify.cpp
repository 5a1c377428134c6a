// apps/cmd_verify.cpp: `zerorl verify`: one verdict JSON line per input line, in order.
// Not here: the verifiers (verifiers/).
#include <string>

#include "apps/commands.h"

namespace zerorl::apps {

void register_verify_command(CLI::App& app, int& exit_code) {
  static std::string verifier, input, config_path;
  auto* cmd = app.add_subcommand("verify", "Verify JSONL answers; prints one verdict JSON line per input line");
  cmd->add_option("--verifier", verifier, "math, countdown, format, code, or a name from --config")->required();
  cmd->add_option("--input", input, "JSONL input (fields depend on the verifier; see DESIGN.md)")->required();
  cmd->add_option("--config", config_path, "Run config declaring custom verifiers");
  cmd->callback([&exit_code]() { exit_code = not_implemented("verify", 5); });
}

}  // namespace zerorl::apps
