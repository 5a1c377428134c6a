// dist/zero_optimizer.cpp: the sharded AdamW of ZeRO-1 and its flat layout (see zero_optimizer.h).
// Not here: the collectives (communicator.h), checkpoint files (trainer/zero_state.cpp).
#include "dist/zero_optimizer.h"

#include <cmath>

#include "core/error.h"

namespace zerorl::dist {

ShardLayout shard_layout(int64_t numel, int world_size, int rank) {
  ZRL_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "shard_layout: rank {} of {}", rank,
            world_size);
  ZRL_CHECK(numel >= 0, "shard_layout: {} elements", numel);
  ShardLayout l;
  l.world_size = world_size, l.rank = rank, l.numel = numel;
  l.shard = (numel + world_size - 1) / world_size;
  l.padded = l.shard * world_size;
  return l;
}

torch::Tensor reshard(const std::vector<torch::Tensor>& old_shards, const ShardLayout& to) {
  ZRL_CHECK(!old_shards.empty(), "reshard: no shards");
  std::vector<torch::Tensor> flat;
  for (const auto& s : old_shards) flat.push_back(s.reshape({-1}));
  auto all = torch::cat(flat);
  ZRL_CHECK(all.numel() >= to.numel, "reshard: the {} shards hold {} elements, the parameters need {}",
            old_shards.size(), all.numel(), to.numel);
  auto out = torch::zeros({to.shard}, all.options());
  const int64_t begin = to.begin(), real = std::max<int64_t>(0, std::min(to.numel - begin, to.shard));
  if (real > 0) out.narrow(0, 0, real).copy_(all.narrow(0, begin, real));
  return out;
}

ShardedAdamW::ShardedAdamW(Communicator& comm, std::vector<torch::Tensor> params, AdamWHyper hyper)
    : comm_(comm), params_(std::move(params)), hyper_(hyper) {
  ZRL_CHECK(!params_.empty(), "ShardedAdamW: no parameters");
  int64_t numel = 0;
  for (const auto& p : params_) numel += p.numel();
  layout_ = shard_layout(numel, comm_.world_size(), comm_.rank());
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(params_.front().device());
  grad_ = torch::zeros({layout_.padded}, opts);
  master_ = torch::zeros({layout_.shard}, opts);
  exp_avg_ = torch::zeros({layout_.shard}, opts);
  exp_avg_sq_ = torch::zeros({layout_.shard}, opts);
  pull();
}

torch::Tensor ShardedAdamW::flat_of(const std::vector<torch::Tensor>& values) const {
  torch::NoGradGuard ng;
  ZRL_CHECK(values.size() == params_.size(), "ShardedAdamW: {} tensors for {} parameters", values.size(),
            params_.size());
  auto flat = torch::zeros({layout_.padded}, grad_.options());
  int64_t at = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t n = params_[i].numel();
    ZRL_CHECK(values[i].numel() == n, "ShardedAdamW: tensor {} has {} elements, its parameter {}", i,
              values[i].numel(), n);
    flat.narrow(0, at, n).copy_(values[i].detach().reshape({-1}));
    at += n;
  }
  return flat;
}

void ShardedAdamW::pull_from(const std::vector<torch::Tensor>& values) {
  torch::NoGradGuard ng;
  master_.copy_(flat_of(values).narrow(0, layout_.begin(), layout_.shard));
}

void ShardedAdamW::zero_grad() {
  grad_.zero_();
  for (auto& p : params_) p.mutable_grad().reset();
}

void ShardedAdamW::accumulate_grads() {
  torch::NoGradGuard ng;
  int64_t at = 0;
  for (auto& p : params_) {
    auto& g = p.mutable_grad();
    if (g.defined()) {
      grad_.narrow(0, at, p.numel()).add_(g.reshape({-1}));
      g.reset();  // the next backward writes a fresh grad instead of accumulating in the compute dtype
    }
    at += p.numel();
  }
}

double ShardedAdamW::step(double lr, double max_norm) {
  torch::NoGradGuard ng;
  auto g = comm_.reduce_scatter(grad_, ReduceOp::kSum);  // [shard]: this rank's slice of the sum
  auto sq = g.to(torch::kFloat64).square().sum().reshape({1});
  comm_.all_reduce(sq, ReduceOp::kSum);
  const double norm = std::sqrt(sq.item<double>());
  // clip_grad_norm_'s coefficient, in the same float32 tensor arithmetic.
  const auto total = torch::full({}, norm, g.options());
  g.mul_(torch::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0));
  // LibTorch's AdamW step (torch/csrc/api/src/optim/adamw.cpp), over the slice.
  if (hyper_.weight_decay != 0) master_.mul_(1 - lr * hyper_.weight_decay);
  ++steps_;
  const double bc1 = 1 - std::pow(hyper_.beta1, static_cast<double>(steps_));
  const double bc2 = 1 - std::pow(hyper_.beta2, static_cast<double>(steps_));
  exp_avg_.mul_(hyper_.beta1).add_(g, 1 - hyper_.beta1);
  exp_avg_sq_.mul_(hyper_.beta2).addcmul_(g, g, 1 - hyper_.beta2);
  const auto denom = (exp_avg_sq_.sqrt() / std::sqrt(bc2)).add_(hyper_.eps);
  master_.addcdiv_(exp_avg_, denom, -lr / bc1);
  push();
  return norm;
}

void ShardedAdamW::push() {
  torch::NoGradGuard ng;
  const auto flat = comm_.all_gather(master_).reshape({-1});  // [padded]: every rank's slice, in rank order
  int64_t at = 0;
  for (auto& p : params_) {
    p.detach().copy_(flat.narrow(0, at, p.numel()).view(p.sizes()));
    at += p.numel();
  }
}

void ShardedAdamW::load(const torch::Tensor& masters, const torch::Tensor& exp_avg,
                        const torch::Tensor& exp_avg_sq, int64_t steps) {
  torch::NoGradGuard ng;
  for (const auto* t : {&masters, &exp_avg, &exp_avg_sq}) {
    ZRL_CHECK(t->numel() == layout_.shard,
              "ZeRO-1 state of {} elements for a shard of {} (rank {} of {}, {} parameters)", t->numel(),
              layout_.shard, layout_.rank, layout_.world_size, layout_.numel);
  }
  master_.copy_(masters.reshape({-1}));
  exp_avg_.copy_(exp_avg.reshape({-1}));
  exp_avg_sq_.copy_(exp_avg_sq.reshape({-1}));
  steps_ = steps;
  push();
}

}  // namespace zerorl::dist
