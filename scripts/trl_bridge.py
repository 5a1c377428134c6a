#!/usr/bin/env python3
# scripts/trl_bridge.py: runs a TRL-style reward function f(prompts, completions, **kwargs) -> list[float]
# unchanged as a zerorl external verifier worker (JSON lines on stdin/stdout, docs/verifiers.md).
# Not here: the pool that runs it (zerorl), verl files (scripts/verl_bridge.py), the protocol loop
# (scripts/bridge_protocol.py). Standard library only.
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

from bridge_protocol import claim_stdout, load_function, serve


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file", help="Python file defining the reward function")
    ap.add_argument("--function", required=True)
    ap.add_argument("--gold-key", default="solution", help="keyword that carries the gold answer")
    ap.add_argument("--conversational", action="store_true", help="pass prompts/completions as messages")
    args = ap.parse_args()
    proto = claim_stdout()
    fn = load_function(args.file, args.function, "trl_bridge")

    def handle(req):
        prompt, response = req.get("prompt", ""), req.get("response", "")
        if args.conversational:
            prompt = [{"role": "user", "content": prompt}]
            response = [{"role": "assistant", "content": response}]
        kwargs = {k: [v] for k, v in (req.get("extra") or {}).items()}
        kwargs.setdefault(args.gold_key, [req.get("gold", "")])
        rewards = fn(prompts=[prompt], completions=[response], **kwargs)
        if len(rewards) != 1:
            raise ValueError(f"{args.function} returned {len(rewards)} rewards for 1 completion")
        if rewards[0] is None:
            return {"reward": 0.0, "correct": False, "status": "not_applicable"}
        return {"reward": float(rewards[0])}

    serve(proto, handle)


if __name__ == "__main__":
    main()
