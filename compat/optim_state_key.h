// compat/optim_state_key.h: the one LibTorch version difference in how torch::optim keys its per-parameter
// state (1.x: std::string, 2.x: a pointer). Kept apart from torch_compat.h, which nearly every file includes.
#pragma once

#include <torch/torch.h>

#include <sstream>
#include <string>
#include <type_traits>

namespace zerorl::compat {

// The key of a parameter's entry in torch::optim::Optimizer::state(): its TensorImpl address, printed
// (LibTorch 1.x) or as the pointer (2.x), the way torch::optim keys it itself. Dependent on Opt so that only
// the matching branch is compiled.
template <class Opt>
auto optimizer_state_key(const Opt& opt, const torch::Tensor& p) {
  using Key = typename std::decay_t<decltype(opt.state())>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;
    os << p.unsafeGetTensorImpl();
    return os.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

}  // namespace zerorl::compat
