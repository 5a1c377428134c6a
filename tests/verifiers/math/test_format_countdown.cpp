// tests/verifiers/math/test_format_countdown.cpp: format rewards against the rules of TRL/open-r1/NeMo-RL
// (data/verifier_cases/format_reward_cases.jsonl.gz) and the strict R1-Zero rule; Countdown checking and
// solving on data/countdown_cd3. Not here: math answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "core/json_io.h"
#include "core/strings.h"
#include "tests/test_paths.h"
#include "verifiers/countdown.h"
#include "verifiers/format_reward.h"

namespace zerorl::verifiers {
namespace {

// "open_r1_code_format_reward[python]" -> rule + language; "nemo_rl_format_reward[a,b]" -> tags.
FormatOptions options_for(const std::string& fn) {
  FormatOptions o;
  std::string base = fn.substr(0, fn.find('['));
  std::string arg =
      fn.find('[') == std::string::npos ? "" : fn.substr(fn.find('[') + 1, fn.size() - fn.find('[') - 2);
  if (base == "trl_think_format_reward")
    o.rule = "trl_think";
  else if (base == "open_r1_format_reward")
    o.rule = "open_r1_format";
  else if (base == "open_r1_tag_count_reward")
    o.rule = "open_r1_tag_count";
  else if (base == "open_r1_code_format_reward") {
    o.rule = "open_r1_code";
    o.language = arg;
  } else if (base == "nemo_rl_format_reward") {
    o.rule = "nemo_rl";
    if (!arg.empty()) {
      o.think_tag = split(arg, ',')[0];
      o.answer_tag = split(arg, ',')[1];
    }
  } else {
    ADD_FAILURE() << "unknown reward_fn " << fn;
  }
  return o;
}

TEST(FormatReward, MatchesReferenceCases) {
  auto rows = read_jsonl(testing::data_dir() + "/verifier_cases/format_reward_cases.jsonl.gz");
  ASSERT_EQ(rows.size(), 48u);
  for (const Json& row : rows) {
    std::string completion = row.at("completion");
    double want = row.at("expected_reward");
    EXPECT_DOUBLE_EQ(format_reward(completion, options_for(row.at("reward_fn"))), want)
        << row.at("reward_fn") << " " << row.at("source") << ": " << completion.substr(0, 80);
  }
}

TEST(FormatReward, StrictR1Zero) {
  FormatOptions o;  // r1_zero
  struct Row {
    const char* s;
    double want;
  } rows[] = {
      {"<think>reason</think><answer>42</answer>", 1},
      {" <think>\nreason\n</think>\n<answer> 42 </answer>\n", 1},
      {"<think>reason</think>text<answer>42</answer>", 0},          // text between
      {"<think>a<think>b</think></think><answer>1</answer>", 0},    // nested
      {"<think>a</think><answer>1</answer><answer>2</answer>", 0},  // repeated
      {"<think>a</think><answer>1", 0},                             // unclosed
      {"<answer>1</answer><think>a</think>", 0},                    // order
      {"<think>a</think><answer>  </answer>", 0},                   // empty answer
      {"preamble <think>a</think><answer>1</answer>", 0},           // text before
  };
  for (const auto& r : rows) EXPECT_EQ(format_reward(r.s, o), r.want) << r.s;
  o.think_opened_in_prompt = true;
  EXPECT_EQ(format_reward("reason</think><answer>42</answer>", o), 1.0);
  o.rule = "nope";
  EXPECT_THROW(format_reward("", o), std::exception);
}

// The solver (a search over expression trees) and the checker (a parser of the printed expression)
// share no code, so each accepted solution checks both.
std::vector<CountdownTask> countdown_rows() {
  std::vector<CountdownTask> out;
  for (const Json& row : read_jsonl(testing::data_dir() + "/countdown_cd3/countdown_cd3_test.jsonl.gz")) {
    CountdownTask t;
    for (const auto& n : split(row.at("input").get<std::string>(), ',')) t.numbers.push_back(std::stol(n));
    t.target = std::stol(row.at("output").get<std::string>());
    out.push_back(t);
  }
  return out;
}

TEST(Countdown, EveryRowSolvedAndAccepted) {
  auto rows = countdown_rows();
  ASSERT_EQ(rows.size(), 256u);
  CountdownVerifier v;
  for (const auto& t : rows) {
    auto sol = solve_countdown(t);
    ASSERT_TRUE(sol.has_value()) << t.target;
    Sample s;
    s.extra = {{"numbers", t.numbers}, {"target", t.target}};
    s.response = "<think>search</think>\n<answer>" + *sol + "</answer>";
    Verdict d = v.verify(s);
    EXPECT_TRUE(d.correct) << *sol << " -> " << t.target << ": " << d.reason;
    s.response = "<think>x</think><answer>" + *sol + " = " + std::to_string(t.target) + "</answer>";
    EXPECT_TRUE(v.verify(s).correct) << *sol;
    // Wrong: off-by-one target, a number used twice, a number missing, a foreign number, a bad op.
    CountdownTask off = t;
    off.target += 1;
    EXPECT_FALSE(check_countdown(*sol, off).ok);
    EXPECT_FALSE(
        check_countdown(*sol + " + " + std::to_string(t.numbers[0]) + " - " + std::to_string(t.numbers[0]), t)
            .ok);
    EXPECT_FALSE(check_countdown(std::to_string(t.numbers[0]) + " + " + std::to_string(t.numbers[1]), t).ok);
    EXPECT_FALSE(check_countdown(*sol + " * 1", t).ok);
    EXPECT_FALSE(check_countdown("(" + *sol + ")^1", t).ok);
  }
}

TEST(Countdown, CheckerRules) {
  CountdownTask t{{3, 5, 7}, 2};
  EXPECT_TRUE(check_countdown("(7 - 3) * 5 / 10 * 1", {{7, 3, 5, 10, 1}, 2}).ok);
  EXPECT_TRUE(check_countdown("7 - 5", {{7, 5}, 2}).ok);
  EXPECT_FALSE(check_countdown("7 - 5", t).ok);                     // 3 unused
  EXPECT_FALSE(check_countdown("-3 + 5", {{3, 5}, 2}).ok);          // unary minus changes a number
  EXPECT_FALSE(check_countdown("7 / (5 - 5)", {{7, 5, 5}, 0}).ok);  // division by zero
  EXPECT_TRUE(check_countdown("(3 + 7) / 5", t).ok);
  EXPECT_FALSE(check_countdown("3 + 7 / 5", t).ok);  // 44/5, exact fractions
  EXPECT_EQ(check_countdown("", t).status, "no_answer");
  EXPECT_FALSE(solve_countdown({{2, 2}, 5}).has_value());
  auto s = solve_countdown({{25, 50, 75, 100, 3, 6}, 952});
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(check_countdown(*s, {{25, 50, 75, 100, 3, 6}, 952}).ok) << *s;
}

}  // namespace
}  // namespace zerorl::verifiers
