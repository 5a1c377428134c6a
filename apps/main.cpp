// apps/main.cpp: the zerorl binary: builds the CLI, runs one subcommand, turns errors into exit codes.
// Not here: subsystem logic (each cmd_*.cpp is a thin adapter over its layer).
#include <cstdio>
#include <exception>

#include "apps/commands.h"
#include "core/error.h"
#include "core/log.h"

namespace zerorl::apps {

int not_implemented(const char* what, int issue) {
  std::fprintf(stderr, "zerorl %s: not implemented yet: see issue %d\n", what, issue);
  return 2;
}

}  // namespace zerorl::apps

int main(int argc, char** argv) {
  using namespace zerorl::apps;
  CLI::App app{"zerorl: reinforcement learning for reasoning (R1-Zero style GRPO) in C++ on LibTorch"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  int exit_code = 0;
  register_train_commands(app, exit_code);
  register_model_commands(app, exit_code);
  register_tokenize_command(app, exit_code);
  register_verify_command(app, exit_code);
  register_version_command(app, exit_code);
  try {
    zerorl::log::init(0, "info");
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const zerorl::Error& e) {
    std::fprintf(stderr, "zerorl: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zerorl: error: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
