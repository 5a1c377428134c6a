// dist/grad_sync.cpp: fp32 gradient buckets, agreement checks and weight checksums (see grad_sync.h).
// Not here: the backends.
#include "dist/grad_sync.h"

#include "core/crc32c.h"
#include "core/error.h"

namespace zerorl::dist {

namespace {
struct Bucket {
  std::vector<torch::Tensor> grads;
  torch::Tensor flat;
  std::unique_ptr<Work> work;
};

void launch(Communicator& comm, Bucket& b) {
  std::vector<torch::Tensor> flat;
  for (const auto& g : b.grads) flat.push_back(g.detach().reshape({-1}).to(torch::kFloat32));
  b.flat = torch::cat(flat);
  b.work = comm.all_reduce_async(b.flat, ReduceOp::kSum);
}

void land(Bucket& b) {
  b.work->wait();
  int64_t at = 0;
  for (auto& g : b.grads) {
    const int64_t n = g.numel();
    g.detach().copy_(b.flat.narrow(0, at, n).view(g.sizes()));
    at += n;
  }
}
}  // namespace

void all_reduce_buckets(Communicator& comm, const std::vector<torch::Tensor>& grads, int64_t bucket_bytes) {
  if (comm.backend() == "local") return;
  ZRL_CHECK(bucket_bytes > 0, "dist.bucket_mb must be > 0");
  std::vector<Bucket> buckets(1);
  int64_t bytes = 0;
  for (const auto& g : grads) {
    if (!g.defined()) continue;
    const int64_t b = g.numel() * 4;  // packed as fp32
    if (!buckets.back().grads.empty() && bytes + b > bucket_bytes) {
      launch(comm, buckets.back());
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().grads.push_back(g);
    bytes += b;
  }
  if (buckets.back().grads.empty()) buckets.pop_back();
  if (!buckets.empty() && !buckets.back().work) launch(comm, buckets.back());
  for (auto& b : buckets) land(b);
}

std::vector<int> ranks_differing(Communicator& comm, uint64_t value) {
  auto mine = torch::tensor({static_cast<int64_t>(value)}, torch::kInt64).to(comm.device());
  const auto all = comm.all_gather(mine).reshape({-1}).cpu();
  std::vector<int> out;
  for (int r = 1; r < comm.world_size(); ++r) {
    if (all[r].item<int64_t>() != all[0].item<int64_t>()) out.push_back(r);
  }
  return out;
}

std::optional<std::string> first_divergent_tensor(Communicator& comm, const std::vector<std::string>& names,
                                                  const std::vector<torch::Tensor>& tensors) {
  ZRL_CHECK(names.size() == tensors.size(), "{} names for {} tensors", names.size(), tensors.size());
  auto sums = torch::empty({static_cast<int64_t>(tensors.size())}, torch::kInt64);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto c = tensors[i].detach().to(torch::kCPU).contiguous();
    sums[static_cast<int64_t>(i)] = static_cast<int64_t>(crc32c(c.data_ptr(), c.nbytes()));
  }
  auto hi = sums.to(comm.device()), lo = (-sums).to(comm.device());
  comm.all_reduce(hi, ReduceOp::kMax);
  comm.all_reduce(lo, ReduceOp::kMax);
  const auto differ = (hi != -lo).cpu().nonzero();
  if (differ.numel() == 0) return std::nullopt;
  return names[static_cast<size_t>(differ[0][0].item<int64_t>())];
}

}  // namespace zerorl::dist
