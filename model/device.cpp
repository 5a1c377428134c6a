// model/device.cpp: device names -> torch::Device (see device.h). Not here: memory or dtype choices.
#include "model/device.h"

#include <cctype>

#include "core/error.h"

namespace zerorl::model {

torch::Device resolve_device(const std::string& value, const std::string& key, bool cuda_available,
                             int64_t cuda_devices) {
  if (value == "cpu" || (value == "auto" && !cuda_available)) return torch::Device(torch::kCPU);
  if (value == "auto") return torch::Device(torch::kCUDA, 0);
  int64_t index = -1;
  if (value == "cuda") {
    index = 0;
  } else if (value.rfind("cuda:", 0) == 0 && value.size() > 5 && value.size() <= 8) {
    index = 0;
    for (size_t i = 5; i < value.size() && index >= 0; ++i) {
      const auto c = static_cast<unsigned char>(value[i]);
      index = std::isdigit(c) ? index * 10 + (c - '0') : -1;
    }
  }
  ZRL_CHECK(index >= 0, "{} = '{}': use auto, cpu, cuda or cuda:N", key, value);
  ZRL_CHECK(
      cuda_available,
      "{} = {} but CUDA is not available (a CPU-only LibTorch, or no visible GPU): set {} = cpu or auto, "
      "or run on a CUDA machine",
      key, value, key);
  ZRL_CHECK(index < cuda_devices, "{} = {} but only {} CUDA device(s) are visible (cuda:0..cuda:{})", key,
            value, cuda_devices, cuda_devices - 1);
  return torch::Device(torch::kCUDA, static_cast<torch::DeviceIndex>(index));
}

torch::Device resolve_device(const std::string& value, const std::string& key) {
  const bool cuda = torch::cuda::is_available();
  return resolve_device(value, key, cuda, cuda ? static_cast<int64_t>(torch::cuda::device_count()) : 0);
}

}  // namespace zerorl::model
