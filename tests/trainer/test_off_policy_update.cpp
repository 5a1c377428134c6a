// tests/trainer/test_off_policy_update.cpp: algo.off_policy_correction wired into policy_update and the
// trainer: mu == pi_old changes nothing, hand-built behaviour log-probs give the naive per-token loss, its
// gradient and the metrics worked by hand, bad configs are named errors, and a tiny run writes the metrics.
// Not here: the weight formulas against a naive loop (tests/algo/test_off_policy.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "model/config.h"
#include "tests/test_paths.h"
#include "tests/trainer/known_batch.h"
#include "trainer/step.h"
#include "trainer/update.h"

namespace zerorl::trainer {
namespace {

using testing::known_batch;
using testing::tiny_update_model;

Config base_config(const std::string& correction) {
  Config cfg;
  cfg.rollout.group_size = 2, cfg.rollout.temperature = 1.0;
  cfg.trainer.steps = 1;
  cfg.algo.old_logprobs = "recompute";
  cfg.algo.advantage = "dr_grpo";  // r - mean: +0.5, -0.5
  cfg.algo.loss_agg = "token_mean";
  cfg.algo.off_policy_correction = correction;
  cfg.optim.grad_clip = 0;  // the gradient as the loss made it
  return cfg;
}

// [n, Tr] -> one row per answer, as long as its response (what the engine hands over).
std::vector<std::vector<float>> to_rows(const torch::Tensor& t, const UpdateBatch& b) {
  auto c = t.to(torch::kCPU).contiguous();
  std::vector<std::vector<float>> rows;
  for (size_t i = 0; i < b.responses.size(); ++i) {
    rows.emplace_back(b.responses[i].size());
    for (size_t j = 0; j < b.responses[i].size(); ++j)
      rows[i][j] = c[static_cast<int64_t>(i)][static_cast<int64_t>(j)].item<float>();
  }
  return rows;
}

struct UpdateRun {
  Json out;
  std::vector<torch::Tensor> params, grads;
};
UpdateRun run_update(const Config& cfg, uint64_t seed, const UpdateBatch& b) {
  auto lm = tiny_update_model(seed);
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(1e-3));
  PolicyState p{lm, model::CausalLM(nullptr), &opt, nullptr, 0};
  PhaseTimes times;
  UpdateRun r;
  r.out = policy_update(cfg, p, b, 0, times);
  for (auto& q : lm->parameters())
    r.params.push_back(q.detach().clone()), r.grads.push_back(q.grad().clone());
  return r;
}

// (a) The engine's log-probs equal the trainer's old ones (recompute_old_logprobs: the very numbers the
// old_logprobs phase computes): every weight is exp(0) = 1, so the loss, gradient and step are bit-identical.
TEST(OffPolicyUpdate, BehaviourEqualToOldPolicyChangesNothing) {
  for (const std::string mode : {"tis", "mask"}) {
    Config none = base_config("none"), corr = base_config(mode);
    none.algo.epochs = corr.algo.epochs = 2;  // the 2nd epoch has ratios != 1: still weight 1
    UpdateBatch b = known_batch();
    auto lm = tiny_update_model(1);
    b.logprobs_sampling = to_rows(recompute_old_logprobs(corr, lm, b, 0), b);
    const UpdateRun a = run_update(none, 1, b), c = run_update(corr, 1, b);
    EXPECT_EQ(a.out["pg_loss"].get<double>(), c.out["pg_loss"].get<double>()) << mode;
    EXPECT_EQ(a.out["grad_norm"].get<double>(), c.out["grad_norm"].get<double>()) << mode;
    for (size_t i = 0; i < a.params.size(); ++i) {
      EXPECT_TRUE(torch::equal(a.grads[i], c.grads[i])) << mode << " grad " << i;
      EXPECT_TRUE(torch::equal(a.params[i], c.params[i])) << mode << " param " << i;
    }
    EXPECT_EQ(c.out["off_policy/is_ratio_max"].get<double>(), 1.0) << c.out.dump();
    EXPECT_EQ(c.out["off_policy/is_weight_mean"].get<double>(), 1.0);
    EXPECT_EQ(c.out["off_policy/logprob_abs_diff"].get<double>(), 0.0);
    EXPECT_EQ(c.out[mode == "tis" ? "off_policy/is_clip_frac" : "off_policy/is_masked_frac"].get<double>(),
              0.0);
    EXPECT_FALSE(a.out.contains("off_policy/is_weight_mean")) << "none measures nothing: " << a.out.dump();
  }
}

// log r = logp_old - logp_mu per token: answer 0 (A = +0.5): r = 3, 0.6; answer 1 (A = -0.5): r = 1, 3/2, 4,
// 1/3.
const std::vector<std::vector<double>> kRatios = {{3.0, 0.6}, {1.0, 1.5, 4.0, 1.0 / 3.0}};
const std::vector<double> kAdv = {0.5, -0.5};

UpdateBatch hand_batch(const Config& cfg, uint64_t seed) {
  UpdateBatch b = known_batch();
  auto lm = tiny_update_model(seed);
  b.logprobs_sampling = to_rows(recompute_old_logprobs(cfg, lm, b, 0), b);
  for (size_t i = 0; i < kRatios.size(); ++i)
    for (size_t j = 0; j < kRatios[i].size(); ++j)
      b.logprobs_sampling[i][j] -= static_cast<float>(std::log(kRatios[i][j]));
  return b;
}

// The naive reference: the weighted token-mean loss sum_t -A_i w_t logp_t / N (at rho = 1 the PPO term is
// -A * rho and d rho = d logp) from one unpadded forward per answer, and its gradient.
std::vector<torch::Tensor> naive_grads(uint64_t seed, const UpdateBatch& b,
                                       const std::vector<std::vector<double>>& w) {
  auto lm = tiny_update_model(seed);
  double n = 0;
  for (const auto& row : w)
    for (double x : row) n += x > 0 ? 1 : 0;
  torch::Tensor loss = torch::zeros({});
  for (size_t i = 0; i < b.responses.size(); ++i) {
    std::vector<int64_t> ids = b.prompt_ids[i];
    ids.insert(ids.end(), b.responses[i].begin(), b.responses[i].end());
    auto logits = lm->logits(lm->hidden_states(torch::tensor(ids).unsqueeze(0)));
    auto logp = torch::log_softmax(logits[0].to(torch::kFloat32), -1);
    const size_t np = b.prompt_ids[i].size();
    for (size_t j = 0; j < b.responses[i].size(); ++j) {
      if (w[i][j] == 0) continue;  // dropped (mask)
      loss = loss - kAdv[i] * w[i][j] * logp[static_cast<int64_t>(np - 1 + j)][b.responses[i][j]] / n;
    }
  }
  loss.backward();
  std::vector<torch::Tensor> g;
  for (auto& q : lm->parameters()) g.push_back(q.grad().clone());
  return g;
}

void expect_grads_close(const std::vector<torch::Tensor>& got, const std::vector<torch::Tensor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    // float32, batched padded layout vs one unpadded row: summation order differs; 1e-4 of the tensor's
    // largest entry is far above that rounding and far below a missing or doubled weight (factors 1/3..2).
    const double scale = std::max(1e-6, want[i].abs().max().item<double>());
    EXPECT_LE((got[i] - want[i]).abs().max().item<double>(), 1e-4 * scale) << "param " << i;
  }
}

// (b) tis with C = 2: weights 2, 0.6 | 1, 3/2, 2, 1/3; two of six truncated; ratio max 4.
TEST(OffPolicyUpdate, TisLossGradientAndMetricsMatchTheHandWorkedBatch) {
  const Config cfg = base_config("tis");
  const UpdateRun r = run_update(cfg, 4, hand_batch(cfg, 4));
  const std::vector<std::vector<double>> w = {{2.0, 0.6}, {1.0, 1.5, 2.0, 1.0 / 3.0}};
  double loss = 0;
  for (size_t i = 0; i < w.size(); ++i)
    for (double x : w[i]) loss += -kAdv[i] * x / 6.0;
  // rho = 1 up to float32 rounding between the no-grad and the training forward: relative 1e-5.
  EXPECT_NEAR(r.out["pg_loss"].get<double>(), loss, 1e-5 * std::abs(loss)) << r.out.dump();
  EXPECT_DOUBLE_EQ(r.out["off_policy/is_clip_frac"].get<double>(), 2.0 / 6.0);
  EXPECT_NEAR(r.out["off_policy/is_ratio_max"].get<double>(), 4.0, 1e-5 * 4.0);
  const double ratio_mean = (3.0 + 0.6 + 1.0 + 1.5 + 4.0 + 1.0 / 3.0) / 6.0;
  EXPECT_NEAR(r.out["off_policy/is_ratio_mean"].get<double>(), ratio_mean, 1e-5 * ratio_mean);
  const double weight_mean = (2.0 + 0.6 + 1.0 + 1.5 + 2.0 + 1.0 / 3.0) / 6.0;
  EXPECT_NEAR(r.out["off_policy/is_weight_mean"].get<double>(), weight_mean, 1e-5 * weight_mean);
  const double abs_diff = (2 * std::log(3.0) - std::log(0.6) + std::log(1.5) + std::log(4.0)) / 6.0;
  EXPECT_NEAR(r.out["off_policy/logprob_abs_diff"].get<double>(), abs_diff, 1e-5 * abs_diff);
  expect_grads_close(r.grads, naive_grads(4, known_batch(), w));
}

// (b) mask with C = 2: r = 3, 4 and 1/3 fall outside [1/2, 2] and leave the loss and its token count.
TEST(OffPolicyUpdate, MaskDropsOutOfBoundTokensFromLossAndNormalizer) {
  const Config cfg = base_config("mask");
  const UpdateRun r = run_update(cfg, 5, hand_batch(cfg, 5));
  const std::vector<std::vector<double>> w = {{0.0, 0.6}, {1.0, 1.5, 0.0, 0.0}};  // 0: dropped
  const double loss = (-0.5 * 0.6 + 0.5 * (1.0 + 1.5)) / 3.0;                     // over the 3 kept tokens
  EXPECT_NEAR(r.out["pg_loss"].get<double>(), loss, 1e-5 * std::abs(loss)) << r.out.dump();
  EXPECT_DOUBLE_EQ(r.out["off_policy/is_masked_frac"].get<double>(), 3.0 / 6.0);
  EXPECT_FALSE(r.out.contains("off_policy/is_clip_frac"));
  EXPECT_NEAR(r.out["off_policy/is_weight_mean"].get<double>(), 3.1 / 3, 1e-5);  // (0.6 + 1 + 1.5) / 3
  expect_grads_close(r.grads, naive_grads(5, known_batch(), w));
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OffPolicyUpdate, ConfigsThatCannotCorrectAreNamedErrors) {
  Config cfg = base_config("tis");
  // auto does not read pi_old from the engine when a correction is on: it needs pi_old apart from the
  // engine's mu (current with one optimizer step per batch, else recompute).
  cfg.algo.old_logprobs = "auto";
  EXPECT_EQ(resolve_old_logprobs(cfg, torch::kFloat32, false).value, "current");
  cfg.algo.epochs = 2;
  EXPECT_EQ(resolve_old_logprobs(cfg, torch::kFloat32, false).value, "recompute");
  cfg.algo.epochs = 1;
  // rollout: mu = pi_old, every weight 1: refused, naming both keys.
  cfg.algo.old_logprobs = "rollout";
  std::string msg = error_of([&] { validate_old_logprobs(cfg); });
  EXPECT_NE(msg.find("algo.off_policy_correction = tis"), std::string::npos) << msg;
  EXPECT_NE(msg.find("algo.old_logprobs = rollout"), std::string::npos) << msg;
  UpdateBatch b = hand_batch(cfg, 6);
  b.logprobs_policy = b.logprobs_sampling;
  msg = error_of([&] { run_update(cfg, 6, b); });  // policy_update refuses it too (bench/ calls it directly)
  EXPECT_NE(msg.find("algo.old_logprobs = rollout"), std::string::npos) << msg;
  // Greedy decoding has no sampling distribution.
  cfg.algo.old_logprobs = "recompute", cfg.rollout.temperature = 0;
  msg = error_of([&] { validate_old_logprobs(cfg); });
  EXPECT_NE(msg.find("rollout.temperature = 0"), std::string::npos) << msg;
  // No behaviour log-probs, or rows that do not match the answers.
  cfg.rollout.temperature = 1;
  msg = error_of([&] { run_update(cfg, 6, known_batch()); });
  EXPECT_NE(msg.find("0 rows of behaviour log-probs"), std::string::npos) << msg;
  b = hand_batch(cfg, 6);
  b.logprobs_sampling[1].pop_back();
  msg = error_of([&] { run_update(cfg, 6, b); });
  EXPECT_NE(msg.find("answer 1 has 4 tokens but 3 behaviour log-probs"), std::string::npos) << msg;
  // The cap must be > 1 and the correction one of the three.
  Config c;
  msg = error_of([&] { config::apply_overrides(c, {"algo.is_cap=1"}), config::validate(c); });
  EXPECT_NE(msg.find("is_cap"), std::string::npos) << msg;
  EXPECT_NE(msg.find("> 1"), std::string::npos) << msg;
  Config d;
  msg = error_of(
      [&] { config::apply_overrides(d, {"algo.off_policy_correction=truncate"}), config::validate(d); });
  EXPECT_NE(msg.find("off_policy_correction"), std::string::npos) << msg;
}

// (c) configs/tiny_test.yaml, recompute + tis, three steps: every metrics.jsonl line has the IS metrics. In
// float32 the engine's log-probs are the trainer's up to rounding of different GEMM shapes (~1e-7, docs/
// design.md), so the batch is on-policy to that rounding: a misaligned or wrong-temperature mu would not be.
TEST(OffPolicyUpdate, TinyRunWithTisWritesTheMetrics) {
  const std::string out = (std::filesystem::temp_directory_path() / "zerorl_off_policy_tis").string();
  zerorl::remove_tree(out);
  Config cfg;
  config::load_yaml_file(cfg, testing::source_dir() + "/configs/tiny_test.yaml");
  cfg.run.output_dir = out;
  cfg.trainer.steps = 3, cfg.trainer.save_every = 0, cfg.trainer.tensorboard = false;
  cfg.algo.old_logprobs = "recompute", cfg.algo.off_policy_correction = "tis";
  {
    Trainer t(cfg, dist::Context{});
    t.start("");
    for (int i = 0; i < 3; ++i) t.step();
  }
  const auto rows = read_jsonl(out + "/metrics.jsonl");
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    for (const char* k : {"off_policy/is_ratio_mean", "off_policy/is_ratio_max", "off_policy/is_weight_mean",
                          "off_policy/is_clip_frac", "off_policy/logprob_abs_diff"})
      ASSERT_TRUE(row.contains(k)) << k << " missing: " << row.dump();
    EXPECT_LT(row["off_policy/logprob_abs_diff"].get<double>(), 1e-4) << row.dump();
    EXPECT_NEAR(row["off_policy/is_weight_mean"].get<double>(), 1.0, 1e-4);
    EXPECT_GE(row["off_policy/is_ratio_max"].get<double>(), row["off_policy/is_ratio_mean"].get<double>());
    EXPECT_EQ(row["off_policy/is_clip_frac"].get<double>(), 0.0);
  }
  zerorl::remove_tree(out);
}

}  // namespace
}  // namespace zerorl::trainer
