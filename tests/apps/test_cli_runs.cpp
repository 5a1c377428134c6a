// tests/apps/test_cli_runs.cpp: command behaviours that only show when build/zerorl runs: the console line of
// `train` when stdout is a pipe, run.device = cuda refused alike by train, eval and pretrain on a CPU-only
// machine, and `verify` honouring --config, --threads and --deadline for every verifier.
// Not here: config errors and subcommand listing (test_cli.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <sstream>

#include "core/files.h"
#include "core/json_io.h"
#include "core/strings.h"
#include "tests/run_process.h"

namespace zerorl {
namespace {

namespace fs = std::filesystem;
using testing::run_zerorl;

std::string temp_path(const std::string& name) { return (fs::temp_directory_path() / name).string(); }

std::string temp_file(const std::string& name, const std::string& content) {
  const std::string path = temp_path(name);
  write_file_atomic(path, content);
  return path;
}

std::string tiny_config() { return testing::source_dir() + "/configs/tiny_test.yaml"; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& l : split(text, '\n')) {
    if (!trim(l).empty()) out.push_back(l);
  }
  return out;
}

// popen gives the child a pipe for stdout (no terminal): a run used to print nothing until its end.
TEST(CliRuns, TrainPrintsOneLinePerStepWhenStdoutIsNotATerminal) {
  const std::string out = temp_path("zrl_cli_console");
  zerorl::remove_tree(out);
  const std::string common = "train --config " + tiny_config() + " --set run.output_dir=" + out +
                             " --set trainer.save_every=0 --set trainer.tensorboard=false";
  const auto r = run_zerorl(common + " --set trainer.steps=3", /*with_stderr=*/false);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::regex line(
      R"(step (\d+)/3 \| reward -?\d+\.\d{3} \| acc \d\.\d{3} \| format \d\.\d{3} \| len \d+\.\d \| )"
      R"(entropy \d+\.\d{3} \| hack \d\.\d{2} \| \d+\.\d{2} s \| ETA \d\d:\d\d)");
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, line)) << lines[i];
    EXPECT_EQ(m[1], std::to_string(i + 1));
  }
  EXPECT_EQ(lines.back().substr(lines.back().size() - 9), "ETA 00:00");
  // trainer.log_every = 2 of 5 steps: steps 2 and 4, and the last one.
  zerorl::remove_tree(out);
  const auto every = run_zerorl(common + " --set trainer.steps=5 --set trainer.log_every=2", false);
  ASSERT_EQ(every.code, 0) << every.out;
  const auto sparse = lines_of(every.out);
  ASSERT_EQ(sparse.size(), 3u) << every.out;
  EXPECT_EQ(sparse[0].rfind("step 2/5 |", 0), 0u) << sparse[0];
  EXPECT_EQ(sparse[1].rfind("step 4/5 |", 0), 0u) << sparse[1];
  EXPECT_EQ(sparse[2].rfind("step 5/5 |", 0), 0u) << sparse[2];
  zerorl::remove_tree(out);
}

bool cuda_available() { return run_zerorl("version").out.find("cuda available") != std::string::npos; }

// eval used to fall back to the CPU silently and pretrain had a third rule; all three now refuse alike.
TEST(CliRuns, CudaWithoutCudaIsRefusedByTrainEvalAndPretrain) {
  if (cuda_available()) GTEST_SKIP() << "CUDA is available here: nothing to refuse";
  for (const char* command : {"train", "eval", "pretrain"}) {
    for (const char* device : {"cuda", "cuda:1"}) {
      const auto r =
          run_zerorl(std::string(command) + " --config " + tiny_config() + " --set run.device=" + device +
                     " --set run.output_dir=" + temp_path("zrl_cli_cuda"));
      EXPECT_EQ(r.code, 1) << command << ": " << r.out;
      EXPECT_NE(r.out.find("run.device = " + std::string(device) + " but CUDA is not available"),
                std::string::npos)
          << command << ": " << r.out;
    }
  }
  zerorl::remove_tree(temp_path("zrl_cli_cuda"));
}

// Runs `zerorl verify` and returns its verdict lines (stderr kept apart) and the wall time.
struct Verified {
  int code;
  std::vector<Json> rows;
  std::string text;
  double seconds;
};
Verified verify(const std::string& args) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_zerorl("verify " + args, false);
  Verified v{r.code, {}, r.out, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
  for (const auto& l : lines_of(r.out)) v.rows.push_back(Json::parse(l));
  return v;
}

std::string code_line(const std::string& program, const Json& tests) {
  return Json{{"program", program}, {"tests", tests}}.dump() + "\n";
}

bool sandbox_usable() {
  const std::string in =
      temp_file("zrl_cli_code_probe.jsonl", code_line("print(1)", {{{"stdin", ""}, {"stdout", "1"}}}));
  const auto v = verify("--verifier code --input " + in);
  return v.code == 0 && v.rows.size() == 1 && v.rows[0]["status"] == "ok";
}

TEST(CliRuns, VerifyCodeHonoursConfigThreadsAndDeadline) {
  if (!sandbox_usable()) GTEST_SKIP() << "the code sandbox cannot run here";
  // --config: sandbox.reward = fraction scores 1 of 2 tests as 0.5 (all_or_nothing, the default: 0).
  const std::string half =
      temp_file("zrl_cli_half.jsonl", code_line("print(input())", {{{"stdin", "a\n"}, {"stdout", "a"}},
                                                                   {{"stdin", "b\n"}, {"stdout", "c"}}}));
  const std::string fraction = temp_file("zrl_cli_fraction.yaml", "sandbox:\n  reward: fraction\n");
  const auto plain = verify("--verifier code --input " + half);
  ASSERT_EQ(plain.rows.size(), 1u) << plain.text;
  EXPECT_EQ(plain.rows[0]["reward"], 0.0);
  const auto partial = verify("--verifier code --config " + fraction + " --input " + half);
  ASSERT_EQ(partial.rows.size(), 1u) << partial.text;
  EXPECT_EQ(partial.rows[0]["reward"], 0.5);
  EXPECT_EQ(partial.rows[0]["passed"], 1);
  EXPECT_EQ(partial.rows[0]["total"], 2);
  // --threads: four programs that each sleep 2 s take ~2 s four at a time and >= 8 s one at a time. Process
  // start-up (libtorch, sandbox) varies by seconds on a loaded machine, so the margin is 3 s of the ~6 s gap.
  std::string sleepers;
  for (int i = 0; i < 4; ++i) {
    sleepers += code_line("import time\ntime.sleep(2)\nprint(1)", {{{"stdin", ""}, {"stdout", "1"}}});
  }
  const std::string sleep_in = temp_file("zrl_cli_sleepers.jsonl", sleepers);
  const std::string roomy = temp_file("zrl_cli_roomy.yaml", "sandbox:\n  timeout_s: 20\n");
  const auto wide =
      verify("--verifier code --config " + roomy + " --threads 4 --deadline 60 --input " + sleep_in);
  ASSERT_EQ(wide.rows.size(), 4u) << wide.text;
  for (const auto& row : wide.rows) EXPECT_EQ(row["status"], "ok") << wide.text;
  const auto narrow =
      verify("--verifier code --config " + roomy + " --threads 1 --deadline 60 --input " + sleep_in);
  ASSERT_EQ(narrow.rows.size(), 4u) << narrow.text;
  EXPECT_GE(narrow.seconds, 8.0);
  EXPECT_GT(narrow.seconds - wide.seconds, 3.0)
      << "4 threads: " << wide.seconds << " s, 1: " << narrow.seconds;
  // --deadline: a 3 s program with a 10 s sandbox limit is cut at 0.5 s and reported as a timeout (without
  // the deadline it passes).
  const std::string slow = temp_file("zrl_cli_slow.jsonl", code_line("import time\ntime.sleep(3)\nprint(1)",
                                                                     {{{"stdin", ""}, {"stdout", "1"}}}));
  const std::string long_limit = temp_file("zrl_cli_limit.yaml", "sandbox:\n  timeout_s: 10\n");
  const auto late = verify("--verifier code --config " + long_limit + " --deadline 0.5 --input " + slow);
  ASSERT_EQ(late.rows.size(), 1u) << late.text;
  EXPECT_EQ(late.rows[0]["status"], "timeout");
  EXPECT_EQ(late.rows[0]["total"], 1);
}

TEST(CliRuns, VerifyUserVerifierHonoursDeadline) {
  // An external verifier that answers after 3 s (its own timeout_s is 10): --deadline 0.5 makes it a timeout.
  const std::string worker = temp_file("zrl_cli_slow_worker.py",
                                       "import json, sys, time\n"
                                       "for line in sys.stdin:\n"
                                       "    r = json.loads(line)\n"
                                       "    time.sleep(3)\n"
                                       "    print(json.dumps({'id': r['id'], 'reward': 1.0}), flush=True)\n");
  const std::string cfg =
      temp_file("zrl_cli_slow.yaml", "verifiers:\n  external:\n    slow:\n      command: [python3, " +
                                         worker + "]\n      timeout_s: 10\n");
  const std::string in = temp_file("zrl_cli_slow_in.jsonl", "{\"response\": \"x\", \"gold\": \"x\"}\n");
  const auto late = verify("--verifier slow --config " + cfg + " --deadline 0.5 --input " + in);
  ASSERT_EQ(late.code, 0) << late.text;
  ASSERT_EQ(late.rows.size(), 1u) << late.text;
  EXPECT_EQ(late.rows[0]["status"], "timeout") << late.text;  // without the deadline: "ok" after 3 s
}

TEST(CliRuns, VerifyFormatUsesTheConfigsRule) {
  // "<think>x</think> done" has no <answer>: r1_zero (the default) says 0, trl_think says 1.
  const std::string in = temp_file("zrl_cli_format.jsonl", "{\"response\": \"<think>x</think> done\"}\n");
  const std::string trl = temp_file("zrl_cli_trl.yaml", "rewards:\n  format_rule: trl_think\n");
  const auto strict = verify("--verifier format --input " + in);
  ASSERT_EQ(strict.rows.size(), 1u) << strict.text;
  EXPECT_EQ(strict.rows[0]["reward"], 0.0);
  const auto think = verify("--verifier format --config " + trl + " --input " + in);
  ASSERT_EQ(think.rows.size(), 1u) << think.text;
  EXPECT_EQ(think.rows[0]["reward"], 1.0);
}

}  // namespace
}  // namespace zerorl
