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
  m.layers = 28, m.hidden = 1536, m.intermediate = 8960, m.vocab = 151936, m.kv_heads = 2, m.head_dim = 128;
  m.micro_batch_tokens = 16384, m.rollout_seqs = 512, m.seq_len = 1280;
  m.bf16_compute = true;
  m.device_bytes = 141.0 * 1024 * 1024 * 1024;
  return m;
}

constexpr double kGiB = 1024.0 * 1024 * 1024;

// Every term as a literal worked out by hand from the shapes above (not by the formulas under test).
TEST(MemoryPlan, TermsMatchHandArithmetic) {
  const MemoryInputs m = qwen15b();
  const MemoryPlan p = plan_memory(m);
  const double n = static_cast<double>(m.params);
  EXPECT_DOUBLE_EQ(p.weights + p.master + p.grads + p.optimizer, 18.0 * n);  // 2 + 4 + 4 + 8 bytes/param
  EXPECT_DOUBLE_EQ(p.compute_grads, 2.0 * n);  // bf16 grads of one micro-batch before the fp32 accumulation
  // KV per token: 2 (K, V) x 28 layers x 2 heads x 128 x 2 B = 28672 B; a slot of 1280 tokens: 36700160 B,
  // plus its sampling workspace 6 x 151936 x 4 B = 3646464 B: 40346624 B; 512 slots: 20657471488 B.
  EXPECT_DOUBLE_EQ(p.kv_cache, 20657471488.0);
  EXPECT_EQ(p.kv_slots, 512);
  // Activations: 16384 tokens x 34 x 1536 B x 28 layers = 23957864448 B; logits 16384 x 8 x 151936 B.
  EXPECT_DOUBLE_EQ(p.activations, 23957864448.0);
  EXPECT_DOUBLE_EQ(p.logits, 19914555392.0);
  // The engine keeps its cache across the update: 20 n + KV + activations + logits = 95404177408 B.
  EXPECT_DOUBLE_EQ(p.total, 95404177408.0);
  EXPECT_TRUE(p.fits) << p.to_json().dump();
}

// The fused LM head keeps the float32 logits (4 B) and writes their gradient in bf16 (2 B): 16384 x 6 x
// 151936 B, where the two-node path's float32 gradient makes it 8; nothing else changes.
TEST(MemoryPlan, TheFusedLmHeadCountsSixBytesALogit) {
  MemoryInputs m = qwen15b();
  m.fused_lm_head = true;
  const MemoryPlan p = plan_memory(m);
  EXPECT_DOUBLE_EQ(p.logits, 14935916544.0);
  EXPECT_DOUBLE_EQ(p.total, 95404177408.0 - 2.0 * 16384 * 151936);
}

// A byte budget caps the slots: 10 GiB = 10737418240 B / 40346624 B per slot = 266.1 -> 266 slots,
// 266 x 40346624 = 10732201984 B. A token budget of 100 000 holds 78 slots of 1280 tokens.
TEST(MemoryPlan, KvCacheFollowsTheEngineBudget) {
  MemoryInputs m = qwen15b();
  m.kv_budget.bytes = static_cast<int64_t>(10 * kGiB);
  MemoryPlan p = plan_memory(m);
  EXPECT_EQ(p.kv_slots, 266);
  EXPECT_DOUBLE_EQ(p.kv_cache, 10732201984.0);
  m.kv_budget.tokens = 100000;
  p = plan_memory(m);
  EXPECT_EQ(p.kv_slots, 78);
  EXPECT_DOUBLE_EQ(p.kv_cache, 78 * 40346624.0);
  // rollout_seqs 0 (eval shares the cache: as many as the budget holds) counts the whole byte budget.
  m.kv_budget.tokens = 0, m.rollout_seqs = 0;
  EXPECT_DOUBLE_EQ(plan_memory(m).kv_cache, 10732201984.0);
  // Not one sequence fits: not a fit, and the engine's error text (the key, the numbers) is the advice.
  m.kv_budget.bytes = 1 << 20;
  m.kv_budget.source = "rollout.kv_cache_gb = 0.0009765625";
  p = plan_memory(m);
  EXPECT_FALSE(p.fits);
  EXPECT_NE(p.recommendation.find("rollout.kv_cache_gb = 0.0009765625"), std::string::npos)
      << p.recommendation;
  EXPECT_NE(p.recommendation.find("1280 tokens"), std::string::npos) << p.recommendation;
}

// 90 GiB: states (28.75 GiB) + the larger of activations (40.86 GiB) and KV (19.24 GiB) would fit in the 81
// GiB usable, but the cache stays allocated during the update, so all three count: 88.85 GiB does not fit.
// Room beside the states and activations: 81 x 2^30 - 30874286080 - 43872419840 = 12226381824 B = 11.39 GiB.
TEST(MemoryPlan, CountsTheKvCacheKeptAcrossTheUpdate) {
  MemoryInputs m = qwen15b();
  m.device_bytes = 90 * kGiB;
  const MemoryPlan p = plan_memory(m);
  EXPECT_FALSE(p.fits) << p.to_json().dump();
  EXPECT_NE(p.recommendation.find("rollout.kv_cache_gb <= 11.39"), std::string::npos) << p.recommendation;
  EXPECT_NE(p.recommendation.find("algo.micro_batch_tokens"), std::string::npos) << p.recommendation;
}

TEST(MemoryPlan, RecommendsTheTermThatOverflows) {
  MemoryInputs m = qwen15b();
  m.micro_batch_tokens = 1 << 20;  // activations blow up
  auto p = plan_memory(m);
  EXPECT_FALSE(p.fits);
  EXPECT_NE(p.recommendation.find("algo.micro_batch_tokens"), std::string::npos) << p.recommendation;
  EXPECT_EQ(p.recommendation.find("rollout.kv_cache_gb"), std::string::npos) << p.recommendation;
  m = qwen15b();
  m.rollout_seqs = 1 << 16;  // no budget: every sequence its own slot, 2.4 TiB
  p = plan_memory(m);
  EXPECT_FALSE(p.fits);
  EXPECT_NE(p.recommendation.find("rollout.kv_cache_gb"), std::string::npos) << p.recommendation;
  EXPECT_EQ(p.recommendation.find("algo.micro_batch_tokens"), std::string::npos) << p.recommendation;
  m = qwen15b();
  m.device_bytes = 16.0 * 1024 * 1024 * 1024;
  p = plan_memory(m);
  EXPECT_NE(p.recommendation.find("model states"), std::string::npos) << p.recommendation;
}

// 7B with fp32 masters on 141 GB H200s (the case), 8 ranks: W = 7e9 parameters, 4096 tokens per
// micro-batch with checkpointing, 28 layers, hidden 3584, vocab 152064, no KV cache counted. By hand:
// activations 4096 x 2 x 3584 x 28 + 4096 x 34 x 3584 = 822083584 + 499122176 = 1321205760 B, logits
// 4096 x 8 x 152064 = 4982833152 B (6304038912 B together).
//  zero 0: 2 + 4 + 4 + 2 + 8 = 20 B/param = 140e9 B of states: above the 126.9e9 usable on its own;
//  zero 1: 2 (bf16) + 4/8 (masters) + 4 (fp32 grads) + 2 (bf16 grads) + 8/8 (moments) = 9.5 B/param
//          = 66.5e9 B, total 72804038912 B: fits.
TEST(MemoryPlan, ShardsOptimizerStateUnderZeroOneAndRecommendsIt) {
  MemoryInputs m;
  m.params = 7000000000;
  m.layers = 28, m.hidden = 3584, m.intermediate = 18944, m.vocab = 152064, m.kv_heads = 4, m.head_dim = 128;
  m.micro_batch_tokens = 4096, m.rollout_seqs = 0, m.seq_len = 0;
  m.bf16_compute = true, m.gradient_checkpointing = true;
  m.device_bytes = 141e9;
  m.world_size = 8;
  const MemoryPlan p = plan_memory(m);
  EXPECT_DOUBLE_EQ(p.activations + p.logits, 6304038912.0);
  EXPECT_DOUBLE_EQ(p.total, 146304038912.0);
  EXPECT_FALSE(p.fits);
  EXPECT_NE(p.recommendation.find("set dist.zero: 1"), std::string::npos) << p.recommendation;
  EXPECT_NE(p.recommendation.find("over the 8 ranks"), std::string::npos) << p.recommendation;
  m.zero = 1;
  const MemoryPlan z = plan_memory(m);
  EXPECT_DOUBLE_EQ(z.master, 3.5e9);
  EXPECT_DOUBLE_EQ(z.optimizer, 7e9);
  EXPECT_DOUBLE_EQ(z.grads + z.compute_grads, 42e9);
  EXPECT_DOUBLE_EQ(z.total, 72804038912.0);
  EXPECT_TRUE(z.fits) << z.to_json().dump();
  // One rank: nothing to shard over; the advice names more GPUs with dist.zero: 1.
  m.zero = 0, m.world_size = 1;
  const MemoryPlan one = plan_memory(m);
  EXPECT_FALSE(one.fits);
  EXPECT_NE(one.recommendation.find("more GPUs with dist.zero: 1"), std::string::npos) << one.recommendation;
  // fp32 compute under zero 1 (CPU runs): fp32 weights 4 + masters 4/8 + grads 4 + one micro-batch's fp32
  // grads 4 + moments 8/8 = 13.5 B/param.
  m.bf16_compute = false, m.zero = 1, m.world_size = 8, m.device_bytes = 0;
  const MemoryPlan f = plan_memory(m);
  EXPECT_DOUBLE_EQ(f.weights + f.master + f.grads + f.compute_grads + f.optimizer, 13.5 * 7e9);
}

// The device budget is free memory plus what this process already holds, capped by the total: an H200 that
// another process fills to 100 GiB leaves too little for the 1.5B recipe, and the plan says what to change.
TEST(MemoryPlan, DeviceBudgetExcludesOtherProcesses) {
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

// 64k tokens per micro-batch do not fit in 141 GiB with full activations (~2.7 MB per token: 197 GiB in
// all) but do with per-layer checkpointing (~1.3 MB, mostly logits: 116 GiB of the 126.9 usable): the plan
// turns checkpointing on instead of failing.
TEST(MemoryPlan, TurnsCheckpointingOnWhenThatMakesItFit) {
  MemoryInputs m = qwen15b();
  m.micro_batch_tokens = 65536;
  m.rollout_seqs = 128;  // 4.81 GiB of KV cache beside the 28.75 GiB of states
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
