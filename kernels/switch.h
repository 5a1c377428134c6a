// kernels/switch.h: whether this build compiled the CUDA kernels, the one switch that turns all of them off
// (their LibTorch twins then run), and a per-kernel off list for measuring what each kernel buys: for tests,
// benches, and a user who suspects a kernel.
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace zerorl::kernels {

// True where zerorl was built with nvcc (ZERORL_CUDA_KERNELS).
bool compiled();

// On by default where built (ZERORL_KERNELS=0 in the environment: off); off makes every use_* false.
void set_enabled(bool on);
bool enabled();

// The kernels by name: rms_norm, rope, swiglu, token_logprobs, attention, sample, tuned_gemm, stacked_gemm,
// attention_backward, gemm_accumulate, fused_lm_head (algo::linear_float32_token_logprobs),
// stacked_mlp_backward (gate_up_silu_mul), split_weight_grad (model/split_linear.h).
const std::set<std::string>& kernel_names();

// A comma-separated list of kernel names (spaces ignored, empty: none); an unknown name throws, naming it.
std::set<std::string> parse_kernel_list(const std::string& list);

// Kernels turned off one by one: ZERORL_KERNELS_OFF=attention,sample in the environment (read at the first
// enabled(name)), or set here. enabled(name): enabled() and not in the list.
void set_disabled(const std::set<std::string>& names);
bool enabled(std::string_view name);

}  // namespace zerorl::kernels
