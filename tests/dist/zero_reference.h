// tests/dist/zero_reference.h: the reference twin of dist::ShardedAdamW for its tests: LibTorch's own
// clip_grad_norm_ + torch::optim::AdamW over separate parameter tensors, and a fixed set of parameters and
// per-step gradients (several shapes, a total that no small world size divides). Not here: the tests.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <vector>

namespace zerorl::testing {

// Parameter shapes: 3*5 + 7 + 2*2*3 + 1 = 35 elements (odd: the last shard is padded at world size 2).
inline std::vector<torch::Tensor> zero_params() {
  torch::manual_seed(7);
  return {torch::randn({3, 5}), torch::randn({7}), torch::randn({2, 2, 3}), torch::randn({1})};
}

// The gradient of parameter i at step s, micro-batch m, from rank r: distinct values everywhere.
inline torch::Tensor zero_grad_of(const torch::Tensor& p, size_t i, int s, int m, int r) {
  const auto n = torch::arange(p.numel(), torch::kFloat32).view(p.sizes());
  return torch::sin(n * 0.37f + static_cast<float>(i) + 1.3f * s + 0.7f * m + 2.1f * r) * (0.5f + m);
}

struct RefOptions {
  double lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.1, max_norm = 1.0;
  int steps = 3, micro = 2, ranks = 1;
};

// LibTorch's step over `params` (cloned): per step, the gradient summed over micro-batches and ranks, the
// global-norm clip, AdamW. Returns the final parameters; `norms` gets clip_grad_norm_'s norm of each step.
inline std::vector<torch::Tensor> reference_adamw(const std::vector<torch::Tensor>& params,
                                                  const RefOptions& o, std::vector<double>& norms) {
  std::vector<torch::Tensor> ps;
  for (const auto& p : params) ps.push_back(p.clone().set_requires_grad(true));
  torch::optim::AdamWOptions ao(o.lr);
  ao.betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay);
  torch::optim::AdamW opt(ps, ao);
  for (int s = 0; s < o.steps; ++s) {
    opt.zero_grad();
    for (size_t i = 0; i < ps.size(); ++i) {
      auto g = torch::zeros_like(ps[i]);
      for (int r = 0; r < o.ranks; ++r)
        for (int m = 0; m < o.micro; ++m) g += zero_grad_of(ps[i], i, s, m, r);
      ps[i].mutable_grad() = g;
    }
    norms.push_back(torch::nn::utils::clip_grad_norm_(ps, o.max_norm));
    opt.step();
  }
  for (auto& p : ps) p = p.detach();
  return ps;
}

// ||a - b|| / ||a|| over all tensors.
inline double relative_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double d = 0, n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += (a[i].to(torch::kFloat64) - b[i].to(torch::kFloat64)).square().sum().item<double>();
    n += a[i].to(torch::kFloat64).square().sum().item<double>();
  }
  return std::sqrt(d / n);
}

}  // namespace zerorl::testing
