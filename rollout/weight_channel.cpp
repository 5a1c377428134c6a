// rollout/weight_channel.cpp: the frame weight channel: parameters -> byte buckets (model dtype, host memory)
// and back into a model, version by version; and the CUDA IPC path (one device buffer shared by handle).
// Not here: sending the frames (trainer/remote_rollout.cpp).
#include "rollout/weight_channel.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "core/error.h"

#if defined(ZERORL_TORCH_CUDA) && __has_include(<cuda_runtime_api.h>) && __has_include(<c10/cuda/CUDAStream.h>)
#define ZERORL_CUDA_IPC 1
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#else
#define ZERORL_CUDA_IPC 0
#endif

namespace zerorl::rollout {
namespace {

namespace wire = dist::wire;

std::string dtype_name(torch::Dtype dtype) {
  if (dtype == torch::kFloat32) return "float32";
  if (dtype == torch::kBFloat16) return "bfloat16";
  if (dtype == torch::kFloat16) return "float16";
  ZRL_FAIL("weight channel: parameters of dtype {} cannot be sent (float32, bfloat16, float16)",
           c10::toString(dtype));
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// The slice of `b` that holds slice `t`, as a flat tensor: a view over the frame's bytes when they are
// aligned for the dtype (no copy; read only, by copy_), else a copy into a fresh (aligned) tensor.
torch::Tensor host_view(const wire::Weights& b, const wire::TensorSlice& t, torch::Dtype dtype) {
  const uint8_t* src = b.data.data() + t.offset;
  const auto options = torch::TensorOptions().dtype(dtype);
  const std::vector<int64_t> shape = {static_cast<int64_t>(t.nbytes / c10::elementSize(dtype))};
  if (reinterpret_cast<uintptr_t>(src) % c10::elementSize(dtype) == 0) {
    return torch::from_blob(const_cast<uint8_t*>(src), shape, options);
  }
  torch::Tensor host = torch::empty(shape, options);
  std::memcpy(host.data_ptr(), src, t.nbytes);
  return host;
}

// Slice `t` of a CUDA IPC buffer (uint8 on the device) as a flat tensor of `dtype` (offsets are aligned).
torch::Tensor device_view(const torch::Tensor& shared, const wire::TensorSlice& t, torch::Dtype dtype) {
  return torch::from_blob(shared.data_ptr<uint8_t>() + t.offset,
                          {static_cast<int64_t>(t.nbytes / c10::elementSize(dtype))},
                          torch::TensorOptions().dtype(dtype).device(shared.device()));
}

torch::Device device_of(model::CausalLM& lm) {
  auto params = lm->parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

class FrameWeightChannel : public WeightChannel {
 public:
  explicit FrameWeightChannel(int64_t bucket_bytes) : bucket_bytes_(bucket_bytes) {
    ZRL_CHECK(bucket_bytes > 0, "rollout.weight_bucket_mb must be positive");
  }

  // Two passes: plan the pieces (a parameter stays whole unless it alone exceeds a bucket; then it starts a
  // bucket and is cut into bucket-size slices), then reserve each bucket's exact size and copy every piece in
  // once (a CPU contiguous parameter is read in place; others become contiguous host first).
  std::vector<wire::Weights> pack(model::CausalLM& lm, uint64_t version) override {
    auto params = lm->named_parameters(/*recurse=*/true);
    struct Piece {
      size_t param;
      uint64_t start, nbytes;
    };
    std::vector<std::vector<Piece>> plan;
    std::vector<uint64_t> sizes;
    const auto cap = static_cast<uint64_t>(bucket_bytes_);
    for (size_t i = 0; i < params.size(); ++i) {
      const torch::Tensor& p = params[i].value();
      const auto elem = static_cast<uint64_t>(p.element_size());
      const uint64_t total = static_cast<uint64_t>(p.numel()) * elem;
      const uint64_t step = std::max<uint64_t>(elem, cap / elem * elem);  // whole elements per slice
      uint64_t start = 0;
      do {
        const uint64_t n = total <= cap ? total : std::min(step, total - start);
        if (plan.empty() || (sizes.back() > 0 && sizes.back() + n > cap))
          plan.emplace_back(), sizes.push_back(0);
        plan.back().push_back({i, start, n});
        sizes.back() += n, start += n;
      } while (start < total);
    }
    std::vector<wire::Weights> out(plan.size());
    for (size_t k = 0; k < out.size(); ++k) {
      wire::Weights& b = out[k];
      b.version = version;
      b.bucket = static_cast<uint32_t>(k);
      b.buckets = static_cast<uint32_t>(out.size());
      b.data.reserve(sizes[k]);
      for (const Piece& piece : plan[k]) {
        const torch::Tensor& p = params[piece.param].value();
        const int64_t elem = p.element_size();
        const torch::Tensor host = p.detach()
                                       .reshape({-1})
                                       .narrow(0, static_cast<int64_t>(piece.start) / elem,
                                               static_cast<int64_t>(piece.nbytes) / elem)
                                       .to(torch::kCPU)
                                       .contiguous();
        b.tensors.push_back({params[piece.param].key(), dtype_name(p.scalar_type()), p.sizes().vec(),
                             b.data.size(), piece.nbytes, piece.start});
        const auto* bytes = static_cast<const uint8_t*>(host.data_ptr());
        b.data.insert(b.data.end(), bytes, bytes + piece.nbytes);
      }
    }
    return out;
  }

  bool receive(wire::Weights bucket, model::CausalLM& lm) override {
    const uint64_t version = bucket.version;
    const uint32_t buckets = bucket.buckets;
    if (version != pending_version_ || pending_.empty()) {
      pending_.clear();
      pending_version_ = version;
    }
    const uint32_t index = bucket.bucket;
    pending_[index] = std::move(bucket);
    if (pending_.size() < buckets) return false;
    apply(lm);
    pending_.clear();
    applied_ = version;
    return true;
  }

  uint64_t applied_version() const override { return applied_; }

 private:
  // Buckets in index order, slices in order: each tensor's slices must cover it exactly, start to end.
  void apply(model::CausalLM& lm) {
    auto params = lm->named_parameters(/*recurse=*/true);
    std::map<std::string, uint64_t> filled;  // bytes of each tensor received so far
    size_t whole = 0;
    torch::NoGradGuard no_grad;
    for (const auto& [index, b] : pending_) {
      // A CUDA IPC message: the trainer's device buffer, mapped until this bucket's copies are done.
      const torch::Tensor shared = b.ipc_handle.empty() ? torch::Tensor() : open_cuda_ipc(b, device_of(lm));
      for (const wire::TensorSlice& t : b.tensors) {
        torch::Tensor* p = params.find(t.name);
        ZRL_CHECK(p != nullptr,
                  "weights version {}: tensor '{}' is not a parameter of this worker's model "
                  "(do the trainer and the worker use the same model config?)",
                  b.version, t.name);
        ZRL_CHECK(p->sizes().vec() == t.shape && dtype_name(p->scalar_type()) == t.dtype,
                  "weights version {}: tensor '{}' is {} {}, the worker's parameter is {} {} (same config "
                  "on both sides?)",
                  b.version, t.name, t.dtype, shape_text(t.shape), dtype_name(p->scalar_type()),
                  shape_text(p->sizes().vec()));
        uint64_t& done = filled[t.name];
        ZRL_CHECK(t.start == done, "weights version {}: tensor '{}' slice starts at byte {}, expected {}",
                  b.version, t.name, t.start, done);
        const int64_t elem = p->element_size();
        p->view({-1})
            .narrow(0, static_cast<int64_t>(t.start) / elem, static_cast<int64_t>(t.nbytes) / elem)
            .copy_(shared.defined() ? device_view(shared, t, p->scalar_type())
                                    : host_view(b, t, p->scalar_type()));
        done += t.nbytes;
        whole += done == static_cast<uint64_t>(p->numel() * elem) ? 1 : 0;
      }
      if (shared.defined()) synchronize_device(shared.device());
    }
    ZRL_CHECK(whole == params.size() && filled.size() == params.size(),
              "weights: {} tensors received whole, the worker's model has {} parameters", whole,
              params.size());
  }

  int64_t bucket_bytes_;
  std::map<uint32_t, wire::Weights> pending_;
  uint64_t pending_version_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace

std::unique_ptr<WeightChannel> make_frame_weight_channel(int64_t bucket_bytes) {
  return std::make_unique<FrameWeightChannel>(bucket_bytes);
}

// --- CUDA IPC ------------------------------------------------------------------------------------------

namespace {
// Every tensor of a shared buffer starts at a multiple (any dtype's alignment; frame edges stay on elements).
constexpr uint64_t kIpcAlign = 256;

struct IpcBuffer {  // what Weights::owner holds for a message of pack_cuda_ipc
  torch::Tensor buffer;
};

#if ZERORL_CUDA_IPC
static_assert(sizeof(cudaIpcMemHandle_t) == 64, "wire::Weights::ipc_handle carries 64 bytes");

void cuda_check(cudaError_t e, const char* what) {
  ZRL_CHECK(e == cudaSuccess, "CUDA IPC: {}: {}", what, cudaGetErrorString(e));
}
#endif
}  // namespace

std::string cuda_ipc_host(const torch::Device& device) {
  if (!ZERORL_CUDA_IPC || !device.is_cuda()) return "";
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string boot;
  std::getline(f, boot);
  return std::string(host) + "/" + boot;
}

void synchronize_device(const torch::Device& device) {
#if ZERORL_CUDA_IPC
  if (device.is_cuda()) c10::cuda::getCurrentCUDAStream(device.index()).synchronize();
#else
  (void)device;
#endif
}

// A buffer of `bytes` on `device`. On CUDA a cudaMalloc of its own: a handle exports a whole allocation, and
// the caching allocator's blocks are parts of larger ones. Freed (cudaFree) with the last reference.
static torch::Tensor shared_buffer(uint64_t bytes, const torch::Device& device) {
  const auto options = torch::TensorOptions().dtype(torch::kUInt8).device(device);
  const auto n = static_cast<int64_t>(bytes);
#if ZERORL_CUDA_IPC
  if (device.is_cuda()) {
    c10::cuda::CUDAGuard guard(device);
    void* ptr = nullptr;
    cudaError_t e = cudaMalloc(&ptr, std::max<uint64_t>(bytes, 1));
    if (e ==
        cudaErrorMemoryAllocation) {  // memory the caching allocator holds but does not use: give it back
      (void)cudaGetLastError();
      c10::cuda::CUDACachingAllocator::emptyCache();
      e = cudaMalloc(&ptr, std::max<uint64_t>(bytes, 1));
    }
    cuda_check(e, "cudaMalloc of the weights buffer");
    return torch::from_blob(
        ptr, {n}, [](void* q) { cudaFree(q); }, options);
  }
#endif
  return torch::empty({n}, options);
}

wire::Weights pack_shared(model::CausalLM& lm, uint64_t version) {
  auto params = lm->named_parameters(/*recurse=*/true);
  wire::Weights w;
  w.version = version;
  uint64_t total = 0;
  for (const auto& item : params) {
    const torch::Tensor& p = item.value();
    const auto nbytes = static_cast<uint64_t>(p.numel() * p.element_size());
    w.tensors.push_back({item.key(), dtype_name(p.scalar_type()), p.sizes().vec(), total, nbytes, 0});
    total = (total + nbytes + kIpcAlign - 1) / kIpcAlign * kIpcAlign;
  }
  const torch::Tensor buffer = shared_buffer(total, device_of(lm));
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor& p = params[i].value();
    device_view(buffer, w.tensors[i], p.scalar_type()).copy_(p.detach().reshape({-1}));
  }
  synchronize_device(buffer.device());
  w.ipc_bytes = total;
  w.owner = std::make_shared<IpcBuffer>(IpcBuffer{buffer});
  return w;
}

#if ZERORL_CUDA_IPC
wire::Weights pack_cuda_ipc(model::CausalLM& lm, uint64_t version) {
  const torch::Device device = device_of(lm);
  ZRL_CHECK(device.is_cuda(), "CUDA IPC: the trainer's model is on {}, not a CUDA device", device.str());
  wire::Weights w = pack_shared(lm, version);
  cudaIpcMemHandle_t handle;
  c10::cuda::CUDAGuard guard(device);
  cuda_check(
      cudaIpcGetMemHandle(&handle, std::static_pointer_cast<const IpcBuffer>(w.owner)->buffer.data_ptr()),
      "cudaIpcGetMemHandle");
  w.ipc_handle.assign(reinterpret_cast<const char*>(&handle), sizeof handle);
  return w;
}

torch::Tensor open_cuda_ipc(const wire::Weights& ipc, const torch::Device& device) {
  ZRL_CHECK(device.is_cuda(), "weights version {} came over CUDA IPC, but this worker's model is on {}",
            ipc.version, device.str());
  ZRL_CHECK(ipc.ipc_handle.size() == sizeof(cudaIpcMemHandle_t), "CUDA IPC: a handle of {} bytes",
            ipc.ipc_handle.size());
  c10::cuda::CUDAGuard guard(device);
  cudaIpcMemHandle_t handle;
  std::memcpy(&handle, ipc.ipc_handle.data(), sizeof handle);
  void* ptr = nullptr;
  cuda_check(cudaIpcOpenMemHandle(&ptr, handle, cudaIpcMemLazyEnablePeerAccess),
             "cudaIpcOpenMemHandle (a worker on the trainer's host, on a GPU it can reach?)");
  return torch::from_blob(
      ptr, {static_cast<int64_t>(ipc.ipc_bytes)}, [](void* q) { cudaIpcCloseMemHandle(q); },
      torch::TensorOptions().dtype(torch::kUInt8).device(device));
}
#else
wire::Weights pack_cuda_ipc(model::CausalLM& lm, uint64_t) {
  ZRL_CHECK(!device_of(lm).is_cuda(), "CUDA IPC: this zerorl was built without the CUDA runtime headers");
  ZRL_FAIL("CUDA IPC: the trainer's model is on the CPU, not a CUDA device");
}

torch::Tensor open_cuda_ipc(const wire::Weights& ipc, const torch::Device&) {
  ZRL_FAIL("weights version {} came over CUDA IPC, but this zerorl was built without CUDA", ipc.version);
}
#endif

std::vector<wire::Weights> frames_from_shared(const wire::Weights& ipc, int64_t bucket_bytes) {
  const auto holder = std::static_pointer_cast<const IpcBuffer>(ipc.owner);
  ZRL_CHECK(holder != nullptr, "weights version {}: not a shared buffer packed in this process", ipc.version);
  const torch::Tensor host = holder->buffer.to(torch::kCPU);  // one device -> host copy
  const auto* bytes = host.data_ptr<uint8_t>();
  // Bucket edges at multiples of kIpcAlign fall on element boundaries of every tensor (each starts at one).
  const uint64_t cap =
      std::max<uint64_t>(kIpcAlign, static_cast<uint64_t>(bucket_bytes) / kIpcAlign * kIpcAlign);
  std::vector<wire::Weights> out;
  for (uint64_t lo = 0; lo < ipc.ipc_bytes; lo += cap) {
    const uint64_t hi = std::min(ipc.ipc_bytes, lo + cap);
    wire::Weights b;
    b.version = ipc.version;
    for (const wire::TensorSlice& t : ipc.tensors) {
      const uint64_t a = std::max(lo, t.offset), z = std::min(hi, t.offset + t.nbytes);
      if (a >= z) continue;
      b.tensors.push_back({t.name, t.dtype, t.shape, b.data.size(), z - a, a - t.offset});
      b.data.insert(b.data.end(), bytes + a, bytes + z);
    }
    if (!b.tensors.empty()) out.push_back(std::move(b));
  }
  for (size_t k = 0; k < out.size(); ++k) {
    out[k].bucket = static_cast<uint32_t>(k), out[k].buckets = static_cast<uint32_t>(out.size());
  }
  return out;
}

}  // namespace zerorl::rollout
