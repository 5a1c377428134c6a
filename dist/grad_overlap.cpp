// dist/grad_overlap.cpp: hook-driven fp32 gradient buckets (see grad_overlap.h).
// Not here: the collectives (communicator.h).
#include "dist/grad_overlap.h"

#include <mutex>

#include "core/error.h"

namespace zerorl::dist {

struct OverlappedGradSync::State {
  struct Bucket {
    std::vector<size_t> members;  // parameter indices, in the order they sit in flat
    std::vector<int64_t> offsets;
    torch::Tensor flat;
    std::vector<bool> packed, has_grad;  // has_grad: a gradient (new or accumulated) to write back
    size_t pending = 0;
    std::unique_ptr<Work> work;
  };
  Communicator* comm = nullptr;
  std::vector<torch::Tensor> params, accum;
  std::vector<Bucket> buckets;
  std::vector<std::pair<size_t, size_t>> where;  // parameter -> (bucket, member)
  std::mutex mu;  // autograd may run hooks of one backward on more than one thread (one per device)
  bool armed = false, alive = true;
  size_t next_launch = 0;
  int64_t started_by_hooks = 0;

  void pack(size_t i, const torch::Tensor& grad) {
    const auto [b, m] = where[i];
    Bucket& bk = buckets[b];
    auto slot = bk.flat.narrow(0, bk.offsets[m], params[i].numel());
    const auto& before = accum[i].grad();
    if (before.defined()) {
      slot.copy_(before.reshape({-1}));
      slot.add_(grad.reshape({-1}));
    } else {
      slot.copy_(grad.reshape({-1}));
    }
    bk.packed[m] = true;
    bk.has_grad[m] = true;
    --bk.pending;
  }
  void launch_ready() {  // in bucket order only
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      auto& bk = buckets[next_launch++];
      bk.work = comm->all_reduce_async(bk.flat, ReduceOp::kSum);
    }
  }
  void reset() {
    for (auto& bk : buckets) {
      bk.packed.assign(bk.members.size(), false);
      bk.has_grad.assign(bk.members.size(), false);
      bk.pending = bk.members.size();
      bk.work.reset();
    }
    next_launch = 0, started_by_hooks = 0;
    armed = true;
  }
  void on_grad(size_t i, const torch::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mu);
    if (!alive || !armed) return;
    const auto [b, m] = where[i];
    if (buckets[b].packed[m]) return;  // once per backward (a leaf's hook sees its summed gradient)
    torch::NoGradGuard ng;
    pack(i, grad);
    const size_t before = next_launch;
    launch_ready();
    started_by_hooks += static_cast<int64_t>(next_launch - before);
  }
};

OverlappedGradSync::OverlappedGradSync(Communicator& comm, std::vector<torch::Tensor> params,
                                       std::vector<torch::Tensor> accum, int64_t bucket_bytes)
    : state_(std::make_shared<State>()) {
  ZRL_CHECK(params.size() == accum.size(), "OverlappedGradSync: {} parameters, {} accumulators",
            params.size(), accum.size());
  ZRL_CHECK(bucket_bytes > 0, "dist.bucket_mb must be > 0");
  State& s = *state_;
  s.comm = &comm, s.params = std::move(params), s.accum = std::move(accum);
  s.where.resize(s.params.size());
  int64_t bytes = 0;
  for (size_t k = s.params.size(); k-- > 0;) {  // reverse order: backward reaches the last layers first
    const int64_t b = s.params[k].numel() * 4;
    if (s.buckets.empty() || (!s.buckets.back().members.empty() && bytes + b > bucket_bytes)) {
      s.buckets.emplace_back();
      bytes = 0;
    }
    auto& bk = s.buckets.back();
    s.where[k] = {s.buckets.size() - 1, bk.members.size()};
    bk.offsets.push_back(bk.members.empty() ? 0 : bk.offsets.back() + s.params[bk.members.back()].numel());
    bk.members.push_back(k);
    bytes += b;
  }
  for (auto& bk : s.buckets) {
    const int64_t n = bk.offsets.back() + s.params[bk.members.back()].numel();
    bk.flat = torch::zeros({n}, torch::TensorOptions().dtype(torch::kFloat32).device(comm.device()));
    bk.packed.assign(bk.members.size(), false);
  }
  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < s.params.size(); ++i) {
    if (!s.params[i].requires_grad()) continue;
    s.params[i].register_hook([weak, i](const torch::Tensor& grad) {
      if (auto st = weak.lock()) st->on_grad(i, grad);
    });
  }
}

OverlappedGradSync::~OverlappedGradSync() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->alive = false;
}

int64_t OverlappedGradSync::buckets() const { return static_cast<int64_t>(state_->buckets.size()); }

int64_t OverlappedGradSync::started_in_backward() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->started_by_hooks;
}

void OverlappedGradSync::arm() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->reset();
}

void OverlappedGradSync::finish() {
  std::lock_guard<std::mutex> lock(state_->mu);
  State& s = *state_;
  if (!s.armed) s.reset();  // no micro-batch armed it: everything is packed below
  torch::NoGradGuard ng;
  for (auto& bk : s.buckets) {  // parameters whose hook did not fire: their accumulated grad, or zeros
    for (size_t m = 0; m < bk.members.size(); ++m) {
      if (bk.packed[m]) continue;
      const size_t i = bk.members[m];
      auto slot = bk.flat.narrow(0, bk.offsets[m], s.params[i].numel());
      const auto& before = s.accum[i].grad();
      if (before.defined()) {
        slot.copy_(before.reshape({-1}));
      } else {
        slot.zero_();
      }
      bk.has_grad[m] = before.defined();
      bk.packed[m] = true;
      --bk.pending;
    }
  }
  s.launch_ready();
  for (auto& bk : s.buckets) {
    bk.work->wait();
    for (size_t m = 0; m < bk.members.size(); ++m) {
      const size_t i = bk.members[m];
      if (!bk.has_grad[m]) continue;  // no gradient here (nor, by contract, on any rank): stays undefined
      auto sum = bk.flat.narrow(0, bk.offsets[m], s.params[i].numel()).view(s.params[i].sizes());
      auto& g = s.accum[i].mutable_grad();
      if (g.defined()) {
        g.copy_(sum);
      } else {
        g = sum.to(s.accum[i].scalar_type(), /*non_blocking=*/false, /*copy=*/true);
      }
    }
  }
  s.armed = false;
}

}  // namespace zerorl::dist
