// verifiers/sandbox/code_verifier.cpp: the "code" verifier: test formats, scoring of stdin/stdout runs and
// of assert-style outcomes, and the bounded batch pool. Not here: process isolation (sandbox*.cpp), the
// trusted/untrusted assert harness (assert_tests.cpp), text helpers (program_text.cpp).
#include "verifiers/sandbox/code_verifier.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "verifiers/sandbox/assert_tests.h"

namespace zerorl::verifiers {
namespace {

using sandbox::RunResult;
using sandbox::RunStatus;

// Verdict status of a failed run ("wrong" when it ran cleanly but produced the wrong thing).
std::string failure_status(const RunResult& r) {
  switch (r.status) {
    case RunStatus::kTimeout:
      return "timeout";
    case RunStatus::kMemory:
      return "memory";
    case RunStatus::kOutputLimit:
      return "output_limit";
    case RunStatus::kSandboxError:
      return "sandbox_error";
    case RunStatus::kAborted:
    case RunStatus::kSignaled:
      return "runtime_error";
    case RunStatus::kExited:
      return r.exit_code == 0 ? "wrong" : "runtime_error";
  }
  return "wrong";
}

// Bytes outside printable ASCII become '?', so a verdict built from program output always serializes.
std::string printable(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return s;
}

// At most `n` bytes, cut back to a UTF-8 character boundary (the program text came from valid JSON).
std::string printable_utf8_prefix(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string last_line(const std::string& err) {
  size_t end = err.find_last_not_of(" \n\r\t");
  if (end == std::string::npos) return "";
  size_t start = err.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return printable(err.substr(start, std::min<size_t>(end + 1 - start, 300)));
}

// Accumulates per-run measurements and the first failure into a verdict.
struct Tally {
  int passed = 0, total = 0;
  double wall_s = 0, cpu_s = 0;
  uint64_t peak = 0;
  std::string status = "ok", reason;
  void add(const RunResult& r, bool ok, const std::string& why) {
    wall_s += r.wall_s;
    cpu_s += r.cpu_s;
    peak = std::max(peak, r.peak_memory_bytes);
    if (ok) {
      ++passed;
    } else if (status == "ok") {
      status = failure_status(r);
      reason = why;
      if (r.status == RunStatus::kSandboxError) reason += ": " + printable(r.error);
    }
  }
  Verdict verdict(CodeRewardMode mode) const {
    Verdict v;
    v.correct = total > 0 && passed == total;
    v.status = v.correct ? "ok" : (status == "ok" ? "wrong" : status);
    v.reward =
        v.correct ? 1.0 : (mode == CodeRewardMode::kFraction && total > 0 ? double(passed) / total : 0.0);
    v.reason = v.correct ? "all " + std::to_string(total) + " tests passed" : reason;
    v.info = {{"passed", passed},
              {"total", total},
              {"wall_s", wall_s},
              {"cpu_s", cpu_s},
              {"peak_memory_bytes", peak}};
    return v;
  }
};

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// The verdict status of an assert-style outcome (assert_tests.h): the trusted harness's result, with the
// candidate's own run explaining a candidate that ended mid-test (memory, output flood, crash).
std::string assert_status(const sandbox::AssertOutcome& o) {
  const std::string& r = o.result;
  if (r == "pass") return "ok";
  if (r == "wrong" || r == "protocol") return "wrong";
  if (r == "candidate_raised" || r == "load_error") return "runtime_error";
  if (r == "timeout" || r == "unsupported") return r;
  if (r == "test_error") return "error";
  if (r == "candidate_exited") {
    const std::string s = failure_status(o.runs.untrusted);
    return s == "wrong" ? "runtime_error" : s;  // ended with status 0 in the middle of the tests
  }
  // No verdict: the trusted side was stopped (deadline, memory) or could not start.
  const std::string s = failure_status(o.runs.trusted);
  return s == "wrong" || s == "runtime_error" ? "sandbox_error" : s;
}

}  // namespace

CodeVerifier::CodeVerifier(CodeVerifierOptions options)
    : options_(std::move(options)), sandbox_(std::make_unique<sandbox::Sandbox>(options_.sandbox)) {}

Verdict CodeVerifier::verify(const Sample& sample) const {
  try {
    const Json& x = sample.extra;
    std::string program;
    if (x.contains("program") && x["program"].is_string()) {
      program = x["program"].get<std::string>();
    } else {
      bool found = false;
      program = extract_last_code_block(sample.response, &found);
      if (!found) {
        Verdict v;
        v.status = "wrong";
        v.reason = "no fenced code block in the response";
        v.info = {{"passed", 0},
                  {"total", x.contains("tests") && x["tests"].is_array() ? x["tests"].size() : 1}};
        return v;
      }
    }
    double timeout = x.value("timeout_s", options_.default_timeout_s);
    Verdict v;
    if (x.contains("test_code")) {
      v = run_assert_tests(program, x, timeout);
    } else if (x.contains("tests") && x["tests"].is_array()) {
      v = run_io_tests(program, x["tests"], timeout);
    } else {
      v.status = "error";
      v.reason = "sample has neither 'tests' nor 'test_code'";
    }
    v.extracted = printable_utf8_prefix(program, 4096);
    return v;
  } catch (const std::exception& e) {  // malformed sample fields: a verdict, never an exception
    Verdict v;
    v.status = "error";
    v.reason = std::string("bad code sample: ") + e.what();
    return v;
  }
}

Verdict CodeVerifier::run_io_tests(const std::string& program, const Json& tests, double timeout_s) const {
  Tally t;
  t.total = static_cast<int>(tests.size());
  for (size_t i = 0; i < tests.size(); ++i) {
    const Json& tc = tests[i];
    sandbox::RunRequest req;
    req.program = program;
    req.stdin_data = tc.value("stdin", tc.value("input", ""));
    req.wall_s = timeout_s;
    RunResult r = sandbox_->run(req);
    std::string expected = tc.value("stdout", tc.value("output", ""));
    bool clean = r.status == RunStatus::kExited && r.exit_code == 0;
    bool ok = clean && outputs_match(r.out, expected);
    std::string why = "test " + std::to_string(i) + ": " +
                      (clean ? std::string("wrong output")
                             : std::string(sandbox::to_string(r.status)) + " " + last_line(r.err));
    t.add(r, ok, why);
    if (!ok && options_.stop_at_first_failure && options_.reward_mode == CodeRewardMode::kAllOrNothing) break;
    if (r.status == RunStatus::kSandboxError) break;
  }
  return t.verdict(options_.reward_mode);
}

Verdict CodeVerifier::run_assert_tests(const std::string& program, const Json& sample,
                                       double timeout_s) const {
  sandbox::AssertTask task;
  task.program = program;
  task.test_code = sample.at("test_code").get<std::string>();
  task.entry_point = sample.value("entry_point", "");
  task.setup = sample.value("test_setup", "");
  task.timeout_s = timeout_s;
  Tally t;
  t.total = 1;
  if (!is_identifier(task.entry_point)) {
    Verdict v = t.verdict(options_.reward_mode);
    v.status = "error";
    v.reason = "entry_point '" + task.entry_point + "' is not an identifier";
    return v;
  }
  const sandbox::AssertOutcome o = sandbox::run_assert_task(*sandbox_, task);
  const RunResult& tr = o.runs.trusted;
  const RunResult& cr = o.runs.untrusted;
  t.passed = o.result == "pass" ? 1 : 0;
  t.wall_s = std::max(tr.wall_s, cr.wall_s);
  t.cpu_s = tr.cpu_s + cr.cpu_s;
  t.peak = std::max(tr.peak_memory_bytes, cr.peak_memory_bytes);
  if (!t.passed) {
    t.status = assert_status(o);
    if (!o.result.empty()) {
      t.reason = printable(o.reason);
      const std::string err = last_line(cr.err);
      if ((o.result == "candidate_exited" || o.result == "load_error") && !err.empty())
        t.reason += ": " + err;
      if (cr.status == RunStatus::kSandboxError) t.reason += ": " + printable(cr.error);
    } else {
      t.reason = std::string("the trusted harness gave no verdict (") + sandbox::to_string(tr.status) + ") " +
                 printable(tr.error.empty() ? last_line(tr.err) : tr.error);
    }
  }
  Verdict v = t.verdict(options_.reward_mode);
  v.info["calls"] = o.calls;
  if (!o.candidate_helpers.empty()) v.info["candidate_helpers"] = o.candidate_helpers;
  if (!o.result.empty()) v.info["harness_result"] = o.result;
  return v;
}

std::vector<Verdict> CodeVerifier::verify_batch(const std::vector<Sample>& samples) const {
  std::vector<Verdict> out(samples.size());
  int workers = options_.workers > 0 ? options_.workers : sandbox_->options().slots;
  boost::asio::thread_pool pool(static_cast<size_t>(std::max(1, workers)));
  for (size_t i = 0; i < samples.size(); ++i) {
    boost::asio::post(pool, [this, &samples, &out, i] { out[i] = verify(samples[i]); });
  }
  pool.join();
  return out;
}

std::unique_ptr<Verifier> make_code_verifier(const CodeVerifierOptions& options) {
  return std::make_unique<CodeVerifier>(options);
}

}  // namespace zerorl::verifiers
