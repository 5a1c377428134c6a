// trainer/pipeline.h: `zerorl pipeline`: an ordered list of stages (pretrain | sft | train | sample | eval),
// each a run config plus --set overrides, taking its model or data from earlier stages; finished stages are
// skipped, an interrupted one resumes; one summary (table + picture) at the end. Not here: the stages
// themselves (pretrain.h, sft.h, step.h, sample.h, eval.h) or config file resolution (apps/).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/run_config.h"

namespace zerorl::trainer {

// A pipeline file (YAML):
//   output_dir: runs/x                 # stage N writes <output_dir>/<name>/ (its run.output_dir)
//   stages:
//     - name: teacher                  # unique: [A-Za-z0-9_-]+
//       kind: train                    # pretrain | sft | train | sample | eval
//       config: zero_tiny.yaml         # a run config (a file, or a configs/ name compiled in)
//       set: [trainer.steps=40]        # --set overrides, applied after the config
//       from: [student_base, samples]  # earlier stages: a pretrain/sft/train stage gives model.path (its
//                                      # final model), a sample stage gives sft.train_path (its JSONL)
struct PipelineStage {
  std::string name, kind, config;
  std::vector<std::string> set, from;
};
struct Pipeline {
  std::string output_dir;
  std::vector<PipelineStage> stages;
};

// Parses and checks a pipeline file: unknown keys and kinds, duplicate names, a `from` naming a later or
// unknown stage, or a stage that cannot give what its user needs are errors naming the file and stage.
Pipeline load_pipeline(const std::string& path);

// The folder of a finished (or partial) stage's model: pretrain: <dir>/model; train, sft: the newest valid
// checkpoint; "" when there is none.
std::string stage_model_dir(const PipelineStage& stage, const std::string& stage_dir);

// Loads a stage's run config (apps/ resolves embedded configs) with its overrides applied.
using ConfigLoader = std::function<Config(const std::string& config, const std::vector<std::string>& set)>;

// Runs the stages in order. A stage with <output_dir>/<name>/stage.json is done and skipped; any other
// resumes (train and sft from their newest checkpoint, sample from its progress file, pretrain and eval
// from the start). Writes <output_dir>/pipeline_summary.json (one row per stage: kind, seconds, model,
// step, held-out pass@1 `accuracy` and `greedy_accuracy` where the stage evaluated, and for train and sft
// `before_accuracy` / `before_greedy_accuracy`: its starting model's, from eval/step_0.json) and
// pipeline.png, prints the table.
int run_pipeline(const std::string& path, const ConfigLoader& load);

// `zerorl pipeline --check`: loads the file and every stage's config with its overrides and `from` wiring
// (a model not made yet stands as <output_dir>/<stage>/model), prints one line per stage, runs nothing.
// A bad file, config, key or value throws naming it.
int check_pipeline(const std::string& path, const ConfigLoader& load);

}  // namespace zerorl::trainer
