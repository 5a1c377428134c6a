// dist/context.h: who this process is in a launch (rank, world size, local rank), discovered from the
// launcher's environment (mpirun, srun, torchrun). Not here: communicators (MPI/NCCL) and collectives
// (dist/communicator.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace zerorl::dist {

struct Context {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string launcher = "none";  // "mpirun", "srun", "torchrun" or "none"
  // An MPMD launch (`mpirun -np 1 zerorl train ... : -np 2 zerorl rollout-worker ...`) has several app
  // contexts; rank, world size and local rank above are then this process's app context's, not MPI's
  // (MPI_COMM_WORLD spans every program of the launch, which MPI_Init would wait for).
  int app = 0;                 // this process's app context (0 unless MPMD)
  int apps = 1;                // app contexts in the launch
  std::vector<int> app_sizes;  // processes per app context, in order (empty unless MPMD)
  bool is_main() const { return rank == 0; }
  // The MPI world rank of this app context's rank 0: the sizes of the app contexts before it.
  int app_first() const {
    int first = 0;
    for (int i = 0; i < app && i < static_cast<int>(app_sizes.size()); ++i)
      first += app_sizes[static_cast<size_t>(i)];
    return first;
  }
  bool mpmd() const { return apps > 1; }
  // An MPMD launch whose first app context (the trainer) has several processes: data-parallel ranks beside
  // rollout workers. Every process of it joins MPI (MPI_Init waits for all of them); the ranks talk over a
  // communicator of their own app context, the workers over TCP only (dist/mpmd.h).
  bool mpmd_joins_mpi() const { return mpmd() && !app_sizes.empty() && app_sizes[0] > 1; }
};

// Reads OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK}, then SLURM_{PROCID,NTASKS,LOCALID}, then
// RANK/WORLD_SIZE/LOCAL_RANK. Under mpirun (OpenMPI 4.1) an MPMD launch is read from OMPI_NUM_APP_CTX,
// OMPI_APP_CTX_NUM_PROCS (each app context's size, in order) and OMPI_MCA_orte_app_num (this one's index):
// ranks are numbered app by app, so the app's rank is the world rank less the sizes of the apps before it;
// the local rank is the app's rank on one node (LOCAL_SIZE == SIZE), else mpirun's node-local rank (right
// for the first app context with mpirun's default by-slot mapping). Slurm's heterogeneous jobs need no
// special case when each component is its own `srun` step (scripts/slurm/rollout_workers.sbatch).
// All that only with `mpmd_apps` (a trainer in rollout.mode = workers, whose MPMD partners are its workers):
// otherwise every process of an mpirun is one world, as a data-parallel launch of several programs (or of one
// program with per-rank arguments) expects, and the ranks' config check catches programs that disagree.
// `getenv` is injectable for tests. A malformed value throws naming the variable.
Context discover(const std::function<const char*(const char*)>& getenv_fn = nullptr, bool mpmd_apps = false);

}  // namespace zerorl::dist
