// trainer/update_layout.h: the GRPO update's padded row layout (make_layout) and per-token host rows on its
// response grid (pad_rows). Not here: packed rows (packing.h), the update itself (update.h).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace zerorl::trainer {

// Training layout: each row holds its prompt then its response from column 0, right-padded to T: the rollout
// engine's KV-cache layout, so attention sums a token's keys in the same blocks as the decode step did and,
// with batch-invariant GEMMs, bf16 log-probs equal the engine's to float32 rounding (~1e-7; left padding
// shifts the blocks and brings back bf16-sized differences).
// Response token j of row i sits at column P_i + j and is predicted from column P_i - 1 + j.
struct Layout {
  torch::Tensor ids, attention_mask;                 // [n, T]
  torch::Tensor response_mask, targets, predict_at;  // [n, Tr]: valid tokens, their ids, predicting column
};
// Lays out prompts[i] + responses[i] as above; pad fills what no token occupies. Throws naming the answer
// with an empty prompt.
Layout make_layout(const std::vector<std::vector<int64_t>>& prompts,
                   const std::vector<std::vector<int64_t>>& responses, int64_t pad);

// [n, Tr] float32 from per-token rows (zero beyond each row's length).
torch::Tensor pad_rows(const std::vector<std::vector<float>>& rows, int64_t tr);

}  // namespace zerorl::trainer
