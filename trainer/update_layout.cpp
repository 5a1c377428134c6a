// trainer/update_layout.cpp: the update's padded layout and per-token rows (see update_layout.h).
#include "trainer/update_layout.h"

#include <algorithm>

#include "core/error.h"

namespace zerorl::trainer {

Layout make_layout(const std::vector<std::vector<int64_t>>& prompts,
                   const std::vector<std::vector<int64_t>>& responses, int64_t pad) {
  const auto n = static_cast<int64_t>(prompts.size());
  int64_t T = 1, tr = 1;
  for (size_t i = 0; i < prompts.size(); ++i) {
    ZRL_CHECK(!prompts[i].empty(), "policy update: answer {} has an empty prompt", i);
    T = std::max<int64_t>(T, static_cast<int64_t>(prompts[i].size() + responses[i].size()));
    tr = std::max<int64_t>(tr, static_cast<int64_t>(responses[i].size()));
  }
  Layout l{torch::full({n, T}, pad, torch::kInt64), torch::zeros({n, T}, torch::kInt64),
           torch::zeros({n, tr}, torch::kFloat32), torch::full({n, tr}, pad, torch::kInt64),
           torch::zeros({n, tr}, torch::kInt64)};
  auto ia = l.ids.accessor<int64_t, 2>(), ma = l.attention_mask.accessor<int64_t, 2>();
  auto ra = l.response_mask.accessor<float, 2>();
  auto ta = l.targets.accessor<int64_t, 2>(), pa = l.predict_at.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& p = prompts[static_cast<size_t>(i)];
    const auto& r = responses[static_cast<size_t>(i)];
    const auto np = static_cast<int64_t>(p.size()), nr = static_cast<int64_t>(r.size());
    for (int64_t j = 0; j < np + nr; ++j) ia[i][j] = j < np ? p[j] : r[j - np], ma[i][j] = 1;
    for (int64_t j = 0; j < tr; ++j) {
      pa[i][j] = std::min(np - 1 + j, T - 1);  // padding columns point inside the row; masked out
      if (j < nr) ta[i][j] = r[j], ra[i][j] = 1.0f;
    }
  }
  return l;
}

torch::Tensor pad_rows(const std::vector<std::vector<float>>& rows, int64_t tr) {
  auto out = torch::zeros({static_cast<int64_t>(rows.size()), tr}, torch::kFloat32);
  auto a = out.accessor<float, 2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = 0; j < rows[i].size() && static_cast<int64_t>(j) < tr; ++j) {
      a[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = rows[i][j];
    }
  }
  return out;
}

}  // namespace zerorl::trainer
