// compat/torch_compat.h: the one place where LibTorch version differences live (Debian's 1.13 on CPU,
// pip's 2.x with CUDA on GPU), guarded by TORCH_VERSION_MAJOR. Not here: any model or algorithm code.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <string>

namespace zerorl::compat {

inline std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

// torch >= 2 has fused scaled_dot_product_attention (flash / memory-efficient kernels on CUDA).
constexpr bool kHasSdpa = TORCH_VERSION_MAJOR >= 2;

}  // namespace zerorl::compat
