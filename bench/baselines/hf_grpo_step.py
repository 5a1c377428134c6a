# bench/baselines/hf_grpo_step.py: one whole GRPO step the way a PyTorch user writes it without vLLM
# (TRL-style), timed per phase: generate P prompts x G samples with transformers generate(), old-policy
# log-probs in micro-batches, then one clipped-surrogate update over micro-batches with gradient
# checkpointing, gradient clipping and AdamW. Qwen2.5-0.5B shapes, random weights, bf16. The rewards are
# random 0/1 (random weights answer nothing), so no verifier time is counted.
# Prints a GRPO line and writes <out>/hf_grpo_step.json. Not here: zerorl's step (bench/grpo_step).
#
#   python3 bench/baselines/hf_grpo_step.py [P G NEW] [--out DIR]          # CUDA; default 64 8 512
#   python3 bench/baselines/hf_grpo_step.py 2 2 8 --tiny --device cpu      # smoke run
import argparse

from common import QWEN_EOS, RANDOM_ID_LIMIT, DeviceClock, emit, out_dir, qwen_model, write_json

PROMPT_LEN = 256  # random prompt ids per row
MICRO = 16        # rows per forward/backward
CLIP = 0.2        # PPO ratio clip: [1 - CLIP, 1 + CLIP]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("sizes", nargs="*", type=int, help="P G NEW (prompts, samples per prompt, new tokens)")
    ap.add_argument("--out", default="", help="folder for hf_grpo_step.json (default $OUT, else /tmp)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny shapes, float32, 16-token prompts: a smoke run")
    args = ap.parse_args()
    if args.sizes and len(args.sizes) != 3:
        ap.error("give all three of P G NEW, or none")
    P, G, NEW = args.sizes or (64, 8, 512)
    import torch

    name, dtype, prompt_len = ("tiny", torch.float32, 16) if args.tiny else ("qwen2.5-0.5b", torch.bfloat16, PROMPT_LEN)
    model = qwen_model(name, dtype, args.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    # The G samples of a prompt are adjacent rows: [p0 x G, p1 x G, ...].
    prompts = torch.randint(0, RANDOM_ID_LIMIT, (P, prompt_len), device=args.device).repeat_interleave(G, 0)
    clock, seconds = DeviceClock(args.device), {}

    # Phase 1: rollout. Cold, as a step of a fresh process is: no warm-up call.
    model.eval()
    start = clock.now()
    with torch.no_grad():
        seqs = model.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True, temperature=1.0,
                              top_p=1.0, top_k=0, max_new_tokens=NEW, min_new_tokens=NEW, pad_token_id=QWEN_EOS,
                              eos_token_id=QWEN_EOS)
    seconds["generate"] = clock.now() - start

    # GRPO advantages of random 0/1 rewards: standardized within each group of G.
    rewards = torch.randint(0, 2, (P, G), device=args.device).float()
    mean, std = rewards.mean(dim=1, keepdim=True), rewards.std(dim=1, keepdim=True)
    advantages = ((rewards - mean) / (std + 1e-6)).reshape(-1)

    def response_logprobs(rows):
        # Log-probs (float32) of each response token given everything before it.
        logits = model(rows).logits[:, prompt_len - 1:-1].float()
        return torch.log_softmax(logits, dim=-1).gather(-1, rows[:, prompt_len:, None]).squeeze(-1)

    # Phase 2: old-policy log-probs, no grad, in micro-batches.
    start = clock.now()
    with torch.no_grad():
        old = torch.cat([response_logprobs(seqs[i:i + MICRO]) for i in range(0, len(seqs), MICRO)])
    seconds["old_logprobs"] = clock.now() - start

    # Phase 3: one optimizer step over all rows, gradients accumulated over micro-batches (each loss scaled
    # by its share of the rows), gradient checkpointing on, clip to norm 1.
    model.train()
    model.gradient_checkpointing_enable()
    start = clock.now()
    for i in range(0, len(seqs), MICRO):
        logp = response_logprobs(seqs[i:i + MICRO])
        ratio = torch.exp(logp - old[i:i + MICRO])
        adv = advantages[i:i + MICRO, None]
        surrogate = torch.min(ratio * adv, ratio.clamp(1 - CLIP, 1 + CLIP) * adv)
        (-surrogate.mean() * len(logp) / len(seqs)).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    seconds["update"] = clock.now() - start

    record = dict(model=name, prompts=P, group=G, prompt_len=prompt_len, new_tokens=NEW, micro_batch=MICRO,
                  seconds=seconds, step_seconds=sum(seconds.values()), gen_tok_per_s=P * G * NEW / seconds["generate"],
                  versions=dict(torch=torch.__version__, transformers=__import__("transformers").__version__))
    emit("GRPO", record)
    print("wrote", write_json(out_dir(args.out), "hf_grpo_step.json", record))


if __name__ == "__main__":
    main()
