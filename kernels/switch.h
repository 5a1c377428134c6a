// kernels/switch.h: whether this build compiled the CUDA kernels, and the one switch that turns all of them
// off (their LibTorch twins then run): for tests, benches, and a user who suspects a kernel.
#pragma once

namespace zerorl::kernels {

// True where zerorl was built with nvcc (ZERORL_CUDA_KERNELS).
bool compiled();

// On by default where built (ZERORL_KERNELS=0 in the environment: off); off makes every use_* false.
void set_enabled(bool on);
bool enabled();

}  // namespace zerorl::kernels
