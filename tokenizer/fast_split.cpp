// tokenizer/fast_split.cpp: the GPT-4-style pattern as code. The pattern's alternatives, tried in order at
// each position as a backtracking engine does:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,D} | ?[^\s\p{L}\p{N}]+[\r\n]*
//   | \s*[\r\n]+ | \s+(?!\S) | \s+
// Classes: \p{L}/\p{N} by general category (utf8proc), \s = Unicode White_Space (as Oniguruma, which HF
// uses). Not here: any other pattern (PCRE2 runs those).
#include "tokenizer/fast_split.h"

#include <utf8proc.h>

#include "tokenizer/unicode.h"

namespace zerorl::tokenizer {
namespace {

const char* kQwenPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* kLlamaPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

enum : uint8_t { kLetter = 1, kNumber = 2, kSpace = 4, kCrLf = 8 };

uint8_t classify_slow(char32_t c) {
  switch (c) {  // \s as Oniguruma (Hugging Face) has it: Unicode White_Space
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return c == 0x0A || c == 0x0D ? kSpace | kCrLf : kSpace;
    default:
      break;
  }
  if (c >= 0x2000 && c <= 0x200A) return kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return kNumber;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return kSpace;
    default:
      return 0;
  }
}

struct AsciiClasses {
  uint8_t cls[128];
  AsciiClasses() {
    for (char32_t c = 0; c < 128; ++c) cls[c] = classify_slow(c);
  }
};

// Class of the code point at s[i]; sets `len` to its UTF-8 length.
inline uint8_t class_at(std::string_view s, size_t i, size_t& len) {
  static const AsciiClasses ascii;
  uint8_t b = static_cast<uint8_t>(s[i]);
  if (b < 0x80) {
    len = 1;
    return ascii.cls[b];
  }
  size_t j = i;
  char32_t c = utf8_next(s, j);
  len = j - i;
  return classify_slow(c);
}

inline size_t run_of(std::string_view s, size_t i, uint8_t mask, bool want) {
  size_t len;
  while (i < s.size() && ((class_at(s, i, len) & mask) != 0) == want) i += len;
  return i;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at s[i] == '\'': the match length, or 0.
size_t contraction(std::string_view s, size_t i) {
  if (i + 1 >= s.size()) return 0;
  char c = static_cast<char>(s[i + 1] | 0x20);
  if (c == 's' || c == 't' || c == 'm' || c == 'd') {
    if (static_cast<uint8_t>(s[i + 1]) < 0x80) return 2;
  }
  if (s.compare(i + 1, 2, "\xC5\xBF") == 0) return 3;  // U+017F LATIN SMALL LETTER LONG S folds to 's'
  if (i + 2 >= s.size() || static_cast<uint8_t>(s[i + 1]) >= 0x80) return 0;
  char d = static_cast<char>(s[i + 2] | 0x20);
  if (((c == 'r' || c == 'v') && d == 'e') || (c == 'l' && d == 'l')) return 3;
  return 0;
}

}  // namespace

std::unique_ptr<FastSplitter> FastSplitter::for_pattern(const std::string& pattern) {
  if (pattern == kQwenPattern) return std::unique_ptr<FastSplitter>(new FastSplitter(1));
  if (pattern == kLlamaPattern) return std::unique_ptr<FastSplitter>(new FastSplitter(3));
  return nullptr;
}

size_t FastSplitter::match_at(std::string_view s, size_t i) const {
  size_t len0, len1 = 0;
  uint8_t c0 = class_at(s, i, len0);
  if (s[i] == '\'') {
    if (size_t n = contraction(s, i)) return i + n;
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!(c0 & (kCrLf | kLetter | kNumber)) && i + len0 < s.size() && (class_at(s, i + len0, len1) & kLetter))
    return run_of(s, i + len0, kLetter, true);
  if (c0 & kLetter) return run_of(s, i, kLetter, true);
  if (c0 & kNumber) {  // \p{N}{1,D}
    size_t j = i, len;
    for (int k = 0; k < max_digits_ && j < s.size() && (class_at(s, j, len) & kNumber); ++k) j += len;
    return j;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  const uint8_t word_or_space = kSpace | kLetter | kNumber;
  size_t start = i;
  if (s[i] == ' ' && i + 1 < s.size() && !(class_at(s, i + 1, len1) & word_or_space)) start = i + 1;
  if (start > i || !(c0 & word_or_space)) {
    size_t j = run_of(s, start, word_or_space, false);
    return run_of(s, j, kCrLf, true);
  }
  // c0 is whitespace. \s*[\r\n]+ : up to the last CR/LF of the whitespace run.
  size_t end = i, last_crlf = std::string_view::npos, len;
  while (end < s.size()) {
    uint8_t c = class_at(s, end, len);
    if (!(c & kSpace)) break;
    if (c & kCrLf) last_crlf = end;
    end += len;
  }
  if (last_crlf != std::string_view::npos) return last_crlf + 1;
  // \s+(?!\S) : the run minus its last character unless the run ends the text; else \s+.
  if (end == s.size()) return end;
  size_t last = end - 1;
  while ((static_cast<uint8_t>(s[last]) & 0xC0) == 0x80) --last;
  return last > i ? last : end;
}

void FastSplitter::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
  for (size_t i = 0; i < s.size();) {
    size_t end = match_at(s, i);
    out.emplace_back(i, end);
    i = end;
  }
}

}  // namespace zerorl::tokenizer
