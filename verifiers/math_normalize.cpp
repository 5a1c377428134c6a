// verifiers/math_normalize.cpp: string clean-up of an extracted answer before parsing (delimiters,
// spacing macros, \dfrac, units, currency, thousands separators, decimal commas, trailing degrees).
// Not here: parsing (math_parse.cpp). Hand-written scanners, no std::regex (too slow for 10k/s).
#include <gmp.h>

#include <cctype>
#include <cstring>

#include "verifiers/math_parse.h"

namespace zerorl::verifiers::math {
namespace {

bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  size_t p = 0;
  while ((p = s.find(from, p)) != std::string::npos) {
    // A macro name must not continue with a letter (\le vs \left).
    if (from[0] == '\\' && is_letter(from.back()) && p + from.size() < s.size() &&
        is_letter(s[p + from.size()])) {
      p += from.size();
      continue;
    }
    // "\\ " is a row break followed by a space, not the spacing macro "\ ".
    if (from[0] == '\\' && from.size() == 2 && !is_letter(from[1]) && p > 0 && s[p - 1] == '\\') {
      p += from.size();
      continue;
    }
    s.replace(p, from.size(), to);
    p += to.size();
  }
}

// "\\frac" (an escaped backslash before a macro) -> "\frac"; "\\\\" (escaped row separator) -> "\\".
std::string fix_backslashes(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '\\') {
      out += s[i++];
      continue;
    }
    size_t j = i;
    while (j < s.size() && s[j] == '\\') ++j;
    size_t run = j - i;
    bool letter = j < s.size() && is_letter(s[j]);
    size_t keep = run;
    if (letter && run == 2) keep = 1;
    if (letter && run >= 4) keep = run % 2 == 0 ? 1 : 3;
    if (!letter && run == 4) keep = 2;
    out.append(keep, '\\');
    i = j;
  }
  return out;
}

// Removes \cmd{...} wrappers keeping the content (\boxed, \fbox, \mathrm{e} is handled by the parser).
void unwrap_macro(std::string& s, const std::string& macro) {
  size_t p;
  while ((p = s.find(macro + "{")) != std::string::npos) {
    size_t open = p + macro.size();
    int depth = 0;
    size_t q = open;
    for (; q < s.size(); ++q) {
      if (s[q] == '{') ++depth;
      if (s[q] == '}' && --depth == 0) break;
    }
    if (q >= s.size()) {  // unclosed: drop the macro name only
      s.erase(p, macro.size());
      continue;
    }
    s = s.substr(0, p) + s.substr(open + 1, q - open - 1) + s.substr(q + 1);
  }
}

const char* const kUnitWords[] = {
    "units",    "unit",  "sq",      "square", "cubic",    "meters",  "meter",  "metres", "metre",
    "cm",       "mm",    "km",      "m",      "miles",    "mile",    "feet",   "foot",   "ft",
    "inches",   "inch",  "yards",   "yard",   "kg",       "g",       "grams",  "gram",   "pounds",
    "pound",    "lbs",   "lb",      "ounces", "dollars",  "dollar",  "cents",  "cent",   "hours",
    "hour",     "hrs",   "minutes", "minute", "min",      "seconds", "second", "sec",    "s",
    "days",     "day",   "weeks",   "week",   "years",    "year",    "months", "month",  "degrees",
    "degree",   "yuan",  "euros",   "people", "students", "ways",    "mph",    "liters", "litres",
    "ml",       "l",     "cm^2",    "cm^3",   "m^2",      "m^3",     "km^2",   "ft^2",   "in^2",
    "inches^2", "times", "points",  "pages",  "coins",    "cookies", "books",  "apples", "marbles",
    "boxes",    "eggs"};

bool is_unit_word(const std::string& w) {
  for (const char* u : kUnitWords)
    if (w == u) return true;
  return false;
}

// Strips trailing unit words ("10 square units", "125 miles", "10weeks"; a short unit glued to the
// number, "10cm", stays: it may be a product of variables).
void strip_units(std::string& s) {
  for (int guard = 0; guard < 4; ++guard) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
    size_t end = s.size();
    size_t b = end;
    while (b > 0 &&
           (is_letter(s[b - 1]) || s[b - 1] == '^' || (is_digit(s[b - 1]) && b >= 2 && s[b - 2] == '^')))
      --b;
    if (b == end || b == 0) return;
    std::string word = s.substr(b, end - b);
    std::string lw;
    for (char c : word) lw += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!is_unit_word(lw)) return;
    bool spaced = s[b - 1] == ' ';
    bool glued_ok = is_digit(s[b - 1]) && lw.size() >= 4;
    if (!spaced && !glued_ok) return;
    s.erase(b);
  }
}

// \text{...}, \mbox{...} after the start of the answer are units or words: drop them (and ^2 after).
void strip_trailing_text(std::string& s) {
  static const char* const macros[] = {"\\text{", "\\mbox{", "\\textnormal{", "\\textbf{", "\\mathrm{"};
  for (const char* m : macros) {
    size_t p = 0;
    while ((p = s.find(m, p)) != std::string::npos) {
      size_t open = p + std::strlen(m) - 1;
      int depth = 0;
      size_t q = open;
      for (; q < s.size(); ++q) {
        if (s[q] == '{') ++depth;
        if (s[q] == '}' && --depth == 0) break;
      }
      if (q >= s.size()) return;
      std::string content = s.substr(open + 1, q - open - 1);
      bool wordy = !content.empty();
      size_t letters = 0;
      for (char c : content) {
        if (is_letter(c))
          ++letters;
        else if (c != ' ' && c != '.' && c != '^' && !is_digit(c))
          wordy = false;
      }
      std::string before = s.substr(0, p);
      while (!before.empty() && before.back() == ' ') before.pop_back();
      bool after_value = !before.empty() && (is_digit(before.back()) || before.back() == '}' ||
                                             before.back() == ')' || before.back() == '%');
      if (wordy && letters >= 1 && after_value && content.size() > 1) {
        size_t e = q + 1;
        if (s.compare(e, 2, "^2") == 0 || s.compare(e, 2, "^3") == 0)
          e += 2;
        else if (s.compare(e, 4, "^{2}") == 0 || s.compare(e, 4, "^{3}") == 0)
          e += 4;
        s.erase(p, e - p);
      } else {
        p = q;
      }
    }
  }
}

bool all_digits(const std::string& s, size_t b, size_t e) {
  if (b >= e) return false;
  for (size_t i = b; i < e; ++i)
    if (!is_digit(s[i])) return false;
  return true;
}

// Whole-answer number formats: "7,425,000", "1 000", "1000,99" (decimal comma), "1.5e-3".
void fix_number_formats(std::string& s) {
  size_t start = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  // Thousands with commas: d{1,3}(,ddd)+ [.d+]
  {
    size_t i = start, j = i;
    while (j < s.size() && is_digit(s[j])) ++j;
    bool ok = j > i && j - i <= 3 && j < s.size() && s[j] == ',' && s[i] != '0';
    size_t k = j;
    int groups = 0;
    while (ok && k < s.size() && s[k] == ',') {
      if (!all_digits(s, k + 1, k + 4) || (k + 4 < s.size() && is_digit(s[k + 4]))) ok = false;
      k += 4;
      ++groups;
    }
    if (ok && groups > 0 && (k == s.size() || (s[k] == '.' && all_digits(s, k + 1, s.size())))) {
      std::string t;
      for (char c : s)
        if (c != ',') t += c;
      s = t;
      return;
    }
  }
  // Decimal comma: digits,digits with a fraction that is not a thousands group.
  size_t comma = s.find(',');
  if (start == 0 && comma != std::string::npos && all_digits(s, 0, comma) &&
      all_digits(s, comma + 1, s.size())) {
    size_t frac = s.size() - comma - 1;
    if (frac >= 2 && (frac != 3 || s.compare(0, comma, "0") == 0))
      s[comma] = '.';
    else if (frac == 3)
      s.erase(comma, 1);
    return;
  }
  // Thousands with spaces.
  {
    size_t i = start, j = i;
    while (j < s.size() && is_digit(s[j])) ++j;
    if (j > i && j - i <= 3 && j < s.size() && s[j] == ' ') {
      size_t k = j;
      bool ok = true;
      while (ok && k < s.size()) {
        ok = s[k] == ' ' && all_digits(s, k + 1, k + 4) && (k + 4 == s.size() || s[k + 4] == ' ');
        k += 4;
      }
      if (ok) {
        std::string t;
        for (char c : s)
          if (c != ' ') t += c;
        s = t;
        return;
      }
    }
  }
  // Mixed number "1 1/2".
  {
    size_t sp = s.find(' '), sl = s.find('/');
    if (start == 0 && sp != std::string::npos && sl != std::string::npos && sp < sl && all_digits(s, 0, sp) &&
        all_digits(s, sp + 1, sl) && all_digits(s, sl + 1, s.size())) {
      s = "(" + s.substr(0, sp) + "+" + s.substr(sp + 1) + ")";
      return;
    }
  }
  // Plain scientific notation "1.5e-3" / "2E10".
  size_t e = s.find_first_of("eE");
  if (e != std::string::npos && e > start && e + 1 < s.size()) {
    size_t m = start;
    while (m < e && (is_digit(s[m]) || s[m] == '.')) ++m;
    size_t x = e + 1;
    if (x < s.size() && (s[x] == '-' || s[x] == '+')) ++x;
    if (m == e && is_digit(s[start]) && all_digits(s, x, s.size()))
      s = s.substr(0, e) + "*10^{" + s.substr(e + 1) + "}";
  }
}

// "0.1\overline{6}" -> "(1/6)": a repeating decimal is an exact rational.
void fix_repeating_decimals(std::string& s) {
  size_t p = s.find("\\overline{");
  if (p == std::string::npos) p = s.find("\\dot{");
  if (p == std::string::npos) return;
  size_t open = s.find('{', p), close = s.find('}', p);
  if (close == std::string::npos || !all_digits(s, open + 1, close) || close - open > 30) return;
  size_t b = p;
  while (b > 0 && (is_digit(s[b - 1]) || s[b - 1] == '.')) --b;
  std::string head = s.substr(b, p - b);
  size_t dot = head.find('.');
  if (dot == std::string::npos || head.size() > 30) return;
  std::string ip = head.substr(0, dot), nonrep = head.substr(dot + 1),
              rep = s.substr(open + 1, close - open - 1);
  // x = (ip nonrep rep - ip nonrep) / (10^{|nonrep|} (10^{|rep|} - 1))
  mpz_t a, c, d;
  mpz_init_set_str(a, (ip + nonrep + rep).empty() ? "0" : ("0" + ip + nonrep + rep).c_str(), 10);
  mpz_init_set_str(c, ("0" + ip + nonrep).c_str(), 10);
  mpz_sub(a, a, c);
  mpz_init(d);
  mpz_ui_pow_ui(d, 10, rep.size());
  mpz_sub_ui(d, d, 1);
  mpz_ui_pow_ui(c, 10, nonrep.size());
  mpz_mul(d, d, c);
  char* num = mpz_get_str(nullptr, 10, a);
  char* den = mpz_get_str(nullptr, 10, d);
  s = s.substr(0, b) + "(" + num + "/" + den + ")" + s.substr(close + 1);
  void (*freefunc)(void*, size_t);
  mp_get_memory_functions(nullptr, nullptr, &freefunc);
  freefunc(num, std::strlen(num) + 1);
  freefunc(den, std::strlen(den) + 1);
  mpz_clear(a);
  mpz_clear(c);
  mpz_clear(d);
}

std::string trim_copy(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::string normalize_answer(const std::string& answer) {
  if (answer.size() > kMaxAnswerBytes) return answer.substr(0, kMaxAnswerBytes + 1);
  std::string s = fix_backslashes(answer);
  for (size_t p = s.find(",\\!"); p != std::string::npos; p = s.find(",\\!", p)) {  // "11,\! 111" -> "11111"
    size_t e = p + 3;
    while (e < s.size() && s[e] == ' ') ++e;
    s.erase(p, e - p);
  }
  static const char* const pairs[][2] = {{"\\$", ""},
                                         {")or(", "),("},
                                         {"\\mathbb{R}", "(-\\infty,\\infty)"},
                                         {"\\text{all real numbers}", "(-\\infty,\\infty)"},
                                         {"all real numbers", "(-\\infty,\\infty)"},
                                         {")and(", "),("},
                                         {"\\left.", ""},
                                         {"\\right.", ""},
                                         {"\\left", ""},
                                         {"\\right", ""},
                                         {"\\bigl", ""},
                                         {"\\bigr", ""},
                                         {"\\Bigl", ""},
                                         {"\\Bigr", ""},
                                         {"\\big", ""},
                                         {"\\Big", ""},
                                         {"\\displaystyle", ""},
                                         {"\\limits", ""},
                                         {",\\!", ""},
                                         {"{,}", ""},
                                         {"{, }", ""},
                                         {"\\!", ""},
                                         {"\\,", " "},
                                         {"\\;", " "},
                                         {"\\:", " "},
                                         {"\\ ", " "},
                                         {"\\qquad", " "},
                                         {"\\quad", " "},
                                         {"~", " "},
                                         {"\\dfrac", "\\frac"},
                                         {"\\tfrac", "\\frac"},
                                         {"\\cfrac", "\\frac"},
                                         {"\\dbinom", "\\binom"},
                                         {"\\tbinom", "\\binom"},
                                         {"\\(", ""},
                                         {"\\)", ""},
                                         {"\\[", ""},
                                         {"\\]", ""},
                                         {"$", ""},
                                         {"\\%", "%"},
                                         {"\\text{ and }", ","},
                                         {"\\text{and}", ","},
                                         {"\\text{ or }", ","},
                                         {"\\text{or}", ","},
                                         {"\\text{,}", ","},
                                         {" and ", ","},
                                         {" or ", ","},
                                         {"\\mathrm{e}", "e"},
                                         {"**", "^"},
                                         {"\\cdotp", "\\cdot"},
                                         {"\\colon", ":"},
                                         {"\\euro", ""},
                                         {"\\pounds", ""},
                                         {"\xE2\x82\xAC", ""},
                                         {"\xC2\xA3", ""},
                                         {"\xC2\xA5", ""},
                                         {"\xC2\xB0", "^\\circ"},
                                         {"\xC2\xB2", "^2"},
                                         {"\xC2\xB3", "^3"},
                                         {"\xE2\x88\x92", "-"},
                                         {"\xC2\xB7", "\\cdot"},
                                         {"\xC3\x97", "\\times"},
                                         {"\xCF\x80", "\\pi"},
                                         {"\xE2\x88\x9E", "\\infty"},
                                         {"\xE2\x88\x9A", "\\sqrt"},
                                         {"\xE2\x89\xA4", "\\leq"},
                                         {"\xE2\x89\xA5", "\\geq"},
                                         {"\xE2\x89\xA0", "\\neq"},
                                         {"\\degree", "^\\circ"},
                                         {"^{\\circ}", "^\\circ"},
                                         {"\\textdollar", ""},
                                         {" percentage", "%"},
                                         {" percent", "%"},
                                         {" pct", "%"},
                                         {"percent", "%"}};
  for (auto& p : pairs) replace_all(s, p[0], p[1]);
  unwrap_macro(s, "\\boxed");
  unwrap_macro(s, "\\fbox");
  replace_all(s, "\\$", "");
  s = trim_copy(s);
  // Trailing punctuation and degree signs; "x \in" is a relation the comparer unwraps.
  for (int guard = 0; guard < 4; ++guard) {
    while (!s.empty() && (s.back() == '.' || s.back() == ',' || s.back() == ' ' || s.back() == ';'))
      s.pop_back();
    bool changed = false;
    for (const char* suffix : {"^\\circ", "\\circ", " degrees"}) {
      size_t n = std::strlen(suffix);
      if (s.size() > n && s.compare(s.size() - n, n, suffix) == 0 &&
          s.find('(') == std::string::npos) {  // sin(90^\circ - x) keeps its degree
        s.erase(s.size() - n);
        changed = true;
      }
    }
    if (!changed) break;
  }
  fix_repeating_decimals(s);
  strip_trailing_text(s);
  strip_units(s);
  s = trim_copy(s);
  while (!s.empty() && (s.back() == '.' || s.back() == ',')) s.pop_back();
  fix_number_formats(s);
  return s;
}

}  // namespace zerorl::verifiers::math
