// kernels/cuda_common.cuh: what the kernels' .cu files share: the result of the launch just made, and the
// bf16 views of the LibTorch-free entries' void pointers.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace zerorl::kernels {

// nullptr, or the error of the last launch on this thread.
inline const char* launch_status() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

__host__ __device__ inline const __nv_bfloat16* as_bf16(const void* p) {
  return static_cast<const __nv_bfloat16*>(p);
}
__host__ __device__ inline __nv_bfloat16* as_bf16(void* p) { return static_cast<__nv_bfloat16*>(p); }

}  // namespace zerorl::kernels
