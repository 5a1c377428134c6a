// model/packed_attention.cpp: model/packed_attention.h.
#include "model/packed_attention.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/attention.h"

namespace zerorl::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y = x[index] along dim 0, where every row of x that `index` reads for a real entry is read once: backward
// is dx = dy[inverse] on the rows marked `valid` and 0 elsewhere. The entries that repeat a row (index 0
// past a segment's end, padding) carry exactly zero gradient (attend_segments), so this is the gradient.
class GatherRows : public torch::autograd::Function<GatherRows> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& index,
                               const torch::Tensor& inverse, const torch::Tensor& valid) {
    ctx->saved_data["inverse"] = inverse, ctx->saved_data["valid"] = valid;
    return x.index_select(0, index);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto inverse = ctx->saved_data["inverse"].toTensor(), valid = ctx->saved_data["valid"].toTensor();
    auto dx = grads[0].index_select(0, inverse);
    std::vector<int64_t> shape(static_cast<size_t>(dx.dim()), 1);
    shape[0] = dx.size(0);
    dx.masked_fill_(valid.logical_not().view(shape), 0);
    return {dx, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// A host tensor on `device`; to CUDA from pinned memory without waiting on the stream, as a copy from
// pageable memory does (the packed update's time did not move either way: bench/results/pack_h100.json).
torch::Tensor to_device(const torch::Tensor& host, const torch::Device& device) {
  return device.is_cuda() ? host.pin_memory().to(device, /*non_blocking=*/true) : host.to(device);
}

}  // namespace

SegmentRows segment_rows(const torch::Tensor& segment_ids, const torch::Device& device) {
  ZRL_CHECK(segment_ids.dim() == 2, "model::segment_rows: segment_ids must be [B,T], got {}",
            c10::str(segment_ids.sizes()));
  const auto seg = segment_ids.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t B = seg.size(0), T = seg.size(1);
  const int64_t* id = seg.data_ptr<int64_t>();
  std::vector<int64_t> start, length;  // each segment's flat first index and its tokens
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      const int64_t i = b * T + t;
      if (id[i] < 0) continue;
      if (t == 0 || id[i - 1] != id[i]) start.push_back(i), length.push_back(0);
      ++length.back();
    }
  }
  SegmentRows rows;
  const auto S = static_cast<int64_t>(start.size());
  rows.width = S == 0 ? 0 : *std::max_element(length.begin(), length.end());
  std::vector<int64_t> gather(static_cast<size_t>(S * rows.width), 0), scatter(static_cast<size_t>(B * T), 0);
  std::vector<int64_t> position(static_cast<size_t>(B * T), 0);
  auto filled = torch::zeros({S * rows.width}, torch::kBool), real = torch::zeros({B * T}, torch::kBool);
  bool* fa = filled.data_ptr<bool>();
  bool* ra = real.data_ptr<bool>();
  for (int64_t s = 0; s < S; ++s) {
    for (int64_t t = 0; t < length[static_cast<size_t>(s)]; ++t) {
      const int64_t packed = start[static_cast<size_t>(s)] + t, own = s * rows.width + t;
      gather[static_cast<size_t>(own)] = packed, fa[own] = true;
      scatter[static_cast<size_t>(packed)] = own, ra[packed] = true;
      position[static_cast<size_t>(packed)] = t;
    }
  }
  const auto opts = torch::TensorOptions().dtype(torch::kInt64);
  rows.gather = to_device(torch::tensor(gather, opts), device);
  rows.scatter = to_device(torch::tensor(scatter, opts), device);
  rows.lengths = to_device(torch::tensor(length, opts), device);
  rows.positions = to_device(torch::tensor(position, opts).view({B, T}), device);
  rows.filled = to_device(filled, device), rows.real = to_device(real, device);
  return rows;
}

torch::Tensor attend_segments(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const SegmentRows& rows) {
  ZRL_CHECK(
      q.dim() == 4 && k.dim() == 4 && v.sizes() == k.sizes() && k.size(2) == q.size(2) &&
          rows.scatter.numel() == q.size(0) * q.size(2) && rows.width > 0,
      "model::attend_segments: q {} and k/v {} are not packed rows [B,H,T,D] of the segments' {} tokens",
      c10::str(q.sizes()), c10::str(k.sizes()), rows.scatter.numel());
  const int64_t B = q.size(0), T = q.size(2), S = rows.lengths.size(0), W = rows.width;
  const auto own_rows = [&](const torch::Tensor& x) {  // [B, H, T, D] -> [S, H, W, D]
    const int64_t H = x.size(1), D = x.size(3);
    return GatherRows::apply(x.transpose(1, 2).reshape({B * T, H, D}), rows.gather, rows.scatter, rows.real)
        .view({S, W, H, D})
        .transpose(1, 2);
  };
  const auto qs = own_rows(q), ks = own_rows(k), vs = own_rows(v);
  const auto out = kernels::use_attention_kernel(qs, ks, vs)
                       ? kernels::causal_attention(qs, ks, vs, {}, rows.lengths)
                       : kernels::causal_attention_reference(qs, ks, vs, {}, rows.lengths);
  const int64_t Hq = q.size(1), D = q.size(3);
  return GatherRows::apply(out.transpose(1, 2).reshape({S * W, Hq, D}), rows.scatter, rows.gather,
                           rows.filled)
      .view({B, T, Hq, D})
      .transpose(1, 2);
}

}  // namespace zerorl::model
