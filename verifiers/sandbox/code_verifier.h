// verifiers/sandbox/code_verifier.h: the "code" verifier: extracts a program from a response, runs it in
// the sandbox against stdin/stdout cases or HumanEval-style asserts, and scores it. Not here: the
// sandbox mechanics (sandbox.h), the registry (the lead registers make_code_verifier as "code").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "verifiers/sandbox/sandbox.h"
#include "verifiers/verifier.h"

namespace zerorl::verifiers {

enum class CodeRewardMode { kAllOrNothing, kFraction };

// Plain options; the lead maps them from YAML (sandbox.*).
struct CodeVerifierOptions {
  sandbox::SandboxOptions sandbox;  // insecure_allow, limits, language (interpreter), slots
  int workers = 0;                  // verify_batch threads; 0 = sandbox.slots
  CodeRewardMode reward_mode = CodeRewardMode::kAllOrNothing;
  double default_timeout_s = 5.0;     // per test run when a sample gives no timeout_s
  bool stop_at_first_failure = true;  // all-or-nothing only: skip the remaining cases after a failure
};

// Sample fields (Sample.extra): "program" (else the last fenced block of Sample.response), and either
// "tests": [{"stdin": "...", "stdout": "..."}, ...] or "test_code" + "entry_point" (HumanEval, MBPP) with
// optional trusted "test_setup" (HumanEval: the task's prompt, defining helpers the tests call);
// optional "timeout_s". Verdict.info: passed, total, wall_s, cpu_s, peak_memory_bytes (max over runs);
// assert tests add calls and harness_result (sandbox/assert_tests.h). Assert tests run the candidate in a
// separate sandbox from the tests, so no frame, object, file or memory of the tests is within its reach;
// statuses: ok, wrong, runtime_error, timeout, memory, output_limit, unsupported (the tests need a
// non-plain object of the candidate's, or pass one), error (the test code itself is broken), sandbox_error.
class CodeVerifier : public Verifier {
 public:
  explicit CodeVerifier(CodeVerifierOptions options);
  std::string name() const override { return "code"; }
  Verdict verify(const Sample& sample) const override;
  // Runs samples concurrently on a bounded pool (Boost.Asio thread_pool); verdicts in input order.
  std::vector<Verdict> verify_batch(const std::vector<Sample>& samples) const;
  sandbox::Sandbox& sandbox() const { return *sandbox_; }

 private:
  Verdict run_io_tests(const std::string& program, const Json& tests, double timeout_s) const;
  Verdict run_assert_tests(const std::string& program, const Json& sample, double timeout_s) const;
  CodeVerifierOptions options_;
  std::unique_ptr<sandbox::Sandbox> sandbox_;
};

std::unique_ptr<Verifier> make_code_verifier(const CodeVerifierOptions& options);

// The body of the last complete ``` fenced block (language tag optional); nullopt-like: *found=false.
std::string extract_last_code_block(const std::string& response, bool* found);

// LiveCodeBench's comparison: both stripped and split into lines; same number of lines; each pair of
// stripped lines equal as strings, or as whitespace-separated lists of exactly equal decimals.
bool outputs_match(const std::string& got, const std::string& expected);

}  // namespace zerorl::verifiers
