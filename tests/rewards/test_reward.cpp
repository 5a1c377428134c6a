// tests/rewards/test_reward.cpp: reward composition against hand-derived cases, DAPO's overlong formula
// (paper's piecewise definition and verl's min(-exceed/buffer*factor, 0) form as independent references).
// Not here: the verifiers that produce the verdicts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "rewards/reward.h"

namespace zerorl::rewards {
namespace {

constexpr double kTol = 1e-12;  // plain double arithmetic on small integers

verifiers::Verdict verdict(bool correct, double reward) {
  verifiers::Verdict v;
  v.correct = correct;
  v.reward = reward;
  v.status = correct ? "ok" : "wrong";
  return v;
}

TEST(Overlong, DapoPaperNumbers) {
  // DAPO: L_max = 20480, L_cache = 4096.
  OverlongOptions o{true, 4096, 1.0};
  const int64_t lmax = 20480;
  EXPECT_EQ(overlong_penalty(0, lmax, o), 0.0);
  EXPECT_EQ(overlong_penalty(16384, lmax, o), 0.0);                  // L_max - L_cache: still free
  EXPECT_NEAR(overlong_penalty(16385, lmax, o), -1.0 / 4096, kTol);  // first penalised token
  EXPECT_NEAR(overlong_penalty(18432, lmax, o), -0.5, kTol);         // half-way through the buffer
  EXPECT_NEAR(overlong_penalty(20480, lmax, o), -1.0, kTol);         // L_max
  EXPECT_NEAR(overlong_penalty(30000, lmax, o), -1.0, kTol);         // beyond L_max
  o.penalty_factor = 0.5;
  EXPECT_NEAR(overlong_penalty(18432, lmax, o), -0.25, kTol);
  o.enabled = false;
  EXPECT_EQ(overlong_penalty(30000, lmax, o), 0.0);
}

// The paper's piecewise R_length vs verl's dapo reward-manager form, for every length of a small budget.
TEST(Overlong, MatchesBothPublishedForms) {
  for (int64_t max_len : {8, 20, 64}) {
    for (int64_t buffer : {int64_t{1}, max_len / 4, max_len}) {
      for (double factor : {1.0, 0.3}) {
        OverlongOptions o{true, buffer, factor};
        for (int64_t len = 0; len <= max_len + 3; ++len) {
          double paper = 0;  // eq. (13)
          if (len > max_len) {
            paper = -1;
          } else if (len > max_len - buffer) {
            paper = static_cast<double>((max_len - buffer) - len) / buffer;
          }
          const double exceed = static_cast<double>(len - (max_len - buffer));
          const double verl = std::max(std::min(-exceed / buffer * factor, 0.0), -factor);
          EXPECT_NEAR(overlong_penalty(len, max_len, o), paper * factor, kTol)
              << max_len << " " << buffer << " " << len;
          EXPECT_NEAR(overlong_penalty(len, max_len, o), verl, kTol)
              << max_len << " " << buffer << " " << len;
        }
      }
    }
  }
}

TEST(Reward, HandDerivedComposition) {
  RewardOptions opts;  // accuracy 1/0, no format, no shaping: plain R1-Zero
  EXPECT_EQ(compute_reward(opts, verdict(true, 1.0), nullptr, 100).total, 1.0);
  EXPECT_EQ(compute_reward(opts, verdict(false, 0.0), nullptr, 100).total, 0.0);

  // DAPO: +1 / -1 accuracy with the soft overlong penalty (L_max 20, buffer 4).
  RewardOptions dapo;
  dapo.wrong_reward = -1.0;
  dapo.max_response_tokens = 20;
  dapo.overlong = {true, 4, 1.0};
  EXPECT_NEAR(compute_reward(dapo, verdict(true, 1.0), nullptr, 10).total, 1.0, kTol);
  EXPECT_NEAR(compute_reward(dapo, verdict(true, 1.0), nullptr, 18).total, 0.5, kTol);  // 1 - 2/4
  EXPECT_NEAR(compute_reward(dapo, verdict(false, 0.0), nullptr, 20).total, -2.0, kTol);

  // Weighted accuracy + format: 0.9 * acc + 0.1 * fmt.
  RewardOptions weighted;
  weighted.accuracy_weight = 0.9;
  weighted.format_weight = 0.1;
  const auto fmt_ok = verdict(true, 1.0), fmt_bad = verdict(false, 0.0);
  auto r = compute_reward(weighted, verdict(false, 0.0), &fmt_ok, 5);
  EXPECT_NEAR(r.total, 0.1, kTol);
  EXPECT_EQ(r.format, 1.0);
  EXPECT_TRUE(r.has_format);
  EXPECT_FALSE(r.correct);
  // Without a format verdict the format score is not a measurement (a rate must not count it as 0).
  EXPECT_FALSE(compute_reward(weighted, verdict(true, 1.0), nullptr, 5).has_format);
  // A format verdict with weight 0 is still measured, and changes nothing in the total.
  RewardOptions unweighted;
  r = compute_reward(unweighted, verdict(true, 1.0), &fmt_ok, 5);
  EXPECT_TRUE(r.has_format);
  EXPECT_EQ(r.format, 1.0);
  EXPECT_EQ(r.total, 1.0);
  r = compute_reward(weighted, verdict(true, 1.0), &fmt_bad, 5);
  EXPECT_NEAR(r.total, 0.9, kTol);
  EXPECT_TRUE(r.correct);

  // Linear length shaping: -0.5 * 30 / 120 on top of a correct answer.
  RewardOptions shaped;
  shaped.length_weight = 0.5;
  shaped.max_response_tokens = 120;
  r = compute_reward(shaped, verdict(true, 1.0), nullptr, 30);
  EXPECT_NEAR(r.length, -0.125, kTol);
  EXPECT_NEAR(r.total, 0.875, kTol);

  // Partial credit (code: 3 of 4 tests) maps linearly between wrong and correct rewards.
  EXPECT_NEAR(compute_reward(dapo, verdict(false, 0.75), nullptr, 0).accuracy, -1.0 + 2.0 * 0.75, kTol);
}

TEST(Reward, LanguageConsistency) {
  RewardOptions opts;
  auto r = compute_reward(opts, verdict(true, 1.0), nullptr, 5);
  apply_language_consistency(opts, "<think>我们 compute</think>", &r);  // weight 0: not computed
  EXPECT_EQ(r.total, 1.0);
  EXPECT_EQ(r.language, 1.0);
  opts.language_weight = 0.5;
  opts.language = "zh";
  // 我 们 (2 Han words) of 3 (compute is Latin): 2/3, weighted by 0.5 on top of accuracy 1.
  apply_language_consistency(opts, "<think>我们 compute</think><answer>5</answer>", &r);
  EXPECT_NEAR(r.language, 2.0 / 3.0, kTol);
  EXPECT_NEAR(r.total, 1.0 + 0.5 * 2.0 / 3.0, kTol);
  opts.language = "klingon";
  EXPECT_THROW(validate(opts), Error);
}

TEST(Reward, VerdictScoreIsRobust) {
  EXPECT_EQ(verdict_score(verdict(true, 0.0)), 1.0);  // correct wins over a missing reward
  EXPECT_EQ(verdict_score(verdict(false, 0.4)), 0.4);
  EXPECT_EQ(verdict_score(verdict(false, 7.0)), 1.0);
  EXPECT_EQ(verdict_score(verdict(false, -3.0)), 0.0);
  EXPECT_EQ(verdict_score(verdict(false, std::numeric_limits<double>::quiet_NaN())), 0.0);
}

TEST(Reward, ValidationNamesTheKey) {
  RewardOptions o;
  o.max_response_tokens = 100;
  o.overlong = {true, 200, 1.0};
  try {
    validate(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rewards.overlong.buffer"), std::string::npos) << e.what();
  }
  o.overlong = {true, 0, 1.0};
  EXPECT_THROW(validate(o), Error);
  o.overlong = {true, 20, -1.0};
  EXPECT_THROW(validate(o), Error);
  o.overlong = {true, 20, 1.0};
  EXPECT_NO_THROW(validate(o));
  o.max_response_tokens = 0;
  EXPECT_THROW(validate(o), Error);  // shaping needs L_max
  o.max_response_tokens = 100;
  o.format_weight = std::numeric_limits<double>::infinity();
  EXPECT_THROW(validate(o), Error);
}

TEST(Reward, VerifierRouting) {
  RewardOptions o;
  o.verifier_by_source = {{"gsm8k", "math"}, {"countdown", "countdown"}};
  EXPECT_EQ(verifier_for(o, "countdown"), "countdown");
  EXPECT_THROW(verifier_for(o, "humaneval"), Error);
  o.default_verifier = "math";
  EXPECT_EQ(verifier_for(o, "humaneval"), "math");
  EXPECT_EQ(verifier_for(o, "gsm8k"), "math");
}

}  // namespace
}  // namespace zerorl::rewards
