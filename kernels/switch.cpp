// kernels/switch.cpp: the kernels' on/off switches (kernels/switch.h).
#include "kernels/switch.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "core/error.h"

namespace zerorl::kernels {
namespace {

// ZERORL_KERNELS=0 in the environment starts with the kernels off (the twins' path) without a rebuild.
bool enabled_from_environment() {
  const char* v = std::getenv("ZERORL_KERNELS");
  return v == nullptr || std::string(v) != "0";
}

std::atomic<bool> g_enabled{enabled_from_environment()};

struct OffList {
  std::mutex mutex;
  bool read_environment = false;
  std::set<std::string> names;
};

OffList& off_list() {
  static OffList list;
  return list;
}

}  // namespace

bool compiled() {
#ifdef ZERORL_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

void set_enabled(bool on) { g_enabled = on; }

bool enabled() { return compiled() && g_enabled.load(); }

const std::set<std::string>& kernel_names() {
  static const std::set<std::string> names{"rms_norm",         "rope",          "swiglu",
                                           "token_logprobs",   "attention",     "sample",
                                           "tuned_gemm",       "stacked_gemm",  "attention_backward",
                                           "gemm_accumulate",  "fused_lm_head", "stacked_mlp_backward",
                                           "split_weight_grad"};
  return names;
}

std::set<std::string> parse_kernel_list(const std::string& list) {
  std::set<std::string> out;
  std::string name;
  for (size_t i = 0; i <= list.size(); ++i) {
    if (i < list.size() && list[i] != ',') {
      if (list[i] != ' ') name += list[i];
      continue;
    }
    if (name.empty()) continue;
    if (kernel_names().count(name) == 0) {
      std::string known;
      for (const auto& k : kernel_names()) known += (known.empty() ? "" : ", ") + k;
      ZRL_FAIL("ZERORL_KERNELS_OFF: unknown kernel '{}' (known: {})", name, known);
    }
    out.insert(name);
    name.clear();
  }
  return out;
}

void set_disabled(const std::set<std::string>& names) {
  for (const auto& n : names) parse_kernel_list(n);  // the same check of each name
  auto& list = off_list();
  std::lock_guard<std::mutex> lock(list.mutex);
  list.read_environment = true;  // an explicit list replaces the environment's
  list.names = names;
}

bool enabled(std::string_view name) {
  if (!enabled()) return false;
  auto& list = off_list();
  std::lock_guard<std::mutex> lock(list.mutex);
  if (!list.read_environment) {
    const char* v = std::getenv("ZERORL_KERNELS_OFF");
    list.names = parse_kernel_list(v == nullptr ? "" : v);
    list.read_environment = true;
  }
  return list.names.count(std::string(name)) == 0;
}

}  // namespace zerorl::kernels
