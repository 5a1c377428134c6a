// verifiers/sandbox/fork_server.cpp: each slot's fork server (start, restart, stop) and one served run:
// the request with the child's fds, stdin feed, capped capture, deadline, and the reply's classification.
// Not here: the server itself (py/fork_server.py), the pair's other side and slots (sandbox.cpp).
#include "verifiers/sandbox/fork_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "verifiers/sandbox/cgroup.h"

namespace zerorl::verifiers::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

// The server's own run has no deadline that matters (about 4 months); Sandbox::stop_server ends it.
constexpr double kServerLifetimeS = 1e7;
// How long past a request's wall_s we wait for the reply: a fresh server's start-up (the request waits in
// the socket meanwhile) and the reply itself. Past it the server is stopped and the run is a timeout.
constexpr double kReplyGraceS = 2.0;

void close_fd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

// One message `text` carrying `fds` (SCM_RIGHTS); errno set on failure. Never raises SIGPIPE.
bool send_with_fds(int sock, const std::string& text, const std::vector<int>& fds) {
  struct msghdr m {};
  struct iovec iov {
    const_cast<char*>(text.data()), text.size()
  };
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  ssize_t n;
  do {
    n = ::sendmsg(sock, &m, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(text.size());
}

std::string tail(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(s.size() - n); }

// What the server said about its child: "<killed> <wait status> <cpu_us> <maxrss_kb>".
struct Reply {
  bool got = false, gone = false;  // gone: the server ended (or broke the protocol) before replying
  int killed = 0, wstatus = 0;
  long long cpu_us = 0, maxrss_kb = 0;
};

void read_reply(int sock, Reply* r) {
  char buf[128];
  ssize_t n = ::recv(sock, buf, sizeof buf - 1, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n > 0) {
    buf[n] = '\0';
    r->got = std::sscanf(buf, "%d %d %lld %lld", &r->killed, &r->wstatus, &r->cpu_us, &r->maxrss_kb) == 4;
  }
  r->gone = !r->got;
}

// One served run's pipes until the server's reply (and the child's output has ended, or 500 ms more),
// or until the deadline. Owns and closes the three pipe ends.
struct Served {
  Served(int s, int in, int out, int err) : sock(s), in_w(in), out_r(out), err_r(err) {}
  int sock, in_w, out_r, err_r;
  Reply reply;
  bool output_limit = false, late = false;
  uint64_t out_total = 0, err_total = 0;

  void run(const std::string& stdin_data, const SandboxLimits& lim, Clock::time_point deadline,
           RunResult* res) {
    for (int fd : {in_w, out_r, err_r}) set_nonblock(fd);
    if (stdin_data.empty()) close_fd(&in_w);
    size_t in_off = 0;
    Clock::time_point replied_at{};
    while (true) {
      const auto now = Clock::now();
      const bool done = reply.got || reply.gone;
      if (done && ((out_r < 0 && err_r < 0) || now - replied_at > std::chrono::milliseconds(500))) break;
      if (!done && now >= deadline) {
        late = true;  // no reply in time: the caller stops the server (its child with it)
        break;
      }
      struct pollfd f[4] = {{out_r, POLLIN, 0}, {err_r, POLLIN, 0}, {in_w, POLLOUT, 0}, {-1, POLLIN, 0}};
      if (!done) f[3].fd = sock;
      long ms = done ? 20 : std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
      ::poll(f, 4, static_cast<int>(std::clamp(ms, 1L, 1000L)));
      if (f[0].revents && !drain(out_r, &res->out, lim.stdout_bytes + 1, &out_total)) close_fd(&out_r);
      if (out_total > lim.stdout_bytes && !output_limit) {
        output_limit = true;
        ::send(sock, "kill", 4, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      if (f[1].revents && !drain(err_r, &res->err, lim.stderr_bytes, &err_total)) close_fd(&err_r);
      if (f[2].revents) {
        while (in_off < stdin_data.size()) {
          ssize_t w = ::write(in_w, stdin_data.data() + in_off, stdin_data.size() - in_off);
          if (w <= 0) break;
          in_off += static_cast<size_t>(w);
        }
        if (in_off == stdin_data.size() || (f[2].revents & (POLLERR | POLLHUP))) close_fd(&in_w);
      }
      if (f[3].revents) {
        read_reply(sock, &reply);
        if (reply.got || reply.gone) replied_at = Clock::now();
      }
    }
    close_fd(&in_w), close_fd(&out_r), close_fd(&err_r);
  }
};

// A served run's measurements: wall time, the child's CPU and peak memory (the cgroup's, which includes
// the server's, when there is one), the capture's truncation.
void measure_served(const Served& io, Clock::time_point start, const CgroupSlots* cg, int cell,
                    const SandboxLimits& lim, RunResult* res) {
  res->wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  res->cpu_s = 1e-6 * static_cast<double>(io.reply.cpu_us);
  res->peak_memory_bytes = static_cast<uint64_t>(io.reply.maxrss_kb) * 1024;
  if (cg) res->peak_memory_bytes = std::max(res->peak_memory_bytes, cg->peak_bytes(cell));
  res->err_truncated = io.err_total > res->err.size();
  if (io.output_limit) res->out.resize(std::min<size_t>(res->out.size(), lim.stdout_bytes));
}

enum class Ack { kStarted, kGone, kLate };

// The server's "started" for the request just sent; kGone: it ended (or broke the protocol) first.
Ack wait_ack(int sock, Clock::time_point deadline) {
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) return Ack::kLate;
    struct pollfd f {
      sock, POLLIN, 0
    };
    const long ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    ::poll(&f, 1, static_cast<int>(std::clamp(ms, 1L, 1000L)));
    if (f.revents == 0) continue;
    char buf[16];
    const ssize_t n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    return n == 7 && std::memcmp(buf, "started", 7) == 0 ? Ack::kStarted : Ack::kGone;
  }
}

// The served run's status, with a normal run's precedence (sandbox_run.cpp classify()).
void classify_served(const Reply& r, bool output_limit, bool late, bool oom, double wall_s, RunResult* res) {
  if (output_limit) {
    res->status = RunStatus::kOutputLimit;
  } else if (late || r.killed) {
    res->status = oom ? RunStatus::kMemory : RunStatus::kTimeout;
  } else if (r.gone) {
    res->status = RunStatus::kSandboxError;
  } else if (WIFSIGNALED(r.wstatus)) {
    res->signal = WTERMSIG(r.wstatus);
    res->status = RunStatus::kSignaled;
    if (res->signal == SIGXCPU || (res->signal == SIGKILL && res->cpu_s >= std::ceil(wall_s))) {
      res->status = RunStatus::kTimeout;
    }
  } else {
    res->exit_code = WEXITSTATUS(r.wstatus);
    res->status = RunStatus::kExited;
  }
  const bool ended = res->status == RunStatus::kExited || res->status == RunStatus::kSignaled;
  if (ended && (oom || (res->exit_code != 0 && contains_memory_error(res->err)))) {
    res->status = RunStatus::kMemory;
  }
}

}  // namespace

bool Sandbox::start_server(const RunRequest& request, int slot, std::string* error) {
  stop_server(slot);
  int sv[2], ab[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    *error = std::string("fork server: socketpair: ") + std::strerror(errno);
    return false;
  }
  if (::pipe2(ab, O_CLOEXEC) != 0) {
    *error = std::string("fork server: pipe: ") + std::strerror(errno);
    ::close(sv[0]), ::close(sv[1]);
    return false;
  }
  auto s = std::make_unique<ForkServer>();
  s->program = request.program;
  s->argv = request.argv;
  s->sock = sv[0];
  s->stop_w = ab[1];
  RunRequest r;
  r.program = request.program;
  r.argv = request.argv;
  r.wall_s = kServerLifetimeS;
  r.cpu_s = kServerLifetimeS;  // its own work is a fork per test; each child gets the test's limit
  r.pass_fds = {sv[1]};        // the server's fd 3; run_in_cell closes our copy once it has started
  r.abort_fd = ab[0];
  ForkServer* raw = s.get();
  const int cell = options_.slots + slot;
  try {
    // The thread lives as long as the server: bwrap's death signal follows the thread that spawned it.
    s->thread = std::thread([this, raw, r, cell] {
      raw->end = run_guarded(r, cell);
      ::close(r.abort_fd);
      raw->ended = true;
    });
  } catch (const std::system_error& e) {
    ::close(sv[1]), ::close(ab[0]);
    close_fd(&s->sock), close_fd(&s->stop_w);
    *error = std::string("fork server: ") + e.what();
    return false;
  }
  servers_[slot] = std::move(s);
  return true;
}

std::string Sandbox::stop_server(int slot) {
  std::unique_ptr<ForkServer>& s = servers_[slot];
  if (!s) return "";
  close_fd(&s->stop_w);  // its run's abort_fd: the whole tree is killed, the cell's cgroup emptied
  if (s->thread.joinable()) s->thread.join();
  close_fd(&s->sock);
  const RunResult& e = s->end;
  std::string how = std::string(to_string(e.status)) +
                    (e.status == RunStatus::kExited ? " with status " + std::to_string(e.exit_code) : "") +
                    (e.status == RunStatus::kSignaled ? " by signal " + std::to_string(e.signal) : "");
  const std::string detail = tail(e.error.empty() ? e.err : e.error, 300);
  if (!detail.empty()) how += ": " + detail;
  s.reset();
  return how;
}

RunResult Sandbox::run_served(const RunRequest& request, int slot) {
  std::vector<int> pass = request.pass_fds;
  RunResult res;
  try {
    bool retry = false;
    res = run_served_once(request, slot, &pass, &retry);
    if (retry) res = run_served_once(request, slot, &pass, &retry);  // the server had ended: once more
  } catch (const std::exception& e) {  // e.g. bad_alloc: a result, never an exception across threads
    res = RunResult{};
    res.error = e.what();
  }
  for (int fd : pass) ::close(fd);
  return res;
}

RunResult Sandbox::run_served_once(const RunRequest& req, int slot, std::vector<int>* pass, bool* retry) {
  const SandboxLimits& lim = options_.limits;
  const int cell = options_.slots + slot;
  RunResult res;
  *retry = false;
  if (!req.files.empty() || pass->size() != 2) {
    res.error = "run_pair_forked: the trusted request takes no files and exactly two pipes";
    return res;
  }
  const std::unique_ptr<ForkServer>& srv = servers_[slot];
  if (!srv || srv->ended || srv->program != req.program || srv->argv != req.argv) {
    if (!start_server(req, slot, &res.error)) return res;
  }
  int p[6];  // stdin (r, w), stdout (r, w), stderr (r, w)
  int made = 0;
  while (made < 3 && ::pipe2(p + 2 * made, O_CLOEXEC) == 0) ++made;
  if (made < 3) {
    res.error = std::string("pipe: ") + std::strerror(errno);
    for (int i = 0; i < 2 * made; ++i) ::close(p[i]);
    return res;
  }
  uint64_t oom_before = 0;
  if (cgroups_) {
    cgroups_->reset_peak(cell);
    oom_before = cgroups_->oom_kills(cell);
  }
  const double wall = req.wall_s > 0 ? req.wall_s : lim.wall_s;
  const double cpu = lim.cpu_s > 0 ? lim.cpu_s : std::ceil(wall) + 1;
  const std::string text = std::to_string(std::max<long long>(1, std::llround(1000.0 * wall))) + " " +
                           std::to_string(std::max<long long>(1, std::llround(std::ceil(cpu))));
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wall + kReplyGraceS));
  const bool sent = send_with_fds(srv->sock, text, {p[0], p[3], p[5], (*pass)[0], (*pass)[1]});
  const int send_errno = errno;
  const Ack ack = sent ? wait_ack(srv->sock, deadline) : Ack::kGone;
  ::close(p[0]), ::close(p[3]), ::close(p[5]);
  if (ack != Ack::kStarted) {
    ::close(p[1]), ::close(p[2]), ::close(p[4]);
    const std::string how = stop_server(slot);
    // Ended before it took the request: a new server gets it (our copies of the pair's pipes are intact).
    *retry = ack == Ack::kGone;
    res.status = ack == Ack::kLate ? RunStatus::kTimeout : RunStatus::kSandboxError;
    const std::string what = ack == Ack::kLate ? "took no request before the deadline"
                             : sent            ? "ended"
                                               : std::string("refused it: ") + std::strerror(send_errno);
    res.error = "the fork server " + what + " (" + how + ")";
    return res;
  }
  for (int fd : *pass) ::close(fd);  // the child has its own copies now
  pass->clear();
  Served io(srv->sock, p[1], p[2], p[4]);
  io.run(req.stdin_data, lim, deadline, &res);
  measure_served(io, start, cgroups_.get(), cell, lim, &res);
  if (io.late || io.reply.gone) {
    const std::string how = stop_server(slot);
    if (!io.late) res.error = "the fork server ended during the run (" + how + ")";
  }
  const bool oom = cgroups_ && cgroups_->oom_kills(cell) > oom_before;
  classify_served(io.reply, io.output_limit, io.late, oom, wall, &res);
  return res;
}

}  // namespace zerorl::verifiers::sandbox
