// verifiers/sandbox/sandbox.cpp: one sandboxed run: bwrap argument list, supervision (stdin feed, capped
// capture, wall deadline, tree kill), result classification, and the slot pool. Not here: the child-side
// setup (spawn.cpp), cgroups (cgroup.cpp), the syscall filter (seccomp_policy.cpp).
#include "verifiers/sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "core/log.h"
#include "verifiers/sandbox/cgroup.h"
#include "verifiers/sandbox/seccomp_policy.h"
#include "verifiers/sandbox/spawn.h"

namespace zerorl::verifiers::sandbox {
const char* to_string(RunStatus status) {
  switch (status) {
    case RunStatus::kExited:
      return "exited";
    case RunStatus::kSignaled:
      return "signaled";
    case RunStatus::kTimeout:
      return "timeout";
    case RunStatus::kOutputLimit:
      return "output_limit";
    case RunStatus::kMemory:
      return "memory";
    case RunStatus::kSandboxError:
      return "sandbox_error";
  }
  return "?";
}

Sandbox::Sandbox(SandboxOptions options) : options_(std::move(options)) {
  if (options_.slots < 1) options_.slots = 1;
  busy_.assign(options_.slots, false);
  claim_uids();
  probe();
}

Sandbox::~Sandbox() {
  cgroups_.reset();  // kills leftovers before the uids are released
  for (int fd : uid_locks_) ::close(fd);
}

void Sandbox::claim_uids() {
  ::mkdir(options_.uid_lock_dir.c_str(), 0700);
  for (int i = 0; i < options_.uid_count && static_cast<int>(uids_.size()) < options_.slots; ++i) {
    uid_t uid = options_.uid_base + static_cast<uid_t>(i);
    std::string path = options_.uid_lock_dir + "/uid-" + std::to_string(uid) + ".lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) break;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      uids_.push_back(uid);
      uid_locks_.push_back(fd);
    } else {
      ::close(fd);
    }
  }
  if (static_cast<int>(uids_.size()) < options_.slots) {
    ZRL_WARN("sandbox: could not claim {} uids under {}; using uid_base + slot unlocked", options_.slots,
             options_.uid_lock_dir);
    uids_.clear();
    for (int i = 0; i < options_.slots; ++i) uids_.push_back(options_.uid_base + static_cast<uid_t>(i));
  }
}

void Sandbox::probe() {
  std::vector<std::string> missing;
  if (options_.uid_base == 0) missing.push_back("unprivileged uid (uid_base is 0)");
  if (::access(options_.bwrap.c_str(), X_OK) != 0)
    missing.push_back("bubblewrap (" + options_.bwrap + " not found)");
  std::string err;
  seccomp_bpf_ = build_seccomp_bpf(&err);
  if (seccomp_bpf_.empty()) missing.push_back("seccomp (" + err + ")");
  if (options_.use_cgroups) {
    std::string why;
    cgroups_ = CgroupSlots::create(options_.slots, options_.limits.memory_bytes,
                                   options_.limits.max_processes, &why);
    if (!cgroups_) ZRL_WARN("sandbox: no cgroup limits ({}); relying on rlimits + PID namespace", why);
  }
  if (missing.empty()) {
    // A real run proves user/pid/net/mount namespaces and the seccomp load work here.
    RunRequest req;
    req.program = "";
    int slot = acquire_slot();
    RunResult r = run_in_slot(req, slot, {"/usr/bin/true"});
    release_slot(slot);
    if (r.status != RunStatus::kExited || r.exit_code != 0) {
      missing.push_back("namespaces via bubblewrap (probe failed: " + (r.error.empty() ? r.err : r.error) +
                        ")");
    }
  }
  for (size_t i = 0; i < missing.size(); ++i) missing_ += (i ? ", " : "") + missing[i];
  if (!missing_.empty()) {
    if (options_.insecure_allow) {
      ZRL_ERROR(
          "sandbox: missing protection: {}; sandbox.insecure_allow=true: running untrusted code WITHOUT "
          "namespaces (unprivileged uid, rlimits{}{} only)",
          missing_, seccomp_bpf_.empty() ? "" : ", seccomp", cgroups_ ? ", cgroups" : "");
    } else {
      ZRL_ERROR(
          "sandbox: missing protection: {}; refusing to run untrusted code (sandbox.insecure_allow "
          "is false)",
          missing_);
    }
  }
}

int Sandbox::acquire_slot() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    for (size_t i = 0; i < busy_.size(); ++i) {
      if (!busy_[i]) {
        busy_[i] = true;
        return static_cast<int>(i);
      }
    }
    cv_.wait(lock);
  }
}

void Sandbox::release_slot(int slot) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    busy_[slot] = false;
  }
  cv_.notify_one();
}

RunResult Sandbox::run(const RunRequest& request) {
  if (!missing_.empty() && !options_.insecure_allow) {
    RunResult r;
    r.error = "sandbox unavailable: missing " + missing_;
    return r;
  }
  int slot = acquire_slot();
  RunResult r;
  try {
    r = run_in_slot(request, slot, {});
  } catch (const std::exception& e) {
    r = RunResult();
    r.error = e.what();
  }
  release_slot(slot);
  return r;
}

}  // namespace zerorl::verifiers::sandbox
