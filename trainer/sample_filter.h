// trainer/sample_filter.h: what rejection sampling keeps of one prompt's k answers: the verifier's verdict,
// the YAML filters (format, length, language consistency, repeated n-grams), dedupe and the per-prompt
// selection (all | shortest | random). Pure functions of their inputs, torch-free. Not here: generation
// or files (trainer/sample.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/sample_config.h"

namespace zerorl::trainer {

// One generated answer with what the verifiers said about it.
struct Candidate {
  std::string response;
  int64_t tokens = 0;
  bool correct = false;   // the data source's verifier
  bool format_ok = true;  // rewards.format_rule
  double language = 1.0;  // language consistency of the reasoning (verifiers/language.h)
  std::string reject;     // why it was dropped ("" = kept): wrong, format, length, language, ngram, duplicate
};

// The largest number of times one word n-gram occurs in `text` (words split on whitespace); 0 when the text
// has fewer than n words.
int64_t max_ngram_count(const std::string& text, int64_t n);

// Sets `reject` on every candidate that fails (first failing check in the order listed on Candidate;
// duplicates are exact repeats of an earlier kept response after trimming whitespace), then returns the
// indices selected: all kept (in order), the shortest kept (fewest tokens, then the first), or per_prompt
// kept ones drawn without replacement with `seed` (in their original order). Not-selected kept candidates
// get reject "unselected".
std::vector<size_t> select_candidates(std::vector<Candidate>& candidates, const SampleSection& options,
                                      uint64_t seed);

}  // namespace zerorl::trainer
