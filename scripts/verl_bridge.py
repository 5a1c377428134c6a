#!/usr/bin/env python3
# scripts/verl_bridge.py: runs a verl reward file unchanged as a zerorl external verifier worker
# (JSON lines on stdin/stdout, docs/verifiers.md). Not here: the pool that runs it (zerorl), TRL functions
# (scripts/trl_bridge.py). Standard library only; the protocol loop is scripts/bridge_protocol.py.
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
import inspect
import json

from bridge_protocol import claim_stdout, load_function, serve


def accepted(fn, kwargs):
    """Drops keyword arguments `fn` cannot take (older verl files lack extra_info)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return kwargs
    names = {p.name for p in params}
    return {k: v for k, v in kwargs.items() if k in names}


def to_reply(result):
    if isinstance(result, dict):
        if "score" not in result:
            raise ValueError(f"compute_score returned a dict without 'score': {sorted(result)}")
        reply = {"reward": float(result["score"])}
        if "acc" in result:
            reply["correct"] = bool(result["acc"])
        reply["info"] = {k: v for k, v in result.items() if k not in ("score", "acc")}
        return reply
    if isinstance(result, bool):
        return {"reward": 1.0 if result else 0.0, "correct": result}
    return {"reward": float(result)}


def main():
    ap = argparse.ArgumentParser(description="verl reward file -> zerorl external verifier")
    ap.add_argument("file", help="Python file defining the verl reward function")
    ap.add_argument("--function", default="compute_score")
    ap.add_argument("--data-source", default="", help="data_source when a request's extra has none")
    ap.add_argument("--kwargs", default="{}", help="JSON object of extra keyword arguments (verl reward_kwargs)")
    args = ap.parse_args()
    proto = claim_stdout()
    fn = load_function(args.file, args.function, "verl_bridge", " (use --function NAME)")
    reward_kwargs = json.loads(args.kwargs)

    def handle(req):
        extra = req.get("extra") or {}
        kwargs = {
            "data_source": extra.get("data_source", args.data_source),
            "solution_str": req.get("response", ""),
            "ground_truth": extra.get("ground_truth", req.get("gold", "")),
            "extra_info": extra.get("extra_info", extra),
            **reward_kwargs,
        }
        return to_reply(fn(**accepted(fn, kwargs)))

    serve(proto, handle)


if __name__ == "__main__":
    main()
