// verifiers/math_eval.h: evaluates a scalar expression tree at a point (symbol -> value) with math_num.
// Not here: structure comparison (math_equiv.cpp) or parsing.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "verifiers/math_num.h"
#include "verifiers/math_parse.h"

namespace zerorl::verifiers::math {

using Point = std::vector<std::pair<std::string, Num>>;

// Evaluation step budget per call; beyond it the result is invalid (bounded work).
constexpr int kMaxEvalSteps = 20000;

// Value of `n` at `point`. Symbols missing from the point, text, containers -> invalid.
// Unknown one-letter functions (f(x)) are fixed pseudo-random functions of their name and argument,
// so f(x) == f(x) but f(x) != g(x) and f(x) != f(y).
Num evaluate(const Node& n, const Point& point);

// The k-th sample point for these symbols: exact rationals in [1.3, 3.1], fixed per (name, k).
Point sample_point(const std::vector<std::string>& symbols, int k);

// Expands ± into its branches (at most 16), e.g. 1 \pm \sqrt{5} -> {1 + \sqrt{5}, 1 - \sqrt{5}}.
std::vector<Node> expand_plus_minus(const Node& n);
// Rewrites sums, products, negations and scalar multiples of matrices into one matrix of cell
// expressions ("A + B" -> cells a_ij + b_ij, "A B" -> sum_k a_ik b_kj); other nodes unchanged.
Node fold_matrix_ops(const Node& n);
bool contains_kind(const Node& n, Kind k);

}  // namespace zerorl::verifiers::math
