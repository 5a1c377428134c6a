// tests/core/test_malloc_tuning.cpp: keep_freed_memory_for_reuse against what glibc does without it: a
// freed 64 MiB block comes back without a page fault per page, and a user's own tuning is left alone.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>

#include "core/malloc_tuning.h"

namespace zerorl {
namespace {

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// Page faults taken while touching every page of a fresh `bytes` block.
[[maybe_unused]] long faults_to_touch(size_t bytes) {
  char* p = static_cast<char*>(std::malloc(bytes));
  const long before = minor_faults();
  std::memset(p, 1, bytes);
  asm volatile("" : : "r"(p) : "memory");  // the block is used: the compiler may not drop malloc + memset
  const long faults = minor_faults() - before;
  std::free(p);
  return faults;
}

TEST(MallocTuning, UserTuningIsLeftAlone) {
  ASSERT_EQ(setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_max=65536", 1), 0);
  EXPECT_NE(keep_freed_memory_for_reuse().find("left as tuned"), std::string::npos);
  unsetenv("GLIBC_TUNABLES");
}

TEST(MallocTuning, AFreedLargeBlockIsReusedWithoutPageFaults) {
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
  GTEST_SKIP() << "glibc malloc only (AddressSanitizer brings its own allocator)";
#else
  const size_t bytes = size_t{64} << 20;  // above glibc's largest mmap threshold (32 MiB)
  // Reference: untuned glibc maps the block afresh on every malloc, so every use faults in every page.
  const long untuned = faults_to_touch(bytes);
  if (untuned < static_cast<long>(bytes / 4096) / 2)
    GTEST_SKIP() << untuned << " faults for 64 MiB: huge pages here, so faults are not what it costs";
  EXPECT_GT(faults_to_touch(bytes), untuned / 2);  // the same again: nothing was kept
  EXPECT_NE(keep_freed_memory_for_reuse().find("kept for reuse"), std::string::npos);
  faults_to_touch(bytes);                           // the heap grows once
  EXPECT_LT(faults_to_touch(bytes), untuned / 20);  // then the freed block is reused
#endif
}

}  // namespace
}  // namespace zerorl
