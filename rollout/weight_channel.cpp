// rollout/weight_channel.cpp: the frame weight channel: parameters -> byte buckets (model dtype, host memory)
// and back into a model, version by version. Not here: sending the frames (trainer/remote_rollout.cpp).
#include "rollout/weight_channel.h"

#include <cstdint>
#include <cstring>

#include "core/error.h"

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

// The slice of `b` that holds tensor `t`, as a tensor: a view over the frame's bytes when they are aligned
// for the dtype (no copy; read only, by copy_), else a copy into a fresh (aligned) tensor.
torch::Tensor host_view(const wire::Weights& b, const wire::TensorSlice& t, torch::Dtype dtype) {
  const uint8_t* src = b.data.data() + t.offset;
  const auto options = torch::TensorOptions().dtype(dtype);
  if (reinterpret_cast<uintptr_t>(src) % c10::elementSize(dtype) == 0) {
    return torch::from_blob(const_cast<uint8_t*>(src), t.shape, options);
  }
  torch::Tensor host = torch::empty(t.shape, options);
  std::memcpy(host.data_ptr(), src, t.nbytes);
  return host;
}

class FrameWeightChannel : public WeightChannel {
 public:
  explicit FrameWeightChannel(int64_t bucket_bytes) : bucket_bytes_(bucket_bytes) {
    ZRL_CHECK(bucket_bytes > 0, "rollout.weight_bucket_mb must be positive");
  }

  // Two passes: plan the buckets from the parameters' sizes, then reserve each bucket's exact size and copy
  // every tensor in once (a CPU contiguous parameter is read in place; others become contiguous host first).
  std::vector<wire::Weights> pack(model::CausalLM& lm, uint64_t version) override {
    auto params = lm->named_parameters(/*recurse=*/true);
    std::vector<size_t> first;  // index of each bucket's first parameter
    std::vector<uint64_t> sizes;
    for (size_t i = 0; i < params.size(); ++i) {
      const torch::Tensor& p = params[i].value();
      const uint64_t nbytes = static_cast<uint64_t>(p.numel() * p.element_size());
      if (sizes.empty() ||
          (sizes.back() + nbytes > static_cast<uint64_t>(bucket_bytes_) && first.back() < i)) {
        first.push_back(i);
        sizes.push_back(0);
      }
      sizes.back() += nbytes;
    }
    std::vector<wire::Weights> out(sizes.size());
    for (size_t k = 0; k < out.size(); ++k) {
      wire::Weights& b = out[k];
      b.version = version;
      b.bucket = static_cast<uint32_t>(k);
      b.buckets = static_cast<uint32_t>(out.size());
      b.data.reserve(sizes[k]);
      const size_t end = k + 1 < first.size() ? first[k + 1] : params.size();
      for (size_t i = first[k]; i < end; ++i) {
        const torch::Tensor host = params[i].value().detach().to(torch::kCPU).contiguous();
        const uint64_t nbytes = static_cast<uint64_t>(host.numel() * host.element_size());
        b.tensors.push_back(
            {params[i].key(), dtype_name(host.scalar_type()), host.sizes().vec(), b.data.size(), nbytes});
        const auto* bytes = static_cast<const uint8_t*>(host.data_ptr());
        b.data.insert(b.data.end(), bytes, bytes + nbytes);
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
  void apply(model::CausalLM& lm) {
    auto params = lm->named_parameters(/*recurse=*/true);
    size_t seen = 0;
    torch::NoGradGuard no_grad;
    for (const auto& [index, b] : pending_) {
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
        p->copy_(host_view(b, t, p->scalar_type()));
        ++seen;
      }
    }
    ZRL_CHECK(seen == params.size(), "weights: {} tensors received, the worker's model has {} parameters",
              seen, params.size());
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

}  // namespace zerorl::rollout
