// trainer/step.h: the GRPO trainer: built from a Config, one step() of named timed phases, checkpoint save
// and exact resume, and run() until trainer.steps. Not here: folder mechanics (checkpoint.h), metric sinks
// (metrics.h), the loss math (grpo.h, later algo/), the model (policy.h, later model/).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/run_config.h"
#include "core/timer.h"
#include "dist/context.h"
#include "trainer/data.h"
#include "trainer/metrics.h"
#include "trainer/policy.h"

namespace zerorl::trainer {

// Learning rate of optimizer step `opt_step` (0-based) out of `total`: linear warmup over warmup_steps
// ((s+1)/warmup), then constant or cosine decay to 0 at `total`.
double lr_at(const OptimSection& o, int64_t opt_step, int64_t total);

// One scored answer.
struct Scored {
  double reward = 0, accuracy = 0, format = 0;
  std::string response;
};

class Trainer {
 public:
  Trainer(const Config& cfg, const dist::Context& ctx);
  ~Trainer();
  // resume: "" (fresh; refuses an output_dir that already has checkpoints), "auto" (newest complete
  // checkpoint, fresh if none) or a checkpoint folder.
  void start(const std::string& resume);
  Json step();  // runs step_ + 1; returns its metrics row (also logged)
  void run();   // steps until trainer.steps, checkpoints when due
  void save_checkpoint();
  int64_t current_step() const { return step_; }
  CausalLm& model() { return *model_; }

 private:
  struct Groups;
  Groups rollout_groups(PhaseTimes& times);
  Json update(const Groups& g, PhaseTimes& times);
  Scored score(const Row& row, const std::vector<int64_t>& response, bool truncated) const;
  void load_checkpoint(const std::string& dir);
  std::vector<int64_t> encode_prompt(const Row& row) const;

  Config cfg_;
  dist::Context ctx_;
  torch::Device device_;
  std::vector<Row> rows_;
  std::unique_ptr<EpochSampler> sampler_;
  ToyTokenizer toy_tok_;
  std::unique_ptr<CausalLm> model_, ref_;
  std::unique_ptr<torch::optim::AdamW> opt_;
  std::unique_ptr<MetricsSink> sink_;
  int64_t step_ = 0, opt_steps_ = 0;
};

// `zerorl train`: builds a Trainer, resumes as asked, runs. Returns the process exit code.
int run_train(const Config& cfg, const std::string& resume);

}  // namespace zerorl::trainer
