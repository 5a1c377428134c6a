// tests/trainer/test_verl_run.cpp: `zerorl train` on examples/verl/tiny_verl.yaml, whose accuracy reward
// is a verl compute_score file run unchanged by scripts/verl_bridge.py: every logged reward is the file's,
// row extras (extra_info) and data_source reach it, and a raising or missing function gives "error"
// verdicts in a run that finishes. Not here: the bridge's own cases (tests/verifiers/external).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/run_process.h"

namespace fs = std::filesystem;

namespace zerorl {
namespace {

const char* kPython = "/usr/bin/python3";
constexpr double kFormatWeight = 0.5;  // configs/tiny_test.yaml: total = accuracy + 0.5 * format

// Runs build/zerorl train in the repository root (the example's paths are relative to it) for 3 steps,
// logging every step's samples; answers of one token (mostly single digits, so copied operands occur);
// returns the exit code. Output and log go to `out`, `out`.log.
int train(const std::string& out, const std::vector<std::string>& sets) {
  std::vector<std::string> args = {testing::binary_dir() + "/zerorl", "train", "--config",
                                   "examples/verl/tiny_verl.yaml"};
  for (const std::string& s :
       {"run.output_dir=" + out, std::string("trainer.steps=3"), std::string("trainer.sample_every=1"),
        std::string("trainer.save_every=0"), std::string("trainer.tensorboard=false"),
        std::string("rollout.max_new_tokens=1")}) {
    args.insert(args.end(), {"--set", s});
  }
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  return testing::wait_exit(
      testing::spawn_logged(args, out + ".log", testing::source_dir(), /*append=*/false));
}

std::string fresh(const std::string& name) {
  const std::string d = (fs::temp_directory_path() / name).string();
  zerorl::remove_tree(d);
  return d;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string command_set(const std::string& script, const std::vector<std::string>& tail) {
  std::string cmd = "verifiers.external.verl_addition.command=[" + std::string(kPython) + ", " + script;
  for (const auto& t : tail) cmd += ", " + t;
  return cmd + "]";
}

// examples/verl/compute_score.py re-implemented: the last run of digits is the prediction; 1 for the sum,
// 0 for a copy of an operand (a, b parsed from the prompt "a+b="), 0.2 for another number, 0 for none.
double reference_score(const std::string& prompt, const std::string& response, const std::string& gold) {
  std::string last;
  for (size_t i = 0; i < response.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(response[i]))) continue;
    size_t j = i;
    while (j < response.size() && std::isdigit(static_cast<unsigned char>(response[j]))) ++j;
    last = response.substr(i, j - i);
    i = j;
  }
  if (last.empty()) return 0.0;
  const long pred = std::stol(last), a = std::stol(prompt),
             b = std::stol(prompt.substr(prompt.find('+') + 1));
  if (pred == std::stol(gold)) return 1.0;
  return pred == a || pred == b ? 0.0 : 0.2;
}

// The samples that steps 1..3 logged (16 each), after checking the run finished.
std::vector<Json> run_samples(const std::string& out, int rc) {
  EXPECT_EQ(rc, 0) << read_text(out + ".log");
  auto samples = read_jsonl(out + "/samples.jsonl");
  EXPECT_EQ(samples.size(), 48u);
  return samples;
}

void expect_file_rewards(const std::vector<Json>& samples) {
  int partial = 0, copied = 0, right = 0;
  for (const auto& s : samples) {
    const std::string prompt = s.at("prompt"), response = s.at("response"), gold = s.at("answer");
    const double want = reference_score(prompt, response, gold);
    const double accuracy = s.at("reward").get<double>() - kFormatWeight * s.at("format").get<double>();
    EXPECT_NEAR(accuracy, want, 1e-9) << s.dump();
    EXPECT_EQ(s.at("correct").get<bool>(), want == 1.0) << s.dump();
    EXPECT_EQ(s.at("status"), want == 1.0 ? "ok" : "wrong") << s.dump();
    partial += want == 0.2;
    right += want == 1.0;
    copied += want == 0.0 && std::regex_search(response, std::regex("[0-9]"));  // needs extra_info
  }
  // The run must show the file's distinctive values, else it could not tell it from the toy verifier.
  EXPECT_GT(partial, 0);
  EXPECT_GT(copied, 0);
  EXPECT_GT(right, 0);
}

TEST(VerlRun, ComputeScoreFileGivesEveryReward) {
  const std::string out = fresh("zrl_verl_float");
  const auto samples = run_samples(
      out, train(out, {command_set("scripts/verl_bridge.py", {"examples/verl/compute_score.py"})}));
  expect_file_rewards(samples);
  for (const auto& m : read_jsonl(out + "/metrics.jsonl")) EXPECT_EQ(m.at("verifier_fail_frac"), 0.0);
}

TEST(VerlRun, DictReturningComputeScoreIsAccepted) {
  const std::string out = fresh("zrl_verl_dict");
  expect_file_rewards(run_samples(
      out, train(out, {command_set("scripts/verl_bridge.py", {"examples/verl/compute_score.py", "--function",
                                                              "compute_score_with_details"})})));
}

// A real-world bug: int(solution_str) raises on anything but a bare integer. Those samples are "error"
// verdicts scoring 0; the others score normally; the run finishes.
TEST(VerlRun, RaisingFunctionGivesErrorVerdictsNotACrash) {
  const std::string dir = fresh("zrl_verl_raise_src");
  fs::create_directories(dir);
  std::ofstream(dir + "/strict.py")
      << "def compute_score(data_source, solution_str, ground_truth, extra_info=None):\n"
         "    return float(int(solution_str) == int(ground_truth))\n";
  const std::string out = fresh("zrl_verl_raise");
  const auto samples =
      run_samples(out, train(out, {command_set("scripts/verl_bridge.py", {dir + "/strict.py"})}));
  const std::regex python_int(R"(^\s*[+-]?[0-9]+\s*$)");
  int errors = 0;
  for (const auto& s : samples) {
    const std::string response = s.at("response");
    const double accuracy = s.at("reward").get<double>() - kFormatWeight * s.at("format").get<double>();
    if (std::regex_match(response, python_int)) {
      const bool right = std::stol(response) == std::stol(s.at("answer").get<std::string>());
      EXPECT_EQ(accuracy, right ? 1.0 : 0.0) << s.dump();
      EXPECT_EQ(s.at("status"), right ? "ok" : "wrong") << s.dump();
    } else {
      EXPECT_EQ(accuracy, 0.0) << s.dump();
      EXPECT_EQ(s.at("status"), "error") << s.dump();
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(VerlRun, MissingFunctionGivesErrorVerdictsNotACrash) {
  const std::string out = fresh("zrl_verl_missing");
  const auto samples = run_samples(
      out, train(out, {command_set("scripts/verl_bridge.py",
                                   {"examples/verl/compute_score.py", "--function", "no_such_function"}),
                       "verifiers.external.verl_addition.max_restarts=1"}));
  for (const auto& s : samples) EXPECT_EQ(s.at("status"), "error") << s.dump();
  for (const auto& m : read_jsonl(out + "/metrics.jsonl")) EXPECT_EQ(m.at("verifier_fail_frac"), 1.0);
  const std::string log = read_text(out + ".log");
  EXPECT_NE(log.find("has no function 'no_such_function'"), std::string::npos) << log;
  EXPECT_NE(log.find("64 of 64 verdicts failed"), std::string::npos) << log;  // the trainer says so too
}

}  // namespace
}  // namespace zerorl
