// verifiers/math_verifier.h: the "math" Verifier: extract the final answer from a response (or take a
// given "pred"), compare it with the gold answer. Not here: extraction/equivalence internals (math_*.h).
#pragma once

#include <string>

#include "verifiers/math_equiv.h"
#include "verifiers/math_extract.h"
#include "verifiers/verifier.h"

namespace zerorl::verifiers {

struct MathVerifierOptions {
  math::ExtractOptions extract;  // training default: tags, boxes, phrases, no number fallback
  math::CompareOptions compare;
  // Reads options from a JSON object: {"require_think_close", "priority", "fallback", "prefer_last",
  // "float_digits", "decimal_rel_tol", "unordered_lists", "allow_set_relation"}; unknown keys throw.
  static MathVerifierOptions from_json(const Json& j);
};

// The gold answer of a dataset row: the text after GSM8K's "####", the last \boxed{} of a worked
// solution, else the string itself.
std::string gold_answer(const std::string& gold);

class MathVerifier : public Verifier {
 public:
  explicit MathVerifier(MathVerifierOptions options = {}) : options_(std::move(options)) {}
  std::string name() const override { return "math"; }
  // sample.gold: gold answer; sample.response: full response, or sample.extra["pred"]: the answer.
  Verdict verify(const Sample& sample) const override;

 private:
  MathVerifierOptions options_;
};

}  // namespace zerorl::verifiers
