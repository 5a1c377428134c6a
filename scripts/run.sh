#!/usr/bin/env bash
# scripts/run.sh: set up if needed, then the main job: `zerorl train` on the embedded default config
# (configs/tiny_test.yaml, compiled into the binary). Extra arguments go to zerorl train, e.g.
# `scripts/run.sh --config configs/r1_zero_qwen2.5_math_1.5b.yaml`. A second run resumes the first.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x build/zerorl ] || scripts/setup.sh
cmake --build build -j"$(nproc)" >/dev/null

build/zerorl train --resume auto "$@"
out=$(build/zerorl train --print-config "$@" | sed -n 's/^  output_dir: "\{0,1\}\([^"#]*\)"\{0,1\}.*/\1/p' | head -1)
echo
echo "run directory: $out (metrics.jsonl, tb/ for tensorboard --logdir, checkpoints/)"
[ -f "$out/metrics.jsonl" ] && tail -n 1 "$out/metrics.jsonl" | head -c 400 && echo
