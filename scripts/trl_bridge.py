#!/usr/bin/env python3
# scripts/trl_bridge.py: runs a TRL-style reward function f(prompts, completions, **kwargs) -> list[float]
# unchanged as a zerorl external verifier worker (JSON lines on stdin/stdout, docs/verifiers.md).
# Not here: the pool that runs it (zerorl), verl files (scripts/verl_bridge.py). Standard library only.
#
#   verifiers:
#     external:
#       my_reward:
#         command: [python3, scripts/trl_bridge.py, path/to/rewards.py, --function, accuracy_reward]
#
# Each request becomes a batch of one, like TRL's GRPOTrainer columns: prompts=[prompt],
# completions=[response] (or [[{"role": "assistant", "content": response}]] with --conversational), and
# every key of `extra` (the dataset's other columns) as a keyword list of one; the gold answer is passed
# as --gold-key (default "solution") unless extra already has that key. A None reward (TRL: "does not
# apply") is reward 0 with status "not_applicable". An exception is an "error" verdict.
import argparse
import importlib.util
import json
import os
import sys
import traceback


def load_function(path, name):
    spec = importlib.util.spec_from_file_location("zerorl_user_reward", path)
    if spec is None or spec.loader is None:
        sys.exit(f"trl_bridge: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if not callable(fn):
        sys.exit(f"trl_bridge: {path} has no function '{name}'")
    return fn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file", help="Python file defining the reward function")
    ap.add_argument("--function", required=True)
    ap.add_argument("--gold-key", default="solution", help="keyword that carries the gold answer")
    ap.add_argument("--conversational", action="store_true", help="pass prompts/completions as messages")
    args = ap.parse_args()
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # the protocol owns the real stdout; the user's prints go to stderr
    sys.stdout = sys.stderr
    fn = load_function(args.file, args.function)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        prompt, response = req.get("prompt", ""), req.get("response", "")
        if args.conversational:
            prompt = [{"role": "user", "content": prompt}]
            response = [{"role": "assistant", "content": response}]
        kwargs = {k: [v] for k, v in (req.get("extra") or {}).items()}
        kwargs.setdefault(args.gold_key, [req.get("gold", "")])
        try:
            rewards = fn(prompts=[prompt], completions=[response], **kwargs)
            if len(rewards) != 1:
                raise ValueError(f"{args.function} returned {len(rewards)} rewards for 1 completion")
            r = rewards[0]
            if r is None:
                reply = {"id": req["id"], "reward": 0.0, "correct": False, "status": "not_applicable"}
            else:
                reply = {"id": req["id"], "reward": float(r)}
        except Exception as e:
            reply = {"id": req["id"], "reward": 0.0, "correct": False, "status": "error",
                     "reason": f"{type(e).__name__}: {e}", "info": {"traceback": traceback.format_exc(limit=3)}}
        proto.write(json.dumps(reply) + "\n")
        proto.flush()


if __name__ == "__main__":
    main()
