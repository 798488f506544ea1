#!/usr/bin/env bash
# Builds everything and runs every test: GoogleTest (via CTest), the CLI checks, pytest
# (including the README example, the notebooks and the Hypothesis property tests), then the same
# C++ tests and CLI checks under AddressSanitizer + UndefinedBehaviorSanitizer and a short run of
# each libFuzzer harness (docs/fuzzing.md). Installs what is missing first.
# For a quicker local run: KETASIM_SANITIZE=0 skips the sanitizer build, KETASIM_FUZZ_SECONDS=0
# the fuzzing (CI sets neither).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== C++ tests, CLI checks and installed-package checks (ctest)"
# ctest runs tests/cli/run_cli_tests.sh (cli_checks) and scripts/test_install.sh (install_package:
# cmake --install to a temporary prefix, examples/downstream built against it, relocation).
(cd build && ctest --output-on-failure -j "$(nproc)")
echo "== HPC CLI checks (kills, resume, shards, merge)"
bash tests/cli/run_hpc_tests.sh ./build/ketasim   # needs h5py
if [ -f pyproject.toml ]; then
  bash scripts/install_python.sh
  echo "== Generated stubs (pybind11-stubgen, mypy.stubtest)"
  bash scripts/gen_stubs.sh --check
  echo "== Python tests (pytest; --mpl compares the figures with tests/python/baseline)"
  python3 -m pytest tests/python --mpl
  echo "== Lint (clang-format, ruff)"
  bash scripts/lint.sh
fi
if [ "${KETASIM_SANITIZE:-1}" != 0 ]; then
  bash scripts/sanitize.sh
  if [ "${KETASIM_FUZZ_SECONDS:-60}" != 0 ]; then
    echo "== Fuzzing (libFuzzer, ASan+UBSan)"
    # All four harnesses, 45 s each: the same 180 harness-seconds as three at 60 s (docs/fuzzing.md).
    bash scripts/fuzz.sh -t "${KETASIM_FUZZ_SECONDS:-45}" model_toml regimen_toml event_table simulate
  fi
fi
