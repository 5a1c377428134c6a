// tests/verifiers/math/test_fuzz.cpp: randomized robustness test: random LaTeX-like strings and
// mutated real answers through extraction, parsing, comparison, countdown and format checks, with no
// crash (run it under the ASan build) and every verdict inside 100 ms. Not here: correctness.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "verifiers/countdown.h"
#include "verifiers/format_reward.h"
#include "verifiers/math_verifier.h"

namespace zerorl::verifiers {
namespace {

const char* const kTokens[] = {"\\frac",
                               "\\dfrac",
                               "\\sqrt",
                               "\\sqrt[3]",
                               "{",
                               "}",
                               "{",
                               "}",
                               "(",
                               ")",
                               "[",
                               "]",
                               "\\{",
                               "\\}",
                               "^",
                               "_",
                               "^{",
                               "\\left(",
                               "\\right)",
                               "\\pi",
                               "\\infty",
                               "e",
                               "i",
                               "x",
                               "y",
                               "f(",
                               "0",
                               "1",
                               "2",
                               "9",
                               "10",
                               "3.14",
                               ".5",
                               "1,000",
                               "+",
                               "-",
                               "*",
                               "/",
                               "\\cdot",
                               "\\times",
                               "=",
                               "<",
                               "\\le",
                               "\\ge",
                               ",",
                               ";",
                               ":",
                               "!",
                               "%",
                               "\\%",
                               "$",
                               "$$",
                               "\\(",
                               "\\)",
                               "\\boxed{",
                               "\\fbox{",
                               "\\text{",
                               "cm",
                               " and ",
                               "\\pm",
                               "\\cup",
                               "|",
                               "\\begin{pmatrix}",
                               "\\end{pmatrix}",
                               "&",
                               "\\\\",
                               "\\sin",
                               "\\log_",
                               "\\binom",
                               "<answer>",
                               "</answer>",
                               "<think>",
                               "</think>",
                               "####",
                               "The final answer is ",
                               " ",
                               "\n",
                               "9^{9^{9^9}}",
                               "\\approx",
                               "\\in",
                               "\\mathrm{",
                               "\\!",
                               "'",
                               "\"",
                               "\\",
                               "\\zzz",
                               "-\\infty",
                               "^\\circ",
                               "1e5",
                               "(((",
                               ")))"};

std::string random_string(std::mt19937& rng) {
  std::uniform_int_distribution<int> len(0, 40), tok(0, static_cast<int>(std::size(kTokens)) - 1);
  std::string s;
  for (int n = len(rng); n > 0; --n) s += kTokens[tok(rng)];
  if (rng() % 8 == 0) {  // raw bytes
    for (int k = 0; k < 8; ++k) s += static_cast<char>(rng() % 256);
  }
  return s;
}

TEST(Fuzz, RandomLatexNeverCrashesAndStaysFast) {
  std::mt19937 rng(20261128);
  MathVerifier math;
  MathVerifierOptions eval_opts;
  eval_opts.extract.fallback = true;
  eval_opts.extract.prefer_last = true;
  MathVerifier math_eval(eval_opts);
  CountdownVerifier countdown;
  FormatOptions fmt;
  double worst_ms = 0;
  std::string worst;
  for (int iter = 0; iter < 4000; ++iter) {
    Sample s;
    s.gold = random_string(rng);
    s.response = random_string(rng);
    s.extra = {{"numbers", {1, 2, 3}}, {"target", 6}};
    auto t0 = std::chrono::steady_clock::now();
    Verdict a = math.verify(s);
    Verdict b = math_eval.verify(s);
    Verdict c = countdown.verify(s);
    double r = format_reward(s.response, fmt);
    math::compare_answers(s.response, s.gold, {});
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (ms > worst_ms) {
      worst_ms = ms;
      worst = s.gold + " ||| " + s.response;
    }
    for (const Verdict* d : {&a, &b}) {  // "error" only for a gold that does not parse
      EXPECT_TRUE(d->status == "ok" || d->status == "wrong" || d->status == "no_answer" ||
                  (d->status == "error" && d->reason.rfind("gold unparsable", 0) == 0))
          << d->status << ": " << d->reason;
    }
    EXPECT_NE(c.status, "error");
    EXPECT_TRUE(r == 0.0 || r == 1.0);
  }
  std::printf("fuzz: worst iteration %.2f ms (5 checks): %s\n", worst_ms, worst.substr(0, 160).c_str());
#if defined(__SANITIZE_ADDRESS__)
  const double limit_ms = 500;  // ASan/UBSan slow everything down ~5x
#else
  const double limit_ms = 100;
#endif
  EXPECT_LT(worst_ms, limit_ms) << worst;
}

}  // namespace
}  // namespace zerorl::verifiers
