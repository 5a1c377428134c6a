// verifiers/math_equiv.h: is an extracted answer equivalent to the gold answer? Structural comparison
// (lists, sets, tuples, intervals, matrices, relations) over exact/high-precision scalar evaluation.
// Not here: extracting the answer from a response (math_extract.h), the Verifier wrapper.
#pragma once

#include <string>

#include "verifiers/math_parse.h"

namespace zerorl::verifiers::math {

struct CompareOptions {
  // Math-Verify's float_rounding: when >= 0 and a side holds a decimal literal, both values are rounded
  // to this many decimals and compared. When < 0 (default), the tolerance policy below applies.
  int float_digits = -1;
  // A decimal literal with k decimals and >= 4 significant digits equals an exact value that rounds or
  // truncates to it at k decimals (1.414 = sqrt 2; 33.3 != 100/3; 41.9999 != 42). A decimal gold equals a
  // longer decimal prediction that rounds to it. Decimals inside larger expressions:
  // |g - p| <= decimal_rel_tol * max(|g|, |p|).
  double decimal_rel_tol = 1e-4;
  // Exact-vs-exact symbolic comparisons at random points: 256-bit values, this relative tolerance.
  double symbolic_rel_tol = 1e-30;
  // "1, 3, 2" equals "1, 2, 3" (bare lists and sets are unordered). Off for graders that keep order.
  bool unordered_lists = true;
  // A gold set/interval also accepts an equivalent inequality in the prediction ("x in [-2,7]" vs
  // "-2 <= x <= 7"). A gold inequality always accepts the equivalent interval (gold-first asymmetry).
  bool allow_set_relation = false;
};

struct CompareResult {
  bool equal = false;
  std::string reason;
  bool gold_invalid = false;  // the gold itself did not parse (a data problem, not the model's)
};

// Both strings are answers (already extracted). Gold-first: the gold's form decides the comparison.
// Never throws; bounded work for any input (see kMax* in math_parse.h / math_num.h).
CompareResult compare_answers(const std::string& gold, const std::string& pred,
                              const CompareOptions& options);

// Same on parsed trees (exposed for tests).
bool nodes_equal(const Node& gold, const Node& pred, const CompareOptions& options);

}  // namespace zerorl::verifiers::math
