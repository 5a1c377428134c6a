// verifiers/external/from_config.cpp: YAML-declared user verifiers -> Verifier objects, and the
// `zerorl verify --config` engine. Not here: the transports (process_pool, plugin, remote).
#include "verifiers/external/from_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/json_io.h"
#include "core/strings.h"
#include "verifiers/external/plugin.h"
#include "verifiers/external/process_pool.h"
#include "verifiers/external/protocol.h"
#include "verifiers/external/remote.h"
#include "verifiers/pool.h"

namespace zerorl::verifiers::external {
namespace {

// Follows `base:` first (like config::load_yaml_text) so an override file inherits its base's verifiers.
void load_into(VerifiersSection& section, const std::string& text, const std::string& source, int depth) {
  ZRL_CHECK(depth < 8, "config '{}': 'base:' chain deeper than 8 (a cycle?)", source);
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    ZRL_FAIL("{}:{}: invalid YAML: {}", source, e.mark.line + 1, e.msg);
  }
  config::check_unique_keys(text, source);
  if (!doc.IsMap()) return;
  if (doc["base"]) {
    const std::string base = config::resolve_relative(source, doc["base"].as<std::string>());
    load_into(section, config::read_config_text(base), base, depth + 1);
  }
  const YAML::Node node = doc["verifiers"];
  if (!node.IsDefined() || node.IsNull()) return;
  config::Loader loader{source, "verifiers", &node};
  loader.load_struct(section);
}

}  // namespace

VerifiersSection parse_verifiers_section(const std::string& yaml_text, const std::string& source) {
  VerifiersSection s;
  load_into(s, yaml_text, source, 0);
  config::Validator v{"verifiers"};
  s.visit(v);
  return s;
}

VerifiersSection load_verifiers_section(const std::string& config_path) {
  return parse_verifiers_section(config::read_config_text(config_path), config_path);
}

Json plugin_options_json(const PluginOptions& options) {
  Json out = Json::object();
  for (const auto& [key, text] : options) {
    Json value = parse_json_or_discarded(text);
    out[key] = value.is_discarded() || value.is_string() ? Json(text) : value;
  }
  return out;
}

std::map<std::string, UserVerifierFactory> user_verifier_factories(const VerifiersSection& section) {
  std::map<std::string, UserVerifierFactory> out;
  auto add = [&](const std::string& name, const char* kind, UserVerifierFactory f) {
    ZRL_CHECK(out.count(name) == 0,
              "verifier name '{}' is declared twice (again under verifiers.{}); "
              "names must be unique across plugins, external and remote",
              name, kind);
    out[name] = std::move(f);
  };
  for (const auto& [name, p] : section.plugins) {
    add(name, "plugins", [name = name, p = p] {
      return std::make_unique<PluginVerifier>(name, p.path, p.symbol, plugin_options_json(p.options));
    });
  }
  for (const auto& [name, e] : section.external) {
    add(name, "external", [name = name, e = e] {
      ExternalOptions o;
      o.name = name;
      o.command = e.command;
      o.workers = static_cast<int>(e.workers);
      o.timeout_s = e.timeout_s;
      o.max_restarts = static_cast<int>(e.max_restarts);
      return std::make_unique<ExternalVerifier>(o);
    });
  }
  for (const auto& [name, r] : section.remote) {
    add(name, "remote", [name = name, r = r] {
      RemoteOptions o;
      o.name = name;
      o.url = r.url;
      o.timeout_s = r.timeout_s;
      o.max_in_flight = static_cast<int>(r.max_in_flight);
      o.batch_size = static_cast<int>(r.batch_size);
      o.retries = static_cast<int>(r.retries);
      o.backoff_s = r.backoff_s;
      return std::make_unique<RemoteVerifier>(o);
    });
  }
  return out;
}

std::map<std::string, std::string> user_data_source_aliases(const VerifiersSection& section) {
  std::map<std::string, std::string> out;
  auto add = [&](const std::string& name, const config::StringList& sources) {
    for (const auto& ds : sources) {
      auto [it, fresh] = out.emplace(ds, name);
      ZRL_CHECK(fresh || it->second == name, "data_source '{}' is claimed by verifiers '{}' and '{}'", ds,
                it->second, name);
    }
  };
  for (const auto& [name, p] : section.plugins) add(name, p.data_sources);
  for (const auto& [name, e] : section.external) add(name, e.data_sources);
  for (const auto& [name, r] : section.remote) add(name, r.data_sources);
  return out;
}

std::unique_ptr<Verifier> create_user_verifier(const VerifiersSection& section, const std::string& name) {
  auto factories = user_verifier_factories(section);
  auto it = factories.find(name);
  if (it == factories.end()) {
    std::vector<std::string> names;
    for (const auto& kv : factories) names.push_back(kv.first);
    ZRL_FAIL(
        "verifier '{}' is not declared under verifiers.plugins, verifiers.external or verifiers.remote "
        "(declared: {})",
        name, names.empty() ? std::string("none") : join(names, ", "));
  }
  return it->second();
}

Sample user_sample_from_row(const Json& row, const std::string& where) {
  ZRL_CHECK(row.is_object(), "{}: expected a JSON object, got {}", where, row.dump().substr(0, 100));
  Sample s;
  auto text = [&](const char* key, std::string& dst, bool required) {
    auto it = row.find(key);
    if (it == row.end() || it->is_null()) {
      ZRL_CHECK(!required, "{}: missing key '{}'", where, key);
      return;
    }
    dst = it->is_string() ? it->get<std::string>() : it->dump();
  };
  text("prompt", s.prompt, false);
  text("response", s.response, true);
  text("gold", s.gold, false);
  auto extra = row.find("extra");
  if (extra != row.end() && !extra->is_null()) {
    ZRL_CHECK(extra->is_object(), "{}: 'extra' must be a JSON object, got {}", where,
              extra->dump().substr(0, 100));
    s.extra = *extra;
  }
  return s;
}

Json user_verdict_row(const Verdict& v) {
  Json row{{"reward", v.reward}, {"correct", v.correct}, {"status", v.status}};
  if (!v.reason.empty()) row["reason"] = v.reason;
  if (!v.extracted.empty()) row["extracted"] = v.extracted;
  row["info"] = v.info;
  return row;
}

int verify_with_section(const VerifiersSection& section, const std::string& name,
                        const std::string& input_path, std::ostream& out, int threads, double deadline_s) {
  const std::vector<Json> rows = read_jsonl(input_path);
  std::vector<Sample> samples;
  samples.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    samples.push_back(user_sample_from_row(rows[i], fmt::format("{}: line {}", input_path, i + 1)));
  }
  const std::shared_ptr<const Verifier> verifier = create_user_verifier(section, name);
  if (threads <= 0)
    threads = static_cast<int>(std::max(1u, std::min(16u, std::thread::hardware_concurrency())));
  VerifierPool pool(threads, deadline_s);
  for (const auto& v : pool.run({verifier}, samples)) {
    out << user_verdict_row(v).dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
  }
  out.flush();
  return 0;
}

int verify_with_config(const std::string& config_path, const std::string& name, const std::string& input_path,
                       std::ostream& out, int threads, double deadline_s) {
  return verify_with_section(load_verifiers_section(config_path), name, input_path, out, threads, deadline_s);
}

}  // namespace zerorl::verifiers::external
