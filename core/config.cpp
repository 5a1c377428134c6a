// core/config.cpp: the non-template half of the config system: scalar conversion with messages that
// name the key and value, unknown-key suggestions, checks. Not here: the schema (core/run_config.h).
#include "core/config.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "core/json_io.h"
#include "core/strings.h"

namespace zerorl::config {

namespace check {
std::function<std::string(const double&)> positive() {
  return [](const double& x) { return x > 0 ? "" : std::string("must be > 0"); };
}
std::function<std::string(const double&)> non_negative() {
  return [](const double& x) { return x >= 0 ? "" : std::string("must be >= 0"); };
}
std::function<std::string(const double&)> greater_than(double lo) {
  return [lo](const double& x) { return x > lo ? "" : fmt::format("must be > {}", lo); };
}
std::function<std::string(const double&)> range(double lo, double hi) {
  return [lo, hi](const double& x) {
    return (x >= lo && x <= hi) ? "" : fmt::format("must be in [{}, {}]", lo, hi);
  };
}
std::function<std::string(const int64_t&)> at_least(int64_t lo) {
  return [lo](const int64_t& x) { return x >= lo ? "" : fmt::format("must be >= {}", lo); };
}
std::function<std::string(const std::string&)> one_of(StringList choices) {
  return [choices](const std::string& x) {
    for (const auto& c : choices) {
      if (c == x) return std::string();
    }
    return fmt::format("must be one of: {}", join(choices, ", "));
  };
}
}  // namespace check

std::string node_location(const std::string& source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return source;
  return fmt::format("{}:{}", source, mark.line + 1);
}

std::string closest_key(const std::string& key, const std::vector<std::string>& valid) {
  return closest_match(key, valid);
}

void fail_unknown_key(const std::string& source, const YAML::Node& key_node, const std::string& prefix,
                      const std::string& key, const std::vector<std::string>& valid) {
  const std::string full = prefix.empty() ? key : prefix + "." + key;
  const std::string close = closest_match(key, valid);
  std::string hint = close.empty() ? fmt::format("; valid keys here: {}", join(valid, ", "))
                                   : fmt::format("; did you mean '{}'?", close);
  ZRL_FAIL("{}: unknown config key '{}' (line {}){}", node_location(source, key_node), full,
           key_node.Mark().line + 1, hint);
}

namespace {
std::string scalar_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

template <class T>
T scalar_as(const YAML::Node& node, const std::string& where, const char* expected) {
  if (!node.IsScalar()) ZRL_FAIL("{} expects {}, got '{}'", where, expected, scalar_text(node));
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    ZRL_FAIL("{} expects {}, got '{}'", where, expected, node.Scalar());
  }
}
}  // namespace

template <>
double from_yaml<double>(const YAML::Node& node, const std::string& where) {
  const double x = scalar_as<double>(node, where, "a number");
  if (std::isnan(x)) ZRL_FAIL("{} expects a number, got '{}'", where, node.Scalar());
  return x;
}
template <>
int64_t from_yaml<int64_t>(const YAML::Node& node, const std::string& where) {
  return scalar_as<int64_t>(node, where, "an integer");
}
template <>
bool from_yaml<bool>(const YAML::Node& node, const std::string& where) {
  return scalar_as<bool>(node, where, "true or false");
}
template <>
std::string from_yaml<std::string>(const YAML::Node& node, const std::string& where) {
  if (node.IsNull()) return "";
  return scalar_as<std::string>(node, where, "a string");
}
template <>
StringList from_yaml<StringList>(const YAML::Node& node, const std::string& where) {
  if (node.IsNull()) return {};
  if (!node.IsSequence()) ZRL_FAIL("{} expects a list of strings, got '{}'", where, scalar_text(node));
  StringList out;
  for (const auto& item : node) out.push_back(from_yaml<std::string>(item, where + " item"));
  return out;
}
template <>
DoubleList from_yaml<DoubleList>(const YAML::Node& node, const std::string& where) {
  if (node.IsNull()) return {};
  if (!node.IsSequence()) ZRL_FAIL("{} expects a list of numbers, got '{}'", where, scalar_text(node));
  DoubleList out;
  for (const auto& item : node) out.push_back(from_yaml<double>(item, where + " item"));
  return out;
}

template <>
std::string type_name<double>() {
  return "float";
}
template <>
std::string type_name<int64_t>() {
  return "int";
}
template <>
std::string type_name<bool>() {
  return "bool";
}
template <>
std::string type_name<std::string>() {
  return "string";
}
template <>
std::string type_name<StringList>() {
  return "list of string";
}
template <>
std::string type_name<DoubleList>() {
  return "list of float";
}

namespace {
// Shortest text that reads back as the same double (fmt uses Dragonbox), always with a '.' or 'e'.
std::string double_text(double x) {
  if (std::isinf(x)) return x > 0 ? ".inf" : "-.inf";
  std::string s = fmt::format("{}", x);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}
}  // namespace

template <>
void emit_value<double>(YAML::Emitter& out, const double& v) {
  out << double_text(v);
}
template <>
void emit_value<int64_t>(YAML::Emitter& out, const int64_t& v) {
  out << v;
}
template <>
void emit_value<bool>(YAML::Emitter& out, const bool& v) {
  out << YAML::TrueFalseBool << v;
}
template <>
void emit_value<std::string>(YAML::Emitter& out, const std::string& v) {
  out << YAML::DoubleQuoted << v;
}
template <>
void emit_value<StringList>(YAML::Emitter& out, const StringList& v) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const auto& s : v) out << YAML::DoubleQuoted << s;
  out << YAML::EndSeq;
}
template <>
void emit_value<DoubleList>(YAML::Emitter& out, const DoubleList& v) {
  out << YAML::Flow << YAML::BeginSeq;
  for (double x : v) out << double_text(x);
  out << YAML::EndSeq;
}

std::vector<std::string> split_key(const std::string& dotted) {
  std::vector<std::string> parts = split(dotted, '.');
  for (const auto& p : parts) {
    if (p.empty()) ZRL_FAIL("--set '{}': empty component in the key path", dotted);
  }
  return parts;
}

namespace {
// Walks yaml-cpp's event stream (aliases stay single events, so no expansion) and throws at the second
// occurrence of a key in one mapping: yaml-cpp keeps both and its lookups silently return the first.
class UniqueKeys : public YAML::EventHandler {
 public:
  explicit UniqueKeys(std::string source) : source_(std::move(source)) {}
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, "~", false); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, "*alias", false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string& value) override {
    node(mark, value, true);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    frames_.push_back({false, true, node(mark, "[...]", false), {}, ""});
  }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    frames_.push_back({true, true, node(mark, "{...}", false), {}, ""});
  }
  void OnSequenceEnd() override { frames_.pop_back(); }
  void OnMapEnd() override { frames_.pop_back(); }

 private:
  struct Frame {
    bool map, expect_key;
    std::string path;                 // dotted path of this container, for messages
    std::map<std::string, int> keys;  // key -> 1-based line of its first occurrence
    std::string key;                  // the current entry's key
  };
  // Accounts one node in the enclosing container; returns the path a container started here would have.
  std::string node(const YAML::Mark& mark, const std::string& text, bool scalar) {
    if (frames_.empty()) return "";
    Frame& f = frames_.back();
    if (!f.map) return f.path + "[]";
    if (!f.expect_key) {
      f.expect_key = true;
      return f.path.empty() ? f.key : f.path + "." + f.key;
    }
    f.expect_key = false;
    f.key = text;
    if (scalar) {
      const auto [it, fresh] = f.keys.emplace(text, mark.line + 1);
      const std::string full = f.path.empty() ? text : f.path + "." + text;
      if (!fresh)
        ZRL_FAIL("{}:{}: duplicate key '{}' (first at line {}); only one would be read: remove the other",
                 source_, mark.line + 1, full, it->second);
    }
    return f.path + "{key}";
  }
  std::string source_;
  std::vector<Frame> frames_;
};
}  // namespace

void check_unique_keys(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  UniqueKeys handler(source);
  parser.HandleNextDocument(handler);
}

std::string read_config_text(const std::string& path) {
  ZRL_CHECK(std::filesystem::exists(path), "config file '{}' does not exist", path);
  return read_file(path);
}

std::string resolve_relative(const std::string& including_file, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(including_file).parent_path() / p).lexically_normal().string();
}

ConfigSource read_base_file(const std::string& including, const std::string& base) {
  const std::string path = resolve_relative(including, base);
  return {read_config_text(path), path};
}

}  // namespace zerorl::config

namespace zerorl::config {

std::string markdown_reference(const std::vector<DocRow>& rows, const std::string& title) {
  std::string out = "# " + title + "\n\n";
  out +=
      "Generated from the declarations in `core/run_config.h`; do not edit by hand. Regenerate with\n"
      "`ZERORL_UPDATE_DOCS=1 build/tests/core/test_core --gtest_filter='ConfigDocs.*'` (the test fails when\n"
      "this file is stale). Any key can be overridden on the command line: `--set optim.lr=2e-6`.\n"
      "A config may start with `base: other.yaml` to load another file first and override it.\n";
  for (const auto& row : rows) {
    if (row.type == "section") {
      out += fmt::format("\n## `{}`\n\n{}\n\n| key | type | default | meaning |\n|---|---|---|---|\n",
                         row.key, row.help);
      continue;
    }
    std::string def = row.default_value;
    if (def.empty()) def = " ";
    out += fmt::format("| `{}` | {} | `{}` | {} |\n", row.key, row.type, def, row.help);
  }
  return out;
}

}  // namespace zerorl::config
