// verifiers/sandbox/spawn.h: starts the sandbox launcher (bubblewrap) as an unprivileged uid inside a
// cgroup slot with rlimits, via a vfork-style clone (cheap even from a process with a large heap).
// Not here: bwrap's argument list, the supervision loop (sandbox.cpp).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace zerorl::verifiers::sandbox {

struct SpawnSpec {
  std::vector<std::string> argv;      // argv[0] is an absolute path
  std::vector<std::string> env;       // "K=V"
  std::vector<int> fds;               // become fds 0,1,2,3,... in the child; every other fd is closed
  std::vector<int> cgroup_procs_fds;  // the child writes "0" to each (joins the slot) before dropping root
  uid_t uid = 0;                      // real/effective/saved uid and gid; must not be 0
  double cpu_s = 1.0;                 // RLIMIT_CPU soft (SIGXCPU); hard = soft + 1
  uint64_t address_space_bytes = 0;   // 0 = unlimited
  int max_processes = 0;              // RLIMIT_NPROC; 0 = leave
  uint64_t file_size_bytes = 0;       // 0 = unlimited
  int open_files = 64;
  std::string cwd;  // chdir before exec ("" = keep)
  // Classic BPF loaded (with no_new_privs) right before exec; null = none (bwrap loads it itself).
  const std::vector<uint8_t>* seccomp_bpf = nullptr;
};

// Returns the child's pid, or -1 with *error naming the failed step and errno.
pid_t spawn_unprivileged(const SpawnSpec& spec, std::string* error);

}  // namespace zerorl::verifiers::sandbox
