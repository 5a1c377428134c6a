// verifiers/math_extract.cpp: answer extraction from responses (tags, boxes, phrases, GSM8K markers).
// Not here: normalization or comparison of the extracted answer.
#include "verifiers/math_extract.h"

#include <cctype>
#include <cstring>

namespace zerorl::verifiers::math {
namespace {

struct Box {
  size_t begin, end;  // of the whole \boxed{...}
  std::string content;
};

// All \boxed{...}/\fbox{...} in order; "\boxed 5" takes one token.
std::vector<Box> find_boxes(const std::string& s) {
  std::vector<Box> out;
  size_t p = 0;
  while (p < s.size()) {
    size_t a = s.find("\\boxed", p), b = s.find("\\fbox", p);
    size_t at = std::min(a, b);
    if (at == std::string::npos) break;
    size_t q = at + (at == a ? 6 : 5);
    while (q < s.size() && s[q] == ' ') ++q;
    if (q < s.size() && s[q] == '{') {
      int depth = 0;
      size_t r = q;
      for (; r < s.size(); ++r) {
        if (s[r] == '\\' && r + 1 < s.size()) {
          ++r;
          continue;
        }
        if (s[r] == '{') ++depth;
        if (s[r] == '}' && --depth == 0) break;
      }
      if (r >= s.size()) break;  // unclosed box: ignore it and the rest
      out.push_back({at, r + 1, s.substr(q + 1, r - q - 1)});
      p = r + 1;
    } else {
      size_t r = q;
      while (r < s.size() && !std::isspace(static_cast<unsigned char>(s[r])) && s[r] != '$') ++r;
      if (r > q) out.push_back({at, r, s.substr(q, r - q)});
      p = r > q ? r : q + 1;
    }
  }
  return out;
}

// Words in a separator between two boxes, ignoring LaTeX commands, braces and punctuation.
int separator_words(const std::string& sep) {
  int words = 0;
  bool in_word = false;
  for (size_t i = 0; i < sep.size(); ++i) {
    char c = sep[i];
    if (c == '\\') {  // skip the command name
      while (i + 1 < sep.size() && std::isalpha(static_cast<unsigned char>(sep[i + 1]))) ++i;
      in_word = false;
      continue;
    }
    bool alnum = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '(' || c == ')';
    if (alnum && !in_word) ++words;
    in_word = alnum;
  }
  return words;
}

std::string strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(const std::string& s) {
  std::string o = s;
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string answer_tag(const std::string& s, size_t* pos) {
  size_t open = s.rfind("<answer>");
  if (open == std::string::npos) return "";
  size_t close = s.find("</answer>", open);
  if (close == std::string::npos) return "";
  *pos = open;
  return strip(s.substr(open + 8, close - open - 8));
}

struct Block {
  size_t begin, end;
  std::string content;
};
// Math blocks $...$, $$...$$, \(...\), \[...\] in order.
std::vector<Block> math_blocks(const std::string& s) {
  std::vector<Block> out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '$' && (i == 0 || s[i - 1] != '\\')) {
      bool dbl = i + 1 < s.size() && s[i + 1] == '$';
      size_t start = i + (dbl ? 2 : 1);
      size_t j = start;
      while (j < s.size() && !(s[j] == '$' && s[j - 1] != '\\') && (dbl || s[j] != '\n')) ++j;
      if (j >= s.size()) break;
      if (s[j] == '\n') {  // inline $...$ never spans a line break (an unpaired currency sign)
        i = j;
        continue;
      }
      out.push_back({i, j + (dbl ? 2 : 1), strip(s.substr(start, j - start))});
      i = j + (dbl ? 2 : 1);
    } else if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '(' || s[i + 1] == '[')) {
      const char* closer = s[i + 1] == '(' ? "\\)" : "\\]";
      size_t j = s.find(closer, i + 2);
      if (j == std::string::npos) break;
      if (s[i + 1] == '(' && s.find('\n', i) < j) {
        i += 2;
        continue;
      }
      out.push_back({i, j + 2, strip(s.substr(i + 2, j - i - 2))});
      i = j + 2;
    } else {
      ++i;
    }
  }
  return out;
}

bool only_connectors(const std::string& sep) {
  std::string w;
  for (size_t i = 0; i <= sep.size(); ++i) {
    char c = i < sep.size() ? sep[i] : ' ';
    if (std::isalpha(static_cast<unsigned char>(c))) {
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      continue;
    }
    if (!w.empty() && w != "and" && w != "or") return false;
    w.clear();
    if (!std::isspace(static_cast<unsigned char>(c)) && c != ',' && c != ';') return false;
  }
  return true;
}

// The last math block; blocks joined only by "and"/"or"/commas form one list answer.
std::string last_math_block(const std::string& s, size_t* pos = nullptr, size_t* end = nullptr) {
  std::vector<Block> b = math_blocks(s);
  if (b.empty()) return "";
  size_t first = b.size() - 1;
  while (first > 0 && only_connectors(s.substr(b[first - 1].end, b[first].begin - b[first - 1].end))) --first;
  std::string out;
  for (size_t i = first; i < b.size(); ++i) out += (i > first ? "," : "") + b[i].content;
  if (pos != nullptr) *pos = b[first].begin;
  if (end != nullptr) *end = b.back().end;
  return out;
}

// Last number-like token: optional sign, digits with , . / separators ("1,000.5", "2/3", "-4").
std::string last_number(const std::string& s, size_t* pos = nullptr) {
  auto digit = [&](size_t k) { return std::isdigit(static_cast<unsigned char>(s[k])) != 0; };
  size_t i = s.size();
  while (i > 0) {
    --i;
    if (!digit(i)) continue;
    size_t e = i + 1, b = i;
    while (b > 0 && (digit(b - 1) ||
                     ((s[b - 1] == ',' || s[b - 1] == '.' || s[b - 1] == '/') && b >= 2 && digit(b - 2))))
      --b;
    if (b > 0 && s[b - 1] == '.') --b;
    if (b > 0 && s[b - 1] == '-') --b;
    if (b > 0 && std::isalpha(static_cast<unsigned char>(s[b - 1]))) {  // "AZYUK2A" holds no number
      i = b;
      continue;
    }
    if (pos != nullptr) *pos = b;
    return s.substr(b, e - b);
  }
  return "";
}

// Prose has a plain word of 4+ letters or two of 3 (not macro names or braced): "x = 1, y = 2" has none.
bool looks_like_prose(const std::string& s) {
  int words = 0;
  for (size_t i = 0; i < s.size();) {
    if (!std::isalpha(static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    bool macro = i > 0 && s[i - 1] == '\\';
    bool braced = i > 0 && s[i - 1] == '{';
    if (!macro && !braced && j - i >= 3) words += j - i >= 4 ? 2 : 1;
    i = j;
  }
  return words >= 2;
}

// "The final answer is X. I hope it is correct." -> X (its math block when it has one).
std::string phrase_answer(const std::string& s, size_t* pos) {
  std::string l = lower(s);
  size_t best = std::string::npos, len = 0;
  for (const char* ph : {"final answer is", "the answer is", "final answer:", "answer is:"}) {
    size_t p = l.rfind(ph);
    if (p != std::string::npos && (best == std::string::npos || p > best)) {
      best = p;
      len = std::strlen(ph);
    }
  }
  if (best == std::string::npos) return "";
  *pos = best;
  std::string tail = s.substr(best + len);
  size_t nl = tail.find('\n');
  if (nl != std::string::npos && nl > 0) tail = tail.substr(0, nl);
  // Up to the end of the sentence (". " outside math, or end).
  std::vector<Block> blocks = math_blocks(tail);
  size_t stop = 0;
  for (;;) {
    stop = tail.find(". ", stop);
    bool inside = false;
    for (const auto& b : blocks) inside = inside || (stop >= b.begin && stop < b.end);
    if (stop == std::string::npos || !inside) break;
    ++stop;
  }
  if (stop != std::string::npos) tail = tail.substr(0, stop);
  size_t block_pos = 0, block_end = 0, number_pos = 0;
  std::string block = last_math_block(tail, &block_pos, &block_end);
  std::string number = last_number(tail, &number_pos);
  // "The volume of $ABCD$ is 120": a number after the last block is the answer.
  if (!block.empty() && (number.empty() || number_pos < block_end)) return block;
  if (!number.empty() && looks_like_prose(tail)) return number;
  tail = strip(tail);
  while (!tail.empty() && (tail.back() == '.' || tail.back() == ':')) tail.pop_back();
  if (!tail.empty() && tail[0] == ':') tail = strip(tail.substr(1));
  return tail;
}

std::string gsm8k_answer(const std::string& s, size_t* pos) {
  size_t p = s.rfind("####");
  if (p == std::string::npos) return "";
  *pos = p;
  std::string tail = s.substr(p + 4);
  size_t nl = tail.find('\n');
  if (nl != std::string::npos) tail = tail.substr(0, nl);
  return strip(tail);
}

}  // namespace

std::string last_boxed(const std::string& text) {
  std::vector<Box> boxes = find_boxes(text);
  if (boxes.empty()) return "";
  size_t first = boxes.size() - 1;
  while (first > 0) {
    const std::string sep = text.substr(boxes[first - 1].end, boxes[first].begin - boxes[first - 1].end);
    if (sep.size() > 60 || separator_words(sep) > 4) break;
    --first;
  }
  std::string out;
  for (size_t i = first; i < boxes.size(); ++i) {
    if (i > first) out += ",";
    out += boxes[i].content;
  }
  return strip(out);
}

std::string unwrap_pred(const std::string& pred) {
  std::string b = last_boxed(pred);
  return b.empty() ? pred : b;
}

Extraction extract_answer(const std::string& response, const ExtractOptions& options) {
  Extraction ex;
  std::string text = response;
  size_t cut = std::string::npos, cut_len = 0;
  for (const auto& tag : options.think_close_tags) {
    size_t p = text.rfind(tag);
    if (p != std::string::npos && (cut == std::string::npos || p > cut)) {
      cut = p;
      cut_len = tag.size();
    }
  }
  if (cut != std::string::npos) {
    text = text.substr(cut + cut_len);
  } else if (options.require_think_close) {
    return ex;
  }
  size_t best_pos = 0;
  for (const auto& method : options.priority) {
    std::string a;
    size_t pos = 0;
    if (method == "answer_tag") {
      a = answer_tag(text, &pos);
      std::string inner = last_boxed(a);
      if (!inner.empty()) a = inner;
    } else if (method == "boxed") {
      a = last_boxed(text);
      if (!a.empty())
        pos = text.rfind("\\boxed") == std::string::npos ? text.rfind("\\fbox") : text.rfind("\\boxed");
    } else if (method == "phrase") {
      a = phrase_answer(text, &pos);
    } else if (method == "gsm8k") {
      a = gsm8k_answer(text, &pos);
    }
    if (a.empty() || (ex.found && (!options.prefer_last || pos <= best_pos))) continue;
    ex.found = true;
    ex.answer = a;
    ex.method = method;
    best_pos = pos;
    if (!options.prefer_last) return ex;
  }
  if (ex.found || !options.fallback) return ex;
  size_t block_pos = 0, block_end = 0, number_pos = 0;
  std::string block = last_math_block(text, &block_pos, &block_end);
  bool prose = looks_like_prose(text);
  std::string number = prose && options.number_fallback ? last_number(text, &number_pos) : "";
  if (!block.empty() && (number.empty() || number_pos < block_end)) {
    ex.answer = block;
    ex.method = "math_block";
  } else if (!prose) {
    ex.answer = strip(text);
    ex.method = "whole";
  } else if (!number.empty()) {
    ex.answer = number;
    ex.method = "last_number";
  } else if (text.size() <= 200) {
    ex.answer = strip(text);
    ex.method = "whole";
  }
  ex.found = !ex.answer.empty();
  return ex;
}

}  // namespace zerorl::verifiers::math
