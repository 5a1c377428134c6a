// core/malloc_tuning.h: keep freed host memory in the process for reuse (glibc malloc), called once at the
// start of the zerorl binary. Not here: device memory (LibTorch's caching allocator does that on CUDA).
#pragma once

#include <string>

namespace zerorl {

// glibc serves every block above its mmap threshold (at most 32 MiB) with a fresh mmap and unmaps it on
// free, and gives the heap's free top back to the kernel above 128 KiB; either way a large CPU tensor (a
// [B, H, T, T] attention score block, a logits chunk) pays one page fault per 4 KiB page on every use. On
// the project's 2-core VM that was 90% of a CPU update step (15.3 s vs 1.8 s for configs/zero_tiny.yaml)
// and half of an evaluation. This turns mmap off for malloc and heap trimming off (mallopt's documented
// -1), so freed blocks stay in the process and are reused without faults. The cost: a process keeps its
// peak heap mapped until it exits (its peak RSS is unchanged). Leaves malloc alone when the user tuned it
// (GLIBC_TUNABLES with glibc.malloc.*, or MALLOC_*_ variables: glibc.malloc.trim_threshold=134217728, say,
// gives memory back again). Returns what it did.
std::string keep_freed_memory_for_reuse();

}  // namespace zerorl
