// tests/verifiers/external/test_bridges.cpp: scripts/verl_bridge.py and scripts/trl_bridge.py running
// unchanged verl-style and TRL-style reward files inside the worker pool. Not here: the pool's own
// failure handling (test_process_pool.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "tests/test_paths.h"
#include "tests/verifiers/external/test_helpers.h"
#include "verifiers/external/process_pool.h"

namespace zerorl::verifiers::external {
namespace {
using zerorl::testing::kPython;
using zerorl::testing::TempDir;

// A verl-style reward file: gsm8k-like "#### <number>" answers, debug prints on stdout (which must not
// reach the protocol), a dict result for data_source "dict", an exception for data_source "raise".
const char* kVerlFile = R"PY(
import re
def compute_score(data_source, solution_str, ground_truth, extra_info=None, format_score=0.0, score=1.0):
    print("debug: scoring", solution_str[:20])
    if data_source == "raise":
        raise RuntimeError("boom")
    m = re.findall(r"#### (\-?[0-9\.\,]+)", solution_str)
    if not m:
        result = 0.0
    else:
        result = score if m[-1].replace(",", "") == str(ground_truth) else format_score
    if data_source == "dict":
        return {"score": result, "acc": result == score, "pred": m[-1] if m else None,
                "idx": extra_info["index"]}
    return result
)PY";

const char* kTrlFile = R"PY(
def exact(prompts, completions, solution, **kwargs):
    print("trl debug")
    out = []
    for p, c, s, kind in zip(prompts, completions, solution, kwargs.get("kind", [None] * len(prompts))):
        if kind == "skip":
            out.append(None)
        else:
            out.append(1.0 if c.strip() == s and p == "Q" else 0.25)
    return out
)PY";

// Reference for the verl file: the last "#### N" (commas dropped) equals gold -> 1.0, else 0.
double reference_gsm8k(const std::string& response, const std::string& gold, double format_score) {
  std::smatch m;
  std::string last;
  for (auto it = response.cbegin();
       std::regex_search(it, response.cend(), m, std::regex("#### (-?[0-9.,]+)")); it = m.suffix().first)
    last = m[1];
  if (last.empty()) return 0.0;
  last.erase(std::remove(last.begin(), last.end(), ','), last.end());
  return last == gold ? 1.0 : format_score;
}

TEST(Bridges, VerlComputeScoreFileRunsUnchanged) {
  TempDir dir;
  const std::string file = dir.write("my_reward.py", kVerlFile);
  ExternalOptions o;
  o.name = "verl";
  o.command = {kPython, zerorl::testing::source_dir() + "/scripts/verl_bridge.py", file, "--kwargs",
               "{\"format_score\": 0.1}"};
  o.workers = 3;
  ExternalVerifier v(o);
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"so #### 72", "72"},   {"#### 1,000", "1000"}, {"#### 5 then #### 6", "6"}, {"#### 7", "8"},
      {"no marker 72", "72"}, {"####72", "72"},       {"x #### -3", "-3"},         {"#### 10\n", "10"},
  };
  std::vector<Sample> samples;
  for (size_t i = 0; i < rows.size() * 2; ++i) {
    Sample s;
    s.response = rows[i % rows.size()].first;
    s.gold = rows[i % rows.size()].second;
    s.extra = {{"data_source", i < rows.size() ? "gsm8k" : "dict"}, {"extra_info", {{"index", i}}}};
    samples.push_back(s);
  }
  Sample bad = samples[0];
  bad.extra["data_source"] = "raise";
  samples.push_back(bad);
  const auto out = v.verify_batch(samples);
  ASSERT_EQ(out.size(), samples.size());
  for (size_t i = 0; i + 1 < samples.size(); ++i) {
    const double want = reference_gsm8k(samples[i].response, samples[i].gold, 0.1);
    EXPECT_DOUBLE_EQ(out[i].reward, want) << samples[i].response << " | " << out[i].reason;
    EXPECT_EQ(out[i].correct, want == 1.0) << i;
    if (i >= rows.size()) {
      EXPECT_EQ(out[i].info.at("idx"), i);  // dict results: extra metrics land in info
      EXPECT_TRUE(out[i].info.contains("pred"));
    }
  }
  EXPECT_EQ(out.back().status, "error");
  EXPECT_NE(out.back().reason.find("RuntimeError: boom"), std::string::npos) << out.back().reason;
  // The traceback's innermost frames: the user's file, where the fix is.
  EXPECT_NE(out.back().info.value("traceback", "").find("my_reward.py"), std::string::npos)
      << out.back().info;
  EXPECT_EQ(v.stats().malformed, 0);  // the user's prints never reached the protocol
  EXPECT_EQ(v.stats().restarts, 0);
}

TEST(Bridges, TrlRewardFunctionRunsUnchanged) {
  TempDir dir;
  const std::string file = dir.write("rewards.py", kTrlFile);
  ExternalOptions o;
  o.name = "trl";
  o.command = {kPython, zerorl::testing::source_dir() + "/scripts/trl_bridge.py", file, "--function",
               "exact"};
  o.workers = 2;
  ExternalVerifier v(o);
  std::vector<Sample> samples(4);
  samples[0] = {"Q", " 42 ", "42", Json::object()};
  samples[1] = {"Q", "41", "42", Json::object()};
  samples[2] = {"other", "42", "42", Json::object()};
  samples[3] = {"Q", "42", "42", {{"kind", "skip"}}};
  const auto out = v.verify_batch(samples);
  EXPECT_EQ(out[0].reward, 1.0);
  EXPECT_TRUE(out[0].correct);
  EXPECT_EQ(out[1].reward, 0.25);
  EXPECT_FALSE(out[1].correct);
  EXPECT_EQ(out[2].reward, 0.25);
  EXPECT_EQ(out[3].status, "not_applicable");
  EXPECT_EQ(v.stats().malformed, 0);
}

}  // namespace
}  // namespace zerorl::verifiers::external
