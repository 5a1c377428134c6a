// tokenizer/unicode.cpp: UTF-8 validation/repair, normalization via utf8proc, byte-level table.
// Not here: regex matching. The UTF-8 rules are the short table of Unicode ch. 3 (no package exposes
// maximal-subpart replacement), Unicode data itself comes from utf8proc.
#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>
#include <cstdlib>
#include <vector>

#include "core/error.h"

namespace zerorl::tokenizer {
namespace {

// Expected length of a sequence starting with `b` (0 = invalid lead) and the allowed range of the
// second byte (Unicode Table 3-7).
struct Lead {
  int len;
  uint8_t lo, hi;
};
Lead lead_of(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Valid bytes of the sequence starting at s[i] (1..len), and whether it is complete.
int scan_sequence(std::string_view s, size_t i, bool& complete) {
  Lead lead = lead_of(static_cast<uint8_t>(s[i]));
  complete = false;
  if (lead.len == 0) return 0;
  if (lead.len == 1) {
    complete = true;
    return 1;
  }
  int n = 1;
  for (; n < lead.len && i + n < s.size(); ++n) {
    uint8_t c = static_cast<uint8_t>(s[i + n]);
    uint8_t lo = n == 1 ? lead.lo : 0x80, hi = n == 1 ? lead.hi : 0xBF;
    if (c < lo || c > hi) return n;
  }
  complete = n == lead.len;
  return n;
}

const std::array<int32_t, 256>& byte_table() {
  static const std::array<int32_t, 256> table = [] {
    std::array<int32_t, 256> t{};
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? b : next++;
    }
    return t;
  }();
  return table;
}

// Code points that may change under NFC or change their neighbours: a nonzero combining class, a
// canonical decomposition, or being the second element of a canonical composition (the last code point
// of a composite's full decomposition, and the Hangul V/T jamo). Derived from utf8proc's data once.
const std::vector<bool>& nfc_unsafe() {
  static const std::vector<bool> table = [] {
    std::vector<bool> t(0x110000, false);
    utf8proc_int32_t buf[32];
    for (utf8proc_int32_t c = 0x300; c < 0x110000; ++c) {
      if (c >= 0xD800 && c < 0xE000) continue;
      const utf8proc_property_t* p = utf8proc_get_property(c);
      if (p->combining_class != 0) t[c] = true;
      int last_bound = 0;
      utf8proc_ssize_t n = utf8proc_decompose_char(c, buf, 32, UTF8PROC_DECOMPOSE, &last_bound);
      if (n != 1 || buf[0] != c) {
        t[c] = true;
        if (n >= 2) t[buf[n - 1]] = true;
      }
    }
    // Precomposed Hangul syllables are NFC; only V/T jamo after them change anything.
    for (char32_t c = 0xAC00; c <= 0xD7A3; ++c) t[c] = false;
    for (char32_t c = 0x1160; c <= 0x11FF; ++c) t[c] = true;
    return t;
  }();
  return table;
}

}  // namespace

bool is_nfc_quick(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0xCC) {
      ++i;
      continue;
    }
    if (nfc_unsafe()[utf8_next(s, i)]) return false;
  }
  return true;
}

size_t utf8_valid_prefix(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    bool complete;
    int n = scan_sequence(s, i, complete);
    if (!complete) return i;
    i += n;
  }
  return i;
}

size_t append_utf8_lossy(std::string_view s, std::string& out, bool hold_incomplete_tail) {
  size_t i = 0;
  while (i < s.size()) {
    size_t run = i;
    while (run < s.size() && static_cast<uint8_t>(s[run]) < 0x80) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    bool complete;
    int n = scan_sequence(s, i, complete);
    if (complete) {
      out.append(s.data() + i, n);
      i += n;
    } else if (hold_incomplete_tail && n > 0 && i + n == s.size()) {
      return i;  // may still be completed by later bytes
    } else {
      out.append("\xEF\xBF\xBD");
      i += n > 0 ? n : 1;
    }
  }
  return i;
}

char32_t utf8_next(std::string_view s, size_t& i) {
  uint8_t b = static_cast<uint8_t>(s[i]);
  if (b < 0x80) {
    ++i;
    return b;
  }
  int len = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  char32_t cp = b & (0x3F >> (len - 1));
  for (int k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string normalize(std::string_view s, NormalForm form) {
  if (form == NormalForm::kNfc && is_nfc_quick(s)) return std::string(s);
  bool ascii = true;  // every normal form leaves ASCII alone
  for (char c : s) ascii = ascii && static_cast<uint8_t>(c) < 0x80;
  if (ascii) return std::string(s);
  int options = UTF8PROC_STABLE;
  if (form == NormalForm::kNfc) options |= UTF8PROC_COMPOSE;
  if (form == NormalForm::kNfd) options |= UTF8PROC_DECOMPOSE;
  if (form == NormalForm::kNfkc) options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  if (form == NormalForm::kNfkd) options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  utf8proc_uint8_t* result = nullptr;
  utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                   static_cast<utf8proc_ssize_t>(s.size()), &result, static_cast<utf8proc_option_t>(options));
  ZRL_CHECK(n >= 0, "utf8proc normalization failed: {}", utf8proc_errmsg(n));
  std::string out(reinterpret_cast<char*>(result), static_cast<size_t>(n));
  std::free(result);
  return out;
}

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (c == 0x200C || c == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

char32_t byte_to_char(uint8_t b) { return static_cast<char32_t>(byte_table()[b]); }

int char_to_byte(char32_t c) {
  static const std::array<int16_t, 324> inverse = [] {
    std::array<int16_t, 324> t;
    t.fill(-1);
    for (int b = 0; b < 256; ++b) t[byte_table()[b]] = static_cast<int16_t>(b);
    return t;
  }();
  return c < inverse.size() ? inverse[c] : -1;
}

}  // namespace zerorl::tokenizer
