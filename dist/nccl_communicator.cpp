// dist/nccl_communicator.cpp: the NCCL backend for CUDA tensors (one GPU per rank: cuda:<local_rank>),
// bootstrapped through MPI (rank 0's ncclUniqueId goes out by MPI_Bcast). Collectives run on the current
// CUDA stream; their completion is polled (a CUDA event) against dist.timeout_s together with
// ncclCommGetAsyncError, and a failure aborts the NCCL communicator (ncclCommAbort) before the job, so no
// kernel is left spinning in a collective. Built only where NCCL and a CUDA LibTorch are found
// (dist/CMakeLists.txt). Not here: CPU tensors (mpi_communicator.cpp).
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <climits>

#include "core/error.h"
#include "dist/backends.h"
#include "dist/mpi_watch.h"

namespace zerorl::dist {

namespace {

ncclDataType_t nccl_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return ncclFloat32;
    case torch::kFloat64:
      return ncclFloat64;
    case torch::kBFloat16:
      return ncclBfloat16;
    case torch::kFloat16:
      return ncclFloat16;
    case torch::kInt32:
      return ncclInt32;
    case torch::kInt64:
      return ncclInt64;
    case torch::kUInt8:
      return ncclUint8;
    default:
      ZRL_FAIL("NCCL collective of {} tensors is not supported", c10::toString(t.scalar_type()));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::kSum ? ncclSum : ncclMax; }

class NcclCommunicator;

// Completion of work enqueued on a stream: an event recorded after it, polled by the watch.
class NcclWork : public Work {
 public:
  NcclWork(NcclCommunicator* owner, std::string what);
  ~NcclWork() override { wait(); }
  void wait() override;

 private:
  NcclCommunicator* owner_;
  cudaEvent_t event_ = nullptr;
  std::string what_;
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(const Context& ctx, double timeout_s)
      : device_(torch::kCUDA, static_cast<c10::DeviceIndex>(ctx.local_rank)) {
    owns_mpi_ = init_mpi();
    mpi_ = app_communicator(ctx);  // MPI_COMM_WORLD's copy, or the app context's in an MPMD launch
    MPI_Comm_set_errhandler(mpi_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(mpi_, &rank_);
    MPI_Comm_size(mpi_, &size_);
    ZRL_CHECK(rank_ == ctx.rank && size_ == ctx.world_size, "{} says rank {} of {}, MPI says rank {} of {}",
              ctx.launcher, ctx.rank, ctx.world_size, rank_, size_);
    watch_ = std::make_unique<MpiWatch>(mpi_, rank_, size_, timeout_s);
    ZRL_CHECK(cudaSetDevice(ctx.local_rank) == cudaSuccess, "rank {}: cannot use cuda:{} (local rank)", rank_,
              ctx.local_rank);
    ncclUniqueId id;
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    MPI_Request req = MPI_REQUEST_NULL;
    watch_->check(MPI_Ibcast(&id, sizeof(id), MPI_BYTE, 0, mpi_, &req), "NCCL bootstrap");
    watch_->wait(req, "NCCL bootstrap (MPI_Bcast of the unique id)");
    check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
    watch_->on_abort([this] {
      if (comm_ != nullptr) ncclCommAbort(comm_);
      comm_ = nullptr;
    });
  }
  ~NcclCommunicator() override {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
    watch_.reset();
    MPI_Comm_free(&mpi_);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_mpi_ && !finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  torch::Device device() const override { return device_; }

  void all_reduce(torch::Tensor& t, ReduceOp op) override { all_reduce_async(t, op)->wait(); }
  std::unique_ptr<Work> all_reduce_async(torch::Tensor& t, ReduceOp op) override {
    check_cuda(t, "all_reduce");
    check(ncclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(), nccl_type(t), nccl_op(op), comm_, stream()),
          "ncclAllReduce");
    return std::make_unique<NcclWork>(this, "all_reduce of " + std::to_string(t.nbytes()) + " bytes");
  }
  void broadcast(torch::Tensor& t, int root) override {
    check_cuda(t, "broadcast");
    check(ncclBroadcast(t.data_ptr(), t.data_ptr(), t.nbytes(), ncclUint8, root, comm_, stream()),
          "ncclBroadcast");
    NcclWork(this, "broadcast").wait();
  }
  torch::Tensor all_gather(const torch::Tensor& t) override {
    check_cuda(t, "all_gather");
    std::vector<int64_t> shape{size_};
    for (auto d : t.sizes()) shape.push_back(d);
    auto out = torch::empty(shape, t.options());
    check(ncclAllGather(t.data_ptr(), out.data_ptr(), t.nbytes(), ncclUint8, comm_, stream()),
          "ncclAllGather");
    NcclWork(this, "all_gather").wait();
    return out;
  }
  torch::Tensor reduce_scatter(const torch::Tensor& t, ReduceOp op) override {
    check_cuda(t, "reduce_scatter");
    ZRL_CHECK(t.numel() % size_ == 0, "reduce_scatter of {} elements over {} ranks", t.numel(), size_);
    auto out = torch::empty({t.numel() / size_}, t.options());
    check(ncclReduceScatter(t.data_ptr(), out.data_ptr(), out.numel(), nccl_type(t), nccl_op(op), comm_,
                            stream()),
          "ncclReduceScatter");
    NcclWork(this, "reduce_scatter").wait();
    return out;
  }
  void barrier() override {
    auto one = torch::ones({1}, torch::dtype(torch::kFloat32).device(device_));
    all_reduce(one, ReduceOp::kSum);
  }

  cudaStream_t stream() const { return at::cuda::getCurrentCUDAStream(device_.index()).stream(); }
  MpiWatch& watch() { return *watch_; }
  // Throws (inside the watch's poll) when NCCL reports an asynchronous error (a peer lost mid-collective).
  void async_error() const {
    ncclResult_t r = ncclSuccess;
    if (comm_ != nullptr && ncclCommGetAsyncError(comm_, &r) == ncclSuccess && r != ncclSuccess &&
        r != ncclInProgress)
      ZRL_FAIL("NCCL asynchronous error: {}", ncclGetErrorString(r));
  }

 private:
  void check(ncclResult_t r, const char* what) {
    if (r != ncclSuccess) watch_->lost(what, std::string("NCCL error: ") + ncclGetErrorString(r));
  }
  void check_cuda(const torch::Tensor& t, const char* what) const {
    ZRL_CHECK(t.defined() && t.is_cuda() && t.device() == device_ && t.is_contiguous(),
              "NCCL {}: needs a contiguous tensor on {} (the mpi backend moves CPU tensors)", what,
              device_.str());
  }

  torch::Device device_;
  MPI_Comm mpi_ = MPI_COMM_NULL;
  ncclComm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
  std::unique_ptr<MpiWatch> watch_;
};

NcclWork::NcclWork(NcclCommunicator* owner, std::string what) : owner_(owner), what_(std::move(what)) {
  cudaEventCreateWithFlags(&event_, cudaEventDisableTiming);
  cudaEventRecord(event_, owner_->stream());
}

void NcclWork::wait() {
  if (event_ == nullptr) return;
  owner_->watch().wait_until(
      [&] {
        owner_->async_error();
        const cudaError_t e = cudaEventQuery(event_);
        if (e == cudaErrorNotReady) return false;
        if (e != cudaSuccess) ZRL_FAIL("CUDA error: {}", cudaGetErrorString(e));
        return true;
      },
      what_);
  cudaEventDestroy(event_);
  event_ = nullptr;
}

}  // namespace

namespace detail {
std::unique_ptr<Communicator> make_nccl(const Context& ctx, double timeout_s) {
  return std::make_unique<NcclCommunicator>(ctx, timeout_s);
}
}  // namespace detail

}  // namespace zerorl::dist
