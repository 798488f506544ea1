#!/usr/bin/env bash
# Builds and installs the Python package (ketasim + its compiled ketasim._core) into the current
# Python with scikit-build-core. Build tools come from requirements-dev.txt (installed by setup.sh),
# so no build isolation is needed; build-py/ caches the CMake build between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
# `--editable`: a developer install. The Python sources are used in place (python/ketasim/) and
# the extension is rebuilt on import when a C++ file changed (scikit-build-core editable.rebuild).
PY=${PYTHON:-python3}
if [ "${1:-}" = "--editable" ]; then
  $PY -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-build-isolation \
    -Ceditable.rebuild=true -Ceditable.verbose=false -Cbuild-dir=build-py/editable -e .
else
  $PY -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-build-isolation .
fi
