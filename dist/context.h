// dist/context.h: who this process is in a launch (rank, world size, local rank), discovered from the
// launcher's environment (mpirun, srun, torchrun). Not here: communicators (MPI/NCCL) and collectives
// (dist/communicator.h).
#pragma once

#include <functional>
#include <string>

namespace zerorl::dist {

struct Context {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string launcher = "none";  // "mpirun", "srun", "torchrun" or "none"
  bool is_main() const { return rank == 0; }
};

// Reads OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK}, then SLURM_{PROCID,NTASKS,LOCALID}, then
// RANK/WORLD_SIZE/LOCAL_RANK. `getenv` is injectable for tests. A malformed value throws naming the variable.
Context discover(const std::function<const char*(const char*)>& getenv_fn = nullptr);

}  // namespace zerorl::dist
