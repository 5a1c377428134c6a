// tests/verifiers/math/test_pool_registry.cpp: registry routing and the deadline pool (timeouts are
// values, the pool keeps serving after stuck items, exceptions become "error" verdicts).
// Not here: the checkers' logic.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "verifiers/pool.h"
#include "verifiers/registry.h"

namespace zerorl::verifiers {
namespace {

TEST(Registry, BuiltinsAndDataSources) {
  Registry r = Registry::with_builtins();
  EXPECT_TRUE(r.has("math"));
  EXPECT_TRUE(r.has("countdown"));
  EXPECT_TRUE(r.has("format"));
  EXPECT_EQ(r.name_for_data_source("gsm8k"), "math");
  EXPECT_EQ(r.name_for_data_source("openai/gsm8k"), "math");
  EXPECT_EQ(r.name_for_data_source("HuggingFaceH4/MATH-500"), "math");
  EXPECT_EQ(r.name_for_data_source("aime25"), "math");
  EXPECT_EQ(r.name_for_data_source("Jiayi-Pan/Countdown-Tasks-3to4"), "countdown");
  EXPECT_EQ(r.name_for_data_source("format"), "format");
  EXPECT_EQ(r.name_for_data_source("humaneval"), "code");
  EXPECT_THROW(r.name_for_data_source("weather"), std::exception);
  EXPECT_THROW(r.create("mathh"), std::exception);
  EXPECT_THROW(r.add("math", nullptr), std::exception);
  EXPECT_THROW(r.create("math", Json{{"no_such_key", 1}}), std::exception);
  auto v = r.create("math", Json{{"require_think_close", true}});
  Sample s;
  s.gold = "4";
  s.response = "\\boxed{4}";
  EXPECT_EQ(v->verify(s).status, "no_answer");
  s.response = "<think>x</think>\\boxed{4}";
  EXPECT_TRUE(v->verify(s).correct);
}

// A user verifier's data_sources alias wins over a registered name and a built-in alias (how a verl
// reward file takes over the rows of the toy task, "toy_addition", or of "gsm8k").
TEST(Registry, AliasOverridesRegisteredNameAndBuiltinAlias) {
  Registry r = Registry::with_builtins();
  r.add("mine", [](const Json&) -> std::unique_ptr<Verifier> { return nullptr; });
  EXPECT_EQ(r.name_for_data_source("countdown"), "countdown");
  r.alias("countdown", "mine");
  r.alias("GSM8K", "mine");
  EXPECT_EQ(r.name_for_data_source("countdown"), "mine");
  EXPECT_EQ(r.name_for_data_source("gsm8k"), "mine");
  EXPECT_EQ(r.name_for_data_source("openai/gsm8k"), "math");  // other aliases unchanged
  EXPECT_EQ(r.name_for_data_source("math"), "math");
}

// Sleeps `ms` milliseconds when the response is "slow", throws when it is "throw".
class TestVerifier : public Verifier {
 public:
  std::string name() const override { return "test"; }
  Verdict verify(const Sample& s) const override {
    if (s.response == "throw") throw std::runtime_error("boom");
    if (s.response == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(600));
    Verdict v;
    v.correct = true;
    v.status = "ok";
    v.extracted = s.response;
    return v;
  }
};

TEST(VerifierPool, DeadlineTimeoutsAreValuesAndPoolKeepsServing) {
  auto v = std::make_shared<TestVerifier>();
  VerifierPool pool(2, 0.1);
  std::vector<Sample> batch(6);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].response = std::to_string(i);
  batch[1].response = "slow";
  batch[2].response = "slow";
  batch[4].response = "throw";
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Verdict> out = pool.run({v}, batch);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[0].status, "ok");
  EXPECT_EQ(out[0].extracted, "0");
  EXPECT_EQ(out[1].status, "timeout");
  EXPECT_EQ(out[2].status, "timeout");
  EXPECT_EQ(out[3].status, "ok");
  EXPECT_EQ(out[4].status, "error");
  EXPECT_EQ(out[5].extracted, "5");
  EXPECT_LT(s, 0.45);  // did not wait for the 0.6 s sleeps
  // Both original workers are stuck; replacements serve the next batch at once.
  std::vector<Sample> next(20);
  for (size_t i = 0; i < next.size(); ++i) next[i].response = "n" + std::to_string(i);
  out = pool.run({v}, next);
  for (size_t i = 0; i < next.size(); ++i) EXPECT_EQ(out[i].extracted, next[i].response);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // stuck workers return and retire
  EXPECT_EQ(pool.live_threads(), 2);
}

TEST(VerifierPool, MixedVerifiersInOrder) {
  Registry r = Registry::with_builtins();
  std::shared_ptr<const Verifier> math = r.create("math"), cd = r.create("countdown");
  std::vector<Sample> samples(3);
  samples[0].gold = "1/2";
  samples[0].response = "\\boxed{0.5}";
  samples[1].extra = {{"numbers", {2, 3}}, {"target", 6}};
  samples[1].response = "<answer>2*3</answer>";
  samples[2].gold = "3";
  samples[2].response = "\\boxed{4}";
  VerifierPool pool(3, 1.0);
  auto out = pool.run({math, cd, math}, samples);
  EXPECT_TRUE(out[0].correct);
  EXPECT_TRUE(out[1].correct);
  EXPECT_FALSE(out[2].correct);
  EXPECT_THROW(pool.run({math, cd}, samples), std::exception);
}

}  // namespace
}  // namespace zerorl::verifiers
