#!/usr/bin/env bash
# scripts/setup.sh: install every Debian package zerorl needs (idempotent), then configure and build
# Release into build/. Usage: scripts/setup.sh [--no-build]. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread      # LibTorch 1.13 (CPU); OpenBLAS: ~10x faster than reference BLAS
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev zlib1g-dev
  libgtest-dev libgmock-dev
  libpcre2-dev libutf8proc-dev           # tokenizer: regexes with Unicode properties, NFC
  libgmp-dev libmpfr-dev                 # verifiers: exact arithmetic
  libicu-dev                             # verifiers: Unicode scripts (language consistency)
  libseccomp-dev bubblewrap python3      # code sandbox
  libboost-dev libboost-system-dev       # Asio worker pools, Beast HTTP, CRC-32C (Boost.CRC)
  libopenmpi-dev openmpi-bin             # dist/: MPI launch and collectives
  slurmctld slurmd slurm-client munge    # tests/dist/test_slurm.cpp: a real single-node Slurm (srun --mpi=pmix)
  gnuplot-nox                            # reward curves as PNG
)

if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/setup.sh: this script installs Debian packages with apt-get, and this is not a Debian system." >&2
  echo "Install the equivalents of these packages yourself, then run cmake -S . -B build -G Ninja:" >&2
  echo "  ${PACKAGES[*]}" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "scripts/setup.sh: need root or sudo to install packages" >&2; exit 1; }
  SUDO="sudo"
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[ "${1:-}" = "--no-build" ] && exit 0

start=$(date +%s)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
echo "scripts/setup.sh: built build/zerorl in $(( $(date +%s) - start )) s"
