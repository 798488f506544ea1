#!/usr/bin/env bash
# CLI behaviour as a user meets it: listings, the flagship, results files, and bad input giving a
# one-line message with a non-zero exit code and no file left behind.
set -u
KS=${1:-./build/ketasim}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
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
check "compare prints Cmax" 'grep -q "Cmax (ng/mL)" "$TMP/out"'
check "compare writes the HDF5 file" '[ -s "$TMP/flag.h5" ]'
check "compare leaves no .part" '[ ! -e "$TMP/flag.h5.part" ]'

run simulate ketamine_iv_clements --dose "0.5 mg/kg" --duration "40 min" --days 0,2,4 --t-end "5 d" --out "$TMP/iv.csv"
check "simulate csv exits 0" '[ "$(rc)" = 0 ]'
check "csv header has units" 'head -1 "$TMP/iv.csv" | grep -q "C_plasma \[ng/mL\]"'
check "csv has 5 days at 5 min + header" '[ "$(wc -l < "$TMP/iv.csv")" = 1442 ]'

run simulate esketamine_nasal --route intranasal --dose "84 mg" --device "28 mg" --solver ode --out "$TMP/esk.h5"
check "simulate ode h5 exits 0" '[ "$(rc)" = 0 ]'

# Bad input: exit 2, one line on stderr naming the problem, no output file.
run simulate ketamine_iv_clements --dose "-5 mg" --out "$TMP/bad.h5"
check "negative dose exits 2" '[ "$(rc)" = 2 ]'
check "negative dose message names the field" 'grep -q "amount" "$TMP/err" && [ "$(wc -l < "$TMP/err")" = 1 ]'
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

run --help
check "--help exits 0" '[ "$(rc)" = 0 ] && grep -q simulate "$TMP/out"'

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
