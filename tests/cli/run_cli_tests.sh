#!/usr/bin/env bash
# CLI behaviour as a user meets it: listings, the flagship, results files, and bad input giving a
# one-line message with a non-zero exit code and no file left behind.
set -u
KS=${1:-./build/ketasim}
TMP=$(mktemp -d)
trap 'umount "$TMP/full" 2>/dev/null; rm -rf "$TMP"' EXIT
pass=0; fail=0
check() {  # name, condition (string evaluated)
  if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi
}
run() { "$KS" "$@" >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc"; }
rc() { cat "$TMP/rc"; }

run models
check "models exits 0" '[ "$(rc)" = 0 ]'
check "models lists the default IV model" 'grep -q ketamine_iv_clements "$TMP/out"'
check "models lists esketamine" 'grep -q esketamine_nasal "$TMP/out"'

run show-model esketamine_nasal
check "show-model prints sources" 'grep -q "Perez-Ruixo 2021 Table 3" "$TMP/out"'

run compare --out "$TMP/flag.h5"
check "compare exits 0" '[ "$(rc)" = 0 ]'
check "compare prints cmax (registry name and unit)" 'grep -q "cmax (ng/mL)" "$TMP/out" && grep -q "auc_0_t (ng/mL\*h)" "$TMP/out"'
check "compare writes the HDF5 file" '[ -s "$TMP/flag.h5" ]'
check "compare leaves no .part" '[ ! -e "$TMP/flag.h5.part" ]'

run simulate ketamine_iv_clements --dose "0.5 mg/kg" --duration "40 min" --days 0,2,4 --t-end "5 d" --out "$TMP/iv.csv"
check "simulate csv exits 0" '[ "$(rc)" = 0 ]'
check "csv header has units" 'head -1 "$TMP/iv.csv" | grep -q "C_plasma \[ng/mL\]"'
check "csv has 5 days at 5 min + header" '[ "$(wc -l < "$TMP/iv.csv")" = 1442 ]'

run simulate esketamine_nasal --route intranasal --dose "84 mg" --device "28 mg" --solver ode --out "$TMP/esk.h5"
check "simulate ode h5 exits 0" '[ "$(rc)" = 0 ]'

# A dataset of several subjects: one subject with --id; without it an error, not one merged subject.
printf 'ID,TIME,AMT,EVID\n1,0,10,1\n2,0,20,1\n2,2,0,0\n' > "$TMP/two.csv"
run simulate ketamine_iv_clements --regimen "$TMP/two.csv"
check "two-ID event table without --id exits 2" '[ "$(rc)" = 2 ] && grep -q "several subjects" "$TMP/err"'
run simulate ketamine_iv_clements --regimen "$TMP/two.csv" --id 2
check "--id 2 simulates subject 2 (20 mg)" '[ "$(rc)" = 0 ] && grep -q "20.0 mg in total" "$TMP/out"'

# The same dataset as a population: each ID its own subject, EVID 0 rows its output times (issue 8).
printf 'ID,TIME,AMT,EVID,WT[kg]\n1,0,10,1,60\n1,1,0,0,60\n1,3,0,0,60\n2,0,20,1,80\n2,2,0,0,80\n' > "$TMP/pop.csv"
run population ketamine_iv_clements --data "$TMP/pop.csv" --no-variability --out "$TMP/ids.csv" --observations "$TMP/obs.csv" --quiet
check "population --data exits 0" '[ "$(rc)" = 0 ]'
check "population --data: one row per ID, with the ID" '[ "$(wc -l < "$TMP/ids.csv")" = 3 ] && head -1 "$TMP/ids.csv" | grep -q "^subject,ID,"'
check "population --data: each ID at its own EVID 0 times (long format)" \
  '[ "$(cut -d, -f1,2 "$TMP/obs.csv" | tr "\n" " ")" = "ID,time[h] 1,1 1,3 2,2 " ]'
run simulate ketamine_iv_clements --regimen "$TMP/pop.csv" --id 2 --t-end "2 h" --dt "1 h" --out "$TMP/id2.csv"
check "simulate --id runs one ID of a dataset with its covariates (WT 80 kg from the file)" \
  '[ "$(rc)" = 0 ] && grep -q "20.0 mg in total; weight 80.0 kg" "$TMP/out" && [ "$(tail -1 "$TMP/id2.csv" | cut -d, -f4 | cut -c1-6)" = "$(grep "^2,2," "$TMP/obs.csv" | cut -d, -f3 | cut -c1-6)" ]'
run simulate ketamine_iv_clements --regimen "$TMP/pop.csv" --id 2 --weight 80
check "simulate --id: a covariate in the file and as a flag is a usage error" '[ "$(rc)" = 1 ] && grep -q "give it once" "$TMP/err"'
printf 'ID,TIME,AMT,EVID,AGE[years]\n1,0,10,1,40\n' > "$TMP/age.csv"
run population ketamine_iv_clements --data "$TMP/age.csv"
check "population --data: a covariate the model does not use names the ones it uses" \
  '[ "$(rc)" = 2 ] && grep -q "not a covariate model .ketamine_iv_clements. uses (covariates: weight)" "$TMP/err"'
printf 'ID,TIME,AMT,EVID\n1,0,10,1\n2,1,0,0\n' > "$TMP/nodose.csv"
run population ketamine_iv_clements --data "$TMP/nodose.csv"
check "population --data: an ID without a dose is named" '[ "$(rc)" = 2 ] && grep -q "ID: value .2. has no dose" "$TMP/err"'
run simulate ketamine_iv_clements --dose "35 mg" --set "k10=0.654 1/h"
check "--set NAME=VALUE UNIT converts to the file unit" '[ "$(rc)" = 0 ]'
run simulate ketamine_iv_clements --dose "35 mg" --set "k10=2 L"
check "--set with a unit of another dimension exits 2" '[ "$(rc)" = 2 ] && grep -q "parameter .k10. is in 1/min" "$TMP/err"'

# Bad input: exit 2, one line on stderr naming the problem, no output file.
run simulate ketamine_iv_clements --dose "-5 mg" --out "$TMP/bad.h5"
check "negative dose exits 2" '[ "$(rc)" = 2 ]'
check "negative dose message names the flag" 'grep -q -- "--dose" "$TMP/err" && [ "$(wc -l < "$TMP/err")" = 1 ]'
check "negative dose writes no file" '[ ! -e "$TMP/bad.h5" ] && [ ! -e "$TMP/bad.h5.part" ]'

run simulate ketamine_iv_clements --dose "5 kg"
check "bad dose unit exits 2" '[ "$(rc)" = 2 ] && grep -q "kg" "$TMP/err"'

run simulate ketamine_iv_clements --dose "35 mg" --route intranasal
check "unknown route exits 2 and lists routes" '[ "$(rc)" = 2 ] && grep -q "this model has: iv" "$TMP/err"'

run simulate no_such_model --dose "35 mg"
check "unknown model exits 2" '[ "$(rc)" = 2 ] && grep -q "no_such_model" "$TMP/err"'

run simulate ketamine_iv_clements --dose "35 mg" --duration "40 kg"
check "bad duration unit exits 2" '[ "$(rc)" = 2 ] && grep -q "duration" "$TMP/err"'

run simulate ketamine_iv_clements --dose "35 mg" --set k10=-1
check "negative parameter exits 2" '[ "$(rc)" = 2 ] && grep -q "k10" "$TMP/err"'

run simulate ketamine_iv_clements --dose "35 mg" --out "$TMP/nodir/x.h5"
check "missing output dir exits 3, no file" '[ "$(rc)" = 3 ] && [ ! -e "$TMP/nodir" ]'

run simulate ketamine_iv_clements --dose "35 mg" --out "$TMP/x.txt"
check "unknown output type exits 2" '[ "$(rc)" = 2 ] && [ ! -e "$TMP/x.txt" ]'

printf 'name = "broken"\n[parameters.V1]\nvalue = "abc"\nunit = "L"\n' > "$TMP/broken.toml"
run simulate "$TMP/broken.toml" --dose "35 mg"
check "malformed model names file:line and key" '[ "$(rc)" = 2 ] && grep -q "broken.toml:3" "$TMP/err" && grep -q "parameters.V1.value" "$TMP/err"'

# Treatment courses: named schedules and regimen files give the same table; options checked.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REG="$ROOT/models/regimens"
# Course populations: the metrics-only path prints the same rates as the full path.
run population --schedule iv-days --days 0,2 --n 20 --seed 1 --quiet
cp "$TMP/out" "$TMP/pop_full.txt"
run population --schedule iv-days --days 0,2 --n 20 --seed 1 --quiet --metrics-only
check "population --metrics-only = full path (rates)" '[ "$(rc)" = 0 ] && cmp -s "$TMP/out" "$TMP/pop_full.txt"'
# Parameter-uncertainty bands (course_rate_bands): K = 0 is the plain table; bad K and run files refused.
run population --schedule iv-days --days 0,2 --n 20 --seed 1 --quiet --uncertainty 0
check "population --uncertainty 0 = no bands" '[ "$(rc)" = 0 ] && cmp -s "$TMP/out" "$TMP/pop_full.txt"'
run population --schedule iv-days --days 0,2 --n 20 --seed 1 --quiet --uncertainty 3
check "population --uncertainty 3 prints the bands" '[ "$(rc)" = 0 ] && grep -q "response band %" "$TMP/out" && grep -q "over 3 sets" "$TMP/out"'
run population --schedule iv-days --days 0,2 --n 20 --uncertainty -1
check "population --uncertainty -1 names the flag" '[ "$(rc)" = 2 ] && grep -q -- "--uncertainty: -1 must be >= 0" "$TMP/err"'
run population --schedule iv-days --days 0,2 --n 20 --uncertainty 2 --out "$TMP/unc.h5"
check "population --uncertainty with a run file refused" '[ "$(rc)" = 2 ] && grep -q "run files do not store prediction bands" "$TMP/err" && [ ! -e "$TMP/unc.h5" ]'
run population ketamine_iv_clements --regimen "$REG/esketamine_56mg.toml" --n 2 --metrics-only
check "population --metrics-only needs --schedule" '[ "$(rc)" = 2 ] && grep -q "metrics-only apply to --schedule" "$TMP/err"'
run course --schedule iv-days --days 0,2,4,7,9,11 --out "$TMP/days.csv"
check "course iv-days exits 0" '[ "$(rc)" = 0 ] && grep -q "relapse" "$TMP/out"'
run course --regimen "$REG/iv_6_sessions.toml" --out "$TMP/file6.csv"
check "course --regimen exits 0" '[ "$(rc)" = 0 ]'
check "course --regimen: 6 sessions + header" '[ "$(wc -l < "$TMP/file6.csv")" = 7 ]'
check "course --regimen = --schedule iv-days" 'cmp -s "$TMP/days.csv" "$TMP/file6.csv"'
run course --schedule esketamine-induction --out "$TMP/esk_sched.csv"
run course --regimen "$REG/esketamine_induction.toml" --model esketamine_nasal --out "$TMP/esk_file.csv"
check "course esketamine file exits 0, 12 sessions" '[ "$(rc)" = 0 ] && [ "$(wc -l < "$TMP/esk_file.csv")" = 13 ]'
check "course esketamine file = schedule" 'cmp -s "$TMP/esk_sched.csv" "$TMP/esk_file.csv"'
check "course esketamine states the Ce scale" 'grep -q "racemic-equivalent" "$TMP/out"'
run course --schedule iv-2x-weekly --out "$TMP/two_sched.csv"
run course --regimen "$REG/iv_2x_weekly_4_weeks.toml" --out "$TMP/two_file.csv"
check "course 2x weekly file = schedule" '[ "$(rc)" = 0 ] && cmp -s "$TMP/two_sched.csv" "$TMP/two_file.csv"'
run course --schedule iv-days --days 0,2 --diss-tolerance 0.5 --out "$TMP/tol.csv"
check "course --diss-tolerance exits 0" '[ "$(rc)" = 0 ] && grep -q "tolerance x 0.5" "$TMP/out"'
# Column 4 is peak dissociation: session 2 lower with tolerance, session 1 as without.
check "course tolerance lowers session 2 only" 'awk -F, "NR==2{a=\$5} NR==3{b=\$5} END{exit !(b < a)}" "$TMP/tol.csv" && [ "$(sed -n 2p "$TMP/tol.csv")" = "$(sed -n 2p "$TMP/days.csv")" ]'
run course --schedule esketamine-induction --model ketamine_iv_clements
check "course schedule on a model without its route exits 2" '[ "$(rc)" = 2 ] && grep -q "route .intranasal." "$TMP/err"'
run course --schedule esketamine-induction --weeks 1 --weight 90
check "course --weight on a model that does not use weight exits 2 naming its covariates" '[ "$(rc)" = 2 ] && grep -q -- "--weight: model .esketamine_nasal. does not use covariate .weight." "$TMP/err"'
run course --schedule iv-days --days 0 --weight 90
check "course --weight on an mg/kg IV schedule exits 0 and is used" '[ "$(rc)" = 0 ] && grep -q "ketamine_iv_clements, 90.0 kg" "$TMP/out"'
run course --schedule iv-days --days 0 --model ketamine_iv_domino
check "course schedule on another IV model exits 0" '[ "$(rc)" = 0 ] && grep -q "model ketamine_iv_domino" "$TMP/out"'
run course --schedule iv-days --days 0,2 --pd-solver coupled-ode --out "$TMP/coupled.csv"
# Same session table from both PD solvers, to 4 significant digits (they agree to ~1e-8).
check "course --pd-solver coupled-ode agrees" '[ "$(rc)" = 0 ] && awk -F, "NR==FNR{if(FNR>1)a[FNR]=\$15;next} FNR>1{d=\$15-a[FNR]; if(d<0)d=-d; if(d>1e-4*\$15) bad=1} END{exit bad}" "$TMP/days.csv" "$TMP/coupled.csv"'
run course --pd-solver rk4
check "course --pd-solver rk4 exits 2" '[ "$(rc)" = 2 ] && grep -q "not a PD solver" "$TMP/err"'
run course --diss-tolerance 1.5
check "course --diss-tolerance 1.5 exits 2 naming the option" '[ "$(rc)" = 2 ] && grep -q -- "--diss-tolerance: 1.5" "$TMP/err" && grep -q "(0, 1\]" "$TMP/err"'
run course --regimen "$REG/esketamine_induction.toml"
check "course intranasal regimen on the IV model exits 2" '[ "$(rc)" = 2 ] && grep -q "esketamine_induction.toml" "$TMP/err" && grep -q "route .intranasal." "$TMP/err" && grep -q "routes: iv" "$TMP/err"'
run course --regimen "$REG/iv_6_sessions.toml" --schedule iv-3x-weekly
check "course --regimen with --schedule exits 2" '[ "$(rc)" = 2 ] && grep -q "exclusive" "$TMP/err"'
run course --regimen "$REG/iv_6_sessions.toml" --session-window "2 kg"
check "course bad --session-window exits 2" '[ "$(rc)" = 2 ] && grep -q -- "--session-window" "$TMP/err"'
run course --regimen "$TMP/none.toml"
check "course missing regimen file exits non-zero naming it" '[ "$(rc)" != 0 ] && grep -q "none.toml" "$TMP/err"'
printf '[[dose]]\nroute = "iv"\namount = "-1 mg"\n' > "$TMP/negative.toml"
run course --regimen "$TMP/negative.toml"
check "course bad regimen file names file:line and field" '[ "$(rc)" = 2 ] && grep -q "negative.toml:3" "$TMP/err" && grep -q "dose\[0\].amount" "$TMP/err"'

# The session table: the library's columns (session_columns()), the same as Python's DataFrame.
check "course CSV header is the session table" '[ "$(head -1 "$TMP/days.csv")" = "session,day,peak_ce_ng_per_mL,t_peak_ce_h,peak_dissociation_pct,t_peak_dissociation_h,peak_sbp_rise_mmHg,t_peak_sbp_h,discharge_min,p_nausea,p_dizziness,p_drowsiness,p_dissociation,madrs_before,madrs_24h,response_24h,remission_24h" ]'
# Issue 9 regressions: given values are checked, never replaced by the default.
run course --schedule iv-2x-weekly --weeks -1
check "course --weeks -1 exits 2 naming the value" '[ "$(rc)" = 2 ] && grep -q "weeks = -1: must be in \[1, 52\]" "$TMP/err"'
run course --schedule esketamine-induction --weeks 0
check "course --weeks 0 exits 2" '[ "$(rc)" = 2 ] && grep -q "weeks = 0: must be in \[1, 8\]" "$TMP/err"'
run course --schedule iv-days --days 0 --weeks 2
check "course --weeks with iv-days exits 2" '[ "$(rc)" = 2 ] && grep -q "takes days, not weeks" "$TMP/err"'
run course --schedule weekly
check "course unknown --schedule exits 2 listing the names" '[ "$(rc)" = 2 ] && grep -q -- "--schedule: schedule .weekly. is not a schedule" "$TMP/err" && grep -q "iv-days" "$TMP/err"'
run course --schedule iv-days --days 0 --diss-tolerance nan
check "course --diss-tolerance nan exits 2" '[ "$(rc)" = 2 ] && grep -q -- "--diss-tolerance: nan: must be in (0, 1\]" "$TMP/err"'
run course --schedule iv-days --days 0 --out "$TMP/sessions.h5"
check "course --out .h5 exits 2, nothing written" '[ "$(rc)" = 2 ] && grep -q "CSV only" "$TMP/err" && [ ! -e "$TMP/sessions.h5" ]'
ln -s /dev/full "$TMP/full.csv.part"
run course --schedule iv-days --days 0 --out "$TMP/full.csv"
check "course --out on a full disk fails, no file, no 'written:'" '[ "$(rc)" = 3 ] && ! grep -q "written:" "$TMP/out" && [ ! -e "$TMP/full.csv" ] && [ ! -e "$TMP/full.csv.part" ]'
run course --schedule iv-days --days 0 --model esketamine_nasal
check "course IV schedule on the esketamine model uses its Ce scale" '[ "$(rc)" = 0 ] && grep -q "model esketamine_nasal" "$TMP/out" && grep -q "Ce x 2" "$TMP/out"'

run --help
check "--help exits 0" '[ "$(rc)" = 0 ] && grep -q simulate "$TMP/out"'
check "--help states the exit codes" 'grep -q "Exit codes: 0 success, 1 usage error, 2 bad input, 3" "$TMP/out"'

# ---- issue 9: exit codes, one meaning per flag, result files -----------------------------------
# (Per-rule bad-input cases live in docs/bad_input.md, run by tests/python/test_bad_input.py.)
one_line() { [ "$(wc -l < "$TMP/err")" = 1 ]; }
run simulate ketamine_iv_clements --dose "35 mg" --no-such-flag
check "unknown flag exits 1 on one line" '[ "$(rc)" = 1 ] && one_line && grep -q "usage error" "$TMP/err"'
run simulate
check "missing model exits 1 on one line" '[ "$(rc)" = 1 ] && one_line'
run simulate ketamine_iv_clements --dose "35 mg" --weight abc
check "unreadable --weight exits 1" '[ "$(rc)" = 1 ] && one_line'
run simulate ketamine_iv_clements --dose "35 mg" --dt 5
check "--dt 5 (no unit) exits 2 naming the flag" '[ "$(rc)" = 2 ] && one_line && grep -q -- "--dt" "$TMP/err"'
run simulate esketamine_nasal --dose "56 mg"
check "multi-route model needs --route (exit 1)" '[ "$(rc)" = 1 ] && grep -q "intranasal, iv, oral" "$TMP/err"'
# One meaning of an intranasal dose: 56 mg = two 28 mg devices 5 min apart, as in Python.
run simulate esketamine_nasal --route intranasal --dose "56 mg" --t-end "2 h" --out "$TMP/in56.csv"
check "intranasal 56 mg = 2 devices" '[ "$(rc)" = 0 ] && grep -q "2 dose event(s)" "$TMP/out"'
run simulate esketamine_nasal --route intranasal --dose "56 mg" --device "28 mg" --t-end "2 h" --out "$TMP/in56b.csv"
check "intranasal default device = explicit 28 mg" 'cmp -s "$TMP/in56.csv" "$TMP/in56b.csv"'
run simulate ketamine_iv_clements --dose "35 mg" --duration "40 minutes" --t-end "2 hours" --dt "10 min"
check "spelt-out time units accepted" '[ "$(rc)" = 0 ]'

# Two writers of one --out: the second fails clearly while the first holds the claim; a claim or
# temporary left by a dead run (kill -9) is cleaned.
sleep 30 & LIVE=$!
echo "$LIVE" > "$TMP/busy.h5.lock"
run simulate ketamine_iv_clements --dose "35 mg" --out "$TMP/busy.h5"
check "second writer exits 3 naming the other run" '[ "$(rc)" = 3 ] && grep -q "another ketasim run (pid $LIVE)" "$TMP/err" && [ ! -e "$TMP/busy.h5" ]'
kill "$LIVE" 2>/dev/null; wait "$LIVE" 2>/dev/null
true & DEAD=$!; wait "$DEAD"
echo "$DEAD" > "$TMP/busy.h5.lock"
echo junk > "$TMP/busy.h5.part-$DEAD-123"
run simulate ketamine_iv_clements --dose "35 mg" --out "$TMP/busy.h5"
check "stale claim and .part of a dead run are cleaned" '[ "$(rc)" = 0 ] && [ -s "$TMP/busy.h5" ] && [ ! -e "$TMP/busy.h5.lock" ] && [ ! -e "$TMP/busy.h5.part-$DEAD-123" ]'
check "no temporary left after a run" '[ -z "$(ls "$TMP" | grep -e "\.part-" -e "\.lock")" ]'

# A full disk: HDF5 and CSV writes fail with exit 3 (not a crash in HDF5's exit cleanup: 139) and
# leave nothing behind. Needs a tiny tmpfs (root); CI runs as root, so this runs there.
mkdir -p "$TMP/full"
if mount -t tmpfs -o size=64k tmpfs "$TMP/full" 2>/dev/null; then
  run simulate ketamine_iv_clements --dose "35 mg" --t-end "7 d" --dt "1 min" --amounts --out "$TMP/full/x.h5"
  check "full disk HDF5: exit 3, no crash" '[ "$(rc)" = 3 ] && grep -q "x.h5" "$TMP/err"'
  check "full disk HDF5: nothing left" '[ -z "$(ls -A "$TMP/full")" ]'
  run simulate ketamine_iv_clements --dose "35 mg" --t-end "7 d" --dt "1 min" --amounts --out "$TMP/full/x.csv"
  check "full disk CSV: exit 3, nothing left" '[ "$(rc)" = 3 ] && [ -z "$(ls -A "$TMP/full")" ]'
  umount "$TMP/full"
else
  echo "SKIP: full-disk checks need root (mount -t tmpfs)"
fi

# Sobol' sensitivity (docs/sensitivity.md): a table of S1/ST per factor; bad factors exit 2.
run sensitivity esketamine_nasal --regimen "$REG/esketamine_56mg.toml" --factor "ka_n=uniform(1 1/h, 5 1/h)" \
    --factor "Qh=lognormal(median=151 L/h, cv=30%)" --metric cmax --n 64 --bootstrap 50 --t-end "6 h"
check "sensitivity exits 0 and prints S1/ST per factor" '[ "$(rc)" = 0 ] && grep -q "^ka_n .*1/h" "$TMP/out" && grep -q "S1" "$TMP/out" && grep -q "(256 runs)" "$TMP/out"'
run sensitivity esketamine_nasal --regimen "$REG/esketamine_56mg.toml" --factor "ka_n=uniform(5, 1)"
check "sensitivity bad range exits 2 naming flag, value and rule" '[ "$(rc)" = 2 ] && grep -q -- "--factor ka_n: uniform upper = 1 must be > lower (5)" "$TMP/err" && [ "$(wc -l < "$TMP/err")" = 1 ]'
run sensitivity esketamine_nasal --regimen "$REG/esketamine_56mg.toml" --factor "ka_n=gamma(1, 2)"
check "sensitivity unknown distribution exits 2" '[ "$(rc)" = 2 ] && grep -q "is not a distribution" "$TMP/err"'
run sensitivity esketamine_nasal --regimen "$REG/esketamine_56mg.toml" --factor "ka_n=uniform(1, 5)" --metric time_above
check "sensitivity threshold metric without --threshold exits 2" '[ "$(rc)" = 2 ] && grep -q "needs a threshold" "$TMP/err"'

# One version number: pyproject.toml's [project] version, reported by --version and stored in
# result files (the Python side is checked in tests/python/test_packaging.py).
PYPROJECT="$(dirname "$0")/../../pyproject.toml"
want=$(sed -n '/^\[project\]/,/^\[/{s/^version *= *"\([^"]*\)".*/\1/p}' "$PYPROJECT" | head -1)
run --version
check "--version is pyproject.toml's version ($want)" '[ -n "$want" ] && [ "$(rc)" = 0 ] && [ "$(cat "$TMP/out")" = "$want" ]'
if python3 -c "import h5py" 2>/dev/null; then
  run simulate ketamine_iv_clements --dose "35 mg" --t-end "1 h" --out "$TMP/v.h5"
  check "result file stores ketasim_version $want" '[ "$(python3 -c "import h5py,sys; v=h5py.File(sys.argv[1])[\"/\"].attrs[\"ketasim_version\"]; print(v.decode() if isinstance(v, bytes) else v)" "$TMP/v.h5")" = "$want" ]'
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
