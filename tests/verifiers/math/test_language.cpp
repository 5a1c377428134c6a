// tests/verifiers/math/test_language.cpp: language consistency (verifiers/language.h) on hand-written
// English, Chinese, Japanese, Russian and mixed texts, each expected fraction counted by hand in a comment,
// and the `zerorl verify --verifier language_consistency` rows. Not here: the reward weighting (rewards/).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "verifiers/jsonl_verify.h"
#include "verifiers/language.h"

namespace zerorl::verifiers {
namespace {

// Fractions are ratios of small integers: compare with the ratio, exact up to one rounding.
void expect_count(const std::string& response, const std::string& lang, int64_t target, int64_t words) {
  const LanguageCount c = count_language_words(reasoning_span(response), lang);
  EXPECT_EQ(c.words, words) << response;
  EXPECT_EQ(c.target_words, target) << response;
  EXPECT_DOUBLE_EQ(language_consistency(response, lang),
                   words == 0 ? 1.0 : static_cast<double>(target) / static_cast<double>(words));
}

TEST(Language, English) {
  // Span "First, add 3 and 4 to get 7.": First add and to get = 5 Latin words; digits neutral.
  const std::string r = "<think>First, add 3 and 4 to get 7.</think><answer>7 is the answer</answer>";
  expect_count(r, "en", 5, 5);
  expect_count(r, "zh", 0, 5);
  expect_count(r, "en-US", 5, 5);
}

TEST(Language, Chinese) {
  // 我 们 先 把 和 相 加 得 到 = 9 Han words (one per character); 3 4 7 ， 。 neutral.
  const std::string r = "<think>我们先把3和4相加，得到7。</think><answer>7</answer>";
  expect_count(r, "zh", 9, 9);
  expect_count(r, "en", 0, 9);
  expect_count(r, "zh-CN", 9, 9);
}

TEST(Language, MixedChineseEnglishWithMath) {
  // Han: 首 先 的 值 答 案 是 = 7; Latin: compute, then = 2; "$x^2+1$" and "5" neutral. 9 words.
  const std::string r = "<think>首先 compute $x^2+1$ 的值, then 答案是 5</think>";
  expect_count(r, "zh", 7, 9);
  expect_count(r, "en", 2, 9);
}

TEST(Language, CodeMathAndLatexAreNeutral) {
  // Han: 用 代 码 算 = 4; the fenced block and inline `x` are neutral.
  expect_count("<think>用代码 ```python\nprint(total)\n``` 算 `x`</think>", "zh", 4, 4);
  // So, is, half = 3 (\frac and \( \sqrt{two} \) neutral; 12 digits).
  expect_count("So \\frac12 is half \\( \\sqrt{two} \\)", "en", 3, 3);
  // \[ display \] and $$ display $$ neutral; "Then" "done" = 2.
  expect_count("Then \\[ a+b \\] $$ c d $$ done", "en", 2, 2);
  // 设 为 = 2 Han words; the one-letter Latin variable x is neutral.
  expect_count("设 x 为 5", "zh", 2, 2);
  // An unclosed $ makes the rest neutral: only "cost" counts.
  expect_count("cost $5 and more", "en", 1, 1);
}

TEST(Language, NoWordsScoresOne) {
  expect_count("<think>2+2=4</think>", "en", 0, 0);
  expect_count("", "zh", 0, 0);
}

TEST(Language, JapaneseRussianAndMarks) {
  // こ れ は で す (Hiragana) + 本 (Han) = 6 one-character words; ja counts all, zh only 本.
  expect_count("これは本です", "ja", 6, 6);
  expect_count("これは本です", "zh", 1, 6);
  // Мы знаем (Cyrillic, 2) + that (Latin, 1).
  expect_count("Мы знаем that", "ru", 2, 3);
  // "cafe" + U+0301 (a combining mark continues the word) and "naïve": 2 words.
  expect_count("cafe\xCC\x81 na\xC3\xAFve", "fr", 2, 2);
}

TEST(Language, ReasoningSpan) {
  EXPECT_EQ(reasoning_span("<think>a b</think><answer>c</answer>"), "a b");
  EXPECT_EQ(reasoning_span("a b</think> c"), "a b");  // <think> opened in the prompt
  EXPECT_EQ(reasoning_span("x <think>a b"), "a b");   // unclosed: to the end
  EXPECT_EQ(reasoning_span("no tags"), "no tags");
}

TEST(Language, VerifierAndErrors) {
  LanguageVerifier v(LanguageOptions::from_json({{"language", "zh"}, {"threshold", 0.75}}));
  Verdict d = v.verify({"", "<think>首先 compute $x$ 的值, then 答案</think>", "", Json::object()});
  // Han 首 先 的 值 答 案 = 6, Latin compute then = 2: 6/8 = 0.75 >= threshold.
  EXPECT_DOUBLE_EQ(d.reward, 0.75);
  EXPECT_TRUE(d.correct);
  // A per-sample language overrides the option.
  // 首 先 的 值 = 4 Han, compute then = 2 Latin: 2/6 in English.
  d = v.verify({"", "<think>首先 compute 的值, then</think>", "", Json{{"language", "en"}}});
  EXPECT_DOUBLE_EQ(d.reward, 2.0 / 6.0);
  EXPECT_FALSE(d.correct);
  // An unknown per-sample language is a value, an unknown configured one an error naming it.
  d = v.verify({"", "abc", "", Json{{"language", "klingon"}}});
  EXPECT_EQ(d.status, "error");
  EXPECT_NE(d.reason.find("klingon"), std::string::npos);
  EXPECT_THROW(LanguageOptions::from_json({{"language", "xx"}}), Error);
  EXPECT_THROW(LanguageOptions::from_json({{"lang", "en"}}), Error);
}

TEST(Language, VerifyJsonlRows) {
  const std::string path = ::testing::TempDir() + "/lang.jsonl";
  std::ofstream(path) << "{\"response\": \"<think>We add them</think>\", \"language\": \"en\"}\n"
                         "{\"response\": \"<think>首先 compute 的值</think>\", \"language\": \"zh\"}\n"
                         "{\"response\": \"2+2\", \"language\": \"en\"}\n";
  std::ostringstream out;
  ASSERT_EQ(verify_jsonl("language_consistency", path, out, 2, 1.0), 0);
  std::istringstream in(out.str());
  std::vector<Json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(Json::parse(line));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_DOUBLE_EQ(rows[0]["reward"].get<double>(), 1.0);  // We add them: 3 of 3
  EXPECT_EQ(rows[0]["words"], 3);
  EXPECT_DOUBLE_EQ(rows[1]["reward"].get<double>(), 4.0 / 5.0);  // 首 先 的 值 of those + compute
  EXPECT_EQ(rows[1]["scripts"]["Latn"], 1);
  EXPECT_DOUBLE_EQ(rows[2]["reward"].get<double>(), 1.0);  // no words
  std::ofstream(path) << "{\"response\": \"x\"}\n";
  std::ostringstream ignored;
  EXPECT_THROW(verify_jsonl("language_consistency", path, ignored, 1, 1.0), Error);  // no "language"
}

}  // namespace
}  // namespace zerorl::verifiers
