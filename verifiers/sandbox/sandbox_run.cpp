// verifiers/sandbox/sandbox_run.cpp: Sandbox::run_in_cell: bwrap's command line, then supervision of one
// run (stdin feed, capped capture, wall deadline, abort, whole-tree kill) and its classification.
// Not here: the slot pool, pairs and probing (sandbox.cpp), child-side setup (spawn.cpp).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "verifiers/sandbox/cgroup.h"
#include "verifiers/sandbox/fork_server.h"
#include "verifiers/sandbox/sandbox.h"
#include "verifiers/sandbox/spawn.h"

namespace zerorl::verifiers::sandbox {

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

bool drain(int fd, std::string* into, uint64_t cap, uint64_t* total) {
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      *total += static_cast<uint64_t>(n);
      if (into->size() < cap) into->append(buf, std::min<size_t>(static_cast<size_t>(n), cap - into->size()));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    return false;
  }
}

bool contains_memory_error(const std::string& err) {
  return err.find("MemoryError") != std::string::npos ||
         err.find("Cannot allocate memory") != std::string::npos;
}

namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

bool make_pipe(Fd* r, Fd* w) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return false;
  r->fd = p[0];
  w->fd = p[1];
  return true;
}

// A memfd holding `data` at offset 0 (bwrap copies it with --file, or reads it for --seccomp).
int memfd_with(const char* name, const void* data, size_t size) {
  int fd = static_cast<int>(::memfd_create(name, MFD_CLOEXEC));
  if (fd < 0) return -1;
  const char* p = static_cast<const char*>(data);
  for (size_t done = 0; done < size;) {
    ssize_t n = ::write(fd, p + done, size - done);
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

bool safe_file_name(const std::string& name) {
  if (name.empty() || name.size() > 100 || name[0] == '.') return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

// "child-pid": N from bwrap's --info-fd JSON (the sandbox's PID-namespace init, in our namespace).
pid_t parse_child_pid(const std::string& info) {
  auto k = info.find("\"child-pid\"");
  if (k == std::string::npos) return 0;
  auto c = info.find(':', k);
  if (c == std::string::npos || info.find('}', c) == std::string::npos) return 0;
  return static_cast<pid_t>(std::strtol(info.c_str() + c + 1, nullptr, 10));
}

// Child fds: 0 stdin, 1 stdout, 2 stderr, then the request's pass_fds (3, 4, ...; bwrap leaves them open),
// then bwrap's own, which it closes before exec: info, seccomp, program, extra files.
struct ChildFds {
  int info, seccomp, program, first_file;
  explicit ChildFds(size_t pass) : info(3 + static_cast<int>(pass)) {
    seccomp = info + 1, program = info + 2, first_file = info + 3;
  }
};

// The command line with every {file} replaced by `path`.
std::vector<std::string> expand_file(const std::vector<std::string>& argv, const std::string& path) {
  std::vector<std::string> out;
  for (std::string arg : argv) {
    for (auto pos = arg.find("{file}"); pos != std::string::npos; pos = arg.find("{file}", pos + 1)) {
      arg.replace(pos, 6, path);
    }
    out.push_back(arg);
  }
  return out;
}

// Sends SIGKILL to the sandbox's PID-namespace init (its death kills every process in the namespace)
// and gives bwrap up to 500 ms to reap it, so the init is never orphaned to the host's PID 1 as a zombie
// (which would count against the cell uid's RLIMIT_NPROC). Then SIGKILL to bwrap, if still running, and
// to every member of the cell's cgroup. Never to a process group or -1.
void kill_tree(int init_pidfd, pid_t bwrap_pid, int bwrap_pidfd, bool bwrap_reaped, const CgroupSlots* cg,
               int cell) {
  if (init_pidfd >= 0 && syscall(SYS_pidfd_send_signal, init_pidfd, SIGKILL, nullptr, 0) == 0 &&
      !bwrap_reaped && bwrap_pidfd >= 0) {
    struct pollfd p {
      bwrap_pidfd, POLLIN, 0
    };
    ::poll(&p, 1, 500);
  }
  if (!bwrap_reaped) ::kill(bwrap_pid, SIGKILL);
  if (cg) cg->kill_all(cell);
}

// The insecure fallback's working directory: a fresh host dir owned by the run's uid, removed afterwards.
struct DirectDir {
  std::string path;
  bool create(const RunRequest& req, const std::string& file_name, uid_t uid, std::string* error) {
    char tmpl[] = "/tmp/zerorl-sandbox-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      *error = std::string("mkdtemp: ") + std::strerror(errno);
      return false;
    }
    path = tmpl;
    std::vector<std::pair<std::string, std::string>> files = req.files;
    files.push_back({file_name, req.program});
    for (const auto& [name, content] : files) {
      std::ofstream(path + "/" + name, std::ios::binary) << content;
      ::chmod((path + "/" + name).c_str(), 0644);
    }
    if (::chown(path.c_str(), uid, uid) != 0) {
      *error = std::string("chown: ") + std::strerror(errno);
      return false;
    }
    return true;
  }
  ~DirectDir() {
    try {
      if (!path.empty()) zerorl::remove_tree(path);
    } catch (...) {  // a destructor: best effort
    }
  }
};

// How a run ended, as observed by supervise().
struct RunEnd {
  int wstatus;
  bool timed_out, output_limit, aborted, oom, started;
};

// The run's status from how it ended; precedence: output cap, deadline, launch failure, exit/signal,
// then memory (an OOM kill or MemoryError explains a crash or a stall).
void classify(const RunEnd& e, double wall_s, uint64_t stdout_cap, RunResult* res) {
  if (e.output_limit) {
    res->out.resize(std::min<size_t>(res->out.size(), stdout_cap));
    res->status = RunStatus::kOutputLimit;
    return;
  }
  if (e.timed_out) {
    res->status = e.oom ? RunStatus::kMemory : RunStatus::kTimeout;  // an OOM kill explains a stall
    return;
  }
  if (e.aborted) {
    res->status = RunStatus::kAborted;
    return;
  }
  if (!e.started) {
    res->status = RunStatus::kSandboxError;
    res->error = "sandbox did not start: " + res->err.substr(0, 500);
    return;
  }
  int code = WIFEXITED(e.wstatus) ? WEXITSTATUS(e.wstatus) : 128 + WTERMSIG(e.wstatus);
  // bwrap reports a program killed by signal N as exit status 128 + N.
  if (code > 128 && code < 128 + 65) {
    res->signal = code - 128;
    res->status = RunStatus::kSignaled;
    if (res->signal == SIGXCPU || (res->signal == SIGKILL && res->cpu_s >= std::ceil(wall_s))) {
      res->status = RunStatus::kTimeout;
    }
  } else {
    res->exit_code = code;
    res->status = RunStatus::kExited;
  }
  if (e.oom || (code != 0 && contains_memory_error(res->err))) res->status = RunStatus::kMemory;
}

}  // namespace

void Sandbox::direct_spec(const RunRequest& req, const std::string& dir, SpawnSpec* spec) const {
  const LanguageSpec& lang = options_.language;
  spec->argv = expand_file(req.argv.empty() ? lang.run_argv : req.argv, dir + "/" + lang.file_name);
  for (const auto& [k, v] : lang.env) spec->env.push_back(k + "=" + (k == "HOME" ? dir : v));
  spec->cwd = dir;
  if (!seccomp_bpf_.empty()) spec->seccomp_bpf = &seccomp_bpf_;
}

std::vector<std::string> Sandbox::bwrap_argv(const RunRequest& req, int cell) const {
  const LanguageSpec& lang = options_.language;
  const ChildFds fds(req.pass_fds.size());
  std::string uid = std::to_string(uids_[cell]);
  std::string tmpfs = std::to_string(options_.limits.tmpfs_bytes);
  std::vector<std::string> a = {options_.bwrap,
                                "--unshare-all",
                                "--unshare-user",
                                "--disable-userns",
                                "--die-with-parent",
                                "--new-session",
                                "--as-pid-1",
                                "--clearenv",
                                "--uid",
                                uid,
                                "--gid",
                                uid,
                                "--hostname",
                                "sandbox",
                                "--cap-drop",
                                "ALL"};
  for (const auto& p : lang.ro_binds) a.insert(a.end(), {"--ro-bind-try", p, p});
  for (const auto& [target, link] : lang.symlinks) a.insert(a.end(), {"--symlink", target, link});
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--size", tmpfs, "--tmpfs", "/tmp", "--size", tmpfs,
                     "--tmpfs", "/work", "--file", std::to_string(fds.program), "/work/" + lang.file_name});
  for (size_t i = 0; i < req.files.size(); ++i) {
    a.insert(a.end(),
             {"--file", std::to_string(fds.first_file + static_cast<int>(i)), "/work/" + req.files[i].first});
  }
  a.insert(a.end(), {"--remount-ro", "/", "--seccomp", std::to_string(fds.seccomp), "--info-fd",
                     std::to_string(fds.info), "--chdir", "/work"});
  for (const auto& [k, v] : lang.env) a.insert(a.end(), {"--setenv", k, v});
  a.push_back("--");
  for (auto& arg : expand_file(req.argv.empty() ? lang.run_argv : req.argv, "/work/" + lang.file_name)) {
    a.push_back(std::move(arg));
  }
  return a;
}

RunResult Sandbox::run_in_cell(const RunRequest& req, int cell) {
  const SandboxLimits& lim = options_.limits;
  RunResult res;
  std::vector<Fd> pass;  // owned from here: closed once the program has started, or on any return
  for (int fd : req.pass_fds) pass.emplace_back(fd);
  const double wall = req.wall_s > 0 ? req.wall_s : lim.wall_s;
  for (const auto& f : req.files) {
    if (!safe_file_name(f.first) || f.first == options_.language.file_name) {
      res.error = "bad extra file name '" + f.first + "'";
      return res;
    }
  }
  Fd in_r, in_w, out_r, out_w, err_r, err_w, info_r, info_w;
  if (!make_pipe(&in_r, &in_w) || !make_pipe(&out_r, &out_w) || !make_pipe(&err_r, &err_w) ||
      !make_pipe(&info_r, &info_w)) {
    res.error = std::string("pipe: ") + std::strerror(errno);
    return res;
  }
  std::vector<Fd> owned;
  owned.reserve(req.files.size() + 2);
  owned.emplace_back(memfd_with("zerorl-bpf", seccomp_bpf_.data(), seccomp_bpf_.size()));
  owned.emplace_back(memfd_with("zerorl-prog", req.program.data(), req.program.size()));
  for (const auto& f : req.files)
    owned.emplace_back(memfd_with("zerorl-file", f.second.data(), f.second.size()));
  for (const auto& o : owned) {
    if (o.fd < 0) {
      res.error = std::string("memfd: ") + std::strerror(errno);
      return res;
    }
  }
  SpawnSpec spec;
  // Only reachable with insecure_allow (run() refuses otherwise): no namespaces, a host temp dir.
  const bool direct = direct_;
  DirectDir dir;
  spec.fds = {in_r.fd, out_w.fd, err_w.fd};
  for (const auto& p : pass) spec.fds.push_back(p.fd);
  if (direct) {
    if (!dir.create(req, options_.language.file_name, uids_[cell], &res.error)) return res;
    direct_spec(req, dir.path, &spec);
  } else {
    spec.argv = bwrap_argv(req, cell);
    spec.fds.push_back(info_w.fd);
    for (const auto& o : owned) spec.fds.push_back(o.fd);
    spec.cwd = "/";
  }
  std::vector<Fd> procs;
  uint64_t oom_before = 0;
  if (cgroups_) {
    for (const auto& p : cgroups_->procs_files(cell)) {
      procs.emplace_back(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
      spec.cgroup_procs_fds.push_back(procs.back().fd);
    }
    cgroups_->reset_peak(cell);
    oom_before = cgroups_->oom_kills(cell);
  }
  spec.uid = uids_[cell];
  spec.cpu_s = req.cpu_s > 0 ? req.cpu_s : lim.cpu_s > 0 ? lim.cpu_s : std::ceil(wall) + 1;
  spec.address_space_bytes = lim.address_space_bytes;
  spec.max_processes = lim.max_processes;
  spec.file_size_bytes = lim.file_size_bytes;
  spec.open_files = lim.open_files;
  const auto start = Clock::now();
  std::string spawn_error;
  pid_t pid = spawn_unprivileged(spec, &spawn_error);
  in_r.reset(), out_w.reset(), err_w.reset(), info_w.reset();
  owned.clear();
  procs.clear();
  pass.clear();
  if (pid < 0) {
    res.error = spawn_error;
    return res;
  }
  // Writing stdin to a program that already exited raises SIGPIPE: blocked for this thread during the
  // run and discarded afterwards, so it never kills the verifier process.
  sigset_t pipe_set, old_mask;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  int stdin_fd = in_w.fd;  // supervise() owns and closes it
  in_w.fd = -1;
  supervise(req, cell, pid, wall, start, stdin_fd, out_r.fd, err_r.fd, info_r.fd, oom_before, direct, &res);
  struct timespec zero {};
  while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return res;
}

void Sandbox::supervise(const RunRequest& req, int cell, pid_t pid, double wall_s, Clock::time_point start,
                        int in_w, int out_r, int err_r, int info_r, uint64_t oom_before, bool direct,
                        RunResult* res) {
  const SandboxLimits& lim = options_.limits;
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wall_s));
  int bwrap_pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  int init_pidfd = -1;
  for (int fd : {in_w, out_r, err_r, info_r}) set_nonblock(fd);
  std::string info;
  uint64_t out_total = 0, err_total = 0, info_total = 0;
  size_t in_off = 0;
  bool in_open = true, out_open = true, err_open = true, info_open = true, reaped = false;
  if (direct) info_open = false;  // no bwrap: the spawned process is the program itself
  bool timed_out = false, output_limit = false, aborted = false;
  bool abort_open = req.abort_fd >= 0;
  int wstatus = 0;
  struct rusage ru {};
  Clock::time_point reaped_at{};
  if (req.stdin_data.empty()) ::close(in_w), in_open = false;
  while (true) {
    auto now = Clock::now();
    const bool stopped = timed_out || output_limit || aborted;
    if (!reaped && !stopped && now >= deadline) {
      timed_out = true;
      kill_tree(init_pidfd, pid, bwrap_pidfd, reaped, cgroups_.get(), cell);
    }
    if (reaped && ((!out_open && !err_open) || now - reaped_at > std::chrono::milliseconds(500))) break;
    struct pollfd p[6];
    int n = 0;
    auto add = [&](bool open, int fd, short ev) {
      p[n].fd = open ? fd : -1;
      p[n].events = ev;
      p[n].revents = 0;
      ++n;
    };
    add(out_open, out_r, POLLIN);
    add(err_open, err_r, POLLIN);
    add(info_open, info_r, POLLIN);
    add(in_open, in_w, POLLOUT);
    add(!reaped && bwrap_pidfd >= 0, bwrap_pidfd, POLLIN);
    add(abort_open, req.abort_fd, POLLIN);
    long ms = 20;
    if (!timed_out && !aborted && !reaped) {
      ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
      ms = std::max(1L, std::min(ms, bwrap_pidfd >= 0 ? 1000L : 10L));
    }
    ::poll(p, n, static_cast<int>(ms));
    if (out_open && p[0].revents) {
      out_open = drain(out_r, &res->out, lim.stdout_bytes + 1, &out_total);
      if (out_total > lim.stdout_bytes && !output_limit && !timed_out) {
        output_limit = true;
        kill_tree(init_pidfd, pid, bwrap_pidfd, reaped, cgroups_.get(), cell);
      }
    }
    if (err_open && p[1].revents) err_open = drain(err_r, &res->err, lim.stderr_bytes, &err_total);
    if (info_open && p[2].revents) {
      info_open = drain(info_r, &info, 4096, &info_total);
      pid_t child = parse_child_pid(info);
      if (child > 0 && init_pidfd < 0) init_pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
    }
    if (in_open && p[3].revents) {
      while (in_off < req.stdin_data.size()) {
        ssize_t w = ::write(in_w, req.stdin_data.data() + in_off, req.stdin_data.size() - in_off);
        if (w <= 0) break;
        in_off += static_cast<size_t>(w);
      }
      if (in_off == req.stdin_data.size() || (p[3].revents & (POLLERR | POLLHUP)))
        ::close(in_w), in_open = false;
    }
    if (abort_open && p[5].revents) {
      abort_open = false;
      if (!reaped && !timed_out && !output_limit) {
        aborted = true;
        kill_tree(init_pidfd, pid, bwrap_pidfd, reaped, cgroups_.get(), cell);
      }
    }
    if (!reaped && wait4(pid, &wstatus, WNOHANG, &ru) == pid) reaped = true, reaped_at = Clock::now();
  }
  if (in_open) ::close(in_w);
  // Whatever is left (a daemon racing the namespace teardown) dies now; the cell must be empty.
  kill_tree(init_pidfd, pid, bwrap_pidfd, reaped, cgroups_.get(), cell);
  if (!reaped) wait4(pid, &wstatus, 0, &ru);
  if (init_pidfd >= 0) ::close(init_pidfd);
  if (bwrap_pidfd >= 0) ::close(bwrap_pidfd);
  res->wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  res->cpu_s = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  res->peak_memory_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  bool oom = false;
  if (cgroups_) {
    res->peak_memory_bytes = std::max(res->peak_memory_bytes, cgroups_->peak_bytes(cell));
    oom = cgroups_->oom_kills(cell) > oom_before;
  }
  res->err_truncated = err_total > res->err.size();
  RunEnd end{wstatus, timed_out, output_limit, aborted, oom, direct || parse_child_pid(info) > 0};
  classify(end, wall_s, lim.stdout_bytes, res);
}

}  // namespace zerorl::verifiers::sandbox
