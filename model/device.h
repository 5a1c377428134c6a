// model/device.h: the one place a device name (run.device, --device) becomes a torch::Device, for every
// command (train, eval, pretrain, generate, logits). Not here: the config's spelling check (core/run_config).
#pragma once

#include <torch/torch.h>

#include <string>

namespace zerorl::model {

// "auto": cuda:0 when CUDA is available, else cpu. "cpu". "cuda" = cuda:0, "cuda:N": that CUDA device, and
// an error naming `key` and the value when CUDA is not available or N is not a device (never a silent
// fallback to CPU). Any other value is an error naming `key`.
torch::Device resolve_device(const std::string& value, const std::string& key = "run.device");

// The same decision with the CUDA facts given (the testable core of resolve_device).
torch::Device resolve_device(const std::string& value, const std::string& key, bool cuda_available,
                             int64_t cuda_devices);

}  // namespace zerorl::model
