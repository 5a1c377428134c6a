// verifiers/sandbox/sandbox.cpp: the Sandbox's life: uid claims, the machine probe, the slot pool, and
// run()/run_pair() on top of run_in_cell. Not here: one run's mechanics (sandbox_run.cpp), the child-side
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
#include <system_error>
#include <thread>

#include "core/log.h"
#include "verifiers/sandbox/cgroup.h"
#include "verifiers/sandbox/fork_server.h"
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
    case RunStatus::kAborted:
      return "aborted";
  }
  return "?";
}

Sandbox::Sandbox(SandboxOptions options) : options_(std::move(options)) {
  if (options_.slots < 1) options_.slots = 1;
  busy_.assign(options_.slots, false);
  servers_.resize(options_.slots);
  claim_uids();
  probe();
}

Sandbox::~Sandbox() {
  for (int slot = 0; slot < options_.slots; ++slot) stop_server(slot);
  cgroups_.reset();  // kills leftovers before the uids are released
  for (int fd : uid_locks_) ::close(fd);
}

void Sandbox::claim_uids() {
  const int cells = 2 * options_.slots;
  ::mkdir(options_.uid_lock_dir.c_str(), 0700);
  for (int i = 0; i < options_.uid_count && static_cast<int>(uids_.size()) < cells; ++i) {
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
  if (static_cast<int>(uids_.size()) < cells) {
    ZRL_WARN("sandbox: could not claim {} uids under {}; using uid_base + cell unlocked", cells,
             options_.uid_lock_dir);
    uids_.clear();
    for (int i = 0; i < cells; ++i) uids_.push_back(options_.uid_base + static_cast<uid_t>(i));
  }
}

void Sandbox::probe() {
  std::vector<std::string> missing;  // namespaces, bwrap or seccomp: programs would run directly
  if (options_.uid_base == 0) missing.push_back("unprivileged uid (uid_base is 0)");
  if (::access(options_.bwrap.c_str(), X_OK) != 0)
    missing.push_back("bubblewrap (" + options_.bwrap + " not found)");
  std::string err;
  seccomp_bpf_ = build_seccomp_bpf(&err);
  if (seccomp_bpf_.empty()) missing.push_back("seccomp (" + err + ")");
  std::string no_cgroups;
  if (options_.use_cgroups) {
    std::string why;
    cgroups_ = CgroupSlots::create(2 * options_.slots, options_.limits.memory_bytes,
                                   options_.limits.max_processes, options_.cgroup_root, &why);
    if (!cgroups_) no_cgroups = "cgroups (" + why + "; they bound the memory of a run's whole process tree)";
  }
  if (missing.empty()) {
    // A real run proves user/pid/net/mount namespaces and the seccomp load work here.
    RunRequest req;
    req.argv = {"/usr/bin/true"};
    int slot = acquire_slot();
    RunResult r = run_in_cell(req, slot);
    release_slot(slot);
    if (r.status != RunStatus::kExited || r.exit_code != 0) {
      missing.push_back("namespaces via bubblewrap (probe failed: " + (r.error.empty() ? r.err : r.error) +
                        ")");
    }
  }
  direct_ = !missing.empty();
  if (!no_cgroups.empty()) missing.push_back(no_cgroups);
  for (size_t i = 0; i < missing.size(); ++i) missing_ += (i ? ", " : "") + missing[i];
  if (missing_.empty()) return;
  if (options_.insecure_allow) {
    ZRL_ERROR(
        "sandbox: missing protection: {}; sandbox.insecure_allow=true: running untrusted code {}", missing_,
        direct_ ? std::string("WITHOUT namespaces (unprivileged uid, rlimits") +
                      (seccomp_bpf_.empty() ? "" : ", seccomp") + (cgroups_ ? ", cgroups" : "") + " only)"
                : std::string("without cgroups (namespaces, seccomp, rlimits only)"));
  } else {
    ZRL_ERROR(
        "sandbox: missing protection: {}; refusing to run untrusted code (sandbox.insecure_allow is false)",
        missing_);
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

RunResult Sandbox::run_guarded(const RunRequest& request, int cell) {
  try {
    return run_in_cell(request, cell);
  } catch (const std::exception& e) {  // e.g. bad_alloc: a result, never an exception across threads
    RunResult r;
    r.error = e.what();
    return r;
  }
}

RunResult Sandbox::run(const RunRequest& request) {
  if (!missing_.empty() && !options_.insecure_allow) {
    for (int fd : request.pass_fds) ::close(fd);
    RunResult r;
    r.error = "sandbox unavailable: missing " + missing_;
    return r;
  }
  int slot = acquire_slot();
  RunResult r = run_guarded(request, slot);
  release_slot(slot);
  return r;
}

PairResult Sandbox::run_pair(RunRequest trusted, RunRequest untrusted) {
  return pair(std::move(trusted), std::move(untrusted), false);
}

PairResult Sandbox::run_pair_forked(RunRequest trusted, RunRequest untrusted) {
  return pair(std::move(trusted), std::move(untrusted), true);
}

PairResult Sandbox::pair(RunRequest trusted, RunRequest untrusted, bool forked) {
  PairResult out;
  if (!trusted.pass_fds.empty() || !untrusted.pass_fds.empty()) {
    for (int fd : trusted.pass_fds) ::close(fd);
    for (int fd : untrusted.pass_fds) ::close(fd);
    out.trusted.error = out.untrusted.error = "run_pair: pass_fds must be empty";
    return out;
  }
  if (!missing_.empty() && !options_.insecure_allow) {
    out.trusted.error = out.untrusted.error = "sandbox unavailable: missing " + missing_;
    return out;
  }
  int p[6];  // to_untrusted (r, w), to_trusted (r, w), abort (r, w)
  int made = 0;
  while (made < 3 && ::pipe2(p + 2 * made, O_CLOEXEC) == 0) ++made;
  if (made < 3) {
    out.trusted.error = out.untrusted.error = std::string("pipe: ") + std::strerror(errno);
    for (int i = 0; i < 2 * made; ++i) ::close(p[i]);
    return out;
  }
  int* to_untrusted = p;
  int* to_trusted = p + 2;
  int* abort = p + 4;
  trusted.pass_fds = {to_untrusted[1], to_trusted[0]};
  untrusted.pass_fds = {to_untrusted[0], to_trusted[1]};
  untrusted.abort_fd = abort[0];
  const int slot = acquire_slot();
  // Each run closes its own pipe ends once started, so either side's exit is the other's EOF.
  std::thread untrusted_run;
  try {
    untrusted_run = std::thread([&] { out.untrusted = run_guarded(untrusted, slot); });
  } catch (const std::system_error& e) {  // no thread: nothing started, give everything back
    for (int i = 0; i < 6; ++i) ::close(p[i]);
    release_slot(slot);
    out.trusted.error = out.untrusted.error = std::string("run_pair: ") + e.what();
    return out;
  }
  if (!forked) stop_server(slot);  // the trusted run takes the cell (uid, cgroup) the server lives in
  out.trusted = forked ? run_served(trusted, slot) : run_guarded(trusted, options_.slots + slot);
  ::close(abort[1]);  // the trusted side is done: stop the untrusted one
  untrusted_run.join();
  ::close(abort[0]);
  release_slot(slot);
  return out;
}

}  // namespace zerorl::verifiers::sandbox
