// rewards/reward.h: from verifier Verdicts to one scalar reward per sample: weighted accuracy + format,
// DAPO's soft overlong penalty, and which verifier checks a row (by its data_source). Torch-free.
// Not here: running verifiers (verifiers/, the trainer's pool), advantages (algo/), YAML parsing (trainer).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rewards/hack_signs.h"
#include "verifiers/verifier.h"

namespace zerorl::rewards {

// DAPO soft overlong punishment, Yu et al. 2025 "DAPO", sec. 3.4, eq. (13), with L = |y| response tokens:
//   R_length(y) = 0                                   if L <= L_max - L_cache
//               = ((L_max - L_cache) - L) / L_cache   if L_max - L_cache < L <= L_max
//               = -1                                  if L > L_max
// scaled by penalty_factor (verl's overlong_buffer.penalty_factor; DAPO uses 1). DAPO: L_max = 20480,
// L_cache = 4096. L_max is RewardOptions::max_response_tokens (= rollout.max_new_tokens, so a truncated
// answer gets -penalty_factor).
struct OverlongOptions {
  bool enabled = false;
  int64_t buffer = 0;           // L_cache, tokens: 0 < buffer <= L_max
  double penalty_factor = 1.0;  // penalty at (and beyond) L_max, >= 0
};

struct RewardOptions {
  // total = accuracy_weight * accuracy + format_weight * format + overlong + length
  // with length = -length_weight * L / max_response_tokens (linear length shaping; 0 by default).
  double accuracy_weight = 1.0;
  double format_weight = 0.0;
  // accuracy = wrong_reward + (correct_reward - wrong_reward) * score, score in [0, 1] (see verdict_score).
  // R1-Zero / verl: 1 and 0; DAPO: 1 and -1.
  double correct_reward = 1.0;
  double wrong_reward = 0.0;
  double length_weight = 0.0;
  // DeepSeek-R1 sec. 2.3.3: total += language_weight * (proportion of `language` words in the reasoning;
  // verifiers/language.h says how words count). 0: not computed.
  double language_weight = 0.0;
  std::string language = "en";
  int64_t max_response_tokens = 0;  // L_max (rollout.max_new_tokens); needed by overlong and length shaping
  OverlongOptions overlong;
  // Which verifier checks a row: verifier_by_source[data_source], else default_verifier ("" = none: an
  // unknown data_source is then an error naming it).
  std::map<std::string, std::string> verifier_by_source;
  std::string default_verifier;
  // Penalty subtracted from the total once per hack-sign category present (hack_signs.h): category ->
  // penalty >= 0. Empty or 0: signs are only reported (rewards.hack_penalty.*, off by default).
  std::map<std::string, double> hack_penalty;
};

// Throws zerorl::Error naming the offending field (e.g. "rewards.overlong.buffer") and value.
void validate(const RewardOptions& options);

// A Verdict's score in [0, 1]: 1 if `correct`, else its `reward` clamped to [0, 1] (partial credit, e.g.
// code tests passed / total); a non-finite reward scores 0 (a broken verifier output is a value, not a
// throw).
double verdict_score(const verifiers::Verdict& verdict);

// penalty_factor * R_length above, with L_max = max_length; 0 when disabled. response_tokens >= 0.
double overlong_penalty(int64_t response_tokens, int64_t max_length, const OverlongOptions& options);

struct Reward {
  double total = 0;
  double accuracy = 0;      // wrong_reward..correct_reward, before its weight
  double format = 0;        // format score in [0, 1] before its weight; meaningful only when has_format
  bool has_format = false;  // a format verdict was given: without one, `format` is not a measurement
  double overlong = 0;      // R_length * penalty_factor, in [-penalty_factor, 0]
  double length = 0;        // -length_weight * L / max_response_tokens
  bool correct = false;     // the accuracy verdict's `correct` (for the accuracy metric)
  std::string status;       // the accuracy verdict's `status` ("timeout"/"error": the verifier failed)
  std::vector<HackSign> hack_signs;  // what apply_hack_signs found (monitoring; empty if not run)
  double hack_penalty = 0;           // -(sum of the penalties of the categories present), <= 0
  double language = 1;               // language consistency in [0, 1] before its weight (1 if not computed)
};

// One sample's reward. `format` may be null (no format verdict: contributes 0 to total, has_format false, and
// a format rate must not count it).
Reward compute_reward(const RewardOptions& options, const verifiers::Verdict& accuracy,
                      const verifiers::Verdict* format, int64_t response_tokens);

// Records `signs` on the reward and subtracts options.hack_penalty[category] once per category present.
void apply_hack_signs(const RewardOptions& options, std::vector<HackSign> signs, Reward* reward);

// With options.language_weight != 0: sets reward->language to language_consistency(response, language)
// and adds language_weight times it to the total; otherwise does nothing.
void apply_language_consistency(const RewardOptions& options, const std::string& response, Reward* reward);

// The verifier name for a row's data_source (see RewardOptions); throws naming the source if none.
const std::string& verifier_for(const RewardOptions& options, const std::string& data_source);

}  // namespace zerorl::rewards
