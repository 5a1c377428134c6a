// rollout/weight_channel.h: how a trainer's weights reach a rollout worker's model, versioned. The CPU
// channel packs parameters into byte buckets of the model dtype that travel as wire::Weights frames over the
// control connection. Not here: the connection (dist/control_*.h), an NCCL broadcast channel (not built yet).
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
  // at most the channel's bucket size; a parameter larger than a bucket gets a bucket of its own).
  virtual std::vector<dist::wire::Weights> pack(model::CausalLM& lm, uint64_t version) = 0;
  // Worker side: takes one frame; when the last bucket of its version has arrived, copies every tensor into
  // `lm` (checking names, shapes and dtypes against the model; an error names the tensor) and returns true.
  // Takes the bucket by value: pass it with std::move to keep the frame's bytes from being copied.
  virtual bool receive(dist::wire::Weights bucket, model::CausalLM& lm) = 0;
  // The newest version applied by receive() (0 before any).
  virtual uint64_t applied_version() const = 0;
};

// Buckets of `bucket_bytes` travelling over the control connection (frames of dist/wire.h).
std::unique_ptr<WeightChannel> make_frame_weight_channel(int64_t bucket_bytes);

}  // namespace zerorl::rollout
