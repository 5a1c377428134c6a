// tests/verifiers/sandbox/test_humaneval_sandbox.cpp: all 164 HumanEval canonical solutions pass in the
// sandbox's trusted/untrusted harness, with the prompt as trusted test_setup and without it; each with its
// last line removed, or returning a wrong constant, fails. Not here: hostile code (test_red_team.cpp).
#include <gtest/gtest.h>

#include "core/json_io.h"
#include "tests/test_paths.h"
#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::verifiers {
namespace {

std::vector<Json> humaneval() { return read_jsonl(testing::data_dir() + "/humaneval/HumanEval.jsonl.gz"); }

// with_setup: the task's prompt is trusted test_setup (its helpers, e.g. poly() of HumanEval/32, are the
// dataset's); without, the tests call the candidate's copies remotely.
Sample make_sample(const Json& task, const std::string& program, bool with_setup = true) {
  Sample s;
  s.extra = {{"program", program},
             {"test_code", task.at("test")},
             {"entry_point", task.at("entry_point")},
             {"timeout_s", 10.0}};
  if (with_setup) s.extra["test_setup"] = task.at("prompt");
  return s;
}

// The program without its last non-empty line.
std::string drop_last_line(std::string program) {
  while (!program.empty() && (program.back() == '\n' || program.back() == ' ')) program.pop_back();
  size_t nl = program.rfind('\n');
  return nl == std::string::npos ? "" : program.substr(0, nl + 1);
}

class HumanEval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    CodeVerifierOptions o;
    o.sandbox.slots = 2;
    o.sandbox.uid_base = 62100;
    o.sandbox.limits.wall_s = 10.0;
    verifier_ = new CodeVerifier(o);
    tasks_ = new std::vector<Json>(humaneval());
  }
  static void TearDownTestSuite() {
    delete verifier_;
    delete tasks_;
  }
  // Verdicts of program_for(task) over all tasks, in task order.
  template <class F>
  std::vector<Verdict> run_all(F program_for, bool with_setup = true) {
    std::vector<Sample> samples;
    for (const auto& t : *tasks_) samples.push_back(make_sample(t, program_for(t), with_setup));
    return verifier_->verify_batch(samples);
  }
  static std::string canonical(const Json& t) {
    return t.at("prompt").get<std::string>() + t.at("canonical_solution").get<std::string>();
  }
  static CodeVerifier* verifier_;
  static std::vector<Json>* tasks_;
};
CodeVerifier* HumanEval::verifier_ = nullptr;
std::vector<Json>* HumanEval::tasks_ = nullptr;

TEST_F(HumanEval, CanonicalSolutionsPass) {
  ASSERT_EQ(verifier_->sandbox().missing_protections(), "");
  ASSERT_EQ(tasks_->size(), 164u);
  for (bool with_setup : {true, false}) {
    auto verdicts = run_all(canonical, with_setup);
    int passed = 0;
    for (size_t i = 0; i < verdicts.size(); ++i) {
      EXPECT_EQ(verdicts[i].status, "ok")
          << (*tasks_)[i].at("task_id") << (with_setup ? "" : " (no setup)") << ": " << verdicts[i].reason;
      EXPECT_DOUBLE_EQ(verdicts[i].reward, verdicts[i].correct ? 1.0 : 0.0);
      EXPECT_GE(verdicts[i].info.value("calls", 0), 1);
      // With the prompt as setup, no test calls a helper of the candidate's.
      if (with_setup) {
        EXPECT_FALSE(verdicts[i].info.contains("candidate_helpers")) << (*tasks_)[i].at("task_id");
      }
      passed += verdicts[i].correct;
    }
    EXPECT_EQ(passed, 164) << (with_setup ? "with" : "without") << " the prompt as test_setup";
  }
}

TEST_F(HumanEval, LastLineRemovedFails) {
  auto verdicts = run_all([](const Json& t) {
    return drop_last_line(t.at("prompt").get<std::string>() + t.at("canonical_solution").get<std::string>());
  });
  for (size_t i = 0; i < verdicts.size(); ++i) {
    EXPECT_FALSE(verdicts[i].correct) << (*tasks_)[i].at("task_id");
    EXPECT_EQ(verdicts[i].reward, 0.0);
    EXPECT_NE(verdicts[i].status, "sandbox_error") << verdicts[i].reason;
  }
}

TEST_F(HumanEval, WrongConstantFails) {
  auto verdicts = run_all([](const Json& t) {
    // The prompt ends inside the function (signature + docstring): the body returns a constant.
    return t.at("prompt").get<std::string>() + "    return None\n";
  });
  for (size_t i = 0; i < verdicts.size(); ++i) {
    EXPECT_FALSE(verdicts[i].correct) << (*tasks_)[i].at("task_id");
    EXPECT_NE(verdicts[i].status, "sandbox_error") << verdicts[i].reason;
  }
}

}  // namespace
}  // namespace zerorl::verifiers
