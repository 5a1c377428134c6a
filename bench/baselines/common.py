# bench/baselines/common.py: what the two baseline scripts share: the Qwen2.5 shapes (random weights), the
# device clock, and where results go. Not here: any measurement (hf_baseline.py, hf_grpo_step.py).
import json
import os
import time

# Dense bf16 peak of one H200 (and H100 SXM), TFLOP/s; the denominator of mfu_6N, as in bench/train_step.
PEAK_BF16_FLOPS = 989e12
# Prompts are random ids below this (the top of Qwen's vocabulary holds special tokens).
RANDOM_ID_LIMIT = 151000
# <|endoftext|>: pad and eos for generate(); min_new_tokens keeps it from ending a row early.
QWEN_EOS = 151643

# Qwen2.5 shapes by name: (hidden, intermediate, layers, heads, kv_heads). vocab 151936, tied embeddings,
# rope_theta 1e6, RMSNorm eps 1e-6: the published Qwen2.5-0.5B / -1.5B configs. "tiny" is for CPU smoke runs.
SHAPES = {
    "qwen2.5-0.5b": (896, 4864, 24, 14, 2),
    "qwen2.5-1.5b": (1536, 8960, 28, 12, 2),
    "tiny": (64, 128, 2, 4, 2),
}


def qwen_model(name, dtype, device, seed=0):
    """A Qwen2ForCausalLM of the named shape with seeded random weights, cast to dtype on device."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    hidden, inter, layers, heads, kv = SHAPES[name]
    cfg = Qwen2Config(vocab_size=151936, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=kv, max_position_embeddings=32768,
                      rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=True)
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(cfg).to(dtype=dtype, device=device)


class DeviceClock:
    """Wall-clock seconds that include all queued device work (synchronizes CUDA before reading)."""

    def __init__(self, device):
        self.cuda = str(device).startswith("cuda")

    def now(self):
        if self.cuda:
            import torch
            torch.cuda.synchronize()
        return time.perf_counter()


def out_dir(arg):
    """--out if given, else $OUT, else /tmp (where the recorded runs wrote)."""
    return arg or os.environ.get("OUT", "/tmp")


def emit(tag, record):
    """One result line on stdout, prefixed so a log of several runs stays greppable."""
    print(tag, json.dumps(record), flush=True)


def write_json(directory, name, payload):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(payload, f, indent=1)
    return path
