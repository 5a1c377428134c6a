// core/run_config.cpp: loading the run schema (file, then --set, then checks), and the checks of values that
// are more than a list of choices (custom prompt templates, device names).
// Not here: cross-section semantics that need other layers (the trainer checks those at start-up).
#include "core/run_config.h"

#include <fmt/format.h>

#include <cctype>

namespace zerorl {

namespace config::check {

std::function<std::string(const std::string&)> prompt_template() {
  return [](const std::string& v) {
    if (v == "r1_zero" || v == "chatml" || v == "plain") return std::string();
    size_t count = 0;
    for (size_t at = v.find("{prompt}"); at != std::string::npos; at = v.find("{prompt}", at + 8)) ++count;
    if (count == 1) return std::string();
    return fmt::format(
        "must be r1_zero, chatml, plain, or a template string containing {{prompt}} exactly once (it "
        "contains it {} times); in YAML, quote a template: \"Question: {{prompt}} Answer:\"",
        count);
  };
}

std::function<std::string(const std::string&)> device() {
  return [](const std::string& v) {
    if (v == "auto" || v == "cpu" || v == "cuda") return std::string();
    if (v.rfind("cuda:", 0) == 0 && v.size() > 5 && v.size() <= 8) {
      bool digits = true;
      for (size_t i = 5; i < v.size(); ++i) digits = digits && std::isdigit(static_cast<unsigned char>(v[i]));
      if (digits) return std::string();
    }
    return std::string("must be auto, cpu, cuda or cuda:N (N = a device index, e.g. cuda:1)");
  };
}

}  // namespace config::check

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  Config cfg;
  if (!path.empty()) config::load_yaml_file(cfg, path);
  config::apply_overrides(cfg, overrides);
  config::validate(cfg);
  return cfg;
}

}  // namespace zerorl
