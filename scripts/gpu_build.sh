#!/usr/bin/env bash
# scripts/gpu_build.sh: configure and build zerorl on a CUDA machine against pip's PyTorch (2.x).
# If .gpu/debs holds Debian packages (scripts/gpu_debs.sh), they are unpacked into a private sysroot
# (never into /) and used for the C++ dependencies the machine lacks. Warnings stay warnings there (its GCC 13
# is not the GCC 12 that CI holds the code to). Usage: scripts/gpu_build.sh [targets]
set -euo pipefail
cd "$(dirname "$0")/.."
SYSROOT=${ZERORL_SYSROOT:-/tmp/zerorl-sysroot}
prefix="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')"
extra=()
if compgen -G ".gpu/debs/*.deb" >/dev/null; then
  mkdir -p "$SYSROOT"
  for f in .gpu/debs/*.deb; do
    if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$f" "$SYSROOT"; else
      (d=$(mktemp -d); cd "$d" && ar x "$OLDPWD/$f" && tar -xf data.tar.* -C "$SYSROOT"; rm -rf "$d"); fi
  done
  lib="$SYSROOT/usr/lib/x86_64-linux-gnu"
  prefix="$prefix;$SYSROOT/usr"
  export PKG_CONFIG_SYSROOT_DIR="$SYSROOT" PKG_CONFIG_LIBDIR="$lib/pkgconfig:$SYSROOT/usr/share/pkgconfig"
  export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  extra+=(-DPKG_CONFIG_EXECUTABLE="$SYSROOT/usr/bin/pkgconf" -DCMAKE_INCLUDE_PATH="$SYSROOT/usr/include"
          -DCMAKE_LIBRARY_PATH="$lib" -DCMAKE_BUILD_RPATH="$lib"
          -DCMAKE_CXX_FLAGS="-isystem $SYSROOT/usr/include/x86_64-linux-gnu")
fi
# PyTorch's own NCCL (the nvidia-nccl wheel) for the nccl backend, so one NCCL is loaded in the process.
nccl_root="$(python3 -c 'import nvidia.nccl as n;print(list(n.__path__)[0])' 2>/dev/null || true)"
[ -n "$nccl_root" ] && extra+=(-DNCCL_ROOT="$nccl_root")
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DTORCH_CUDA_ARCH_LIST=9.0 -DZERORL_WERROR=OFF "${extra[@]}" ${ZERORL_GPU_CMAKE_ARGS:-}
if [ $# -gt 0 ]; then cmake --build build-gpu -j"$(nproc)" --target "$@" -- -k 0; else cmake --build build-gpu -j"$(nproc)" -- -k 0; fi
