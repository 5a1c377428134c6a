#!/usr/bin/env bash
# scripts/run.sh: set up if needed, then the main job: `zerorl train` on the embedded default config
# (configs/zero_tiny.yaml, compiled into the binary): R1-Zero in miniature on a CPU, a few minutes. It ends
# with the held-out accuracy before/after RL and the path of curves.png. Extra arguments go to zerorl train,
# e.g. `scripts/run.sh --config configs/tiny_test.yaml`. A second run resumes the first (or reports it done).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x build/zerorl ] || scripts/setup.sh
cmake --build build -j"$(nproc)" >/dev/null

start=$(date +%s)
build/zerorl train --resume auto "$@"
out=$(build/zerorl train --print-config "$@" | sed -n 's/^  output_dir: "\{0,1\}\([^"#]*\)"\{0,1\}.*/\1/p' | head -1)
echo
echo "run directory: $out (metrics.jsonl, eval/, tb/ for tensorboard --logdir, checkpoints/) in $(( $(date +%s) - start )) s"
if [ -f "$out/summary.json" ]; then
  echo "summary: $out/summary.json"; [ -f "$out/curves.png" ] && echo "picture: $out/curves.png"
elif [ -f "$out/metrics.jsonl" ]; then
  tail -n 1 "$out/metrics.jsonl" | head -c 400 && echo
fi
