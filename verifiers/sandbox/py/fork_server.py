# verifiers/sandbox/py/fork_server.py: a long-lived trusted process (a "fork server", appended to the
# program whose zrl_main() it runs) that runs zrl_main() once per request, each time in a fresh forked
# child, so a test costs a fork instead of an interpreter start. Not here: what zrl_main() does
# (trusted_harness.py), starting and stopping the server, its sandbox (C++: sandbox/fork_server.cpp).
#
# fd 3: a SOCK_SEQPACKET Unix socket to the Sandbox. A request is one message "<wall_ms> <cpu_s>" carrying
# five fds (SCM_RIGHTS) that become the child's fds 0-4 (stdin, stdout, stderr, the pair's two pipes).
# It is acknowledged at once with "started" (until then the Sandbox keeps its copies of the fds: a server
# that ended before taking a request leaves it to be sent again to a new one). The reply is one message "<killed> <wait status> <cpu_us> <maxrss_kb>"; killed is 1 when the child was
# stopped at wall_ms or by a "kill" message that came while it ran. A message without five fds while no
# child runs is ignored (a "kill" that crossed the reply). EOF on fd 3 (the Sandbox stopped it or is
# gone): the child is killed and the server exits. The server never runs request data itself: every
# request's work happens in the child, which ends with os._exit, so no request changes the next one's
# starting state.
import _socket as _zrl_socket
import gc as _zrl_gc
import resource as _zrl_resource
import signal as _zrl_signal

ZRL_SERVER_FD = 3


def _zrl_request(sock):
    """(wall_s, cpu_s, fds) of the next request, None for a message to ignore; exits at EOF."""
    msg, anc, _flags, _addr = sock.recvmsg(64, _zrl_socket.CMSG_SPACE(4 * 8))
    fds = []
    for level, kind, data in anc:
        if level == _zrl_socket.SOL_SOCKET and kind == _zrl_socket.SCM_RIGHTS:
            fds += list(memoryview(data[:len(data) - len(data) % 4]).cast('i'))
    if not msg and not fds:
        _zrl_os._exit(0)
    try:
        wall_ms, cpu_s = (int(x) for x in msg.split())
    except ValueError:
        wall_ms = cpu_s = 0
    if len(fds) != 5 or wall_ms <= 0 or cpu_s <= 0:
        for fd in fds:
            _zrl_os.close(fd)
        return None
    return wall_ms / 1000.0, cpu_s, fds


def _zrl_child(fds, cpu_s):
    try:
        for i, fd in enumerate(fds):
            _zrl_os.dup2(fd, i)  # every received fd is >= 5 (fds 0-4 are held open): none is clobbered
        _zrl_os.closerange(5, 1 << 20)  # the server socket (3) is gone too: it became a pipe
        _zrl_resource.setrlimit(_zrl_resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        _zrl_os.setsid()  # its own process group: whatever it starts ends with it (_zrl_wait)
        zrl_main()
    finally:
        _zrl_os._exit(70)


def _zrl_wait(sock, pid, wall_s):
    """Waits for the child until wall_s; returns (killed, status, rusage)."""
    pidfd = _zrl_os.pidfd_open(pid)
    poller = _zrl_select.poll()
    poller.register(pidfd, _zrl_select.POLLIN)
    poller.register(ZRL_SERVER_FD, _zrl_select.POLLIN)
    deadline, killed = _zrl_time.monotonic() + wall_s, 0
    while not killed:
        left = deadline - _zrl_time.monotonic()
        if left <= 0:
            killed = 1
            break
        events = dict(poller.poll(max(1, int(left * 1000))))
        if pidfd in events:
            break
        if ZRL_SERVER_FD in events:
            msg, anc, _f, _a = sock.recvmsg(64, _zrl_socket.CMSG_SPACE(4 * 8))
            if not msg and not anc:  # the Sandbox is gone: the child goes too, then the server
                _zrl_os.kill(pid, _zrl_signal.SIGKILL)
                _zrl_os.waitpid(pid, 0)
                _zrl_os._exit(0)
            killed = 1
    if killed:
        _zrl_os.kill(pid, _zrl_signal.SIGKILL)
    _zrl_os.close(pidfd)
    try:  # the child is at most a zombie here, so its pid (its group's id) is not reused yet
        _zrl_os.killpg(pid, _zrl_signal.SIGKILL)
    except OSError:
        pass
    _pid, status, ru = _zrl_os.wait4(pid, 0)
    _zrl_reap()
    return killed, status, ru


def _zrl_reap():
    """Reaps orphans: the server is its sandbox's PID 1, so a test's killed descendants come to it."""
    while True:
        try:
            if _zrl_os.waitpid(-1, _zrl_os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def zrl_fork_server():
    sock = _zrl_socket.socket(fileno=ZRL_SERVER_FD)
    if _zrl_os.open('/dev/null', _zrl_os.O_RDWR) != 4:  # hold fd 4, so received fds land at >= 5
        _zrl_os._exit(2)
    if 'zrl_warm' in globals():
        zrl_warm()  # fixed work of the program's own, so each child starts warm
    # Every object so far out of the collector's reach: a child's collections never walk (and so never
    # copy-on-write) the server's pages.
    _zrl_gc.collect()
    _zrl_gc.freeze()
    while True:
        req = _zrl_request(sock)
        if req is None:
            continue
        wall_s, cpu_s, fds = req
        sock.send(b'started')
        pid = _zrl_os.fork()
        if pid == 0:
            _zrl_child(fds, cpu_s)
        for fd in fds:
            _zrl_os.close(fd)
        killed, status, ru = _zrl_wait(sock, pid, wall_s)
        cpu_us = int(1e6 * (ru.ru_utime + ru.ru_stime))
        sock.send(('%d %d %d %d' % (killed, status, cpu_us, ru.ru_maxrss)).encode('ascii'))


zrl_fork_server()
