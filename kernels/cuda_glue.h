// kernels/cuda_glue.h: what the LibTorch sides of the kernels share where zerorl was built with nvcc
// (ZERORL_CUDA_KERNELS): the autograd names their nodes use, the stream a launch goes on, and the check of
// a launch's result.
#pragma once

#ifdef ZERORL_CUDA_KERNELS
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>

#include "core/error.h"

namespace zerorl::kernels {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The current CUDA stream of t's device, as the launch entries take it (a cudaStream_t).
inline void* stream_of(const torch::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

// A launch entry's result: nullptr, or the error, which throws naming the kernel.
inline void check_launch(const char* err, const char* kernel) {
  ZRL_CHECK(err == nullptr, "{} kernel: {}", kernel, err ? err : "");
}

}  // namespace zerorl::kernels
#endif
