#!/usr/bin/env bash
# The C++ tests (GoogleTest via ctest) and the CLI checks (tests/cli/run_cli_tests.sh) under
# AddressSanitizer + UndefinedBehaviorSanitizer, from build-asan/ (see scripts/sanitize_env.sh).
# Fails on any failing test and on any sanitizer report, including one from a CLI run whose exit
# code the CLI checks expect to be non-zero. Called by scripts/test.sh; needs clang-14 and
# libclang-rt-14-dev (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitize_env.sh
echo "== ASan+UBSan build ($KETASIM_ASAN_BUILD)"
ketasim_build_asan
echo "== C++ tests under ASan+UBSan (ctest)"
ctest --test-dir "$KETASIM_ASAN_BUILD" --output-on-failure -j "$(nproc)"

echo "== CLI checks under ASan+UBSan"
# Reports go to files, so a report is seen even where a check expects a failing exit code.
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
cli_rc=0
ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$LOGS/asan" UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$LOGS/ubsan" \
  bash tests/cli/run_cli_tests.sh "./$KETASIM_ASAN_BUILD/ketasim" || cli_rc=$?
reports=$(find "$LOGS" -type f | sort)
if [ -n "$reports" ]; then
  echo "sanitize: sanitizer reports from the CLI checks:"
  for f in $reports; do echo "--- $f"; cat "$f"; done
  exit 1
fi
exit "$cli_rc"
