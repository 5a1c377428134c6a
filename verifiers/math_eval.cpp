// verifiers/math_eval.cpp: scalar evaluation of math expression trees, sample points, ± expansion.
// Not here: comparison policy (math_equiv.cpp).
#include "verifiers/math_eval.h"

#include <cstdint>

namespace zerorl::verifiers::math {
namespace {

uint64_t fnv1a(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

Num rational(long p, long q) {
  Num n;
  mpq_set_si(n.q.get(), p, static_cast<unsigned long>(q));
  mpq_canonicalize(n.q.get());
  return n;
}

class Evaluator {
 public:
  explicit Evaluator(const Point& p) : point_(p) {}

  Num eval(const Node& n) {
    if (++steps_ > kMaxEvalSteps) return Num::invalid();
    switch (n.kind) {
      case Kind::Number:
        return Num::from_decimal(n.text);
      case Kind::Constant:
        return Num::constant(n.text);
      case Kind::Symbol:
        for (const auto& [name, v] : point_)
          if (name == n.text) return v;
        return Num::invalid();
      case Kind::Add: {
        Num acc = eval(n.kids[0]);
        for (size_t i = 1; i < n.kids.size() && acc.valid; ++i) acc = add(acc, eval(n.kids[i]));
        return acc;
      }
      case Kind::Mul: {
        Num acc = eval(n.kids[0]);
        for (size_t i = 1; i < n.kids.size() && acc.valid; ++i) acc = mul(acc, eval(n.kids[i]));
        return acc;
      }
      case Kind::Div:
        return div(eval(n.kids[0]), eval(n.kids[1]));
      case Kind::Pow:
        return pow(eval(n.kids[0]), eval(n.kids[1]));
      case Kind::Neg:
        return neg(eval(n.kids[0]));
      case Kind::Factorial:
        return factorial(eval(n.kids[0]));
      case Kind::Percent:
        return div(eval(n.kids[0]), Num::from_int(100));
      case Kind::Func:
        return eval_func(n);
      default:
        return Num::invalid();
    }
  }

 private:
  const Point& point_;
  int steps_ = 0;

  Num eval_func(const Node& n) {
    if (n.text == "root") {
      Num idx = eval(n.kids[1]);
      Num a = eval(n.kids[0]);
      if (idx.is_integer() && mpz_fits_slong_p(mpq_numref(idx.q.get()))) {
        long k = mpz_get_si(mpq_numref(idx.q.get()));
        if (k >= 1 && k <= 64) return root(a, k);
      }
      return pow(a, div(Num::from_int(1), idx));
    }
    if (n.text == "binom") return binomial(eval(n.kids[0]), eval(n.kids[1]));
    if (n.text.size() == 1) {  // unknown function f(x): a fixed smooth pseudo-random function
      Num a = eval(n.kids[0]);
      if (!a.valid) return a;
      uint64_t h = fnv1a(n.text, 7);
      Num k1 = rational(static_cast<long>(h % 1000) + 500, 701);
      Num k2 = rational(static_cast<long>((h >> 20) % 1000), 997);
      return add(apply_function("sin", add(mul(a, k1), k2)), mul(a, rational(3, 7)));
    }
    return apply_function(n.text, eval(n.kids[0]));
  }
};

void expand_into(const Node& n, std::vector<Node>& out, size_t cap) {
  // Find the first ± (pre-order), split into + and - branches, recurse on each branch.
  std::vector<const Node*> stack{&n};
  std::vector<size_t> path;
  // Locate by index path.
  struct Finder {
    static bool find(const Node& x, std::vector<size_t>& p) {
      if (x.kind == Kind::PlusMinus) return true;
      for (size_t i = 0; i < x.kids.size(); ++i) {
        p.push_back(i);
        if (find(x.kids[i], p)) return true;
        p.pop_back();
      }
      return false;
    }
  };
  if (out.size() >= cap) return;
  if (!Finder::find(n, path)) {
    out.push_back(n);
    return;
  }
  for (int sign = 0; sign < 2; ++sign) {
    Node copy = n;
    Node* t = &copy;
    for (size_t i : path) t = &t->kids[i];
    Node repl;
    if (t->kids.size() == 1) {
      repl = sign == 0 ? t->kids[0] : Node{Kind::Neg, {}, {t->kids[0]}};
    } else {
      Node rhs = sign == 0 ? t->kids[1] : Node{Kind::Neg, {}, {t->kids[1]}};
      repl = Node{Kind::Add, {}, {t->kids[0], rhs}};
    }
    *t = std::move(repl);
    expand_into(copy, out, cap);
  }
}

}  // namespace

Num evaluate(const Node& n, const Point& point) {
  Evaluator e(point);
  return e.eval(n);
}

Point sample_point(const std::vector<std::string>& symbols, int k) {
  Point p;
  for (const auto& s : symbols) {
    uint64_t h = fnv1a(s, 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(k + 1));
    // (1297 + h % 1800) / 997 in [1.30, 3.11]: exact rationals, so polynomials stay exact.
    p.emplace_back(s, rational(1297 + static_cast<long>(h % 1800), 997));
  }
  return p;
}

std::vector<Node> expand_plus_minus(const Node& n) {
  std::vector<Node> out;
  expand_into(n, out, 16);
  return out;
}

namespace {
bool is_scalar(const Node& n) {
  return n.kind != Kind::Matrix && n.kind != Kind::Tuple && n.kind != Kind::Set && n.kind != Kind::Relation &&
         n.kind != Kind::Union && n.kind != Kind::Text;
}
Node matrix_binary(const Node& a, const Node& b, Kind op) {
  Node m(Kind::Matrix);
  if (op == Kind::Add) {
    if (a.rows != b.rows || a.cols != b.cols) return Node(Kind::Text, "incompatible");
    m.rows = a.rows;
    m.cols = a.cols;
    for (size_t i = 0; i < a.kids.size(); ++i) m.kids.push_back(Node(Kind::Add, {}, {a.kids[i], b.kids[i]}));
    return m;
  }
  if (a.cols != b.rows || static_cast<long>(a.rows) * b.cols * a.cols > 4096)
    return Node(Kind::Text, "incompatible");
  m.rows = a.rows;
  m.cols = b.cols;
  for (int i = 0; i < a.rows; ++i)
    for (int j = 0; j < b.cols; ++j) {
      Node sum(Kind::Add);
      for (int k = 0; k < a.cols; ++k)
        sum.kids.push_back(Node(Kind::Mul, {}, {a.kids[i * a.cols + k], b.kids[k * b.cols + j]}));
      m.kids.push_back(std::move(sum));
    }
  return m;
}
Node scale(const Node& s, const Node& m, Kind op) {
  Node out = m;
  for (Node& c : out.kids) c = op == Kind::Neg ? Node(Kind::Neg, {}, {c}) : Node(Kind::Mul, {}, {s, c});
  return out;
}
}  // namespace

Node fold_matrix_ops(const Node& n) {
  if (!contains_kind(n, Kind::Matrix) || n.kind == Kind::Matrix) return n;
  Node f = n;
  for (Node& k : f.kids) k = fold_matrix_ops(k);
  if (f.kind == Kind::Neg && f.kids[0].kind == Kind::Matrix) return scale(f, f.kids[0], Kind::Neg);
  if (f.kind != Kind::Add && f.kind != Kind::Mul) return f;
  Node acc = f.kids[0];
  for (size_t i = 1; i < f.kids.size(); ++i) {
    const Node& b = f.kids[i];
    bool am = acc.kind == Kind::Matrix, bm = b.kind == Kind::Matrix;
    if (am && bm) {
      acc = matrix_binary(acc, b, f.kind);
    } else if (f.kind == Kind::Mul && am && is_scalar(b)) {
      acc = scale(b, acc, Kind::Mul);
    } else if (f.kind == Kind::Mul && bm && is_scalar(acc)) {
      acc = scale(acc, b, Kind::Mul);
    } else {
      return f;  // mixed scalar + matrix: leave it (never equal to a matrix)
    }
  }
  return acc;
}

bool contains_kind(const Node& n, Kind k) {
  if (n.kind == k) return true;
  for (const Node& c : n.kids)
    if (contains_kind(c, k)) return true;
  return false;
}

}  // namespace zerorl::verifiers::math
