// trainer/packing.cpp: first-fit-decreasing rows and packed micro-batches (see packing.h).
// Not here: the attention mask and positions of packed rows (model/decoder.cpp).
#include "trainer/packing.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace zerorl::trainer {

std::vector<std::vector<int64_t>> pack_first_fit_decreasing(const std::vector<int64_t>& lengths,
                                                            int64_t capacity) {
  std::vector<int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<int64_t>> rows;
  std::vector<int64_t> free;  // tokens left per row
  for (int64_t i : order) {
    const int64_t n = lengths[static_cast<size_t>(i)];
    ZRL_CHECK(n >= 1 && n <= capacity,
              "pack_first_fit_decreasing: sequence {} has {} tokens; rows hold 1 to {} (the longest "
              "sequence's length)",
              i, n, capacity);
    size_t r = 0;
    while (r < rows.size() && free[r] < n) ++r;
    if (r == rows.size()) rows.emplace_back(), free.push_back(capacity);
    rows[r].push_back(i);
    free[r] -= n;
  }
  return rows;
}

std::vector<int64_t> packed_micro_batch_sizes(const std::vector<int64_t>& lengths, int64_t rows,
                                              int64_t capacity) {
  ZRL_CHECK(rows >= 1, "packed_micro_batch_sizes: {} rows a micro-batch; at least 1", rows);
  std::vector<int64_t> sizes;
  std::vector<int64_t> span;  // the open micro-batch's lengths
  for (const int64_t n : lengths) {
    span.push_back(n);
    if (span.size() > 1 && static_cast<int64_t>(pack_first_fit_decreasing(span, capacity).size()) > rows) {
      sizes.push_back(static_cast<int64_t>(span.size()) - 1);
      span.assign(1, n);
    }
  }
  if (!span.empty()) sizes.push_back(static_cast<int64_t>(span.size()));
  return sizes;
}

PackedMicroBatch pack_micro_batch(const torch::Tensor& ids, const std::vector<int64_t>& prompt_len,
                                  const std::vector<int64_t>& response_len, int64_t tr) {
  const int64_t c = ids.size(0), W = ids.size(1);
  ZRL_CHECK(static_cast<int64_t>(prompt_len.size()) == c && static_cast<int64_t>(response_len.size()) == c,
            "pack_micro_batch: {} rows of ids, {} prompt lengths, {} response lengths", c, prompt_len.size(),
            response_len.size());
  std::vector<int64_t> len(static_cast<size_t>(c));
  for (size_t k = 0; k < len.size(); ++k) len[k] = prompt_len[k] + response_len[k];
  const auto rows = pack_first_fit_decreasing(len, W);
  const auto R = static_cast<int64_t>(rows.size());
  // src: for every packed cell, the flat index into ids [c * W] it copies (0 for padding: any valid id).
  auto src = torch::zeros({R, W}, torch::kInt64), seg = torch::full({R, W}, int64_t{-1}, torch::kInt64);
  auto at = torch::zeros({c, tr}, torch::kInt64);
  auto sa = src.accessor<int64_t, 2>(), ga = seg.accessor<int64_t, 2>(), aa = at.accessor<int64_t, 2>();
  for (int64_t r = 0; r < R; ++r) {
    int64_t col = 0, segment = 0;
    for (int64_t k : rows[static_cast<size_t>(r)]) {
      const int64_t n = len[static_cast<size_t>(k)], np = prompt_len[static_cast<size_t>(k)];
      for (int64_t j = 0; j < n; ++j) sa[r][col + j] = k * W + j, ga[r][col + j] = segment;
      for (int64_t j = 0; j < tr; ++j) aa[k][j] = r * W + col + std::min(np - 1 + j, n - 1);
      col += n, ++segment;
    }
  }
  const auto device = ids.device();
  return {ids.reshape({-1}).index_select(0, src.view({-1}).to(device)).view({R, W}), seg, at.to(device)};
}

}  // namespace zerorl::trainer
