#!/usr/bin/env bash
# Installs what ketasim needs and is missing (Debian packages, Python packages), then builds the
# C++ library, CLI and tests into build/. Idempotent: a second run installs nothing and rebuilds
# only what changed. Used by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(build-essential cmake pkg-config libeigen3-dev libboost-dev libhdf5-dev libgtest-dev libgmock-dev
              libbenchmark-dev libcli11-dev libtomlplusplus-dev
              zlib1g-dev   # run files deflate chunks in the workers (src/io/stream_h5.cpp)
              libopenmpi-dev openmpi-bin   # `mpirun ketasim run` (KETASIM_WITH_MPI, docs/hpc.md)
              clang-14 libclang-rt-14-dev llvm-14    # sanitizer build and libFuzzer (scripts/sanitize.sh, fuzz.sh)
              clang-format-14)                       # scripts/lint.sh
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ -f requirements-dev.txt ]; then
  $PY -m pip install -q --disable-pip-version-check --root-user-action=ignore -r requirements-dev.txt
fi

# CMake: a pip-installed cmake (>= 3.18) or Debian's.
command -v cmake >/dev/null || $PY -m pip install -q cmake
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DKETASIM_BUILD_BENCHMARKS=ON -DKETASIM_WITH_MPI=ON >/dev/null
fi
cmake --build build -j "$(nproc)"
