// verifiers/external/plugin.h: a Verifier backed by a C++ (or C) plugin loaded with dlopen through the
// plain-C ABI of include/zerorl/verifier_plugin.h. Not here: the ABI itself, config parsing (from_config.h).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "verifiers/verifier.h"
#include "zerorl/verifier_plugin.h"

namespace zerorl::verifiers::external {

class PluginVerifier : public Verifier {
 public:
  // Loads `path` (a path with '/' is used as is, a bare file name is searched like dlopen does), looks
  // up `symbol`, checks the ABI version and table size, then calls create(options). Throws a message
  // naming the verifier, the path and the fault (missing file, dlopen error, missing symbol, ABI
  // version, create() error) so a bad plugin stops the run at start-up.
  PluginVerifier(std::string name, const std::string& path, const std::string& symbol, const Json& options);
  ~PluginVerifier() override;
  PluginVerifier(const PluginVerifier&) = delete;
  PluginVerifier& operator=(const PluginVerifier&) = delete;

  std::string name() const override { return name_; }
  // Status "error" when the plugin's verify() returns nonzero or its info_json is not a JSON object.
  Verdict verify(const Sample& sample) const override;
  std::string plugin_name() const { return table_->name != nullptr ? table_->name : ""; }

 private:
  std::string name_;
  void* library_ = nullptr;
  const ZrlVerifierPlugin* table_ = nullptr;
  void* handle_ = nullptr;
  bool serialize_ = true;  // the plugin did not declare ZRL_PLUGIN_THREAD_SAFE
  mutable std::mutex mutex_;
};

}  // namespace zerorl::verifiers::external
