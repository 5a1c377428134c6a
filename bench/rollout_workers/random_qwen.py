# bench/rollout_workers/random_qwen.py: a Hugging Face folder (config.json, model.safetensors, tokenizer.json)
# with seeded random weights in Qwen2.5 shapes, so `zerorl train` can run the GPU recipe where no checkpoint can
# be downloaded (one_step_off.sh's GPU command). The shapes and the init are bench/baselines/common.py's; the
# tokenizer (tokenizer.json and tokenizer_config.json, for its eos_token, from --tokenizer's folder) is the
# vendored Qwen3 one (data/tokenizers/qwen3, the same byte-level BPE family, ids < 151936).
# Needs torch and transformers (the GPU machine has both). Not a test fixture: nothing checks these weights.
import argparse
import gzip
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "baselines"))
from common import SHAPES, qwen_model  # noqa: E402


def main():
    p = argparse.ArgumentParser(description="a random-weight Qwen2.5 Hugging Face folder")
    p.add_argument("out", help="the folder to write")
    p.add_argument("--shape", default="qwen2.5-0.5b", choices=sorted(SHAPES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokenizer", default=os.path.join(HERE, "..", "..", "data", "tokenizers", "qwen3",
                                                       "tokenizer.json.gz"))
    a = p.parse_args()
    import torch

    model = qwen_model(a.shape, torch.bfloat16, "cpu", a.seed)
    model.save_pretrained(a.out, safe_serialization=True)
    folder = os.path.dirname(a.tokenizer)  # tokenizer.json and tokenizer_config.json (its eos_token)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        src_path = os.path.join(folder, name)
        src_path = src_path if os.path.exists(src_path) else src_path + ".gz"
        opener = gzip.open if src_path.endswith(".gz") else open
        with opener(src_path, "rb") as src, open(os.path.join(a.out, name), "wb") as dst:
            shutil.copyfileobj(src, dst)
    print(f"random_qwen.py: {a.shape} (seed {a.seed}) written to {a.out}")


if __name__ == "__main__":
    main()
