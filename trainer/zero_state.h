// trainer/zero_state.h: the trainer's side of ZeRO-1 (dist.zero = 1): building the sharded AdamW over the
// model, and its checkpoint files: each rank's shard (trainer_state/zero/shard_<r>.pt) and the manifest
// (trainer_state/zero/zero.json: world size, partition, optimizer steps), re-partitioned on resume when the
// world size changed. Not here: the optimizer itself (dist/zero_optimizer.h), sealing (checkpoint.h).
#pragma once

#include <memory>
#include <string>

#include "core/run_config.h"
#include "dist/communicator.h"
#include "dist/zero_optimizer.h"
#include "model/decoder.h"

namespace zerorl::trainer {

// The sharded AdamW over lm's parameters (optim.beta1/beta2/eps/weight_decay). When lm computes below
// float32 and model.path holds float32 weights (one of our checkpoints), the masters start from those, not
// from their bf16 rounding. Rank 0 removes shard folders a crash left in checkpoints/. A collective.
std::unique_ptr<dist::ShardedAdamW> make_sharded_adamw(const Config& cfg, dist::Communicator& comm,
                                                       model::CausalLM lm);

// model.path's config.json says its weights are float32 (torch_dtype, or dtype in transformers 5).
bool stored_as_float32(const Config& cfg, const model::CausalLM& lm);

// Every rank writes its shard of step `step`, atomically, into <output_dir>/checkpoints/.zero_step_<step>/
// (created here), then all ranks meet in a barrier and rank 0 adds zero.json. Returns the folder (rank 0
// hands it to CheckpointSaver, which moves it into trainer_state/zero/ before the seal). A collective.
std::string write_zero_shards(const std::string& output_dir, int64_t step, dist::ShardedAdamW& z,
                              dist::Communicator& comm);

// Restores the optimizer state from checkpoint `dir` (trainer_state/zero/), re-partitioning when it was
// written by another world size, and pushes the masters into the model. Throws naming dist.zero when the
// checkpoint holds a replicated optimizer (trainer_state/optimizer.pt) instead. A collective.
void load_zero_shards(const std::string& dir, dist::ShardedAdamW& z);

// Throws naming dist.zero when checkpoint `dir` holds ZeRO-1 shards (a dist.zero = 0 run cannot read them).
void check_not_zero_checkpoint(const std::string& dir);

}  // namespace zerorl::trainer
