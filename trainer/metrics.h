// trainer/metrics.h: where a step's numbers go: <output_dir>/metrics.jsonl (one line per step),
// TensorBoard scalars under <output_dir>/tb/, the console progress bar, and samples.jsonl every K steps.
// Not here: computing the numbers (trainer/step.cpp).
#pragma once

#include <memory>
#include <string>

#include "core/json_io.h"
#include "core/progress.h"
#include "trainer/tb_writer.h"

namespace zerorl::trainer {

class MetricsSink {
 public:
  // first_step: the step the run starts from (0 fresh, N resumed); total_steps: trainer.steps.
  MetricsSink(const std::string& output_dir, bool tensorboard, int64_t first_step, int64_t total_steps);
  // `row` must hold "step"; every numeric field becomes a TensorBoard scalar named by its key.
  void log_step(const Json& row);
  void log_samples(const Json& rows);  // an array of {step, prompt, response, reward, ...}
  void finish();

 private:
  std::unique_ptr<JsonlWriter> metrics_, samples_;
  std::unique_ptr<TbWriter> tb_;
  ProgressBar bar_;
};

// Removes lines whose "step" is greater than `step` (a resumed run rewrites those steps). Atomic rewrite.
void truncate_jsonl_after_step(const std::string& path, int64_t step);

// Fields that depend on wall-clock time (seconds, tokens/s): excluded when comparing runs.
bool is_timing_field(const std::string& key);

}  // namespace zerorl::trainer
