// tests/verifiers/math/test_math_verifier.cpp: hand-checked tables for math extraction and equivalence,
// adversarial inputs with time bounds, and the real datasets' gold answers. Not here: graders' cases.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/json_io.h"
#include "tests/test_paths.h"
#include "verifiers/math_equiv.h"
#include "verifiers/math_extract.h"
#include "verifiers/math_verifier.h"

namespace zerorl::verifiers {
namespace {

struct Pair {
  const char* gold;
  const char* pred;
  bool equal;
};

// Verdicts judged by hand (a competition grader's view), none taken from the shared cases file.
const Pair kPairs[] = {
    {"42", "42", true},
    {"42", "042", true},
    {"\\frac{3}{4}", "0.75", true},
    {"\\frac{3}{4}", "3/4", true},
    {"\\frac{3}{4}", "\\dfrac34", true},
    {"\\frac{3}{4}", "75\\%", true},
    {"2\\sqrt{2}", "\\sqrt{8}", true},
    {"2\\sqrt{2}", "\\sqrt[3]{8}", false},
    {"\\sqrt[3]{-27}", "-3", true},
    {"2^{100}", "1267650600228229401496703205376", true},
    {"2^{100}", "1267650600228229401496703205377", false},
    {"10^{30}+1", "10^{30}", false},
    {"\\frac{1}{3^{50}}", "\\frac{1}{3^{49}}", false},
    {"100!", "100 \\cdot 99!", true},
    {"\\binom{10}{3}", "120", true},
    {"3.5 \\times 10^{4}", "35000", true},
    {"1.2e-3", "0.0012", true},
    {"\\pi/2", "90^\\circ", false},
    {"\\frac{\\pi}{3}", "\\frac{2\\pi}{6}", true},
    {"e^{i\\pi}", "-1", true},
    {"(1+i)^2", "2i", true},
    {"\\infty", "\\infty", true},
    {"-\\infty", "\\infty", false},
    {"x^2-1", "(x-1)(x+1)", true},
    {"x^2-1", "(x-1)^2", false},
    {"\\frac{a+b}{2}", "\\frac{b}{2}+\\frac{a}{2}", true},
    {"\\sin^2 x + \\cos^2 x", "1", true},
    {"\\log_2 8", "3", true},
    {"\\{1, 2, 3\\}", "\\{3, 2, 1\\}", true},
    {"\\{1, 2, 3\\}", "\\{1, 2\\}", false},
    {"(1, 2)", "(2, 1)", false},
    {"(1, 2)", "\\left(1,2\\right)", true},
    {"[1, 5)", "[1,5)", true},
    {"[1, 5)", "[1,5]", false},
    {"(-\\infty, 3] \\cup (5, \\infty)", "(5,\\infty)\\cup(-\\infty,3]", true},
    {"\\begin{pmatrix} 1 \\\\ -2 \\end{pmatrix}", "\\begin{bmatrix} 1 \\\\ -2 \\end{bmatrix}", true},
    {"\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{pmatrix} 2 & 1 \\end{pmatrix}", false},
    {"x = 4", "4", true},
    {"4", "y = 4", true},
    {"x + y = 4", "4", false},
    {"y = 2x + 1", "2x - y + 1 = 0", true},
    {"x > 2", "(2, \\infty)", true},
    {"x \\ge 2", "(2, \\infty)", false},
    {"\\text{(B)}", "B", true},
    {"\\text{(B)}", "C", false},
    {"\\text{Tuesday}", "tuesday", true},
    {"1,080", "1080", true},
    {"\\$18.90", "18.9", true},
    {"12 \\text{ cm}^2", "12", true},
    {"5\\%", "5", true},
    {"1 \\pm \\sqrt{2}", "1+\\sqrt2, 1-\\sqrt2", true},
    {"1 \\pm \\sqrt{2}", "1+\\sqrt2", false},
    {"\\frac{1}{3}", "0.33", false},
    {"\\frac{1}{3}", "0.333333", true},
    {"3.14", "\\pi", false},
    {"0.5", "\\frac{1}{2}", true},
    {"101_2", "5", false},
    {"\\textbf{(C) }17", "C", true},
    {"\\textbf{(C) }17", "17", true},
    {"\\textbf{(C) }17", "(D) 17", false},
    {"0.1\\overline{6}", "\\frac16", true},
    {"6\\sqrt{3}",
     "6\xE2\x88\x9A"
     "3",
     true},
    {"\\frac{2}{3}", "0.67", false},
    {"42", "41.9999", false},
    {"2\\pi", "6.283", true},
};

TEST(MathEquivalence, HandCheckedTable) {
  math::CompareOptions o;
  for (const Pair& p : kPairs) {
    math::CompareResult r = math::compare_answers(p.gold, p.pred, o);
    EXPECT_EQ(r.equal, p.equal) << p.gold << " vs " << p.pred << ": " << r.reason;
  }
}

TEST(MathExtraction, Table) {
  math::ExtractOptions train;
  struct Row {
    const char* response;
    const char* answer;
  } rows[] = {
      {"so x = \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"},
      {"first \\boxed{1}, but rechecking the last step gives \\boxed{\\{1, \\{2\\}\\}}", "\\{1, \\{2\\}\\}"},
      {"\\boxed{1} and \\boxed{2}", "1,2"},
      {"\\fbox{7}", "7"},
      {"<think>maybe \\boxed{3}</think><answer>5</answer>", "5"},
      {"The final answer is $12$. I hope it is correct.", "12"},
      {"Natalia sold 48/2 = 24 clips.\n#### 72", "72"},
      {"I think it is 17 or 18.", ""},  // no number fallback in training mode
  };
  for (const auto& r : rows) {
    math::Extraction e = math::extract_answer(r.response, train);
    EXPECT_EQ(e.answer, r.answer) << r.response;
  }
  math::ExtractOptions r1;
  r1.require_think_close = true;
  EXPECT_FALSE(math::extract_answer("<think>\\boxed{3}", r1).found);
  EXPECT_EQ(math::extract_answer("<think>\\boxed{3}</think> <answer>4</answer>", r1).answer, "4");
  EXPECT_EQ(gold_answer("Natalia sold ... #### 1,080"), "1,080");
  EXPECT_EQ(gold_answer("so the answer is $\\boxed{\\frac{1}{2}}$."), "\\frac{1}{2}");
}

TEST(MathVerifier, VerdictFields) {
  MathVerifier v;
  Sample s;
  s.gold = "#### 72";
  s.response = "... so she sold \\boxed{72} clips.";
  Verdict d = v.verify(s);
  EXPECT_TRUE(d.correct);
  EXPECT_EQ(d.status, "ok");
  EXPECT_EQ(d.extracted, "72");
  s.response = "no answer here 72";
  EXPECT_EQ(v.verify(s).status, "no_answer");
  s.extra["pred"] = "$\\boxed{72}$";
  EXPECT_EQ(v.verify(s).status, "no_answer");  // a response is present: it is what gets scored
  s.response.clear();
  EXPECT_TRUE(v.verify(s).correct);  // no response: the pre-extracted answer (zerorl verify input)
}

double millis_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

#if defined(__SANITIZE_ADDRESS__)
constexpr double kLimitMs = 500;  // ASan/UBSan Debug builds run ~5-10x slower
#else
constexpr double kLimitMs = 100;
#endif

TEST(MathEquivalence, AdversarialInputsAreBoundedAndWrong) {
  std::string deep(5000, '(');
  deep += "1" + std::string(5000, ')');
  std::string long_sum;
  for (int i = 0; i < 1500; ++i) long_sum += "1+";
  long_sum += "1";
  const std::string cases[] = {"9^{9^{9^9}}",
                               "2^{10^{10}}",
                               "10^{-10^{10}}",
                               "100000!",
                               "(10^{5000})!",
                               deep,
                               long_sum,
                               "\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{2}}}}}^{10^{9}}",
                               "\\frac{1}{0}",
                               "0^{-1}",
                               "\\log 0",
                               "1e99999999",
                               std::string(20000, '9')};
  math::CompareOptions o;
  for (const std::string& c : cases) {
    auto t = std::chrono::steady_clock::now();
    math::CompareResult r = math::compare_answers("7", c, o);
    EXPECT_FALSE(r.equal) << c.substr(0, 40);
    EXPECT_LT(millis_since(t), kLimitMs) << c.substr(0, 40);
    t = std::chrono::steady_clock::now();
    math::compare_answers(c, c, o);  // gold-side too
    EXPECT_LT(millis_since(t), kLimitMs) << c.substr(0, 40);
  }
}

// Gold answers match themselves and a reformatted variant, through the full response path.
std::string variant(const std::string& a) {
  bool integer = !a.empty() && a.find_first_not_of("0123456789") == std::string::npos;
  if (integer) return a + ".0";
  if (a.size() > 2 && a.compare(a.size() - 2, 2, ".0") == 0) return a.substr(0, a.size() - 2);
  std::string v = a;
  for (size_t p = v.find("\\frac"); p != std::string::npos; p = v.find("\\frac", p + 6))
    v.replace(p, 5, "\\dfrac");
  if (v != a) return v;
  for (size_t p = v.find(','); p != std::string::npos; p = v.find(',', p + 2))
    if (p + 1 < v.size() && v[p + 1] != '\\' && !(p + 3 < v.size() && isdigit(v[p + 1]) && isdigit(v[p + 3])))
      v.replace(p, 1, ", ");
  if (v != a) return v;
  if (a.find(',') != std::string::npos) return "\\displaystyle " + a;  // "(58,500)" would be a pair
  return "\\left(" + a + "\\right)";
}

void check_dataset(const std::string& file, const char* field, bool gsm8k) {
  MathVerifier v;
  auto rows = read_jsonl(testing::data_dir() + "/" + file);
  ASSERT_FALSE(rows.empty());
  int failures = 0;
  for (const Json& row : rows) {
    const Json& f = row.at(field);
    std::string gold = f.is_string() ? f.get<std::string>() : f.dump();
    std::string answer = gold_answer(gold);
    std::string other = variant(answer);
    if (gsm8k) {  // 1080 <-> 1,080
      std::string plain;
      for (char c : answer)
        if (c != ',') plain += c;
      other = plain.size() > 3 && plain == answer
                  ? plain.substr(0, plain.size() - 3) + "," + plain.substr(plain.size() - 3)
                  : plain;
    }
    for (const std::string& pred : {answer, other}) {
      Sample s;
      s.gold = gold;
      s.response = "Reasoning... The final answer is $\\boxed{" + pred + "}$.";
      Verdict d = v.verify(s);
      if (!d.correct && ++failures <= 10)
        ADD_FAILURE() << file << ": gold " << gold.substr(gold.size() > 80 ? gold.size() - 80 : 0) << " vs "
                      << pred << ": " << d.reason;
    }
  }
  EXPECT_EQ(failures, 0) << file;
}

// The full MATH test set's answers (MARIO_EVAL annotation, 5000 rows): each equals itself and a
// re-typeset variant. Rows whose answer is a JSON list (not a string) are not answers of one problem.
TEST(MathRealData, MathTestSetAnnotated) {
  Json all =
      Json::parse(read_file(testing::data_dir() + "/math_test_annotated/math_testset_annotation.json.gz"));
  ASSERT_EQ(all.size(), 5000u);
  int failures = 0, checked = 0;
  for (const Json& row : all) {
    if (!row.at("answer").is_string()) continue;
    std::string a = row.at("answer").get<std::string>();
    ++checked;
    for (const std::string& pred : {a, variant(a)}) {
      math::CompareResult r = math::compare_answers(a, pred, {});
      if (!r.equal && ++failures <= 10) ADD_FAILURE() << a << " vs " << pred << ": " << r.reason;
    }
  }
  EXPECT_GE(checked, 4990);
  EXPECT_EQ(failures, 0);
}

TEST(MathRealData, Gsm8kTest) { check_dataset("gsm8k/test.jsonl.gz", "answer", true); }
TEST(MathRealData, Gsm8kTrain) { check_dataset("gsm8k/train.jsonl.gz", "answer", true); }
TEST(MathRealData, Math500) { check_dataset("math500/test.jsonl.gz", "answer", false); }
TEST(MathRealData, Aime24) { check_dataset("aime24/test.jsonl.gz", "answer", false); }
TEST(MathRealData, Aime25) { check_dataset("aime25/test.jsonl.gz", "answer", false); }
TEST(MathRealData, Amc23) { check_dataset("amc23/test.jsonl.gz", "answer", false); }

}  // namespace
}  // namespace zerorl::verifiers
