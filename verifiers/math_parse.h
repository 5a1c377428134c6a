// verifiers/math_parse.h: LaTeX/plain math answer -> expression tree (Node), and the string normalizer run
// before parsing. Not here: evaluation or comparison (math_equiv.h), extraction from responses.
//
// Hand-written: no Debian package parses LaTeX math into an expression tree (GiNaC parses only plain
// syntax; the LaTeX front ends live in Python: sympy's latex2sympy/ANTLR, Math-Verify).
#pragma once

#include <string>
#include <vector>

namespace zerorl::verifiers::math {

enum class Kind {
  Number,     // text = literal ("12", "0.5"); open == 'd' when written with a decimal point
  Symbol,     // text = name ("x", "a_1", "\\alpha")
  Constant,   // text = "pi" | "e" | "i" | "inf"
  Add,        // kids summed
  Mul,        // kids multiplied
  Div,        // kids[0] / kids[1]
  Pow,        // kids[0] ^ kids[1]
  Neg,        // -kids[0]
  Func,       // text = function name; kids = arguments (unknown one-letter functions: "f")
  Factorial,  // kids[0]!
  Percent,    // kids[0] %
  PlusMinus,  // kids[0] ± kids[1] (or ±kids[0] when one kid)
  Text,       // text = literal text (\text{Evelyn}, "204_5", "(C)")
  Tuple,      // open/close brackets: "()" "[]" "(]" "[)", ':' for ratios, 0/0 for a bare comma list
  Set,        // \{ ... \}
  Union,      // kids[0] \cup kids[1] ...
  Matrix,     // rows x cols cells, row-major in kids
  Relation,   // ops "=", "<", "<=", ">", ">=", "!=", "in", "~" (approx); kids = chain operands (>= 2)
};

struct Node {
  Node() = default;
  explicit Node(Kind k, std::string t = {}, std::vector<Node> c = {})
      : kind(k), text(std::move(t)), kids(std::move(c)) {}

  Kind kind = Kind::Number;
  std::string text;
  std::vector<Node> kids;
  char open = 0, close = 0;
  int rows = 0, cols = 0;
  std::vector<std::string> ops;  // Relation: ops[k] between kids[k] and kids[k+1]
};

// Limits on adversarial input (bytes, nesting depth, nodes); beyond them parse() fails.
constexpr size_t kMaxAnswerBytes = 4000;
constexpr int kMaxDepth = 64;
constexpr int kMaxNodes = 4000;

struct ParseResult {
  bool ok = false;
  Node root;
  std::string error;
  bool has_percent = false;  // a % / \% / "percent" was stripped or parsed
};

// Cleans an extracted answer: strips $..$, \( \), \left/\right, spacing, \dfrac->\frac, units and
// \text{} suffixes, currency, thousands separators, decimal commas, degree signs at the end, ...
std::string normalize_answer(const std::string& answer);

// Parses a normalized answer. Never throws; failure -> ok == false with `error`.
ParseResult parse_answer(const std::string& normalized);

// Debug rendering (tests, reasons).
std::string to_string(const Node& n);

// True when the tree contains a decimal literal (float tolerance applies) / a free symbol.
bool has_decimal(const Node& n);
void collect_symbols(const Node& n, std::vector<std::string>& out);

}  // namespace zerorl::verifiers::math
