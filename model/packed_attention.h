// model/packed_attention.h: attention over packed rows (CausalLM::hidden_states_packed) through the
// batch-invariant attention kernel, with each segment gathered into a row of its own.
//
// Why: the kernel (kernels/attention.h) sums a query's keys in blocks counted from its row's first column,
// as the engine's decode attention counts them from the sequence's first token. A packed row starts its
// later sequences mid-row, so the masked attention packed rows used to take summed their keys in other
// blocks (~1e-2 apart in bf16) and built a [B, T, T] mask. Gathered one per row ([S, width], right-padded
// to the longest), each sequence is again the row the kernel sees in the padded layout, while the GEMMs,
// norms and MLP still run on the packed rows. Every other op of the forward is per token, so a packed
// sequence's hidden states equal the padded layout's bit for bit, with and without gradients and
// checkpointing (test_model_gpu, PackedGpu), and the GRPO update's packed old log-probs equal the engine's
// (TrainerGpu), so algo.old_logprobs = auto takes the engine's with packing too (trainer/old_logprobs.cpp).
//
// The cost: copies of Q, K, V and the output (a few % of a layer's bytes), and attention over S rows of
// the longest segment's width: for the GRPO update, whose segments are one micro-batch's sequences, never
// more than the padded layout's attention. SFT rows of many short samples beside a long one pay more here
// than the masked attention would; the kernel's causal blocks keep it bounded by S x width^2 / 2.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace zerorl::model {

// Packed rows' segments (segment_ids [B, T]: each sample's tokens contiguous, -1 = padding), one per row of
// a [S, width] layout: segment s (numbered row by row, left to right) becomes row s, width = the longest.
// gather [S * width]: the flat packed index (row * T + column) of segment s's token t; past the segment's
// length, 0 (any real token: those outputs are never read). scatter [B * T]: each packed token's flat index
// in the [S, width] layout (padding: 0, garbage as the padded layout's). lengths [S] int64; filled
// [S * width] and real [B * T] bool: which entries of each layout are a segment's tokens; positions [B, T]:
// each token's position in its segment (padding: 0). Tensors on `device`, copied from pinned memory
// without waiting on the stream; S = 0 (width 0) where every token is padding. segment_ids is read on the
// CPU (pass it there to spare a device sync).
struct SegmentRows {
  torch::Tensor gather, scatter, lengths, filled, real, positions;
  int64_t width = 0;
};
SegmentRows segment_rows(const torch::Tensor& segment_ids, const torch::Device& device);

// Causal attention within each segment: q [B, Hq, T, D], k/v [B, Hkv, T, D] of packed rows -> [B, Hq, T, D].
// Gathers each segment into its row, runs kernels::causal_attention with key_end = the lengths (its
// reference twin where the kernel cannot run), scatters back. Outputs at padding are garbage and carry no
// gradient, as the padded layout's. Differentiable; the gathers' backward is a gather too (each real token
// sits at one place in either layout), not index_select's atomic adds.
torch::Tensor attend_segments(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const SegmentRows& rows);

}  // namespace zerorl::model
