# examples/verl/compute_score.py: a reward file for the toy "a+b=" task, written the way a verl user
# writes one (verl's custom_reward_function: compute_score(data_source, solution_str, ground_truth,
# extra_info)); zerorl runs it unchanged through scripts/verl_bridge.py (see tiny_verl.yaml beside it).
# Not here: any zerorl import. Standard library only.
import re


def _last_integer(text):
    found = re.findall(r"\d+", text)
    return int(found[-1]) if found else None


def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    """1.0 for the right sum; 0.2 for another number, unless it only copies an operand (0.0); 0.0 for no
    number. The operands come from extra_info, where the dataset keeps them per row."""
    if data_source != "toy_addition":
        raise NotImplementedError(f"no reward for data_source {data_source!r}")
    pred = _last_integer(solution_str)
    if pred is None:
        return 0.0
    if pred == int(ground_truth):
        return 1.0
    extra_info = extra_info or {}
    if pred in (extra_info.get("a"), extra_info.get("b")):
        return 0.0
    return 0.2


def compute_score_with_details(data_source, solution_str, ground_truth, extra_info=None):
    """The same reward in verl's dict form: "score" is the reward, "acc" the correctness, the rest is logged."""
    score = compute_score(data_source, solution_str, ground_truth, extra_info)
    return {"score": score, "acc": score == 1.0, "pred": _last_integer(solution_str)}
