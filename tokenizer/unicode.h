// tokenizer/unicode.h: UTF-8 helpers the tokenizer needs: lossy repair (U+FFFD like Rust's
// String::from_utf8_lossy), complete-prefix scanning for streaming, NFC/NFD/NFKC/NFKD through utf8proc,
// the GPT-2 byte <-> printable-char table, and the White_Space / word-character predicates.
// Not here: regexes (pretokenizer.h), tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace zerorl::tokenizer {

// Length of the longest prefix of `s` that is valid UTF-8 (Unicode Table 3-7).
size_t utf8_valid_prefix(std::string_view s);

// Appends `s` to `out`, each maximal ill-formed subpart replaced by one U+FFFD (the Unicode
// "substitution of maximal subparts" practice that Rust's from_utf8_lossy follows).
// When `hold_incomplete_tail` is true, a trailing sequence that is a valid but unfinished prefix of a
// character is not emitted; the number of bytes consumed from `s` is returned either way.
size_t append_utf8_lossy(std::string_view s, std::string& out, bool hold_incomplete_tail = false);

inline std::string utf8_lossy(std::string_view s) {
  std::string out;
  append_utf8_lossy(s, out);
  return out;
}

// Decodes one code point from valid UTF-8 at s[i]; advances i.
char32_t utf8_next(std::string_view s, size_t& i);
void append_utf8(char32_t cp, std::string& out);

// True when NFC(s) == s is certain without running the normalizer: no code point of `s` has a nonzero
// combining class, a canonical decomposition, or can be the second half of a canonical composition.
// (Code points below U+0300 never are, lead bytes below 0xCC encode them.) Valid UTF-8 only.
bool is_nfc_quick(std::string_view s);

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };
// Normalizes valid UTF-8 through utf8proc; skipped for ASCII and, for NFC, when is_nfc_quick(s).
std::string normalize(std::string_view s, NormalForm form);

// Unicode White_Space (what Rust's regex `\s` matches).
bool is_white_space(char32_t c);
// Rust regex `\w`: Alphabetic, marks, decimal digits, connector punctuation, join controls.
bool is_word_char(char32_t c);

// GPT-2 byte-level table: every byte maps to one printable code point ('!'..'~', '¡'..'¬', '®'..'ÿ'
// map to themselves, the rest to U+0100 upwards in byte order).
char32_t byte_to_char(uint8_t b);
// The byte for a code point of that table, or -1 when the code point is not in it.
int char_to_byte(char32_t c);

}  // namespace zerorl::tokenizer
