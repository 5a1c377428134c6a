// tests/trainer/test_packing.cpp: algo.pack_sequences: first-fit decreasing against a naive reference and a
// hand-worked case, and the packed update against the padded one (log-probs, loss, statistics, gradients
// and updated weights). Not here: packed attention itself (tests/model, SFT's forward_packed).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>

#include "core/error.h"
#include "model/config.h"
#include "tests/trainer/known_batch.h"
#include "trainer/packing.h"
#include "trainer/update.h"

namespace zerorl::trainer {
namespace {

// Naive first-fit decreasing: pick the longest unplaced sequence (lowest index on ties) by a full scan,
// then scan the rows' summed lengths for the first one with room.
std::vector<std::vector<int64_t>> naive_ffd(const std::vector<int64_t>& len, int64_t cap) {
  std::vector<bool> placed(len.size(), false);
  std::vector<std::vector<int64_t>> rows;
  for (size_t step = 0; step < len.size(); ++step) {
    size_t best = len.size();
    for (size_t i = 0; i < len.size(); ++i)
      if (!placed[i] && (best == len.size() || len[i] > len[best])) best = i;
    placed[best] = true;
    bool done = false;
    for (auto& row : rows) {
      int64_t used = 0;
      for (int64_t k : row) used += len[static_cast<size_t>(k)];
      if (used + len[best] <= cap) {
        row.push_back(static_cast<int64_t>(best)), done = true;
        break;
      }
    }
    if (!done) rows.push_back({static_cast<int64_t>(best)});
  }
  return rows;
}

TEST(PackFirstFitDecreasing, HandWorkedRows) {
  // Capacity 8, taken as 7(#2) 5(#0) 4(#4) 3(#1) 2(#3): 7 opens row 0, 5 row 1, 4 row 2, 3 fills row 1, 2
  // goes to row 2 (row 0 has 1 left).
  EXPECT_EQ(pack_first_fit_decreasing({5, 3, 7, 2, 4}, 8),
            (std::vector<std::vector<int64_t>>{{2}, {0, 1}, {4, 3}}));
  EXPECT_TRUE(pack_first_fit_decreasing({}, 4).empty());
  EXPECT_THROW(pack_first_fit_decreasing({3, 9}, 8), Error);  // longer than a row
  EXPECT_THROW(pack_first_fit_decreasing({0}, 8), Error);
}

TEST(PackFirstFitDecreasing, EverySequenceOnceRowsInBudgetAsTheNaiveReference) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t cap = 1 + static_cast<int64_t>(rng() % 64);
    std::vector<int64_t> len(rng() % 40);
    for (auto& l : len) l = 1 + static_cast<int64_t>(rng() % static_cast<uint32_t>(cap));
    const auto rows = pack_first_fit_decreasing(len, cap);
    EXPECT_EQ(rows, naive_ffd(len, cap)) << "trial " << trial;
    std::multiset<int64_t> seen;
    for (const auto& row : rows) {
      int64_t used = 0;
      for (int64_t k : row) used += len[static_cast<size_t>(k)], seen.insert(k);
      EXPECT_LE(used, cap);
      EXPECT_FALSE(row.empty());
    }
    std::vector<int64_t> all(len.size());
    std::iota(all.begin(), all.end(), int64_t{0});
    EXPECT_EQ(seen, std::multiset<int64_t>(all.begin(), all.end()));
    const int64_t total = std::accumulate(len.begin(), len.end(), int64_t{0});
    EXPECT_GE(static_cast<int64_t>(rows.size()) * cap, total);
  }
}

TEST(PackedMicroBatchSizes, HandWorkedSplit) {
  // Rows of 13, 3 a micro-batch: {5, 13, 4, 9, 8} packs as [13] [9 4] [8 5]; adding 6 needs a fourth row.
  EXPECT_EQ(packed_micro_batch_sizes({5, 13, 4, 9, 8, 6}, 3, 13), (std::vector<int64_t>{5, 1}));
  EXPECT_EQ(packed_micro_batch_sizes({13, 13, 13}, 1, 13), (std::vector<int64_t>{1, 1, 1}));  // padded rows
  EXPECT_TRUE(packed_micro_batch_sizes({}, 2, 8).empty());
  EXPECT_THROW(packed_micro_batch_sizes({3}, 0, 8), Error);
}

TEST(PackedMicroBatchSizes, EachTheLongestRunThatFitsAsTheNaiveReference) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t cap = 1 + static_cast<int64_t>(rng() % 64), rows = 1 + static_cast<int64_t>(rng() % 5);
    std::vector<int64_t> len(rng() % 40);
    for (auto& l : len) l = 1 + static_cast<int64_t>(rng() % static_cast<uint32_t>(cap));
    const auto sizes = packed_micro_batch_sizes(len, rows, cap);
    // Naive: a micro-batch starting at b takes sequences b .. e-1 while the naive FFD of b .. e fits.
    size_t b = 0;
    for (size_t m = 0; m < sizes.size(); ++m) {
      size_t e = b + 1;
      while (e < len.size()) {
        const std::vector<int64_t> span(len.begin() + static_cast<std::ptrdiff_t>(b),
                                        len.begin() + static_cast<std::ptrdiff_t>(e) + 1);
        if (static_cast<int64_t>(naive_ffd(span, cap).size()) > rows) break;
        ++e;
      }
      EXPECT_EQ(sizes[m], static_cast<int64_t>(e - b)) << "trial " << trial << " micro-batch " << m;
      b += static_cast<size_t>(sizes[m]);
    }
    EXPECT_EQ(b, len.size()) << "trial " << trial;  // every sequence in exactly one micro-batch
  }
}

// Two layers, so a packed neighbour leaking into a sequence would show up through the residual stream.
model::CausalLM packing_model(uint64_t seed) {
  model::ModelConfig c = model::qwen25_05b_config();
  c.vocab_size = 32, c.hidden_size = 16, c.intermediate_size = 32, c.num_hidden_layers = 2;
  c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 8;
  model::CausalLM lm(c, torch::kFloat32);
  model::init_random_(lm, seed, 0.1);
  return lm;
}

// Three groups of two answers with lengths (prompt + response) 5, 13, 4, 9, 8, 6: rows of T = 13.
UpdateBatch varied_batch() {
  UpdateBatch b;
  b.prompt_ids = {{3, 4, 5}, {6, 7, 8, 9, 10}, {2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11, 12, 13}, {14, 15, 16}};
  b.responses = {{11, 1},    {12, 13, 14, 15, 16, 17, 18, 1}, {19, 1}, {20, 21, 22, 23, 1}, {24, 1},
                 {25, 26, 1}};
  b.truncated = {false, true, false, false, false, false};  // read by algo.overlong = mask
  b.rewards = {1.0, 0.0, 0.0, 1.0, 1.0, 0.0};
  for (size_t i = 0; i < b.responses.size(); ++i) {  // a behaviour policy near the model's (tis weights)
    b.logprobs_sampling.emplace_back();
    for (size_t j = 0; j < b.responses[i].size(); ++j)
      b.logprobs_sampling.back().push_back(-3.0f - 0.1f * static_cast<float>((i + j) % 3));
  }
  return b;
}

Config packing_config(bool pack) {
  Config cfg;
  cfg.rollout.group_size = 2, cfg.rollout.temperature = 1.0, cfg.rollout.max_new_tokens = 8;
  cfg.trainer.steps = 1;
  cfg.algo.old_logprobs = "recompute";
  cfg.algo.micro_batch_tokens = 3 * 13;  // three rows a micro-batch: two padded micro-batches, or packed two
  cfg.algo.pack_sequences = pack;
  return cfg;
}

// Float32 on CPU: packed and padded forwards differ only in GEMM shapes and in how many masked keys the
// softmax sees (masked ones add exact zeros), so per-token log-probs (|.| ~ 3.5 over vocab 32) agree to a few
// float32 ulps times the reductions (hidden 16, <= 13 keys, 2 layers): 1e-5 relative leaves ~30x margin.
constexpr double kRel = 1e-5;

TEST(PackedUpdate, LogprobsEqualThePaddedLayout) {
  auto lm = packing_model(1);
  const UpdateBatch b = varied_batch();
  const auto padded = recompute_old_logprobs(packing_config(false), lm, b, 0);
  const auto packed = recompute_old_logprobs(packing_config(true), lm, b, 0);
  ASSERT_EQ(padded.sizes(), packed.sizes());
  EXPECT_GT(padded.abs().max().item<double>(), 1.0);  // real log-probs, not zeros on both sides
  for (size_t i = 0; i < b.responses.size(); ++i) {
    for (size_t j = 0; j < static_cast<size_t>(padded.size(1)); ++j) {
      const auto r = static_cast<int64_t>(i), c = static_cast<int64_t>(j);
      const double want = padded[r][c].item<double>(), got = packed[r][c].item<double>();
      if (j >= b.responses[i].size()) {  // the LM head runs on response tokens only: 0 beyond them
        EXPECT_EQ(want, 0.0) << "answer " << i << " token " << j;
        EXPECT_EQ(got, 0.0) << "answer " << i << " token " << j;
      } else {
        EXPECT_NEAR(got, want, kRel * std::abs(want)) << "answer " << i << " token " << j;
      }
    }
  }
}

struct StepResult {
  Json out;
  std::vector<torch::Tensor> before, after, grads;
};

StepResult one_update(const Config& cfg) {
  auto lm = packing_model(2);
  // eps 1: the first AdamW step is lr * g / (|g| + 1), smooth in g (eps ~1e-8 makes it lr * sign(g), which
  // flips on rounding-level differences of near-zero gradients).
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(0.1).eps(1.0).weight_decay(0));
  PolicyState p{lm, packing_model(3), &opt, nullptr, 0};
  StepResult r;
  for (auto& q : lm->parameters()) r.before.push_back(q.detach().clone());
  PhaseTimes times;
  r.out = policy_update(cfg, p, varied_batch(), 0, times);
  for (auto& q : lm->parameters()) r.after.push_back(q.detach().clone()), r.grads.push_back(q.grad().clone());
  return r;
}

// packed_rows: the rows an epoch's packed micro-batches take.
void expect_same_update(Config cfg, int64_t packed_rows) {
  cfg.algo.pack_sequences = false;
  const StepResult pad = one_update(cfg);
  cfg.algo.pack_sequences = true;
  const StepResult pack = one_update(cfg);
  for (const char* k : {"pg_loss", "entropy", "kl", "clip_frac", "grad_norm", "off_policy/is_weight_mean"}) {
    ASSERT_TRUE(pad.out.contains(k)) << k;
    const double want = pad.out[k].get<double>(), got = pack.out[k].get<double>();
    EXPECT_NEAR(got, want, kRel * std::max(std::abs(want), 1e-3)) << k;
  }
  EXPECT_EQ(pack.out["update_tokens"], pad.out["update_tokens"]);
  EXPECT_EQ(pad.out["update_tokens_padded"].get<int64_t>(), 6 * 13 * cfg.algo.epochs);
  EXPECT_EQ(pack.out["update_tokens_padded"].get<int64_t>(), packed_rows * 13 * cfg.algo.epochs);
  double moved = 0;
  for (size_t i = 0; i < pad.grads.size(); ++i) {
    // Gradients: the same sums of per-token terms, rounded apart like the log-probs.
    const double g = pad.grads[i].abs().max().item<double>();
    EXPECT_LE((pack.grads[i] - pad.grads[i]).abs().max().item<double>(), kRel * g + 1e-9) << "grad " << i;
    // Weight steps (lr 0.1, eps 1: ~0.1 g) against their own size; the weights (|w| ~ 0.1-1) round at ~6e-8.
    const auto d_pad = pad.after[i] - pad.before[i], d_pack = pack.after[i] - pack.before[i];
    const double d = d_pad.abs().max().item<double>();
    moved += d;  // (k_proj's bias gets no gradient: softmax ignores a shift shared by every key)
    EXPECT_LE((d_pack - d_pad).abs().max().item<double>(), 1e-4 * d + 1e-7) << "parameter " << i;
  }
  EXPECT_GT(moved, 0.0);
}

TEST(PackedUpdate, OneStepSameLossAndWeightsForEveryAggregation) {
  for (const char* agg : {"token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"}) {
    SCOPED_TRACE(agg);
    Config cfg = packing_config(false);
    cfg.algo.loss_agg = agg;
    cfg.algo.kl_coef = 0.1, cfg.algo.entropy_coef = 0.01;  // KL to the reference and the entropy bonus
    cfg.algo.off_policy_correction = "tis";
    // Packed micro-batches take what fits in three rows: {5, 13, 4, 9, 8} -> [13] [9 4] [8 5], then {6}: 4
    // rows, not 6. (Other micro-batches than padded: the normalizers are the minibatch's, so the same loss.)
    expect_same_update(cfg, 4);
  }
}

TEST(PackedUpdate, MinibatchesAndEpochsMatchToo) {
  Config cfg = packing_config(false);
  cfg.algo.minibatches = 2,
  cfg.algo.epochs = 2;  // two optimizer steps per epoch, the second on moved weights
  cfg.algo.kl_coef = 0.1, cfg.algo.off_policy_correction = "tis";
  cfg.algo.overlong = "mask";
  // A minibatch's micro-batches stay inside it: {5, 13, 4} -> [13] [5 4]; {9, 8, 6} -> [9] [8] [6].
  expect_same_update(cfg, 5);
}

}  // namespace
}  // namespace zerorl::trainer
