// verifiers/math_parse.cpp: recursive-descent parser for normalized LaTeX/plain math answers -> Node.
// Not here: normalization (math_normalize.cpp), evaluation and comparison (math_equiv.cpp).
#include "verifiers/math_parse.h"

#include <cctype>
#include <cstring>

namespace zerorl::verifiers::math {
namespace {

struct ParseError {
  std::string what;
};

const char* const kFunctions[] = {"sin",  "cos",  "tan",  "sec", "csc", "cot", "arcsin", "arccos", "arctan",
                                  "sinh", "cosh", "tanh", "exp", "ln",  "log", "abs",    "floor",  "ceil"};
bool is_function(const std::string& s) {
  for (const char* f : kFunctions)
    if (s == f) return true;
  return false;
}
bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

Node make(Kind k, std::string text = {}, std::vector<Node> kids = {}) {
  Node n;
  n.kind = k;
  n.text = std::move(text);
  n.kids = std::move(kids);
  return n;
}

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  Node parse_top() {
    Node n = parse_list(0);
    skip();
    if (pos_ != s_.size()) fail("unexpected '" + s_.substr(pos_, 8) + "'");
    return n;
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
  int depth_ = 0;
  int nodes_ = 0;
  int func_depth_ = 0;  // > 0 while parsing a function's argument

  [[noreturn]] void fail(const std::string& why) { throw ParseError{why}; }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  char peek() {
    skip();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  // Command name at the cursor ("frac" for "\frac"), or "" when none. Does not consume.
  std::string peek_cmd() {
    skip();
    if (pos_ >= s_.size() || s_[pos_] != '\\') return "";
    size_t j = pos_ + 1;
    while (j < s_.size() && is_letter(s_[j])) ++j;
    if (j == pos_ + 1 && j < s_.size()) return std::string(1, s_[j]);  // \{ \} \% \\ ...
    return s_.substr(pos_ + 1, j - pos_ - 1);
  }
  void take_cmd(const std::string& c) { pos_ += 1 + c.size(); }
  bool eat(const char* lit) {
    skip();
    size_t n = std::strlen(lit);
    if (s_.compare(pos_, n, lit) != 0) return false;
    pos_ += n;
    return true;
  }
  void expect(const char* lit) {
    if (!eat(lit)) fail(std::string("expected '") + lit + "'");
  }
  Node count(Node n) {
    if (++nodes_ > kMaxNodes) fail("too many nodes");
    return n;
  }
  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& pp) : p(pp) {
      if (++p.depth_ > kMaxDepth) p.fail("nesting too deep");
    }
    ~DepthGuard() { --p.depth_; }
  };

  bool at_list_end(int closer) {
    char c = peek();
    if (c == '\0') return true;
    if (closer == 0) return false;
    if (closer == '}') return c == '}' || peek_cmd() == "}";
    return c == ')' || c == ']' || c == '&' || peek_cmd() == "\\" || (closer == 'E' && peek_cmd() == "end");
  }
  // items separated by ',' or ';' until the closer (0 = end of input).
  Node parse_list(int closer) {
    DepthGuard g(*this);
    std::vector<Node> items;
    if (!at_list_end(closer)) items.push_back(parse_rel(closer));
    while (eat(",") || eat(";")) {
      while (eat(",") || eat(";")) {
      }
      if (at_list_end(closer)) break;
      items.push_back(parse_rel(closer));
    }
    if (items.empty()) fail("empty list");
    if (items.size() == 1) return std::move(items[0]);
    Node t = make(Kind::Tuple, {}, std::move(items));
    return count(t);
  }
  std::string rel_op() {
    skip();
    static const char* const lits[][2] = {{"<=", "<="}, {">=", ">="}, {"!=", "!="},
                                          {"=", "="},   {"<", "<"},   {">", ">"}};
    for (auto& l : lits)
      if (eat(l[0])) return l[1];
    std::string c = peek_cmd();
    static const char* const cmds[][2] = {
        {"leq", "<="},      {"le", "<="},       {"geq", ">="}, {"ge", ">="},    {"neq", "!="},
        {"ne", "!="},       {"lt", "<"},        {"gt", ">"},   {"approx", "~"}, {"in", "in"},
        {"leqslant", "<="}, {"geqslant", ">="}, {"equiv", "="}};
    for (auto& l : cmds)
      if (c == l[0]) {
        take_cmd(c);
        return l[1];
      }
    return "";
  }
  // a:b:c ratios (and times of day) are ordered tuples with ':' brackets.
  Node parse_ratio(int closer) {
    Node first = parse_union(closer);
    if (peek() != ':') return first;
    Node t = make(Kind::Tuple, {}, {std::move(first)});
    t.open = t.close = ':';
    while (eat(":")) t.kids.push_back(parse_union(closer));
    return count(t);
  }
  Node parse_rel(int closer) {
    Node first = parse_ratio(closer);
    std::string op = rel_op();
    if (op.empty()) return first;
    Node r = make(Kind::Relation, {}, {std::move(first)});
    while (!op.empty()) {
      r.ops.push_back(op);
      r.kids.push_back(parse_ratio(closer));
      op = rel_op();
    }
    return count(r);
  }
  Node parse_union(int closer) {
    Node a = parse_expr();
    if (peek_cmd() != "cup") return a;
    Node u = make(Kind::Union, {}, {std::move(a)});
    while (peek_cmd() == "cup") {
      take_cmd("cup");
      u.kids.push_back(parse_expr());
    }
    return count(u);
  }
  Node parse_expr() {
    DepthGuard g(*this);
    Node acc = parse_term();
    std::vector<Node> terms;
    terms.push_back(std::move(acc));
    for (;;) {
      if (eat("+")) {
        terms.push_back(parse_term());
      } else if (peek() == '-' && s_.compare(pos_, 2, "->") != 0) {
        ++pos_;
        terms.push_back(count(make(Kind::Neg, {}, {parse_term()})));
      } else if (peek_cmd() == "pm" || peek_cmd() == "mp") {
        take_cmd(peek_cmd());
        Node lhs = terms.size() == 1 ? std::move(terms[0]) : make(Kind::Add, {}, std::move(terms));
        terms.clear();
        terms.push_back(count(make(Kind::PlusMinus, {}, {std::move(lhs), parse_term()})));
      } else {
        break;
      }
    }
    if (terms.size() == 1) return std::move(terms[0]);
    return count(make(Kind::Add, {}, std::move(terms)));
  }
  bool starts_atom() {
    char c = peek();
    if (c == '\0') return false;
    if (is_digit(c) || is_letter(c) || c == '(' || c == '{' || c == '.') return true;
    if (c == '[') return true;
    if (c != '\\') return false;
    std::string cmd = peek_cmd();
    static const char* const non_atoms[] = {
        "cdot",   "times", "div",      "pm",       "mp",     "cup", "leq",  "le",    "geq", "ge",
        "neq",    "ne",    "lt",       "gt",       "approx", "in",  "\\",   "}",     "end", "right",
        "rfloor", "rceil", "leqslant", "geqslant", "equiv",  "%",   "quad", "qquad", "cap"};
    for (const char* n : non_atoms)
      if (cmd == n) return false;
    return !cmd.empty();
  }
  Node parse_term() {
    DepthGuard g(*this);
    std::vector<Node> factors;
    factors.push_back(parse_unary());
    for (;;) {
      std::string cmd = peek_cmd();
      if (eat("*") || cmd == "cdot" || cmd == "times") {
        if (cmd == "cdot" || cmd == "times") take_cmd(cmd);
        factors.push_back(parse_unary());
      } else if ((peek() == '/' && (eat("/"), true)) || cmd == "div") {
        if (cmd == "div") take_cmd(cmd);
        Node num = factors.size() == 1 ? std::move(factors[0]) : make(Kind::Mul, {}, std::move(factors));
        factors.clear();
        factors.push_back(count(make(Kind::Div, {}, {std::move(num), parse_unary()})));
      } else if (starts_atom()) {
        factors.push_back(parse_power());
      } else {
        break;
      }
    }
    if (factors.size() == 1) return std::move(factors[0]);
    return count(make(Kind::Mul, {}, std::move(factors)));
  }
  Node parse_unary() {
    DepthGuard g(*this);
    if (eat("-")) return count(make(Kind::Neg, {}, {parse_unary()}));
    if (eat("+")) return parse_unary();
    std::string cmd = peek_cmd();
    if (cmd == "pm" || cmd == "mp") {
      take_cmd(cmd);
      return count(make(Kind::PlusMinus, {}, {parse_unary()}));
    }
    return parse_power();
  }
  Node parse_power() {
    DepthGuard g(*this);
    Node base = parse_postfix(parse_atom());
    if (eat("^")) {
      Node e = parse_exponent();
      if (e.kind == Kind::Symbol && e.text == "\\circ") {
        if (func_depth_ == 0) return base;  // an angle answer "90^\circ" is the number 90
        // Inside a function argument, degrees -> radians: \sin(90^\circ - x) = \cos x.
        Node r = make(Kind::Mul, {}, {std::move(base), make(Kind::Constant, "pi")});
        return count(make(Kind::Div, {}, {std::move(r), make(Kind::Number, "180")}));
      }
      return parse_postfix(count(make(Kind::Pow, {}, {std::move(base), std::move(e)})));
    }
    return base;
  }
  Node parse_exponent() {
    if (eat("{")) {
      Node e = parse_list('}');
      expect_close_brace();
      return e;
    }
    if (peek() == '-') {
      ++pos_;
      return make(Kind::Neg, {}, {parse_exponent()});
    }
    char c = peek();
    if (is_digit(c)) {
      ++pos_;
      return make(Kind::Number, std::string(1, c));
    }
    return parse_atom();
  }
  Node parse_postfix(Node n) {
    for (;;) {
      if (peek() == '!' && s_.compare(pos_, 2, "!=") != 0) {
        ++pos_;
        n = count(make(Kind::Factorial, {}, {std::move(n)}));
      } else if (eat("%") || (peek_cmd() == "%" && (take_cmd("%"), true))) {
        n = count(make(Kind::Percent, {}, {std::move(n)}));
      } else if (eat("'")) {
        if (n.kind != Kind::Symbol) fail("prime on non-symbol");
        n.text += "'";
      } else if (peek() == '_') {
        ++pos_;
        std::string sub = raw_group();
        if (n.kind == Kind::Symbol || n.kind == Kind::Text) {
          n.text += "_" + sub;
        } else if (n.kind == Kind::Number) {
          n = make(Kind::Text, n.text + "_" + sub);
        } else {
          fail("subscript on expression");
        }
      } else {
        return n;
      }
    }
  }
  // Raw text of {...} or one character (for subscripts, \text, environment names).
  std::string raw_group() {
    skip();
    if (pos_ < s_.size() && s_[pos_] == '{') {
      int d = 0;
      size_t start = pos_ + 1;
      for (; pos_ < s_.size(); ++pos_) {
        if (s_[pos_] == '{') ++d;
        if (s_[pos_] == '}' && --d == 0) {
          std::string out = s_.substr(start, pos_ - start);
          ++pos_;
          std::string t;
          for (char c : out)
            if (!std::isspace(static_cast<unsigned char>(c))) t += c;
          return t;
        }
      }
      fail("unclosed {");
    }
    if (pos_ >= s_.size()) fail("missing argument");
    if (s_[pos_] == '\\') {
      std::string c = peek_cmd();
      take_cmd(c);
      return "\\" + c;
    }
    return std::string(1, s_[pos_++]);
  }
  void expect_close_brace() {
    if (eat("}")) return;
    fail("expected '}'");
  }
  // A macro argument: {list} or a single digit/letter/command atom.
  Node parse_arg() {
    DepthGuard g(*this);
    skip();
    if (eat("{")) {
      Node n = parse_list('}');
      expect_close_brace();
      return n;
    }
    char c = peek();
    if (is_digit(c) || is_letter(c)) {
      ++pos_;
      return is_digit(c) ? make(Kind::Number, std::string(1, c)) : symbol_or_const(std::string(1, c));
    }
    return parse_atom();
  }
  Node symbol_or_const(const std::string& name) {
    if (name == "e") return make(Kind::Constant, "e");
    if (name == "i" || name == "I") return make(Kind::Constant, "i");
    return make(Kind::Symbol, name);
  }
  Node parse_number() {
    size_t start = pos_;
    while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    bool dec = false;
    if (pos_ + 1 < s_.size() && s_[pos_] == '.' && is_digit(s_[pos_ + 1])) {
      dec = true;
      ++pos_;
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    } else if (pos_ < s_.size() && s_[pos_] == '.' && pos_ > start) {
      ++pos_;  // "27." -> 27
    }
    Node n = make(Kind::Number, s_.substr(start, pos_ - start));
    if (n.text.size() > 2000) fail("number too long");
    if (n.text[0] == '.') n.text = "0" + n.text;
    if (!n.text.empty() && n.text.back() == '.') n.text.pop_back();
    n.open = dec ? 'd' : 0;  // 'd' marks a decimal literal
    return n;
  }
  Node parse_atom();
  Node parse_command(const std::string& cmd);
  Node parse_environment();
  Node parse_bracketed(char open);
};

Node Parser::parse_bracketed(char open) {
  Node inner = parse_list(')');
  char close = peek();
  if (close != ')' && close != ']') fail("unclosed bracket");
  ++pos_;
  if (inner.kind == Kind::Tuple && inner.open == 0) {
    inner.open = open;
    inner.close = close;
    return inner;
  }
  if (open == close - 1 || (open == '[' && close == ']')) return inner;  // grouping
  Node t = make(Kind::Tuple, {}, {std::move(inner)});
  t.open = open;
  t.close = close;
  return count(t);
}

Node Parser::parse_atom() {
  DepthGuard g(*this);
  char c = peek();
  if (c == '\0') fail("missing operand");
  if (is_digit(c) || (c == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1]))) {
    Node n = parse_number();
    // Mixed number "2\frac58" (digit immediately followed by \frac of integers).
    if (n.open == 0 && s_.compare(pos_, 5, "\\frac") == 0) {
      size_t save = pos_;
      take_cmd("frac");
      Node a = parse_arg(), b = parse_arg();
      if (a.kind == Kind::Number && b.kind == Kind::Number && a.open == 0 && b.open == 0)
        return count(make(Kind::Add, {}, {std::move(n), make(Kind::Div, {}, {std::move(a), std::move(b)})}));
      pos_ = save;
    }
    return count(n);
  }
  if (is_letter(c)) {
    size_t j = pos_;
    while (j < s_.size() && is_letter(s_[j])) ++j;
    std::string word = s_.substr(pos_, j - pos_);
    if (is_function(word) || word == "sqrt") {  // plain "sqrt(2)", "sin(x)"
      pos_ = j - 1;
      std::string fake = word;
      pos_ = j;
      if (word == "sqrt")
        return count(
            make(Kind::Pow, {},
                 {parse_arg(), make(Kind::Div, {}, {make(Kind::Number, "1"), make(Kind::Number, "2")})}));
      return count(make(Kind::Func, fake, {parse_power()}));
    }
    ++pos_;
    std::string name(1, c);
    // f(x), g(2): one-letter function application for the usual function letters.
    if (std::strchr("fghFGHPQW", c) != nullptr && pos_ < s_.size() && s_[pos_] == '(') {
      ++pos_;
      Node arg = parse_list(')');
      expect(")");
      return count(make(Kind::Func, name, {std::move(arg)}));
    }
    return count(symbol_or_const(name));
  }
  if (c == '(' || c == '[') {
    ++pos_;
    return parse_bracketed(c);
  }
  if (c == '{') {
    ++pos_;
    Node n = parse_list('}');
    expect_close_brace();
    return n;
  }
  if (c == '|') {
    ++pos_;
    Node n = parse_expr();
    expect("|");
    return count(make(Kind::Func, "abs", {std::move(n)}));
  }
  if (c == '\\') {
    std::string cmd = peek_cmd();
    take_cmd(cmd);
    return parse_command(cmd);
  }
  fail(std::string("unexpected '") + c + "'");
}

Node Parser::parse_command(const std::string& cmd) {
  if (cmd == "frac") {
    Node a = parse_arg();
    Node b = parse_arg();
    return count(make(Kind::Div, {}, {std::move(a), std::move(b)}));
  }
  if (cmd == "sqrt") {
    Node idx = make(Kind::Number, "2");
    if (eat("[")) {
      idx = parse_list(')');
      expect("]");
    }
    Node arg = parse_arg();
    return count(make(Kind::Func, "root", {std::move(arg), std::move(idx)}));
  }
  if (cmd == "binom") {
    Node a = parse_arg();
    Node b = parse_arg();
    return count(make(Kind::Func, "binom", {std::move(a), std::move(b)}));
  }
  if (cmd == "pi") return make(Kind::Constant, "pi");
  if (cmd == "infty" || cmd == "infinity") return make(Kind::Constant, "inf");
  if (cmd == "{") {
    Node inner = peek_cmd() == "}" ? make(Kind::Tuple) : parse_list('}');
    if (peek_cmd() != "}") fail("unclosed \\{");
    take_cmd("}");
    Node set = make(Kind::Set);
    if (inner.kind == Kind::Tuple && inner.open == 0)
      set.kids = std::move(inner.kids);
    else
      set.kids.push_back(std::move(inner));
    return count(set);
  }
  if (cmd == "emptyset" || cmd == "varnothing") return make(Kind::Set);
  if (cmd == "text" || cmd == "mathrm" || cmd == "textbf" || cmd == "mathbf" || cmd == "textnormal" ||
      cmd == "mbox" || cmd == "operatorname" || cmd == "mathit" || cmd == "textit") {
    std::string t = raw_group();
    if (is_function(t)) return count(make(Kind::Func, t, {parse_power()}));
    if (t.size() == 1 && is_letter(t[0])) return symbol_or_const(t);
    return count(make(Kind::Text, t));
  }
  if (cmd == "begin") return parse_environment();
  if (cmd == "lfloor" || cmd == "lceil") {
    Node n = parse_expr();
    if (peek_cmd() != (cmd == "lfloor" ? "rfloor" : "rceil")) fail("unclosed floor/ceil");
    take_cmd(peek_cmd());
    return count(make(Kind::Func, cmd == "lfloor" ? "floor" : "ceil", {std::move(n)}));
  }
  if (is_function(cmd)) {
    std::string name = cmd;
    Node base_arg;
    bool has_base = false;
    if (cmd == "log" && eat("_")) {
      base_arg = parse_arg();
      has_base = true;
    }
    Node power;
    bool has_power = false;
    if (eat("^")) {
      power = parse_exponent();
      has_power = true;
    }
    ++func_depth_;
    Node arg = parse_power();
    --func_depth_;
    Node f = make(Kind::Func, name, {std::move(arg)});
    if (has_base) f = make(Kind::Div, {}, {std::move(f), make(Kind::Func, "ln", {std::move(base_arg)})});
    if (has_power) f = make(Kind::Pow, {}, {std::move(f), std::move(power)});
    return count(f);
  }
  if (cmd == "circ") return make(Kind::Symbol, "\\circ");
  if (cmd == "ldots" || cmd == "cdots" || cmd == "dots") return make(Kind::Text, "...");
  if (cmd == "%") return make(Kind::Text, "%");
  if (cmd.size() == 1) fail("unexpected \\" + cmd);
  return count(make(Kind::Symbol, "\\" + cmd));  // \alpha, \theta, unknown macros: opaque symbols
}

Node Parser::parse_environment() {
  std::string env = raw_group();
  if (env == "array") raw_group();  // column spec
  Node m = make(Kind::Matrix);
  std::vector<std::vector<Node>> rows(1);
  for (;;) {
    if (peek_cmd() == "end") {
      take_cmd("end");
      raw_group();
      break;
    }
    if (peek() == '\0') fail("unclosed \\begin{" + env + "}");
    if (peek_cmd() == "\\") {
      take_cmd("\\");
      rows.emplace_back();
      continue;
    }
    if (eat("&")) continue;
    rows.back().push_back(parse_list('E'));
  }
  while (!rows.empty() && rows.back().empty()) rows.pop_back();
  if (env == "cases") {  // a system: a bare list of its lines
    Node t = make(Kind::Tuple);
    for (auto& r : rows)
      for (auto& c : r) t.kids.push_back(std::move(c));
    return count(t);
  }
  if (rows.empty()) fail("empty matrix");
  size_t cols = rows[0].size();
  for (auto& r : rows) {
    if (r.size() != cols) fail("ragged matrix");
    for (auto& c : r) m.kids.push_back(std::move(c));
  }
  m.rows = static_cast<int>(rows.size());
  m.cols = static_cast<int>(cols);
  if (env == "vmatrix") return count(make(Kind::Func, "det", {std::move(m)}));
  return count(m);
}

}  // namespace

ParseResult parse_answer(const std::string& normalized) {
  ParseResult r;
  if (normalized.size() > kMaxAnswerBytes) {
    r.error = "answer too long";
    return r;
  }
  if (normalized.empty()) {
    r.error = "empty answer";
    return r;
  }
  try {
    Parser p(normalized);
    r.root = p.parse_top();
    r.ok = true;
  } catch (const ParseError& e) {
    r.error = e.what;
  }
  return r;
}

}  // namespace zerorl::verifiers::math
