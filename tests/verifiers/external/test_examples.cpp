// tests/verifiers/external/test_examples.cpp: examples/verifiers.yaml loads, and its python verifier,
// verl-style file and plugin score examples/python/example_input.jsonl as documented.
// Not here: failure handling (other tests).
#include <gtest/gtest.h>

#include "core/json_io.h"
#include "tests/test_paths.h"
#include "verifiers/external/from_config.h"
#include "verifiers/external/protocol.h"

namespace zerorl::verifiers::external {
namespace {

TEST(Examples, ExampleConfigScoresTheExampleInput) {
  const std::string src = zerorl::testing::source_dir();
  VerifiersSection s = load_verifiers_section(src + "/examples/verifiers.yaml");
  // The example's paths are relative to the repository root; make them absolute for the test.
  for (auto& [name, e] : s.external)
    for (auto& arg : e.command)
      if (arg.find(".py") != std::string::npos) arg = src + "/" + arg;
  s.plugins.at("numeric").path = ZRL_EXAMPLE_PLUGIN;
  std::vector<Sample> samples;
  for (const auto& row : read_jsonl(src + "/examples/python/example_input.jsonl"))
    samples.push_back(user_sample_from_row(row, "example_input.jsonl"));
  const std::map<std::string, std::vector<bool>> want = {
      {"exact", {true, true, false}},        // "Answer: 42", "Answer: paris." vs Paris, "5" vs 4
      {"gsm8k_verl", {true, false, false}},  // last number: 42, none, 5
      {"numeric", {true, false, false}},
  };
  for (const auto& [name, expected] : want) {
    const auto v = create_user_verifier(s, name);
    const auto out = verify_all(*v, samples);
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(out[i].correct, expected[i]) << name << " row " << i << ": " << out[i].reason;
      EXPECT_EQ(out[i].reward, expected[i] ? 1.0 : 0.0) << name << " row " << i;
    }
  }
  EXPECT_EQ(s.remote.at("reward_service").url, "http://127.0.0.1:8000/score");
}

}  // namespace
}  // namespace zerorl::verifiers::external
