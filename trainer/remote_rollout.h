// trainer/remote_rollout.h: rollout.mode = workers: the trainer's coordinator hands each prompt's group to a
// registered `zerorl rollout-worker` (least-loaded first), sends a group's weight version before the group,
// and collects the answers in the colocated engine's order; a lost worker's groups are re-queued. Work is
// scheduled on a thread of its own, so groups submitted before an update are generated while it runs
// (rollout.max_staleness). Not here: the sockets and frames (dist/control_server.h), the worker's loop
// (rollout/worker.h), what a step does with the answers (step.cpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/json_io.h"
#include "core/run_config.h"
#include "dist/control_server.h"
#include "rollout/engine.h"
#include "rollout/weight_channel.h"

namespace zerorl::trainer {

class RemoteRollout {
 public:
  // Starts the coordinator on rollout.listen with the secret of rollout.auth_token_file.
  explicit RemoteRollout(const Config& cfg);
  ~RemoteRollout();  // stops scheduling, says bye to every worker

  // Queues the groups of Engine::generate's contract (P prompts x G answers, streams keyed by gc) to be
  // answered with `lm`'s weights as version `weight_version` (>= 1). The weights are packed here, once per
  // version, so `lm` may change as soon as this returns; the groups go out on the scheduler's thread (the
  // first ones once rollout.workers workers have registered). Returns the ticket for collect().
  uint64_t submit(model::CausalLM& lm, uint64_t weight_version,
                  const std::vector<std::vector<int64_t>>& prompts, const rollout::GenerateConfig& gc);
  // Waits for every group of `ticket` and returns its P * G trajectories, prompt-major. Throws zerorl::Error
  // naming the coordinator's address when no worker is left (or none came) for rollout.worker_wait_s.
  rollout::RolloutResult collect(uint64_t ticket);
  // The rollout/* metrics of the tickets collected since the last call: workers, groups re-queued after a
  // worker was lost, worker utilisation, groups per worker (min, max), weight-sync seconds.
  Json step_metrics();
  std::string address() const { return server_->address(); }

 private:
  struct Worker {
    uint64_t version = 0;          // weights version it holds (0 = none)
    std::set<uint64_t> in_flight;  // group ids sent, not answered
    bool cuda_ipc = false;         // asked for CUDA IPC (--cuda-ipc) from this trainer's host, on CUDA
  };
  // One version's weights: frames, or (a CUDA IPC worker was registered at submit) a device buffer shared by
  // IPC handle, from which frames are cut the first time a worker without IPC needs them.
  struct Packed {
    std::vector<dist::wire::Weights> frames;
    std::optional<dist::wire::Weights> shared;
  };
  struct Ticket;
  void serve();  // the scheduler thread: events in, groups out, until stop_
  void handle(dist::ControlEvent& event);
  void on_left(uint64_t worker, const std::string& reason);
  void on_result(uint64_t worker, dist::wire::Result& result);
  void dispatch();
  void check_deadlines();
  void send_weights(uint64_t id, Worker& w, uint64_t version);

  RolloutSection ro_;
  std::unique_ptr<dist::ControlServer> server_;
  std::unique_ptr<rollout::WeightChannel> channel_;  // packs on the caller's thread only

  std::mutex mu_;  // guards everything below
  std::condition_variable done_cv_;
  std::map<uint64_t, Worker> workers_;
  std::map<uint64_t, Ticket> tickets_;
  std::deque<std::pair<uint64_t, size_t>> queue_;         // (ticket, prompt) waiting for a worker, FIFO
  std::map<uint64_t, std::pair<uint64_t, size_t>> sent_;  // group id -> (ticket, prompt), not answered
  std::map<uint64_t, Packed> packed_;                     // packed weights by version
  std::string ipc_host_;  // rollout::cuda_ipc_host of the trainer's device ("" = no CUDA IPC)
  int64_t bucket_bytes_ = 0;
  uint64_t next_group_ = 1, next_ticket_ = 1;
  bool started_ = false, stop_ = false;
  std::string error_;  // the scheduler's fatal error, thrown by collect()
  std::chrono::steady_clock::time_point idle_since_;
  std::optional<std::chrono::steady_clock::time_point> first_submit_;
  struct Collected {  // step_metrics() sums over the tickets collected since the last call
    int64_t requeued = 0;
    double generate_s = 0, worker_s = 0;  // the workers' generation seconds; workers x seconds waited
    std::map<uint64_t, int64_t> groups;   // worker -> groups answered
  };
  Collected collected_;
  double weight_sync_s_ = 0;
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace zerorl::trainer
