// verifiers/sandbox/assert_tests.cpp: builds the trusted/untrusted request pair of an assert-style test and
// reads the trusted side's verdict line. Not here: the Python programs (py/), the pair's mechanics
// (sandbox.cpp), mapping outcomes to verdicts (code_verifier.cpp).
#include "verifiers/sandbox/assert_tests.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>

#include "core/json_io.h"
#include "core/log.h"

namespace zerorl::verifiers::sandbox {
namespace {

std::string make_nonce() {
  std::random_device rd;
  char buf[40];
  std::snprintf(buf, sizeof buf, "ZRL-%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

// "<nonce> {json}\n" and nothing else: the trusted harness prints only this on its stdout.
bool parse_verdict(const std::string& out, const std::string& nonce, AssertOutcome* o) {
  const std::string head = nonce + " ";
  if (out.size() < head.size() + 2 || out.compare(0, head.size(), head) != 0 || out.back() != '\n' ||
      out.find('\n') != out.size() - 1) {
    return false;
  }
  Json v = Json::parse(out.substr(head.size()), nullptr, false);
  if (!v.is_object() || !v.contains("result") || !v["result"].is_string()) return false;
  o->result = v["result"].get<std::string>();
  o->reason = v.contains("reason") && v["reason"].is_string() ? v["reason"].get<std::string>() : "";
  o->calls = v.contains("calls") && v["calls"].is_number_integer() ? v["calls"].get<int>() : 0;
  if (v.contains("helpers") && v["helpers"].is_array()) {
    for (const auto& h : v["helpers"])
      if (h.is_string()) o->candidate_helpers.push_back(h.get<std::string>());
  }
  return true;
}

// The .pyc file's name in the candidate's working directory (/work in the sandbox, the host temp dir of
// the insecure fallback): the command line names it relative to the working directory, as both set it.
constexpr const char* kCandidatePyc = "zrl_candidate.pyc";

// Compiles src.py (its working directory's) and writes the .pyc image to stdout. The header's flags, date
// and size are zero: running a .pyc file by name checks only its magic number.
constexpr const char* kCompilePyc =
    "import importlib.util, marshal, sys\n"
    "code = compile(open('src.py', encoding='utf-8').read(), 'candidate_server.py', 'exec')\n"
    "sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(code))\n";

}  // namespace

const std::string& candidate_server_pyc(Sandbox& sandbox, const std::string& python) {
  static std::mutex mutex;
  static std::map<std::string, std::string> images;  // interpreter path -> image ("" = failed)
  std::lock_guard<std::mutex> lock(mutex);
  auto it = images.find(python);
  if (it != images.end()) return it->second;
  RunRequest req;
  req.program = kCompilePyc;
  req.files = {{"src.py", harness_python("codec") + harness_python("candidate_server")}};
  req.argv = {python, "-I", "-B", "-S", "{file}"};
  req.wall_s = 20.0;  // once per process; generous, so a busy machine does not cost every later test
  const RunResult r = sandbox.run(req);
  std::string image;
  if (r.status == RunStatus::kExited && r.exit_code == 0 && r.out.size() > 16) {
    image = r.out;
  } else {
    const std::string why = r.error.empty() ? r.err : r.error;
    ZRL_WARN("code verifier: compiling the candidate harness with {} failed ({}: {}); running its source",
             python, to_string(r.status),
             why.substr(0, std::min<size_t>(300, why.find_last_not_of(" \n") + 1)));
  }
  return images.emplace(python, std::move(image)).first->second;
}

AssertOutcome run_assert_task(Sandbox& sandbox, const AssertTask& task) {
  const std::string nonce = make_nonce();
  // Both without `site` (-S), which is most of Python's start-up: the harness's test code imports the
  // standard library only; the candidate server puts Debian's package folders on sys.path itself.
  const std::vector<std::string> python = {"/usr/bin/python3", "-I", "-B", "-S", "{file}"};
  // The harness stops waiting on the candidate a little before the sandbox's own deadline, so a slow
  // candidate is reported as such rather than as a killed harness.
  const double margin = std::clamp(0.1 * task.timeout_s, 0.05, 0.5);
  RunRequest trusted;
  // The slot's fork server: Python, the codec and the harness are loaded once; each test is a fork.
  trusted.program =
      harness_python("codec") + harness_python("trusted_harness") + harness_python("fork_server");
  // One ASCII JSON line without floats: what the harness's strict reader accepts.
  const Json cfg = {{"nonce", nonce},
                    {"entry_point", task.entry_point},
                    {"deadline_ms", static_cast<int64_t>(1000.0 * (task.timeout_s - margin))},
                    {"setup", task.setup},
                    {"tests", task.test_code}};
  trusted.stdin_data = cfg.dump(-1, ' ', true, Json::error_handler_t::replace) + "\n";
  trusted.wall_s = task.timeout_s;
  trusted.argv = python;
  RunRequest untrusted;
  untrusted.files = {{"solution.py", task.program}};
  untrusted.wall_s = task.timeout_s;
  untrusted.argv = python;
  const std::string& pyc = candidate_server_pyc(sandbox, python[0]);
  if (pyc.empty()) {
    untrusted.program = harness_python("codec") + harness_python("candidate_server");
  } else {  // the program file stays empty; the interpreter runs the image beside it
    untrusted.files.push_back({kCandidatePyc, pyc});
    untrusted.argv.back() = kCandidatePyc;
  }
  AssertOutcome o;
  o.runs = sandbox.run_pair_forked(std::move(trusted), std::move(untrusted));
  if (o.runs.trusted.status != RunStatus::kExited || !parse_verdict(o.runs.trusted.out, nonce, &o)) {
    o.result.clear();
  }
  return o;
}

}  // namespace zerorl::verifiers::sandbox
