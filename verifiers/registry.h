// verifiers/registry.h: verifier names -> factories, and dataset rows' data_source -> verifier name.
// Not here: running verifiers (pool.h) or the checkers themselves.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "verifiers/verifier.h"

namespace zerorl::verifiers {

using VerifierFactory = std::function<std::unique_ptr<Verifier>(const Json& options)>;

class Registry {
 public:
  // A registry holding "math", "countdown", "format" and "code" (the sandbox), and the data_source aliases of
  // the common datasets (gsm8k, math500, aime24, aime25, amc23, countdown, ...; see data/README.md).
  static Registry with_builtins();

  // Throws when `name` is already registered.
  void add(const std::string& name, VerifierFactory factory);
  // data_source value (exact, case-insensitive) -> verifier name.
  void alias(const std::string& data_source, const std::string& name);
  bool has(const std::string& name) const;
  std::vector<std::string> names() const;
  // Throws naming the unknown verifier and the known ones (with a "did you mean").
  std::unique_ptr<Verifier> create(const std::string& name, const Json& options = Json::object()) const;
  // The verifier for a dataset row's data_source: an alias (so an alias can take over a registered name's
  // rows), a registered name, else a family match
  // ("openai/gsm8k" -> math, "Countdown-Tasks-3to4" -> countdown); throws when nothing matches.
  std::string name_for_data_source(const std::string& data_source) const;

 private:
  std::map<std::string, VerifierFactory> factories_;
  std::map<std::string, std::string> aliases_;
};

}  // namespace zerorl::verifiers
