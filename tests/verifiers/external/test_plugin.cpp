// tests/verifiers/external/test_plugin.cpp: the example plugin loaded from YAML scores as written; a
// wrong path, a missing symbol, a wrong ABI version and bad options are refused at load with clear
// messages. Not here: worker processes, remote servers.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "verifiers/external/from_config.h"
#include "verifiers/external/plugin.h"

namespace zerorl::verifiers::external {
namespace {

std::string load_error(const std::string& yaml) {
  try {
    create_user_verifier(parse_verifiers_section(yaml, "test.yaml"), "p");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Naive reference of the example's rule: last number in the response vs gold, relative tolerance.
bool reference_correct(double gold, double got, double tol) {
  return std::fabs(got - gold) <= tol * std::fmax(1.0, std::fabs(gold));
}

TEST(Plugin, ExampleLoadedFromYamlScoresAsWritten) {
  const std::string yaml =
      std::string("model: {path: ignored}\nverifiers:\n  plugins:\n    numeric:\n      path: ") +
      ZRL_EXAMPLE_PLUGIN + "\n      options: {tolerance: 0.01}\n";
  auto v = create_user_verifier(parse_verifiers_section(yaml, "test.yaml"), "numeric");
  EXPECT_EQ(v->name(), "numeric");
  EXPECT_EQ(dynamic_cast<PluginVerifier&>(*v).plugin_name(), "numeric_tolerance");
  struct Row {
    std::string gold, response;
    double got;  // the last number in the response, NAN if none
  };
  const std::vector<Row> rows = {
      {"42", "so the answer is 42", 42},     {"42", "first 42 then 41", 41},
      {"3.14159", "pi is about 3.14", 3.14}, {"1000", "1,000 apples", 1000},
      {"-7", "it drops to -7.", -7},         {"100", "roughly 100.9", 100.9},
      {"5", "no digits here", NAN},          {"0", "0.005", 0.005},
  };
  std::vector<std::thread> threads;  // the plugin declares itself thread-safe: call it concurrently
  std::vector<Verdict> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    threads.emplace_back([&, i] {
      Sample s;
      s.gold = rows[i].gold;
      s.response = rows[i].response;
      out[i] = v->verify(s);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (std::isnan(rows[i].got)) {
      EXPECT_EQ(out[i].status, "no_answer");
      EXPECT_FALSE(out[i].correct);
      continue;
    }
    const bool want = reference_correct(std::stod(rows[i].gold), rows[i].got, 0.01);
    EXPECT_EQ(out[i].correct, want) << rows[i].response;
    EXPECT_EQ(out[i].reward, want ? 1.0 : 0.0);
    EXPECT_EQ(out[i].status, want ? "ok" : "wrong");
    EXPECT_DOUBLE_EQ(std::stod(out[i].extracted), rows[i].got) << rows[i].response;
    EXPECT_TRUE(out[i].info.contains("abs_error"));
  }
  Sample bad;
  bad.gold = "not a number";
  bad.response = "1";
  EXPECT_EQ(v->verify(bad).status, "error");
}

TEST(Plugin, BadPluginsAreRefusedAtLoad) {
  const std::string head = "verifiers:\n  plugins:\n    p:\n      path: ";
  std::string e = load_error(head + "/nonexistent/libx.so\n");
  EXPECT_NE(e.find("no such file"), std::string::npos) << e;
  EXPECT_NE(e.find("verifiers.plugins.p.path"), std::string::npos) << e;
  e = load_error(head + ZRL_NO_ENTRY_PLUGIN + "\n");
  EXPECT_NE(e.find("no symbol 'zerorl_verifier_plugin'"), std::string::npos) << e;
  e = load_error(head + ZRL_ABI_MISMATCH_PLUGIN + "\n");
  EXPECT_NE(e.find("plugin ABI version 2 but this zerorl speaks version 1"), std::string::npos) << e;
  e = load_error(head + ZRL_EXAMPLE_PLUGIN + "\n      options: {tolerance: -1}\n");
  EXPECT_NE(e.find("create() refused options"), std::string::npos) << e;
  EXPECT_NE(e.find("tolerance"), std::string::npos) << e;
  e = load_error(head + ZRL_EXAMPLE_PLUGIN + "\n      symbol: other_entry\n");
  EXPECT_NE(e.find("no symbol 'other_entry'"), std::string::npos) << e;
  e = load_error(head + ZRL_EXAMPLE_PLUGIN + "\n      pth: x\n");
  EXPECT_NE(e.find("pth"), std::string::npos) << e;  // unknown key, named by the config loader
}

TEST(Plugin, OptionsKeepTheirJsonTypes) {
  const Json j = plugin_options_json({{"a", "0.5"}, {"b", "true"}, {"c", "hello world"}, {"d", "[1, 2]"}});
  EXPECT_TRUE(j["a"].is_number_float());
  EXPECT_TRUE(j["b"].is_boolean());
  EXPECT_EQ(j["c"], "hello world");
  EXPECT_EQ(j["d"], Json::array({1, 2}));
}

}  // namespace
}  // namespace zerorl::verifiers::external
