// rewards/hack_signs.cpp: the pattern rules of hack_signs.h. Substring and bracket scans, linear in the
// response (no regex: bounded work on any model output). Not here: aggregation over steps, penalties.
#include "rewards/hack_signs.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_set>

#include "verifiers/math_extract.h"
#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::rewards {
namespace {

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
  return n;
}

// `name(` not preceded by an identifier character or '.', e.g. exit( but not sys.exit( or atexit(.
bool bare_call(const std::string& s, const std::string& name) {
  const std::string needle = name + "(";
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) {
    if (p == 0 || (!ident_char(s[p - 1]) && s[p - 1] != '.')) return true;
  }
  return false;
}

std::string without_spaces(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

// Contents of every \boxed{...} and \fbox{...} (nested braces), in order.
std::vector<std::string> all_boxes(const std::string& s) {
  std::vector<std::string> out;
  for (const char* open : {"\\boxed{", "\\fbox{"}) {
    const std::string o = open;
    for (size_t p = s.find(o); p != std::string::npos; p = s.find(o, p + 1)) {
      int depth = 1;
      size_t i = p + o.size();
      for (; i < s.size() && depth > 0; ++i) depth += s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
      if (depth == 0) out.push_back(s.substr(p + o.size(), i - 1 - (p + o.size())));
    }
  }
  return out;
}

// Contents of every <answer>...</answer>.
std::vector<std::string> all_answer_tags(const std::string& s) {
  std::vector<std::string> out;
  for (size_t p = s.find("<answer>"); p != std::string::npos; p = s.find("<answer>", p + 1)) {
    size_t e = s.find("</answer>", p);
    if (e == std::string::npos) break;
    out.push_back(s.substr(p + 8, e - p - 8));
  }
  return out;
}

// "1,080": a comma between a digit and exactly three digits is a thousands separator, not a list.
bool thousands_separator(const std::string& a, size_t i) {
  auto digit = [&](size_t k) { return k < a.size() && std::isdigit(static_cast<unsigned char>(a[k])); };
  return i > 0 && digit(i - 1) && digit(i + 1) && digit(i + 2) && digit(i + 3) && !digit(i + 4);
}

// Values separated by ',' or ';' at bracket depth <= 1 (so "\{1,2,3\}" and "1, 2, 3" both count 3, but
// the arguments of f(1,2) inside a bracketed expression do not split).
int top_level_values(const std::string& a) {
  int depth = 0, values = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    const char c = a[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') depth = std::max(0, depth - 1);
    if ((c == ',' || c == ';') && depth <= 1 && !(c == ',' && thousands_separator(a, i))) ++values;
  }
  return values;
}

void add(std::vector<HackSign>* out, const char* category, const std::string& pattern) {
  HackSign s{category, pattern};
  if (std::find(out->begin(), out->end(), s) == out->end()) out->push_back(std::move(s));
}

}  // namespace

std::vector<HackSign> code_hack_signs(const std::string& program) {
  static const char* const kTokens[] = {
      "_getframe",     "f_back",        "f_locals",      "f_globals",  "f_code",     "co_consts",
      "tb_frame",      "currentframe",  "inspect.stack", "settrace",   "setprofile", "gc.get_objects",
      "get_referrers", "get_referents", "/proc/",        "__eq__",     "__ne__",     "__bool__",
      "__hash__",      "os._exit",      "sys.exit",      "SystemExit", "atexit",     "excepthook",
      "builtins.",     "__builtins__",  "sys.modules",   "os.kill",    "ctypes"};
  std::vector<HackSign> out;
  for (const char* t : kTokens) {
    if (program.find(t) != std::string::npos) add(&out, "code", t);
  }
  for (const char* f : {"exit", "quit"}) {
    if (bare_call(program, f)) add(&out, "code", std::string(f) + "()");
  }
  return out;
}

std::vector<HackSign> math_hack_signs(const std::string& response) {
  std::vector<HackSign> out;
  std::set<std::string> finals;
  for (const auto& b : all_boxes(response)) finals.insert(without_spaces(b));
  for (const auto& a : all_answer_tags(response)) {
    // An <answer> that only wraps a \boxed{} says the same thing once.
    const auto inner = all_boxes(a);
    finals.insert(without_spaces(inner.size() == 1 ? inner[0] : a));
  }
  if (finals.size() > 1) add(&out, "math", "multiple_final_answers");
  verifiers::math::ExtractOptions eo;  // the training defaults: tags, boxes, phrases
  const auto ex = verifiers::math::extract_answer(response, eo);
  if (!ex.found) return out;
  const std::string& a = ex.answer;
  const std::string lower = [&] {
    std::string l = a;
    for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return l;
  }();
  if (lower.find(" or ") != std::string::npos || lower.find("\\lor") != std::string::npos ||
      lower.find("\\text{or}") != std::string::npos || lower.find("\\text{ or }") != std::string::npos) {
    add(&out, "math", "answer_alternatives");
  }
  if (top_level_values(a) >= 3) add(&out, "math", "answer_lists_values");
  const std::string t = without_spaces(a);
  const bool square_interval = t.size() > 4 && (t.front() == '[' || t.back() == ']') && count(t, ",") == 1;
  if (t.find("\\infty") != std::string::npos || t.find("\\cup") != std::string::npos || square_interval) {
    add(&out, "math", "answer_interval");
  }
  return out;
}

std::vector<HackSign> format_hack_signs(const std::string& response) {
  std::vector<HackSign> out;
  auto only_space = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
      if (!std::isspace(static_cast<unsigned char>(response[i]))) return false;
    return true;
  };
  const size_t open = response.find("<think>"), close = response.find("</think>");
  if (close != std::string::npos &&
      (open != std::string::npos ? open < close && only_space(open + 7, close) : only_space(0, close))) {
    add(&out, "format", "empty_think");
  }
  if (count(response, "<think>") > 1 || count(response, "</think>") > 1)
    add(&out, "format", "duplicate_think");
  if (count(response, "<answer>") > 1) add(&out, "format", "duplicate_answer");
  return out;
}

std::vector<HackSign> repetition_signs(const std::string& response) {
  std::vector<HackSign> out;
  std::vector<std::string> words;
  for (size_t i = 0; i < response.size();) {
    while (i < response.size() && std::isspace(static_cast<unsigned char>(response[i]))) ++i;
    size_t j = i;
    while (j < response.size() && !std::isspace(static_cast<unsigned char>(response[j]))) ++j;
    if (j > i) words.push_back(response.substr(i, j - i));
    i = j;
  }
  const int n = kRepetitionNgram;
  const int total = static_cast<int>(words.size()) - n + 1;
  if (total >= kRepetitionMinNgrams) {
    std::unordered_set<std::string> distinct;
    for (int i = 0; i < total; ++i) {
      std::string g;
      for (int k = 0; k < n; ++k) g += words[static_cast<size_t>(i + k)] + '\x1f';
      distinct.insert(std::move(g));
    }
    if (2 * static_cast<int>(distinct.size()) < total) add(&out, "repetition", "repeated_ngrams");
  }
  for (int unit = 1; unit <= 16; ++unit) {
    int run = 0;
    for (size_t i = static_cast<size_t>(unit); i < response.size(); ++i) {
      run = response[i] == response[i - static_cast<size_t>(unit)] ? run + 1 : 0;
      if (run + unit >= kRepetitionMinRun) {
        add(&out, "repetition", "repeated_chars");
        return out;
      }
    }
  }
  return out;
}

std::vector<HackSign> hack_signs(const std::string& response, const std::string& verifier) {
  std::vector<HackSign> out;
  if (verifier == "code") {
    bool found = false;
    const std::string block = verifiers::extract_last_code_block(response, &found);
    out = code_hack_signs(found ? block : response);
  } else if (verifier == "math") {
    out = math_hack_signs(response);
  }
  for (auto& s : format_hack_signs(response)) out.push_back(std::move(s));
  for (auto& s : repetition_signs(response)) out.push_back(std::move(s));
  return out;
}

}  // namespace zerorl::rewards
