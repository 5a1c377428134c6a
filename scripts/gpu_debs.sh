#!/usr/bin/env bash
# scripts/gpu_debs.sh: download (here, on a Debian 12 machine) the Debian packages of zerorl's C++
# dependencies into .gpu/debs, for a CUDA machine that has PyTorch but not these libraries.
# scripts/gpu_build.sh unpacks them into a private sysroot there. Nothing is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu/debs
cd .gpu/debs
apt-get download libyaml-cpp-dev libyaml-cpp0.7 libfmt-dev libfmt9 libspdlog-dev libspdlog1.10 \
  nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libpcre2-dev libpcre2-8-0 libpcre2-16-0 \
  libpcre2-32-0 libpcre2-posix3 libutf8proc-dev libutf8proc2 libgmp-dev libgmp10 libgmpxx4ldbl \
  libmpfr-dev libmpfr6 libseccomp-dev libseccomp2 libboost1.74-dev libboost-system1.74-dev \
  libboost-system1.74.0 zlib1g-dev pkgconf libpkgconf3 pkgconf-bin libicu-dev libicu72
