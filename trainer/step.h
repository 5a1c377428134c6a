// trainer/step.h: the GRPO trainer: built from a Config, one step() of named timed phases, checkpoint save
// and exact resume, and run() until trainer.steps; data parallel over the ranks of an mpirun/srun launch. Not
// here: folder mechanics (checkpoint.h), metric sinks (metrics.h), the loss math (algo/), the model (model/).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/run_config.h"
#include "core/timer.h"
#include "dist/communicator.h"
#include "dist/context.h"
#include "dist/grad_overlap.h"
#include "dist/zero_optimizer.h"
#include "rollout/engine.h"
#include "trainer/checkpoint_saver.h"
#include "trainer/components.h"
#include "trainer/data.h"
#include "trainer/hack_monitor.h"
#include "trainer/metrics.h"
#include "trainer/mixed_precision.h"
#include "trainer/update.h"

namespace zerorl::trainer {

class RemoteRollout;  // remote_rollout.h

class Trainer {
 public:
  Trainer(const Config& cfg, const dist::Context& ctx);
  ~Trainer();
  // resume: "" (fresh; refuses an output_dir that already has checkpoints), "auto" (newest complete
  // checkpoint, fresh if none) or a checkpoint folder.
  void start(const std::string& resume);
  Json step();  // runs step_ + 1; returns its metrics row (also logged); saves no checkpoint
  void run();   // steps until trainer.steps, checkpoints when due (written in the background)
  // Saves step_ and waits until the checkpoint is on disk (sealed, renamed, pruned).
  void save_checkpoint();
  int64_t current_step() const { return step_; }
  model::CausalLM& model() { return lm_; }
  MasterWeights* masters() { return masters_.get(); }  // null unless the compute dtype is below float32

 private:
  struct Groups;
  Groups rollout_groups(PhaseTimes& times);
  Json update(const Groups& g, PhaseTimes& times);
  // step(); with save, a checkpoint of the new step is copied to host memory before the metrics row is
  // logged (time/checkpoint_blocking) and written in the background.
  Json run_step(bool save);
  double save_checkpoint_async();  // returns the seconds the step loop was blocked
  void load_checkpoint(const std::string& dir);
  void check_memory();
  void sync_initial_weights();                 // data parallel: every rank starts from rank 0's weights
  void check_weights_agree();                  // dist.check_every: weight checksums compared over ranks
  void reduce_metrics(Groups& g, Json& hack);  // data parallel: the step's metric sums over ranks

  Config cfg_;
  dist::Context ctx_;
  torch::Device device_;
  std::unique_ptr<dist::Communicator> comm_;  // the local one (world size 1), mpi or nccl
  std::vector<Row> rows_;
  std::unique_ptr<EpochSampler> sampler_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  model::CausalLM lm_{nullptr}, ref_{nullptr};
  std::unique_ptr<rollout::Engine> engine_;
  std::unique_ptr<RemoteRollout> remote_;  // rollout.mode = workers (remote_rollout.h)
  std::unique_ptr<Scorer> scorer_;
  std::unique_ptr<MasterWeights> masters_;             // bf16 compute only: the fp32 weights AdamW updates
  std::unique_ptr<torch::optim::AdamW> opt_;           // dist.zero = 0
  std::unique_ptr<dist::ShardedAdamW> zero_;           // dist.zero = 1 (then opt_ and masters_ are null)
  std::unique_ptr<dist::OverlappedGradSync> overlap_;  // data parallel with dist.zero = 0
  int64_t eos_ = 0;
  std::unique_ptr<MetricsSink> sink_;
  std::unique_ptr<HackMonitor> hack_;
  int64_t step_ = 0, opt_steps_ = 0;
  std::unique_ptr<CheckpointSaver> saver_;  // last: its writer thread is joined before the rest goes
};

// `zerorl train`: builds a Trainer, resumes as asked, runs. Returns the process exit code.
int run_train(const Config& cfg, const std::string& resume);

}  // namespace zerorl::trainer
