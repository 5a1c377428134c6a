// core/files.cpp: remove_tree via nftw(3), children before parents (see files.h for why not remove_all).
// Not here: anything else.
#include "core/files.h"

#include <ftw.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace zerorl {
namespace {

thread_local int64_t t_removed = 0;
thread_local int t_errno = 0;
thread_local std::string t_failed;

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  if (std::remove(path) != 0) {
    t_errno = errno;
    t_failed = path;
    return 1;  // stop the walk
  }
  ++t_removed;
  return 0;
}

}  // namespace

int64_t remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    ZRL_CHECK(errno == ENOENT, "remove_tree: cannot stat '{}': {}", path, std::strerror(errno));
    return 0;
  }
  t_removed = 0;
  t_errno = 0;
  t_failed.clear();
  const int rc = ::nftw(path.c_str(), remove_entry, 32, FTW_DEPTH | FTW_PHYS);
  ZRL_CHECK(rc == 0, "remove_tree: cannot remove '{}': {}", t_failed.empty() ? path : t_failed,
            std::strerror(t_errno != 0 ? t_errno : errno));
  return t_removed;
}

}  // namespace zerorl
