// tests/dist/test_mpirun.cpp: dist::discover inside a real OpenMPI launch. ctest runs this binary under
// `mpirun -np 2 --oversubscribe` (label dist): each process's rank, world size and local rank must equal
// what MPI itself reports. Not here: parsing hand-made environments (test_context.cpp, label unit).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "dist/context.h"

namespace zerorl::dist {
namespace {

TEST(MpirunLaunch, DiscoverEqualsMpiCommWorld) {
  int rank = -1, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ASSERT_GE(size, 2) << "run under `mpirun -np 2` (ctest -L dist does): one process tests nothing";
  const Context c = discover();
  EXPECT_EQ(c.launcher, "mpirun");
  EXPECT_EQ(c.rank, rank);
  EXPECT_EQ(c.world_size, size);
  EXPECT_EQ(c.is_main(), rank == 0);
  MPI_Comm node;  // the processes sharing this host: local rank is the rank among them
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int local = -1;
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  EXPECT_EQ(c.local_rank, local);
  std::vector<int> ranks(static_cast<size_t>(size), -1), want(static_cast<size_t>(size));
  MPI_Allgather(&c.rank, 1, MPI_INT, ranks.data(), 1, MPI_INT, MPI_COMM_WORLD);
  std::sort(ranks.begin(), ranks.end());
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(ranks, want) << "every process must discover a different rank";
}

}  // namespace
}  // namespace zerorl::dist

// MPI around GoogleTest; every process exits with the worst result, so mpirun reports any rank's failure.
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int result = RUN_ALL_TESTS(), worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
