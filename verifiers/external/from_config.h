// verifiers/external/from_config.h: user verifiers declared in YAML (`verifiers.plugins|external|remote`)
// -> Verifier objects, and the `zerorl verify --config FILE --verifier NAME` engine for them.
// Not here: the schema (core/verifier_config.h), the built-in verifiers and their registry.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/verifier_config.h"
#include "verifiers/verifier.h"

namespace zerorl::verifiers::external {

// Only the `verifiers:` section of a run config (following `base:` files like the full loader), checked.
// Other top-level sections are ignored here; the run's own loader checks them.
VerifiersSection load_verifiers_section(const std::string& config_path);
VerifiersSection parse_verifiers_section(const std::string& yaml_text, const std::string& source);

// Plugin options map -> JSON object: a value that reads as JSON (number, true/false, null, [..], {..})
// keeps that type, any other value stays a string.
Json plugin_options_json(const PluginOptions& options);

// One factory per declared verifier name; calling it loads the plugin / starts the workers / checks the
// URL (errors at start-up, naming the key). Throws when a name is declared twice across the three kinds.
using UserVerifierFactory = std::function<std::unique_ptr<Verifier>()>;
std::map<std::string, UserVerifierFactory> user_verifier_factories(const VerifiersSection& section);

// data_source value -> verifier name, from each verifier's `data_sources` list (for Registry::alias).
// Throws when two verifiers claim the same data_source.
std::map<std::string, std::string> user_data_source_aliases(const VerifiersSection& section);

// Creates the verifier `name`; throws listing the declared names when it is not declared.
std::unique_ptr<Verifier> create_user_verifier(const VerifiersSection& section, const std::string& name);

// Input rows {"prompt"?, "response", "gold"?, "extra"?} -> Samples (a non-string gold is written as JSON
// text, e.g. 42 -> "42"). Throws naming `where` and the row on a missing response or a wrong type.
Sample user_sample_from_row(const Json& row, const std::string& where);
// Verdict -> {"reward", "correct", "status", "reason"?, "extracted"?, "info"}.
Json user_verdict_row(const Verdict& v);

// `zerorl verify --config FILE --verifier NAME --input FILE.jsonl`: one verdict line per input line, in
// order, on `out`, verified as the trainer does: on a VerifierPool of `threads` threads (0: one per core, at
// most 16) with a `deadline_s` per item (a late item is a "timeout" verdict). Returns the exit code (0); bad
// config or input throws before any line is written.
int verify_with_config(const std::string& config_path, const std::string& name, const std::string& input_path,
                       std::ostream& out, int threads = 0, double deadline_s = 5.0);
// The same from an already loaded section (e.g. run Config's `verifiers`).
int verify_with_section(const VerifiersSection& section, const std::string& name,
                        const std::string& input_path, std::ostream& out, int threads = 0,
                        double deadline_s = 5.0);

}  // namespace zerorl::verifiers::external
