#!/usr/bin/env python3
# scripts/check_hf_checkpoint.py: does a checkpoint that zerorl saved open in Hugging Face transformers, and
# do transformers' logits equal zerorl's? Usage: check_hf_checkpoint.py CKPT_DIR ZERORL_BINARY [IDS]
# Prints one JSON object; exits 1 when the logits disagree beyond 1e-4 (float32, CPU).
import json, subprocess, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ckpt, zerorl = sys.argv[1], sys.argv[2]
ids = sys.argv[3] if len(sys.argv) > 3 else "1,2,3,4,5,6,7,8"
rows = [[int(x) for x in r.split(",")] for r in ids.split(";")]
model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32).eval()
out = json.loads(subprocess.check_output([zerorl, "logits", "--model", ckpt, "--ids", ids]))
diff = 0.0
with torch.no_grad():
    for r, ours in zip(rows, out["logits_last"]):
        theirs = model(torch.tensor([r])).logits[0, -1]
        diff = max(diff, (theirs - torch.tensor(ours)).abs().max().item())
res = {"checkpoint": ckpt, "architectures": model.config.architectures, "max_abs_diff_logits_last": diff}
try:
    tok = AutoTokenizer.from_pretrained(ckpt)
    res["tokenizer_encode_1+2="] = tok.encode("1+2=")
except Exception as e:  # a checkpoint without tokenizer files is still a valid model folder
    res["tokenizer_error"] = str(e)[:200]
print(json.dumps(res))
sys.exit(0 if diff <= 1e-4 else 1)
