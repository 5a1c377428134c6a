// tests/rollout/stop_memory_test.cpp: stop rules (EOS, stop strings across token boundaries, length) and
// the KV budget arithmetic. Not here: samplers, the engine.
#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "rollout/memory.h"
#include "rollout/stop.h"

namespace zerorl::rollout {
namespace {

// Detokenizer over a fixed id -> text table (stands in for the tokenizer's streaming decoder).
class TableStream : public TextStream {
 public:
  explicit TableStream(std::map<int64_t, std::string> t) : table_(std::move(t)) {}
  std::string push(int64_t id) override { return table_.at(id); }

 private:
  std::map<int64_t, std::string> table_;
};

const std::map<int64_t, std::string> kTable = {{1, "The "}, {2, "answer"}, {3, " is"}, {4, " 4"},
                                               {5, "</an"}, {6, "swer>"},  {7, "!"},   {9, "<eos>"}};

FinishReason run(const StopRules& rules, const std::vector<int64_t>& ids, int64_t* used, std::string* text) {
  StopChecker c(&rules, std::make_unique<TableStream>(kTable));
  for (int64_t id : ids) {
    auto r = c.feed(id);
    if (r != FinishReason::kNone) {
      *used = c.generated(), *text = c.text();
      return r;
    }
  }
  *used = c.generated(), *text = c.text();
  return FinishReason::kNone;
}

TEST(StopChecker, Table) {
  struct Row {
    StopRules rules;
    std::vector<int64_t> ids;
    FinishReason want;
    int64_t used;
    std::string text;
  };
  const std::vector<Row> rows = {
      {{{9}, {}, 100, false}, {1, 2, 9, 3}, FinishReason::kEos, 3, "The answer"},
      {{{9}, {}, 100, true}, {1, 2, 9, 3}, FinishReason::kNone, 4, "The answer<eos> is"},
      {{{9}, {"</answer>"}, 100, false}, {1, 2, 5, 6, 7}, FinishReason::kStop, 4, "The answer</answer>"},
      {{{9}, {"r is"}, 100, false}, {1, 2, 3, 4}, FinishReason::kStop, 3, "The answer is"},
      {{{}, {"zzz"}, 3, false}, {1, 2, 3, 4}, FinishReason::kLength, 3, "The answer is"},
      {{{9}, {"The"}, 100, false}, {1, 2}, FinishReason::kStop, 1, "The"},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    int64_t used = 0;
    std::string text;
    EXPECT_EQ(run(rows[i].rules, rows[i].ids, &used, &text), rows[i].want) << "row " << i;
    EXPECT_EQ(used, rows[i].used) << "row " << i;
    EXPECT_EQ(text, rows[i].text) << "row " << i;
  }
  EXPECT_STREQ(finish_reason_name(FinishReason::kStop), "stop");
}

TEST(StopChecker, StopStringsNeedATokenizer) {
  StopRules rules{{}, {"x"}, 10, false};
  EXPECT_THROW(StopChecker(&rules, nullptr), Error);
}

// Per-token KV bytes worked out by hand from the models' config.json, not from the formula under test.
TEST(KvPlan, BytesPerTokenOfKnownModels) {
  // Qwen2.5-0.5B: 24 layers, 2 KV heads of 64, bf16: K and V = 2 * 24 * 2 * 64 * 2 B = 12288 B (12 KiB).
  EXPECT_EQ(kv_bytes_per_token({24, 2, 64, 2, 151936}), 12288);
  // Qwen2.5-1.5B: 28 layers, 2 KV heads of 128, bf16: 2 * 28 * 2 * 128 * 2 B = 28672 B (28 KiB).
  EXPECT_EQ(kv_bytes_per_token({28, 2, 128, 2, 151936}), 28672);
  // Llama-3.1-8B: 32 layers, 8 KV heads of 128, fp32: 2 * 32 * 8 * 128 * 4 B = 262144 B (256 KiB).
  EXPECT_EQ(kv_bytes_per_token({32, 8, 128, 4, 128256}), 262144);
}

TEST(KvPlan, CountsQwen05bSlots) {
  const KvShape qwen{24, 2, 64, 2, 151936};
  // One slot of 768 tokens: 12288 * 768 = 9437184 B of K/V + 6 workspace rows * 151936 * 4 B = 3646464 B.
  const int64_t per_slot = 9437184 + 3646464;
  EXPECT_EQ(slot_bytes(qwen, 768), per_slot);
  KvBudget bytes;
  bytes.bytes = 100 * per_slot + 5;
  auto plan = plan_kv(qwen, 768, bytes, 0);
  EXPECT_EQ(plan.slots, 100);
  EXPECT_EQ(plan.bytes, 100 * per_slot);
  EXPECT_EQ(plan_kv(qwen, 768, bytes, 64).slots, 64);  // fewer wanted than fit
  KvBudget tokens;                                     // 10 000 cached tokens hold 13 slots of 768
  tokens.tokens = 10000;
  EXPECT_EQ(plan_kv(qwen, 768, tokens, 0).slots, 13);
  KvBudget all = bytes;  // every limit applies: the smallest wins
  all.tokens = 10000, all.seqs = 7;
  EXPECT_EQ(plan_kv(qwen, 768, all, 0).slots, 7);
  all.seqs = 0;
  EXPECT_EQ(plan_kv(qwen, 768, all, 0).slots, 13);
  EXPECT_EQ(plan_kv(qwen, 768, KvBudget{}, 40).slots, 40);  // no limit: every sequence wanted
  EXPECT_THROW(plan_kv(qwen, 768, KvBudget{}, 0), Error);   // "as many as fit" of no limit
}

// Not one sequence fits: the error names the budget's source, the config keys to change and the numbers.
TEST(KvPlan, FailsFastWithARecommendation) {
  const KvShape qwen{24, 2, 64, 2, 151936};
  KvBudget b;
  b.bytes = 100 << 20;  // 100 MiB; 32768 tokens need 12288 * 32768 B = 384 MiB + workspace
  b.source = "rollout.kv_cache_gb = 0.09765625";
  try {
    plan_kv(qwen, 32768, b, 8);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rollout.kv_cache_gb"), std::string::npos) << m;
    EXPECT_NE(m.find("rollout.kv_cache_fraction"), std::string::npos) << m;
    EXPECT_NE(m.find("rollout.max_new_tokens"), std::string::npos) << m;
    EXPECT_NE(m.find("32768 tokens"), std::string::npos) << m;
    // (100 MiB - 3646464 B of workspace) / 12288 B per token = 8236.6: at most 8236 tokens fit.
    EXPECT_NE(m.find("8236 tokens or less"), std::string::npos) << m;
  }
  KvBudget t;
  t.tokens = 1000;
  try {
    plan_kv(qwen, 1024, t, 8);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rollout.max_total_tokens"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zerorl::rollout
