// verifiers/language.h: DeepSeek-R1's language-consistency measure (the proportion of target-language words
// in the chain of thought, R1 paper sec. 2.3.3), by Unicode script (ICU), and its Verifier. Not here: how
// the reward layer weights it (rewards/reward.h), sampling filters (trainer/sample.*).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "verifiers/verifier.h"

namespace zerorl::verifiers {

// How words are counted (docs/design.md "Language consistency" says the same):
// - Scored span: the reasoning, i.e. the text before the first "</think>" (after a "<think>" before it, if
//   any); an opened but unclosed <think>: everything after it; no tags: the whole response.
// - Neutral, removed before counting: fenced code (``` ... ```), inline code (` ... `), math ($...$,
//   $$...$$, \(...\), \[...\]) and LaTeX commands (\frac, \cdot) outside them. An unclosed delimiter
//   makes the rest of the span neutral.
// - A word is a maximal run of letters (Unicode category L*, combining marks M* continue it) of one script.
//   Han, Hiragana and Katakana are written without spaces: each such character is one word.
// - Neutral, never words: digits, punctuation, symbols (math operators), whitespace, letters of the
//   Common/Inherited scripts, and one-letter Latin words (math variables such as "x" in Chinese prose; in
//   English this drops "a" and "I", which leaves an all-English text at 1).
// - fraction = target-script words / words; a span with no words scores 1 (nothing in another language).
struct LanguageCount {
  int64_t words = 0;
  int64_t target_words = 0;
  std::map<std::string, int64_t> by_script;  // ICU short script name ("Latn", "Hani", ...) -> words
  double fraction() const {
    return words == 0 ? 1.0 : static_cast<double>(target_words) / static_cast<double>(words);
  }
};

// Known codes (case-insensitive, a region suffix "zh-CN"/"en_US" is ignored): en fr de es it pt nl sv da
// no fi pl cs tr vi id ms ro hu (Latin), zh (Han), ja (Han, Hiragana, Katakana), ko (Hangul, Han), ru uk bg
// sr (Cyrillic), el (Greek), ar fa (Arabic), he (Hebrew), hi mr (Devanagari), th (Thai). Throws otherwise,
// listing them.
void check_language(const std::string& language);

// The reasoning span of a response, as described above; `think_tag` without brackets.
std::string_view reasoning_span(std::string_view response, const std::string& think_tag = "think");

// Counts the words of `text` (already the span to score; invalid UTF-8 bytes are neutral).
LanguageCount count_language_words(std::string_view text, const std::string& language);

// fraction() of count_language_words(reasoning_span(response), language).
double language_consistency(std::string_view response, const std::string& language);

struct LanguageOptions {
  std::string language = "en";  // default target; a sample's extra["language"] overrides it
  double threshold = 1.0;       // verdict.correct when fraction >= threshold
  std::string think_tag = "think";
  static LanguageOptions from_json(const Json& j);  // keys as the fields; unknown keys throw
};

// Verdict: reward = fraction, correct = fraction >= threshold, status "ok"/"wrong" ("error" for an unknown
// per-sample language), info {words, target_words, language, scripts}.
class LanguageVerifier : public Verifier {
 public:
  explicit LanguageVerifier(LanguageOptions options = {});
  std::string name() const override { return "language_consistency"; }
  Verdict verify(const Sample& sample) const override;

 private:
  LanguageOptions options_;
};

}  // namespace zerorl::verifiers
