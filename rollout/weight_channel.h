// rollout/weight_channel.h: how a trainer's weights reach a rollout worker's model, versioned. The frame
// channel packs parameters into byte buckets of the model dtype that travel as wire::Weights frames over the
// control connection; on one host with CUDA, one message carries a CUDA IPC handle of a device buffer instead
// (no host copy). Not here: the connection (dist/control_*.h), an NCCL broadcast channel (not built yet).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dist/wire.h"
#include "model/decoder.h"

namespace zerorl::rollout {

class WeightChannel {
 public:
  virtual ~WeightChannel() = default;
  // Trainer side: the frames that carry every parameter of `lm` at `version` (parameter order, buckets of
  // at most the channel's bucket size; a parameter larger than a bucket is split into slices over buckets).
  virtual std::vector<dist::wire::Weights> pack(model::CausalLM& lm, uint64_t version) = 0;
  // Worker side: takes one frame; when the last bucket of its version has arrived, copies every tensor into
  // `lm` (checking names, shapes and dtypes against the model; an error names the tensor) and returns true.
  // Takes the bucket by value: pass it with std::move to keep the frame's bytes from being copied.
  virtual bool receive(dist::wire::Weights bucket, model::CausalLM& lm) = 0;
  // The newest version applied by receive() (0 before any).
  virtual uint64_t applied_version() const = 0;
};

// Buckets of `bucket_bytes` travelling over the control connection (frames of dist/wire.h). Its receive()
// also takes CUDA IPC messages (below): it opens the handle, copies device to device and closes it.
std::unique_ptr<WeightChannel> make_frame_weight_channel(int64_t bucket_bytes);

// --- CUDA IPC (rollout/cuda_ipc.cpp): a trainer and workers on one host share the weights in device memory.
// This host's identity ("hostname/boot id") when a model on `device` can use CUDA IPC (a CUDA device and a
// CUDA build), else "". A trainer and a worker with equal non-empty identities use CUDA IPC.
std::string cuda_ipc_host(const torch::Device& device);
// Trainer side: every parameter of `lm` at `version` copied into one new buffer on the model's device,
// described by one Weights message (ipc_bytes; offsets aligned to 256 bytes; no handle). The buffer lives as
// long as a copy of the message does (Weights::owner); the copies are finished (device synchronized).
dist::wire::Weights pack_shared(model::CausalLM& lm, uint64_t version);
// pack_shared on a CUDA device (a cudaMalloc of its own) plus the buffer's IPC handle (ipc_handle).
dist::wire::Weights pack_cuda_ipc(model::CausalLM& lm, uint64_t version);
// The same weights as frames of at most `bucket_bytes` (tensors split at bucket edges), copied from the
// message's buffer (device -> host once): for a worker that cannot open the handle (another host). `shared`
// must come from pack_shared / pack_cuda_ipc in this process.
std::vector<dist::wire::Weights> frames_from_shared(const dist::wire::Weights& shared, int64_t bucket_bytes);
// Worker side: the device buffer behind an IPC message, as a uint8 tensor on `device` that closes the handle
// when the last reference goes. Throws zerorl::Error naming the CUDA error (another GPU without peer access,
// a freed buffer).
torch::Tensor open_cuda_ipc(const dist::wire::Weights& ipc, const torch::Device& device);
// Waits for the work queued on `device`'s current stream (no-op on CPU).
void synchronize_device(const torch::Device& device);

}  // namespace zerorl::rollout
