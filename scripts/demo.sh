#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the flagship IV-versus-intranasal
# comparison. Prints the summary table; writes out/flagship.h5 (curves) and out/flagship.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
./build/ketasim compare --out out/flagship.h5
if [ -f pyproject.toml ]; then
  bash scripts/install_python.sh
  # The figure comes from the Python API (`python -m ketasim` is the C++ command line, which
  # draws no figures).
  python3 -c 'import ketasim as ks; ks.flagship.compare("out/flagship.png")' > out/flagship_python.txt
  echo "Figure (plasma and effect-site curves) written to out/flagship.png"
fi
