// verifiers/sandbox/program_text.cpp: text helpers of the code verifier: fenced-block extraction and
// LiveCodeBench-style output comparison (exact decimals hand-written: no packaged decimal type fits in a
// few lines, and GMP rationals would accept forms Python's Decimal does not). Not here: running programs.
#include <cctype>
#include <string>
#include <vector>

#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::verifiers {
namespace {

std::string strip(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t nl = s.find('\n', start);
    out.push_back(strip(s.substr(start, nl == std::string::npos ? std::string::npos : nl - start)));
    if (nl == std::string::npos) return out;
    start = nl + 1;
  }
}

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// A finite decimal [+-]?(d+[.d*]|.d+)([eE][+-]?d+)? in canonical form "sign digits e exponent" (no leading
// or trailing zeros in digits; zero is "0"), so equal values give equal strings. False if not a decimal.
bool canonical_decimal(const std::string& tok, std::string* out) {
  size_t i = 0;
  bool neg = false;
  if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) neg = tok[i++] == '-';
  std::string digits;
  long exp = 0, n_int = 0, n_frac = 0;
  while (i < tok.size() && std::isdigit(static_cast<unsigned char>(tok[i]))) digits += tok[i++], ++n_int;
  if (i < tok.size() && tok[i] == '.') {
    ++i;
    while (i < tok.size() && std::isdigit(static_cast<unsigned char>(tok[i]))) digits += tok[i++], ++n_frac;
  }
  if (n_int + n_frac == 0) return false;
  if (i < tok.size() && (tok[i] == 'e' || tok[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) eneg = tok[i++] == '-';
    size_t start = i;
    while (i < tok.size() && std::isdigit(static_cast<unsigned char>(tok[i])) && i - start < 9) {
      exp = exp * 10 + (tok[i++] - '0');
    }
    if (i == start) return false;
    if (eneg) exp = -exp;
  }
  if (i != tok.size()) return false;
  exp -= n_frac;
  size_t lead = digits.find_first_not_of('0');
  if (lead == std::string::npos) {
    *out = "0";
    return true;
  }
  digits = digits.substr(lead);
  while (digits.back() == '0') digits.pop_back(), ++exp;
  *out = std::string(neg ? "-" : "+") + digits + "e" + std::to_string(exp);
  return true;
}

bool decimal_lists_equal(const std::string& a, const std::string& b) {
  auto ta = split_ws(a), tb = split_ws(b);
  if (ta.size() != tb.size()) return false;
  for (size_t i = 0; i < ta.size(); ++i) {
    std::string ca, cb;
    if (!canonical_decimal(ta[i], &ca) || !canonical_decimal(tb[i], &cb) || ca != cb) return false;
  }
  return true;
}

}  // namespace

std::string extract_last_code_block(const std::string& response, bool* found) {
  *found = false;
  std::string best;
  size_t pos = 0;
  while (true) {
    size_t open = response.find("```", pos);
    if (open == std::string::npos) break;
    size_t nl = response.find('\n', open + 3);
    if (nl == std::string::npos) break;
    size_t close = response.find("```", nl + 1);
    if (close == std::string::npos) {
      // A closing fence right after the opening line ends an empty block.
      break;
    }
    best = response.substr(nl + 1, close - nl - 1);
    *found = true;
    pos = close + 3;
  }
  return best;
}

bool outputs_match(const std::string& got, const std::string& expected) {
  auto g = split_lines(strip(got)), e = split_lines(strip(expected));
  if (g.size() != e.size()) return false;
  for (size_t i = 0; i < g.size(); ++i) {
    if (g[i] == e[i]) continue;
    if (!decimal_lists_equal(g[i], e[i])) return false;
  }
  return true;
}

}  // namespace zerorl::verifiers
