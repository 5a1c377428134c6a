// verifiers/jsonl_verify.h: the engine of `zerorl verify` for the math, countdown and format verifiers:
// docs/design.md's input rows -> Samples, verdicts -> output rows, run on the deadline pool.
// Not here: the CLI parsing (apps/cmd_verify.cpp) or the code sandbox (`--verifier code`).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "verifiers/verifier.h"

namespace zerorl::verifiers {

// Row -> Sample for `verifier` ("math": gold + response|pred; "countdown": numbers + target + response;
// "format": response; "language_consistency": response + language). Throws naming `where` (file and row) and
// the missing or mistyped key.
Sample sample_from_row(const std::string& verifier, const Json& row, const std::string& where);

// Verdict -> output row: {"correct", "extracted", "reason"} (+ "reward" for format);
// language_consistency: {"reward" (the fraction), "words", "target_words", "scripts", "reason"}.
Json verdict_to_row(const std::string& verifier, const Verdict& v);

// Reads `input_path`, verifies every row (thread pool of `threads`, 0: one per core up to 16; per-item
// deadline), writes one JSON line per row in order to `out`. `options` go to the verifier's factory (format:
// {"rule": ...}). Returns the process exit code (0). Bad input throws before anything is written.
int verify_jsonl(const std::string& verifier, const std::string& input_path, std::ostream& out,
                 int threads = 0, double deadline_s = 2.0, const Json& options = Json::object());

}  // namespace zerorl::verifiers
