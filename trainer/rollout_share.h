// trainer/rollout_share.h: rollout.mode = workers with data-parallel ranks: rank 0's coordinator answers the
// step's P prompts, and each rank gets its shard of the answers over the Communicator (a pure pack/unpack of
// trajectories and one broadcast that also carries rank 0's error). Not here: the coordinator
// (remote_rollout.h), which prompts a rank owns (data_parallel.h), what a step does with the answers.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "dist/communicator.h"
#include "rollout/engine.h"
#include "trainer/data_parallel.h"

namespace zerorl::trainer {

// Trajectories (prompt_index, sample_index, tokens, logprobs, logprobs_policy, finish, text) as bytes, in
// order, native byte order (both ends are ranks of one build on one kind of host).
std::vector<uint8_t> pack_trajectories(const std::vector<rollout::Trajectory>& samples);
// The inverse. Throws zerorl::Error on a truncated or overlong buffer (a bug: the bytes come from a rank).
std::vector<rollout::Trajectory> unpack_trajectories(const uint8_t* bytes, size_t size);

// The samples of prompts [shard.begin, shard.begin + shard.count), prompt_index renumbered from 0, order
// kept (prompt-major input gives prompt-major output).
std::vector<rollout::Trajectory> shard_samples(std::vector<rollout::Trajectory> samples, PromptShard shard);

// Every rank calls this at the same point. Rank 0 runs `collect` (the coordinator's answers to all P prompts,
// every rank's shard) and broadcasts them; each rank returns its shard's samples. An exception in `collect`
// reaches every rank: rank 0 broadcasts its message instead and rethrows, the others throw zerorl::Error
// with that message (so no rank waits for a payload that never comes). `collect` is not called elsewhere.
rollout::RolloutResult share_rollout(dist::Communicator& comm,
                                     const std::function<rollout::RolloutResult()>& collect,
                                     PromptShard shard);

}  // namespace zerorl::trainer
