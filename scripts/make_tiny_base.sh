#!/usr/bin/env bash
# scripts/make_tiny_base.sh: regenerates the R1-Zero demo's tiny base checkpoint (assets/tiny_base) and its RL
# prompt sets (assets/zero_tiny/{train,eval}.jsonl) from nothing but this repository: synthetic data
# (zerorl_gen_tasks, seed 1) -> `zerorl pretrain` (configs/zero_tiny_base.yaml) -> copy the model folder.
# Runtime: 44 s on one H200 (measured: 4000 steps at 762k tokens/s, scripts/make_tiny_base.sh build-gpu); a
# 2-core CPU would need hours.
# The data is byte-identical on any machine. On a GPU the weights are reproducible in distribution, not in
# bits (CUDA kernels may reorder sums: a rerun on the H200 gave final loss 0.1147 vs the shipped 0.1134, other
# weights); on a CPU with the same thread count they are bit-reproducible.
# Usage: scripts/make_tiny_base.sh [BUILD_DIR (default build)] [extra --set overrides for pretrain...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
GEN="$BUILD/zerorl_gen_tasks"
ZERORL="$BUILD/zerorl"
for bin in "$GEN" "$ZERORL"; do
  [[ -x "$bin" ]] || { echo "make_tiny_base: $bin not found: build it first (cmake --build $BUILD --target zerorl zerorl_gen_tasks)" >&2; exit 1; }
done

start=$(date +%s)
# RL train/eval prompts and the pretraining corpus: 2-digit + and -, disjoint splits; 2 worked documents per
# corpus problem in varied styles, 15% with a mistake, half behind a generic preamble (the RL prompt is long).
"$GEN" --task arithmetic --digits 2 --ops +- --seed 1 --train 2000 --eval 200 --corpus 8000 \
  --docs-per-problem 2 --mistake-rate 0.15 --preamble-rate 0.5 --out data/zero_tiny
"$ZERORL" pretrain --config configs/zero_tiny_base.yaml "$@"

rm -rf assets/tiny_base
mkdir -p assets/zero_tiny
cp -r runs/zero_tiny_base/model assets/tiny_base
cp data/zero_tiny/train.jsonl data/zero_tiny/eval.jsonl assets/zero_tiny/
# The CPU pipeline's student (configs/pipeline_tiny.yaml) pretrains on the corpus's first 5000 documents.
mkdir -p assets/pipeline_tiny
head -n 5000 data/zero_tiny/corpus.jsonl > assets/pipeline_tiny/corpus.jsonl
du -sh assets/tiny_base
echo "make_tiny_base: assets/tiny_base and assets/zero_tiny written in $(( $(date +%s) - start )) s"
