// apps/cmd_model.cpp: `zerorl generate` and `zerorl logits` (docs/design.md's JSON outputs).
// Not here: the model (model/), sampling (rollout/), the tokenizer (tokenizer/).
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "apps/commands.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/strings.h"
#include "model/checkpoint.h"
#include "model/device.h"
#include "rollout/generate.h"
#include "tokenizer/tokenizer.h"

namespace zerorl::apps {

namespace {
struct ModelArgs {
  std::string model, tokenizer, prompt, ids, device = "cpu";
  int64_t max_new_tokens = 20;
  double temperature = 0.0, top_p = 1.0;
  int64_t seed = 0;
};

// "1,2,3;4,5" -> {{1,2,3},{4,5}}; errors name the bad piece.
std::vector<std::vector<int64_t>> parse_ids(const std::string& text) {
  std::vector<std::vector<int64_t>> rows(1);
  std::string cur;
  auto flush = [&]() {
    const std::string t = trim(cur);
    cur.clear();
    if (t.empty()) return;
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(t, &used);
    } catch (const std::exception&) {
    }
    ZRL_CHECK(used == t.size() && v >= 0, "--ids: '{}' is not a non-negative integer", t);
    rows.back().push_back(v);
  };
  for (char ch : text) {
    if (ch == ',' || ch == ';') flush();
    if (ch == ';') rows.emplace_back();
    if (ch != ',' && ch != ';') cur += ch;
  }
  flush();
  for (size_t i = 0; i < rows.size(); ++i)
    ZRL_CHECK(!rows[i].empty(), "--ids: row {} is empty in '{}'", i, text);
  return rows;
}

torch::Device parse_device(const std::string& d) { return model::resolve_device(d, "--device"); }

void check_vocab(const std::vector<std::vector<int64_t>>& rows, int64_t vocab) {
  for (const auto& r : rows)
    for (int64_t id : r) ZRL_CHECK(id < vocab, "--ids: id {} is outside the vocabulary (size {})", id, vocab);
}

int run_logits(const ModelArgs& a) {
  torch::NoGradGuard no_grad;
  const auto rows = parse_ids(a.ids);
  auto lm = model::load_model(a.model, torch::kFloat32, parse_device(a.device));
  check_vocab(rows, lm->config().vocab_size);
  Json out = {{"logits_last", Json::array()}, {"logits_sum", Json::array()}};
  for (const auto& r : rows) {  // rows run alone: no padding effects at all
    auto logits = lm->forward(torch::tensor(r, torch::kInt64).view({1, -1})).squeeze(0).to(torch::kCPU);
    auto last = logits.select(0, logits.size(0) - 1).contiguous();
    auto sums = logits.sum(-1).contiguous();
    out["logits_last"].push_back(
        std::vector<float>(last.data_ptr<float>(), last.data_ptr<float>() + last.numel()));
    out["logits_sum"].push_back(
        std::vector<float>(sums.data_ptr<float>(), sums.data_ptr<float>() + sums.numel()));
  }
  std::cout << out.dump() << "\n";
  return 0;
}

// Tokenizer for --prompt and for texts: --tokenizer, else the model folder when it holds tokenizer.json.
std::optional<tokenizer::Tokenizer> load_tokenizer(const ModelArgs& a) {
  const std::string dir = a.tokenizer.empty() ? a.model : a.tokenizer;
  if (!a.tokenizer.empty() || std::filesystem::exists(dir + "/tokenizer.json")) {
    return tokenizer::Tokenizer::from_dir(dir);
  }
  ZRL_CHECK(a.prompt.empty(), "--prompt needs a tokenizer: '{}' has no tokenizer.json; pass --tokenizer DIR",
            dir);
  return std::nullopt;
}

int run_generate(const ModelArgs& a) {
  ZRL_CHECK(!a.prompt.empty() || !a.ids.empty(), "generate needs --prompt TEXT or --ids \"1,2,3;4,5\"");
  ZRL_CHECK(a.max_new_tokens >= 0, "--max-new-tokens {} must be >= 0", a.max_new_tokens);
  ZRL_CHECK(a.temperature >= 0.0, "--temperature {} must be >= 0", a.temperature);
  ZRL_CHECK(a.top_p > 0.0 && a.top_p <= 1.0, "--top-p {} must be in (0, 1]", a.top_p);
  const auto tok = load_tokenizer(a);
  rollout::GenerateRequest req;
  if (!a.prompt.empty()) {
    const auto ids = tok->encode_prompt(a.prompt);  // the same special tokens as a training prompt
    req.prompts.push_back(std::vector<int64_t>(ids.begin(), ids.end()));
  } else {
    req.prompts = parse_ids(a.ids);
  }
  torch::NoGradGuard no_grad;
  auto lm = model::load_model(a.model, torch::kFloat32, parse_device(a.device));
  check_vocab(req.prompts, lm->config().vocab_size);
  req.max_new_tokens = a.max_new_tokens;
  req.temperature = a.temperature;
  req.top_p = a.top_p;
  req.seed = static_cast<uint64_t>(a.seed);
  if (tok && tok->eos_id()) req.eos_ids.push_back(*tok->eos_id());
  std::cout << rollout::generate_json(lm, req, tok ? &*tok : nullptr).dump() << "\n";
  return 0;
}
}  // namespace

void register_model_commands(CLI::App& app, int& exit_code) {
  static ModelArgs gen, lg;
  auto* generate =
      app.add_subcommand("generate", "Generate from a checkpoint; prints JSON sequences and texts");
  generate->add_option("--model", gen.model, "Hugging Face checkpoint folder")->required();
  generate->add_option("--tokenizer", gen.tokenizer, "Folder with tokenizer.json (default: --model)");
  auto* prompt = generate->add_option("--prompt", gen.prompt, "Prompt text");
  auto* ids = generate->add_option("--ids", gen.ids, "Token ids: rows separated by ';', e.g. \"1,2,3;4,5\"");
  prompt->excludes(ids);
  generate->add_option("--max-new-tokens", gen.max_new_tokens, "New tokens per row");
  generate->add_option("--temperature", gen.temperature, "0 = greedy");
  generate->add_option("--top-p", gen.top_p, "Nucleus mass");
  generate->add_option("--seed", gen.seed, "Sampling seed");
  generate->add_option("--device", gen.device, "cpu, cuda, cuda:N or auto");
  generate->callback([&exit_code]() { exit_code = run_generate(gen); });

  auto* logits =
      app.add_subcommand("logits", "Print last-position logits and per-position logit sums as JSON");
  logits->add_option("--model", lg.model, "Hugging Face checkpoint folder")->required();
  logits->add_option("--ids", lg.ids, "Token ids: rows separated by ';'")->required();
  logits->add_option("--device", lg.device, "cpu (float32), cuda, cuda:N or auto");
  logits->callback([&exit_code]() { exit_code = run_logits(lg); });
}

}  // namespace zerorl::apps
