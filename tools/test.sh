#!/usr/bin/env bash
# The test command of the README: installs missing packages, builds, and runs every Criterion test
# through CTest. The first run compiles the OpenCL programs (PoCL: seconds each); the caches under
# build/test-cache make later runs fast.
#
# Then the Python package's tests (tools/test-python.sh: pip install ./python into build/python-venv, pytest).
# Then two more stages, which CI (.ci/run) always runs:
#  - the same tests built with clang, AddressSanitizer and UndefinedBehaviorSanitizer (VTE_SANITIZE, with the
#    libFuzzer instrumentation of VTE_FUZZ) in build-sanitize/ (${VTE_BUILD_DIR}-sanitize). Any finding fails
#    the test that met it, in a test process or in a `vitexplain` it started (abort_on_error: a killed child
#    is a failure, never the exit status 1 that a test may expect). Leaks of third-party libraries only are
#    suppressed: tests/sanitizers/lsan.supp.
#  - each libFuzzer harness of tests/fuzz for $VTE_FUZZ_SECONDS seconds (default 20), through tools/fuzz.sh.
# VTE_SANITIZE=0 tools/test.sh runs the first stage only (a quick local run); VTE_FUZZ_SECONDS=0 skips the
# fuzzers. Arguments go to both ctest runs (tools/test.sh -R explain).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${VTE_BUILD_DIR:-$root/build}"
sanitize="${VTE_SANITIZE:-1}"
fuzz_seconds="${VTE_FUZZ_SECONDS:-20}"
jobs="$(nproc)"
# The sanitized tests wait on child processes and I/O much of the time: twice as many as there are cores.
test_jobs=$((2 * jobs))

start=$SECONDS
stage() { echo "== tools/test.sh: $* ==" >&2; start=$SECONDS; }
done_stage() { echo "== tools/test.sh: $* ($((SECONDS - start)) s) ==" >&2; }

stage "build ($build)"
"$root/tools/build.sh"
done_stage "built"
stage "tests"
(cd "$build" && ctest --output-on-failure "$@")
done_stage "tests passed"
stage "Python package: pip install ./python, pytest (tools/test-python.sh)"
"$root/tools/test-python.sh" "$build"
done_stage "Python tests passed"

case "$sanitize" in 0 | OFF | off | false | no) exit 0 ;; esac

san_build="${build}-sanitize"
fuzz=OFF
if [ -f "$root/tests/fuzz/CMakeLists.txt" ]; then fuzz=ON; fi
stage "sanitized build, ASan + UBSan with clang ($san_build)"
"$root/tools/install-deps.sh" --sanitize
# CC/CXX choose the compiler when the folder is first configured; RelWithDebInfo gives the reports line numbers.
VTE_BUILD_DIR="$san_build" CC=clang CXX=clang++ "$root/tools/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVTE_SANITIZE=ON -DVTE_FUZZ="$fuzz"
done_stage "built"

stage "sanitized tests"
# The OpenCL programs are the same as the first stage's: start from its compiled-program caches.
if [ -d "$build/test-cache" ]; then
  mkdir -p "$san_build/test-cache"
  cp -a "$build/test-cache/." "$san_build/test-cache/"
fi
supp="$root/tests/sanitizers"
(cd "$san_build" &&
  ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_leaks=1:print_stacktrace=1" \
  LSAN_OPTIONS="suppressions='$supp/lsan.supp':print_suppressions=0" \
  UBSAN_OPTIONS="abort_on_error=1:halt_on_error=1:print_stacktrace=1" \
  ctest --output-on-failure -j"$test_jobs" "$@")
done_stage "sanitized tests passed"

if [ "$fuzz" = "ON" ] && [ "$fuzz_seconds" != "0" ] && [ -x "$root/tools/fuzz.sh" ]; then
  stage "fuzzers, ${fuzz_seconds} s each, $jobs at a time"
  "$root/tools/fuzz.sh" --build "$san_build" --seconds "$fuzz_seconds" --jobs "$jobs"
  done_stage "fuzzers found nothing"
fi
