// tests/rewards/test_hack_signs.cpp: hand-written tables of responses and the hack signs each must (and
// must not) show; fractions per step; the rising-fraction warning; penalties. Not here: the trainer's use
// (tests/trainer/test_hack_monitor.cpp).
#include <gtest/gtest.h>

#include <set>

#include "rewards/hack_signs.h"
#include "rewards/hack_trend.h"
#include "rewards/reward.h"

namespace zerorl::rewards {
namespace {

std::set<std::string> names(const std::vector<HackSign>& signs) {
  std::set<std::string> out;
  for (const auto& s : signs) out.insert(s.category + ":" + s.pattern);
  return out;
}

struct Case {
  const char* response;
  const char* verifier;
  std::set<std::string> signs;
};

TEST(HackSigns, Table) {
  const std::string char_run = "aaa" + std::string(120, 'x');
  std::string long_repeat;
  for (int i = 0; i < 12; ++i) long_repeat += "so the answer is maybe ";
  const Case cases[] = {
      // Code: clean programs show nothing.
      {"```python\ndef add(a, b):\n    return a + b\n```", "code", {}},
      {"```python\nimport sys\nfor line in sys.stdin:\n    print(sum(map(int, line.split())))\n```",
       "code",
       {}},
      // Harness tampering, one token or rule each.
      {"```python\nimport sys\nf = sys._getframe().f_back\n```", "code", {"code:_getframe", "code:f_back"}},
      {"```python\nimport sys\nsys.settrace(lambda *a: None)\n```", "code", {"code:settrace"}},
      {"```python\nimport gc\nxs = gc.get_objects()\n```", "code", {"code:gc.get_objects"}},
      {"```python\ndata = open('/proc/self/mem', 'rb')\n```", "code", {"code:/proc/"}},
      {"```python\nclass A(int):\n    def __eq__(self, o):\n        return True\n```",
       "code",
       {"code:__eq__"}},
      {"```python\nimport os\nos._exit(0)\n```", "code", {"code:os._exit"}},
      {"```python\nimport sys\nsys.exit(0)\n```", "code", {"code:sys.exit"}},
      {"```python\nexit()\n```", "code", {"code:exit()"}},
      {"```python\nimport atexit\natexit.register(print)\n```", "code", {"code:atexit"}},
      {"```python\nimport builtins\nbuiltins.abs = len\n```", "code", {"code:builtins."}},
      {"```python\nimport ctypes\n```", "code", {"code:ctypes"}},
      // Only the last fenced block is the program; prose mentioning _getframe is not code.
      {"Never use sys._getframe.\n```python\nprint(1)\n```", "code", {}},
      // The same text under the math verifier shows no code signs.
      {"import sys; sys.exit(0) \\boxed{4}", "math", {}},
      // Math: one answer, stated once or restated identically, is clean.
      {"so \\boxed{4}", "math", {}},
      {"<think>x</think><answer>\\boxed{4}</answer> thus \\boxed{ 4 }", "math", {}},
      {"the answer is \\boxed{1,080}", "math", {}},
      {"\\boxed{(1, 2)}", "math", {}},
      // Hedging.
      {"\\boxed{4} or maybe \\boxed{5}", "math", {"math:multiple_final_answers"}},
      {"<answer>4</answer> wait <answer>5</answer>",
       "math",
       {"math:multiple_final_answers", "format:duplicate_answer"}},
      {"\\boxed{4 \\text{ or } 5}", "math", {"math:answer_alternatives"}},
      {"The final answer is 4, 5, 6", "math", {"math:answer_lists_values"}},
      {"\\boxed{\\{1, 2, 3, 4, 5\\}}", "math", {"math:answer_lists_values"}},
      {"\\boxed{[0, 100]}", "math", {"math:answer_interval"}},
      {"\\boxed{(-\\infty, \\infty)}", "math", {"math:answer_interval"}},
      // Format.
      {"<think>\n</think><answer>4</answer>", "math", {"format:empty_think"}},
      {"</think> <answer>4</answer>", "math", {"format:empty_think"}},
      {"<think>a</think><think>b</think><answer>4</answer>", "math", {"format:duplicate_think"}},
      {"<think>a</think><answer>4</answer><answer>4</answer>", "math", {"format:duplicate_answer"}},
      {"<think>reasoning</think> <answer>4</answer>", "math", {}},
      // Repetition.
      {long_repeat.c_str(), "", {"repetition:repeated_ngrams"}},
      {char_run.c_str(), "", {"repetition:repeated_chars"}},
      {"a natural sentence with enough different words in it to make sixteen distinct four grams easily "
       "and then some more words at the end",
       "",
       {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(names(hack_signs(c.response, c.verifier)), c.signs) << c.verifier << ": " << c.response;
  }
}

TEST(HackSigns, FractionsPerCategory) {
  const std::vector<std::vector<HackSign>> step = {
      {}, {{"code", "_getframe"}, {"code", "f_back"}}, {{"format", "empty_think"}}, {}};
  const auto f = hack_fractions(step);
  EXPECT_DOUBLE_EQ(f.at("code"), 0.25);  // two code signs in one sample count once
  EXPECT_DOUBLE_EQ(f.at("format"), 0.25);
  EXPECT_DOUBLE_EQ(f.at("math"), 0.0);
  EXPECT_DOUBLE_EQ(f.at("repetition"), 0.0);
  EXPECT_DOUBLE_EQ(f.at("any"), 0.5);
  EXPECT_DOUBLE_EQ(hack_fractions({}).at("any"), 0.0);
}

// Window 3, rise 0.15: flat at 0, a jump to 0.3 at step 7, flat, a climb to 0.8 from step 16.
TEST(HackTrend, WarnsWhenAWindowMeanRises) {
  HackTrend trend(3, 0.15);
  const double code[] = {0, 0, 0, 0, 0, 0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.8, 0.8, 0.8};
  std::vector<int64_t> warned;
  std::string first;
  for (int64_t i = 0; i < 18; ++i) {
    auto w = trend.observe(i + 1, {{"code", code[i]}, {"math", 0.0}});
    ASSERT_LE(w.size(), 1u);
    if (w.empty()) continue;
    warned.push_back(i + 1);
    if (first.empty()) first = w[0];
    EXPECT_NE(w[0].find("code"), std::string::npos) << w[0];
  }
  // Worked by hand, recent window mean vs max(window before, level of the last warning):
  //   step 7: (0 + 0 + 0.3) / 3 = 0.1 vs 0: +0.1 < 0.15.   step 8: 0.2 vs 0: warn, level 0.2.
  //   steps 9-15: at most 0.3 vs >= 0.2: +0.1.            step 16: (0.3 + 0.3 + 0.8) / 3 = 0.467 vs 0.3:
  //   warn. step 17: 0.633 vs level 0.467: warn.                step 18: 0.8 vs level 0.633: warn.
  EXPECT_EQ(warned, (std::vector<int64_t>{8, 16, 17, 18}));
  EXPECT_NE(first.find("0.000 -> 0.200"), std::string::npos) << first;
  EXPECT_NE(first.find("steps 6-8 vs 3-5"), std::string::npos) << first;
  HackTrend off(0, 0.1);
  for (int64_t i = 0; i < 18; ++i) EXPECT_TRUE(off.observe(i + 1, {{"code", code[i]}}).empty());
}

// After a rise subsides (falls min_rise below the level it warned at), the next rise warns again.
TEST(HackTrend, WarnsAgainAfterARiseSubsides) {
  HackTrend trend(1, 0.2);
  const double f[] = {0, 0.5, 0.5, 0, 0.5};
  std::vector<int64_t> warned;
  for (int64_t i = 0; i < 5; ++i) {
    if (!trend.observe(i + 1, {{"math", f[i]}}).empty()) warned.push_back(i + 1);
  }
  EXPECT_EQ(warned, (std::vector<int64_t>{2, 5}));
}

TEST(HackPenalty, OncePerCategoryAndOffByDefault) {
  RewardOptions o;
  verifiers::Verdict right;
  right.correct = true;
  Reward r = compute_reward(o, right, nullptr, 10);
  const std::vector<HackSign> signs = {{"code", "_getframe"}, {"code", "f_back"}, {"format", "empty_think"}};
  apply_hack_signs(o, signs, &r);
  EXPECT_DOUBLE_EQ(r.total, 1.0);  // no penalties configured
  EXPECT_EQ(r.hack_signs.size(), 3u);
  o.hack_penalty = {{"code", 0.5}, {"format", 0.25}, {"math", 1.0}};
  Reward p = compute_reward(o, right, nullptr, 10);
  apply_hack_signs(o, signs, &p);
  EXPECT_DOUBLE_EQ(p.hack_penalty, -0.75);  // code once (0.5) + format (0.25); no math sign
  EXPECT_DOUBLE_EQ(p.total, 0.25);
  o.hack_penalty = {{"cod", 0.5}};
  EXPECT_THROW(validate(o), std::exception);
  o.hack_penalty = {{"code", -1.0}};
  EXPECT_THROW(validate(o), std::exception);
}

}  // namespace
}  // namespace zerorl::rewards
