# scripts/bridge_protocol.py: the worker side of zerorl's JSON-lines verifier protocol (docs/verifiers.md),
# shared by scripts/verl_bridge.py and scripts/trl_bridge.py: stdout kept for the protocol, the user's file
# imported, one reply per request, an exception turned into an "error" verdict. Not here: how a request
# maps onto a particular reward function's arguments (the bridges). Standard library only.
import importlib.util
import json
import os
import sys
import traceback


def claim_stdout():
    """Returns the protocol's stream (the real stdout); from now on print() and fd 1 go to stderr, so the
    user's debug output never reaches zerorl as a malformed reply. Call before importing the user's file."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto


def load_function(path, name, prog, hint=""):
    """Imports the Python file `path` (its folder on sys.path, for its own imports) and returns `name`;
    exits naming `prog` and the file when either is missing."""
    spec = importlib.util.spec_from_file_location("zerorl_user_reward", path)
    if spec is None or spec.loader is None:
        sys.exit(f"{prog}: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if not callable(fn):
        sys.exit(f"{prog}: {path} has no function '{name}'{hint}")
    return fn


def error_reply(req_id, exc):
    """The verdict for a sample whose reward function raised: reward 0, status "error", the exception and
    the innermost three frames of its traceback (the user's code)."""
    return {"id": req_id, "reward": 0.0, "correct": False, "status": "error",
            "reason": f"{type(exc).__name__}: {exc}", "info": {"traceback": traceback.format_exc(limit=-3)}}


def serve(proto, handle):
    """Answers requests from stdin until it closes: handle(request) -> reply without "id" (added here).
    An exception in handle is that sample's "error" verdict, never a dead worker."""
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            reply = {"id": req["id"], **handle(req)}
        except Exception as e:
            reply = error_reply(req["id"], e)
        proto.write(json.dumps(reply, default=str) + "\n")
        proto.flush()
