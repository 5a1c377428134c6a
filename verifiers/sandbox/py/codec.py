# verifiers/sandbox/py/codec.py: the plain-data codec and line framing shared by the trusted harness and the
# candidate server (each program is this file followed by its own). Not here: what either side does.
#
# A value crosses the pipe as one JSON text: None, bool, small int and str as themselves; everything else
# as a list whose first item is a tag: ["i", hex] big int, ["f", float.hex()], ["c", re, im], ["b", hex]
# bytes, ["y", hex] bytearray, ["l", ...] list, ["t", ...] tuple, ["s", ...] set, ["z", ...] frozenset,
# ["d", k1, v1, ...] dict, ["g", ...] an iterator's items (results only). Floats are exact (NaN, inf, -0.0
# included) and no JSON number is ever a float. zrl_decode builds fresh builtin objects only; anything
# else is _ZrlBad. Limits: nesting depth, value count, frame bytes.
#
# Start-up is most of what a test run costs, so only built-in modules are imported: posix (not os), and
# CPython's _json accelerator (the scanner and encoder the json module itself uses) instead of json,
# which pulls in re (measured on the project's 2-core machine: +13 ms CPU per process). Without _json,
# the json module is used.
import posix as _zrl_os
import select as _zrl_select
import time as _zrl_time

ZRL_MAX_DEPTH = 100
ZRL_MAX_VALUES = 1 << 20
ZRL_MAX_FRAME = 32 << 20
ZRL_SMALL_INT = 1 << 62


class _ZrlUnplain(Exception):
    """A value that is not plain data (encoding side)."""


class _ZrlBad(Exception):
    """A frame or value that breaks the protocol (decoding side)."""


class _ZrlLate(Exception):
    """The deadline passed while waiting on the pipe."""


def zrl_encode(x, iterators=False, depth=0):
    if depth > ZRL_MAX_DEPTH:
        raise _ZrlUnplain('a value nested deeper than %d' % ZRL_MAX_DEPTH)
    if x is None or x is True or x is False:
        return x
    if isinstance(x, int):
        x = int(x)
        return x if -ZRL_SMALL_INT < x < ZRL_SMALL_INT else ['i', '%x' % x]
    if isinstance(x, float):
        return ['f', float(x).hex()]
    if isinstance(x, complex):
        return ['c', float(x.real).hex(), float(x.imag).hex()]
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, bytes):
        return ['b', bytes(x).hex()]
    if isinstance(x, bytearray):
        return ['y', bytes(x).hex()]
    d = depth + 1
    if isinstance(x, dict):
        out = ['d']
        for k, v in dict.items(x):
            out.append(zrl_encode(k, iterators, d))
            out.append(zrl_encode(v, iterators, d))
        return out
    for cls, tag in ((list, 'l'), (tuple, 't'), (set, 's'), (frozenset, 'z')):
        if isinstance(x, cls):
            return [tag] + [zrl_encode(v, iterators, d) for v in cls.__iter__(x)]
    if iterators and hasattr(type(x), '__next__'):
        out = ['g']
        for v in x:
            if len(out) > ZRL_MAX_VALUES:
                raise _ZrlUnplain('an iterator with more than %d items' % ZRL_MAX_VALUES)
            out.append(zrl_encode(v, iterators, d))
        return out
    raise _ZrlUnplain('a %s object (not plain data)' % type(x).__name__)


def _zrl_hex(v):
    if type(v) is not str or len(v) > ZRL_MAX_FRAME:
        raise _ZrlBad('a tagged value without its hex text')
    return v


def zrl_decode(v, budget, depth=0):
    """Fresh builtin objects from parsed JSON; budget is a one-item list counting values left."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _ZrlBad('more than %d values' % ZRL_MAX_VALUES)
    if depth > ZRL_MAX_DEPTH:
        raise _ZrlBad('a value nested deeper than %d' % ZRL_MAX_DEPTH)
    t = type(v)
    if v is None or t is bool or t is str or t is int:
        return v
    if t is not list or not v or type(v[0]) is not str:
        raise _ZrlBad('a %s where an encoded value belongs' % t.__name__)
    tag, rest = v[0], v[1:]
    try:
        if tag in ('i', 'f', 'b', 'y') and len(rest) != 1:
            raise _ZrlBad('a malformed %r value' % tag)
        if tag == 'i':
            h = _zrl_hex(rest[0])
            if not h or any(c not in '0123456789abcdef' for c in h.lstrip('-')):
                raise _ZrlBad('a malformed integer')
            return int(h, 16)
        if tag == 'f':
            return float.fromhex(_zrl_hex(rest[0]))
        if tag == 'c' and len(rest) == 2:
            return complex(float.fromhex(_zrl_hex(rest[0])), float.fromhex(_zrl_hex(rest[1])))
        if tag == 'b':
            return bytes.fromhex(_zrl_hex(rest[0]))
        if tag == 'y':
            return bytearray.fromhex(_zrl_hex(rest[0]))
        items = [zrl_decode(x, budget, depth + 1) for x in rest]
        if tag == 'l':
            return items
        if tag == 't':
            return tuple(items)
        if tag == 's':
            return set(items)
        if tag == 'z':
            return frozenset(items)
        if tag == 'g':
            return iter(items)
        if tag == 'd' and len(items) % 2 == 0:
            out = {}
            for i in range(0, len(items), 2):
                out[items[i]] = items[i + 1]
            return out
    except (TypeError, ValueError, OverflowError) as e:  # unhashable keys, bad hex
        raise _ZrlBad('a malformed %r value (%s)' % (tag, e))
    raise _ZrlBad('an unknown tag %r' % tag[:20])


def _zrl_no_float(text):
    raise _ZrlBad('a JSON float or constant')


def _zrl_no_default(value):
    raise _ZrlUnplain('a %s object in a frame' % type(value).__name__)


try:
    import _json as _zrl_cjson

    class _ZrlScanContext:
        strict, object_hook, object_pairs_hook = True, None, None
        parse_float = parse_constant = staticmethod(_zrl_no_float)
        parse_int = int

    _zrl_scan = _zrl_cjson.make_scanner(_ZrlScanContext())
    _zrl_encoder = _zrl_cjson.make_encoder(None, _zrl_no_default, _zrl_cjson.encode_basestring_ascii, None,
                                           ':', ',', False, False, False)

    def _zrl_json_text(obj):
        return ''.join(_zrl_encoder(obj, 0))

    def _zrl_json_value(text):
        try:
            value, end = _zrl_scan(text, 0)
        except StopIteration:
            raise ValueError('not JSON')
        if end != len(text):
            raise ValueError('data after the JSON value')
        return value
except (ImportError, AttributeError, TypeError):
    import json as _zrl_json

    def _zrl_json_text(obj):
        return _zrl_json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(',', ':'),
                               default=_zrl_no_default)

    def _zrl_json_value(text):
        return _zrl_json.loads(text, parse_float=_zrl_no_float, parse_constant=_zrl_no_float)


def zrl_dumps(obj):
    return (_zrl_json_text(obj) + '\n').encode('ascii')


def zrl_loads(line):
    """A JSON object from one frame; _ZrlBad otherwise (JSON floats and NaN are not part of the protocol)."""
    try:
        msg = _zrl_json_value(line.decode('ascii'))
    except _ZrlBad:
        raise
    except Exception as e:
        # ValueError (UnicodeDecodeError, JSONDecodeError), RecursionError, MemoryError, and the
        # SystemError that CPython 3.11's _json raises on malformed text when json.decoder was never
        # imported: all a malformed frame.
        raise _ZrlBad('a frame that is not JSON (%s)' % str(e)[:80])
    if type(msg) is not dict:
        raise _ZrlBad('a frame that is not a JSON object')
    return msg


class ZrlReader:
    """Newline-framed reads from a pipe, with a frame size cap and an optional monotonic deadline."""

    def __init__(self, fd):
        self.fd, self.buf, self.scanned = fd, bytearray(), 0

    def line(self, deadline=None):
        """The next frame without its newline; None at end of file; _ZrlLate, _ZrlBad."""
        while True:
            i = self.buf.find(b'\n', self.scanned)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 1]
                self.scanned = 0
                return out
            self.scanned = len(self.buf)
            if len(self.buf) > ZRL_MAX_FRAME:
                raise _ZrlBad('a frame longer than %d bytes' % ZRL_MAX_FRAME)
            if deadline is not None:
                left = deadline - _zrl_time.monotonic()
                if left <= 0 or not _zrl_select.select([self.fd], [], [], left)[0]:
                    raise _ZrlLate()
            chunk = _zrl_os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.buf += chunk


def zrl_write_all(fd, data, deadline=None):
    """Writes every byte (fd may be non-blocking); _ZrlLate at the deadline; OSError when the reader left."""
    view = memoryview(data)
    while view:
        if deadline is not None:
            left = deadline - _zrl_time.monotonic()
            if left <= 0 or not _zrl_select.select([], [fd], [], left)[1]:
                raise _ZrlLate()
        try:
            n = _zrl_os.write(fd, view[:1 << 16])
        except BlockingIOError:
            continue
        view = view[n:]
