// verifiers/format_reward.h: format rewards for tagged completions: the strict R1-Zero template and the
// rules of TRL, open-r1 and NeMo-RL (data/verifier_cases/format_reward_cases.jsonl.gz). Not here: answer
// checks.
#pragma once

#include <string>

#include "verifiers/verifier.h"

namespace zerorl::verifiers {

struct FormatOptions {
  // "r1_zero": <think>…</think> then <answer>…</answer>, each exactly once, not nested, closed, with
  //            only whitespace around; 1 or 0.
  // "trl_think": starts with <think>, no second <think>, a </think> follows (TRL think_format_reward).
  // "open_r1_format": "<think>\n…\n</think>\n<answer>\n…\n</answer>" (open-r1 format_reward).
  // "open_r1_tag_count": 0.25 per tag string present exactly once (open-r1 tag_count_reward).
  // "open_r1_code": open_r1_format with a ```<language> … ``` block in the answer.
  // "nemo_rl": 0.25 for <think>…</think> anywhere, 0.75 for <answer>…</answer> anywhere.
  std::string rule = "r1_zero";
  std::string think_tag = "think";
  std::string answer_tag = "answer";
  std::string language = "python";
  // The prompt template ends with "<think>", so the completion starts inside the reasoning.
  bool think_opened_in_prompt = false;

  static FormatOptions from_json(const Json& j);  // keys as the fields; unknown keys throw
};

// Reward in [0, 1] for `completion` under `options.rule`; unknown rule throws (a config error).
double format_reward(const std::string& completion, const FormatOptions& options);

class FormatVerifier : public Verifier {
 public:
  explicit FormatVerifier(FormatOptions options = {});
  std::string name() const override { return "format"; }
  Verdict verify(const Sample& sample) const override;  // correct when the reward is 1

 private:
  FormatOptions options_;
};

}  // namespace zerorl::verifiers
