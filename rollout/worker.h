// rollout/worker.h: a rollout worker's loop: weights in, groups generated with the same rollout::Engine and
// stream keys as a colocated run, results out, until the trainer says bye or goes away. Not here: the process
// set-up from a config (apps/cmd_rollout_worker.cpp), the coordinator (trainer/remote_rollout.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dist/control_client.h"
#include "rollout/engine.h"
#include "rollout/weight_channel.h"

namespace zerorl::rollout {

// How a worker's loop ended: the trainer said bye; the connection was lost (EOF without a bye, a reset, a
// failed send: the trainer died or the network went); or the trainer sent something this worker cannot use.
enum class WorkerEnd { kBye, kLost, kProtocol };

struct WorkerStats {
  int64_t groups = 0;          // Work messages answered
  int64_t engine_calls = 0;    // engine.generate calls they took (the Works waiting together share one)
  int64_t weight_updates = 0;  // versions applied
  std::string end_reason;      // why the loop ended ("bye: ..." or the connection's error)
  WorkerEnd end = WorkerEnd::kLost;
};

// Serves `client` until the trainer ends it. Works that arrive together (a step's groups) are generated in
// one engine call, as a colocated rollout generates a step. `stop` carries the run's eos ids and stop strings
// (the Work messages carry sampler, length limit, seed, step and keys). Work for a weight version other than
// the applied one is a protocol error: the worker says bye and returns (the coordinator re-queues the group).
WorkerStats run_worker(dist::ControlClient& client, Engine& engine, WeightChannel& weights,
                       const StopRules& stop);

}  // namespace zerorl::rollout
