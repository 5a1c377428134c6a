// verifiers/external/process_pool.cpp: the worker pool behind ExternalVerifier. Not here: JSON shapes
// (protocol.cpp). Processes are started with posix_spawnp rather than Boost.Process because each worker
// needs a process group of its own (so killing it also ends the children it started) and the pool must
// control reaping exactly; the pipes are driven by Boost.Asio on one thread owned by the pool.
#include "verifiers/external/process_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"

extern char** environ;

namespace zerorl::verifiers::external {
namespace asio = boost::asio;
namespace {

struct Batch {
  std::mutex m;
  std::condition_variable cv;
  std::vector<Verdict> verdicts;
  size_t remaining = 0;
  void resolve(size_t i, Verdict v) {
    std::lock_guard<std::mutex> lock(m);
    verdicts[i] = std::move(v);
    if (--remaining == 0) cv.notify_all();
  }
};

struct Job {
  int64_t id = 0;
  std::string line;  // the request, '\n'-terminated
  std::shared_ptr<Batch> batch;
  size_t index = 0;
  int crashes = 0;  // workers that died holding this job
};

struct Worker {
  Worker(asio::io_context& io, size_t max_bytes) : in(io), out(io), buf(max_bytes), timer(io) {}
  pid_t pid = -1;
  asio::posix::stream_descriptor in;   // the worker's stdin: we write requests
  asio::posix::stream_descriptor out;  // the worker's stdout: we read replies
  asio::streambuf buf;
  asio::steady_timer timer;
  std::optional<Job> job;
  bool watching = false;  // an idle watch (async_wait on `out`) is pending
  bool writing = false;   // the request is not fully written yet (its buffer lives in `job`)
  bool dead = false;
};
using WorkerPtr = std::shared_ptr<Worker>;

std::string describe_exit(int st) {
  if (WIFEXITED(st)) return fmt::format("exited with code {}", WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return fmt::format("was killed by signal {}", WTERMSIG(st));
  return "stopped";
}

// Kills the worker's process group (ours: created at spawn, the leader not yet reaped, so the id
// cannot have been reused) and reaps the leader. Returns how it ended.
// `wait_s`: how long to let a worker that closed its pipes finish exiting, so its exit code is known.
std::string kill_and_reap(pid_t pid, double wait_s = 0.0) {
  int st = 0;
  siginfo_t info{};
  bool exited = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  while (true) {
    info.si_pid = 0;
    exited =
        waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
    if (exited || std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::kill(-pid, SIGKILL);
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return exited ? describe_exit(st) : "was killed";
}

// Whether a pipe has something to say right now: data, EOF or an error. asio can complete a wait with no
// readiness behind it (an epoll event queued for a closed descriptor whose state object a new worker's
// pipe reused), so an idle watch asks the kernel before it treats a wake as an exit.
bool pipe_has_news(int fd) {
  pollfd p{fd, POLLIN, 0};
  int rc = 0;
  while ((rc = ::poll(&p, 1, 0)) < 0 && errno == EINTR) {
  }
  return rc != 0;  // an error from poll itself is news too: the worker is replaced rather than trusted
}

std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  bool has_unbuffered = false;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    env.emplace_back(*e);
    has_unbuffered = has_unbuffered || env.back().rfind("PYTHONUNBUFFERED=", 0) == 0;
  }
  // A Python worker using print() without flush would otherwise block-buffer its replies.
  if (!has_unbuffered) env.emplace_back("PYTHONUNBUFFERED=1");
  return env;
}

}  // namespace

struct ProcessPool {
  ExternalOptions opt;
  std::vector<std::string> env;
  asio::io_context io;
  std::vector<WorkerPtr> slots;  // nullptr: the slot's worker died after max_restarts was spent
  std::deque<Job> queue;
  std::atomic<int64_t> next_id{0};
  mutable std::mutex stats_m;
  ExternalStats stats;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;

  explicit ProcessPool(ExternalOptions o) : opt(std::move(o)), env(child_environment()) {
    ZRL_CHECK(!opt.command.empty(),
              "external verifier '{}': 'command' is empty (give an argv list, e.g. "
              "[python3, verifier.py])",
              opt.name);
    ZRL_CHECK(opt.workers >= 1, "external verifier '{}': workers = {} must be >= 1", opt.name, opt.workers);
    ZRL_CHECK(opt.timeout_s > 0, "external verifier '{}': timeout_s = {} must be > 0", opt.name,
              opt.timeout_s);
    try {
      for (int i = 0; i < opt.workers; ++i) slots.push_back(spawn());
    } catch (...) {
      reap_all(0.0);
      throw;
    }
    guard.emplace(io.get_executor());
    thread = std::thread([this] {
      sigset_t set;  // a write to a dead worker must fail with EPIPE, not kill the process
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
      io.run();
    });
  }

  ~ProcessPool() {
    guard.reset();
    io.stop();
    if (thread.joinable()) thread.join();
    reap_all(1.0);
  }

  WorkerPtr spawn() {
    int to_child[2], from_child[2];
    ZRL_CHECK(pipe2(to_child, O_CLOEXEC) == 0, "pipe2: {}", std::strerror(errno));
    if (pipe2(from_child, O_CLOEXEC) != 0) {
      close(to_child[0]);
      close(to_child[1]);
      ZRL_FAIL("pipe2: {}", std::strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);  // a new group led by the worker
    sigset_t none, pipe_default;
    sigemptyset(&none);
    sigemptyset(&pipe_default);
    sigaddset(&pipe_default, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &pipe_default);
    std::vector<char*> argv, envp;
    for (auto& a : opt.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(to_child[0]);
    close(from_child[1]);
    if (rc != 0) {
      close(to_child[1]);
      close(from_child[0]);
      ZRL_FAIL("external verifier '{}': cannot start command '{}': {} (check verifiers.external.{}.command)",
               opt.name, opt.command.front(), std::strerror(rc), opt.name);
    }
    auto w = std::make_shared<Worker>(io, opt.max_reply_bytes);
    w->pid = pid;
    w->in.assign(to_child[1]);
    w->out.assign(from_child[0]);
    std::lock_guard<std::mutex> lock(stats_m);
    ++stats.live_workers;
    return w;
  }

  // Shutdown: EOF on every worker's stdin, up to `grace_s` for them to exit, then kill and reap.
  void reap_all(double grace_s) {
    for (auto& w : slots)
      if (w) w->in.close();
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
    for (auto& w : slots) {
      if (!w) continue;
      siginfo_t info{};
      while (std::chrono::steady_clock::now() < until) {
        info.si_pid = 0;
        if (waitid(P_PID, static_cast<id_t>(w->pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info.si_pid == w->pid)
          break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      kill_and_reap(w->pid);
      w->out.close();
      w.reset();
    }
  }

  void count(int64_t ExternalStats::*field) {
    std::lock_guard<std::mutex> lock(stats_m);
    ++(stats.*field);
  }

  // Gives queued jobs to idle workers; idle workers left over are watched so that one exiting between
  // requests is reaped and replaced at once (no zombie, no failed request later).
  void dispatch() {
    bool any_live = false;
    for (auto& w : slots) {
      if (!w) continue;
      any_live = true;
      if (w->job) continue;
      if (!queue.empty()) {
        Job j = std::move(queue.front());
        queue.pop_front();
        start(w, std::move(j));
      } else if (!w->watching) {
        watch_idle(w);
      }
    }
    if (any_live || queue.empty()) return;
    const std::string why = fmt::format(
        "external verifier '{}': no worker left (max_restarts = {} spent; see the workers' stderr)", opt.name,
        opt.max_restarts);
    while (!queue.empty()) {
      queue.front().batch->resolve(queue.front().index, failed_verdict("error", why));
      queue.pop_front();
    }
  }

  void watch_idle(const WorkerPtr& w) {
    w->watching = true;
    w->out.async_wait(
        asio::posix::stream_descriptor::wait_read, [this, w](const boost::system::error_code& ec) {
          if (ec || w->dead || w->job) return;
          if (!pipe_has_news(w->out.native_handle())) {
            w->watching = false;
            return watch_idle(w);  // a spurious wake: the worker is alive and silent
          }
          // Readable while idle: the worker exited (EOF) or printed out of turn. Either way it is replaced;
          // a clean exit (code 0, e.g. a worker recycling itself) does not count against max_restarts.
          w->dead = true;
          w->in.close();
          w->out.close();
          const std::string how = kill_and_reap(w->pid, 0.2);
          const bool clean = how == "exited with code 0";
          if (!clean) {
            count(&ExternalStats::crashes);
            ZRL_WARN("external verifier '{}': idle worker {} {}; replaced", opt.name, w->pid, how);
          }
          replace(w, !clean);
          dispatch();
        });
  }

  void start(const WorkerPtr& w, Job job) {
    const int64_t id = job.id;
    if (w->watching) {
      w->watching = false;
      w->out.cancel();  // ends the idle watch; its handler sees operation_aborted
    }
    w->job = std::move(job);
    w->timer.expires_after(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(opt.timeout_s)));
    w->timer.async_wait([this, w, id](const boost::system::error_code& ec) {
      if (ec || !current(w, id)) return;
      count(&ExternalStats::timeouts);
      fail(w, "timeout", fmt::format("no reply within {} s; worker {} killed", opt.timeout_s, w->pid), false);
    });
    w->writing = true;
    asio::async_write(w->in, asio::buffer(w->job->line),
                      [this, w, id](const boost::system::error_code& ec, size_t) {
                        if (!current(w, id)) return;
                        w->writing = false;
                        if (ec) crashed(w);
                      });
    read_reply(w, id);
  }

  static bool current(const WorkerPtr& w, int64_t id) { return !w->dead && w->job && w->job->id == id; }

  void crashed(const WorkerPtr& w) {
    count(&ExternalStats::crashes);
    fail(w, "error", fmt::format("worker {} died before replying", w->pid), true);
  }

  void malformed(const WorkerPtr& w, const std::string& problem) {
    count(&ExternalStats::malformed);
    fail(w, "error", fmt::format("malformed reply from worker {}: {}; worker replaced", w->pid, problem),
         false);
  }

  void read_reply(const WorkerPtr& w, int64_t id) {
    asio::async_read_until(w->out, w->buf, '\n',
                           [this, w, id](const boost::system::error_code& ec, size_t n) {
                             if (!current(w, id)) return;
                             if (ec == asio::error::not_found)
                               return malformed(w, "reply line longer than max_reply_bytes");
                             if (ec) return crashed(w);
                             const char* data = static_cast<const char*>(w->buf.data().data());
                             std::string line(data, n);
                             w->buf.consume(n);
                             if (line.find_first_not_of(" \t\r\n") == std::string::npos)
                               return read_reply(w, id);
                             Json reply = parse_json_or_discarded(line);
                             if (reply.is_discarded())
                               return malformed(w, "not JSON: " + line.substr(0, 200));
                             Verdict v;
                             std::string problem;
                             if (!parse_reply(reply, id, v, problem)) return malformed(w, problem);
                             // A reply before the request was fully written: the worker is not following the
                             // protocol.
                             if (w->writing) return malformed(w, "replied before reading the whole request");
                             w->timer.cancel();
                             Job job = std::move(*w->job);
                             w->job.reset();
                             count(&ExternalStats::served);
                             job.batch->resolve(job.index, std::move(v));
                             dispatch();
                           });
  }

  // The worker is written off: kill and reap it, replace it while restarts remain, then give its job a
  // verdict (or, for a crash, one more try on another worker).
  void fail(const WorkerPtr& w, const std::string& status, std::string reason, bool retry) {
    w->dead = true;
    w->timer.cancel();
    w->in.close();
    w->out.close();
    const std::string how = kill_and_reap(w->pid, retry ? 0.2 : 0.0);
    Job job = std::move(*w->job);
    w->job.reset();
    replace(w);
    if (retry && job.crashes == 0) {
      ++job.crashes;
      queue.push_front(std::move(job));
    } else {
      if (retry) reason += " (" + how + "; twice on this sample)";
      job.batch->resolve(job.index,
                         failed_verdict(status, "external verifier '" + opt.name + "': " + reason));
    }
    dispatch();
  }

  void replace(const WorkerPtr& w, bool counts = true) {
    for (auto& slot : slots) {
      if (slot != w) continue;
      slot.reset();
      {
        std::lock_guard<std::mutex> lock(stats_m);
        --stats.live_workers;
        if (!counts) {
          ++stats.recycled;
        } else if (stats.restarts >= opt.max_restarts) {
          ZRL_ERROR("external verifier '{}': max_restarts = {} spent; running with fewer workers", opt.name,
                    opt.max_restarts);
          return;
        } else {
          ++stats.restarts;
        }
      }
      try {
        slot = spawn();
      } catch (const std::exception& e) {
        ZRL_ERROR("{}", e.what());
      }
      return;
    }
  }

  std::vector<Verdict> run(const std::vector<Sample>& samples) {
    if (samples.empty()) return {};
    auto batch = std::make_shared<Batch>();
    batch->verdicts.resize(samples.size());
    batch->remaining = samples.size();
    std::vector<Job> jobs(samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      jobs[i].id = next_id.fetch_add(1);
      jobs[i].line =
          request_json(jobs[i].id, samples[i]).dump(-1, ' ', false, Json::error_handler_t::replace);
      jobs[i].line += '\n';
      jobs[i].batch = batch;
      jobs[i].index = i;
    }
    asio::post(io, [this, jobs = std::move(jobs)]() mutable {
      for (auto& j : jobs) queue.push_back(std::move(j));
      dispatch();
    });
    std::unique_lock<std::mutex> lock(batch->m);
    batch->cv.wait(lock, [&] { return batch->remaining == 0; });
    return std::move(batch->verdicts);
  }

  std::vector<pid_t> pids() {
    std::promise<std::vector<pid_t>> p;
    asio::post(io, [&] {
      std::vector<pid_t> out;
      for (auto& w : slots)
        if (w) out.push_back(w->pid);
      p.set_value(out);
    });
    return p.get_future().get();
  }
};

ExternalVerifier::ExternalVerifier(ExternalOptions options)
    : pool_(std::make_unique<ProcessPool>(std::move(options))) {}
ExternalVerifier::~ExternalVerifier() = default;

std::string ExternalVerifier::name() const { return pool_->opt.name; }

std::vector<Verdict> ExternalVerifier::verify_batch(const std::vector<Sample>& samples) const {
  return pool_->run(samples);
}

ExternalStats ExternalVerifier::stats() const {
  std::lock_guard<std::mutex> lock(pool_->stats_m);
  return pool_->stats;
}

std::vector<pid_t> ExternalVerifier::worker_pids() const { return pool_->pids(); }

}  // namespace zerorl::verifiers::external
