// verifiers/sandbox/seccomp_policy.h: builds the sandbox's seccomp filter as classic BPF bytes.
// Not here: loading it (bubblewrap does, after its own setup).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zerorl::verifiers::sandbox {

// Default allow; denies tracing, mounts, namespaces, kexec/modules, bpf, perf, keyrings, io_uring,
// and every socket family but AF_UNIX. Returns empty and sets *error on failure.
std::vector<uint8_t> build_seccomp_bpf(std::string* error);

}  // namespace zerorl::verifiers::sandbox
