// tests/verifiers/math/test_math_hedging.cpp: a table of hedged answers (several candidates, lists,
// intervals, sets and inequalities that contain the gold) the math verifier must score wrong, and the
// plain forms of the same answer it must score right. Not here: equivalence in general (test_math_verifier).
#include <gtest/gtest.h>

#include "verifiers/math_verifier.h"

namespace zerorl::verifiers {
namespace {

struct Hedge {
  const char* gold;
  const char* response;
};

// Each response contains the gold answer among other values, or a range that covers it.
const Hedge kHedges[] = {
    {"4", "so it is \\boxed{4} or \\boxed{5}"},
    {"4", "\\boxed{5} or \\boxed{4}"},
    {"4", "\\boxed{4}, \\boxed{5}"},
    {"4", "\\boxed{4} and \\boxed{5}"},
    {"4", "\\boxed{4 \\text{ or } 5}"},
    {"4", "\\boxed{4 or 5}"},
    {"4", "\\boxed{\\text{4 or 5}}"},
    {"4", "\\boxed{4 \\lor 5}"},
    {"4", "\\boxed{4 \\vee 5}"},
    {"4", "\\boxed{4 \\text{ and } 5}"},
    {"4", "\\boxed{x = 4 \\text{ or } x = 5}"},
    {"4", "\\boxed{4, 5, 6}"},
    {"4", "\\boxed{4,5}"},
    {"4", "\\boxed{4; 5}"},
    {"4", "\\boxed{\\{4, 5\\}}"},
    {"4", "\\boxed{\\{3, 4, 5\\}}"},
    {"4", "\\boxed{\\{4\\} \\cup \\{5\\}}"},
    {"4", "\\boxed{[3, 5]}"},
    {"4", "\\boxed{(3, 5)}"},
    {"4", "\\boxed{[0, \\infty)}"},
    {"4", "\\boxed{(-\\infty, \\infty)}"},
    {"4", "\\boxed{3 \\le x \\le 5}"},
    {"4", "\\boxed{3 < x < 5}"},
    {"4", "\\boxed{x \\in [3, 5]}"},
    {"4", "\\boxed{x \\geq 4}"},
    {"4", "\\boxed{\\geq 4}"},
    {"4", "\\boxed{4 \\pm 1}"},
    {"4", "\\boxed{\\mathbb{R}}"},
    {"4", "\\boxed{\\text{all real numbers}}"},
    {"4", "\\boxed{\\text{any integer}}"},
    {"4", "<answer>4 or 5</answer>"},
    {"4", "<answer>4, 5, 6</answer>"},
    {"4", "<answer>\\{3, 4, 5\\}</answer>"},
    {"4", "The final answer is 4 or 5."},
    {"4", "The final answer is 3, 4, 5."},
    {"\\frac{1}{2}", "\\boxed{\\frac{1}{2} \\text{ or } \\frac{1}{3}}"},
    {"\\frac{1}{2}", "\\boxed{[0, 1]}"},
    {"-2", "\\boxed{-2, 2}"},
    {"-2", "\\boxed{\\pm 2}"},
    {"x^2-1", "\\boxed{x^2 - 1 \\text{ or } x^2 + 1}"},
    {"\\text{(B)}", "\\boxed{B \\text{ or } C}"},
    {"\\text{(B)}", "\\boxed{(B), (C)}"},
    {"\\text{(B)}", "\\boxed{(B) or (C)}"},
    {"\\text{(B)}", "\\boxed{\\text{(B) and (D)}}"},
    {"\\textbf{(C) }17", "\\boxed{(C) 17, (D) 18}"},
    {"\\text{(B)}", "\\boxed{\\text{B, C, D}}"},
};

TEST(MathHedging, EveryHedgedFormIsWrong) {
  MathVerifier v;
  for (const Hedge& h : kHedges) {
    Sample s;
    s.gold = h.gold;
    s.response = h.response;
    const Verdict d = v.verify(s);
    EXPECT_FALSE(d.correct) << "gold " << h.gold << " accepted the hedge " << h.response << " (extracted '"
                            << d.extracted << "'): " << d.reason;
    EXPECT_EQ(d.reward, 0.0) << h.response;
  }
}

// The controls: the same golds stated plainly (or restated identically) are right, so the table above
// fails for hedging, not for an answer the verifier cannot read.
TEST(MathHedging, PlainAnswersAreRight) {
  const Hedge plain[] = {
      {"4", "\\boxed{4}"},
      {"4", "\\boxed{x = 4}"},
      {"4", "<answer>4</answer>"},
      {"4", "The final answer is 4."},
      {"4", "first \\boxed{5}, but rechecking the last step gives \\boxed{4}"},
      {"\\frac{1}{2}", "\\boxed{0.5}"},
      {"-2", "\\boxed{-2}"},
      {"x^2-1", "\\boxed{(x-1)(x+1)}"},
      {"\\text{(B)}", "\\boxed{B}"},
  };
  MathVerifier v;
  for (const Hedge& h : plain) {
    Sample s;
    s.gold = h.gold;
    s.response = h.response;
    const Verdict d = v.verify(s);
    EXPECT_TRUE(d.correct) << "gold " << h.gold << " rejected " << h.response << ": " << d.reason;
  }
}

}  // namespace
}  // namespace zerorl::verifiers
