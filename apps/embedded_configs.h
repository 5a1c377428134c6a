// apps/embedded_configs.h: the YAML files of configs/, compiled into the binary (file name -> text).
// Not here: parsing (core/config.h) — callers load the text with config::load_yaml_text.
#pragma once

#include <map>
#include <string>

namespace zerorl::apps {

const std::map<std::string, std::string>& embedded_configs();

}  // namespace zerorl::apps
