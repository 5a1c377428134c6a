// dist/grad_sync.h: what data parallelism does with a Communicator: gradients summed over ranks in fp32
// buckets, a value every rank must agree on (config hash), and weight checksums that name the first tensor
// that differs. Not here: the collectives (communicator.h), when the trainer calls these (trainer/step.cpp).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace zerorl::dist {

// Sums every defined tensor of `grads` over ranks, in place. Tensors are packed, in order, into fp32
// buckets of at most bucket_bytes (a tensor larger than a bucket gets its own); each bucket's all-reduce is
// started as soon as it is packed, so the reduce of one bucket overlaps the packing of the next, and the
// results are unpacked as they land. The local backend: returns without touching anything (bit-identical).
void all_reduce_buckets(Communicator& comm, const std::vector<torch::Tensor>& grads, int64_t bucket_bytes);

// The ranks whose `value` differs from rank 0's (empty: all agree). A collective: every rank calls it.
std::vector<int> ranks_differing(Communicator& comm, uint64_t value);

// CRC32C of each tensor's bytes (on the CPU), compared over ranks: the name of the first tensor whose
// checksum differs between ranks, or nothing. A collective: every rank calls it with the same names.
std::optional<std::string> first_divergent_tensor(Communicator& comm, const std::vector<std::string>& names,
                                                  const std::vector<torch::Tensor>& tensors);

}  // namespace zerorl::dist
