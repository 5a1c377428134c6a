#!/usr/bin/env bash
# scripts/test.sh: set up if needed, build, and run every ctest label this machine can run:
# unit and slow always, dist when mpirun exists, gpu when nvidia-smi sees a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

labels="unit|slow"
command -v mpirun >/dev/null 2>&1 && labels="$labels|dist"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && labels="$labels|gpu"

# mpirun refuses to start as root unless told; tests run as whoever runs this script.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

cd build
ctest -L "$labels" -j"$(nproc)" --output-on-failure --timeout 900
