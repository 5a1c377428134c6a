// tests/trainer/test_memory_plan.cpp: the memory estimate against hand arithmetic, and the recommendation
// picks the term that does not fit. Not here: dist::discover (tests/dist/).
#include <gtest/gtest.h>

#include "trainer/memory_plan.h"

namespace zerorl::trainer {
namespace {

// Qwen2.5-1.5B shapes: 28 layers, hidden 1536, intermediate 8960, vocab 151936, 2 KV heads of 128.
MemoryInputs qwen15b() {
  MemoryInputs m;
  m.params = 1543714304;
  m.layers = 28, m.hidden = 1536, m.intermediate = 8960, m.vocab = 151936, m.kv_dim = 256;
  m.micro_batch_tokens = 16384, m.rollout_seqs = 512, m.seq_len = 1280;
  m.bf16_compute = true;
  m.device_bytes = 141.0 * 1024 * 1024 * 1024;
  return m;
}

TEST(MemoryPlan, TermsMatchHandArithmetic) {
  const MemoryInputs m = qwen15b();
  const MemoryPlan p = plan_memory(m);
  const double n = static_cast<double>(m.params);
  EXPECT_DOUBLE_EQ(p.weights + p.master + p.grads + p.optimizer, 18.0 * n);  // 2 + 4 + 4 + 8 bytes/param
  EXPECT_DOUBLE_EQ(p.compute_grads, 2.0 * n);  // bf16 grads of one micro-batch before the fp32 accumulation
  EXPECT_DOUBLE_EQ(p.kv_cache, 512.0 * 1280 * 2 * 28 * 256 * 2);
  EXPECT_DOUBLE_EQ(p.logits, 16384.0 * 8 * 151936);
  EXPECT_DOUBLE_EQ(p.total, 20.0 * n + std::max(p.activations + p.logits, p.kv_cache));
  EXPECT_TRUE(p.fits) << p.to_json().dump();
}

TEST(MemoryPlan, RecommendsTheTermThatOverflows) {
  MemoryInputs m = qwen15b();
  m.micro_batch_tokens = 1 << 20;  // activations blow up
  auto p = plan_memory(m);
  EXPECT_FALSE(p.fits);
  EXPECT_NE(p.recommendation.find("algo.micro_batch_tokens"), std::string::npos) << p.recommendation;
  m = qwen15b();
  m.rollout_seqs = 1 << 16;
  p = plan_memory(m);
  EXPECT_NE(p.recommendation.find("rollout.prompts_per_step"), std::string::npos) << p.recommendation;
  m = qwen15b();
  m.device_bytes = 16.0 * 1024 * 1024 * 1024;
  p = plan_memory(m);
  EXPECT_NE(p.recommendation.find("model states"), std::string::npos) << p.recommendation;
}

// The device budget is free memory plus what this process already holds, capped by the total: an H200 that
// another process fills to 100 GiB leaves too little for the 1.5B recipe, and the plan says what to change.
TEST(MemoryPlan, DeviceBudgetExcludesOtherProcesses) {
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  const MemoryInputs m = qwen15b();
  const double held = 2.0 * 1543714304 * 3;  // bf16 weights + fp32 masters, loaded before the check
  EXPECT_DOUBLE_EQ(device_budget_bytes({141 * kGiB, 135 * kGiB}, held), 141 * kGiB);  // capped by the total
  EXPECT_DOUBLE_EQ(device_budget_bytes({141 * kGiB, 30 * kGiB}, held), 30 * kGiB + held);
  MemoryInputs busy = m;
  busy.device_bytes = device_budget_bytes({141 * kGiB, 141 * kGiB - 100 * kGiB - held}, held);
  const MemoryPlan p = plan_memory(busy);
  EXPECT_FALSE(p.fits) << p.to_json().dump();
  EXPECT_DOUBLE_EQ(p.device, 41 * kGiB);
  EXPECT_NE(p.recommendation.find("algo.micro_batch_tokens"), std::string::npos) << p.recommendation;
  MemoryInputs idle = m;
  idle.device_bytes = device_budget_bytes({141 * kGiB, 141 * kGiB - held}, held);
  EXPECT_TRUE(plan_memory(idle).fits);
  // This machine's answer: none without a CUDA library in the process, else a sane pair.
  if (auto mem = cuda_device_memory()) {
    EXPECT_GT(mem->total, 0.0);
    EXPECT_LE(mem->free, mem->total);
  }
}

// 64k tokens per micro-batch do not fit in 141 GiB with full activations (~2.7 MB per token) but do with
// per-layer checkpointing (~1.3 MB, mostly logits): the plan turns checkpointing on instead of failing.
TEST(MemoryPlan, TurnsCheckpointingOnWhenThatMakesItFit) {
  MemoryInputs m = qwen15b();
  m.micro_batch_tokens = 65536;
  EXPECT_FALSE(plan_memory(m).fits);
  const MemoryPlan p = plan_memory_or_checkpoint(m);
  EXPECT_TRUE(p.fits) << p.to_json().dump();
  EXPECT_TRUE(p.checkpointing_turned_on);
  m.micro_batch_tokens = 1 << 20;  // too much either way: the original failure and its recommendation
  const MemoryPlan q = plan_memory_or_checkpoint(m);
  EXPECT_FALSE(q.fits);
  EXPECT_FALSE(q.checkpointing_turned_on);
  EXPECT_NE(q.recommendation.find("model.gradient_checkpointing"), std::string::npos) << q.recommendation;
  m.micro_batch_tokens = 16384;  // fits as configured: left alone
  EXPECT_FALSE(plan_memory_or_checkpoint(m).checkpointing_turned_on);
}

}  // namespace
}  // namespace zerorl::trainer
