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

TEST(KvPlan, CountsQwen05bSlots) {
  const KvShape qwen{24, 2, 64, 2, 151936};
  EXPECT_EQ(kv_bytes_per_token(qwen), 2 * 24 * 2 * 64 * 2);  // 12 KiB per token
  const int64_t per_slot = 12288 * 768 + kWorkspaceRows * 151936 * 4;
  auto plan = plan_kv(qwen, 768, 100 * per_slot + 5, 0);
  EXPECT_EQ(plan.slots, 100);
  EXPECT_EQ(plan_kv(qwen, 768, 100 * per_slot, 64).slots, 64);
  EXPECT_EQ(plan.bytes, 100 * per_slot);
}

TEST(KvPlan, FailsFastWithARecommendation) {
  const KvShape qwen{24, 2, 64, 2, 151936};
  try {
    plan_kv(qwen, 32768, 100 << 20, 8);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rollout.kv_budget_gb"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zerorl::rollout
