// trainer/sample.h: `zerorl sample`: rejection sampling. k answers per training prompt, verified by the run's
// verifiers, filtered and selected (trainer/sample_filter.h), written as SFT JSONL with provenance, with a
// yield report per data source; resumable after a kill without duplicates. Not here: the filters' logic
// (sample_filter.h), generation (eval.h's generate_answers).
#pragma once

#include <string>

#include "core/run_config.h"

namespace zerorl::trainer {

// Output (sample.output, default <output_dir>/sample/sft.jsonl), one line per kept answer:
//   {"prompt", "response", "data_source", "answer" (gold), "index" (row in data.train_path),
//    "verdict": {"correct", "extracted", "status", "language"},
//    "provenance": {"model", "step", "temperature", "seed", "sample", "k", "tokens"}}
// Beside it: <output>.state.json (progress: chunks done, bytes written, counters) and <stem>_summary.json:
// per data source {prompts, answers, correct, kept, prompts_with_kept, yield (kept / answers),
// prompt_yield, rejected: {reason: count}}, also printed.
//
// Resume: prompts go in chunks of sample.chunk_prompts; after each chunk its lines are fsynced, then the
// state. A restarted run truncates the output to the bytes the state names (dropping a partial chunk) and
// goes on from the next chunk. A row's answers depend only on (run.seed, row index, sample), so the file is
// the one an uninterrupted run writes. A state written for other settings is an error naming the key.
// `checkpoint`: a step_<N> folder (its step goes into provenance), else model.path.
int run_sample(const Config& cfg, const std::string& checkpoint);

}  // namespace zerorl::trainer
