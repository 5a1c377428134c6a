// tests/dist/test_comm_mpirun.cpp: the MPI communicator's collectives and dist/grad_sync under a real
// `mpirun -np 2` (label dist), each checked against a naive reference computed from what every rank is
// known to hold (rank r holds a tensor built from r). Not here: world size 1 (test_communicator.cpp), whole
// training runs (test_dp_runs.cpp).
#include <gtest/gtest.h>
#include <mpi.h>

#include "dist/communicator.h"
#include "dist/grad_sync.h"

namespace zerorl::dist {
namespace {

std::unique_ptr<Communicator> comm() {
  CommOptions o;
  o.backend = "mpi";
  o.timeout_s = 60;
  return make_communicator(discover(), o);
}

// What rank r holds: [n] values that differ per rank and per element (exact in float32).
torch::Tensor held(int r, int64_t n, torch::ScalarType t = torch::kFloat32) {
  return (torch::arange(n, torch::kFloat64) * (r + 1) - 3.0 * r).to(t);
}

TEST(MpiComm, AllReduceSumAndMaxEqualTheNaiveReduction) {
  auto c = comm();
  ASSERT_GE(c->world_size(), 2) << "run under mpirun -np 2 (ctest -L dist does)";
  EXPECT_EQ(c->backend(), "mpi");
  for (auto type : {torch::kFloat32, torch::kFloat64, torch::kInt64, torch::kInt32}) {
    auto sum = held(c->rank(), 37, type), mx = held(c->rank(), 37, type);
    c->all_reduce(sum, ReduceOp::kSum);
    c->all_reduce(mx, ReduceOp::kMax);
    auto want_sum = held(0, 37, type), want_max = held(0, 37, type);
    for (int r = 1; r < c->world_size(); ++r) {
      want_sum = want_sum + held(r, 37, type);
      want_max = torch::maximum(want_max, held(r, 37, type));
    }
    EXPECT_TRUE(torch::equal(sum, want_sum)) << c10::toString(type);
    EXPECT_TRUE(torch::equal(mx, want_max)) << c10::toString(type);
  }
  auto a = held(c->rank(), 5), want = torch::zeros(5);
  auto work = c->all_reduce_async(a);
  for (int r = 0; r < c->world_size(); ++r) want += held(r, 5);
  work->wait();
  EXPECT_TRUE(torch::equal(a, want));
}

TEST(MpiComm, BroadcastAllGatherReduceScatterBarrier) {
  auto c = comm();
  const int w = c->world_size(), me = c->rank();
  auto b = held(me, 9).to(torch::kBFloat16);  // any dtype travels as bytes
  c->broadcast(b, w - 1);
  EXPECT_TRUE(torch::equal(b, held(w - 1, 9).to(torch::kBFloat16)));
  const auto g = c->all_gather(held(me, 6).view({2, 3}));
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{w, 2, 3}));
  for (int r = 0; r < w; ++r) EXPECT_TRUE(torch::equal(g[r], held(r, 6).view({2, 3}))) << r;
  const auto s = c->reduce_scatter(held(me, 4 * w));
  auto full = held(0, 4 * w);
  for (int r = 1; r < w; ++r) full = full + held(r, 4 * w);
  EXPECT_TRUE(torch::equal(s, full.narrow(0, 4 * me, 4)));
  c->barrier();
}

TEST(MpiComm, GradientBucketsSumEveryTensorAsOneAllReduceWould) {
  auto c = comm();
  const int w = c->world_size();
  std::vector<torch::Tensor> grads, want;
  for (int64_t i = 0; i < 7; ++i) {  // 7 tensors of mixed sizes into 64-byte buckets (16 floats each)
    const int64_t n = 3 + 5 * i;
    grads.push_back(held(c->rank(), n).view({1, n}) / (i + 1));
    auto sum = torch::zeros({1, n});
    for (int r = 0; r < w; ++r) sum += held(r, n).view({1, n}) / (i + 1);
    want.push_back(sum);
  }
  grads.insert(grads.begin() + 2, torch::Tensor());  // a parameter without a gradient is skipped
  want.insert(want.begin() + 2, torch::Tensor());
  all_reduce_buckets(*c, grads, 64);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!want[i].defined()) continue;
    // Sums of w exact float32 values divided by (i + 1): the same two roundings either way, so exact.
    EXPECT_TRUE(torch::allclose(grads[i], want[i], 1e-6, 0)) << i;
  }
}

TEST(MpiComm, AgreementChecksNameTheRankAndTheTensor) {
  auto c = comm();
  EXPECT_TRUE(ranks_differing(*c, 42).empty());
  const auto bad = ranks_differing(*c, c->rank() == 1 ? 7 : 42);
  EXPECT_EQ(bad, std::vector<int>{1});
  std::vector<torch::Tensor> w{torch::ones({3}), torch::ones({2, 2}), torch::ones({4})};
  const std::vector<std::string> names{"a", "b", "c"};
  EXPECT_FALSE(first_divergent_tensor(*c, names, w).has_value());
  if (c->rank() == 1) w[1][1][0] = 1.0f + 1e-7f;  // one ulp-sized change on one rank
  if (c->rank() == 0) w[2][0] = 2.0f;
  EXPECT_EQ(first_divergent_tensor(*c, names, w).value_or("none"), "b");
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
