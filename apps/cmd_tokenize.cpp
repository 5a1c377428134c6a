// apps/cmd_tokenize.cpp: `zerorl tokenize`: {"text"} per line -> {"ids", "decoded"} per line.
// Not here: the tokenizer (tokenizer/).
#include <string>

#include "apps/commands.h"

namespace zerorl::apps {

void register_tokenize_command(CLI::App& app, int& exit_code) {
  static std::string tokenizer_dir, input;
  auto* cmd = app.add_subcommand("tokenize", "Tokenize JSONL {\"text\"} lines; prints {\"ids\", \"decoded\"} lines");
  cmd->add_option("--tokenizer", tokenizer_dir, "Folder with tokenizer.json")->required();
  cmd->add_option("--input", input, "JSONL file with a \"text\" key per line")->required();
  cmd->callback([&exit_code]() { exit_code = not_implemented("tokenize", 4); });
}

}  // namespace zerorl::apps
