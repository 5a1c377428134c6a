// tests/model/test_packed_attention.cpp: model/packed_attention.h on the CPU: segment_rows on a hand-worked
// layout, and attend_segments (its reference-twin path: no kernel here) against attention computed one
// segment at a time, outputs and gradients, in float64. The kernel path's bits against the padded layout:
// test_model_gpu.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "model/packed_attention.h"

namespace zerorl::model {
namespace {

std::vector<int64_t> values(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kInt64).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// Two rows of 5: [a a a b -1] and [c c d d d]: segments a(3), b(1), c(2), d(3), width 3.
TEST(SegmentRows, HandWorkedLayout) {
  const auto seg = torch::tensor({0, 0, 0, 1, -1, 0, 0, 1, 1, 1}, torch::kInt64).view({2, 5});
  const auto rows = segment_rows(seg, torch::kCPU);
  EXPECT_EQ(rows.width, 3);
  EXPECT_EQ(values(rows.lengths), (std::vector<int64_t>{3, 1, 2, 3}));
  EXPECT_EQ(values(rows.gather), (std::vector<int64_t>{0, 1, 2, 3, 0, 0, 5, 6, 0, 7, 8, 9}));
  EXPECT_EQ(values(rows.scatter), (std::vector<int64_t>{0, 1, 2, 3, 0, 6, 7, 9, 10, 11}));
  EXPECT_EQ(values(rows.filled), (std::vector<int64_t>{1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1}));
  EXPECT_EQ(values(rows.real), (std::vector<int64_t>{1, 1, 1, 1, 0, 1, 1, 1, 1, 1}));
  EXPECT_EQ(values(rows.positions), (std::vector<int64_t>{0, 1, 2, 0, 0, 0, 1, 0, 1, 2}));
  // Equal ids in two runs of a row are two segments (the contract: each sample's tokens contiguous).
  const auto split = segment_rows(torch::tensor({4, 4, 7, 4}, torch::kInt64).view({1, 4}), torch::kCPU);
  EXPECT_EQ(values(split.lengths), (std::vector<int64_t>{2, 1, 1}));
  const auto none = segment_rows(torch::full({2, 3}, -1, torch::kInt64), torch::kCPU);
  EXPECT_EQ(none.width, 0);
  EXPECT_EQ(none.lengths.numel(), 0);
  EXPECT_THROW(segment_rows(torch::zeros({4}, torch::kInt64), torch::kCPU), std::exception);
}

// One segment's causal attention with grouped KV heads, run alone (differentiable): q [Hq, n, D],
// k/v [Hkv, n, D].
torch::Tensor softmax_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t Hq = q.size(0), n = q.size(1), D = q.size(2), g = Hq / k.size(0);
  const auto kr = k.repeat_interleave(g, 0), vr = v.repeat_interleave(g, 0);
  auto s = torch::matmul(q, kr.transpose(1, 2)) / std::sqrt(static_cast<double>(D));
  s = s.masked_fill(torch::ones({n, n}, torch::kBool).triu(1), -std::numeric_limits<double>::infinity());
  return torch::matmul(torch::softmax(s, -1), vr);
}

// Rows of 9: [a(4) b(5)] and [c(2) pad d(5) pad]. The twin computes in float32, as the kernel does; the
// references run each segment alone.
TEST(AttendSegments, EachSegmentAttendsWithinItselfAsTheSegmentAlone) {
  torch::manual_seed(5);
  const auto seg =
      torch::tensor({0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, -1, 3, 3, 3, 3, 3, -1}, torch::kInt64).view({2, 9});
  const int64_t Hq = 4, Hkv = 2, D = 8;
  auto q = torch::randn({2, Hq, 9, D}).requires_grad_(), k = torch::randn({2, Hkv, 9, D}).requires_grad_();
  auto v = torch::randn({2, Hkv, 9, D}).requires_grad_();
  const auto out = attend_segments(q, k, v, segment_rows(seg, torch::kCPU));
  ASSERT_EQ(out.sizes(), q.sizes());
  struct Run {
    int64_t row, start, length;
  };
  const std::vector<Run> runs{{0, 0, 4}, {0, 4, 5}, {1, 0, 2}, {1, 3, 5}};
  // Against the segments run alone in float64: the outputs, and the gradients of a weighted sum over the
  // real tokens; the padding columns (row 1, columns 2 and 8) get none.
  const auto weight = torch::randn(out.sizes());
  (out * weight).sum().backward();
  auto q64 = q.detach().to(torch::kFloat64).requires_grad_(),
       k64 = k.detach().to(torch::kFloat64).requires_grad_();
  auto v64 = v.detach().to(torch::kFloat64).requires_grad_();
  auto loss = torch::zeros({}, torch::kFloat64);
  for (const Run r : runs) {
    const auto part = [&](const torch::Tensor& x) { return x[r.row].narrow(1, r.start, r.length); };
    const auto want = softmax_attention(part(q64), part(k64), part(v64));
    EXPECT_LE((part(out).detach().to(torch::kFloat64) - want.detach()).abs().max().item<double>(),
              1e-5 * (1 + want.abs().max().item<double>()))
        << "row " << r.row << " from " << r.start;
    loss = loss + (want * part(weight.to(torch::kFloat64))).sum();
  }
  loss.backward();
  for (const auto& [got, want] :
       {std::pair{q.grad(), q64.grad()}, {k.grad(), k64.grad()}, {v.grad(), v64.grad()}}) {
    EXPECT_LE((got.to(torch::kFloat64) - want).abs().max().item<double>(),
              1e-4 * (1 + want.abs().max().item<double>()));
  }
  for (const int64_t col : {2, 8}) {
    EXPECT_EQ(q.grad()[1].select(1, col).abs().sum().item<double>(), 0.0) << "column " << col;
    EXPECT_EQ(v.grad()[1].select(1, col).abs().sum().item<double>(), 0.0) << "column " << col;
  }
}

}  // namespace
}  // namespace zerorl::model
