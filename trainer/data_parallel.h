// trainer/data_parallel.h: the trainer's side of data parallelism: the communicator and device of a rank,
// the checks every rank makes before step 1, this rank's share of a step's prompts, and start-of-run weight
// broadcast. Not here: the collectives and gradient buckets (dist/), the update's reductions (update.cpp),
// the metrics reduction (step.cpp).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/run_config.h"
#include "dist/communicator.h"

namespace zerorl::trainer {

// run.device for this rank: a CUDA run of several ranks takes cuda:<local_rank> (one GPU per rank).
torch::Device rank_device(const std::string& device, const dist::Context& ctx);

// dist.* -> the communicator (the local one at world size 1 with dist.backend auto: no MPI).
// A data-parallel code path runs unless the communicator is the local one.
inline bool distributed(const dist::Communicator& c) { return c.backend() != "local"; }
std::unique_ptr<dist::Communicator> make_run_communicator(const Config& cfg, const dist::Context& ctx,
                                                          const torch::Device& device);

// Throws the same error on every rank (naming the key, the value and a fix) for: rollout.prompts_per_step
// not a multiple of the world size, rollout.dynamic_sampling or algo.whiten_batch with more than one rank
// (not data parallel yet), and a resolved config that differs between ranks (compared by hash).
void check_data_parallel(const Config& cfg, dist::Communicator& comm);

// Prompts [begin, begin + count) of a step's P draws are this rank's (contiguous, rank-major: all G answers
// of a prompt stay on one rank). P must divide by the world size (check_data_parallel).
struct PromptShard {
  int64_t begin = 0, count = 0;
};
PromptShard prompt_shard(int64_t prompts, const dist::Communicator& comm);

// Every rank's tensors become rank 0's, in place (the weights every rank starts from).
void broadcast_tensors(dist::Communicator& comm, const std::vector<torch::Tensor>& tensors);

// In place over ranks: sums[i] summed, maxes[i] the maximum (float64; nothing with the local backend).
void reduce_doubles(dist::Communicator& comm, std::vector<double>& sums, std::vector<double>& maxes);

}  // namespace zerorl::trainer
