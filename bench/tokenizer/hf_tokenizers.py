# bench/tokenizer/hf_tokenizers.py: Hugging Face tokenizers encode throughput, measured exactly like
# bench/baselines/measured_h200.json's tokenizer_hf_tokenizers: corpus_public.jsonl x5; single = one encode() call per
# string in a Python loop; batch = encode_batch over all strings (all cores). MB = 1e6 bytes of UTF-8 input.
# Reads the gzip files of data/tokenizers (Tokenizer.from_str on the inflated JSON; loading is not timed).
# Run beside build/bench/tokenizer/bench_tokenizer on the same machine:
#   python3 bench/tokenizer/hf_tokenizers.py [DATA_DIR] [REPEAT]  > bench/results/tokenizer_hf.json
import gzip, json, os, sys, time

from tokenizers import Tokenizer, __version__

data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data")
repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
with gzip.open(os.path.join(data, "tokenizers", "corpus_public.jsonl.gz"), "rt", encoding="utf-8") as f:
    corpus = [json.loads(line)["text"] for line in f if line.strip()]
texts = corpus * repeat
mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
result = {"what": f"Hugging Face tokenizers {__version__} (Rust), encode of tokenizers/corpus_public.jsonl x{repeat}; "
                  "single = one encode() call per string in a Python loop; batch = encode_batch over all strings",
          "mb": mb}
for name in ("qwen3", "llama3", "deepseek_v3"):
    with gzip.open(os.path.join(data, "tokenizers", name, "tokenizer.json.gz"), "rt", encoding="utf-8") as f:
        spec = f.read()
    tok = Tokenizer.from_str(spec)
    t0 = time.perf_counter()
    for t in texts:
        tok.encode(t)
    single = time.perf_counter() - t0
    tok = Tokenizer.from_str(spec)  # cold cache for the batch run, as for the single run
    t0 = time.perf_counter()
    tok.encode_batch(texts)
    batch = time.perf_counter() - t0
    result[name] = {"mb_per_s_single": mb / single, "mb_per_s_batch_parallel": mb / batch, "cpus": os.cpu_count()}
print(json.dumps(result, indent=1))
