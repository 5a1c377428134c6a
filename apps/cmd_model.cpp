// apps/cmd_model.cpp: `zerorl generate` and `zerorl logits` (DESIGN.md's JSON outputs).
// Not here: the model (model/) and sampling (rollout/).
#include <string>

#include "apps/commands.h"

namespace zerorl::apps {

namespace {
struct ModelArgs {
  std::string model, tokenizer, prompt, ids, device = "cpu";
  int64_t max_new_tokens = 20;
  double temperature = 0.0, top_p = 1.0;
  int64_t seed = 0;
};
}  // namespace

void register_model_commands(CLI::App& app, int& exit_code) {
  static ModelArgs gen, lg;
  auto* generate = app.add_subcommand("generate", "Generate from a checkpoint; prints JSON sequences and texts");
  generate->add_option("--model", gen.model, "Hugging Face checkpoint folder")->required();
  generate->add_option("--tokenizer", gen.tokenizer, "Folder with tokenizer.json (default: --model)");
  auto* prompt = generate->add_option("--prompt", gen.prompt, "Prompt text");
  auto* ids = generate->add_option("--ids", gen.ids, "Token ids: rows separated by ';', e.g. \"1,2,3;4,5\"");
  prompt->excludes(ids);
  generate->add_option("--max-new-tokens", gen.max_new_tokens, "New tokens per row");
  generate->add_option("--temperature", gen.temperature, "0 = greedy");
  generate->add_option("--top-p", gen.top_p, "Nucleus mass");
  generate->add_option("--seed", gen.seed, "Sampling seed");
  generate->add_option("--device", gen.device, "cpu or cuda");
  generate->callback([&exit_code]() { exit_code = not_implemented("generate", 3); });

  auto* logits = app.add_subcommand("logits", "Print last-position logits and per-position logit sums as JSON");
  logits->add_option("--model", lg.model, "Hugging Face checkpoint folder")->required();
  logits->add_option("--ids", lg.ids, "Token ids: rows separated by ';'")->required();
  logits->add_option("--device", lg.device, "cpu (float32) or cuda");
  logits->callback([&exit_code]() { exit_code = not_implemented("logits", 3); });
}

}  // namespace zerorl::apps
