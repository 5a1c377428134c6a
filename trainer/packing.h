// trainer/packing.h: packed sequences for the GRPO update (algo.pack_sequences): the first-fit-decreasing
// row assignment, the split into micro-batches by packed rows, and a micro-batch's packed rows with the
// column that predicts each response token.
// Not here: the packed attention (model/decoder.cpp, hidden_states_packed), the loss (update.cpp, algo/).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace zerorl::trainer {

// Assigns sequences of `lengths` tokens to rows of at most `capacity` tokens, first-fit decreasing: the
// sequences are taken longest first (equal lengths: lower index first), each into the lowest-numbered row
// it still fits, else into a new row. Returns rows of sequence indices, each row in placement order.
// Deterministic; at most 11/9 OPT + 6/9 rows (Dosa 2007). Throws naming the sequence when a length is < 1
// or > capacity.
std::vector<std::vector<int64_t>> pack_first_fit_decreasing(const std::vector<int64_t>& lengths,
                                                            int64_t capacity);

// Splits consecutive sequences of `lengths` tokens into micro-batches for packed rows: each takes as many
// of the next sequences as pack_first_fit_decreasing places into at most `rows` rows of `capacity` tokens
// (at least one sequence), so a micro-batch of short sequences holds more of them than `rows`, as a padded
// one of `rows` rows holds the same token budget. Returns the micro-batches' sequence counts in order (they
// sum to lengths.size()). Greedy and deterministic; throws when rows < 1, or as pack_first_fit_decreasing
// does for a length it packs.
std::vector<int64_t> packed_micro_batch_sizes(const std::vector<int64_t>& lengths, int64_t rows,
                                              int64_t capacity);

// One micro-batch of c sequences packed into R rows of W columns.
struct PackedMicroBatch {
  torch::Tensor ids;          // [R, W] int64, on the ids' device
  torch::Tensor segment_ids;  // [R, W] int64 on the CPU (the model reads the segments there: no device
                              // sync); segment -1 = padding (hidden_states_packed's contract)
  torch::Tensor predict_at;   // [c, Tr] int64: flat index (row * W + column) of the hidden state that
                              // predicts response token j of sequence k; beyond a response: inside it
};

// Packs the c sequences of `ids` [c, W] (the update's layout: prompt then response from column 0,
// right-padded) into rows of W columns by pack_first_fit_decreasing. prompt_len / response_len: c each.
// Tensors on ids' device but segment_ids. Sequence k's response token j is predicted from its column
// prompt_len[k] - 1 + j, as in the padded layout; a column past a response points at the sequence's own last
// token (masked).
PackedMicroBatch pack_micro_batch(const torch::Tensor& ids, const std::vector<int64_t>& prompt_len,
                                  const std::vector<int64_t>& response_len, int64_t tr);

}  // namespace zerorl::trainer
