# verifiers/sandbox/py/candidate_server.py: the untrusted side of an assert-style test: loads the candidate
# program (solution.py in the working directory: /work in the sandbox) and answers the trusted harness's calls over fds 3 (calls in) and 4 (replies
# out). Everything here runs in the candidate's process and may be rewritten by it: the harness trusts
# nothing it sends. Not here: the codec (codec.py), the tests (they never exist in this sandbox).
import sys as _zrl_sys


def _zrl_message(e):
    try:
        return str(e)[:300]
    except BaseException:
        return ''


def _zrl_site_packages():
    """Debian's package folders on sys.path, as `site` would add them (this runs with -S: site's .pth
    processing costs more start-up than the rest of this program)."""
    v = '%d.%d' % _zrl_sys.version_info[:2]
    for d in ('/usr/local/lib/python%s/dist-packages' % v, '/usr/lib/python3/dist-packages'):
        try:
            is_dir = _zrl_os.stat(d).st_mode & 0o170000 == 0o040000
        except OSError:
            is_dir = False
        if is_dir and d not in _zrl_sys.path:
            _zrl_sys.path.append(d)


def _zrl_serve():
    _zrl_site_packages()
    reader = ZrlReader(3)

    def send(obj):
        zrl_write_all(4, zrl_dumps(obj))

    g = {'__name__': '__main__', '__builtins__': __builtins__, '__file__': 'solution.py'}
    try:
        with open('solution.py') as f:
            code = compile(f.read(), 'solution.py', 'exec')
        exec(code, g)
    except BaseException as e:
        send({'load_error': '%s: %s' % (type(e).__name__, _zrl_message(e))})
        _zrl_os._exit(0)
    send({'hello': [k for k, v in list(g.items()) if type(k) is str and not k.startswith('__') and callable(v)]})
    while True:
        line = reader.line()
        if line is None:
            _zrl_sys.stdout.flush()
            _zrl_os._exit(0)
        msg = zrl_loads(line)
        cid = msg['id']
        try:
            fn = g.get(msg['fn'])
            if fn is None:
                raise NameError("name '%s' is not defined" % msg['fn'])
            result = fn(*zrl_decode(msg['a'], [ZRL_MAX_VALUES]), **zrl_decode(msg['k'], [ZRL_MAX_VALUES]))
            payload = zrl_encode(result, iterators=True)
        except _ZrlUnplain as e:
            send({'id': cid, 'unsupported': str(e)})
            continue
        except BaseException as e:
            send({'id': cid, 'raise': [type(e).__name__, _zrl_message(e)]})
            continue
        send({'id': cid, 'ok': payload})


_zrl_serve()
