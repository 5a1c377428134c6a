// core/run_config.cpp: loading the run schema (file, then --set, then checks).
// Not here: cross-section semantics that need other layers (the trainer checks those at start-up).
#include "core/run_config.h"

namespace zerorl {

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  Config cfg;
  if (!path.empty()) config::load_yaml_file(cfg, path);
  config::apply_overrides(cfg, overrides);
  config::validate(cfg);
  return cfg;
}

}  // namespace zerorl
