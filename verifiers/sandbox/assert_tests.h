// verifiers/sandbox/assert_tests.h: assert-style tests (HumanEval/MBPP test_code + entry_point) run as two
// sandboxed processes: a trusted harness holding the tests and the verdict, and the candidate program,
// joined only by a pipe of plain data (verifiers/sandbox/py/). Not here: scoring (code_verifier.cpp),
// process isolation (sandbox.h).
#pragma once

#include <string>
#include <vector>

#include "verifiers/sandbox/sandbox.h"

namespace zerorl::verifiers::sandbox {

// The embedded Python sources, by file stem: "codec", "trusted_harness", "fork_server", "candidate_server".
const std::string& harness_python(const std::string& name);

// The candidate's side of the harness (codec + candidate_server) as a .pyc image (magic, 12 header bytes,
// marshalled code) compiled by `python` itself in one sandboxed run, once per process and interpreter
// path; "" when that run failed (then the source is used). Running the image instead of the 11 KB source
// saves each candidate the compile: about 7-10 ms of CPU per test on the project's 2-core VM.
const std::string& candidate_server_pyc(Sandbox& sandbox, const std::string& python);

struct AssertTask {
  std::string program;      // the candidate's code; it defines entry_point
  std::string test_code;    // trusted: defines check(candidate), or asserts at top level (MBPP); stdlib only
  std::string entry_point;  // an identifier
  // Trusted code run before test_code on the trusted side: helpers the tests call (HumanEval's prompt
  // defines poly(), encode_cyclic(), ...). Without it such helpers are the candidate's, called remotely.
  std::string setup;
  double timeout_s = 5.0;  // wall-clock limit of the whole test run
};

struct AssertOutcome {
  // The trusted harness's verdict: pass, wrong, candidate_raised, candidate_exited, load_error, timeout,
  // unsupported, protocol, test_error; "" when it gave none (runs.trusted says why).
  std::string result;
  std::string reason;
  int calls = 0;  // calls the candidate answered
  // Functions besides entry_point that the tests called and only the candidate defined (no setup gave
  // them): the tests trusted the candidate's own helpers.
  std::vector<std::string> candidate_helpers;
  PairResult runs;
};

// Runs the task in one pair of the sandbox (Sandbox::run_pair_forked: the trusted harness is a fresh fork
// of the slot's fork server, the candidate a fresh sandboxed interpreter). The verdict is read only from the
// trusted process's stdout, on a line that starts with a nonce only that process was given; the candidate's
// output never counts.
AssertOutcome run_assert_task(Sandbox& sandbox, const AssertTask& task);

}  // namespace zerorl::verifiers::sandbox
