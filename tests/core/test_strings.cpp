// Tests of core/strings.h against hand-computed cases (edit distance vs. a naive recursive definition).
#include <gtest/gtest.h>

#include <functional>

#include "core/seed.h"
#include "core/strings.h"

namespace zerorl {
namespace {

size_t naive_edit_distance(const std::string& a, const std::string& b) {
  if (a.empty()) return b.size();
  if (b.empty()) return a.size();
  const size_t sub = naive_edit_distance(a.substr(1), b.substr(1)) + (a[0] == b[0] ? 0 : 1);
  return std::min({sub, naive_edit_distance(a.substr(1), b) + 1, naive_edit_distance(a, b.substr(1)) + 1});
}

TEST(Strings, EditDistanceMatchesNaiveDefinition) {
  const std::vector<std::string> words = {"", "lr", "lrr", "optim", "optimm", "kitten", "sitting", "abc", "cab"};
  for (const auto& a : words) {
    for (const auto& b : words) EXPECT_EQ(edit_distance(a, b), naive_edit_distance(a, b)) << a << " / " << b;
  }
}

TEST(Strings, ClosestMatchOnlyForPlausibleTypos) {
  EXPECT_EQ(closest_match("lrr", {"lr", "eps", "beta1"}), "lr");
  EXPECT_EQ(closest_match("grup_size", {"group_size", "temperature"}), "group_size");
  EXPECT_EQ(closest_match("zzzzzzzz", {"lr", "eps"}), "");
}

TEST(Strings, SplitJoinTrim) {
  EXPECT_EQ(split("a.b..c", '.'), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(trim("  x y \n"), "x y");
  EXPECT_EQ(trim(" \t"), "");
}

TEST(Seed, MixSeedIsOrderSensitiveAndSpreads) {
  EXPECT_NE(mix_seed({1, 2}), mix_seed({2, 1}));
  EXPECT_NE(mix_seed({0, 0, 0}), mix_seed({0, 0, 1}));
  EXPECT_EQ(mix_seed({5, 6, 7}), mix_seed({5, 6, 7}));
  // Neighbouring keys give well-spread seeds: about half the bits differ.
  int bits = 0;
  for (uint64_t k = 0; k < 64; ++k) bits += __builtin_popcountll(mix_seed({k}) ^ mix_seed({k + 1}));
  EXPECT_GT(bits / 64.0, 24.0);
  EXPECT_LT(bits / 64.0, 40.0);
}

}  // namespace
}  // namespace zerorl
