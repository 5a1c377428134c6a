#!/usr/bin/env bash
# scripts/test.sh: set up if needed, build, and run every ctest label this machine can run:
# unit and slow always, dist when mpirun exists, gpu when nvidia-smi sees a GPU. Then the torch-free
# layers again under AddressSanitizer + UBSan (build-asan/), where the fuzz tests earn their keep.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

labels="unit|slow"
command -v mpirun >/dev/null 2>&1 && labels="$labels|dist"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && labels="$labels|gpu"

# The suite must not need anything outside the repository. test_repo_paths (label unit) fails when a file
# names such a path; and the retired variable that once located a sibling reference folder points at an
# empty one here, so a lookup left behind (or merged back) finds nothing.
ZERORL_SHARED_DIR="$(mktemp -d)"
export ZERORL_SHARED_DIR
trap 'rm -rf "$ZERORL_SHARED_DIR"' EXIT

# mpirun refuses to start as root unless told; tests run as whoever runs this script.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

status=0
(cd build && ctest -L "$labels" -j"$(nproc)" --output-on-failure --timeout 900) || status=1

if [ "${ZERORL_SKIP_ASAN:-0}" != "1" ]; then
  echo "scripts/test.sh: torch-free layers under AddressSanitizer + UBSan (build-asan/)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZERORL_WITH_TORCH=OFF \
    -DZERORL_SANITIZE=ON -DZERORL_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$(nproc)"
  (cd build-asan && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest -L "unit|slow" -j"$(nproc)" --output-on-failure --timeout 900) || status=1
fi
exit $status
