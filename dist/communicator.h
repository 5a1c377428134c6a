// dist/communicator.h: collectives on tensors between the ranks of one launch (the stable interface the
// trainer and rollout weight sync use), and the factory that picks a backend. Not here: the backends
// (local, MPI, NCCL: communicator.cpp, mpi_communicator.cpp, nccl_communicator.cpp), gradient buckets and
// weight checksums (grad_sync.h), launch discovery (context.h).
//
// Contract of every collective: every rank calls the same collectives in the same order with tensors of the
// same dtype and numel; tensors are contiguous and live where the backend works (MPI: CPU, NCCL: the rank's
// CUDA device). A collective that does not complete within the timeout (a rank died, hung, or is slower
// than the timeout) ends the process non-zero with a message naming the ranks that stopped answering; it
// never waits forever. The local backend (world size 1) changes nothing and needs no MPI; code that skips
// work when backend() == "local" keeps one process bit-identical to a build without dist/.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "dist/context.h"

namespace zerorl::dist {

enum class ReduceOp { kSum, kMax };

// A collective in flight (all_reduce_async). wait() returns when the result is in the tensor, or ends the
// process as above. Waiting twice is a no-op; destroying an unwaited Work waits.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;   // "local", "mpi" or "nccl"
  virtual torch::Device device() const = 0;  // where its tensors live: CPU (local, mpi), cuda:<local_rank>

  // In place: t = op over ranks of t. Sum/max of float32, float64, int32, int64 (NCCL: also bf16/fp16).
  virtual void all_reduce(torch::Tensor& t, ReduceOp op = ReduceOp::kSum) = 0;
  // Starts the same all-reduce and returns at once (gradient buckets overlap the next bucket's packing).
  virtual std::unique_ptr<Work> all_reduce_async(torch::Tensor& t, ReduceOp op = ReduceOp::kSum) = 0;
  // In place: every rank gets root's t (any dtype).
  virtual void broadcast(torch::Tensor& t, int root = 0) = 0;
  // [world_size, *t.shape]: row r is rank r's t (any dtype).
  virtual torch::Tensor all_gather(const torch::Tensor& t) = 0;
  // t: [world_size * n] (flat); returns this rank's [n] slice of the reduction over ranks.
  virtual torch::Tensor reduce_scatter(const torch::Tensor& t, ReduceOp op = ReduceOp::kSum) = 0;
  virtual void barrier() = 0;
};

struct CommOptions {
  std::string backend = "auto";  // dist.backend: auto (nccl for CUDA, mpi for CPU), mpi or nccl
  bool cuda = false;             // the run's tensors live on CUDA (device index = ctx.local_rank)
  double timeout_s = 600;        // dist.timeout_s: the deadline of every collective
};

// World size 1 with backend auto: the local backend (no MPI initialised). Otherwise the backend asked for
// (an explicit mpi or nccl at world size 1 runs the real backend: tests, benchmarks of the data-parallel
// path); MPI is initialised here when the process has not done it itself (and finalised by the
// communicator that did). In an MPMD launch (ctx.mpmd()) the ranks of the first app context, when it has
// several, get a communicator over that app context (the workers beside them join MPI through
// dist/mpmd.h); every other MPMD process gets only the local backend. Throws naming dist.backend when the
// backend is not built into this binary or does not fit the device.
std::unique_ptr<Communicator> make_communicator(const Context& ctx, const CommOptions& options);

// Backends built into this binary, e.g. "local mpi" or "local mpi nccl".
std::string built_backends();

}  // namespace zerorl::dist
