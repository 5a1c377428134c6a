// verifiers/math_equiv.cpp: gold-first structural comparison of parsed answers; scalars by evaluation
// at fixed sample points (exact rationals where possible, 256-bit MPFR otherwise).
// Not here: parsing/normalizing (math_parse.cpp, math_normalize.cpp), extraction.
#include "verifiers/math_equiv.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "verifiers/math_eval.h"

namespace zerorl::verifiers::math {
namespace {

constexpr int kSamplePoints = 3;

bool has_number(const Node& n) {
  if (n.kind == Kind::Number || n.kind == Kind::Constant) return true;
  for (const Node& k : n.kids)
    if (has_number(k)) return true;
  return false;
}
// A "label" names the answer rather than being part of it: x, a_3, f(x), |AB|, NO/BO, (p,q), A:B.
bool is_label(const Node& n) {
  if (has_number(n)) return false;
  bool unknown_function = n.kind == Kind::Func && n.text.size() == 1;  // f(x), not \sin(x)
  return n.kind == Kind::Symbol || unknown_function || n.kind == Kind::Mul || n.kind == Kind::Div ||
         n.kind == Kind::Tuple || (n.kind == Kind::Func && n.text == "abs");
}
bool is_inequality(const std::string& op) { return op == "<" || op == "<=" || op == ">" || op == ">="; }
bool all_ops(const Node& r, const char* op) {
  for (const auto& o : r.ops)
    if (o != op) return false;
  return true;
}

// Decimals after the point of a plain decimal literal (or its negation); -1 when not one.
int literal_decimals(const Node& n) {
  const Node* x = n.kind == Kind::Neg ? &n.kids[0] : &n;
  if (x->kind != Kind::Number || x->open != 'd') return -1;
  size_t dot = x->text.find('.');
  return dot == std::string::npos ? 0 : static_cast<int>(x->text.size() - dot - 1);
}

int significant_digits(const Node& n) {
  const Node* x = n.kind == Kind::Neg ? &n.kids[0] : &n;
  int count = 0;
  bool leading = true;
  for (char c : x->text) {
    if (c < '0' || c > '9') continue;
    if (leading && c == '0') continue;
    leading = false;
    ++count;
  }
  return count;
}

class Comparer {
 public:
  explicit Comparer(const CompareOptions& o) : opt_(o) {}

  bool eq(const Node& g, const Node& p) {
    if (++budget_ > 2000) return false;
    if (g.kind == Kind::Relation || p.kind == Kind::Relation) return eq_relation(g, p);
    if (g.kind == Kind::Percent || p.kind == Kind::Percent) return eq_percent(g, p);
    if (g.kind == Kind::Matrix || p.kind == Kind::Matrix) return eq_matrix(g, p);
    if (g.kind == Kind::Union || p.kind == Kind::Union) {
      if (g.kind != Kind::Union || p.kind != Kind::Union) return false;
      return eq_unordered(g.kids, p.kids);
    }
    if (bracketed(g) && bare(p) && g.kids.size() == p.kids.size()) return eq_ordered(g.kids, p.kids);
    if (bracketed(p) && bare(g) && g.kids.size() == p.kids.size()) return eq_ordered(g.kids, p.kids);
    bool g_list = is_list(g), p_list = is_list(p);
    if (g_list || p_list) return eq_lists(g, p);
    if (g.kind == Kind::Tuple || p.kind == Kind::Tuple) return eq_tuple(g, p);
    if (g.kind == Kind::Text || p.kind == Kind::Text) return eq_text(g, p);
    return eq_scalar(g, p);
  }

 private:
  const CompareOptions& opt_;
  int budget_ = 0;

  static bool bracketed(const Node& n) { return n.kind == Kind::Tuple && n.open != 0 && n.open != ':'; }
  static bool bare(const Node& n) { return n.kind == Kind::Tuple && n.open == 0; }
  bool eq_ordered(const std::vector<Node>& ge, const std::vector<Node>& pe) {
    if (ge.size() != pe.size()) return false;
    for (size_t i = 0; i < ge.size(); ++i)
      if (!eq(ge[i], pe[i])) return false;
    return true;
  }
  static bool is_list(const Node& n) {
    return n.kind == Kind::Set || (n.kind == Kind::Tuple && n.open == 0) || contains_kind(n, Kind::PlusMinus);
  }
  static std::vector<Node> elements(const Node& n) {
    std::vector<Node> out;
    if (n.kind == Kind::Set || (n.kind == Kind::Tuple && n.open == 0)) {
      for (const Node& k : n.kids)
        for (Node& e : expand_plus_minus(k)) out.push_back(std::move(e));
    } else {
      out = expand_plus_minus(n);
    }
    return out;
  }
  bool eq_lists(const Node& g, const Node& p) {
    std::vector<Node> ge = elements(g), pe = elements(p);
    bool ordered = !opt_.unordered_lists && g.kind != Kind::Set && p.kind != Kind::Set;
    // A bare list against a bracketed tuple keeps order: "{1,3}" (braces are grouping) vs "(1,3)".
    if (ordered) return eq_ordered(ge, pe);
    return eq_unordered(ge, pe);
  }
  // Set semantics: every gold element is in the prediction and every predicted element in the gold
  // (a repeated solution is not a different answer).
  bool eq_unordered(const std::vector<Node>& ge, const std::vector<Node>& pe) {
    if (ge.empty() || pe.empty()) return ge.size() == pe.size();
    std::vector<bool> hit(pe.size(), false);
    for (const Node& a : ge) {
      bool found = false;
      for (size_t j = 0; j < pe.size(); ++j)
        if ((!found || !hit[j]) && eq(a, pe[j])) hit[j] = found = true;
      if (!found) return false;
    }
    for (size_t j = 0; j < pe.size(); ++j)
      if (!hit[j]) {
        bool found = false;
        for (const Node& a : ge)
          if (!found && eq(a, pe[j])) found = true;
        if (!found) return false;
      }
    return true;
  }
  bool eq_tuple(const Node& g, const Node& p) {
    if (g.kind != Kind::Tuple || p.kind != Kind::Tuple || g.kids.size() != p.kids.size()) return false;
    if (g.open == ':' || p.open == ':') {
      if (g.open != p.open) return false;
    } else if (g.kids.size() == 2 && (g.open != p.open || g.close != p.close)) {
      return false;  // interval ends / point vs interval
    }
    for (size_t i = 0; i < g.kids.size(); ++i)
      if (!eq(g.kids[i], p.kids[i])) return false;
    return true;
  }
  bool eq_matrix(const Node& g, const Node& p) {
    auto cells = [](const Node& n, int& r, int& c) -> const std::vector<Node>* {
      if (n.kind == Kind::Matrix) {
        r = n.rows;
        c = n.cols;
        return &n.kids;
      }
      if (n.kind == Kind::Tuple && n.open != 0 && n.open != ':') {  // a vector written as a list
        r = static_cast<int>(n.kids.size());
        c = 1;
        return &n.kids;
      }
      return nullptr;
    };
    int gr = 0, gc = 0, pr = 0, pc = 0;
    const auto* gk = cells(g, gr, gc);
    const auto* pk = cells(p, pr, pc);
    if (gk == nullptr || pk == nullptr || gk->size() != pk->size()) return false;
    bool vector_like = gr == 1 || gc == 1 || pr == 1 || pc == 1;
    if (!(gr == pr && gc == pc) && !(vector_like && (gr == 1 || gc == 1) && (pr == 1 || pc == 1)))
      return false;
    for (size_t i = 0; i < gk->size(); ++i)
      if (!eq((*gk)[i], (*pk)[i])) return false;
    return true;
  }
  static std::string lower(const std::string& s) {
    std::string o;
    for (char c : s)
      if (!std::isspace(static_cast<unsigned char>(c)))
        o += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
  }
  bool eq_text(const Node& g, const Node& p) {
    auto text_of = [](const Node& n) -> std::string {
      if (n.kind == Kind::Text || n.kind == Kind::Symbol) return n.text;
      if (n.kind == Kind::Constant && (n.text == "e" || n.text == "i")) return n.text;
      return "\x01";
    };
    std::string a = lower(text_of(g)), b = lower(text_of(p));
    return a != "\x01" && a == b;
  }
  bool eq_percent(const Node& g, const Node& p) {
    const Node& gi = g.kind == Kind::Percent ? g.kids[0] : g;
    const Node& pi = p.kind == Kind::Percent ? p.kids[0] : p;
    if (eq(gi, pi)) return true;
    // 28% == 0.28 with the sign on either side.
    if ((g.kind == Kind::Percent) != (p.kind == Kind::Percent)) return eq_scalar(g, p);
    return false;
  }

  // Relations: labels (x = 4), equations up to a factor, inequalities, chains as intervals, "x \in S".
  bool eq_relation(const Node& g, const Node& p);
  bool eq_equation(const Node& g, const Node& p);
  bool eq_inequality(const Node& g, const Node& p);
  static bool to_interval(const Node& r, Node& out);
  static const Node* answer_of(const Node& r);
  bool eq_scalar(const Node& g, const Node& p);
  bool values_match(const Num& g, const Num& p, const Node& gn, const Node& pn);
};

// The value a relation states about a label: "x = 4" -> 4, "x = 1+1 = 2" -> 2, "x \in S" -> S.
// A chain "x = 5+5+1 = 1/3 \approx 0.33" states its value before the first approximation.
const Node* Comparer::answer_of(const Node& r) {
  if (r.kind != Kind::Relation) return nullptr;
  if (r.ops.size() == 1 && r.ops[0] == "in") return is_label(r.kids[0]) ? &r.kids[1] : nullptr;
  size_t last = r.kids.size() - 1;
  for (size_t i = 0; i < r.ops.size(); ++i) {
    if (r.ops[i] == "~") {
      last = i;
      break;
    }
    if (r.ops[i] != "=") return nullptr;
  }
  if (last == 0) return r.kids.size() > 1 ? &r.kids[1] : nullptr;  // "x \approx 11"
  for (size_t i = 0; i < last; ++i)
    if (is_label(r.kids[i])) return &r.kids[last];
  return nullptr;
}

bool Comparer::to_interval(const Node& r, Node& out) {
  if (r.kind != Kind::Relation) return false;
  for (const auto& o : r.ops)
    if (!is_inequality(o)) return false;
  Node inf{Kind::Constant, "inf"};
  Node ninf{Kind::Neg, {}, {inf}};
  auto closed = [](const std::string& o) { return o == "<=" || o == ">="; };
  out = Node{Kind::Tuple};
  if (r.kids.size() == 3 && is_label(r.kids[1])) {
    bool up = r.ops[0][0] == '<' && r.ops[1][0] == '<';
    bool down = r.ops[0][0] == '>' && r.ops[1][0] == '>';
    if (!up && !down) return false;
    const Node& lo = up ? r.kids[0] : r.kids[2];
    const Node& hi = up ? r.kids[2] : r.kids[0];
    out.kids = {lo, hi};
    out.open = closed(up ? r.ops[0] : r.ops[1]) ? '[' : '(';
    out.close = closed(up ? r.ops[1] : r.ops[0]) ? ']' : ')';
    return true;
  }
  if (r.kids.size() != 2) return false;
  bool label_left = is_label(r.kids[0]);
  if (!label_left && !is_label(r.kids[1])) return false;
  const Node& bound = label_left ? r.kids[1] : r.kids[0];
  bool greater = (r.ops[0][0] == '>') == label_left;  // x > a  or  a < x
  out.kids = greater ? std::vector<Node>{bound, inf} : std::vector<Node>{ninf, bound};
  out.open = greater ? (closed(r.ops[0]) ? '[' : '(') : '(';
  out.close = greater ? ')' : (closed(r.ops[0]) ? ']' : ')');
  return true;
}

bool Comparer::eq_relation(const Node& g, const Node& p) {
  const Node* ga = answer_of(g);
  const Node* pa = answer_of(p);
  if (g.kind == Kind::Relation && p.kind == Kind::Relation) {
    bool g_in = g.ops[0] == "in", p_in = p.ops[0] == "in";
    if (g.ops == p.ops && g.ops.size() > 1) {  // same chain shape: f(2) < f(1) < f(4)
      bool same = true;
      for (size_t i = 0; i < g.kids.size() && same; ++i) same = eq(g.kids[i], p.kids[i]);
      if (same) return true;
    }
    if (ga != nullptr && pa != nullptr) {
      if (eq(*ga, *pa)) return true;
      // Different labels ("y = 2x + 1" vs "x = (y - 1)/2"): compare as equations.
      return to_string(g.kids[0]) != to_string(p.kids[0]) && all_ops(g, "=") && all_ops(p, "=") &&
             eq_equation(g, p);
    }
    if (all_ops(g, "=") && all_ops(p, "=")) return eq_equation(g, p);
    if (g.kids.size() == 2 && p.kids.size() == 2 && !g_in && !p_in && eq_inequality(g, p)) return true;
    Node gi, pi;
    if (to_interval(g, gi) && to_interval(p, pi)) return eq(gi, pi);
    if (to_interval(g, gi) && p_in && pa != nullptr) return eq(gi, *pa);  // gold inequality, pred set
    if (g_in && ga != nullptr && to_interval(p, pi) && opt_.allow_set_relation) return eq(*ga, pi);
    return false;
  }
  if (g.kind == Kind::Relation) {
    if (ga != nullptr) return eq(*ga, p);
    Node gi;
    if (to_interval(g, gi)) return eq(gi, p);  // gold inequality accepts the interval
    return false;
  }
  if (pa != nullptr) return eq(g, *pa);
  // "2 + 2 = 4" against the gold 4: the chain's final value is the answer.
  if (all_ops(p, "=")) return eq(g, p.kids.back());
  Node pi;
  if (opt_.allow_set_relation && to_interval(p, pi)) return eq(g, pi);
  return false;
}

// Equations l1 = r1 and l2 = r2 are equivalent when l2 - r2 = c (l1 - r1) for a constant c != 0.
bool Comparer::eq_equation(const Node& g, const Node& p) {
  if (g.kids.size() != 2 || p.kids.size() != 2) return false;
  double tol = has_decimal(g) || has_decimal(p) ? opt_.decimal_rel_tol : 1e-20;
  Node dg{Kind::Add, {}, {g.kids[0], Node{Kind::Neg, {}, {g.kids[1]}}}};
  Node dp{Kind::Add, {}, {p.kids[0], Node{Kind::Neg, {}, {p.kids[1]}}}};
  std::vector<std::string> syms;
  collect_symbols(dg, syms);
  collect_symbols(dp, syms);
  Num ratio = Num::invalid();
  int checked = 0;
  for (int k = 0; k < kSamplePoints + 2; ++k) {
    Point pt = sample_point(syms, k);
    Num a = evaluate(dg, pt), b = evaluate(dp, pt);
    if (!a.valid || !b.valid) continue;
    if (num_abs(a) == 0.0) {
      if (num_abs(b) != 0.0) return false;
      continue;
    }
    Num r = div(b, a);
    if (!ratio.valid) {
      if (num_abs(r) == 0.0) return false;
      ratio = r;
    } else if (!num_close(r, ratio, tol, 1e-25)) {
      return false;
    }
    ++checked;
  }
  return checked > 0;
}

bool Comparer::eq_inequality(const Node& g, const Node& p) {
  // Normalize a op b to (positive side) d = b - a with op in {<, <=, !=}; then d_p = c d_g, c > 0.
  auto norm = [](const Node& r, std::string& op, Node& d) {
    op = r.ops[0];
    const Node* lo = &r.kids[0];
    const Node* hi = &r.kids[1];
    if (op == ">" || op == ">=") {
      std::swap(lo, hi);
      op = op == ">" ? "<" : "<=";
    }
    d = Node{Kind::Add, {}, {*hi, Node{Kind::Neg, {}, {*lo}}}};
  };
  std::string og, op;
  Node dg, dp;
  norm(g, og, dg);
  norm(p, op, dp);
  if (og != op) return false;
  std::vector<std::string> syms;
  collect_symbols(dg, syms);
  collect_symbols(dp, syms);
  Num ratio = Num::invalid();
  int checked = 0;
  for (int k = 0; k < kSamplePoints + 2; ++k) {
    Point pt = sample_point(syms, k);
    Num a = evaluate(dg, pt), b = evaluate(dp, pt);
    if (!a.valid || !b.valid || num_abs(a) == 0.0) continue;
    Num r = div(b, a);
    if (!r.is_real()) return false;
    if (!ratio.valid) {
      if (r.to_double() <= 0.0 && og != "!=") return false;
      if (num_abs(r) == 0.0) return false;
      ratio = r;
    } else if (!num_close(r, ratio, 1e-20, 1e-25)) {
      return false;
    }
    ++checked;
  }
  return checked > 0;
}

// A decimal literal written with k decimals and s significant digits matches an exact value when it is
// that value rounded or truncated to k decimals and s >= 4 (1.414 for sqrt 2; not 33.3 for 100/3, not
// 41.9999 for 42). A decimal gold matches a more precise decimal prediction that rounds to it.
bool Comparer::values_match(const Num& g, const Num& p, const Node& gn, const Node& pn) {
  if (g.exact && p.exact && num_close(g, p, 0.0, 0.0)) return true;
  if (opt_.float_digits >= 0)
    return num_round_equal(g, p, opt_.float_digits) || num_close(g, p, 1e-30, 1e-40);
  int pk = literal_decimals(pn), gk = literal_decimals(gn);
  auto consistent = [](const Num& exact, const Num& lit, int k) {
    double unit = std::pow(10.0, -k);
    if (num_close(exact, lit, 0.0, 0.5 * unit * (1 + 1e-9))) return true;  // rounded
    double e = exact.to_double(), l = lit.to_double();
    return std::fabs(e) >= std::fabs(l) && std::fabs(e) - std::fabs(l) < unit && e * l >= 0;  // truncated
  };
  if (gk >= 0 && pk >= 0) return consistent(gk >= pk ? g : p, gk >= pk ? p : g, std::min(gk, pk));
  if (pk >= 0) return significant_digits(pn) >= 4 && consistent(g, p, pk);
  if (gk >= 0) return significant_digits(gn) >= 4 && consistent(p, g, gk);
  return num_close(g, p, opt_.decimal_rel_tol, 1e-12);  // decimals inside expressions
}

bool Comparer::eq_scalar(const Node& g, const Node& p) {
  if (g.kind == Kind::Tuple || p.kind == Kind::Tuple || g.kind == Kind::Set || p.kind == Kind::Set)
    return false;
  if (contains_kind(g, Kind::Text) || contains_kind(p, Kind::Text))  // "-221_3": not evaluable, same form
    return to_string(g) == to_string(p);
  bool decimal = has_decimal(g) || has_decimal(p);
  std::vector<std::string> syms;
  collect_symbols(g, syms);
  collect_symbols(p, syms);
  int points = syms.empty() ? 1 : kSamplePoints;
  int defined = 0;
  for (int k = 0; k < points; ++k) {
    Point pt = sample_point(syms, k);
    Num a = evaluate(g, pt);
    Num b = evaluate(p, pt);
    if (!a.valid && !b.valid) continue;
    if (!a.valid || !b.valid) return false;
    bool match = decimal ? values_match(a, b, g, p)
                         : num_close(a, b, a.exact && b.exact ? 0.0 : opt_.symbolic_rel_tol,
                                     a.exact && b.exact ? 0.0 : 1e-40);
    if (!match) return false;
    ++defined;
  }
  return defined > 0;
}

std::string canonical_text(const std::string& s) {
  std::string t = s;
  for (const char* m : {"\\text{", "\\mathrm{", "\\textbf{", "\\mbox{", "\\textnormal{", "\\mathbf{"}) {
    size_t p;
    std::string mm = m;
    while ((p = t.find(mm)) != std::string::npos) {
      size_t q = t.find('}', p);
      if (q == std::string::npos) break;
      t = t.substr(0, p) + t.substr(p + mm.size(), q - p - mm.size()) + t.substr(q + 1);
    }
  }
  std::string o;
  for (char c : t)
    if (!std::isspace(static_cast<unsigned char>(c)))
      o += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (o.size() == 3 && o[0] == '(' && o[2] == ')') o = o.substr(1, 1);  // (C) -> c
  return o;
}

bool has_letter(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; });
}

// "\\textbf{(C) }17", "(C) 17": a multiple-choice letter and the value after it (may be empty).
bool split_choice(const std::string& s, char& letter, std::string& rest) {
  std::string t;
  for (const char* m : {"\\textbf{", "\\text{", "\\mathrm{", "\\mathbf{"})
    if (s.compare(0, std::strlen(m), m) == 0) {
      size_t close = s.find('}');
      if (close == std::string::npos) return false;
      t = s.substr(std::strlen(m), close - std::strlen(m)) + " " + s.substr(close + 1);
      break;
    }
  if (t.empty()) t = s;
  size_t i = t.find_first_not_of(' ');
  if (i == std::string::npos || t[i] != '(' || i + 2 >= t.size() || t[i + 2] != ')') return false;
  if (!std::isupper(static_cast<unsigned char>(t[i + 1])) || t[i + 1] > 'J') return false;
  letter = t[i + 1];
  rest = t.substr(i + 3);
  size_t b = rest.find_first_not_of(' ');
  rest = b == std::string::npos ? "" : rest.substr(b);
  // "(B), (C)" or "(B) or C" names several choices: a hedge, not one letter with its value.
  if (!rest.empty() && (rest[0] == ',' || rest[0] == ';' || rest.rfind("or ", 0) == 0 ||
                        rest.rfind("and ", 0) == 0 || rest.rfind("\\text{ or", 0) == 0)) {
    return false;
  }
  for (size_t k = 0; k + 2 < rest.size(); ++k) {
    if (rest[k] == '(' && rest[k + 2] == ')' && std::isupper(static_cast<unsigned char>(rest[k + 1])) &&
        rest[k + 1] <= 'J') {
      return false;
    }
  }
  return true;
}

}  // namespace

static CompareResult compare_normalized(const std::string& g, const std::string& p,
                                        const CompareOptions& options);

bool nodes_equal(const Node& gold, const Node& pred, const CompareOptions& options) {
  Comparer c(options);
  return c.eq(fold_matrix_ops(gold), fold_matrix_ops(pred));
}

CompareResult compare_answers(const std::string& gold, const std::string& pred,
                              const CompareOptions& options) {
  char gl = 0, pl = 0;
  std::string gr, pr;
  bool gc = split_choice(gold, gl, gr), pc = split_choice(pred, pl, pr);
  if ((gc && !gr.empty()) || (pc && !pr.empty())) {  // letter-and-value answers: the letter or the value
    std::string gletter = gc ? std::string(1, gl) : gold, pletter = pc ? std::string(1, pl) : pred;
    if (canonical_text(gletter) == canonical_text(pletter) && has_letter(canonical_text(gletter)))
      return CompareResult{true, "same choice", false};
    if (gc && pc) return CompareResult{false, std::string("different choices: ") + gl + " vs " + pl, false};
    if (gc && !gr.empty()) return compare_answers(gr, pc && !pr.empty() ? pr : pred, options);
    return compare_answers(gold, pr, options);
  }
  std::string g = normalize_answer(gold), p = normalize_answer(pred);
  CompareResult r = compare_normalized(g, p, options);
  if (r.equal || r.gold_invalid) return r;
  // "27,93" is a decimal in some locales and a list of two answers in others: either reading may match.
  std::string g2 = normalize_answer(gold, false), p2 = normalize_answer(pred, false);
  if (g2 == g && p2 == p) return r;
  CompareResult r2 = compare_normalized(g2, p2, options);
  return r2.equal ? r2 : r;
}

static CompareResult compare_normalized(const std::string& g, const std::string& p,
                                        const CompareOptions& options) {
  CompareResult r;
  std::string cg = canonical_text(g), cp = canonical_text(p);
  if (!cg.empty() && cg == cp && has_letter(cg)) {
    r.equal = true;
    r.reason = "same text";
    return r;
  }
  ParseResult pg = parse_answer(g);
  if (!pg.ok) {
    r.reason = "gold unparsable: " + pg.error;
    r.gold_invalid = true;
    return r;
  }
  ParseResult pp = parse_answer(p);
  if (!pp.ok) {
    r.reason = "answer unparsable: " + pp.error;
    return r;
  }
  r.equal = nodes_equal(pg.root, pp.root, options);
  r.reason = r.equal ? "equivalent" : "not equivalent: " + to_string(pg.root) + " vs " + to_string(pp.root);
  return r;
}

}  // namespace zerorl::verifiers::math
