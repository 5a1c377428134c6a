// tests/algo/test_fused_adamw.cpp: algo::FusedAdamW against a naive float64 loop over the AdamW formula
// (decoupled weight decay, bias-corrected moments), on the CPU (LibTorch's per-parameter loop) and on CUDA
// (the fused kernel; label gpu, skips without a device). Also: a parameter without a gradient is left alone,
// and the state survives torch::save / torch::load into a new optimizer, continuing bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include "algo/fused_adamw.h"

namespace zerorl::algo {
namespace {

struct Reference {  // float64 AdamW, one element at a time
  std::vector<double> p, m, v;
};

void reference_step(Reference& r, const std::vector<double>& g, int64_t t, double lr, double b1, double b2,
                    double eps, double wd) {
  for (size_t i = 0; i < r.p.size(); ++i) {
    r.p[i] *= 1 - lr * wd;
    r.m[i] = b1 * r.m[i] + (1 - b1) * g[i];
    r.v[i] = b2 * r.v[i] + (1 - b2) * g[i] * g[i];
    const double denom = std::sqrt(r.v[i]) / std::sqrt(1 - std::pow(b2, t)) + eps;
    r.p[i] -= lr / (1 - std::pow(b1, t)) * r.m[i] / denom;
  }
}

std::vector<double> values(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous().flatten();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

torch::optim::AdamWOptions options() {
  torch::optim::AdamWOptions o(1e-2);
  o.betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1);
  return o;
}

void check_against_reference(const torch::Device& device) {
  torch::manual_seed(3);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  std::vector<torch::Tensor> params{torch::randn({37, 5}, opts).requires_grad_(),
                                    torch::randn({1000}, opts).requires_grad_(),
                                    torch::randn({3}, opts).requires_grad_()};
  const auto untouched = params[2].detach().clone();
  FusedAdamW opt(params, options());
  std::vector<Reference> ref;
  for (size_t i = 0; i < 2; ++i) {
    const auto p = values(params[i]);
    ref.push_back({p, std::vector<double>(p.size(), 0.0), std::vector<double>(p.size(), 0.0)});
  }
  for (int64_t t = 1; t <= 5; ++t) {
    for (size_t i = 0; i < 2; ++i) {
      params[i].mutable_grad() = torch::randn_like(params[i]) * (1.0 + static_cast<double>(t));
      reference_step(ref[i], values(params[i].grad()), t, 1e-2, 0.9, 0.95, 1e-8, 0.1);
    }
    opt.step();
  }
  for (size_t i = 0; i < 2; ++i) {
    const auto got = values(params[i]);
    double scale = 0, worst = 0;
    for (size_t k = 0; k < got.size(); ++k) {
      scale = std::max(scale, std::abs(ref[i].p[k]));
      worst = std::max(worst, std::abs(got[k] - ref[i].p[k]));
    }
    // float32 arithmetic against float64: a few float32 ulps of the largest weight.
    EXPECT_LE(worst, 1e-5 * scale) << "param " << i << " on " << device;
  }
  EXPECT_TRUE(torch::equal(params[2].detach(), untouched)) << "a parameter without a gradient moved";
}

TEST(FusedAdamW, MatchesTheFormulaOnTheCpu) { check_against_reference(torch::kCPU); }

TEST(FusedAdamWGpu, MatchesTheFormulaWithTheFusedKernel) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ASSERT_TRUE(FusedAdamW::fused_on(torch::Device(torch::kCUDA, 0)))
      << "this torch has no fused AdamW on CUDA";
  check_against_reference(torch::Device(torch::kCUDA, 0));
}

// Two steps, save, load into a fresh optimizer over copies of the parameters, two more steps on both: the
// same bits (what --resume relies on).
void check_resume(const torch::Device& device) {
  torch::manual_seed(5);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  auto a = torch::randn({64, 16}, opts).requires_grad_();
  FusedAdamW opt_a({a}, options());
  const auto grads = torch::randn({4, 64, 16}, opts);
  for (int t = 0; t < 2; ++t) a.mutable_grad() = grads[t].clone(), opt_a.step();
  std::stringstream archive;
  torch::save(opt_a, archive);
  auto b = a.detach().clone().requires_grad_();
  FusedAdamW opt_b({b}, options());
  torch::load(opt_b, archive, device);
  for (int t = 2; t < 4; ++t) {
    a.mutable_grad() = grads[t].clone(), opt_a.step();
    b.mutable_grad() = grads[t].clone(), opt_b.step();
  }
  EXPECT_TRUE(torch::equal(a.detach(), b.detach())) << "resumed optimizer diverged on " << device;
}

TEST(FusedAdamW, ResumesBitForBitOnTheCpu) { check_resume(torch::kCPU); }

TEST(FusedAdamWGpu, ResumesBitForBitWithTheFusedKernel) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  check_resume(torch::Device(torch::kCUDA, 0));
}

}  // namespace
}  // namespace zerorl::algo
