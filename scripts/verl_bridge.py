#!/usr/bin/env python3
# scripts/verl_bridge.py: runs a verl reward file unchanged as a zerorl external verifier worker
# (JSON lines on stdin/stdout, docs/verifiers.md). Not here: the pool that runs it (zerorl), TRL functions
# (scripts/trl_bridge.py). Standard library only.
#
#   verifiers:
#     external:
#       my_reward:
#         command: [python3, scripts/verl_bridge.py, path/to/my_reward.py]   # + [--function NAME]
#
# verl calls compute_score(data_source=, solution_str=, ground_truth=, extra_info=, **reward_kwargs); so
# does this bridge, with: solution_str = request.response; ground_truth = extra["ground_truth"] when
# present (keeps non-string answers such as lists), else request.gold; data_source = extra["data_source"]
# or --data-source; extra_info = extra["extra_info"] when present, else extra. Keyword arguments the
# function does not accept are left out. A float result is the reward; a dict gives "score" as the
# reward, "acc" (if present) as correctness and the rest as info. An exception is an "error" verdict.
import argparse
import importlib.util
import inspect
import json
import os
import sys
import traceback


def load_function(path, name):
    spec = importlib.util.spec_from_file_location("zerorl_user_reward", path)
    if spec is None or spec.loader is None:
        sys.exit(f"verl_bridge: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if not callable(fn):
        sys.exit(f"verl_bridge: {path} has no function '{name}' (use --function NAME)")
    return fn


def accepted(fn, kwargs):
    """Drops keyword arguments `fn` cannot take (older verl files lack extra_info)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return kwargs
    names = {p.name for p in params}
    return {k: v for k, v in kwargs.items() if k in names}


def to_reply(req_id, result):
    if isinstance(result, dict):
        if "score" not in result:
            raise ValueError(f"compute_score returned a dict without 'score': {sorted(result)}")
        reply = {"id": req_id, "reward": float(result["score"])}
        if "acc" in result:
            reply["correct"] = bool(result["acc"])
        reply["info"] = {k: v for k, v in result.items() if k not in ("score", "acc")}
        return reply
    if isinstance(result, bool):
        return {"id": req_id, "reward": 1.0 if result else 0.0, "correct": result}
    return {"id": req_id, "reward": float(result)}


def main():
    ap = argparse.ArgumentParser(description="verl reward file -> zerorl external verifier")
    ap.add_argument("file", help="Python file defining the verl reward function")
    ap.add_argument("--function", default="compute_score")
    ap.add_argument("--data-source", default="", help="data_source when a request's extra has none")
    ap.add_argument("--kwargs", default="{}", help="JSON object of extra keyword arguments (verl reward_kwargs)")
    args = ap.parse_args()
    # The protocol owns the real stdout; anything the user's code prints goes to stderr.
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    fn = load_function(args.file, args.function)
    reward_kwargs = json.loads(args.kwargs)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        extra = req.get("extra") or {}
        kwargs = {
            "data_source": extra.get("data_source", args.data_source),
            "solution_str": req.get("response", ""),
            "ground_truth": extra.get("ground_truth", req.get("gold", "")),
            "extra_info": extra.get("extra_info", extra),
            **reward_kwargs,
        }
        try:
            reply = to_reply(req["id"], fn(**accepted(fn, kwargs)))
        except Exception as e:  # a bad sample is a verdict, never a dead worker
            reply = {"id": req["id"], "reward": 0.0, "correct": False, "status": "error",
                     "reason": f"{type(e).__name__}: {e}", "info": {"traceback": traceback.format_exc(limit=3)}}
        proto.write(json.dumps(reply, default=str) + "\n")
        proto.flush()


if __name__ == "__main__":
    main()
