// trainer/hack_monitor.h: reward-hacking monitors of a training run: per step, the fraction of sampled
// answers showing each category of hack sign (metrics hack/<category>_frac), the flagged answers with the
// patterns that matched (<output_dir>/flagged.jsonl), and a warning when a fraction rises over a window.
// Not here: finding signs and penalties (rewards/hack_signs.h, rewards/reward.h), the sinks (metrics.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/run_config.h"
#include "rewards/hack_trend.h"
#include "rewards/reward.h"
#include "trainer/data.h"

namespace zerorl::trainer {

// rewards.hack_penalty.* as the reward layer's category -> penalty map (zero penalties left out).
std::map<std::string, double> hack_penalties(const HackPenaltySection& p);

class HackMonitor {
 public:
  // first_step: the step the run starts from; lines of flagged.jsonl after it are dropped (a resumed run
  // writes those steps again). The warning window restarts on resume. output_dir empty: no flagged.jsonl.
  HackMonitor(const std::string& output_dir, const HackMonitorSection& options, int64_t first_step);
  ~HackMonitor();
  // Adds one scoring round of the coming step: rows[i] was answered with responses[i], scored rewards[i]
  // (whose hack_signs Scorer::score filled).
  void add(const std::vector<const Row*>& rows, const std::vector<std::string>& responses,
           const std::vector<rewards::Reward>& rewards);
  // Ends step `step`: writes its flagged answers, logs and returns the warnings (in *warnings if given),
  // and returns the metrics: hack/<category>_frac for code, math, format, repetition and any;
  // hack/flagged (answers with any sign) and hack/penalty_mean (mean penalty, <= 0).
  Json finish_step(int64_t step, std::vector<std::string>* warnings = nullptr);

 private:
  int64_t flagged_per_step_;  // rewards.hack_monitor.flagged_per_step
  std::unique_ptr<JsonlWriter> flagged_;
  rewards::HackTrend trend_;
  std::vector<std::vector<rewards::HackSign>> signs_;  // this step's answers so far
  double penalty_sum_ = 0;
  Json pending_ = Json::array();  // this step's flagged answers, at most flagged_per_step
};

}  // namespace zerorl::trainer
