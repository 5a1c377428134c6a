// trainer/remote_rollout.h: rollout.mode = workers: the trainer's coordinator hands each prompt's group to a
// registered `zerorl rollout-worker` (least-loaded first), sends the current weights before any work, and
// collects the answers in the colocated engine's order; a lost worker's groups are re-queued. Not here: the
// sockets and frames (dist/control_server.h), the worker's loop (rollout/worker.h), what a step does with
// the answers (step.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
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
  ~RemoteRollout();

  // Engine::generate's contract (P * G trajectories, prompt-major, streams keyed by gc), answered by the
  // workers with `lm`'s weights as version `weight_version` (>= 1; packed once per version). Waits for
  // rollout.workers workers before the first call; exits with an error naming the coordinator's address when
  // no worker is left for rollout.worker_wait_s.
  rollout::RolloutResult generate(model::CausalLM& lm, uint64_t weight_version,
                                  const std::vector<std::vector<int64_t>>& prompts,
                                  const rollout::GenerateConfig& gc);
  // This step's rollout/* metrics: workers, groups re-queued after a worker was lost, weight-sync seconds.
  Json step_metrics() const;
  std::string address() const { return server_->address(); }

 private:
  struct Worker {
    uint64_t version = 0;          // weights version it holds (0 = none)
    std::set<uint64_t> in_flight;  // group ids sent, not answered
    int64_t groups = 0;            // groups answered this step
  };
  struct Pending;
  void handle(dist::ControlEvent& event, Pending& p);
  void dispatch(model::CausalLM& lm, Pending& p);
  void wait_for_workers(size_t wanted);
  void send_weights(uint64_t id, Worker& w, model::CausalLM& lm, uint64_t version);

  RolloutSection ro_;
  std::unique_ptr<dist::ControlServer> server_;
  std::unique_ptr<rollout::WeightChannel> channel_;
  std::map<uint64_t, Worker> workers_;
  std::vector<dist::wire::Weights> frames_;  // the packed weights of frames_version_
  uint64_t frames_version_ = 0;
  uint64_t next_group_ = 1;
  bool started_ = false;
  int64_t requeued_ = 0;
  double weight_sync_s_ = 0;
};

}  // namespace zerorl::trainer
