// core/config.h: YAML -> typed structs. Each field is declared once (type, name, default, help, check)
// through ZRL_CONFIG_STRUCT; loading, validation, --set overrides, printing and docs all walk that one
// declaration. Not here: the run's schema itself (core/run_config.h).
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace zerorl::config {

using StringList = std::vector<std::string>;
using DoubleList = std::vector<double>;
using DoubleMap = std::map<std::string, double>;

// A check returns "" when the value is acceptable, else what is wrong ("must be > 0").
template <class T>
using Check = std::function<std::string(const T&)>;

namespace check {
inline auto any() {
  return [](const auto&) { return std::string(); };
}
std::function<std::string(const double&)> positive();
std::function<std::string(const double&)> non_negative();
std::function<std::string(const double&)> greater_than(double lo);  // strictly
std::function<std::string(const double&)> range(double lo, double hi);
std::function<std::string(const int64_t&)> at_least(int64_t lo);
std::function<std::string(const std::string&)> one_of(StringList choices);
}  // namespace check

// Declares a config struct: ZRL_CONFIG_STRUCT(OptimConfig, FIELDS) where
// #define FIELDS(F) F(double, lr, 1e-6, "peak learning rate", check::positive()) ...
#define ZRL_CONFIG_MEMBER_(type, name, def, help, chk) type name = def;
#define ZRL_CONFIG_VISIT_(type, name, def, help, chk) v.field(#name, name, help, chk);
#define ZRL_CONFIG_STRUCT(Struct, FIELDS) \
  struct Struct {                         \
    FIELDS(ZRL_CONFIG_MEMBER_)            \
    template <class V>                    \
    void visit(V& v) {                    \
      FIELDS(ZRL_CONFIG_VISIT_)           \
    }                                     \
  }

struct ProbeVisitor {
  template <class T, class C>
  void field(const char*, T&, const char*, const C&) {}
};
template <class T, class = void>
struct has_visit : std::false_type {};
template <class T>
struct has_visit<T, std::void_t<decltype(std::declval<T&>().visit(std::declval<ProbeVisitor&>()))>>
    : std::true_type {};

template <class T>
struct is_map : std::false_type {};
template <class V>
struct is_map<std::map<std::string, V>> : std::true_type {};

// Scalar and list conversions (config.cpp). `where` is "file:line: key 'a.b'" for messages.
template <class T>
T from_yaml(const YAML::Node& node, const std::string& where);
template <class T>
std::string type_name();
template <class T>
void emit_value(YAML::Emitter& out, const T& value);

// Where a node came from, for messages: "run.yaml:12".
std::string node_location(const std::string& source, const YAML::Node& node);
std::string closest_key(const std::string& key, const std::vector<std::string>& valid);
std::vector<std::string> split_key(const std::string& dotted);
std::string read_config_text(const std::string& path);
// Throws "SOURCE:LINE: duplicate key 'a.b' (first at line N)" when one mapping anywhere in the (first)
// YAML document of `text` has a key twice. Call after YAML::Load has accepted the text.
void check_unique_keys(const std::string& text, const std::string& source);
std::string resolve_relative(const std::string& including_file, const std::string& path);

// ---- visitors ---------------------------------------------------------------------------------

// Names of the fields of one struct (for unknown-key suggestions).
struct NameCollector {
  std::vector<std::string> names;
  template <class T, class C>
  void field(const char* name, T&, const char*, const C&) {
    names.push_back(name);
  }
};

template <class S>
std::vector<std::string> field_names(S& s) {
  NameCollector c;
  s.visit(c);
  return c.names;
}

void fail_unknown_key(const std::string& source, const YAML::Node& key_node, const std::string& prefix,
                      const std::string& key, const std::vector<std::string>& valid);

// Sets the fields present in a YAML map; absent fields keep their value (so base + override files merge).
struct Loader {
  std::string source;  // file name, or "<--set>" etc.
  std::string prefix;  // dotted path of the struct being loaded, "" at the root
  const YAML::Node* node;

  template <class S>
  void load_struct(S& s) {
    const std::string here = prefix.empty() ? "the top level" : "'" + prefix + "'";
    if (!node->IsMap()) {
      ZRL_FAIL("{}: {} must be a mapping of keys to values", node_location(source, *node), here);
    }
    const std::vector<std::string> valid = field_names(s);
    for (auto it = node->begin(); it != node->end(); ++it) {
      const std::string key = it->first.as<std::string>();
      bool known = false;
      for (const auto& v : valid) known = known || v == key;
      if (!known) fail_unknown_key(source, it->first, prefix, key, valid);
    }
    s.visit(*this);
  }

  template <class T, class C>
  void field(const char* name, T& value, const char*, const C&) {
    const YAML::Node child = (*node)[name];
    if (!child.IsDefined()) return;
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    load_value(child, path, value);
  }

  template <class T>
  void load_value(const YAML::Node& child, const std::string& path, T& value) {
    if constexpr (has_visit<T>::value) {
      Loader sub{source, path, &child};
      sub.load_struct(value);
    } else if constexpr (is_map<T>::value) {
      if (!child.IsMap()) ZRL_FAIL("{}: key '{}' must be a mapping", node_location(source, child), path);
      for (auto it = child.begin(); it != child.end(); ++it) {
        const std::string key = it->first.as<std::string>();
        load_value(it->second, path + "." + key, value[key]);
      }
    } else {
      value = from_yaml<T>(child, node_location(source, child) + ": key '" + path + "'");
    }
  }
};

// Runs every field's check; the first failure throws naming the key and the value.
struct Validator {
  std::string prefix;
  template <class T, class C>
  void field(const char* name, T& value, const char*, const C& chk) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if constexpr (has_visit<T>::value) {
      Validator sub{path};
      value.visit(sub);
    } else if constexpr (is_map<T>::value) {
      for (auto& [k, v] : value) validate_entry(path + "." + k, v);
    } else {
      const std::string problem = chk(value);
      if (!problem.empty()) {
        YAML::Emitter out;
        emit_value(out, value);
        ZRL_FAIL("config key '{}' = {}: {}", path, out.c_str(), problem);
      }
    }
  }
  template <class V>
  void validate_entry(const std::string& path, V& v) {
    if constexpr (has_visit<V>::value) {
      Validator sub{path};
      v.visit(sub);
    }
  }
};

// Emits the resolved config as YAML with each key's help as a comment.
struct Emitter {
  YAML::Emitter* out;
  bool comments = true;
  template <class T, class C>
  void field(const char* name, T& value, const char* help, const C&) {
    *out << YAML::Key << name << YAML::Value;
    emit(value);
    if (comments && help[0] != '\0') *out << YAML::Comment(help);
  }
  template <class T>
  void emit(T& value) {
    if constexpr (has_visit<T>::value) {
      *out << YAML::BeginMap;
      value.visit(*this);
      *out << YAML::EndMap;
    } else if constexpr (is_map<T>::value) {
      *out << YAML::BeginMap;
      for (auto& [k, v] : value) {
        *out << YAML::Key << k << YAML::Value;
        emit(v);
      }
      *out << YAML::EndMap;
    } else {
      emit_value(*out, value);
    }
  }
};

// Every dotted key with its type, default and help: the source of configs/README.md.
struct DocRow {
  std::string key, type, default_value, help;
};
struct Documenter {
  std::string prefix;
  std::vector<DocRow>* rows;
  template <class T, class C>
  void field(const char* name, T& value, const char* help, const C&) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if constexpr (has_visit<T>::value) {
      rows->push_back({path, "section", "", help});
      Documenter sub{path, rows};
      value.visit(sub);
    } else {
      YAML::Emitter out;
      out << YAML::Flow;
      if constexpr (is_map<T>::value) {
        out << YAML::BeginMap << YAML::EndMap;
        rows->push_back({path, "map", out.c_str(), help});
      } else {
        emit_value(out, value);
        rows->push_back({path, type_name<T>(), out.c_str(), help});
      }
    }
  }
};

// Applies "a.b.c=value" to the struct: value is parsed as YAML of the field's type.
struct Setter {
  std::vector<std::string> parts;  // remaining path components
  std::string full_key, raw_value, prefix;
  bool found = false;

  template <class S>
  void apply(S& s) {
    s.visit(*this);
    if (!found) fail_unknown_set(s);
  }
  template <class S>
  void fail_unknown_set(S& s);

  template <class T, class C>
  void field(const char* name, T& value, const char*, const C&) {
    if (found || parts.empty() || parts.front() != name) return;
    found = true;
    set_value(value, std::vector<std::string>(parts.begin() + 1, parts.end()),
              prefix.empty() ? name : prefix + "." + name);
  }

  template <class T>
  void set_value(T& value, const std::vector<std::string>& rest, const std::string& path) {
    if constexpr (has_visit<T>::value) {
      if (rest.empty()) ZRL_FAIL("--set {}: '{}' is a section; set one of its keys", full_key, path);
      Setter sub{rest, full_key, raw_value, path};
      sub.apply(value);
    } else if constexpr (is_map<T>::value) {
      if (rest.empty()) ZRL_FAIL("--set {}: '{}' is a map; set one of its entries", full_key, path);
      std::vector<std::string> tail(rest.begin() + 1, rest.end());
      set_value(value[rest.front()], tail, path + "." + rest.front());
    } else {
      if (!rest.empty()) ZRL_FAIL("--set {}: '{}' has no key '{}'", full_key, path, rest.front());
      YAML::Node node;
      try {
        node = YAML::Load(raw_value);
      } catch (const YAML::Exception& e) {
        ZRL_FAIL("--set {}={}: value '{}' is not valid YAML: {}", full_key, raw_value, raw_value, e.msg);
      }
      value = from_yaml<T>(node, "--set " + full_key + "=" + raw_value + ": key '" + path + "'");
    }
  }
};

template <class S>
void Setter::fail_unknown_set(S& s) {
  const std::vector<std::string> valid = field_names(s);
  const std::string key = parts.empty() ? "" : parts.front();
  std::string bad = prefix.empty() ? key : prefix + "." + key;
  std::string hint;
  const std::string close = closest_key(key, valid);
  if (!close.empty()) hint = "; did you mean '" + (prefix.empty() ? close : prefix + "." + close) + "'?";
  ZRL_FAIL("--set {}: unknown key '{}'{}", full_key, bad, hint);
}

// ---- entry points -----------------------------------------------------------------------------

// A config's text and the name messages give it (a path, or "<embedded>/configs/NAME").
struct ConfigSource {
  std::string text, name;
};
// Where `base: FILE` inside the config named `including` comes from. The default reads FILE relative to the
// including file; the CLI resolves an embedded config's base among the embedded ones (apps/cmd_train.cpp).
using BaseReader = std::function<ConfigSource(const std::string& including, const std::string& base)>;
ConfigSource read_base_file(const std::string& including, const std::string& base);

// Loads YAML text into `root` (keys absent keep their current values). A top-level `base: FILE` (found by
// `read_base`) is loaded first, so override files stay small. A key given twice in one mapping is an error.
template <class Root>
void load_yaml_text(Root& root, const std::string& text, const std::string& source, int depth = 0,
                    const BaseReader& read_base = read_base_file);

template <class Root>
void load_yaml_file(Root& root, const std::string& path, int depth = 0);

// "a.b=value" overrides, applied in order.
template <class Root>
void apply_overrides(Root& root, const std::vector<std::string>& overrides) {
  for (const auto& item : overrides) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      ZRL_FAIL("--set '{}': expected key.path=value (e.g. --set optim.lr=1e-6)", item);
    }
    const std::string key = item.substr(0, eq);
    Setter setter{split_key(key), key, item.substr(eq + 1), ""};
    setter.apply(root);
  }
}

template <class Root>
void validate(Root& root) {
  Validator v{""};
  root.visit(v);
}

template <class Root>
std::string to_yaml(Root& root, bool comments = true) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  Emitter e{&out, comments};
  root.visit(e);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

template <class Root>
std::vector<DocRow> document(Root& root) {
  std::vector<DocRow> rows;
  Documenter d{"", &rows};
  root.visit(d);
  return rows;
}

template <class Root>
void load_yaml_text(Root& root, const std::string& text, const std::string& source, int depth,
                    const BaseReader& read_base) {
  ZRL_CHECK(depth < 8, "config '{}': 'base:' chain deeper than 8 (a cycle?)", source);
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    ZRL_FAIL("{}:{}: invalid YAML: {}", source, e.mark.line + 1, e.msg);
  }
  check_unique_keys(text, source);
  if (doc.IsNull()) return;  // an empty file changes nothing
  if (doc.IsMap() && doc["base"]) {
    const YAML::Node base = doc["base"];
    const ConfigSource b =
        read_base(source, from_yaml<std::string>(base, node_location(source, base) + ": key 'base'"));
    load_yaml_text(root, b.text, b.name, depth + 1, read_base);
    doc.remove("base");
  }
  Loader loader{source, "", &doc};
  loader.load_struct(root);
}

template <class Root>
void load_yaml_file(Root& root, const std::string& path, int depth) {
  load_yaml_text(root, read_config_text(path), path, depth);
}

}  // namespace zerorl::config

namespace zerorl::config {
// Markdown reference of every key (configs/README.md is this text; a test keeps it in sync).
std::string markdown_reference(const std::vector<DocRow>& rows, const std::string& title);
}  // namespace zerorl::config
