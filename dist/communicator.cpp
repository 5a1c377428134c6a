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
  // MPI_Init waits for every process of the launch. In an MPMD launch the workers join MPI only where the
  // first app context has several processes (Context::mpmd_joins_mpi, dist/mpmd.h): only those ranks may
  // open an MPI world, over their own app context.
  ZRL_CHECK(
      !ctx.mpmd() || (ctx.mpmd_joins_mpi() && ctx.app == 0),
      "this {} launch has {} app contexts (MPMD, `mpirun ... : ...`) and this process's app context ({}) has "
      "{} process(es) with dist.backend = {}: data-parallel ranks share an mpirun with rollout workers "
      "only as its first app context with 2 or more processes (`mpirun -np N zerorl train ... : -np M "
      "zerorl rollout-worker ...`); a single trainer beside its workers takes dist.backend = auto",
      ctx.launcher, ctx.apps, ctx.app, ctx.world_size, o.backend);
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
