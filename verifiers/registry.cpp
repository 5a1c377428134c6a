// verifiers/registry.cpp: the verifier registry and data_source routing. Not here: the checkers.
#include "verifiers/registry.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "core/strings.h"
#include "verifiers/countdown.h"
#include "verifiers/format_reward.h"
#include "verifiers/language.h"
#include "verifiers/math_verifier.h"
#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::verifiers {
namespace {
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The "code" verifier's JSON options (from YAML sandbox settings); unknown keys are errors.
CodeVerifierOptions code_options_from_json(const Json& o) {
  CodeVerifierOptions opt;
  for (const auto& [key, value] : o.items()) {
    if (key == "insecure_allow") {
      opt.sandbox.insecure_allow = value.get<bool>();
    } else if (key == "slots") {
      opt.sandbox.slots = value.get<int>();
    } else if (key == "timeout_s") {
      opt.default_timeout_s = value.get<double>();
    } else if (key == "memory_mb") {
      // The cgroup's limit on the whole process tree; RLIMIT_AS (per process) must not bind first.
      opt.sandbox.limits.memory_bytes = value.get<uint64_t>() << 20;
      opt.sandbox.limits.address_space_bytes =
          std::max(opt.sandbox.limits.address_space_bytes, opt.sandbox.limits.memory_bytes);
    } else if (key == "reward") {
      const std::string mode = value.get<std::string>();
      ZRL_CHECK(mode == "all_or_nothing" || mode == "fraction",
                "code verifier option reward = '{}': use all_or_nothing or fraction", mode);
      opt.reward_mode = mode == "fraction" ? CodeRewardMode::kFraction : CodeRewardMode::kAllOrNothing;
    } else {
      ZRL_FAIL(
          "unknown code verifier option '{}' (known: insecure_allow, slots, timeout_s, memory_mb, reward)",
          key);
    }
  }
  return opt;
}
}  // namespace

Registry Registry::with_builtins() {
  Registry r;
  r.add("math", [](const Json& o) {
    return std::make_unique<MathVerifier>(o.empty() ? MathVerifierOptions{}
                                                    : MathVerifierOptions::from_json(o));
  });
  r.add("countdown", [](const Json& o) {
    ZRL_CHECK(o.empty(), "countdown verifier takes no options, got {}", o.dump());
    return std::make_unique<CountdownVerifier>();
  });
  r.add("code", [](const Json& o) { return make_code_verifier(code_options_from_json(o)); });
  r.add("format", [](const Json& o) {
    return std::make_unique<FormatVerifier>(o.empty() ? FormatOptions{} : FormatOptions::from_json(o));
  });
  r.add("language_consistency", [](const Json& o) {
    return std::make_unique<LanguageVerifier>(o.empty() ? LanguageOptions{} : LanguageOptions::from_json(o));
  });
  for (const char* ds :
       {"gsm8k", "openai/gsm8k", "math500", "math-500", "huggingfaceh4/math-500", "aime24", "aime25", "amc23",
        "aime", "amc", "lighteval/math", "hendrycks_math", "competition_math",
        "digitallearninggmbh/math-lighteval", "numina_math", "deepscaler"})
    r.alias(ds, "math");
  for (const char* ds : {"jiayi-pan/countdown-tasks-3to4", "countdown_cd3", "countdown-tasks"})
    r.alias(ds, "countdown");
  for (const char* ds : {"humaneval", "openai_humaneval", "mbpp", "apps", "livecodebench"})
    r.alias(ds, "code");
  return r;
}

void Registry::add(const std::string& name, VerifierFactory factory) {
  ZRL_CHECK(!name.empty(), "verifier name must not be empty");
  ZRL_CHECK(factories_.count(name) == 0, "verifier '{}' is already registered", name);
  factories_[name] = std::move(factory);
}

void Registry::alias(const std::string& data_source, const std::string& name) {
  aliases_[lower(data_source)] = name;
}

bool Registry::has(const std::string& name) const { return factories_.count(name) != 0; }

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  for (const auto& kv : factories_) out.push_back(kv.first);
  return out;
}

std::unique_ptr<Verifier> Registry::create(const std::string& name, const Json& options) const {
  auto it = factories_.find(name);
  if (it == factories_.end()) {
    std::string hint = closest_match(name, names());
    ZRL_FAIL("unknown verifier '{}' (known: {}){}", name, join(names(), ", "),
             hint.empty() ? "" : "; did you mean '" + hint + "'?");
  }
  return it->second(options);
}

std::string Registry::name_for_data_source(const std::string& data_source) const {
  // Aliases first: a user verifier claiming a data_source that is also a verifier's name ("math",
  // "toy_addition") takes those rows.
  std::string ds = lower(data_source);
  auto it = aliases_.find(ds);
  if (it != aliases_.end()) return it->second;
  if (has(data_source)) return data_source;
  if (has(ds)) return ds;
  // Families by substring, most specific first.
  static const std::pair<const char*, const char*> families[] = {
      {"countdown", "countdown"}, {"humaneval", "code"}, {"mbpp", "code"}, {"code", "code"},
      {"gsm8k", "math"},          {"math", "math"},      {"aime", "math"}, {"amc", "math"},
      {"olympiad", "math"},       {"format", "format"}};
  for (const auto& [needle, name] : families)
    if (ds.find(needle) != std::string::npos) return name;
  ZRL_FAIL(
      "no verifier for data_source '{}' (registered: {}; add an alias or set data_source to one of them)",
      data_source, join(names(), ", "));
}

}  // namespace zerorl::verifiers
