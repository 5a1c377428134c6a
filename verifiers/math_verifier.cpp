// verifiers/math_verifier.cpp: the "math" Verifier wrapper (extraction -> equivalence -> Verdict).
// Not here: parsing, evaluation or extraction rules.
#include "verifiers/math_verifier.h"

#include <exception>

#include "core/error.h"

namespace zerorl::verifiers {

MathVerifierOptions MathVerifierOptions::from_json(const Json& j) {
  MathVerifierOptions o;
  ZRL_CHECK(j.is_object(), "math verifier options must be a JSON object, got {}", j.dump());
  for (const auto& [key, value] : j.items()) {
    if (key == "require_think_close")
      o.extract.require_think_close = value.get<bool>();
    else if (key == "priority")
      o.extract.priority = value.get<std::vector<std::string>>();
    else if (key == "fallback")
      o.extract.fallback = value.get<bool>();
    else if (key == "number_fallback")
      o.extract.number_fallback = value.get<bool>();
    else if (key == "prefer_last")
      o.extract.prefer_last = value.get<bool>();
    else if (key == "think_close_tags")
      o.extract.think_close_tags = value.get<std::vector<std::string>>();
    else if (key == "float_digits")
      o.compare.float_digits = value.get<int>();
    else if (key == "decimal_rel_tol")
      o.compare.decimal_rel_tol = value.get<double>();
    else if (key == "unordered_lists")
      o.compare.unordered_lists = value.get<bool>();
    else if (key == "allow_set_relation")
      o.compare.allow_set_relation = value.get<bool>();
    else
      ZRL_FAIL("unknown math verifier option '{}' (see verifiers/math_verifier.h)", key);
  }
  return o;
}

std::string gold_answer(const std::string& gold) {
  math::ExtractOptions o;
  o.priority = {"gsm8k", "boxed"};
  o.think_close_tags = {};
  math::Extraction e = math::extract_answer(gold, o);
  return e.found ? e.answer : gold;
}

Verdict MathVerifier::verify(const Sample& sample) const {
  Verdict v;
  try {
    std::string answer;
    // A pre-extracted answer ("pred", from `zerorl verify` input) is scored only when there is no response:
    // a dataset row's extra must never stand in for what the model wrote.
    if (sample.response.empty() && sample.extra.is_object() && sample.extra.contains("pred") &&
        sample.extra["pred"].is_string()) {
      answer = math::unwrap_pred(sample.extra["pred"].get<std::string>());
    } else {
      math::Extraction e = math::extract_answer(sample.response, options_.extract);
      if (!e.found) {
        v.status = "no_answer";
        v.reason = "no final answer found (\\boxed{}, <answer>, 'The answer is', ####)";
        return v;
      }
      answer = e.answer;
      v.info["method"] = e.method;
    }
    v.extracted = answer;
    math::CompareResult r = math::compare_answers(gold_answer(sample.gold), answer, options_.compare);
    v.correct = r.equal;
    v.reward = r.equal ? 1.0 : 0.0;
    v.status = r.equal ? "ok" : (r.gold_invalid ? "error" : "wrong");
    v.reason = r.reason;
  } catch (const std::exception& e) {  // bad_alloc and the like: a value, never a crash of the pool
    v = Verdict{};
    v.status = "error";
    v.reason = std::string("verifier error: ") + e.what();
  }
  return v;
}

}  // namespace zerorl::verifiers
