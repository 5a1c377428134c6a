// verifiers/sandbox/code_verifier.cpp: the "code" verifier: test formats, nonce-checked assert harness,
// scoring, and the bounded batch pool. Not here: process isolation (sandbox*.cpp), text helpers
// (program_text.cpp).
#include "verifiers/sandbox/code_verifier.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <random>

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

std::string make_nonce() {
  std::random_device rd;
  char buf[40];
  std::snprintf(buf, sizeof buf, "ZRL-%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

// The HumanEval harness. The nonce arrives on stdin and is read before the untrusted code runs; it is
// printed only after check() returns, so an early exit (os._exit(0), sys.exit) never passes. Limits: a
// program that inspects the harness's frames could find it; the sandbox still contains it.
std::string assert_harness(const std::string& entry_point) {
  return "import sys as _zrl_sys\n"
         "def _zrl_main():\n"
         "    nonce = _zrl_sys.stdin.readline().strip()\n"
         "    out = _zrl_sys.stdout\n"
         "    g = {'__name__': '__main__', '__builtins__': __builtins__}\n"
         "    with open('solution.py') as f:\n"
         "        exec(compile(f.read(), 'solution.py', 'exec'), g)\n"
         "    with open('tests.py') as f:\n"
         "        exec(compile(f.read(), 'tests.py', 'exec'), g)\n"
         "    g['check'](g['" +
         entry_point +
         "'])\n"
         "    out.write('\\n' + nonce + '\\n')\n"
         "    out.flush()\n"
         "_zrl_main()\n";
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
      v = run_assert_tests(program, x.at("test_code").get<std::string>(), x.value("entry_point", ""),
                           timeout);
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

Verdict CodeVerifier::run_assert_tests(const std::string& program, const std::string& test_code,
                                       const std::string& entry_point, double timeout_s) const {
  Tally t;
  t.total = 1;
  if (!is_identifier(entry_point)) {
    Verdict v = t.verdict(options_.reward_mode);
    v.status = "error";
    v.reason = "entry_point '" + entry_point + "' is not an identifier";
    return v;
  }
  std::string nonce = make_nonce();
  sandbox::RunRequest req;
  req.program = assert_harness(entry_point);
  req.files = {{"solution.py", program}, {"tests.py", test_code}};
  req.stdin_data = nonce + "\n";
  req.wall_s = timeout_s;
  RunResult r = sandbox_->run(req);
  std::string out_tail = r.out.substr(r.out.size() > 200 ? r.out.size() - 200 : 0);
  bool nonce_last = out_tail.size() >= nonce.size() + 1 &&
                    out_tail.compare(out_tail.size() - nonce.size() - 1, nonce.size() + 1, nonce + "\n") == 0;
  bool ok = r.status == RunStatus::kExited && r.exit_code == 0 && nonce_last;
  std::string why = r.status == RunStatus::kExited && r.exit_code == 0
                        ? "exited 0 without finishing the tests"
                        : std::string(sandbox::to_string(r.status)) + " " + last_line(r.err);
  t.add(r, ok, why);
  return t.verdict(options_.reward_mode);
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
