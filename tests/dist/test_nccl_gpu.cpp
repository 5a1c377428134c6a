// tests/dist/test_nccl_gpu.cpp: the NCCL backend at world size 1 on one GPU (label gpu; built only where
// NCCL and a CUDA LibTorch are found): each collective on a CUDA tensor equals its one-rank definition, and
// gradient buckets round-trip fp32 gradients exactly. MPI is initialised as a singleton (no mpirun).
// Not here: several GPUs (a later issue), the MPI backend (test_comm_mpirun.cpp).
#include <gtest/gtest.h>

#include "dist/communicator.h"
#include "dist/grad_sync.h"

namespace zerorl::dist {
namespace {

TEST(NcclComm, CollectivesAtWorldSizeOneOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  CommOptions o;
  o.backend = "nccl";
  o.cuda = true;
  o.timeout_s = 60;
  auto c = make_communicator(Context{}, o);
  ASSERT_EQ(c->backend(), "nccl");
  EXPECT_EQ(c->device(), torch::Device(torch::kCUDA, 0));
  const auto x = torch::randn({5, 7}, torch::device(torch::kCUDA));
  for (auto type : {torch::kFloat32, torch::kBFloat16, torch::kFloat64}) {
    auto y = x.to(type);
    c->all_reduce(y, ReduceOp::kSum);
    c->all_reduce(y, ReduceOp::kMax);
    c->all_reduce_async(y)->wait();
    EXPECT_TRUE(torch::equal(y, x.to(type))) << c10::toString(type);
  }
  auto b = x.clone();
  c->broadcast(b, 0);
  EXPECT_TRUE(torch::equal(b, x));
  EXPECT_TRUE(torch::equal(c->all_gather(x), x.unsqueeze(0)));
  EXPECT_TRUE(torch::equal(c->reduce_scatter(x.reshape({-1})), x.reshape({-1})));
  c->barrier();
  std::vector<torch::Tensor> g{x.clone(), torch::randn({300}, torch::device(torch::kCUDA))};
  const auto g1 = g[1].clone();
  all_reduce_buckets(*c, g, 256);  // several buckets
  EXPECT_TRUE(torch::equal(g[0], x));
  EXPECT_TRUE(torch::equal(g[1], g1));
  EXPECT_FALSE(first_divergent_tensor(*c, {"a", "b"}, g).has_value());
}

}  // namespace
}  // namespace zerorl::dist
