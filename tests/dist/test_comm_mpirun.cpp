// tests/dist/test_comm_mpirun.cpp: the MPI communicator's collectives and dist/grad_sync under a real
// `mpirun -np 2` (label dist), each checked against a naive reference computed from what every rank is
// known to hold (rank r holds a tensor built from r). Not here: world size 1 (test_communicator.cpp), whole
// training runs (test_dp_runs.cpp).
#include <gtest/gtest.h>
#include <mpi.h>

#include "dist/communicator.h"
#include "dist/grad_overlap.h"
#include "dist/grad_sync.h"
#include "dist/zero_optimizer.h"
#include "tests/dist/zero_reference.h"

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

// A loss over w (rank- and micro-batch-dependent) whose gradient reaches every tensor but the first (w[1]
// is used twice: its hook must see the summed gradient).
torch::Tensor overlap_loss(const std::vector<torch::Tensor>& w, int rank, int micro) {
  const float k = 1.0f + 0.5f * static_cast<float>(rank) + 0.25f * static_cast<float>(micro);
  return (w[1].sin() * k).sum() + (w[2] * w[2] * k).sum() + (w[3].matmul(w[1].t()).tanh()).sum();
}

// Overlapped buckets (hooks during the last micro-batch's backward) give the gradients that accumulating
// every micro-batch and then summing over ranks gives (grad_sync.h, tested above): the same fp32 additions
// in the same order, so bit for bit. A tensor with no gradient keeps none.
TEST(MpiComm, OverlappedBucketsEqualBucketsAfterBackward) {
  auto c = comm();
  torch::manual_seed(3);
  const std::vector<torch::Tensor> init{torch::randn({5}), torch::randn({3, 4}), torch::randn({7}),
                                        torch::randn({2, 4})};
  auto leaves = [&] {
    std::vector<torch::Tensor> w;
    for (const auto& t : init) w.push_back(t.clone().set_requires_grad(true));
    return w;
  };
  auto want = leaves(), got = leaves();
  for (int m = 0; m < 3; ++m) overlap_loss(want, c->rank(), m).backward();
  std::vector<torch::Tensor> grads;
  for (const auto& w : want) grads.push_back(w.grad());
  all_reduce_buckets(*c, grads, 64);
  OverlappedGradSync sync(*c, got, got, 40);  // 10 floats: one tensor per bucket
  EXPECT_EQ(sync.buckets(), 4);
  for (int round = 0; round < 2; ++round) {  // twice: the hooks re-arm
    for (auto& w : got) w.mutable_grad().reset();
    for (int m = 0; m < 3; ++m) {
      if (m == 2) sync.arm();  // only the last micro-batch reduces
      overlap_loss(got, c->rank(), m).backward();
    }
    // The three buckets of used tensors started inside backward; the unused w[0] (last bucket) in finish().
    EXPECT_EQ(sync.started_in_backward(), 3) << round;
    sync.finish();
    for (size_t i = 1; i < 4; ++i)
      EXPECT_TRUE(torch::equal(got[i].grad(), want[i].grad())) << round << " " << i;
    EXPECT_FALSE(got[0].grad().defined());
  }
}

// ZeRO-1 over the real ranks: each rank accumulates its own micro-batch gradients, the sharded step equals
// LibTorch's AdamW + clip on the gradients summed over every rank and micro-batch (zero_reference.h), and
// every rank ends with the same weights. 35 elements over 2 ranks: the last slice is padded. Tolerances as
// in test_zero_optimizer.cpp: the same float32 gradients summed in another order.
TEST(MpiComm, ShardedAdamWEqualsTorchAdamWOnTheGlobalGradient) {
  auto c = comm();
  testing::RefOptions o;
  o.ranks = c->world_size();
  std::vector<double> want_norms;
  const auto want = testing::reference_adamw(testing::zero_params(), o, want_norms);
  std::vector<torch::Tensor> ps;
  for (const auto& p : testing::zero_params()) ps.push_back(p.clone());
  ShardedAdamW opt(*c, ps, AdamWHyper{o.beta1, o.beta2, o.eps, o.weight_decay});
  EXPECT_EQ(opt.layout().shard * c->world_size(), opt.layout().padded);
  for (int s = 0; s < o.steps; ++s) {
    opt.zero_grad();
    for (int m = 0; m < o.micro; ++m) {
      for (size_t i = 0; i < ps.size(); ++i)
        ps[i].mutable_grad() = testing::zero_grad_of(ps[i], i, s, m, c->rank());
      opt.accumulate_grads();
    }
    const double norm = opt.step(o.lr, o.max_norm);
    EXPECT_NEAR(norm, want_norms[static_cast<size_t>(s)], 1e-6 * want_norms[static_cast<size_t>(s)]) << s;
  }
  EXPECT_LE(testing::relative_diff(want, ps), 1e-5);
  std::vector<std::string> names{"a", "b", "c", "d"};
  EXPECT_FALSE(first_divergent_tensor(*c, names, ps).has_value()) << "every rank holds the same weights";
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
