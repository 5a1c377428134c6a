#!/usr/bin/env python3
# examples/python/exact_match_verifier.py: a complete zerorl external verifier in standard-library
# Python: the text after the last "Answer:" (or the whole response) must equal the gold answer,
# ignoring case, spaces and a trailing period. Not here: anything zerorl-specific beyond the protocol.
#
# Protocol (docs/verifiers.md): zerorl starts this script once per worker and keeps it running. Each
# line on stdin is one request {"id", "prompt", "response", "gold", "extra"}; for each, print exactly one
# line {"id", "reward", "correct", "info"} on stdout and flush. Exit when stdin closes. Write logs to
# stderr, never to stdout. Wire it up with:
#
#   verifiers:
#     external:
#       exact:
#         command: [python3, examples/python/exact_match_verifier.py]
#         workers: 4
#         timeout_s: 5
import json
import sys


def normalize(text):
    return " ".join(text.strip().rstrip(".").lower().split())


def score(request):
    response = request["response"]
    marker = response.rfind("Answer:")
    answer = response[marker + len("Answer:"):] if marker >= 0 else response
    correct = normalize(answer) == normalize(request["gold"])
    return {"id": request["id"], "reward": 1.0 if correct else 0.0, "correct": correct,
            "info": {"extracted": normalize(answer)}}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            reply = score(request)
        except Exception as e:  # one bad sample must not kill the worker
            reply = {"id": request.get("id"), "reward": 0.0, "correct": False, "status": "error",
                     "reason": repr(e)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
