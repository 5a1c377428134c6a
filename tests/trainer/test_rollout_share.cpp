// tests/trainer/test_rollout_share.cpp: rollout.mode = workers with data-parallel ranks: the trajectory bytes
// round-trip field by field, truncated or padded bytes are an error, a shard keeps its prompts' samples
// renumbered, and share_rollout at world size 1 returns the shard or rethrows the collector's error. Not
// here: the 2-rank broadcast in whole runs (tests/dist/test_dp_workers.cpp).
#include <gtest/gtest.h>

#include <stdexcept>

#include "core/error.h"
#include "trainer/rollout_share.h"

namespace zerorl::trainer {
namespace {

// P = 3 prompts x G = 2 samples, prompt-major, each field distinct per sample (hand-made reference).
std::vector<rollout::Trajectory> three_prompts() {
  std::vector<rollout::Trajectory> out;
  for (int64_t p = 0; p < 3; ++p) {
    for (int64_t g = 0; g < 2; ++g) {
      rollout::Trajectory t;
      t.prompt_index = p, t.sample_index = g;
      for (int64_t i = 0; i <= p + g; ++i) {
        t.tokens.push_back(100 * p + 10 * g + i);
        t.logprobs.push_back(-0.25f * static_cast<float>(i + 1) - static_cast<float>(p));
        t.logprobs_policy.push_back(-0.125f * static_cast<float>(i + 1) - static_cast<float>(g));
      }
      t.finish = g == 0 ? rollout::FinishReason::kEos : rollout::FinishReason::kLength;
      t.text = p == 1 ? "" : "answer " + std::to_string(p) + "/" + std::to_string(g);
      out.push_back(t);
    }
  }
  out[5].tokens.clear(), out[5].logprobs.clear(), out[5].logprobs_policy.clear();  // an empty answer
  return out;
}

void expect_equal(const rollout::Trajectory& a, const rollout::Trajectory& b, int64_t prompt_shift) {
  EXPECT_EQ(a.prompt_index - prompt_shift, b.prompt_index);
  EXPECT_EQ(a.sample_index, b.sample_index);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.logprobs, b.logprobs);  // bit copies: exact
  EXPECT_EQ(a.logprobs_policy, b.logprobs_policy);
  EXPECT_EQ(a.finish, b.finish);
  EXPECT_EQ(a.text, b.text);
}

TEST(RolloutShare, TrajectoriesRoundTrip) {
  const auto in = three_prompts();
  const auto bytes = pack_trajectories(in);
  const auto out = unpack_trajectories(bytes.data(), bytes.size());
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) expect_equal(in[i], out[i], 0);
  const auto none = pack_trajectories({});
  EXPECT_TRUE(unpack_trajectories(none.data(), none.size()).empty());
}

TEST(RolloutShare, TruncatedOrPaddedBytesAreAnError) {
  auto bytes = pack_trajectories(three_prompts());
  for (size_t cut : {size_t{0}, size_t{4}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_THROW(unpack_trajectories(bytes.data(), cut), Error) << "cut at " << cut;
  }
  bytes.push_back(0);
  EXPECT_THROW(unpack_trajectories(bytes.data(), bytes.size()), Error);
  // A count far beyond the buffer fails before allocating.
  std::vector<uint8_t> huge(8, 0xff);
  EXPECT_THROW(unpack_trajectories(huge.data(), huge.size()), Error);
}

TEST(RolloutShare, AShardKeepsItsPromptsRenumbered) {
  const auto all = three_prompts();
  const auto mid = shard_samples(all, {1, 1});
  ASSERT_EQ(mid.size(), 2u);
  expect_equal(all[2], mid[0], 1);
  expect_equal(all[3], mid[1], 1);
  const auto tail = shard_samples(all, {1, 2});
  ASSERT_EQ(tail.size(), 4u);
  for (size_t i = 0; i < 4; ++i) expect_equal(all[2 + i], tail[i], 1);
}

TEST(RolloutShare, OneRankGetsItsShardOrTheCollectorsError) {
  auto comm = dist::make_communicator(dist::Context{}, dist::CommOptions{});
  const auto all = three_prompts();
  const auto res = share_rollout(*comm,
                                 [&] {
                                   rollout::RolloutResult r;
                                   r.samples = all;
                                   return r;
                                 },
                                 {0, 3});
  ASSERT_EQ(res.samples.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) expect_equal(all[i], res.samples[i], 0);
  EXPECT_EQ(res.new_tokens, 1 + 2 + 2 + 3 + 3 + 0);
  // Rank 0 rethrows its own exception (type and message), after telling the other ranks.
  EXPECT_THROW(
      share_rollout(
          *comm, []() -> rollout::RolloutResult { throw std::out_of_range("no worker within 1 s"); }, {0, 3}),
      std::out_of_range);
}

}  // namespace
}  // namespace zerorl::trainer
