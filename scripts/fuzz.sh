#!/usr/bin/env bash
# Runs the libFuzzer harnesses of tests/fuzz (docs/fuzzing.md) under ASan+UBSan from build-asan/.
#
#   bash scripts/fuzz.sh [-t SECONDS] [-j JOBS] [HARNESS ...]
#
# HARNESS: model_toml, regimen_toml, event_table, simulate (default: all). For each harness it
#  1. replays every reproducer in tests/fuzz/findings/<harness>/ (each must now run clean: a
#     finding that is not fixed yet fails here, by name), then
#  2. fuzzes for SECONDS (default 60) from the seeds in tests/fuzz/corpus/<harness>/; the corpus
#     it grows is kept in build-asan/fuzz/corpus/<harness>/ for the next run, and a new finding is
#     written to build-asan/fuzz/findings/<harness>/ (crash-*, timeout-*, oom-*, leak-*).
# JOBS harnesses run at once (default: the number of cores). Exits non-zero if anything was found.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitize_env.sh

SECONDS_EACH=60
JOBS=$(nproc)
while getopts "t:j:" opt; do
  case $opt in
    t) SECONDS_EACH=$OPTARG ;;
    j) JOBS=$OPTARG ;;
    *) sed -n 2,14p "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(model_toml regimen_toml event_table simulate)

ketasim_build_asan >/dev/null
OUT="$KETASIM_ASAN_BUILD/fuzz"
mkdir -p "$OUT/logs"
# Per-input limits: 20 s (the slowest legitimate input, a 200-event ODE run under ASan, takes well
# under 1 s) and 2 GB.
FLAGS=(-timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -dict=tests/fuzz/ketasim.dict)

status=0
echo "== Fuzz regressions: tests/fuzz/findings/<harness>/* must run clean"
for h in "${HARNESSES[@]}"; do
  bin="$KETASIM_ASAN_BUILD/tests/fuzz/fuzz_$h"
  [ -x "$bin" ] || { echo "fuzz: no harness '$h' ($bin)"; exit 2; }
  for f in tests/fuzz/findings/"$h"/*; do
    [ -f "$f" ] || continue
    case $f in *.md|*.txt) continue ;; esac
    if "$bin" "${FLAGS[@]}" "$f" >"$OUT/logs/replay.log" 2>&1; then
      echo "  ok       $f"
    else
      echo "  FAILS    $f"
      grep -m3 -E "KETASIM FUZZ FINDING|ERROR: (Address|Leak)Sanitizer|runtime error:|deadly signal|ERROR: libFuzzer" \
        "$OUT/logs/replay.log" | sed 's/^/           /'
      status=1
    fi
  done
done

echo "== Fuzzing ${SECONDS_EACH} s per harness (${JOBS} at a time): ${HARNESSES[*]}"
# Value checks (finite, non-negative, mass balance) are on for every harness; KETASIM_FUZZ_LENIENT=1
# turns them off for a local crash-only run (docs/fuzzing.md).
run_one() {
  local h=$1 bin="$KETASIM_ASAN_BUILD/tests/fuzz/fuzz_$1" lenient=${KETASIM_FUZZ_LENIENT:-0}
  mkdir -p "$OUT/corpus/$h" "$OUT/findings/$h"
  KETASIM_FUZZ_LENIENT=$lenient "$bin" "${FLAGS[@]}" -max_total_time="$SECONDS_EACH" -artifact_prefix="$OUT/findings/$h/" \
    "$OUT/corpus/$h" "tests/fuzz/corpus/$h" >"$OUT/logs/$h.log" 2>&1
}
declare -A pid
for h in "${HARNESSES[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
  run_one "$h" &
  pid[$h]=$!
done
for h in "${HARNESSES[@]}"; do
  rc=0
  wait "${pid[$h]}" || rc=$?
  log="$OUT/logs/$h.log"
  execs=$(grep -m1 -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo "?")
  cov=$(grep -o "cov: [0-9]*" "$log" | tail -1 | grep -o "[0-9]*" || echo "?")
  if [ "$rc" = 0 ]; then
    printf '  %-13s clean     %8s runs, coverage %s edges\n' "$h" "$execs" "$cov"
  else
    status=1
    printf '  %-13s FINDING   (exit %s); log %s\n' "$h" "$rc" "$log"
    grep -m3 -E "KETASIM FUZZ FINDING|ERROR: (Address|Leak)Sanitizer|runtime error:|deadly signal|ERROR: libFuzzer|SUMMARY" \
      "$log" | sed 's/^/           /'
    grep -m1 -o "Test unit written to .*" "$log" | sed 's/^/           reproducer: /' || true
  fi
done
if [ "$status" != 0 ]; then
  echo "fuzz: FAILED. Reproduce one input with: $KETASIM_ASAN_BUILD/tests/fuzz/fuzz_<harness> <file>"
  echo "      known findings and their status: docs/fuzzing.md"
fi
exit "$status"
