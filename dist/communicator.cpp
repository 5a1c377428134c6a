// dist/communicator.cpp: the world-size-1 backend (every collective is the identity) and make_communicator.
// Not here: the MPI and NCCL backends (mpi_communicator.cpp, nccl_communicator.cpp).
#include "dist/communicator.h"

#include "core/error.h"
#include "dist/backends.h"

namespace zerorl::dist {

namespace {

class DoneWork : public Work {
 public:
  void wait() override {}
};

class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend() const override { return "local"; }
  torch::Device device() const override { return torch::kCPU; }
  void all_reduce(torch::Tensor&, ReduceOp) override {}
  std::unique_ptr<Work> all_reduce_async(torch::Tensor&, ReduceOp) override {
    return std::make_unique<DoneWork>();
  }
  void broadcast(torch::Tensor&, int root) override {
    ZRL_CHECK(root == 0, "broadcast from rank {} in a world of 1", root);
  }
  torch::Tensor all_gather(const torch::Tensor& t) override { return t.unsqueeze(0).clone(); }
  torch::Tensor reduce_scatter(const torch::Tensor& t, ReduceOp) override { return t.reshape({-1}).clone(); }
  void barrier() override {}
};

}  // namespace

namespace detail {
std::unique_ptr<Communicator> make_local() { return std::make_unique<LocalCommunicator>(); }
}  // namespace detail

std::string built_backends() {
  std::string s = "local";
#ifdef ZERORL_HAVE_MPI
  s += " mpi";
#endif
#ifdef ZERORL_HAVE_NCCL
  s += " nccl";
#endif
  return s;
}

std::unique_ptr<Communicator> make_communicator(const Context& ctx, const CommOptions& o) {
  ZRL_CHECK(o.backend == "auto" || o.backend == "mpi" || o.backend == "nccl",
            "dist.backend = '{}': expected auto, mpi or nccl", o.backend);
  ZRL_CHECK(o.timeout_s > 0, "dist.timeout_s = {}: must be > 0", o.timeout_s);
  if (ctx.world_size == 1 && o.backend == "auto") return detail::make_local();
  // MPI_Init waits for every process of the launch, and the other programs of an MPMD launch (rollout
  // workers) never call it: the job would hang until they exit, then mpirun would abort it.
  ZRL_CHECK(
      !ctx.mpmd(),
      "this {} launch has {} app contexts (MPMD, `mpirun ... : ...`) and this process's app context has "
      "{} process(es) with dist.backend = {}: a data-parallel world cannot share an mpirun with other "
      "programs (MPI_Init would wait for all of them); start data-parallel ranks in an mpirun of their "
      "own, or one trainer process with dist.backend = auto beside the rollout workers",
      ctx.launcher, ctx.apps, ctx.world_size, o.backend);
  const std::string want = o.backend == "auto" ? (o.cuda ? "nccl" : "mpi") : o.backend;
  ZRL_CHECK(
      !(want == "nccl" && !o.cuda),
      "dist.backend = nccl moves CUDA tensors, but this run computes on the CPU: use dist.backend = mpi "
      "(or auto)");
  ZRL_CHECK(!(want == "mpi" && o.cuda),
            "dist.backend = mpi moves CPU tensors, but this run computes on CUDA: use dist.backend = nccl "
            "(or auto)");
#ifdef ZERORL_HAVE_NCCL
  if (want == "nccl") return detail::make_nccl(ctx, o.timeout_s);
#endif
#ifdef ZERORL_HAVE_MPI
  if (want == "mpi") return detail::make_mpi(ctx, o.timeout_s);
#endif
  ZRL_FAIL(
      "{} launched {} processes and dist.backend resolves to '{}', which this binary was built without "
      "(built: {}); install libopenmpi-dev (mpi) or NCCL (nccl) and rebuild",
      ctx.launcher, ctx.world_size, want, built_backends());
}

}  // namespace zerorl::dist
