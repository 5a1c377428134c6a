// dist/mpi_communicator.cpp: the MPI backend for CPU tensors. Every collective is nonblocking MPI polled
// against dist.timeout_s; on a deadline (or an MPI error) the rank probes which peers still answer, names
// the ones that do not, and aborts the job (MPI_Abort), so no rank waits forever.
// Not here: NCCL (nccl_communicator.cpp), the world-size-1 backend (communicator.cpp).
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <thread>
#include <vector>

#include "core/error.h"
#include "dist/backends.h"
#include "dist/mpi_watch.h"

namespace zerorl::dist {

namespace {

MPI_Datatype reduce_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return MPI_FLOAT;
    case torch::kFloat64:
      return MPI_DOUBLE;
    case torch::kInt32:
      return MPI_INT32_T;
    case torch::kInt64:
      return MPI_INT64_T;
    default:
      ZRL_FAIL("MPI all-reduce of {} tensors: use float32, float64, int32 or int64",
               c10::toString(t.scalar_type()));
  }
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::kSum ? MPI_SUM : MPI_MAX; }

int checked_count(int64_t n, const char* what) {
  ZRL_CHECK(n <= INT_MAX, "MPI {}: {} elements exceed MPI's int count; use smaller buckets", what, n);
  return static_cast<int>(n);
}

void check_cpu(const torch::Tensor& t, const char* what) {
  ZRL_CHECK(t.defined() && t.device().is_cpu() && t.is_contiguous(),
            "MPI {}: needs a defined, contiguous CPU tensor (the nccl backend moves CUDA tensors)", what);
}

class MpiWork : public Work {
 public:
  MpiWork(MpiWatch* watch, MPI_Request req, std::string what)
      : watch_(watch), req_(req), what_(std::move(what)) {}
  ~MpiWork() override { wait(); }
  void wait() override {
    if (req_ == MPI_REQUEST_NULL) return;
    watch_->wait(req_, what_);
  }

 private:
  MpiWatch* watch_;
  MPI_Request req_;
  std::string what_;
};

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(const Context& ctx, double timeout_s) {
    owns_mpi_ = init_mpi();
    comm_ = app_communicator(ctx);  // MPI_COMM_WORLD's copy, or the app context's in an MPMD launch
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);  // errors come back to the watch, which names ranks
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    ZRL_CHECK(rank_ == ctx.rank && size_ == ctx.world_size,
              "{} says rank {} of {}, MPI says rank {} of {}: launch with mpirun or srun --mpi=pmix",
              ctx.launcher, ctx.rank, ctx.world_size, rank_, size_);
    watch_ = std::make_unique<MpiWatch>(comm_, rank_, size_, timeout_s);
  }
  ~MpiCommunicator() override {
    watch_.reset();
    MPI_Comm_free(&comm_);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_mpi_ && !finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  torch::Device device() const override { return torch::kCPU; }

  void all_reduce(torch::Tensor& t, ReduceOp op) override { all_reduce_async(t, op)->wait(); }
  std::unique_ptr<Work> all_reduce_async(torch::Tensor& t, ReduceOp op) override {
    check_cpu(t, "all_reduce");
    MPI_Request req = MPI_REQUEST_NULL;
    watch_->check(MPI_Iallreduce(MPI_IN_PLACE, t.data_ptr(), checked_count(t.numel(), "all_reduce"),
                                 reduce_type(t), mpi_op(op), comm_, &req),
                  "all_reduce");
    return std::make_unique<MpiWork>(watch_.get(), req, describe("all_reduce", t));
  }
  void broadcast(torch::Tensor& t, int root) override {
    check_cpu(t, "broadcast");
    ZRL_CHECK(root >= 0 && root < size_, "broadcast from rank {} in a world of {}", root, size_);
    MPI_Request req = MPI_REQUEST_NULL;
    watch_->check(
        MPI_Ibcast(t.data_ptr(), checked_count(t.nbytes(), "broadcast"), MPI_BYTE, root, comm_, &req),
        "broadcast");
    watch_->wait(req, describe("broadcast", t));
  }
  torch::Tensor all_gather(const torch::Tensor& t) override {
    check_cpu(t, "all_gather");
    std::vector<int64_t> shape{size_};
    for (auto d : t.sizes()) shape.push_back(d);
    auto out = torch::empty(shape, t.options());
    const int n = checked_count(t.nbytes(), "all_gather");
    MPI_Request req = MPI_REQUEST_NULL;
    watch_->check(MPI_Iallgather(t.data_ptr(), n, MPI_BYTE, out.data_ptr(), n, MPI_BYTE, comm_, &req),
                  "all_gather");
    watch_->wait(req, describe("all_gather", t));
    return out;
  }
  torch::Tensor reduce_scatter(const torch::Tensor& t, ReduceOp op) override {
    check_cpu(t, "reduce_scatter");
    ZRL_CHECK(t.numel() % size_ == 0, "reduce_scatter of {} elements over {} ranks: pad to a multiple",
              t.numel(), size_);
    auto out = torch::empty({t.numel() / size_}, t.options());
    MPI_Request req = MPI_REQUEST_NULL;
    watch_->check(
        MPI_Ireduce_scatter_block(t.data_ptr(), out.data_ptr(), checked_count(out.numel(), "reduce_scatter"),
                                  reduce_type(t), mpi_op(op), comm_, &req),
        "reduce_scatter");
    watch_->wait(req, describe("reduce_scatter", t));
    return out;
  }
  void barrier() override {
    MPI_Request req = MPI_REQUEST_NULL;
    watch_->check(MPI_Ibarrier(comm_, &req), "barrier");
    watch_->wait(req, "barrier");
  }

 private:
  static std::string describe(const char* op, const torch::Tensor& t) {
    return std::string(op) + " of " + std::to_string(t.nbytes()) + " bytes";
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
  std::unique_ptr<MpiWatch> watch_;
};

}  // namespace

namespace detail {
std::unique_ptr<Communicator> make_mpi(const Context& ctx, double timeout_s) {
  return std::make_unique<MpiCommunicator>(ctx, timeout_s);
}
}  // namespace detail

}  // namespace zerorl::dist
