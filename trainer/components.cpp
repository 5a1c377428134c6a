// trainer/components.cpp: Config -> tokenizer, model, rows, scorer. Not here: the loop (step.cpp), the toy
// task's verifiers (toy_task.cpp).
#include "trainer/components.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "core/strings.h"
#include "model/checkpoint.h"
#include "tokenizer/template.h"
#include "trainer/toy_task.h"
#include "trainer/hack_monitor.h"
#include "verifiers/external/from_config.h"
#include "verifiers/format_reward.h"

namespace zerorl::trainer {

tokenizer::Tokenizer build_tokenizer(const Config& cfg) {
  const std::string dir = !cfg.tokenizer.path.empty() ? cfg.tokenizer.path : cfg.model.path;
  if (!dir.empty()) return tokenizer::Tokenizer::from_dir(dir);
  ZRL_CHECK(cfg.data.train_path.empty(),
            "data.train_path = '{}' needs a real tokenizer: set model.path or "
            "tokenizer.path (the toy tokenizer knows only digits, '+', '=' and ' ')",
            cfg.data.train_path);
  return tokenizer::Tokenizer::from_json(toy_tokenizer_json(), toy_tokenizer_config_json(),
                                         "<toy tokenizer>");
}

torch::Dtype model_dtype(const Config& cfg, torch::Device device) {
  if (cfg.model.dtype == "auto") return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  // CPU: float32, or bfloat16 on request (slow; it makes the fp32-master path testable without a GPU).
  ZRL_CHECK(device.is_cuda() || cfg.model.dtype != "float16", "model.dtype = {} needs run.device = cuda",
            cfg.model.dtype);
  return model::parse_dtype(cfg.model.dtype);
}

model::CausalLM build_model(const Config& cfg, const tokenizer::Tokenizer& tok, torch::Device device) {
  if (!cfg.model.path.empty()) return model::load_model(cfg.model.path, model_dtype(cfg, device), device);
  const auto& m = cfg.model;
  ZRL_CHECK(m.tiny_hidden_size % m.tiny_heads == 0 && (m.tiny_hidden_size / m.tiny_heads) % 2 == 0,
            "model.tiny_hidden_size {} must be a multiple of 2 * model.tiny_heads {}", m.tiny_hidden_size,
            m.tiny_heads);
  model::ModelConfig c;
  c.arch = model::Arch::kQwen2;
  c.vocab_size = tok.vocab_size();  // exact: a padded id would decode to nothing
  c.hidden_size = m.tiny_hidden_size;
  c.intermediate_size = 2 * m.tiny_hidden_size;
  c.num_hidden_layers = m.tiny_layers;
  c.num_attention_heads = m.tiny_heads;
  c.num_key_value_heads = std::max<int64_t>(1, m.tiny_heads / 2);
  c.head_dim = m.tiny_hidden_size / m.tiny_heads;
  c.max_position_embeddings = 4096;
  c.qkv_bias = true;
  c.raw = model::config_to_json(c, "float32");
  if (tok.eos_id()) c.raw["eos_token_id"] = *tok.eos_id();
  c = model::parse_config(c.raw, "<tiny model>");
  model::CausalLM lm(c, model_dtype(cfg, device), device);  // init_random_ is dtype-independent
  model::init_random_(lm, mix_seed({static_cast<uint64_t>(cfg.run.seed), 0x696e6974ULL}));
  return lm;
}

void copy_parameters(model::CausalLM& dst, model::CausalLM& src) {
  torch::NoGradGuard ng;
  auto d = dst->named_parameters(), s = src->named_parameters();
  ZRL_CHECK(d.size() == s.size(), "copy_parameters: {} vs {} parameters", d.size(), s.size());
  for (auto& item : d) item.value().copy_(s[item.key()]);
}

model::CausalLM clone_model(model::CausalLM& src) {
  model::CausalLM c(src->config(), src->dtype(), src->device());
  copy_parameters(c, src);
  return c;
}

std::vector<Row> build_rows(const Config& cfg) {
  if (cfg.data.train_path.empty()) {
    // data.toy_task names the built-in task; one_of() in run_config.h lists the tasks this switch knows.
    ZRL_CHECK(cfg.data.toy_task == "addition", "data.toy_task: unknown built-in task '{}' (known: addition)",
              cfg.data.toy_task);
    return toy_addition_rows(cfg.data.toy_size, cfg.data.toy_max_operand,
                             static_cast<uint64_t>(cfg.run.seed));
  }
  return load_rows(cfg.data.train_path, field_mapping(cfg.data));
}

FieldMapping field_mapping(const DataSection& d) {
  return FieldMapping{d.prompt_key, d.answer_key, d.data_source_key, d.default_data_source, d.extra_key};
}

namespace {
std::string prompt_text(const Config& cfg, const Row& row) {
  const bool toy = cfg.data.train_path.empty() && cfg.model.path.empty() && cfg.tokenizer.path.empty();
  return toy ? row.prompt : tokenizer::apply_template(cfg.tokenizer.prompt_template, row.prompt);
}
}  // namespace

std::vector<int64_t> encode_prompt(const Config& cfg, const tokenizer::Tokenizer& tok, const Row& row) {
  const auto ids = tok.encode_prompt(prompt_text(cfg, row));  // the post-processor's special tokens, once
  return std::vector<int64_t>(ids.begin(), ids.end());
}

Json code_verifier_options(const SandboxSection& sb) {
  return Json{{"timeout_s", sb.timeout_s},
              {"memory_mb", sb.memory_mb},
              {"slots", sb.workers},
              {"insecure_allow", sb.insecure_allow},
              {"reward", sb.reward}};
}

std::vector<Row> drop_long_prompts(const Config& cfg, const tokenizer::Tokenizer& tok, std::vector<Row> rows,
                                   const std::string& file) {
  const int64_t limit = cfg.tokenizer.max_prompt_tokens;
  std::vector<std::string> texts;
  texts.reserve(rows.size());
  for (const auto& r : rows) texts.push_back(prompt_text(cfg, r));
  const auto ids = tok.encode_batch(texts, 0, /*add_special_tokens=*/false);
  // encode_prompt adds the post-processor's special tokens (Llama 3's BOS) at most once: counted for every
  // row (one token too many for a text that already starts with them, which only errs toward dropping).
  const size_t specials = tok.encode_prompt("").size();
  std::vector<Row> kept;
  kept.reserve(rows.size());
  size_t shortest = SIZE_MAX;
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t n = ids[i].size() + specials;
    shortest = std::min(shortest, n);
    if (static_cast<int64_t>(n) <= limit) kept.push_back(std::move(rows[i]));
  }
  const size_t dropped = rows.size() - kept.size();
  ZRL_CHECK(kept.size() > 0 || rows.empty(),
            "every row of {} ({}) is longer than tokenizer.max_prompt_tokens = {} tokens (template applied; "
            "the shortest has {}): raise tokenizer.max_prompt_tokens",
            file, rows.size(), limit, shortest);
  if (dropped > 0) {
    ZRL_WARN(
        "dropped {} of {} rows of {} longer than {} tokens (tokenizer.max_prompt_tokens, template applied)",
        dropped, rows.size(), file, limit);
  } else {
    ZRL_INFO("all {} rows of {} fit tokenizer.max_prompt_tokens = {}", rows.size(), file, limit);
  }
  return kept;
}


Scorer::Scorer(const Config& cfg) : registry_(verifiers::Registry::with_builtins()) {
  register_toy_verifiers(registry_);
  // User verifiers (plugins, worker processes, remote services) are created now, so a bad path or
  // command fails before step 1, and rows reach them through their data_sources.
  for (auto& [name, make] : verifiers::external::user_verifier_factories(cfg.verifiers)) {
    registry_.add(name, [make = make](const Json&) { return make(); });
    by_name_.emplace(name, registry_.create(name));
  }
  for (auto& [source, name] : verifiers::external::user_data_source_aliases(cfg.verifiers)) {
    registry_.alias(source, name);
  }
  code_options_ = code_verifier_options(cfg.sandbox);
  toy_ = cfg.data.train_path.empty();
  const auto& r = cfg.rewards;
  options_.accuracy_weight = r.accuracy_weight;
  options_.format_weight = r.format_weight;
  options_.length_weight = r.length_weight;
  options_.max_response_tokens = cfg.rollout.max_new_tokens;
  options_.overlong.enabled = cfg.algo.overlong == "soft";
  options_.overlong.buffer = cfg.algo.overlong_buffer;
  options_.overlong.penalty_factor = cfg.algo.overlong_penalty;
  options_.hack_penalty = hack_penalties(r.hack_penalty);
  rewards::validate(options_);
  // Created even when format_weight is 0: format_rate is always measured (a cheap check), never a 0 that
  // nobody computed. The R1-Zero template ends with "Assistant:", so the completion opens <think> itself.
  const Json opts = toy_ ? Json::object() : Json{{"rule", r.format_rule}};
  format_ = registry_.create(toy_ ? "toy_format" : "format", opts);
  pool_ =
      std::make_unique<verifiers::VerifierPool>(static_cast<int>(r.verifier_threads), r.verifier_timeout_s);
}

Scorer::~Scorer() = default;

std::shared_ptr<const verifiers::Verifier> Scorer::verifier_for_source(const std::string& source) {
  const std::string name = registry_.name_for_data_source(source);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    it =
        by_name_.emplace(name, registry_.create(name, name == "code" ? code_options_ : Json::object())).first;
  }
  return it->second;
}

verifiers::Sample Scorer::sample_of(const Item& item) {
  Json extra = item.row->extra.is_object() ? item.row->extra : Json::object();
  extra["finished"] = item.finished;
  extra["data_source"] = item.row->data_source;
  return {item.row->prompt, item.response, item.row->answer, std::move(extra)};
}

Scorer::Scored Scorer::score_all(const std::vector<Item>& items) {
  // One pool run: the accuracy verdict of every item, then its format verdict.
  std::vector<std::shared_ptr<const verifiers::Verifier>> chosen;
  std::vector<verifiers::Sample> samples;
  const size_t n = items.size();
  samples.reserve(2 * n);  // the second half copies the first: no reallocation under those references
  for (const auto& it : items) {
    samples.push_back(sample_of(it));
    chosen.push_back(verifier_for_source(it.row->data_source));
  }
  for (size_t i = 0; i < n; ++i) samples.push_back(samples[i]), chosen.push_back(format_);
  std::vector<verifiers::Verdict> verdicts = pool_->run(chosen, samples);
  Scored out;
  out.accuracy.assign(verdicts.begin(), verdicts.begin() + static_cast<std::ptrdiff_t>(n));
  out.format.assign(verdicts.begin() + static_cast<std::ptrdiff_t>(n), verdicts.end());
  for (size_t i = 0; i < n; ++i) {
    auto r = rewards::compute_reward(options_, out.accuracy[i], &out.format[i], items[i].tokens);
    // Hack signs (and rewards.hack_penalty.*, 0 by default) by the verifier that checked the answer.
    const std::string verifier = registry_.name_for_data_source(items[i].row->data_source);
    rewards::apply_hack_signs(options_, rewards::hack_signs(items[i].response, verifier), &r);
    out.rewards.push_back(std::move(r));
  }
  return out;
}

std::vector<rewards::Reward> Scorer::score(const std::vector<Item>& items) {
  return score_all(items).rewards;
}

}  // namespace zerorl::trainer
