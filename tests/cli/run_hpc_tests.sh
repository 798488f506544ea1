#!/usr/bin/env bash
# `ketasim run` / `ketasim merge` as a batch user meets them (docs/hpc.md): dry-run estimate,
# thread-count invariance, SIGTERM and SIGKILL mid-run then --resume equal to an uninterrupted run,
# a second writer refused, shards 0/3, 1/3, 2/3 merged equal to the unsharded run.
set -u
KS=$(realpath "${1:-./build/ketasim}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-python3}
SAME="$PY $ROOT/tests/cli/same_run.py"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
run() { "$KS" "$@" >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc"; }
rc() { cat "$TMP/rc"; }
complete_attr() { $PY -c "import h5py,sys; print(int(h5py.File(sys.argv[1],'r').attrs['complete']))" "$1"; }

cp "$ROOT/tests/data/run/weight.toml" "$TMP/"
# $1 = n, $2 = out, $3 = chunk
spec() {
  cat <<SPEC
model = "ketamine_iv_clements"
regimen = "$ROOT/models/regimens/iv_6_sessions.toml"
[population]
n = $1
seed = 11
covariates = "weight.toml"
[outputs]
names = ["C_plasma"]
trajectories = true
t_end = "28 d"
dt = "1 h"
[run]
out = "$2"
chunk = ${3:-16}
threads = 1
SPEC
}

spec 300 small.h5 > "$TMP/small.toml"
run run "$TMP/small.toml" --dry-run
check "dry-run exits 0 and writes nothing" '[ "$(rc)" = 0 ] && [ ! -e "$TMP/small.h5" ] && grep -q "points: 300" "$TMP/out"'
EST=$(sed -n 's/.*about [^(]*(\([0-9]*\) bytes.*/\1/p' "$TMP/out")
run run "$TMP/small.toml" --quiet
check "run exits 0" '[ "$(rc)" = 0 ] && [ -s "$TMP/small.h5" ] && [ ! -e "$TMP/small.h5.lock" ]'
SIZE=$(stat -c %s "$TMP/small.h5")
check "dry-run size estimate within 20 % ($EST vs $SIZE bytes)" '[ -n "$EST" ] && $PY -c "import sys; e,s=map(float,sys.argv[1:]); sys.exit(abs(e/s-1) > 0.2)" "$EST" "$SIZE"'
check "file complete = 1" '[ "$(complete_attr "$TMP/small.h5")" = 1 ]'
run run "$TMP/small.toml"
check "a second run on a complete file is refused" '[ "$(rc)" = 2 ] && grep -q "exists (a complete run)" "$TMP/err"'

spec 300 two.h5 > "$TMP/two.toml"
run run "$TMP/two.toml" --threads 2 --quiet
# The spec text differs (its out), so compare the datasets only.
check "2 threads: same datasets as 1 thread" '$SAME "$TMP/small.h5" "$TMP/two.h5" --datasets-only'

# Memory budget: refused with the estimate, accepted with --over-budget.
spec 300 budget.h5 > "$TMP/budget.toml"; echo 'memory_budget = "1 MB"' >> "$TMP/budget.toml"
run run "$TMP/budget.toml" --quiet
check "over the memory budget: refused, exit 2, nothing written" '[ "$(rc)" = 2 ] && grep -q "over the budget" "$TMP/err" && [ ! -e "$TMP/budget.h5" ]'
run run "$TMP/budget.toml" --quiet --over-budget
check "--over-budget runs" '[ "$(rc)" = 0 ]'

# Interrupted runs: a reference run, then the same spec killed mid-way and resumed.
spec 4000 ref.h5 8 > "$TMP/ref.toml"
run run "$TMP/ref.toml" --quiet
check "reference run" '[ "$(rc)" = 0 ]'
for SIG in KILL TERM; do
  cp "$TMP/ref.toml" "$TMP/k$SIG.toml"
  mv "$TMP/ref.h5" "$TMP/ref.keep.h5"
  ( cd "$TMP" && exec "$KS" run "k$SIG.toml" --quiet ) 2>"$TMP/err$SIG" &
  PID=$!
  # Wait until some chunks are on disk, then kill.
  for _ in $(seq 1 400); do
    [ -s "$TMP/ref.h5" ] && [ "$(stat -c %s "$TMP/ref.h5")" -gt 400000 ] && break
    sleep 0.05
  done
  kill -$SIG $PID; { wait $PID; } 2>/dev/null; CODE=$?
  if [ "$SIG" = TERM ]; then
    check "SIGTERM: exit 143, message says --resume" '[ "$CODE" = 143 ] && grep -q -- "--resume" "$TMP/errTERM"'
  fi
  check "SIG$SIG: file left incomplete (complete = 0) and refused without --resume" \
    '[ "$(complete_attr "$TMP/ref.h5")" = 0 ] && ! "$KS" run "$TMP/k$SIG.toml" --quiet 2>/dev/null'
  run merge "$TMP/never.h5" "$TMP/ref.h5"
  check "SIG$SIG: ketasim refuses to read it as complete" '[ "$(rc)" = 2 ] && grep -q "not complete" "$TMP/err" && [ ! -e "$TMP/never.h5" ]'
  run run "$TMP/k$SIG.toml" --resume
  check "SIG$SIG then --resume: exit 0, some rows kept" '[ "$(rc)" = 0 ] && grep -q "computed" "$TMP/out" && ! grep -q " 0 kept" "$TMP/out"'
  check "SIG$SIG then --resume: identical to the uninterrupted run" '$SAME "$TMP/ref.keep.h5" "$TMP/ref.h5"'
  mv "$TMP/ref.keep.h5" "$TMP/ref.h5"
done

# Two runs on one output: the second fails clearly while the first runs.
spec 4000 busy.h5 8 > "$TMP/busy.toml"
( cd "$TMP" && exec "$KS" run busy.toml --quiet ) 2>/dev/null &
PID=$!
for _ in $(seq 1 200); do [ -e "$TMP/busy.h5.lock" ] && [ -s "$TMP/busy.h5" ] && break; sleep 0.05; done
run run "$TMP/busy.toml" --quiet
check "second writer exits 3 naming the first" '[ "$(rc)" = 3 ] && grep -q "another ketasim run (pid $PID)" "$TMP/err"'
kill -TERM $PID; wait $PID

# Shards 0/3, 1/3, 2/3 merged equal the unsharded run.
for i in 0 1 2; do
  run run "$TMP/small.toml" --shard $i/3 --quiet
  check "shard $i/3 exits 0" '[ "$(rc)" = 0 ] && [ -s "$TMP/small.shard-$i-of-3.h5" ]'
done
run merge "$TMP/merged.h5" "$TMP/small.shard-2-of-3.h5" "$TMP/small.shard-0-of-3.h5" "$TMP/small.shard-1-of-3.h5"
check "merge exits 0" '[ "$(rc)" = 0 ]'
check "merged shards identical to the unsharded run" '$SAME "$TMP/small.h5" "$TMP/merged.h5"'
run merge "$TMP/bad.h5" "$TMP/small.shard-0-of-3.h5" "$TMP/small.shard-2-of-3.h5"
check "merge with a gap: exit 2 naming the rows, nothing written" '[ "$(rc)" = 2 ] && grep -q "uncovered" "$TMP/err" && [ ! -e "$TMP/bad.h5" ]'
run merge "$TMP/bad.h5" "$TMP/small.shard-0-of-3.h5" "$TMP/two.h5"
check "merge of different runs: exit 2" '[ "$(rc)" = 2 ] && grep -q "different run" "$TMP/err"'

# Bad specs: a misspelt key names the closest one; a bad shard.
printf 'model = "ketamine_iv_clements"\nregimen = "x.toml"\n[population]\nn = 3\n[outputs]\ntrajectory = true\n[run]\nout = "x.h5"\n' > "$TMP/typo.toml"
run run "$TMP/typo.toml"
check "misspelt key: exit 2 with did-you-mean" '[ "$(rc)" = 2 ] && grep -q "typo.toml:6: outputs.trajectory: unknown key (did you mean .trajectories.?)" "$TMP/err"'
run run "$TMP/small.toml" --shard 3/3
check "bad --shard: exit 2" '[ "$(rc)" = 2 ] && grep -q -- "--shard: .3/3. must be i/N" "$TMP/err"'

# Progress: a line with rate and ETA on a terminal's stderr (script gives the run a pty); none
# with --quiet, none when stderr is not a terminal (the runs above: their stderr is a file).
if command -v script >/dev/null; then
  spec 40 tty.h5 > "$TMP/tty.toml"
  ( cd "$TMP" && script -qec "$KS run tty.toml" /dev/null ) > "$TMP/tty.out" 2>&1
  check "progress line on a terminal (points, rate, ETA)" 'grep -q "ketasim run: 40/40 points, [0-9]*/s, ETA" "$TMP/tty.out"'
  rm -f "$TMP/tty.h5"
  ( cd "$TMP" && script -qec "$KS run tty.toml --quiet" /dev/null ) > "$TMP/tty.out" 2>&1
  check "no progress line with --quiet" '! grep -q "points," "$TMP/tty.out"'
fi
spec 40 notty.h5 > "$TMP/notty.toml"
run run "$TMP/notty.toml"
check "no progress line when stderr is not a terminal" '[ "$(rc)" = 0 ] && ! grep -q "points," "$TMP/err"'

# MPI (a KETASIM_WITH_MPI build and mpirun): 2 ranks (oversubscribed) equal 1 process.
if command -v mpirun >/dev/null && grep -q "MPI_Init" "$KS" 2>/dev/null; then
  spec 300 mpi.h5 > "$TMP/mpi.toml"
  mkdir -p "$TMP/one"; cp "$TMP/mpi.toml" "$TMP/weight.toml" "$TMP/one/"
  ( cd "$TMP/one" && "$KS" run mpi.toml --quiet ) >/dev/null 2>&1
  ( cd "$TMP" && mpirun --allow-run-as-root --oversubscribe -n 2 "$KS" run mpi.toml --quiet ) >"$TMP/out" 2>"$TMP/err"
  MPIRC=$?
  check "mpirun -n 2: exit 0, shard files removed" '[ "$MPIRC" = 0 ] && [ -s "$TMP/mpi.h5" ] && [ -z "$(ls "$TMP" | grep "mpi.shard-")" ]'
  check "mpirun -n 2: identical to one process (datasets and attributes)" '$SAME "$TMP/one/mpi.h5" "$TMP/mpi.h5"'
  mkdir -p "$TMP/r1"; cp "$TMP/mpi.toml" "$TMP/weight.toml" "$TMP/r1/"
  ( cd "$TMP/r1" && mpirun --allow-run-as-root -n 1 "$KS" run mpi.toml --quiet ) >"$TMP/out" 2>"$TMP/err"
  MPIRC=$?
  check "mpirun -n 1: exit 0 (no merge of the output into itself), identical to one process" '[ "$MPIRC" = 0 ] && $SAME "$TMP/one/mpi.h5" "$TMP/r1/mpi.h5"'
else
  echo "SKIP: MPI checks (no mpirun, or ketasim built without KETASIM_WITH_MPI)"
fi

echo "cli (run): $pass passed, $fail failed"
[ "$fail" = 0 ]
