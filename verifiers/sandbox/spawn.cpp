// verifiers/sandbox/spawn.cpp: clone(CLONE_VM|CLONE_VFORK) child that joins a cgroup, sets rlimits, drops
// to an unprivileged uid and execs. Hand-written because posix_spawn cannot set uid, rlimits or cgroups.
// Not here: what is exec'd. The child shares the parent's memory until exec: it only makes raw syscalls
// (glibc's setresuid would broadcast to the parent's threads) and writes nothing but its own stack and
// the ChildArgs failure fields.
#include "verifiers/sandbox/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace zerorl::verifiers::sandbox {
namespace {

struct ChildArgs {
  const SpawnSpec* spec;
  std::vector<char*> argv, envp;
  std::vector<rlimit> limits;
  std::vector<int> resources;
  sigset_t parent_mask;
  sock_fprog seccomp{};
  volatile int failed_step = 0;  // written by the child on failure (shared memory), read after vfork
  volatile int failed_errno = 0;
};

const char* const kStepNames[] = {"ok",        "join cgroup", "dup fds",   "move fds",
                                  "close fds", "setrlimit",   "setgroups", "setresgid",
                                  "setresuid", "pdeathsig",   "chdir",     "execve"};

[[noreturn]] void child_fail(ChildArgs* a, int step) {
  a->failed_errno = errno;
  a->failed_step = step;
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

int child_main(void* raw) {
  auto* a = static_cast<ChildArgs*>(raw);
  const SpawnSpec& s = *a->spec;
  // Default signal handlers, then the parent's mask lifted (it blocked everything around clone).
  // Raw rt_sigaction with the kernel's layout (handler, flags, restorer, mask): glibc's and sanitizers'
  // wrappers are not for a CLONE_VM child.
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
  } dfl{nullptr, 0, nullptr, 0};  // SIG_DFL
  for (int sig = 1; sig <= 64; ++sig) syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(uint64_t));
  for (int fd : s.cgroup_procs_fds) {
    if (write(fd, "0", 1) != 1) child_fail(a, 1);
  }
  // fds -> high numbers -> 0..n-1, so no source is clobbered before it is copied.
  const int n = static_cast<int>(s.fds.size());
  int high[64];
  if (n > 64) child_fail(a, 2);
  for (int i = 0; i < n; ++i) {
    high[i] = static_cast<int>(syscall(SYS_fcntl, s.fds[i], F_DUPFD_CLOEXEC, 512));
    if (high[i] < 0) child_fail(a, 2);
  }
  for (int i = 0; i < n; ++i) {
    if (syscall(SYS_dup2, high[i], i) < 0) child_fail(a, 3);  // dup2 clears CLOEXEC on the target
  }
  if (syscall(SYS_close_range, n, ~0u, 0) != 0) {
    for (int fd = n; fd < 4096; ++fd) syscall(SYS_close, fd);
  }
  for (size_t i = 0; i < a->resources.size(); ++i) {
    if (syscall(SYS_setrlimit, a->resources[i], &a->limits[i]) != 0) child_fail(a, 5);
  }
  gid_t gid = s.uid;
  if (syscall(SYS_setgroups, 0, nullptr) != 0) child_fail(a, 6);
  if (syscall(SYS_setresgid, gid, gid, gid) != 0) child_fail(a, 7);
  if (syscall(SYS_setresuid, s.uid, s.uid, s.uid) != 0) child_fail(a, 8);
  // After the uid change (it clears the death signal); bwrap is not setuid, so it survives exec.
  if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) child_fail(a, 9);
  if (!s.cwd.empty() && syscall(SYS_chdir, s.cwd.c_str()) != 0) child_fail(a, 10);
  if (a->seccomp.filter != nullptr) {
    if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &a->seccomp) != 0) {
      child_fail(a, 12);
    }
  }
  uint64_t empty_mask = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty_mask, nullptr, sizeof(uint64_t));
  syscall(SYS_execve, a->argv[0], a->argv.data(), a->envp.data());
  child_fail(a, 11);
}

void add_limit(ChildArgs* a, int resource, uint64_t soft, uint64_t hard) {
  a->resources.push_back(resource);
  a->limits.push_back(rlimit{static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)});
}

}  // namespace

pid_t spawn_unprivileged(const SpawnSpec& spec, std::string* error) {
  if (spec.uid == 0) {
    *error = "refusing to run a sandboxed program as uid 0";
    return -1;
  }
  ChildArgs a;
  a.spec = &spec;
  for (auto& s : spec.argv) a.argv.push_back(const_cast<char*>(s.c_str()));
  a.argv.push_back(nullptr);
  for (auto& s : spec.env) a.envp.push_back(const_cast<char*>(s.c_str()));
  a.envp.push_back(nullptr);
  uint64_t cpu = static_cast<uint64_t>(spec.cpu_s + 0.999);
  add_limit(&a, RLIMIT_CPU, cpu, cpu + 1);
  add_limit(&a, RLIMIT_CORE, 0, 0);
  add_limit(&a, RLIMIT_NOFILE, spec.open_files, spec.open_files);
  add_limit(&a, RLIMIT_MEMLOCK, 0, 0);
  add_limit(&a, RLIMIT_MSGQUEUE, 0, 0);
  if (spec.address_space_bytes) add_limit(&a, RLIMIT_AS, spec.address_space_bytes, spec.address_space_bytes);
  if (spec.file_size_bytes) add_limit(&a, RLIMIT_FSIZE, spec.file_size_bytes, spec.file_size_bytes);
  if (spec.max_processes) add_limit(&a, RLIMIT_NPROC, spec.max_processes, spec.max_processes);

  if (spec.seccomp_bpf != nullptr && !spec.seccomp_bpf->empty()) {
    a.seccomp.len = static_cast<unsigned short>(spec.seccomp_bpf->size() / sizeof(sock_filter));
    a.seccomp.filter = reinterpret_cast<sock_filter*>(const_cast<uint8_t*>(spec.seccomp_bpf->data()));
  }
  std::vector<char> stack(256 << 10);
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &a.parent_mask);
  pid_t pid = clone(child_main, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &a.parent_mask, nullptr);
  if (pid < 0) {
    *error = std::string("clone failed: ") + std::strerror(clone_errno);
    return -1;
  }
  if (a.failed_step != 0) {  // the child exited before exec: reap it and report
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *error =
        std::string("sandbox launcher: ") + kStepNames[a.failed_step] + ": " + std::strerror(a.failed_errno);
    return -1;
  }
  return pid;
}

}  // namespace zerorl::verifiers::sandbox
