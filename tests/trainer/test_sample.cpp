// tests/trainer/test_sample.cpp: rejection sampling's filters, dedupe and selection (trainer/sample_filter.h)
// on fixed candidates, each expectation worked out by hand. Not here: whole `zerorl sample` runs
// (test_sample_runs.cpp).
#include <gtest/gtest.h>

#include "trainer/sample_filter.h"

namespace zerorl::trainer {
namespace {

Candidate cand(const std::string& text, int64_t tokens, bool correct = true, bool format = true,
               double language = 1.0) {
  return {text, tokens, correct, format, language, ""};
}

TEST(SampleFilter, NgramCount) {
  EXPECT_EQ(max_ngram_count("a b a b a b", 2), 3);  // (a b) at 0, 2, 4
  EXPECT_EQ(max_ngram_count("a b c d", 2), 1);
  EXPECT_EQ(max_ngram_count("a b", 3), 0);  // fewer words than n
  EXPECT_EQ(max_ngram_count("x  x\nx", 1), 3);
}

TEST(SampleFilter, EachFilterRejectsWithItsReason) {
  SampleSection o;
  o.max_response_tokens = 10;
  o.min_language = 0.9;
  o.ngram = 2;
  o.max_ngram_repeats = 2;
  std::vector<Candidate> c = {cand("ok one", 5),
                              cand("wrong", 5, false),
                              cand("bad format", 5, true, false),
                              cand("too long", 11),
                              cand("mixed", 5, true, true, 0.5),
                              cand("go on go on go on", 8),  // (go on) 3 times > 2
                              cand("  ok one\n", 6),         // same text as the first after trimming
                              cand("ok two", 10)};           // exactly at the length limit: kept
  const auto chosen = select_candidates(c, o, 7);
  EXPECT_EQ(chosen, (std::vector<size_t>{0, 7}));
  const std::vector<std::string> reasons = {"",         "wrong", "format",    "length",
                                            "language", "ngram", "duplicate", ""};
  for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i].reject, reasons[i]) << i;
}

TEST(SampleFilter, FiltersOffByDefaultExceptFormat) {
  SampleSection o;  // require_format true; length, language and n-gram filters off
  std::vector<Candidate> c = {cand("a a a a a a a a", 1000, true, true, 0.0), cand("b", 1, true, false)};
  EXPECT_EQ(select_candidates(c, o, 1), (std::vector<size_t>{0}));
  o.require_format = false;
  c[1].reject.clear();
  EXPECT_EQ(select_candidates(c, o, 1), (std::vector<size_t>{0, 1}));
}

TEST(SampleFilter, ShortestAndRandomSelection) {
  SampleSection o;
  o.select = "shortest";
  std::vector<Candidate> c = {cand("a", 9), cand("b", 4, false), cand("c", 5), cand("d", 5)};
  EXPECT_EQ(select_candidates(c, o, 1), (std::vector<size_t>{2}));  // b is shorter but wrong; c before d
  EXPECT_EQ(c[0].reject, "unselected");
  EXPECT_EQ(c[3].reject, "unselected");

  o.select = "random";
  o.per_prompt = 2;
  std::vector<Candidate> r;
  for (int i = 0; i < 6; ++i) r.push_back(cand(std::string(1, static_cast<char>('a' + i)), 3));
  auto first = r;
  const auto pick = select_candidates(first, o, 42);
  ASSERT_EQ(pick.size(), 2u);
  EXPECT_LT(pick[0], pick[1]);  // original order
  auto again = r;
  EXPECT_EQ(select_candidates(again, o, 42), pick);  // same seed, same choice
  // Over many seeds every candidate is picked sometimes (a fixed choice would be a broken draw).
  std::vector<int> hits(6, 0);
  for (uint64_t s = 0; s < 200; ++s) {
    auto copy = r;
    for (size_t i : select_candidates(copy, o, s)) ++hits[i];
  }
  for (int h : hits) EXPECT_GT(h, 20);  // expected 200 * 2 / 6 = 67 each
  // Fewer kept than per_prompt: all of them.
  std::vector<Candidate> two = {cand("x", 1), cand("y", 1, false)};
  EXPECT_EQ(select_candidates(two, o, 3), (std::vector<size_t>{0}));
}

}  // namespace
}  // namespace zerorl::trainer
