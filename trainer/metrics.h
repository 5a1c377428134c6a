// trainer/metrics.h: where a step's numbers go: <output_dir>/metrics.jsonl (one line per step),
// TensorBoard scalars under <output_dir>/tb/, the console (a progress bar on a terminal, else a plain line
// every trainer.log_every steps), and samples.jsonl every K steps.
// Not here: computing the numbers (trainer/step.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/json_io.h"
#include "core/progress.h"
#include "core/timer.h"
#include "trainer/tb_writer.h"

namespace zerorl::trainer {

class MetricsSink {
 public:
  // first_step: the step the run starts from (0 fresh, N resumed); total_steps: trainer.steps;
  // log_every: trainer.log_every (console lines when stdout/stderr are not both terminals; 0 = none).
  MetricsSink(const std::string& output_dir, bool tensorboard, int64_t first_step, int64_t total_steps,
              int64_t log_every = 1);
  // `row` must hold "step"; every numeric field becomes a TensorBoard scalar named by its key.
  void log_step(const Json& row);
  void log_samples(const Json& rows);  // an array of {step, prompt, response, reward, ...}
  void finish();

 private:
  std::unique_ptr<JsonlWriter> metrics_, samples_;
  std::unique_ptr<TbWriter> tb_;
  ProgressBar bar_;
  int64_t first_step_, total_steps_, log_every_;
  Stopwatch clock_;
  double first_step_start_s_ = -1;  // clock_ time when the first logged step began (< 0: none logged yet)
};

// The metrics a console shows, from a step's row, as "reward 0.512 | acc 0.250 | ...": the fields of
// kConsoleFields (metrics.cpp) in order, each only when the row has it (an unmeasured metric is absent,
// never shown as 0). Add a metric to the console by adding one entry there.
std::string console_fields(const Json& row);

// The plain console line of a step: "step 3/20 | <console_fields> | 0.31 s | ETA 00:05" (the step's
// time/total; eta_s < 0 or not finite prints "--:--").
std::string console_line(const Json& row, int64_t total_steps, double eta_s);

// Removes lines whose "step" is greater than `step` (a resumed run rewrites those steps). Atomic rewrite.
void truncate_jsonl_after_step(const std::string& path, int64_t step);

// Fields that depend on wall-clock time (seconds, tokens/s): excluded when comparing runs.
bool is_timing_field(const std::string& key);

}  // namespace zerorl::trainer
