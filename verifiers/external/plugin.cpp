// verifiers/external/plugin.cpp: dlopen, ABI checks and calls into a verifier plugin. Not here: the ABI
// header (include/zerorl/verifier_plugin.h).
#include "verifiers/external/plugin.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/json_io.h"

namespace zerorl::verifiers::external {
namespace {
std::string take_string(const ZrlVerifierPlugin* t, char* s) {
  if (s == nullptr) return "";
  std::string out(s);
  if (t->free_string != nullptr) t->free_string(s);
  return out;
}
}  // namespace

PluginVerifier::PluginVerifier(std::string name, const std::string& path, const std::string& symbol,
                               const Json& options)
    : name_(std::move(name)) {
  const std::string where =
      fmt::format("plugin verifier '{}' (verifiers.plugins.{}.path = '{}')", name_, name_, path);
  ZRL_CHECK(!path.empty(), "{}: path is empty; give the plugin's .so file", where);
  struct stat st {};
  if (path.find('/') != std::string::npos && ::stat(path.c_str(), &st) != 0) {
    ZRL_FAIL("{}: no such file (a relative path is relative to the working directory)", where);
  }
  dlerror();
  library_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library_ == nullptr) {
    const char* e = dlerror();
    ZRL_FAIL("{}: cannot load: {}", where, e != nullptr ? e : "unknown dlopen error");
  }
  try {
    dlerror();
    void* entry = dlsym(library_, symbol.c_str());
    if (entry == nullptr) {
      ZRL_FAIL(
          "{}: the library exports no symbol '{}' (declare it extern \"C\" ZRL_PLUGIN_EXPORT, see "
          "zerorl/verifier_plugin.h, or set verifiers.plugins.{}.symbol)",
          where, symbol, name_);
    }
    table_ = reinterpret_cast<ZrlVerifierPluginEntry>(entry)();
    ZRL_CHECK(table_ != nullptr, "{}: {}() returned NULL", where, symbol);
    if (table_->abi_version != ZRL_VERIFIER_PLUGIN_ABI_VERSION) {
      ZRL_FAIL(
          "{}: plugin ABI version {} but this zerorl speaks version {}; rebuild the plugin against "
          "this zerorl's zerorl/verifier_plugin.h",
          where, table_->abi_version, ZRL_VERIFIER_PLUGIN_ABI_VERSION);
    }
    ZRL_CHECK(table_->struct_size >= sizeof(ZrlVerifierPlugin),
              "{}: plugin table is {} bytes, ABI version {} needs {}", where, table_->struct_size,
              ZRL_VERIFIER_PLUGIN_ABI_VERSION, sizeof(ZrlVerifierPlugin));
    ZRL_CHECK(table_->create != nullptr && table_->destroy != nullptr && table_->verify != nullptr,
              "{}: the plugin table lacks create, destroy or verify", where);
    serialize_ = (table_->flags & ZRL_PLUGIN_THREAD_SAFE) == 0;
    char* error = nullptr;
    const std::string opts = options.is_null() ? "{}" : options.dump();
    handle_ = table_->create(opts.c_str(), &error);
    const std::string message = take_string(table_, error);
    ZRL_CHECK(handle_ != nullptr, "{}: create() refused options {}: {}", where, opts,
              message.empty() ? "(no message)" : message);
  } catch (...) {
    dlclose(library_);
    throw;
  }
}

PluginVerifier::~PluginVerifier() {
  if (handle_ != nullptr) table_->destroy(handle_);
  if (library_ != nullptr) dlclose(library_);
}

Verdict PluginVerifier::verify(const Sample& sample) const {
  Verdict v;
  ZrlVerifierResult r{};
  int32_t rc = 0;
  const std::string extra =
      sample.extra.is_null() ? "{}" : sample.extra.dump(-1, ' ', false, Json::error_handler_t::replace);
  try {
    std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
    if (serialize_) lock.lock();
    rc = table_->verify(handle_, sample.prompt.c_str(), sample.gold.c_str(), sample.response.c_str(),
                        extra.c_str(), &r);
  } catch (const std::exception& e) {
    v.status = "error";
    v.reason = fmt::format("plugin '{}' threw: {}", name_, e.what());
    return v;
  }
  const std::string info_text = take_string(table_, r.info_json);
  Json info = info_text.empty() ? Json::object() : parse_json_or_discarded(info_text);
  if (info.is_discarded() || !info.is_object()) {
    v.status = "error";
    v.reason =
        fmt::format("plugin '{}': info_json is not a JSON object: {}", name_, info_text.substr(0, 200));
    return v;
  }
  auto pop = [&](const char* key, std::string& dst) {
    auto it = info.find(key);
    if (it != info.end() && it->is_string()) {
      dst = it->get<std::string>();
      info.erase(it);
    }
  };
  if (rc != 0) {
    v.status = "error";
    v.reason = fmt::format("plugin '{}': verify() returned {}", name_, rc);
  } else {
    v.correct = r.correct != 0;
    v.reward = r.reward;
    v.status = v.correct ? "ok" : "wrong";
  }
  if (rc == 0) pop("status", v.status);
  pop("extracted", v.extracted);
  pop("reason", v.reason);
  v.info = std::move(info);
  return v;
}

}  // namespace zerorl::verifiers::external
