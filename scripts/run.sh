#!/usr/bin/env bash
# scripts/run.sh: set up if needed, then the main job: `zerorl train` on the embedded default config.
# Extra arguments go to zerorl train (e.g. --set trainer.steps=10).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x build/zerorl ] || scripts/setup.sh
cmake --build build -j"$(nproc)" >/dev/null

exec build/zerorl train "$@"
