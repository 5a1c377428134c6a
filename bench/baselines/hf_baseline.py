# bench/baselines/hf_baseline.py: what a PyTorch user gets without zerorl, on the shapes zerorl's benchmarks use:
#   gen:   Hugging Face transformers generate() (what TRL uses without vLLM) -> new tokens/s;
#   train: one eager PyTorch policy-gradient update -> tokens/s, MFU, peak memory, with AND without gradient
#          checkpointing, so each zerorl setting is compared with the matching one.
# Random weights in Qwen2.5 shapes (common.py). Prints GEN/TRAIN lines and writes <out>/hf_baseline.json.
# Not here: zerorl's side (bench/rollout, bench/train_step) or a whole GRPO step (hf_grpo_step.py).
#
#   python3 bench/baselines/hf_baseline.py [gen|train|all] [--out DIR]      # CUDA, bf16: the recorded runs
#   python3 bench/baselines/hf_baseline.py all --tiny --device cpu          # seconds-long smoke run
import argparse

from common import PEAK_BF16_FLOPS, QWEN_EOS, RANDOM_ID_LIMIT, DeviceClock, emit, out_dir, qwen_model, write_json


def sampling_kwargs(new_tokens):
    # Plain sampling at T=1, no top-p/top-k, exactly new_tokens per row (EOS cannot end a row early).
    return dict(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=new_tokens,
                min_new_tokens=new_tokens, pad_token_id=QWEN_EOS, eos_token_id=QWEN_EOS)


def measure_generate(torch, args, name, batch, prompt_len, new_tokens):
    """Timed generate() of `batch` random prompts after a short warm-up call; counts new tokens only."""
    model = qwen_model(name, args.dtype, args.device).eval()
    prompts = torch.randint(0, RANDOM_ID_LIMIT, (batch, prompt_len), device=args.device)
    clock = DeviceClock(args.device)
    with torch.no_grad():
        model.generate(prompts[:, :16], **sampling_kwargs(8))  # kernels, allocator, cache classes
        start = clock.now()
        out = model.generate(prompts, attention_mask=torch.ones_like(prompts), **sampling_kwargs(new_tokens))
        seconds = clock.now() - start
    new = batch * (out.shape[1] - prompt_len)
    del model
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()
    return dict(model=name, batch=batch, prompt=prompt_len, new=new_tokens, seconds=seconds,
                gen_tok_per_s=new / seconds)


def measure_update(torch, args, name, batch, seqlen, checkpointing, steps):
    """Mean seconds of `steps` updates after one warm-up: forward, float32 log-softmax of the taken tokens,
    ratio * advantage loss (ratio = exp(lp - lp.detach()), i.e. the on-policy PPO gradient), backward, AdamW."""
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()  # each run's own peak, not the largest run's so far
    model = qwen_model(name, args.dtype, args.device)
    if checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    ids = torch.randint(0, RANDOM_ID_LIMIT, (batch, seqlen), device=args.device)
    advantages = torch.randn(batch, 1, device=args.device)

    def update():
        logits = model(ids).logits[:, :-1].float()
        logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        loss = -(torch.exp(logp - logp.detach()) * advantages).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    clock = DeviceClock(args.device)
    update()  # optimizer state, allocator, kernels
    start = clock.now()
    for _ in range(steps):
        update()
    per_step = (clock.now() - start) / steps
    params = sum(p.numel() for p in model.parameters())
    tokens = batch * seqlen
    peak = torch.cuda.max_memory_allocated() / 2**30 if args.device.startswith("cuda") else None
    del model, optimizer
    return dict(model=name, batch=batch, seqlen=seqlen, gradient_checkpointing=checkpointing,
                sec_per_step=per_step, train_tok_per_s=tokens / per_step, params=params,
                mfu_6N=6 * params * tokens / per_step / PEAK_BF16_FLOPS, peak_mem_gb=peak)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mode", nargs="?", default="all", choices=["gen", "train", "all"])
    ap.add_argument("--out", default="", help="folder for hf_baseline.json (default $OUT, else /tmp)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny shapes and sizes, float32: a smoke run")
    ap.add_argument("--steps", type=int, default=5, help="timed updates per train run (after one warm-up)")
    args = ap.parse_args()
    import torch

    args.dtype = torch.float32 if args.tiny else torch.bfloat16
    # (model, batch) generate runs, prompt 256, 512 new; (model) update runs, 16 x 1024 tokens.
    if args.tiny:
        gen_runs, prompt_len, new_tokens = [("tiny", 4)], 16, 8
        train_runs, batch, seqlen = ["tiny"], 2, 32
    else:
        gen_runs, prompt_len, new_tokens = [("qwen2.5-0.5b", 64), ("qwen2.5-0.5b", 256), ("qwen2.5-1.5b", 128)], 256, 512
        train_runs, batch, seqlen = ["qwen2.5-0.5b", "qwen2.5-1.5b"], 16, 1024
    results = {}
    if args.mode in ("gen", "all"):
        for name, b in gen_runs:
            r = measure_generate(torch, args, name, b, prompt_len, new_tokens)
            emit("GEN", r)
            results.setdefault("generate", []).append(r)
    if args.mode in ("train", "all"):
        for checkpointing in (True, False):
            for name in train_runs:
                r = measure_update(torch, args, name, batch, seqlen, checkpointing, args.steps)
                emit("TRAIN", r)
                results.setdefault("train", []).append(r)
    results["versions"] = dict(torch=torch.__version__, transformers=__import__("transformers").__version__)
    print("wrote", write_json(out_dir(args.out), "hf_baseline.json", results))


if __name__ == "__main__":
    main()
