// kernels/attention.h: causal attention with grouped KV heads (transformers' Qwen2/Llama attention with
// repeat_kv, scale 1/sqrt(head_dim)), as one CUDA kernel on bf16 tensor cores where zerorl was built with
// nvcc (kernels/attention.cu), with its LibTorch twin. The kernel is batch-invariant by construction: a
// query's output does not depend on the other queries of the call, so the engine's decode step (one query
// per row, K/V from the cache) and the trainer's forward over the whole sequence give the same bits. Its
// backward is cuDNN's attention backward fed the forward's output and each query's log-sum-exp, which the
// kernel writes (torch >= 2.9, "attention_backward"); elsewhere, or if cuDNN fails, it recomputes the
// forward through torch's causal scaled_dot_product_attention under autograd. Either is the gradient of the
// same function, as the update's gradients are anyway.
#pragma once

#include <torch/torch.h>

#include "kernels/switch.h"

namespace zerorl::kernels {

// q [B, Hq, T, D], k/v [B, Hkv, L, D] (Hq a multiple of Hkv). Query t of row b sits at position
// p = q_start[b] + t (q_start undefined: 0) and sees key j when (j <= p and j < key_end[b]) or j == p
// (key_end undefined: no bound): the model's mask for right-padded rows, key_end their lengths. q_start and
// key_end are [B] int64 on q's device. Returns [B, Hq, T, D]. Twin: masked scores, float32 softmax.
torch::Tensor causal_attention_reference(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v, const torch::Tensor& q_start = {},
                                         const torch::Tensor& key_end = {});

// Whether causal_attention takes the kernel: a build with the kernels, enabled, CUDA, q/k/v bf16 on one
// device, head_dim 16, 32, 64 or 128, Hq a multiple of Hkv, at most 65535 rows and KV heads (the grid),
// the last dimension contiguous and K/V rows 16-byte aligned (the model's projections and KV cache).
bool use_attention_kernel(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

// causal_attention_reference's function through the kernel (use_attention_kernel must hold and
// q_start + T <= L). Differentiable where q_start is undefined and L == T (the trainer's forward).
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& q_start = {}, const torch::Tensor& key_end = {});

// Whether cuDNN's attention backward failed in this process, so that backward recomputes the forward (it
// logs a warning the first time).
bool attention_backward_fell_back();

}  // namespace zerorl::kernels
