// tests/trainer/test_sft.cpp: SFT data, packing, labels and the loss (trainer/sft.h) and the packed forward
// (model/decoder.h forward_packed) against samples run alone through the unpacked forward, with a naive
// per-position cross-entropy as the reference. Not here: whole `zerorl sft` runs (test_sft_runs.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "tests/test_paths.h"
#include "trainer/components.h"
#include "trainer/sft.h"

namespace zerorl::trainer {
namespace {

// The toy task's tokenizer (14 ids, eos 13) and a tiny random Qwen2 over it.
struct Tiny {
  Config cfg;
  tokenizer::Tokenizer tok;
  model::CausalLM lm{nullptr};
  Tiny() : tok(make_tok()) { lm = build_model(cfg, tok, torch::Device(torch::kCPU)); }
  tokenizer::Tokenizer make_tok() {
    cfg.model.tiny_hidden_size = 32, cfg.model.tiny_layers = 2, cfg.model.tiny_heads = 4;
    return build_tokenizer(cfg);
  }
};

// Three samples (ids, prompt_len); the last token is EOS (13).
std::vector<SftSample> samples() {
  return {{{1, 2, 3, 10, 4, 5, 13}, 3}, {{7, 8, 11, 9, 13}, 2}, {{2, 2, 2, 2, 10, 1, 13}, 4}};
}

// The reference: each sample alone through forward(), -log softmax at its response targets, summed over
// all samples, divided by the number of targets.
torch::Tensor naive_loss(model::CausalLM& lm, const std::vector<SftSample>& s) {
  torch::Tensor total = torch::zeros({}, torch::kFloat32);
  int64_t count = 0;
  for (const auto& x : s) {
    auto logits = lm->forward(torch::tensor(x.ids, torch::kLong).view({1, -1}))[0];
    auto logp = torch::log_softmax(logits, -1);
    for (size_t t = static_cast<size_t>(x.prompt_len) - 1; t + 1 < x.ids.size(); ++t, ++count)
      total = total - logp[static_cast<int64_t>(t)][x.ids[t + 1]];
  }
  return total / static_cast<double>(count);
}

std::vector<torch::Tensor> grads_of(model::CausalLM& lm, torch::Tensor loss) {
  lm->zero_grad();
  loss.backward();
  std::vector<torch::Tensor> g;
  for (const auto& p : lm->parameters()) g.push_back(p.grad().clone());
  return g;
}

TEST(Sft, PackingAndLabels) {
  const auto s = samples();
  EXPECT_EQ(pack_samples(s, 12, true), (std::vector<std::vector<size_t>>{{0, 1}, {2}}));  // 7+5, then 7
  EXPECT_EQ(pack_samples(s, 20, true), (std::vector<std::vector<size_t>>{{0, 1, 2}}));
  EXPECT_EQ(pack_samples(s, 20, false), (std::vector<std::vector<size_t>>{{0}, {1}, {2}}));
  const SftBatch b = make_sft_batch(s, {{0, 1}, {2}}, 13);
  // Row 0: sample 0 (prompt 1 2 3) predicts 10 4 5 13 at positions 2..5; sample 1 (prompt 7 8) predicts
  // 11 9 13 at its positions 1..3 (row positions 8..10). Row 1: sample 2 predicts 10 1 13 at 3..5, padded.
  const std::vector<int64_t> want0 = {-100, -100, 10, 4, 5, 13, -100, -100, 11, 9, 13, -100};
  const std::vector<int64_t> want1 = {-100, -100, -100, 10, 1, 13, -100, -100, -100, -100, -100, -100};
  auto lab = b.labels.contiguous();
  EXPECT_EQ(std::vector<int64_t>(lab[0].data_ptr<int64_t>(), lab[0].data_ptr<int64_t>() + 12), want0);
  EXPECT_EQ(std::vector<int64_t>(lab[1].data_ptr<int64_t>(), lab[1].data_ptr<int64_t>() + 12), want1);
  EXPECT_EQ(b.label_tokens, 10);
  auto seg = b.segments.contiguous();
  EXPECT_EQ(seg[0][6].item<int64_t>(), 0);
  EXPECT_EQ(seg[0][7].item<int64_t>(), 1);
  EXPECT_EQ(seg[1][7].item<int64_t>(), -1);
}

TEST(Sft, PackedLogitsEqualEachSampleAlone) {
  Tiny t;
  torch::NoGradGuard ng;
  const auto s = samples();
  const SftBatch b = make_sft_batch(s, {{0, 1, 2}}, 13);
  auto packed = t.lm->forward_packed(b.ids, b.segments)[0];
  int64_t at = 0;
  for (const auto& x : s) {
    auto alone = t.lm->forward(torch::tensor(x.ids, torch::kLong).view({1, -1}))[0];
    auto part = packed.slice(0, at, at + static_cast<int64_t>(x.ids.size()));
    // fp32, reductions of length <= hidden size 32: relative to the logits' scale.
    EXPECT_LE((part - alone).abs().max().item<double>(), 1e-5 * alone.abs().max().item<double>());
    at += static_cast<int64_t>(x.ids.size());
  }
}

TEST(Sft, PackedGradientEqualsUnpacked) {
  Tiny t;
  const auto s = samples();
  const auto ref = grads_of(t.lm, naive_loss(t.lm, s));
  for (bool pack : {true, false}) {
    const auto rows = pack_samples(s, 12, pack);
    const auto got = grads_of(t.lm, sft_loss(t.lm, make_sft_batch(s, rows, 13)));
    double diff = 0, norm = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      diff += (got[i] - ref[i]).pow(2).sum().item<double>();
      norm += ref[i].pow(2).sum().item<double>();
    }
    // fp32: the same sums in another order (10 targets, hidden 32); 1e-6 relative to the gradient's norm.
    EXPECT_LE(std::sqrt(diff), 1e-6 * std::sqrt(norm)) << (pack ? "packed" : "one per row");
    EXPECT_GT(norm, 0);
  }
}

TEST(Sft, LossCoversResponseTokensOnly) {
  Tiny t;
  torch::NoGradGuard ng;
  auto s = samples();
  const double base = sft_loss(t.lm, make_sft_batch(s, {{0, 1, 2}}, 13)).item<double>();
  EXPECT_NEAR(base, naive_loss(t.lm, s).item<double>(), 1e-6 * base);
  // The prompt positions carry no label, so whatever a prompt token's label would be cannot matter; a
  // loss that also covered them (what a naive labels = input_ids does) is a different number.
  SftBatch b = make_sft_batch(s, {{0, 1, 2}}, 13);
  SftBatch all = b;
  all.labels = b.labels.clone();
  all.labels[0][0] = 2, all.labels[0][1] = 3;  // sample 0's prompt targets
  all.label_tokens += 2;
  EXPECT_EQ(b.labels[0][0].item<int64_t>(), -100);
  EXPECT_GT(std::abs(sft_loss(t.lm, all).item<double>() - base), 1e-4 * base);
  // Another prompt changes the context only, never the number of targets.
  auto other = s;
  other[0].ids[0] = 9;
  EXPECT_EQ(make_sft_batch(other, {{0, 1, 2}}, 13).label_tokens, b.label_tokens);
  // A response token's label changes the loss: sample 0's last target (EOS) swapped for another token is
  // not an input to any labelled prediction, so only that label moves.
  other = s;
  other[0].ids.back() = 4;
  const double changed = sft_loss(t.lm, make_sft_batch(other, {{0, 1, 2}}, 13)).item<double>();
  EXPECT_GT(std::abs(changed - base), 1e-4 * base);
}

TEST(Sft, LoadsPromptResponseAndChatRows) {
  Config cfg;
  const auto tok = build_tokenizer(cfg);
  cfg.sft.train_path = testing::write_temp_file(
      "zrl_sft_rows.jsonl",
      "{\"prompt\": \"1+2=\", \"response\": \"3\"}\n"
      "{\"messages\": [{\"role\": \"user\", \"content\": \"1+2=\"}, {\"role\": \"assistant\", \"content\": "
      "\"3\"}]}\n");
  const auto got = load_sft_samples(cfg, tok);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].ids, got[1].ids);  // the same example in both layouts
  EXPECT_EQ(got[0].ids, (std::vector<int64_t>{1, 10, 2, 11, 3, 13}));
  EXPECT_EQ(got[0].prompt_len, 4);
  // sft.max_samples: the first N samples, in file order (checked against the whole file's).
  cfg.sft.train_path = testing::write_temp_file("zrl_sft_three.jsonl",
                                                "{\"prompt\": \"1+2=\", \"response\": \"3\"}\n"
                                                "{\"prompt\": \"2+2=\", \"response\": \"4\"}\n"
                                                "{\"prompt\": \"0+1=\", \"response\": \"1\"}\n");
  const auto all = load_sft_samples(cfg, tok);
  cfg.sft.max_samples = 2;
  const auto first = load_sft_samples(cfg, tok);
  ASSERT_EQ(all.size(), 3u);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].ids, all[0].ids);
  EXPECT_EQ(first[1].ids, all[1].ids);
  EXPECT_NE(first[1].ids, all[2].ids);
  cfg.sft.max_samples = 0;
  cfg.sft.train_path = testing::write_temp_file("zrl_sft_bad.jsonl", "{\"prompt\": \"1+2=\"}\n");
  try {
    load_sft_samples(cfg, tok);
    FAIL() << "a row without a response must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("zrl_sft_bad.jsonl:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("response"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zerorl::trainer
