// dist/mpi_watch.cpp: deadlines, liveness probes and the abort path of MPI-bootstrapped launches (see
// mpi_watch.h). Not here: the collectives.
#include "dist/mpi_watch.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

namespace zerorl::dist {

bool init_mpi() {
  int initialized = 0, provided = 0;
  MPI_Initialized(&initialized);
  if (initialized) return false;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  return true;
}

MPI_Comm app_communicator(const Context& ctx) {
  MPI_Comm comm = MPI_COMM_NULL;
  if (!ctx.mpmd()) {
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    return comm;
  }
  MPI_Group world = MPI_GROUP_NULL, app = MPI_GROUP_NULL;
  MPI_Comm_group(MPI_COMM_WORLD, &world);
  const int first = ctx.app_first();
  int range[1][3] = {{first, first + ctx.world_size - 1, 1}};
  MPI_Group_range_incl(world, 1, range, &app);
  MPI_Comm_create_group(MPI_COMM_WORLD, app, /*tag=*/ctx.app, &comm);
  MPI_Group_free(&app);
  MPI_Group_free(&world);
  return comm;
}

namespace {
using Clock = std::chrono::steady_clock;
Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}
constexpr int kProbeTag = 7311;

std::string mpi_error_string(int rc) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, buf, &len);
  return std::string(buf, static_cast<size_t>(len));
}

// Polls `test` (true when done) until the deadline; sleeps a little once the first spins found nothing, so a
// long wait does not burn a core.
bool poll_until(Clock::time_point deadline, const std::function<bool()>& test) {
  for (int spins = 0;; ++spins) {
    if (test()) return true;
    if (Clock::now() > deadline) return false;
    if (spins > 2000) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}
}  // namespace

MpiWatch::MpiWatch(MPI_Comm comm, int rank, int size, double timeout_s)
    : rank_(rank), size_(size), timeout_s_(timeout_s) {
  MPI_Comm_dup(comm, &probe_comm_);
  MPI_Comm_set_errhandler(probe_comm_, MPI_ERRORS_RETURN);
}

MpiWatch::~MpiWatch() {
  if (probe_comm_ != MPI_COMM_NULL) MPI_Comm_free(&probe_comm_);
}

void MpiWatch::check(int rc, const std::string& what) {
  if (rc != MPI_SUCCESS) lost(what, "MPI error: " + mpi_error_string(rc));
}

void MpiWatch::wait(MPI_Request& req, const std::string& what) {
  int rc = MPI_SUCCESS;
  const auto deadline = after(timeout_s_);
  const bool done = poll_until(deadline, [&] {
    int flag = 0;
    rc = MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
    if (rc == MPI_SUCCESS && flag == 0) peer_gave_up(what);
    return rc != MPI_SUCCESS || flag != 0;
  });
  ++seq_;
  if (rc != MPI_SUCCESS) lost(what, "MPI error: " + mpi_error_string(rc));
  if (!done) lost(what, fmt::format("not complete after dist.timeout_s = {} s", timeout_s_));
}

void MpiWatch::wait_until(const std::function<bool()>& done, const std::string& what) {
  const auto deadline = after(timeout_s_);
  bool ok = false;
  try {
    ok = poll_until(deadline, [&] {
      if (done()) return true;
      peer_gave_up(what);
      return false;
    });
  } catch (const std::exception& e) {
    lost(what, e.what());
  }
  ++seq_;
  if (!ok) lost(what, fmt::format("not complete after dist.timeout_s = {} s", timeout_s_));
}

void MpiWatch::peer_gave_up(const std::string& what) {
  int flag = 0;
  MPI_Status st;
  if (MPI_Iprobe(MPI_ANY_SOURCE, kProbeTag, probe_comm_, &flag, &st) == MPI_SUCCESS && flag != 0) {
    lost(what, fmt::format("rank {} gave up on a collective (its message above says why)", st.MPI_SOURCE));
  }
}

// Every live rank that reaches this (stuck in the same collective, or failing in its own) answers the
// probes of the others; a dead or hung rank answers nothing. Grace: long enough for peers whose deadline
// started a little later.
std::vector<int> MpiWatch::silent_peers(double grace_s) {
  std::vector<MPI_Request> reqs;
  std::vector<long long> in(static_cast<size_t>(size_), 0);
  std::vector<int> peers;
  const long long out = seq_;
  for (int q = 0; q < size_; ++q) {
    if (q == rank_) continue;
    MPI_Request s = MPI_REQUEST_NULL, r = MPI_REQUEST_NULL;
    MPI_Isend(&out, 1, MPI_LONG_LONG, q, kProbeTag, probe_comm_, &s);
    MPI_Request_free(&s);  // the send may never complete when q is gone
    MPI_Irecv(&in[static_cast<size_t>(q)], 1, MPI_LONG_LONG, q, kProbeTag, probe_comm_, &r);
    reqs.push_back(r);
    peers.push_back(q);
  }
  std::vector<bool> answered(peers.size(), false);
  const auto deadline = after(grace_s);
  poll_until(deadline, [&] {
    bool all = true;
    for (size_t i = 0; i < reqs.size(); ++i) {
      if (answered[i]) continue;
      int flag = 0;
      if (MPI_Test(&reqs[i], &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag != 0) answered[i] = true;
      all = all && answered[i];
    }
    return all;
  });
  std::vector<int> silent;
  for (size_t i = 0; i < peers.size(); ++i) {
    if (!answered[i]) silent.push_back(peers[i]);
  }
  return silent;
}

void MpiWatch::lost(const std::string& what, const std::string& why) {
  // The fallback: if MPI_Abort itself hangs (its runtime lost too), the process still ends.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    _exit(3);
  }).detach();
  std::fprintf(stderr, "zerorl: rank %d: collective #%lld (%s) failed: %s; probing the other ranks...\n",
               rank_, seq_, what.c_str(), why.c_str());
  std::fflush(stderr);
  const auto silent = silent_peers(std::min(5.0, timeout_s_));
  std::string names;
  for (int q : silent) names += (names.empty() ? "" : ", ") + std::to_string(q);
  std::fprintf(stderr,
               "zerorl: rank %d: lost rank(s) %s (no answer to a liveness probe: dead, hung, or slower than "
               "dist.timeout_s = %g s). Ending every rank; `zerorl train --resume auto` continues from the "
               "newest checkpoint.\n",
               rank_,
               silent.empty() ? "none found (every peer answered: a mismatched collective?)" : names.c_str(),
               timeout_s_);
  std::fflush(stderr);
  if (on_abort_) on_abort_();
  MPI_Abort(MPI_COMM_WORLD, 3);
  _exit(3);
}

}  // namespace zerorl::dist
