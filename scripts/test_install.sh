#!/usr/bin/env bash
# The installed C++ package as a user meets it (issue 13):
#  1. cmake --install into a temporary prefix: headers, library, CMake package, models, CLI;
#  2. examples/downstream configured with find_package(ketasim), built and run against it;
#  3. the installed program, moved to another prefix and run from another directory, finds the
#     models next to itself (never in the source or build tree), and KETASIM_MODELS_DIR and
#     --models-dir override that; a library that cannot be found is an error naming every place.
# Usage: bash scripts/test_install.sh [build-dir]   (default build/, already built)
set -uo pipefail   # no -e: each check records its own result
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=$(cd "${1:-build}" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0; fail=0
check() {  # name, condition (string evaluated)
  if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi
}
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)

cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null || { echo "FAIL: cmake --install"; exit 1; }
P=$TMP/prefix
check "headers installed" '[ -f "$P/include/ketasim/ketasim.hpp" ] && [ -f "$P/include/ketasim/simulate.hpp" ]'
check "library installed" 'ls "$P"/lib*/libketasim.* >/dev/null 2>&1'
check "CMake package installed" 'ls "$P"/lib*/cmake/ketasim/ketasimConfig.cmake "$P"/lib*/cmake/ketasim/ketasimConfigVersion.cmake "$P"/lib*/cmake/ketasim/ketasimTargets.cmake >/dev/null 2>&1'
check "models installed" '[ -f "$P/share/ketasim/models/index.toml" ]'
check "warnings are not exported" '! grep -q -- "-Wpedantic\|ketasim_warnings" "$P"/lib*/cmake/ketasim/ketasimTargets*.cmake'
check "no source-tree path in the package files" '! grep -rq "$SRC" "$P"/lib*/cmake/ketasim/'

# 2. The downstream example, built out of tree against the installed package.
if cmake -S examples/downstream -B "$TMP/downstream" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_PREFIX_PATH="$P" >"$TMP/ds.log" 2>&1 && cmake --build "$TMP/downstream" >>"$TMP/ds.log" 2>&1; then
  check "downstream example builds" 'true'
  (cd "$TMP" && "$TMP/downstream/nasal_peak") >"$TMP/ds.out" 2>&1; echo $? >"$TMP/ds.rc"
  check "downstream example runs (exit 0)" '[ "$(cat "$TMP/ds.rc")" = 0 ]'
  check "downstream example prints a peak" 'grep -q "Cmax [0-9.]* ng/mL" "$TMP/ds.out"'
  check "downstream example reads the installed models" 'grep -q "models from $P/share/ketasim/models" "$TMP/ds.out"'
else
  check "downstream example builds" 'false'; cat "$TMP/ds.log"
fi
# The version file refuses an incompatible request.
mkdir -p "$TMP/vreq"
printf 'cmake_minimum_required(VERSION 3.18)\nproject(v LANGUAGES CXX)\nfind_package(ketasim 99 REQUIRED)\n' >"$TMP/vreq/CMakeLists.txt"
check "find_package(ketasim 99) fails" '! cmake -S "$TMP/vreq" -B "$TMP/vreq/b" -DCMAKE_PREFIX_PATH="$P" >/dev/null 2>&1'

# 3. Relocation: move the whole prefix, run from elsewhere.
if [ -x "$P/bin/ketasim" ]; then
  mv "$P" "$TMP/moved"
  M=$TMP/moved
  (cd / && env -u KETASIM_MODELS_DIR "$M/bin/ketasim" models) >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc"
  check "moved install: models exits 0" '[ "$(cat "$TMP/rc")" = 0 ]'
  check "moved install: reads its own share/ketasim/models" 'grep -q "Models directory: $M/share/ketasim/models" "$TMP/out"'
  (cd / && env -u KETASIM_MODELS_DIR "$M/bin/ketasim" simulate esketamine_nasal --route intranasal --dose "56 mg" --device "28 mg" --out "$TMP/esk.csv") >/dev/null 2>"$TMP/err"
  check "moved install: simulates a library model" '[ -s "$TMP/esk.csv" ]'
  # Override: a different library directory holding only one model under another name.
  mkdir -p "$TMP/alt"
  cp models/ketamine_iv_clements.toml "$TMP/alt/other.toml"
  printf '[[model]]\nname = "only_this_one"\nfile = "other.toml"\n' >"$TMP/alt/index.toml"
  (cd / && KETASIM_MODELS_DIR="$TMP/alt" "$M/bin/ketasim" models) >"$TMP/out" 2>&1
  check "KETASIM_MODELS_DIR overrides" 'grep -q only_this_one "$TMP/out" && ! grep -q esketamine_nasal "$TMP/out"'
  (cd / && env -u KETASIM_MODELS_DIR "$M/bin/ketasim" --models-dir "$TMP/alt" models) >"$TMP/out" 2>&1
  check "--models-dir overrides" 'grep -q only_this_one "$TMP/out"'
  (cd / && KETASIM_MODELS_DIR="$TMP/nowhere" "$M/bin/ketasim" models) >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc"
  check "KETASIM_MODELS_DIR without index.toml: exit 2 naming it" '[ "$(cat "$TMP/rc")" = 2 ] && grep -q "KETASIM_MODELS_DIR=$TMP/nowhere" "$TMP/err"'
  # Without its models, the installed program says where it looked, and never uses the source tree.
  mv "$M/share/ketasim/models" "$TMP/hidden"
  (cd / && env -u KETASIM_MODELS_DIR "$M/bin/ketasim" models) >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc"
  check "no models: exit 2" '[ "$(cat "$TMP/rc")" = 2 ]'
  check "no models: message names the places looked" 'grep -q "$M/share/ketasim/models" "$TMP/err" && grep -q "KETASIM_MODELS_DIR" "$TMP/err"'
  check "no models: the source tree is not used" '! grep -q "$SRC/models" "$TMP/err"'
else
  echo "(no installed CLI: configured with KETASIM_BUILD_CLI=OFF; relocation checks skipped)"
fi

echo "install checks: $pass passed, $fail failed"
[ "$fail" = 0 ]
