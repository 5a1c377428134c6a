// core/malloc_tuning.cpp: see malloc_tuning.h (why: page faults of fresh mmaps dominated CPU steps).
// glibc's mallopt, not a replacement allocator: jemalloc (Debian's libjemalloc2) purges freed pages
// after its decay time and measured no faster here (16.1 vs 15.3 s per update step).
#include "core/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

extern char** environ;

namespace zerorl {

namespace {

bool user_tuned_malloc() {
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "MALLOC_", 7) == 0) return true;
    if (std::strncmp(*e, "GLIBC_TUNABLES=", 15) == 0 && std::strstr(*e, "glibc.malloc.") != nullptr)
      return true;
  }
  return false;
}

}  // namespace

std::string keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  if (user_tuned_malloc()) return "malloc: left as tuned by the environment (GLIBC_TUNABLES / MALLOC_*)";
  const bool ok = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;  // -1: never trim
  return ok ? "malloc: large blocks from the heap, freed memory kept for reuse (M_MMAP_MAX 0, "
              "M_TRIM_THRESHOLD -1)"
            : "malloc: mallopt refused; glibc defaults kept";
#else
  return "malloc: not glibc; left alone";
#endif
}

}  // namespace zerorl
