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
  // The groups that go into one update: P' prompts x G answers, flattened prompt-major.
  struct Groups {
    std::vector<Row> rows;
    std::vector<std::vector<int64_t>> prompt_ids, responses;  // responses include the finishing EOS
    std::vector<bool> truncated;
    std::vector<rewards::Reward> rewards;
    std::vector<std::string> texts;
    std::vector<std::vector<float>> logprobs_policy, logprobs_sampling;  // the engine's, per response token
    // Over everything sampled this step (dropped groups included): the honest picture of the policy.
    double reward_sum = 0, acc_sum = 0, fmt_sum = 0, len_sum = 0, len_max = 0, trunc_sum = 0, count = 0;
    double verifier_fail_sum =
        0;  // verdicts with status timeout/error (a broken verifier, not a wrong answer)
    int64_t generated_tokens = 0, sampled_groups = 0;
    int64_t groups_kept_global = -1;  // data parallel: kept groups over every rank (-1: rows.size())
    int64_t staleness = 0;            // updates between the first round's weights and this step's
  };
  // One rollout round's prompts: the rows drawn (this rank's shard), encoded, and how to generate them.
  struct PromptBatch {
    std::vector<Row> rows;
    std::vector<std::vector<int64_t>> prompts;
    rollout::GenerateConfig gc;
    // rollout.mode = workers with several ranks, on rank 0 (the coordinator's): all P prompts of the draw
    // and their stream keys, which rank 0 submits for every rank (rollout_share.h). Empty otherwise.
    std::vector<std::vector<int64_t>> all_prompts;
    std::vector<uint64_t> all_keys;
  };
  // rollout.max_staleness: a later step's first round, submitted to the workers ahead of time.
  struct Prefetched {
    int64_t step = 0;      // the step it belongs to
    uint64_t version = 0;  // the weights it is generated with (step_ + 1 when submitted)
    uint64_t ticket = 0;   // RemoteRollout's
    Json sampler_before;   // the sampler's state before its draw: what a checkpoint saves (resume redraws it)
    PromptBatch batch;
  };
  // step_rollout.cpp: sample_prompts -> rollout -> reward, for every round of the step.
  Groups rollout_groups(PhaseTimes& times);
  PromptBatch draw_prompts(int64_t round, int64_t step);
  void score_round(const PromptBatch& b, const rollout::RolloutResult& res, Groups& g);
  // rollout.mode = workers: rank 0 submits the batch's groups (with several ranks, every rank's shard) with
  // weights `version` and returns the ticket; other ranks have no coordinator and return 0. collect_round:
  // every rank at once; each gets its shard's answers (rank 0's failure ends every rank).
  uint64_t submit_round(const PromptBatch& b, uint64_t version);
  rollout::RolloutResult collect_round(uint64_t ticket);
  // Submits the first rounds of steps step_ + 2 .. step_ + 1 + rollout.max_staleness (those not submitted
  // yet) with the weights of now, before this step's update changes them.
  void prefetch_rollouts(PhaseTimes& times);
  Json sampler_state() const;  // what a checkpoint saves: the state before the oldest prefetched draw
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
  std::unique_ptr<RemoteRollout> remote_;  // rollout.mode = workers, rank 0 only (remote_rollout.h)
  std::vector<Prefetched> prefetched_;     // rollout.max_staleness > 0: oldest first
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
