// verifiers/language.cpp: language consistency by Unicode script (ICU's uscript/uchar), the neutral-region
// scanner and the verifier. Not here: reward weighting or sampling filters.
#include "verifiers/language.h"

#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

#include "core/error.h"

namespace zerorl::verifiers {
namespace {

struct LanguageScripts {
  const char* code;
  std::vector<UScriptCode> scripts;
};

const std::vector<LanguageScripts>& language_table() {
  static const std::vector<LanguageScripts> table = [] {
    std::vector<LanguageScripts> t;
    for (const char* c : {"en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "tr",
                          "vi", "id", "ms", "ro", "hu"})
      t.push_back({c, {USCRIPT_LATIN}});
    t.push_back({"zh", {USCRIPT_HAN}});
    t.push_back({"ja", {USCRIPT_HAN, USCRIPT_HIRAGANA, USCRIPT_KATAKANA}});
    t.push_back({"ko", {USCRIPT_HANGUL, USCRIPT_HAN}});
    for (const char* c : {"ru", "uk", "bg", "sr"}) t.push_back({c, {USCRIPT_CYRILLIC}});
    t.push_back({"el", {USCRIPT_GREEK}});
    for (const char* c : {"ar", "fa"}) t.push_back({c, {USCRIPT_ARABIC}});
    t.push_back({"he", {USCRIPT_HEBREW}});
    for (const char* c : {"hi", "mr"}) t.push_back({c, {USCRIPT_DEVANAGARI}});
    t.push_back({"th", {USCRIPT_THAI}});
    return t;
  }();
  return table;
}

std::string base_code(const std::string& language) {
  std::string c;
  for (char ch : language) {
    if (ch == '-' || ch == '_') break;
    c += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return c;
}

const std::vector<UScriptCode>& scripts_of(const std::string& language) {
  const std::string c = base_code(language);
  for (const auto& entry : language_table())
    if (c == entry.code) return entry.scripts;
  std::string known;
  for (const auto& entry : language_table()) known += std::string(known.empty() ? "" : " ") + entry.code;
  ZRL_FAIL("unknown language '{}' for language consistency (known: {})", language, known);
}

// Blanks `s` from `from` up to and including the closing `close` (or to the end); returns the next index.
size_t blank_until(std::string& s, size_t from, size_t open_len, const std::string& close) {
  const size_t end_at = s.find(close, from + open_len);
  const size_t stop = end_at == std::string::npos ? s.size() : end_at + close.size();
  std::fill(s.begin() + static_cast<std::ptrdiff_t>(from), s.begin() + static_cast<std::ptrdiff_t>(stop),
            ' ');
  return stop;
}

// Code, math and LaTeX commands -> spaces (they separate words but are none).
std::string blank_neutral(std::string_view text) {
  std::string s(text);
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 3, "```") == 0) {
      i = blank_until(s, i, 3, "```");
    } else if (s[i] == '`') {
      i = blank_until(s, i, 1, "`");
    } else if (s.compare(i, 2, "$$") == 0) {
      i = blank_until(s, i, 2, "$$");
    } else if (s[i] == '$') {
      i = blank_until(s, i, 1, "$");
    } else if (s.compare(i, 2, "\\(") == 0) {
      i = blank_until(s, i, 2, "\\)");
    } else if (s.compare(i, 2, "\\[") == 0) {
      i = blank_until(s, i, 2, "\\]");
    } else if (s[i] == '\\') {
      size_t j = i + 1;
      while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
      std::fill(s.begin() + static_cast<std::ptrdiff_t>(i), s.begin() + static_cast<std::ptrdiff_t>(j), ' ');
      i = std::max(j, i + 1);
    } else {
      ++i;
    }
  }
  return s;
}

bool is_letter(int8_t type) {
  return type == U_UPPERCASE_LETTER || type == U_LOWERCASE_LETTER || type == U_TITLECASE_LETTER ||
         type == U_MODIFIER_LETTER || type == U_OTHER_LETTER;
}
bool is_mark(int8_t type) {
  return type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK || type == U_COMBINING_SPACING_MARK;
}
bool one_char_words(UScriptCode s) {
  return s == USCRIPT_HAN || s == USCRIPT_HIRAGANA || s == USCRIPT_KATAKANA;
}

// Accumulates words into a LanguageCount.
class WordCounter {
 public:
  WordCounter(const std::vector<UScriptCode>& target, LanguageCount* out) : target_(target), out_(out) {}
  void letter(UScriptCode script) {
    if (one_char_words(script)) {
      close();
      add(script, 1);
      return;
    }
    if (open_ && script != script_) close();
    if (!open_) open_ = true, script_ = script, letters_ = 0;
    ++letters_;
  }
  void mark() {
    if (open_) ++letters_;  // a combining mark continues its word; alone it is neutral
  }
  void close() {
    if (open_) add(script_, letters_);
    open_ = false;
  }

 private:
  void add(UScriptCode script, int64_t letters) {
    if (script == USCRIPT_COMMON || script == USCRIPT_INHERITED) return;
    if (script == USCRIPT_LATIN && letters == 1) return;  // a variable, "a" or "I": neutral
    ++out_->words;
    ++out_->by_script[uscript_getShortName(script)];
    if (std::find(target_.begin(), target_.end(), script) != target_.end()) ++out_->target_words;
  }
  const std::vector<UScriptCode>& target_;
  LanguageCount* out_;
  bool open_ = false;
  UScriptCode script_ = USCRIPT_COMMON;
  int64_t letters_ = 0;
};

}  // namespace

void check_language(const std::string& language) { (void)scripts_of(language); }

std::string_view reasoning_span(std::string_view response, const std::string& think_tag) {
  const std::string open = "<" + think_tag + ">";
  const std::string close = "</" + think_tag + ">";
  const size_t end = response.find(close);
  if (end == std::string_view::npos) {
    const size_t o = response.find(open);
    return o == std::string_view::npos ? response : response.substr(o + open.size());
  }
  const size_t o = response.substr(0, end).rfind(open);
  const size_t begin = o == std::string_view::npos ? 0 : o + open.size();
  return response.substr(begin, end - begin);
}

LanguageCount count_language_words(std::string_view text, const std::string& language) {
  const std::vector<UScriptCode>& target = scripts_of(language);
  const std::string s = blank_neutral(text);
  LanguageCount count;
  WordCounter words(target, &count);
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const int32_t n = static_cast<int32_t>(std::min<size_t>(s.size(), INT32_MAX));
  for (int32_t i = 0; i < n;) {
    UChar32 c = 0;
    U8_NEXT(p, i, n, c);
    const int8_t type = c < 0 ? static_cast<int8_t>(U_UNASSIGNED) : u_charType(c);
    if (is_letter(type)) {
      UErrorCode err = U_ZERO_ERROR;
      const UScriptCode script = uscript_getScript(c, &err);
      words.letter(U_SUCCESS(err) ? script : USCRIPT_COMMON);
    } else if (is_mark(type)) {
      words.mark();
    } else {
      words.close();
    }
  }
  words.close();
  return count;
}

double language_consistency(std::string_view response, const std::string& language) {
  return count_language_words(reasoning_span(response), language).fraction();
}

LanguageOptions LanguageOptions::from_json(const Json& j) {
  LanguageOptions o;
  ZRL_CHECK(j.is_object(), "language_consistency verifier options must be a JSON object, got {}", j.dump());
  for (const auto& [key, value] : j.items()) {
    if (key == "language")
      o.language = value.get<std::string>();
    else if (key == "threshold")
      o.threshold = value.get<double>();
    else if (key == "think_tag")
      o.think_tag = value.get<std::string>();
    else
      ZRL_FAIL("unknown language_consistency option '{}' (language, threshold, think_tag)", key);
  }
  check_language(o.language);
  ZRL_CHECK(o.threshold >= 0 && o.threshold <= 1, "language_consistency threshold {} must be in [0, 1]",
            o.threshold);
  return o;
}

LanguageVerifier::LanguageVerifier(LanguageOptions options) : options_(std::move(options)) {
  check_language(options_.language);
}

Verdict LanguageVerifier::verify(const Sample& sample) const {
  Verdict v;
  std::string language = options_.language;
  const auto it = sample.extra.find("language");
  if (it != sample.extra.end() && it->is_string()) language = it->get<std::string>();
  try {
    check_language(language);
  } catch (const std::exception& e) {
    v.status = "error";
    v.reason = e.what();
    return v;
  }
  const LanguageCount c = count_language_words(reasoning_span(sample.response, options_.think_tag), language);
  v.reward = c.fraction();
  v.correct = v.reward >= options_.threshold;
  v.status = v.correct ? "ok" : "wrong";
  v.reason =
      std::to_string(c.target_words) + " of " + std::to_string(c.words) + " words in '" + language + "'";
  v.info = {
      {"words", c.words}, {"target_words", c.target_words}, {"language", language}, {"scripts", c.by_script}};
  return v;
}

}  // namespace zerorl::verifiers
