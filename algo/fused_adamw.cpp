// algo/fused_adamw.cpp: FusedAdamW::step (algo/fused_adamw.h).
#include "algo/fused_adamw.h"

#include <torch/version.h>

#include <cmath>
#include <map>
#include <vector>

#include "compat/optim_state_key.h"

namespace zerorl::algo {

bool FusedAdamW::fused_on(const torch::Device& device) {
#if TORCH_VERSION_MAJOR >= 2
  return device.is_cuda();
#else
  (void)device;
  return false;
#endif
}

torch::Tensor FusedAdamW::step(LossClosure closure) {
  bool all_fused = true;
  for (const auto& group : param_groups())
    for (const auto& p : group.params()) all_fused = all_fused && fused_on(p.device());
  if (!all_fused) return torch::optim::AdamW::step(std::move(closure));
#if TORCH_VERSION_MAJOR >= 2
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    // One launch per (device, dtype, step count): the kernel needs one dtype and device per list, and
    // parameters restored from different checkpoints could in principle sit at different step counts.
    struct Lists {
      std::vector<torch::Tensor> p, g, m, v, vmax;
    };
    std::map<std::tuple<int, int, int64_t>, Lists> by_key;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      TORCH_CHECK(!p.grad().is_sparse(), "FusedAdamW does not support sparse gradients");
      const auto key = compat::optimizer_state_key(*this, p);
      auto it = state().find(key);
      if (it == state().end()) {  // as torch::optim::AdamW initialises it
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        if (o.amsgrad()) s->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state().emplace(key, std::move(s)).first;
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
      s.step(s.step() + 1);
      auto& l = by_key[{static_cast<int>(p.device().index()), static_cast<int>(p.scalar_type()), s.step()}];
      l.p.push_back(p), l.g.push_back(p.grad()), l.m.push_back(s.exp_avg()), l.v.push_back(s.exp_avg_sq());
      if (o.amsgrad()) l.vmax.push_back(s.max_exp_avg_sq());
    }
    for (auto& [key, l] : by_key) {
      // The kernel reads the step count from a float32 tensor per parameter (it never writes it), so one
      // tensor serves the whole list.
      const auto t = torch::full({}, static_cast<double>(std::get<2>(key)),
                                 torch::TensorOptions().dtype(torch::kFloat32).device(l.p.front().device()));
      const std::vector<torch::Tensor> steps(l.p.size(), t);
      at::_fused_adamw_(l.p, l.g, l.m, l.v, l.vmax, steps, o.lr(), std::get<0>(o.betas()),
                        std::get<1>(o.betas()), o.weight_decay(), o.eps(), o.amsgrad(), /*maximize=*/false);
    }
  }
  return loss;
#else
  return torch::optim::AdamW::step(std::move(closure));
#endif
}

}  // namespace zerorl::algo
