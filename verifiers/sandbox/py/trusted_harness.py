# verifiers/sandbox/py/trusted_harness.py: the trusted side of an assert-style test (HumanEval, MBPP): runs
# the dataset's setup and test code, and reaches the candidate's functions only as remote calls over fds
# 3 (calls out) and 4 (replies in), rebuilding every result as fresh plain data. Prints one verdict line,
# "<nonce> <json>", on its original stdout. Not here: the codec (codec.py), running the candidate
# (candidate_server.py), the sandboxes and the scoring (C++).
#
# It runs as a fork server's child (fork_server.py follows this file): zrl_main() once per test, in a
# fresh fork. stdin: one JSON line {"nonce", "entry_point", "deadline_ms", "setup" (trusted code run
# before the tests), "tests" (the test code)}.
# Verdict results: pass, wrong, candidate_raised, candidate_exited, load_error, timeout, unsupported,
# protocol, test_error. This process never runs candidate code, and no object of the candidate's reaches
# the tests: only values rebuilt by zrl_decode.
import builtins as _zrl_builtins
import linecache as _zrl_linecache
import sys as _zrl_sys
import traceback as _zrl_traceback  # imported once by the fork server, not per test

ZRL_CALL_FD, ZRL_REPLY_FD = 3, 4


class ZrlStop(BaseException):
    """Ends the tests with a verdict; a BaseException, so no test's `except Exception` swallows it."""

    def __init__(self, result, reason):
        BaseException.__init__(self, reason)
        self.result, self.reason = result, reason


class CandidateError(Exception):
    """An exception the candidate raised whose type is not a builtin one."""


_ZRL_EXCEPTIONS = {n: c for n, c in vars(_zrl_builtins).items()
                   if isinstance(c, type) and issubclass(c, Exception)
                   and n not in ('StopIteration', 'StopAsyncIteration')}


class ZrlChannel:
    def __init__(self, deadline):
        self.deadline, self.reader = deadline, ZrlReader(ZRL_REPLY_FD)
        self.calls, self.stop, self.raised = 0, None, None
        self.helpers = []  # names besides the entry point that resolve to the candidate's functions
        _zrl_os.set_blocking(ZRL_CALL_FD, False)

    def fail(self, result, reason):
        if self.stop is None:
            self.stop = ZrlStop(result, reason)
        raise self.stop

    def frame(self):
        try:
            line = self.reader.line(self.deadline)
            if line is None:
                self.fail('candidate_exited', 'the candidate process ended')
            return zrl_loads(line)
        except _ZrlLate:
            self.fail('timeout', 'the candidate did not answer before the deadline')
        except _ZrlBad as e:
            self.fail('protocol', 'the candidate sent %s' % e)

    def call(self, name, args, kwargs):
        if self.stop is not None:
            raise self.stop
        try:
            a, k = zrl_encode(list(args)), zrl_encode(dict(kwargs))
        except _ZrlUnplain as e:
            self.fail('unsupported', 'the tests pass %s to %s(); only plain data crosses to the candidate' % (e, name))
        cid = _zrl_os.urandom(8).hex()
        try:
            zrl_write_all(ZRL_CALL_FD, zrl_dumps({'id': cid, 'fn': name, 'a': a, 'k': k}), self.deadline)
        except _ZrlLate:
            self.fail('timeout', 'the candidate did not read call %d before the deadline' % (self.calls + 1))
        except OSError:
            self.fail('candidate_exited', 'the candidate process ended')
        msg = self.frame()
        if msg.get('id') != cid or len(msg) != 2:
            self.fail('protocol', 'the candidate sent a reply out of order')
        self.calls += 1
        if 'ok' in msg:
            try:
                return zrl_decode(msg['ok'], [ZRL_MAX_VALUES])
            except (_ZrlBad, RecursionError, MemoryError) as e:
                self.fail('protocol', 'the candidate sent %s' % e)
        if 'raise' in msg:
            r = msg['raise']
            if type(r) is not list or len(r) != 2 or type(r[0]) is not str or type(r[1]) is not str:
                self.fail('protocol', 'the candidate sent a malformed exception')
            self.raised = zrl_exception(r[0][:100], r[1][:300])
            raise self.raised
        if 'unsupported' in msg:
            self.fail('unsupported', '%s() returned %s; only plain data crosses back' % (name, str(msg['unsupported'])[:200]))
        self.fail('protocol', 'the candidate sent an unknown reply')


def zrl_exception(name, message):
    """A fresh builtin exception of the candidate's type name, else CandidateError."""
    cls = _ZRL_EXCEPTIONS.get(name)
    try:
        if cls is not None:
            return cls(message)
    except Exception:
        pass
    return CandidateError('%s: %s' % (name, message))


class ZrlRemote:
    """The candidate's function `name`, called over the channel; arguments and results are plain data."""

    def __init__(self, channel, name):
        self._channel, self.__name__, self.__qualname__ = channel, name, name

    def __call__(self, *args, **kwargs):
        return self._channel.call(self.__name__, args, kwargs)

    def __repr__(self):
        return '<candidate function %s>' % self.__name__


def zrl_free_names(code):
    names, stack = set(), [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if hasattr(k, 'co_names'))
    return names


def zrl_where(e):
    for fr in reversed(_zrl_traceback.extract_tb(e.__traceback__)):
        if fr.filename in ('tests.py', 'setup.py'):
            return ' at %s:%d: %s' % (fr.filename, fr.lineno, (fr.line or '')[:160])
    return ''


def zrl_compile(source, name):
    """The code object of `source`; its lines go to linecache under `name`, so tracebacks (zrl_where)
    quote them without a file (mtime None: linecache never checks the disk for it)."""
    _zrl_linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    return compile(source, name, 'exec')


def zrl_run_tests(cfg, channel):
    """Raises ZrlStop or the tests' exception; returns normally when the tests finished."""
    entry = cfg['entry_point']
    g = {'__name__': '__zrl_tests__', '__builtins__': _zrl_builtins}
    # Compiled and set up while the candidate's sandbox is still starting (before its hello), so this
    # work is off the test's critical path. Trusted code only: no name of the candidate's exists yet.
    try:
        setup, tests = zrl_compile(cfg['setup'], 'setup.py'), zrl_compile(cfg['tests'], 'tests.py')
        exec(setup, g)
    except BaseException as e:
        raise ZrlStop('test_error', 'the setup or test code failed before any test: %s: %s%s'
                      % (type(e).__name__, str(e)[:200], zrl_where(e)))
    if not _zrl_select.select([ZRL_REPLY_FD], [], [], 0)[0]:  # the candidate is still starting
        zrl_warm_calls()
    hello = channel.frame()
    if 'load_error' in hello:
        channel.fail('load_error', 'the program failed to load: %s' % str(hello['load_error'])[:300])
    names = hello.get('hello')
    if type(names) is not list or len(hello) != 1 or len(names) > 100000 or any(type(n) is not str for n in names):
        channel.fail('protocol', 'the candidate sent a malformed hello')
    # The candidate's functions the tests (or the setup's helpers) name and the trusted code did not define.
    # Never `check`: only the tests' own check() runs.
    wanted = zrl_free_names(tests) | zrl_free_names(setup)
    for n in (set(names) & wanted) - set(g) - set(dir(_zrl_builtins)) - {'check', entry}:
        g[n] = ZrlRemote(channel, n)
        channel.helpers.append(n)
    g[entry] = ZrlRemote(channel, entry)
    exec(tests, g)
    if type(g.get('check')) is type(zrl_free_names):  # a plain function the tests defined
        g['check'](ZrlRemote(channel, entry))


def zrl_verdict(cfg, channel):
    try:
        zrl_run_tests(cfg, channel)
    except ZrlStop as s:
        return s.result, s.reason
    except BaseException as e:
        if channel.stop is not None:
            return channel.stop.result, channel.stop.reason
        what = type(e).__name__ + (': ' + str(e)[:200] if str(e) else '')
        if e is channel.raised:
            return 'candidate_raised', 'the candidate raised %s%s' % (what, zrl_where(e))
        return 'wrong', what + zrl_where(e)
    if channel.stop is not None:  # a test swallowed the stop with a bare except
        return channel.stop.result, channel.stop.reason
    if channel.calls == 0:
        return 'wrong', 'the tests never called the candidate'
    return 'pass', 'all %d calls answered, every assert held' % channel.calls


def zrl_warm():
    """Run once by the fork server before its first fork, on fixed data (never a test's): the state the
    interpreter builds lazily on first use (the compiler's, the codec's, traceback's) is then inherited by
    every child instead of built in each. Measured with the project's python3: a forked child's first
    compile() cost about 3x what it costs after its parent has compiled once."""
    src = ("def check(candidate):\n    assert candidate([1, 2.5, 'a']) == [1, 2.5, 'a']\n"
           "    assert candidate(None) is None, 'none'\n")
    g = {'__name__': '__zrl_warm__', '__builtins__': _zrl_builtins}
    exec(compile(src, '<warm>', 'exec'), g)
    frame = zrl_dumps({'ok': zrl_encode([1, 2.5, 'a', (1,), {2: b'x'}, {3}, 10 ** 30])})
    zrl_decode(zrl_loads(frame.rstrip(b'\n'))['ok'], [ZRL_MAX_VALUES])
    g['check'](lambda x: x)
    try:
        g['check'](lambda x: 0)
    except AssertionError as e:
        zrl_where(e)


def zrl_warm_calls():
    """Run by each test's fork before the candidate's hello, while the candidate's sandbox is still starting,
    on fixed data (never a test's): one call frame and one reply frame through the codec, as each test call
    does. The fork's first use of those paths costs copy-on-write faults (measured with the project's
    python3: the calls after the hello took 2.4 ms of CPU without this, 0.5 ms with it, for 1.1 ms more in
    all); they are taken here instead of between the candidate's replies."""
    call = zrl_dumps({'id': 'w', 'fn': 'f', 'a': zrl_encode([1, 2.5, 'a', [1]]), 'k': zrl_encode({})})
    zrl_decode(zrl_loads(call.rstrip(b'\n'))['a'], [ZRL_MAX_VALUES])
    reply = zrl_dumps({'id': 'w', 'ok': zrl_encode([1, 2.5, 'a', (1,), {2: b'x'}, {3}])})
    zrl_decode(zrl_loads(reply.rstrip(b'\n'))['ok'], [ZRL_MAX_VALUES])


def zrl_main():
    start = _zrl_time.monotonic()
    cfg = zrl_loads(_zrl_sys.stdin.buffer.readline().rstrip(b'\n'))
    verdict_fd = _zrl_os.dup(1)
    _zrl_os.dup2(2, 1)  # the tests' own prints go to stderr; only this process writes verdict_fd
    channel = ZrlChannel(start + cfg['deadline_ms'] / 1000.0)
    result, reason = zrl_verdict(cfg, channel)
    verdict = {'result': result, 'reason': reason, 'calls': channel.calls, 'helpers': sorted(channel.helpers)}
    zrl_write_all(verdict_fd, cfg['nonce'].encode('ascii') + b' ' + zrl_dumps(verdict))
    # The candidate reads end of file now and exits while this process's own exit (its address space's
    # teardown) runs, instead of after it.
    _zrl_os.close(ZRL_CALL_FD)
    _zrl_os.close(ZRL_REPLY_FD)
    _zrl_os._exit(0)

