#!/usr/bin/env python3
# scripts/scaling_model.py: the step-time model of docs/scaling.md, from the H200 measurements in
# bench/results/*.json (read here) and the assumptions named below; prints the doc's tables as Markdown.
# Not here: any measurement of its own. Rerun after every new bench/results file and update the doc.
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def result(name):
    with open(os.path.join(ROOT, "bench", "results", name)) as f:
        return json.load(f)


# --- Measured on one H200 (bench/results) ---------------------------------------------------------------
roll = result("rollout_h200.json")
upd = {r["model"]: r for r in result("policy_update_same_call_h200.json")["runs"] if not r["gradient_checkpointing"]}
MEASURED = {
    # decode step (ms, one token for every sequence of the batch, CUDA graphs, batch-invariant GEMMs)
    "1.5b_decode_ms": roll["qwen2.5-1.5b_128seq"]["decode_ms_per_step_synchronized"],  # 128 sequences
    # forward + backward tokens/s (16 x 1024, bf16, no recompute)
    "1.5b_train_tok_s": upd["qwen2.5-1.5b"]["zerorl_tok_per_s"],
    "1.5b_mfu": upd["qwen2.5-1.5b"]["zerorl_mfu_6N"],
}

# --- Assumed (each one to be replaced by a measurement) --------------------------------------------------
PARAMS = {"1.5b": 1.54e9, "7b": 7.62e9}  # Qwen2.5-1.5B / -7B parameter counts (model cards)
PEAK_BF16 = 989e12  # H100/H200 SXM dense bf16 FLOP/s (NVIDIA datasheet), the mfu_6N denominator
# KV cache bytes per token: layers x (K, V) x KV heads x head dim x 2 bytes (bf16), Qwen2.5 configs.
KV_BYTES = {"1.5b": 28 * 2 * 2 * 128 * 2, "7b": 28 * 2 * 4 * 128 * 2}
ASSUMED = {
    # Decode step = a fixed part (weights read, kernel launches) + each sequence's KV-cache read.
    # 1.5B fixed part: the measured step at 128 short sequences less their KV reads (~0.6 ms).
    "1.5b_decode_fixed_ms": MEASURED["1.5b_decode_ms"] - 0.6,
    # 7B: the 1.5B's fixed part (launch-bound: its weights take 0.9 ms to read) + 15.2 GB of weights at the
    # HBM rate below.
    "7b_decode_fixed_ms": MEASURED["1.5b_decode_ms"] - 0.6 + 15.2e9 / 3.36e12 * 1e3,
    "hbm_bytes_s": 3.36e12,  # 70% of the H200's 4.8 TB/s HBM3e (NVIDIA datasheet)
    "rollout_max_batch": 512,  # sequences per GPU: 7B KV at 3,150 tokens each is ~92 GB of the 141 GB
    "7b_mfu": MEASURED["1.5b_mfu"],  # the 1.5B's measured 6N MFU carried over
    "answers_per_gpu": 64,  # 4 prompts x G = 16 per GPU per step (the 1.5B recipe: 32 x 16 on 8 GPUs)
    "max_new": 3000,  # configs/r1_zero_qwen2.5_math_1.5b.yaml: the longest answer sets the rollout
    "mean_tokens": 1650,  # prompt ~150 + mean answer ~1500 tokens (R1-Zero answers grow during training)
    "steps": 500,  # the recipe's steps
    "nvlink_busbw": 360e9,  # 80% of NVLink 4's 450 GB/s per direction per GPU (all-reduce within a node)
    "ib_busbw": 40e9,  # 80% of NDR 400 Gb/s = 50 GB/s per HCA, one HCA per GPU (rail-optimised fabric)
}
ASSUMED["7b_train_tok_s"] = ASSUMED["7b_mfu"] * PEAK_BF16 / (6 * PARAMS["7b"])


def comm_busbw(n):
    return ASSUMED["nvlink_busbw"] if n <= 8 else ASSUMED["ib_busbw"]


def decode_ms(model, batch):
    """One decode step for `batch` sequences whose KV cache holds mean_tokens each."""
    kv = batch * ASSUMED["mean_tokens"] * KV_BYTES[model] / ASSUMED["hbm_bytes_s"] * 1e3
    return ASSUMED[model + "_decode_fixed_ms"] + kv


def train_s(model, n, answers_per_gpu):
    """old log-probs, update and gradient all-reduce of one step on n training GPUs."""
    train_tok_s = MEASURED["1.5b_train_tok_s"] if model == "1.5b" else ASSUMED["7b_train_tok_s"]
    tokens = answers_per_gpu * ASSUMED["mean_tokens"]
    grad_bytes = 4 * PARAMS[model]  # fp32 gradient buckets (dist.bucket_mb)
    return {
        "old_logprobs": tokens / (3 * train_tok_s),  # a forward is ~1/3 of forward + backward
        "update": tokens / train_tok_s,
        "all_reduce": 0.0 if n == 1 else 2 * (n - 1) / n * grad_bytes / comm_busbw(n),
    }


def rollout_s(model, answers_per_gpu):
    assert answers_per_gpu <= ASSUMED["rollout_max_batch"]
    return ASSUMED["max_new"] * decode_ms(model, answers_per_gpu) / 1e3  # the longest answer sets it


def step(model, n, answers_per_gpu):
    """Seconds per phase of one colocated data-parallel step (every GPU rolls out, then trains)."""
    t = {"rollout": rollout_s(model, answers_per_gpu), **train_s(model, n, answers_per_gpu)}
    t["total"] = sum(t.values())
    return t


def disaggregated(model, n, rollout_gpus, answers):
    """Rollout workers (one step off-policy): max(rollout on R GPUs, training on n - R) + weight broadcast."""
    ro = rollout_s(model, answers / rollout_gpus)
    train = sum(train_s(model, n - rollout_gpus, answers / (n - rollout_gpus)).values())
    broadcast = 2 * PARAMS[model] / ASSUMED["ib_busbw"]  # bf16 weights, pipelined NCCL broadcast
    return {"rollout": ro, "train": train, "broadcast": broadcast, "total": max(ro, train) + broadcast}


def table():
    print("| model | GPUs | answers/step | rollout s | old logp s | update s | all-reduce s | step s | "
          "500 steps: wall h | GPU-h |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for model in ("1.5b", "7b"):
        for n in (8, 64, 128):
            a = ASSUMED["answers_per_gpu"]
            t = step(model, n, a)
            wall = ASSUMED["steps"] * t["total"] / 3600
            print(f"| {model} | {n} | {a * n} | {t['rollout']:.1f} | {t['old_logprobs']:.1f} | {t['update']:.1f} "
                  f"| {t['all_reduce']:.2f} | {t['total']:.1f} | {wall:.1f} | {wall * n:.0f} |")


def strong():
    print("| model | GPUs | answers/GPU | step s | speedup vs 8 | efficiency |")
    print("|---|---|---|---|---|---|")
    for model in ("1.5b", "7b"):
        base = step(model, 8, 64)["total"]
        for n in (8, 64, 128):
            t = step(model, n, 512 / n)["total"]
            print(f"| {model} | {n} | {512 / n:g} | {t:.1f} | {base / t:.2f} | {base / t / (n / 8):.0%} |")


def workers():
    print("| model | GPUs | rollout GPUs | rollout s | train s | broadcast s | step s | colocated step s |")
    print("|---|---|---|---|---|---|---|---|")
    for model in ("1.5b", "7b"):
        for n in (64, 128):
            answers = 64 * n
            colo = step(model, n, 64)["total"]
            fits = [r for r in range(1, n) if answers / r <= ASSUMED["rollout_max_batch"]]
            best = min((disaggregated(model, n, r, answers)["total"], r) for r in fits)
            d = disaggregated(model, n, best[1], answers)
            print(f"| {model} | {n} | {best[1]} | {d['rollout']:.1f} | {d['train']:.1f} | {d['broadcast']:.2f} "
                  f"| {d['total']:.1f} | {colo:.1f} |")


if __name__ == "__main__":
    print("measured:", json.dumps(MEASURED))
    print("assumed:", json.dumps({k: round(v, 2) for k, v in ASSUMED.items()}))
    print("\n### Weak scaling (64 answers per GPU per step)\n")
    table()
    print("\n### Strong scaling (the recipe's 512 answers per step)\n")
    strong()
    print("\n### Rollout workers (64 answers per GPU per step, one step off-policy)\n")
    workers()
