# examples/python/verl_style_reward.py: a reward file written for verl, used unchanged by zerorl through
# scripts/verl_bridge.py (see examples/verifiers.yaml). Not here: any zerorl import.
import re


def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    """1.0 when the last number in the answer equals ground_truth, else 0.0 (GSM8K-like)."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?", solution_str.replace(",", ""))
    if not numbers:
        return 0.0
    return 1.0 if float(numbers[-1]) == float(ground_truth) else 0.0
