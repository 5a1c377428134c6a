// verifiers/sandbox/seccomp_policy.cpp: the syscall filter of sandboxed programs, compiled with libseccomp
// to classic BPF (bubblewrap loads it via --seccomp FD). Not here: namespaces, limits.
#include "verifiers/sandbox/seccomp_policy.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

namespace zerorl::verifiers::sandbox {
namespace {

// Denied with EPERM: kernel attack surface and escape hatches no test program needs (tracing, mounts,
// namespaces, kernel modules/kexec, BPF, perf, keyrings, io_uring (it bypasses seccomp for sockets),
// userfaultfd, cross-process memory access, clock and system administration).
const char* const kDenied[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "unshare",
    "setns",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "userfaultfd",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "sethostname",
    "setdomainname",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "quotactl",
    "quotactl_fd",
    "fanotify_init",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "vhangup",
    "nfsservctl",
    "personality",
    "landlock_create_ruleset",
    "mbind",
    "migrate_pages",
    "move_pages",
    "set_mempolicy",
};

constexpr uint64_t kNamespaceFlags =
    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

}  // namespace

std::vector<uint8_t> build_seccomp_bpf(std::string* error) {
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) {
    *error = "seccomp_init failed";
    return {};
  }
  // Non-native architectures (i386 int 0x80, x32) are killed: the default bad-arch action.
  int rc = 0;
  for (const char* name : kDenied) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0);
  }
  // Sockets: only AF_UNIX (Python's multiprocessing uses it); everything else is "not supported".
  rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                         SCMP_A0(SCMP_CMP_NE, AF_UNIX));
  rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socketpair), 1,
                         SCMP_A0(SCMP_CMP_NE, AF_UNIX));
  // clone with any namespace flag is refused; clone3 (flags behind a pointer) reports ENOSYS so libc
  // falls back to clone, whose flags the filter can see.
  for (uint64_t bit = 1; bit != 0; bit <<= 1) {
    if ((kNamespaceFlags & bit) == 0) continue;
    rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit));
  }
  rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  // TIOCSTI could push input into a terminal outside; the sandbox has none, but deny it anyway.
  rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, 0x5412u));
  if (rc != 0) {
    *error = "seccomp_rule_add failed";
    return {};
  }
  int fd = memfd_create("zerorl-seccomp", MFD_CLOEXEC);
  if (fd < 0 || seccomp_export_bpf(ctx.get(), fd) != 0) {
    if (fd >= 0) ::close(fd);
    *error = "seccomp_export_bpf failed";
    return {};
  }
  off_t size = ::lseek(fd, 0, SEEK_END);
  std::vector<uint8_t> bpf(static_cast<size_t>(size > 0 ? size : 0));
  ssize_t got = ::pread(fd, bpf.data(), bpf.size(), 0);
  ::close(fd);
  if (got != static_cast<ssize_t>(bpf.size()) || bpf.empty()) {
    *error = "reading the exported BPF failed";
    return {};
  }
  return bpf;
}

}  // namespace zerorl::verifiers::sandbox
