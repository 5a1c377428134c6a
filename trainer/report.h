// trainer/report.h: the end-of-run report of a demo run: <output_dir>/summary.json (eval before/after, steps,
// seconds) and <output_dir>/curves.png (reward, accuracy, response length, KL against step, via gnuplot).
// Not here: computing any metric (step.cpp, eval.cpp write them); this only reads and renders. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/json_io.h"

namespace zerorl::trainer {

// An eval summary (trainer::evaluate's JSON, or any object with these keys) reduced to
// {"accuracy", "format_rate", "response_len_mean"}; `response_len_mean` falls back to
// "mean_response_tokens". Missing keys become null.
Json eval_brief(const Json& eval_summary);

// Writes <output_dir>/summary.json = {"eval_before": brief, "eval_after": brief, "steps", "seconds"}
// (atomically) and returns it.
Json write_summary(const std::string& output_dir, const Json& eval_before, const Json& eval_after,
                   int64_t steps, double seconds);

// Reads <metrics_path> (JSONL, one object per step with "step") and renders a 2x2 PNG of reward_mean,
// accuracy, response_len_mean and kl against step (missing keys plot as gaps) to `png_path` with gnuplot;
// `eval_accuracy` (step, held-out pass@1) points are drawn on the accuracy panel beside the train rollouts'.
// Returns "" on success, else why not (no gnuplot, no rows): a missing picture never fails a run.
std::string plot_curves(const std::string& metrics_path, const std::string& png_path,
                        const std::vector<std::pair<int64_t, double>>& eval_accuracy = {});

// The before/after table of a summary.json object, one metric per line (for the console).
std::string summary_table(const Json& summary);

// End of a run with evaluations: summary.json from <output_dir>/eval/step_0.json (before) and
// eval/step_<last_step>.json (after), `seconds` = the steps' time/total in metrics.jsonl plus every eval's
// seconds (so a resumed run counts all its parts), and curves.png with the held-out accuracy points.
// last_step < 0 means the newest step with an eval.
// Returns the summary plus "curves": the picture's path or why it was not drawn.
Json write_run_report(const std::string& output_dir, int64_t last_step);

}  // namespace zerorl::trainer
