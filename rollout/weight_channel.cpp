// rollout/weight_channel.cpp: the frame weight channel: parameters -> byte buckets (model dtype, host memory)
// and back into a model, version by version. Not here: sending the frames (trainer/remote_rollout.cpp).
#include "rollout/weight_channel.h"

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

class FrameWeightChannel : public WeightChannel {
 public:
  explicit FrameWeightChannel(int64_t bucket_bytes) : bucket_bytes_(bucket_bytes) {
    ZRL_CHECK(bucket_bytes > 0, "rollout.weight_bucket_mb must be positive");
  }

  std::vector<wire::Weights> pack(model::CausalLM& lm, uint64_t version) override {
    std::vector<wire::Weights> out;
    for (const auto& item : lm->named_parameters(/*recurse=*/true)) {
      const torch::Tensor host = item.value().detach().to(torch::kCPU).contiguous();
      const uint64_t nbytes = static_cast<uint64_t>(host.numel() * host.element_size());
      if (out.empty() || (out.back().data.size() + nbytes > static_cast<uint64_t>(bucket_bytes_) &&
                          !out.back().tensors.empty())) {
        out.emplace_back();
        out.back().version = version;
      }
      wire::Weights& b = out.back();
      b.tensors.push_back(
          {item.key(), dtype_name(host.scalar_type()), host.sizes().vec(), b.data.size(), nbytes});
      const auto* bytes = static_cast<const uint8_t*>(host.data_ptr());
      b.data.insert(b.data.end(), bytes, bytes + nbytes);
    }
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].bucket = static_cast<uint32_t>(i);
      out[i].buckets = static_cast<uint32_t>(out.size());
    }
    return out;
  }

  bool receive(const wire::Weights& bucket, model::CausalLM& lm) override {
    if (bucket.version != pending_version_ || pending_.empty()) {
      pending_.clear();
      pending_version_ = bucket.version;
    }
    pending_[bucket.bucket] = bucket;
    if (pending_.size() < bucket.buckets) return false;
    apply(lm);
    pending_.clear();
    applied_ = bucket.version;
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
        torch::Tensor host = torch::empty(t.shape, torch::TensorOptions().dtype(p->scalar_type()));
        std::memcpy(host.data_ptr(), b.data.data() + t.offset, t.nbytes);
        p->copy_(host);
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
