// verifiers/countdown.cpp: Countdown expression checking (exact fractions), extraction, exact solver.
// Not here: the general math parser (math_parse.cpp): Countdown's grammar is deliberately tiny.
#include "verifiers/countdown.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "verifiers/math_extract.h"

namespace zerorl::verifiers {
namespace {

// n/d with d > 0, reduced; `ok` false after overflow or division by zero.
struct Frac {
  __int128 n = 0, d = 1;
  bool ok = true;
};
constexpr __int128 kLimit = (static_cast<__int128>(1) << 100);

__int128 gcd128(__int128 a, __int128 b) {
  if (a < 0) a = -a;
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t < 0 ? -t : t;
  }
  return a == 0 ? 1 : a;
}
Frac make(__int128 n, __int128 d, bool ok = true) {
  Frac f;
  if (!ok || d == 0) {
    f.ok = false;
    return f;
  }
  if (d < 0) {
    n = -n;
    d = -d;
  }
  __int128 g = gcd128(n, d);
  f.n = n / g;
  f.d = d / g;
  f.ok = f.n < kLimit && f.n > -kLimit && f.d < kLimit;
  return f;
}
bool small(const Frac& a) {
  return a.n < (static_cast<__int128>(1) << 48) && a.n > -(static_cast<__int128>(1) << 48) &&
         a.d < (static_cast<__int128>(1) << 48);
}
Frac apply(const Frac& a, const Frac& b, char op) {
  if (!a.ok || !b.ok || !small(a) || !small(b)) return make(0, 0, false);
  switch (op) {
    case '+':
      return make(a.n * b.d + b.n * a.d, a.d * b.d);
    case '-':
      return make(a.n * b.d - b.n * a.d, a.d * b.d);
    case '*':
      return make(a.n * b.n, a.d * b.d);
    default:
      return make(a.n * b.d, a.d * b.n);
  }
}

class ExprParser {
 public:
  explicit ExprParser(const std::string& s) : s_(s) {}
  bool parse(Frac& out, std::vector<long>& used, std::string& err) {
    out = expr(0);
    skip();
    if (err_.empty() && pos_ != s_.size()) err_ = "unexpected '" + s_.substr(pos_, 10) + "'";
    err = err_;
    used = used_;
    return err_.empty();
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
  std::string err_;
  std::vector<long> used_;

  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  char peek() {
    skip();
    if (pos_ >= s_.size()) return '\0';
    if (s_.compare(pos_, 2, "\xC3\x97") == 0) return '*';  // ×
    if (s_.compare(pos_, 2, "\xC3\xB7") == 0) return '/';  // ÷
    return s_[pos_];
  }
  void take() { pos_ += (static_cast<unsigned char>(s_[pos_]) == 0xC3) ? 2 : 1; }
  Frac fail(const std::string& why) {
    if (err_.empty()) err_ = why;
    return make(0, 0, false);
  }
  Frac expr(int depth) {
    if (depth > 64) return fail("nesting too deep");
    Frac acc = term(depth);
    for (char c = peek(); err_.empty() && (c == '+' || c == '-'); c = peek()) {
      take();
      acc = apply(acc, term(depth), c);
    }
    return acc;
  }
  Frac term(int depth) {
    Frac acc = atom(depth);
    for (char c = peek(); err_.empty() && (c == '*' || c == '/'); c = peek()) {
      take();
      Frac rhs = atom(depth);
      if (c == '/' && rhs.ok && rhs.n == 0) return fail("division by zero");
      acc = apply(acc, rhs, c);
    }
    return acc;
  }
  Frac atom(int depth) {
    char c = peek();
    if (c == '(') {
      take();
      Frac v = expr(depth + 1);
      if (peek() != ')') return fail("missing ')'");
      take();
      return v;
    }
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return fail(c == '\0' ? "missing number" : std::string("unexpected '") + c + "'");
    size_t start = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    if (pos_ - start > 12) return fail("number too long");
    long v = std::strtol(s_.c_str() + start, nullptr, 10);
    used_.push_back(v);
    return make(v, 1);
  }
};

struct Item {
  Frac value;
  std::string text;
};

bool search(std::vector<Item>& items, const Frac& target, std::string& out) {
  if (items.size() == 1) {
    if (items[0].value.ok && items[0].value.n == target.n && items[0].value.d == target.d) {
      out = items[0].text;
      return true;
    }
    return false;
  }
  for (size_t i = 0; i < items.size(); ++i)
    for (size_t j = i + 1; j < items.size(); ++j) {
      std::vector<Item> rest;
      for (size_t k = 0; k < items.size(); ++k)
        if (k != i && k != j) rest.push_back(items[k]);
      const Item& a = items[i];
      const Item& b = items[j];
      const std::pair<const Item*, const Item*> orders[] = {{&a, &b}, {&b, &a}};
      for (const auto& [x, y] : orders)
        for (char op : {'+', '-', '*', '/'}) {
          if ((op == '+' || op == '*') && x == &b) continue;  // commutative: one order suffices
          if (op == '/' && y->value.n == 0) continue;
          Frac v = apply(x->value, y->value, op);
          if (!v.ok) continue;
          rest.push_back({v, "(" + x->text + " " + op + " " + y->text + ")"});
          if (search(rest, target, out)) return true;
          rest.pop_back();
        }
    }
  return false;
}

}  // namespace

CountdownCheck check_countdown(const std::string& expression, const CountdownTask& task) {
  CountdownCheck c;
  if (expression.empty()) {
    c.status = "no_answer";
    c.reason = "no expression found";
    return c;
  }
  if (expression.size() > 1000) {
    c.status = "syntax";
    c.reason = "expression too long";
    return c;
  }
  Frac value;
  std::vector<long> used;
  std::string err;
  if (!ExprParser(expression).parse(value, used, err)) {
    c.status = "syntax";
    c.reason = "not an expression of + - * / and parentheses: " + err;
    return c;
  }
  std::vector<long> want = task.numbers;
  std::sort(want.begin(), want.end());
  std::sort(used.begin(), used.end());
  if (used != want) {
    c.status = "numbers";
    c.reason = "numbers used are not exactly the given ones";
    return c;
  }
  if (!value.ok || value.d != 1 || value.n != task.target) {
    c.status = "wrong";
    c.reason = "value is not the target " + std::to_string(task.target);
    return c;
  }
  c.ok = true;
  c.status = "ok";
  c.reason = "uses each number once and equals " + std::to_string(task.target);
  return c;
}

std::string extract_countdown_expression(const std::string& response) {
  math::ExtractOptions o;
  o.priority = {"answer_tag", "boxed"};
  math::Extraction e = math::extract_answer(response, o);
  if (!e.found) return "";
  std::string s = e.answer;
  for (const char* d : {"$", "\\(", "\\)"}) {
    for (size_t p = s.find(d); p != std::string::npos; p = s.find(d))
      s.erase(p, std::char_traits<char>::length(d));
  }
  size_t eq = s.find('=');
  if (eq != std::string::npos) s = s.substr(0, eq);  // "(a + b) * c = target"
  for (const char* from : {"\\times", "\\cdot"})
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from))
      s.replace(p, std::char_traits<char>::length(from), "*");
  for (size_t p = s.find("\\div"); p != std::string::npos; p = s.find("\\div")) s.replace(p, 4, "/");
  return s;
}

std::optional<std::string> solve_countdown(const CountdownTask& task) {
  if (task.numbers.empty() || task.numbers.size() > 6) return std::nullopt;
  std::vector<Item> items;
  for (long n : task.numbers) items.push_back({make(n, 1), std::to_string(n)});
  std::string out;
  if (search(items, make(task.target, 1), out)) {
    if (out.size() >= 2 && out.front() == '(' && out.back() == ')') out = out.substr(1, out.size() - 2);
    return out;
  }
  return std::nullopt;
}

Verdict CountdownVerifier::verify(const Sample& sample) const {
  Verdict v;
  CountdownTask task;
  const Json& x = sample.extra;
  if (!x.is_object() || !x.contains("numbers") || !x.contains("target") || !x["numbers"].is_array() ||
      !x["target"].is_number_integer()) {
    v.status = "error";
    v.reason = "countdown sample needs extra {\"numbers\": [ints], \"target\": int}";
    return v;
  }
  for (const auto& n : x["numbers"]) {
    if (!n.is_number_integer()) {
      v.status = "error";
      v.reason = "countdown numbers must be integers";
      return v;
    }
    task.numbers.push_back(n.get<long>());
  }
  task.target = x["target"].get<long>();
  v.extracted = extract_countdown_expression(sample.response);
  CountdownCheck c = check_countdown(v.extracted, task);
  v.correct = c.ok;
  v.reward = c.ok ? 1.0 : 0.0;
  v.status = c.status == "ok" ? "ok" : (c.status == "no_answer" ? "no_answer" : "wrong");
  v.reason = c.reason;
  v.info["check"] = c.status;
  return v;
}

}  // namespace zerorl::verifiers
