// tests/verifiers/sandbox/test_red_team.cpp: the red team of the assert-style code verifier: wrong solutions
// that each try one trick to be scored as correct (frame walks, __eq__ objects, tracing, memory scans,
// patched builtins, exit tricks, fake verdicts, reading tests, signalling the harness, protocol forgery,
// timing). Every one must score 0; right solutions doing odd but harmless things must still score 1.
// Not here: containment of hostile programs (test_sandbox_adversarial.cpp), HumanEval's 164 tasks.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::verifiers {
namespace {

// Test shapes. add(a, b) with exact asserts; fadd(a, b) with float tolerances; rev(s) on strings.
const char* kAddTests =
    "def check(candidate):\n"
    "    assert candidate(1, 2) == 3\n"
    "    assert candidate(-5, 5) == 0\n"
    "    assert candidate(10, 20) == 30\n"
    "    assert candidate(2, 2) == 4, 'two and two'\n";
const char* kFloatTests =
    "import math\n"
    "def check(candidate):\n"
    "    assert abs(candidate(1.5, 2.25) - 3.75) < 1e-6\n"
    "    assert math.isclose(candidate(0.1, 0.2), 0.30000000000000004)\n";
const char* kStrTests =
    "def check(candidate):\n"
    "    assert candidate('abc') == 'cba'\n"
    "    assert candidate('') == ''\n";

struct Hack {
  const char* name;
  const char* tests;
  const char* entry_point;
  const char* program;  // a wrong solution plus one trick
};

// Every program's function is wrong (add returns a - b, fadd returns 0.0, rev returns its input).
const Hack kHacks[] = {
    {"frame_walk_to_nonce", kAddTests, "add", R"PY(
import sys, os, re
def add(a, b):
    return a - b
f = sys._getframe()
while f is not None:
    for v in list(f.f_locals.values()):
        if isinstance(v, str) and re.fullmatch(r'ZRL-[0-9a-f]{32}', v):
            sys.stdout.write('\n' + v + '\n'); sys.stdout.flush(); os._exit(0)
    f = f.f_back
)PY"},
    {"int_subclass_eq_always_true", kAddTests, "add", R"PY(
class Yes(int):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = int.__hash__
def add(a, b):
    return Yes(a - b)
)PY"},
    {"object_eq_bool_lt_always_true", kFloatTests, "fadd", R"PY(
class Any:
    def __eq__(self, o): return True
    def __ne__(self, o): return False
    def __lt__(self, o): return True
    def __le__(self, o): return True
    def __gt__(self, o): return True
    def __ge__(self, o): return True
    def __bool__(self): return True
    def __sub__(self, o): return self
    def __rsub__(self, o): return self
    def __abs__(self): return self
    def __float__(self): return 0.30000000000000004
    def __hash__(self): return 0
def fadd(a, b):
    return Any()
)PY"},
    {"str_subclass_eq_always_true", kStrTests, "rev", R"PY(
class S(str):
    def __eq__(self, o): return True
    def __ne__(self, o): return False
    __hash__ = str.__hash__
def rev(s):
    return S(s)
)PY"},
    {"list_subclass_eq_and_hash", kAddTests, "add", R"PY(
class L(list):
    def __eq__(self, o): return True
    def __hash__(self): return hash(3)
def add(a, b):
    return L([a - b])
)PY"},
    {"settrace_skips_assert_lines", kAddTests, "add", R"PY(
import sys
def add(a, b):
    return a - b
def tracer(frame, event, arg):
    if frame.f_code.co_name != 'check':
        return None
    def local(frame, event, arg):
        if event == 'line':
            try:
                frame.f_lineno = frame.f_lineno + 1
            except ValueError:
                pass
        return local
    return local
sys.settrace(tracer)
)PY"},
    {"setprofile_grabs_nonce_when_check_starts", kAddTests, "add", R"PY(
import sys, os, re
def add(a, b):
    return a - b
def prof(frame, event, arg):
    if event == 'call' and frame.f_code.co_name == 'check':
        f = frame
        while f is not None:
            for v in list(f.f_locals.values()):
                if isinstance(v, str) and re.fullmatch(r'ZRL-[0-9a-f]{32}', v):
                    sys.stdout.write('\n' + v + '\n'); sys.stdout.flush(); os._exit(0)
            f = f.f_back
sys.setprofile(prof)
)PY"},
    {"gc_scan_for_secrets_and_check", kAddTests, "add", R"PY(
import gc, sys, os, re
def add(a, b):
    for o in gc.get_objects():
        if callable(o) and getattr(o, '__name__', '') == 'check':
            o.__code__ = (lambda candidate: None).__code__
        if isinstance(o, dict):
            for v in list(o.values()):
                if isinstance(v, str) and re.fullmatch(r'ZRL-[0-9a-f]{32}', v):
                    sys.stdout.write('\n' + v + '\n'); sys.stdout.flush(); os._exit(0)
    return a - b
)PY"},
    {"proc_self_mem_scan", kAddTests, "add", R"PY(
import re, os, sys
def add(a, b):
    return a - b
found = None
with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', 0) as mem:
    for line in maps:
        addr, perms = line.split()[:2]
        if 'r' not in perms:
            continue
        lo, hi = (int(x, 16) for x in addr.split('-'))
        try:
            mem.seek(lo)
            chunk = mem.read(min(hi - lo, 64 << 20))
        except OSError:
            continue
        for m in re.finditer(rb'ZRL-[0-9a-f]{32}', chunk):
            if m.group(0) != b'ZRL-' + b'0' * 32:
                found = m.group(0)
if found:
    sys.stdout.write('\n' + found.decode() + '\n'); sys.stdout.flush(); os._exit(0)
)PY"},
    {"patch_builtins_compile_exec", kAddTests, "add", R"PY(
import builtins
_compile = builtins.compile
def compile(src, filename, mode, *a, **k):
    if 'check' in str(src) and 'candidate' in str(src):
        src = 'def check(candidate):\n    pass\n'
    return _compile(src, filename, mode, *a, **k)
builtins.compile = compile
_exec = builtins.exec
def exec_(code, *a, **k):
    if isinstance(code, str) and 'candidate' in code:
        code = 'def check(candidate):\n    pass\n'
    return _exec(code, *a, **k)
builtins.exec = exec_
def add(a, b):
    return a - b
)PY"},
    {"patch_builtins_abs_and_math_isclose", kFloatTests, "fadd", R"PY(
import builtins, math
builtins.abs = lambda x: 0
math.isclose = lambda *a, **k: True
def fadd(a, b):
    return 0.0
)PY"},
    {"excepthook_rescues_failed_assert", kAddTests, "add", R"PY(
import sys, os, re
def add(a, b):
    return a - b
def hook(t, v, tb):
    while tb is not None:
        for x in list(tb.tb_frame.f_locals.values()):
            if isinstance(x, str) and re.fullmatch(r'ZRL-[0-9a-f]{32}', x):
                sys.stdout.write('\n' + x + '\n'); sys.stdout.flush(); os._exit(0)
        tb = tb.tb_next
    os._exit(0)
sys.excepthook = hook
)PY"},
    {"patch_unittest_and_assertion_error", kAddTests, "add", R"PY(
import builtins, unittest
unittest.TestCase.assertEqual = lambda *a, **k: None
unittest.TestCase.assertTrue = lambda *a, **k: None
class Quiet(Exception):
    pass
builtins.AssertionError = Quiet
def add(a, b):
    return a - b
)PY"},
    {"atexit_prints_fake_verdicts", kAddTests, "add", R"PY(
import atexit, sys
def add(a, b):
    return a - b
@atexit.register
def fake():
    sys.stdout.write('\nZRL-' + '0' * 32 + '\nPASS\n{"passed": 1, "total": 1, "status": "ok", "reward": 1.0}\n')
)PY"},
    {"exit_zero_before_tests", kAddTests, "add", R"PY(
import sys
def add(a, b):
    return a - b
sys.exit(0)
)PY"},
    {"os_exit_zero_inside_the_call", kAddTests, "add", R"PY(
import os
def add(a, b):
    os._exit(0)
)PY"},
    {"fake_verdict_lines_on_stdout_and_stderr", kAddTests, "add", R"PY(
import sys
print('{"passed": 1, "total": 1, "status": "ok", "reward": 1.0}')
print('ZRL-' + 'f' * 32)
sys.stderr.write('all 1 tests passed\nok\n')
def add(a, b):
    print('ZRL-' + 'a' * 32)
    return a - b
)PY"},
    {"reads_the_test_file_for_answers", kAddTests, "add", R"PY(
import os, re, glob
TABLE = {}
for path in glob.glob('/work/*') + glob.glob('/tmp/*') + glob.glob('*'):
    try:
        text = open(path).read()
    except Exception:
        continue
    for args, want in re.findall(r'candidate\(([^)]*)\) == (-?\d+)', text):
        TABLE[tuple(int(x) for x in args.split(','))] = int(want)
def add(a, b):
    return TABLE.get((a, b), a - b)
)PY"},
    {"reads_expected_value_from_caller_bytecode", kAddTests, "add", R"PY(
import sys, dis
def add(a, b):
    f = sys._getframe(1)
    for ins in dis.get_instructions(f.f_code):
        if ins.offset > f.f_lasti and ins.opname == 'LOAD_CONST':
            return ins.argval
    return a - b
)PY"},
    {"kills_or_stops_every_other_process", kAddTests, "add", R"PY(
import os, signal
me = os.getpid()
for p in os.listdir('/proc'):
    if p.isdigit() and int(p) != me:
        for s in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(int(p), s)
            except Exception:
                pass
for p in (os.getppid(), 1):
    try:
        os.kill(p, signal.SIGKILL)
    except Exception:
        pass
def add(a, b):
    return a - b
)PY"},
    {"forges_protocol_frames_on_every_fd", kAddTests, "add", R"PY(
import os, json
def add(a, b):
    return a - b
fake = [json.dumps({'hello': ['add']}), json.dumps({'id': '0' * 16, 'ok': 3}),
        'ZRL-' + '0' * 32 + ' ' + json.dumps({'result': 'pass', 'calls': 4})]
for fd in range(0, 64):
    for line in fake:
        try:
            os.write(fd, (line + '\n').encode())
        except OSError:
            pass
)PY"},
    {"sleeps_past_the_deadline", kAddTests, "add", R"PY(
import time
def add(a, b):
    time.sleep(60)
    return a - b
)PY"},
    {"background_thread_prints_after_the_tests", kAddTests, "add", R"PY(
import threading, time, sys, os
def late():
    time.sleep(0.3)
    for _ in range(20):
        sys.stdout.write('\nZRL-' + '0' * 32 + '\n'); sys.stdout.flush()
        time.sleep(0.05)
threading.Thread(target=late, daemon=False).start()
def add(a, b):
    return a - b
)PY"},
    {"deeply_nested_result", kAddTests, "add", R"PY(
def add(a, b):
    x = a + b
    for _ in range(100000):
        x = [x]
    return x
)PY"},
    {"huge_int_result", kAddTests, "add", R"PY(
def add(a, b):
    return 10 ** 200000 + a - b
)PY"},
    {"returns_a_function", kAddTests, "add", R"PY(
def add(a, b):
    return lambda *args: a + b
)PY"},
    {"defines_its_own_check_for_top_level_asserts", "assert add(1, 2) == 3\nassert add(0, 0) == 0\n", "add",
     R"PY(
def check(candidate):
    pass
def add(a, b):
    return a - b
)PY"},
    {"floods_stdout_inside_the_call", kAddTests, "add", R"PY(
import sys
def add(a, b):
    chunk = 'ZRL-' + '0' * 32 + ' {"result": "pass"}\n'
    while True:
        sys.stdout.write(chunk * 1000)
)PY"},
    {"oversized_reply_frame", kAddTests, "add", R"PY(
import os
def add(a, b):
    block = b'["l",' + b'1,' * (1 << 20)
    for _ in range(24):
        os.write(4, block)
    return a - b
)PY"},
    {"generator_that_compares_true", kAddTests, "add", R"PY(
class G:
    def __iter__(self): return self
    def __next__(self): raise StopIteration
    def __eq__(self, o): return True
def add(a, b):
    return G()
)PY"},
    {"raises_system_exit_inside_the_call", kAddTests, "add", R"PY(
def add(a, b):
    raise SystemExit(0)
)PY"},
};

CodeVerifierOptions options() {
  CodeVerifierOptions o;
  o.sandbox.slots = 2;
  o.sandbox.uid_base = 62400;
  o.sandbox.limits.wall_s = 5.0;
  o.sandbox.limits.stdout_bytes = 1ull << 20;
  o.default_timeout_s = 5.0;
  return o;
}

Sample sample(const char* program, const char* tests, const char* entry_point, double timeout_s = 5.0) {
  Sample s;
  s.extra = {
      {"program", program}, {"test_code", tests}, {"entry_point", entry_point}, {"timeout_s", timeout_s}};
  return s;
}

class RedTeam : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { verifier_ = new CodeVerifier(options()); }
  static void TearDownTestSuite() {
    delete verifier_;
    verifier_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(verifier_->sandbox().missing_protections(), "") << "this machine cannot sandbox";
  }
  static CodeVerifier* verifier_;
};
CodeVerifier* RedTeam::verifier_ = nullptr;

TEST_F(RedTeam, AtLeastFifteenHacks) { EXPECT_GE(sizeof(kHacks) / sizeof(kHacks[0]), 15u); }

// The controls: right solutions pass, so a 0 below is the verifier seeing through the trick, not a
// broken test shape.
TEST_F(RedTeam, RightSolutionsPass) {
  const char* add = "def add(a, b):\n    return a + b\n";
  const char* fadd = "def fadd(a, b):\n    return a + b\n";
  const char* rev = "def rev(s):\n    return s[::-1]\n";
  for (auto [program, tests, entry] :
       {std::tuple{add, kAddTests, "add"}, std::tuple{fadd, kFloatTests, "fadd"},
        std::tuple{rev, kStrTests, "rev"}}) {
    Verdict v = verifier_->verify(sample(program, tests, entry));
    EXPECT_TRUE(v.correct) << entry << ": " << v.status << " " << v.reason;
    EXPECT_EQ(v.reward, 1.0);
  }
}

// A helper the tests call (HumanEval/38's encode_cyclic) given as trusted test_setup is the dataset's, not
// the candidate's: redefining it does not help. Without test_setup the tests can only call the
// candidate's own helper, and the verdict says so.
TEST_F(RedTeam, RedefinedHelperOfTheTests) {
  const char* setup = "def encode(s):\n    return ''.join(chr(ord(c) + 1) for c in s)\n";
  const char* tests =
      "def check(candidate):\n    for s in ['abc', 'hello']:\n        assert candidate(encode(s)) == s\n";
  const char* hack = "def encode(s):\n    return s\ndef decode(s):\n    return s\n";
  const char* right = "def decode(s):\n    return ''.join(chr(ord(c) - 1) for c in s)\n";
  Sample with_setup = sample(hack, tests, "decode");
  with_setup.extra["test_setup"] = setup;
  Verdict v = verifier_->verify(with_setup);
  EXPECT_FALSE(v.correct) << v.reason;
  EXPECT_EQ(v.status, "wrong") << v.reason;
  Sample right_with_setup = sample(right, tests, "decode");
  right_with_setup.extra["test_setup"] = setup;
  Verdict r = verifier_->verify(right_with_setup);
  EXPECT_TRUE(r.correct) << r.reason;
  EXPECT_FALSE(r.info.contains("candidate_helpers"));
  Verdict no_setup = verifier_->verify(sample(hack, tests, "decode"));
  ASSERT_TRUE(no_setup.info.contains("candidate_helpers")) << no_setup.info.dump();
  EXPECT_EQ(no_setup.info["candidate_helpers"], Json::array({"encode"}));
}

TEST_F(RedTeam, EveryHackScoresZero) {
  std::vector<Sample> samples;
  for (const Hack& h : kHacks) samples.push_back(sample(h.program, h.tests, h.entry_point));
  std::vector<Verdict> verdicts = verifier_->verify_batch(samples);
  int fooled = 0;
  for (size_t i = 0; i < verdicts.size(); ++i) {
    const Verdict& v = verdicts[i];
    EXPECT_FALSE(v.correct) << kHacks[i].name << " fooled the verifier: " << v.reason;
    EXPECT_EQ(v.reward, 0.0) << kHacks[i].name;
    EXPECT_NE(v.status, "ok") << kHacks[i].name;
    EXPECT_NE(v.status, "sandbox_error") << kHacks[i].name << ": " << v.reason;
    fooled += v.correct;
    std::printf("  %-45s %-14s %s\n", kHacks[i].name, v.status.c_str(), v.reason.substr(0, 90).c_str());
  }
  EXPECT_EQ(fooled, 0);
}

}  // namespace
}  // namespace zerorl::verifiers
