// tests/core/test_config_keys.cpp: every key declared in core/run_config.h (and the sections it includes) is
// read by some source of a layer. Not here: loading and validating keys (test_config.cpp).
//
// How: the declarations' own visitor lists the keys with the struct type that holds each one; a scan of the
// layers' sources (comments and string literals removed) then looks for a read of the member through a name
// known to hold that struct: `rollout.top_k` (the section's member name), or `x.top_k` where x is declared
// as a RolloutSection (`const RolloutSection& x`), bound as `auto& x = cfg.rollout;`, or bound in
// `for (auto& [name, x] : cfg.verifiers.plugins)`. An assignment (`x.top_k = 3`) is not a read. What this
// cannot see: a read through a name bound some other way (write it in one of the forms above), and a read
// through a reused alias name of a different type (a false "read", so unread keys may hide, never appear).
#include <cxxabi.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <type_traits>
#include <typeinfo>

#include "core/json_io.h"
#include "core/run_config.h"
#include "tests/test_paths.h"

namespace zerorl {
namespace {

namespace fs = std::filesystem;

// Keys declared but read nowhere on this branch, each with why it is allowed for now. An entry that the
// scan finds read fails the test below, so the list cannot go stale.
const std::map<std::string, std::string>& allowed_unread() {
  static const std::map<std::string, std::string> kAllowed = {};
  return kAllowed;
}

struct DeclaredKey {
  std::string key;       // "rollout.top_k", "verifiers.plugins.*.path"
  std::string member;    // "top_k"
  std::string holder;    // the struct type holding it: "RolloutSection"
  std::string reached;   // the member naming that struct in its parent ("rollout", "plugins")
  bool via_map = false;  // the holder is the value type of a map (reached by lookup or iteration)
};

template <class T>
std::string unqualified_type_name() {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(typeid(T).name(), nullptr, nullptr, &status),
                                           std::free);
  std::string name = status == 0 ? d.get() : typeid(T).name();
  const size_t colon = name.rfind("::");
  return colon == std::string::npos ? name : name.substr(colon + 2);
}

// A map whose values are config structs (verifiers.plugins: name -> PluginSection).
template <class T, class = void>
struct is_section_map : std::false_type {};
template <class T>
struct is_section_map<T, std::enable_if_t<config::is_map<T>::value>>
    : config::has_visit<typename T::mapped_type> {};

// Walks a ZRL_CONFIG_STRUCT the way config::Documenter does, but also into maps of sections (their value
// type's keys appear as "<map>.*.<key>").
struct KeyCollector {
  std::string prefix, holder, reached;
  bool via_map = false;
  std::vector<DeclaredKey>* out;

  template <class T, class C>
  void field(const char* name, T& value, const char*, const C&) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if constexpr (config::has_visit<T>::value) {
      KeyCollector sub{path, unqualified_type_name<T>(), name, false, out};
      value.visit(sub);
    } else if constexpr (is_section_map<T>::value) {
      typename T::mapped_type entry;
      KeyCollector sub{path + ".*", unqualified_type_name<typename T::mapped_type>(), name, true, out};
      entry.visit(sub);
    } else {
      out->push_back({path, name, holder, reached, via_map});
    }
  }
};

std::vector<DeclaredKey> declared_keys() {
  Config cfg;
  std::vector<DeclaredKey> keys;
  KeyCollector c{"", "Config", "", false, &keys};
  cfg.visit(c);
  return keys;
}

// The source without comments, and with every string or character literal emptied (an error message
// naming "rollout.top_k" is not a read).
std::string code_only(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 2, "//") == 0) {
      while (i < s.size() && s[i] != '\n') ++i;
      out += '\n';
    } else if (s.compare(i, 2, "/*") == 0) {
      const size_t end = s.find("*/", i + 2);
      i = end == std::string::npos ? s.size() : end + 1;
      out += ' ';
    } else if (s[i] == '"' || s[i] == '\'') {
      const char q = s[i];
      out += q;
      for (++i; i < s.size() && s[i] != q && s[i] != '\n'; ++i) i += s[i] == '\\' ? 1 : 0;
      out += q;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string join_alternatives(const std::set<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : "|") + n;
  return s;
}

// Names that hold `k.holder` in this code: the member reaching it, and aliases declared in the forms above.
std::set<std::string> holder_names(const std::string& code, const DeclaredKey& k) {
  std::set<std::string> names;
  if (!k.via_map) names.insert(k.reached);
  std::smatch m;
  const auto collect = [&](const std::string& pattern, const std::string& needle) {
    if (code.find(needle) == std::string::npos) return;
    const std::regex re(pattern);
    for (auto it = std::sregex_iterator(code.begin(), code.end(), re); it != std::sregex_iterator(); ++it) {
      names.insert((*it)[1].str());
    }
  };
  // const RolloutSection& r  /  RolloutSection r = ...  /  (const config::PluginSection& p)
  collect(R"(\b(?:\w+::)*)" + k.holder + R"(\s*(?:const\s*)?&{0,2}\s*(\w+)\s*[,)=;{])", k.holder);
  // const auto& r = cfg.rollout;  /  auto& p = cfg.verifiers.plugins[name];
  collect(R"(\bauto\s*&{0,2}\s*(\w+)\s*=\s*[\w.>\-]*\b)" + k.reached +
              R"((?:\s*\[[^\]]*\]|\s*\.\s*at\s*\([^)]*\))?\s*;)",
          k.reached);
  // for (const auto& [name, p] : cfg.verifiers.plugins)
  if (k.via_map)
    collect(R"(\[\s*\w+\s*,\s*(\w+)\s*\]\s*:\s*[\w.>\-]*\b)" + k.reached + R"(\s*\))", k.reached);
  return names;
}

// True when `code` reads k's member through a name holding its struct (an assignment is not a read).
bool reads_key(const std::string& code, const DeclaredKey& k) {
  if (code.find(k.member) == std::string::npos) return false;
  const std::set<std::string> names = holder_names(code, k);
  if (names.empty()) return false;
  const std::regex read(R"(\b(?:)" + join_alternatives(names) + R"()\s*(?:\.|->)\s*)" + k.member +
                        R"(\b(?!\s*=[^=]))");
  return std::regex_search(code, read);
}

// The layers of docs/design.md, without the schema itself (declaring a key is not reading it).
std::map<std::string, std::string> layer_sources() {
  static const std::set<std::string> kSchema = {"core/config.h",          "core/config.cpp",
                                                "core/run_config.h",      "core/run_config.cpp",
                                                "core/pretrain_config.h", "core/verifier_config.h"};
  std::map<std::string, std::string> code;
  const fs::path root = testing::source_dir();
  for (const char* layer :
       {"core", "tokenizer", "verifiers", "rewards", "model", "algo", "rollout", "dist", "trainer", "apps"}) {
    for (const auto& e : fs::recursive_directory_iterator(root / layer)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
      const std::string rel = fs::relative(e.path(), root).generic_string();
      if (kSchema.count(rel) == 0) code[rel] = code_only(read_file(e.path().string()));
    }
  }
  return code;
}

DeclaredKey key_named(const std::string& dotted) {
  for (const auto& k : declared_keys()) {
    if (k.key == dotted) return k;
  }
  ADD_FAILURE() << "no declared key " << dotted;
  return {};
}

// The scanner itself, on hand-written snippets: each form it accepts, and what it must not take for a read.
TEST(ConfigKeysRead, ScannerTellsReadsFromNonReads) {
  const DeclaredKey top_k = key_named("rollout.top_k"), path = key_named("verifiers.plugins.*.path");
  EXPECT_EQ(top_k.holder, "RolloutSection");
  EXPECT_EQ(path.holder, "PluginSection");
  const auto reads = [](const DeclaredKey& k, const std::string& src) {
    return reads_key(code_only(src), k);
  };
  EXPECT_TRUE(reads(top_k, "int k = cfg.rollout.top_k;"));
  EXPECT_TRUE(reads(top_k, "f(const RolloutSection& r) { return r.top_k > 0; }"));
  EXPECT_TRUE(reads(top_k, "const auto& r = config.rollout;\nif (r.top_k == 0) {}"));
  EXPECT_TRUE(reads(top_k, "void g(const zerorl::RolloutSection &s, int x) { use(s.top_k); }"));
  EXPECT_TRUE(reads(path, "for (const auto& [name, p] : cfg.verifiers.plugins) open(p.path);"));
  EXPECT_TRUE(reads(path, "f(const PluginSection& spec) { open(spec.path); }"));
  EXPECT_FALSE(reads(top_k, "cfg.rollout.top_k = 3;"));                       // a write
  EXPECT_FALSE(reads(top_k, "// cfg.rollout.top_k is read elsewhere\n"));     // a comment
  EXPECT_FALSE(reads(top_k, "fail(\"rollout.top_k must be >= 0\");"));        // a message
  EXPECT_FALSE(reads(top_k, "int k = sampler.top_k;"));                       // another struct's member
  EXPECT_FALSE(reads(top_k, "const auto& r = cfg.algo;\nint k = r.top_k;"));  // an alias of another section
  EXPECT_FALSE(reads(top_k, "int k = cfg.rollout.top_kk;"));                  // another name
  EXPECT_FALSE(reads(path, "open(cfg.model.path);"));                         // same member, other section
}

TEST(ConfigKeysRead, EveryDeclaredKeyIsReadSomewhere) {
  const std::vector<DeclaredKey> keys = declared_keys();
  ASSERT_GT(keys.size(), 100u) << "the key walk found too few keys";
  const auto sources = layer_sources();
  ASSERT_GT(sources.size(), 50u) << "no sources under " << testing::source_dir();
  std::set<std::string> seen_allowed;
  for (const auto& k : keys) {
    std::string where;
    for (const auto& [file, code] : sources) {
      if (reads_key(code, k)) {
        where = file;
        break;
      }
    }
    const auto allowed = allowed_unread().find(k.key);
    if (allowed != allowed_unread().end()) {
      seen_allowed.insert(k.key);
      EXPECT_TRUE(where.empty()) << "config key '" << k.key << "' is read (" << where
                                 << "): remove it from allowed_unread() in this file";
      continue;
    }
    EXPECT_FALSE(where.empty()) << "config key '" << k.key << "' (" << k.holder << "::" << k.member
                                << ") is declared but no layer reads it: use it, remove it, or read it as `"
                                << (k.via_map ? "x" : k.reached) << "." << k.member << "` / through a `const "
                                << k.holder << "&`";
  }
  for (const auto& [key, why] : allowed_unread()) {
    EXPECT_TRUE(seen_allowed.count(key)) << "allowed_unread() names '" << key << "', which is not declared";
  }
}

}  // namespace
}  // namespace zerorl
