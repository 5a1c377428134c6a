// verifiers/countdown.h: the Countdown game: check an arithmetic expression (uses exactly the given
// multiset of numbers, only + - * / and parentheses, exact rational value equals the target), an exact
// solver (also used to generate tasks), and the "countdown" Verifier. Not here: math answers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "verifiers/verifier.h"

namespace zerorl::verifiers {

struct CountdownTask {
  std::vector<long> numbers;
  long target = 0;
};

struct CountdownCheck {
  bool ok = false;
  std::string status;  // "ok", "wrong" (value), "numbers" (multiset), "syntax", "no_answer"
  std::string reason;
};

// Checks one expression such as "(100 - 93) * 30 / 10". Never throws.
CountdownCheck check_countdown(const std::string& expression, const CountdownTask& task);

// The expression in a response: <answer>…</answer> (after </think> when present), else the last
// \boxed{}; a trailing "= target" is dropped. Empty when none.
std::string extract_countdown_expression(const std::string& response);

// Exact search over all binary trees of + - * / on the numbers (each used once, all used); returns an
// expression string or nullopt. Values are exact fractions; intermediate overflow is pruned.
std::optional<std::string> solve_countdown(const CountdownTask& task);

class CountdownVerifier : public Verifier {
 public:
  std::string name() const override { return "countdown"; }
  // sample.extra: {"numbers": [..], "target": n}; sample.response: the model output.
  Verdict verify(const Sample& sample) const override;
};

}  // namespace zerorl::verifiers
