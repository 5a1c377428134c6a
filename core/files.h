// core/files.h: removing a directory tree. Not here: any other file-system helper (use std::filesystem).
// Why not std::filesystem::remove_all: pip's libtorch.so (2.11) exports its own copy of that symbol, which
// interposes on libstdc++'s in every binary linked against it and crashes (a null function pointer) as soon
// as it has something to delete: seen on the GPU machine in checkpoint pruning and pretraining. nftw(3)
// from the C library has no such twin.
#pragma once

#include <cstdint>
#include <string>

namespace zerorl {

// Deletes `path` and everything under it without following symlinks; a missing path is not an error.
// Returns the number of entries removed. Throws zerorl::Error naming the entry that could not be removed.
int64_t remove_tree(const std::string& path);

}  // namespace zerorl
