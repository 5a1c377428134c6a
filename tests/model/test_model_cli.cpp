// tests/model/test_model_cli.cpp: `zerorl logits` and `zerorl generate --ids` against the transformers
// references in tests/fixtures/models (docs/design.md's JSON contract), and their error messages. Not here:
// the model's own tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/json_io.h"
#include "tests/model/parity_tolerance.h"
#include "tests/run_process.h"

namespace zerorl {
namespace {

using testing::run_zerorl;
using Result = testing::CliResult;

std::string ids_arg(const Json& rows) {
  std::string s;
  for (const auto& r : rows) {
    if (!s.empty()) s += ";";
    for (size_t i = 0; i < r.size(); ++i) s += (i ? "," : "") + std::to_string(r[i].get<int64_t>());
  }
  return "\"" + s + "\"";
}

// max |a - b| over two [rows][cols] JSON arrays of the same shape (a shape mismatch fails).
double max_abs(const Json& a, const Json& b) {
  EXPECT_EQ(a.size(), b.size());
  if (a.size() != b.size()) return HUGE_VAL;
  double m = 0;
  for (size_t i = 0; i < b.size(); ++i)
    for (size_t j = 0; j < b[i].size(); ++j) {
      if (a[i].size() != b[i].size()) return HUGE_VAL;
      m = std::max(m, std::abs(a[i][j].get<double>() - b[i][j].get<double>()));
    }
  return m;
}

class Cli : public ::testing::TestWithParam<std::string> {};

TEST_P(Cli, LogitsAndGreedyGenerateMatchTransformers) {
  const std::string dir = testing::fixture_dir() + "/models/" + GetParam();
  const Json ref = read_json(dir + "/reference.json");
  Result lg = run_zerorl("logits --model " + dir + " --ids " + ids_arg(ref["input_ids"]), false);
  ASSERT_EQ(lg.code, 0) << lg.out;
  const Json out = Json::parse(lg.out);
  double scale = 0;  // max |reference logit|
  for (const auto& row : ref["logits_last"])
    for (const auto& x : row) scale = std::max(scale, std::abs(x.get<double>()));
  const auto vocab = static_cast<int64_t>(ref["logits_last"][0].size());
  EXPECT_LE(max_abs(out["logits_last"], ref["logits_last"]), testing::parity_logit_tol(scale));
  EXPECT_LE(max_abs(out["logits_sum"], ref["logits_sum"]), testing::parity_sum_tol(scale, vocab));
  Result gen = run_zerorl(
      "generate --model " + dir + " --max-new-tokens 20 --ids " + ids_arg(ref["input_ids"]), false);
  ASSERT_EQ(gen.code, 0) << gen.out;
  EXPECT_EQ(Json::parse(gen.out)["sequences"], ref["greedy_ids"]);
}

// Sampling through the CLI: the same seed gives the same sequences; another seed (almost surely) does not.
TEST_P(Cli, SamplingIsSeeded) {
  const std::string dir = testing::fixture_dir() + "/models/" + GetParam();
  const std::string base =
      "generate --model " + dir + " --max-new-tokens 12 --temperature 1 --ids \"1,2,3;4,5\"";
  Result a = run_zerorl(base + " --seed 7", false), b = run_zerorl(base + " --seed 7", false);
  Result c = run_zerorl(base + " --seed 8", false);
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(Json::parse(a.out)["sequences"], Json::parse(c.out)["sequences"]);
  EXPECT_EQ(Json::parse(a.out)["sequences"][0].size(), 15u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Cli, ::testing::Values("tiny-qwen2", "tiny-llama", "tiny-qwen3"));

TEST(CliErrors, NameTheBadValue) {
  const std::string dir = testing::fixture_dir() + "/models/tiny-qwen2";
  for (const auto& [args, expect] : std::vector<std::pair<std::string, std::string>>{
           {"logits --model " + dir + " --ids \"1,x\"", "'x'"},
           {"logits --model " + dir + " --ids \"1,9999\"", "9999"},
           {"logits --model /nonexistent --ids 1", "/nonexistent"},
           {"generate --model " + dir + " --ids 1 --temperature -1", "temperature"},
           {"generate --model " + dir + " --prompt hello", "tokenizer"}}) {
    Result r = run_zerorl(args, true);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_NE(r.out.find(expect), std::string::npos) << args << " -> " << r.out;
  }
}

}  // namespace
}  // namespace zerorl
