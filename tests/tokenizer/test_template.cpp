// tests/tokenizer/test_template.cpp: prompt templates against the texts of the spec (DeepSeek-R1 paper
// Table 1 as quoted in issue 4; Qwen's ChatML). Not here: tokenization.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/template.h"

namespace zerorl::tokenizer {
namespace {

TEST(Template, R1ZeroIsThePaperText) {
  EXPECT_EQ(
      apply_template("r1_zero", "What is 2+2?"),
      "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
      "assistant first thinks about the reasoning process in the mind and then provides the user with the "
      "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
      "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. "
      "User: What is 2+2?. Assistant:");
}

TEST(Template, ChatMlAndPlainAndCustom) {
  EXPECT_EQ(apply_template("chatml", "Hi"), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(apply_template("plain", "Hi {prompt}"), "Hi {prompt}");
  EXPECT_EQ(apply_template("Q: {prompt}\nA ({prompt}):", "x"), "Q: x\nA (x):");
  EXPECT_THROW(apply_template("no_such_template", "x"), Error);
}

}  // namespace
}  // namespace zerorl::tokenizer
