// dist/mpi_watch.h: the deadline on every collective of a launch that has MPI. Waits poll a request (or any
// completion test) against dist.timeout_s; on the deadline or an MPI error, the rank sends a liveness probe
// to every peer, names the peers that do not answer within a short grace, prints that on stderr and aborts
// the job (MPI_Abort: mpirun/srun then end every rank; a fallback _exit if even that hangs).
// Not here: the collectives themselves (mpi_communicator.cpp, nccl_communicator.cpp).
#pragma once

#include <mpi.h>

#include <functional>
#include <string>
#include <vector>

#include "dist/context.h"

namespace zerorl::dist {

// MPI_Init_thread (funneled) unless the process already did; true where this call initialised MPI (the
// caller then finalises it).
bool init_mpi();

// A new communicator of this process's ranks: MPI_COMM_WORLD duplicated, or in an MPMD launch its own app
// context's processes (MPI_Comm_create_group: collective over those only, so the rollout workers, which
// joined MPI but never call it, are not waited for).
MPI_Comm app_communicator(const Context& ctx);

class MpiWatch {
 public:
  // comm: the backend's communicator (duplicated here for the probes). timeout_s: dist.timeout_s.
  MpiWatch(MPI_Comm comm, int rank, int size, double timeout_s);
  ~MpiWatch();
  MpiWatch(const MpiWatch&) = delete;
  MpiWatch& operator=(const MpiWatch&) = delete;

  // rc of an MPI call: anything but MPI_SUCCESS ends the job, naming `what`.
  void check(int rc, const std::string& what);
  // Until `req` completes; the deadline or an error ends the job naming `what`.
  void wait(MPI_Request& req, const std::string& what);
  // Until done() is true (NCCL: the stream's event); done() may throw (an async NCCL error) to end the job.
  void wait_until(const std::function<bool()>& done, const std::string& what);
  // Prints who is lost (probing the peers), then aborts the job. Never returns.
  [[noreturn]] void lost(const std::string& what, const std::string& why);
  // Hook run before MPI_Abort (NCCL: ncclCommAbort so no kernel stays in a collective).
  void on_abort(std::function<void()> fn) { on_abort_ = std::move(fn); }

 private:
  std::vector<int> silent_peers(double grace_s);
  void peer_gave_up(const std::string& what);  // a probe waiting from a peer: the job is ending, join in

  MPI_Comm probe_comm_ = MPI_COMM_NULL;
  int rank_, size_;
  double timeout_s_;
  long long seq_ = 0;  // collectives so far, for messages
  std::function<void()> on_abort_;
};

}  // namespace zerorl::dist
