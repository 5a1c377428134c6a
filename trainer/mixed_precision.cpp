// trainer/mixed_precision.cpp: MasterWeights (see the header for the recipe and its source).
// Not here: when the trainer calls these (trainer/update.cpp, trainer/step.cpp).
#include "trainer/mixed_precision.h"

#include "core/error.h"

namespace zerorl::trainer {

MasterWeights::MasterWeights(model::CausalLM compute, torch::Dtype master_dtype)
    : compute_(compute), master_(compute->config(), master_dtype, compute->device()) {
  compute_params_ = compute_->parameters();
  master_params_ = master_->parameters();
  ZRL_CHECK(compute_params_.size() == master_params_.size(), "MasterWeights: {} vs {} parameters",
            compute_params_.size(), master_params_.size());
  pull();
}

void MasterWeights::accumulate_grads() {
  torch::NoGradGuard ng;
  for (size_t i = 0; i < compute_params_.size(); ++i) {
    auto& g = compute_params_[i].mutable_grad();
    if (!g.defined()) continue;
    auto& mg = master_params_[i].mutable_grad();
    if (mg.defined()) {
      mg.add_(g.to(mg.scalar_type()));
    } else {
      mg = g.to(master_params_[i].scalar_type());
    }
    g.reset();  // set to none: the next backward writes a fresh grad instead of accumulating in bf16
  }
}

void MasterWeights::push() {
  torch::NoGradGuard ng;
  for (size_t i = 0; i < compute_params_.size(); ++i) compute_params_[i].copy_(master_params_[i]);
}

void MasterWeights::pull() {
  torch::NoGradGuard ng;
  for (size_t i = 0; i < compute_params_.size(); ++i) master_params_[i].copy_(compute_params_[i]);
}

}  // namespace zerorl::trainer
