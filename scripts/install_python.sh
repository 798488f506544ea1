#!/usr/bin/env bash
# Builds and installs the Python package (ketasim + its compiled ketasim._core) into the current
# Python with scikit-build-core. Build tools come from requirements-dev.txt (installed by setup.sh),
# so no build isolation is needed; build-py/ caches the CMake build between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
$PY -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-build-isolation .
