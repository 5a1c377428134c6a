// trainer/report.h: the end-of-run report: <output_dir>/summary.json (eval before/after, steps, seconds) and
// curves.png (reward, accuracy, length, KL or entropy, via gnuplot). Not here: computing metrics. Torch-free.
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

// One panel of curves.png: the metrics key it plots against step, and its title.
struct CurvePanel {
  std::string key, title;
};

// The panels for these metrics rows: reward_mean, accuracy, response_len_mean, then kl when the rows measured
// it (a reference model, kl_coef > 0: some row has a non-zero "kl"), else the policy entropy, which every
// update measures (a flat zero KL line said nothing).
std::vector<CurvePanel> curve_panels(const std::vector<Json>& metrics_rows);

// `text` as a gnuplot single-quoted string ('' stands for a quote inside), for paths and titles in scripts.
std::string gnuplot_quote(const std::string& text);

// gnuplot < script, its output to /dev/null; no shell, so no path is ever parsed as shell syntax.
// Returns the exit status (127: gnuplot could not be started).
int run_gnuplot(const std::string& script_path);

// Reads <metrics_path> (JSONL, one object per step with "step") and renders a 2x2 PNG of curve_panels
// against step (missing keys plot as gaps) to `png_path` with gnuplot (spawned without a shell; any path
// works); `eval_accuracy` (step, held-out pass@1) points are drawn on the accuracy panel beside the train
// rollouts'. Returns "" on success, else why not (no gnuplot, no rows): a missing picture never fails a run.
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
