// dist/mpmd.h: a rollout worker's part in an MPMD mpirun beside data-parallel trainer ranks
// (`mpirun -np 2 zerorl train ... : -np 2 zerorl rollout-worker ...`). MPI_Init waits for every process of
// the launch, so where the ranks open an MPI world (Context::mpmd_joins_mpi) each worker joins MPI too. It
// never communicates over MPI (its work comes over the TCP control plane) and leaves at a clean end
// (MPI_Finalize waits for the whole launch); a worker that ends with an error exits without finalising, and
// mpirun ends the job, as it does for any process that exits non-zero. Not here: the ranks' own
// communicator (communicator.h).
#pragma once

#include "dist/context.h"

namespace zerorl::dist {

class MpmdMembership {
 public:
  // Joins MPI where ctx.mpmd_joins_mpi() and this process is not of the first app context; else nothing.
  // Throws naming the launch where MPI is needed but this binary was built without it.
  explicit MpmdMembership(const Context& ctx);
  ~MpmdMembership() = default;  // without leave(): no MPI_Finalize (the error path, see above)
  MpmdMembership(const MpmdMembership&) = delete;
  MpmdMembership& operator=(const MpmdMembership&) = delete;
  // MPI_Finalize where this object joined MPI: after the trainer said goodbye.
  void leave();

 private:
  bool joined_ = false;
};

}  // namespace zerorl::dist
