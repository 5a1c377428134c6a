// tests/dist/test_communicator.cpp: the world-size-1 communicator (what `zerorl train` without mpirun
// uses): every collective is the identity, no MPI is initialised, gradient buckets leave the gradients'
// bytes untouched, bad dist.* values are errors naming the key, and an MPMD launch never initialises MPI.
// Not here: MPI (test_comm_mpirun.cpp).
#include <gtest/gtest.h>

#include "core/error.h"
#include "dist/communicator.h"
#include "dist/grad_sync.h"

namespace zerorl::dist {
namespace {

TEST(LocalComm, EveryCollectiveIsTheIdentityAtWorldSizeOne) {
  auto c = make_communicator(Context{}, CommOptions{});
  EXPECT_EQ(c->backend(), "local");
  EXPECT_EQ(c->world_size(), 1);
  EXPECT_EQ(c->rank(), 0);
  const auto x = torch::randn({3, 4});
  auto y = x.clone();
  c->all_reduce(y, ReduceOp::kSum);
  c->all_reduce(y, ReduceOp::kMax);
  c->all_reduce_async(y)->wait();
  c->broadcast(y, 0);
  EXPECT_TRUE(torch::equal(x, y));
  EXPECT_TRUE(torch::equal(c->all_gather(x), x.unsqueeze(0)));
  EXPECT_TRUE(torch::equal(c->reduce_scatter(x), x.reshape({-1})));
  c->barrier();
  EXPECT_THROW(c->broadcast(y, 1), Error);
}

TEST(LocalComm, GradSyncAndChecksAreNoOpsInOneProcess) {
  auto c = make_communicator(Context{}, CommOptions{});
  std::vector<torch::Tensor> g{torch::randn({5}).to(torch::kBFloat16), torch::randn({2, 2})};
  const auto before0 = g[0].clone(), before1 = g[1].clone();
  all_reduce_buckets(*c, g, 8);
  EXPECT_TRUE(torch::equal(g[0], before0));  // not even a round trip through fp32
  EXPECT_TRUE(torch::equal(g[1], before1));
  EXPECT_TRUE(ranks_differing(*c, 123).empty());
  EXPECT_FALSE(first_divergent_tensor(*c, {"a", "b"}, g).has_value());
}

TEST(LocalComm, BadOptionsNameTheKey) {
  Context two;
  two.world_size = 2, two.rank = 0, two.launcher = "mpirun";
  CommOptions bad;
  bad.backend = "gloo";
  try {
    make_communicator(Context{}, bad);
    ADD_FAILURE() << "no error for dist.backend = gloo";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dist.backend"), std::string::npos) << e.what();
  }
  CommOptions nccl_on_cpu;
  nccl_on_cpu.backend = "nccl";
  try {
    make_communicator(two, nccl_on_cpu);
    ADD_FAILURE() << "no error for nccl on a CPU run";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dist.backend = nccl"), std::string::npos) << e.what();
  }
  CommOptions zero_timeout;
  zero_timeout.timeout_s = 0;
  EXPECT_THROW(make_communicator(Context{}, zero_timeout), Error);
}

// An MPMD mpirun (`train : rollout-worker`): one trainer process with dist.backend auto is the local backend
// (no MPI_Init, which would wait for the workers); data-parallel ranks may open MPI only as the first app
// context with 2 or more processes (the workers then join MPI, dist/mpmd.h). Anything else is an error
// naming the launch, raised before MPI is touched (this test runs without mpirun).
TEST(LocalComm, MpmdLaunchGetsTheLocalBackendOrAClearError) {
  Context trainer;
  trainer.launcher = "mpirun", trainer.apps = 2, trainer.app_sizes = {1, 2};
  EXPECT_EQ(make_communicator(trainer, CommOptions{})->backend(), "local");
  Context second = trainer;  // ranks of the second app context: the workers did not join MPI for them
  second.app = 1, second.world_size = 2;
  Context second_of_two = second;  // the first app context has 2, but these ranks are not it
  second_of_two.app_sizes = {2, 2};
  CommOptions mpi;
  mpi.backend = "mpi";
  for (const auto& [ctx, options] :
       {std::pair{trainer, mpi}, {second, CommOptions{}}, {second, mpi}, {second_of_two, CommOptions{}}}) {
    try {
      make_communicator(ctx, options);
      ADD_FAILURE() << "no error for app context " << ctx.app << " of " << ctx.world_size << " with "
                    << options.backend;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("2 app contexts (MPMD"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace zerorl::dist
