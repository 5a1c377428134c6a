// verifiers/math_tree.cpp: helpers over parsed answer trees (rendering for reasons, decimal and symbol
// queries). Not here: parsing (math_parse.cpp) or evaluation (math_eval.cpp).
#include "verifiers/math_parse.h"

namespace zerorl::verifiers::math {
namespace {

void render(const Node& n, std::string& out) {
  static const char* const names[] = {"num",  "sym",   "const", "add",   "mul",    "div",
                                      "pow",  "neg",   "func",  "fact",  "pct",    "pm",
                                      "text", "tuple", "set",   "union", "matrix", "rel"};
  if (n.kind == Kind::Number || n.kind == Kind::Symbol || n.kind == Kind::Constant || n.kind == Kind::Text) {
    out += n.text;
    return;
  }
  out += names[static_cast<int>(n.kind)];
  if (!n.text.empty()) out += ":" + n.text;
  if (n.kind == Kind::Tuple && n.open != 0) out += std::string(1, n.open) + n.close;
  out += "(";
  for (size_t i = 0; i < n.kids.size(); ++i) {
    if (i) out += n.kind == Kind::Relation ? " " + n.ops[i - 1] + " " : ", ";
    render(n.kids[i], out);
  }
  out += ")";
}

}  // namespace

std::string to_string(const Node& n) {
  std::string out;
  render(n, out);
  return out;
}

bool has_decimal(const Node& n) {
  if (n.kind == Kind::Number) return n.open == 'd';
  for (const Node& k : n.kids)
    if (has_decimal(k)) return true;
  return false;
}

void collect_symbols(const Node& n, std::vector<std::string>& out) {
  if (n.kind == Kind::Symbol) {
    for (const auto& s : out)
      if (s == n.text) return;
    out.push_back(n.text);
  }
  for (const Node& k : n.kids) collect_symbols(k, out);
}

}  // namespace zerorl::verifiers::math
