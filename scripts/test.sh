#!/usr/bin/env bash
# Builds everything and runs every test: GoogleTest (via CTest), the CLI checks, pytest
# (including the README example and the notebooks). Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== C++ tests (ctest)"
(cd build && ctest --output-on-failure -j "$(nproc)")
echo "== CLI checks"
bash tests/cli/run_cli_tests.sh ./build/ketasim
if [ -f pyproject.toml ]; then
  bash scripts/install_python.sh
  echo "== Python tests (pytest)"
  python3 -m pytest tests/python
fi
