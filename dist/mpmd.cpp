// dist/mpmd.cpp: MpmdMembership (dist/mpmd.h).
#include "dist/mpmd.h"

#include "core/error.h"
#include "core/log.h"

#ifdef ZERORL_HAVE_MPI
#include "dist/mpi_watch.h"
#endif

namespace zerorl::dist {

MpmdMembership::MpmdMembership(const Context& ctx) {
  if (!ctx.mpmd_joins_mpi() || ctx.app == 0) return;
#ifdef ZERORL_HAVE_MPI
  joined_ = init_mpi();
  if (!joined_) return;
  ZRL_INFO(
      "MPMD launch with {} data-parallel ranks: this process (app context {}) joined MPI, talks TCP only",
      ctx.app_sizes[0], ctx.app);
#else
  ZRL_FAIL(
      "this MPMD launch runs {} data-parallel ranks beside this process (app context {}): MPI_Init there "
      "waits for every process, but this zerorl was built without MPI",
      ctx.app_sizes[0], ctx.app);
#endif
}

void MpmdMembership::leave() {
#ifdef ZERORL_HAVE_MPI
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (joined_ && !finalized) MPI_Finalize();
#endif
  joined_ = false;
}

}  // namespace zerorl::dist
