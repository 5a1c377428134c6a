// apps/cmd_tokenize.cpp: `zerorl tokenize`: {"text"} per line -> {"ids", "decoded"} per line, in order.
// Not here: the tokenizer (tokenizer/).
#include <cstdio>
#include <string>

#include "apps/commands.h"
#include "core/error.h"
#include "core/json_io.h"
#include "tokenizer/tokenizer.h"

namespace zerorl::apps {
namespace {

// `ids` are what Hugging Face's Tokenizer.encode(text) returns (special tokens of a post-processor
// included); `decoded` is decode(ids) with special tokens kept.
int tokenize_jsonl(const std::string& tokenizer_dir, const std::string& input) {
  using tokenizer::Tokenizer;
  Tokenizer tok =
      tokenizer_dir == "byte_level" ? Tokenizer::byte_level() : Tokenizer::from_dir(tokenizer_dir);
  std::vector<Json> rows = read_jsonl(input);
  std::vector<std::string> texts;
  texts.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ZRL_CHECK(rows[i].is_object() && rows[i].contains("text") && rows[i]["text"].is_string(),
              "{}: line {} has no string \"text\" key", input, i + 1);
    texts.push_back(rows[i]["text"].get<std::string>());
  }
  auto ids = tok.encode_batch(texts);
  for (const auto& row_ids : ids) {
    nlohmann::ordered_json out = {{"ids", row_ids}, {"decoded", tok.decode(row_ids)}};
    std::string line = out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

void register_tokenize_command(CLI::App& app, int& exit_code) {
  static std::string tokenizer_dir, input;
  auto* cmd =
      app.add_subcommand("tokenize", "Tokenize JSONL {\"text\"} lines; prints {\"ids\", \"decoded\"} lines");
  cmd->add_option("--tokenizer", tokenizer_dir,
                  "Folder with tokenizer.json (or 'byte_level' for the built-in)")
      ->required();
  cmd->add_option("--input", input, "JSONL file with a \"text\" key per line")->required();
  cmd->callback([&exit_code]() { exit_code = tokenize_jsonl(tokenizer_dir, input); });
}

}  // namespace zerorl::apps
