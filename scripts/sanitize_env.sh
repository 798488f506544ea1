# Shared by scripts/sanitize.sh and scripts/fuzz.sh (sourced, not run): the build directory of the
# AddressSanitizer + UndefinedBehaviorSanitizer build and the runtime options every checked run
# uses. Nothing recovers: the first report ends the process with a non-zero exit code.
KETASIM_ASAN_BUILD=${KETASIM_ASAN_BUILD:-build-asan}
KETASIM_CLANG=${KETASIM_CLANG:-clang++-14}
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Symbolized stack traces in reports (llvm-symbolizer comes with llvm-14).
[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] && export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer

# Configures (once) and builds build-asan/: clang, Debug with -O1 (Eigen and Odeint are too slow
# at -O0; -O1 keeps line numbers useful), ASan + UBSan on every target, the libFuzzer harnesses.
ketasim_build_asan() {
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  if [ ! -f "$KETASIM_ASAN_BUILD/CMakeCache.txt" ]; then
    cmake -S . -B "$KETASIM_ASAN_BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
      -DCMAKE_CXX_COMPILER="$KETASIM_CLANG" -DKETASIM_BUILD_FUZZERS=ON -DKETASIM_BUILD_BENCHMARKS=OFF >/dev/null
  fi
  cmake --build "$KETASIM_ASAN_BUILD" -j "$(nproc)"
}
