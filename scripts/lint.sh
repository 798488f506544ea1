#!/usr/bin/env bash
# Lint and format checks, as CI runs them (scripts/test.sh): clang-format (.clang-format) over the
# C++ sources and ruff (pyproject.toml [tool.ruff]) lint + format over the Python and notebooks.
#   bash scripts/lint.sh          check only (exit 1 on any finding)
#   bash scripts/lint.sh --fix    rewrite files in place (clang-format -i, ruff format, ruff check --fix)
set -uo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}
PY=${PYTHON:-python3}
rc=0
mapfile -t CXX < <(git ls-files -- 'src/*.cpp' 'src/*.hpp' 'include/*.hpp' 'python/src/*.cpp' 'python/src/*.hpp' \
                                 'tests/cpp/*.cpp' 'tests/cpp/*.hpp' 'tests/fuzz/*.cpp' 'benchmarks/*.cpp' 'examples/*.cpp')
PYDIRS=(python tests scripts benchmarks)   # notebooks: not yet (their cells are being rewritten)
if [ "${1:-}" = "--fix" ]; then
  "$CLANG_FORMAT" -i "${CXX[@]}"
  "$PY" -m ruff check --fix "${PYDIRS[@]}" || rc=1
  "$PY" -m ruff format "${PYDIRS[@]}"
  exit "$rc"
fi
if [ -z "$CLANG_FORMAT" ]; then
  echo "lint: clang-format not found (Debian package clang-format-14; scripts/setup.sh installs it)" >&2
  rc=1
else
  echo "== clang-format (${#CXX[@]} files)"
  "$CLANG_FORMAT" --dry-run -Werror "${CXX[@]}" || rc=1
fi
echo "== ruff check"
"$PY" -m ruff check "${PYDIRS[@]}" || rc=1
echo "== ruff format --check"
"$PY" -m ruff format --check "${PYDIRS[@]}" || rc=1
exit "$rc"
