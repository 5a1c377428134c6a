// kernels/switch.cpp: the kernels' on/off switch (kernels/switch.h).
#include "kernels/switch.h"

#include <atomic>
#include <cstdlib>
#include <string>

namespace zerorl::kernels {
namespace {

// ZERORL_KERNELS=0 in the environment starts with the kernels off (the twins' path) without a rebuild.
bool enabled_from_environment() {
  const char* v = std::getenv("ZERORL_KERNELS");
  return v == nullptr || std::string(v) != "0";
}

std::atomic<bool> g_enabled{enabled_from_environment()};

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

}  // namespace zerorl::kernels
