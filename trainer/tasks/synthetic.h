// trainer/tasks/synthetic.h: synthetic reasoning tasks for the R1-Zero demo: Countdown and multi-digit
// arithmetic instances from a seed, RL prompt rows (prompt, answer, data_source) and a pretraining corpus of
// worked solutions in varied styles (some wrong). Not here: verification (verifiers/), the prompt template.
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json_io.h"

namespace zerorl::trainer::tasks {

// One instance. `key` identifies it (same key = same problem) so train/eval/corpus splits are disjoint.
struct Problem {
  std::string task;           // "countdown" | "arithmetic"
  std::string key;            // canonical form, e.g. "cd:3,25,60->12" or "ar:347+58"
  std::string question;       // the RL prompt text (no template)
  std::string answer;         // gold answer text: the result (arithmetic) or the target (countdown)
  std::string solution;       // countdown: an expression found by exact search; arithmetic: "347 + 58"
  std::vector<long> numbers;  // countdown numbers, or the two arithmetic operands
  long target = 0;            // countdown target, or the arithmetic result
  char op = '+';              // arithmetic operator
};

struct TaskSpec {
  std::string task = "arithmetic";  // "countdown" | "arithmetic"
  int64_t countdown_numbers = 3;    // numbers per Countdown instance (3 or 4)
  int64_t countdown_max = 50;       // numbers 1..max; targets 1..countdown_max_target
  int64_t countdown_max_target = 100;
  int64_t arithmetic_digits = 2;      // operands have up to this many digits
  std::string arithmetic_ops = "+-";  // operators drawn from
};

// Deterministic: the same (spec, seed, index) always gives the same problem. Countdown instances are
// solvable (the solver's expression is stored in `solution`).
Problem make_problem(const TaskSpec& spec, uint64_t seed, int64_t index);

// RL row: {"prompt", "answer", "data_source"} plus, for Countdown, "extra": {"numbers", "target"} (what
// the trainer passes to the countdown verifier; data.extra_key).
Json problem_row(const Problem& p);

// A worked solution as a free-standing document ({"text"}): one of several styles chosen by `seed`,
// never the R1-Zero template. With probability `mistake_rate` the work contains an error and (usually) a
// wrong final answer. Returns the text.
std::string worked_document(const Problem& p, uint64_t seed, double mistake_rate);

// `doc` behind a paragraph of 3-8 generic sentences about conversations, questions and careful answers
// (drawn by `seed`; never the R1-Zero template's sentences), so a small base model learns to answer after a
// long unseen preamble such as the RL prompt template's.
std::string with_preamble(const std::string& doc, uint64_t seed);

struct Splits {
  std::vector<Problem> train, eval, corpus;  // pairwise disjoint by Problem::key
};

// Draws distinct problems until each split has its size (eval first, then train, then corpus). Throws
// when the task space is too small for the requested sizes.
Splits make_splits(const TaskSpec& spec, uint64_t seed, int64_t n_train, int64_t n_eval, int64_t n_corpus);

}  // namespace zerorl::trainer::tasks
