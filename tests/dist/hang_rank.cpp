// tests/dist/hang_rank.cpp: a 2-rank MPI program for the watchdog test (test_dp_runs.cpp): rank 1 stays
// alive but never reaches the barrier (the hang mpirun cannot see); rank 0 must end the job within
// dist.timeout_s (argv[1]) naming rank 1. Exits 0 only if the barrier completed, which it must not.
#include <chrono>
#include <cstdlib>
#include <thread>

#include "dist/communicator.h"

int main(int argc, char** argv) {
  using namespace zerorl::dist;
  CommOptions o;
  o.backend = "mpi";
  o.timeout_s = argc > 1 ? std::atof(argv[1]) : 3.0;
  auto comm = make_communicator(discover(), o);
  if (comm->rank() == 1) {
    std::this_thread::sleep_for(std::chrono::seconds(300));  // alive, hung: mpirun sees nothing wrong
    return 0;
  }
  comm->barrier();
  return 0;
}
