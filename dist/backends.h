// dist/backends.h: constructors of the communicator backends, for make_communicator only (not a public
// interface: include communicator.h). Not here: the backends' code.
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace zerorl::dist::detail {

std::unique_ptr<Communicator> make_local();
#ifdef ZERORL_HAVE_MPI
std::unique_ptr<Communicator> make_mpi(const Context& ctx, double timeout_s);
#endif
#ifdef ZERORL_HAVE_NCCL
// Bootstraps through MPI (the unique id goes out by MPI_Bcast); MPI also watches for lost ranks.
std::unique_ptr<Communicator> make_nccl(const Context& ctx, double timeout_s);
#endif

}  // namespace zerorl::dist::detail
