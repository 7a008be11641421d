#!/usr/bin/env bash
# Runs the libFuzzer harnesses of tests/fuzz (see tests/fuzz/README.md), each for a given time.
#
#   tools/fuzz.sh [--build DIR] [--seconds N] [--jobs J] [TARGET...]
#
# TARGETs: safetensors config preprocessor_config npy image (default: all, in that order).
#   --build DIR   use the fuzz_* executables already built in DIR (a -DVTE_FUZZ=ON build); without it,
#                 configure and build build-fuzz/ with clang.
#   --seconds N   fuzzing time per target (default 60).
#   --jobs J      run up to J targets at the same time, one fuzzer process each (default 1).
#
# Each target fuzzes a work corpus under DIR/fuzz/TARGET/corpus, seeded from tests/fuzz/corpus/TARGET (the
# committed corpus is never written); its log and any crash, leak, timeout or out-of-memory input go to
# DIR/fuzz/TARGET/. Prints one summary line per target and exits 1 when any target found something.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
all_targets=(safetensors config preprocessor_config npy image)

# Prints the comment at the top of this file; to stderr when it answers a mistake.
usage() {
    local text
    text="$(sed -n '2,/^[^#]/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p')"
    if [ "${1:-0}" -eq 0 ]; then echo "$text"; else echo "$text" >&2; fi
    exit "${1:-0}"
}

build=""
seconds=60
jobs=1
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    --build) [ $# -ge 2 ] || usage 2; build="$2"; shift 2 ;;
    --seconds) [ $# -ge 2 ] || usage 2; seconds="$2"; shift 2 ;;
    --jobs) [ $# -ge 2 ] || usage 2; jobs="$2"; shift 2 ;;
    -h | --help) usage 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage 2 ;;
    *) targets+=("$1"); shift ;;
    esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds takes a positive integer" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --jobs takes a positive integer" >&2; exit 2; }
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
done

if [ -z "$build" ]; then
    build="$root/build-fuzz"
    if [ ! -f "$build/CMakeCache.txt" ]; then
        CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DVTE_FUZZ=ON -DVTE_BUILD_TESTS=OFF \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo
    fi
    cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
fi
[ -d "$build" ] || { echo "fuzz.sh: no build folder $build" >&2; exit 2; }
build="$(cd "$build" && pwd)"
for t in "${targets[@]}"; do
    if [ ! -x "$build/tests/fuzz/fuzz_$t" ]; then
        echo "fuzz.sh: $build/tests/fuzz/fuzz_$t is missing (configure with -DVTE_FUZZ=ON and build it)" >&2
        exit 2
    fi
done

# Sanitizer settings for the harness processes; options already in the environment come last and win.
asan_defaults="detect_leaks=1:halt_on_error=1:abort_on_error=0:handle_abort=1:symbolize=1"
export ASAN_OPTIONS="$asan_defaults${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:symbolize=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# Runs one target; writes its summary line to DIR/fuzz/TARGET/summary and returns 1 on a finding.
run_target() {
    local t="$1"
    local exe="$build/tests/fuzz/fuzz_$t"
    local work="$build/fuzz/$t"
    local corpus="$work/corpus" artifacts="$work/artifacts" log="$work/fuzz.log"
    mkdir -p "$corpus" "$artifacts" "$work/tmp"
    rm -f "$work/summary" "$work"/sanitizer.* "$work/tmp"/vte-fuzz-*/* 2>/dev/null || true
    rmdir "$work/tmp"/vte-fuzz-* 2>/dev/null || true
    # Seeds join the work corpus (which keeps what earlier runs found); committed files are only read.
    if [ -d "$root/tests/fuzz/corpus/$t" ]; then
        find "$root/tests/fuzz/corpus/$t" -maxdepth 1 -type f -exec cp -n -t "$corpus" {} +
    fi
    local rss=2048
    # Image decoding: a small file may legitimately decode into an image of up to 64 megapixels (vte_image_load's
    # default limit), hundreds of megabytes with OpenCV's own copy; that is not a finding.
    [ "$t" = image ] && rss=4096
    local args=(-max_total_time="$seconds" -rss_limit_mb="$rss" -malloc_limit_mb="$rss" -timeout=30
        -print_final_stats=1 -artifact_prefix="$artifacts/")
    [ -f "$root/tests/fuzz/dict/$t.dict" ] && args+=(-dict="$root/tests/fuzz/dict/$t.dict")
    local before
    before="$(ls -A "$artifacts")"
    local rc=0
    # Sanitizer reports go to files: src/image/imageio.cpp captures stderr while a codec runs, which would swallow
    # a report printed then.
    (cd "$work" && TMPDIR="$work/tmp" ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$work/sanitizer" \
        UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$work/sanitizer" "$exe" "${args[@]}" "$corpus") >"$log" 2>&1 || rc=$?

    local execs speed cov ft corp files found="" line
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
    line="$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -n 1 || true)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")"
    corp="$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$line")"
    files="$(find "$corpus" -maxdepth 1 -type f | wc -l)"
    # New crash-, leak-, timeout- or oom- files are the findings (slow-unit- ones are only slow). The codecs'
    # stderr is captured while an image decodes, so the log may lack the report but the file is always there.
    while IFS= read -r f; do
        case "$f" in crash-* | leak-* | timeout-* | oom-*) found+=" $artifacts/$f" ;; esac
    done < <(comm -13 <(printf '%s\n' "$before" | sort) <(ls -A "$artifacts" | sort))
    local verdict="ok"
    if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
        verdict="FAILED (exit $rc):${found:- no artifact, see the log}"
        {
            echo "---- fuzz_$t: end of $log"
            tail -n 30 "$log"
            for f in "$work"/sanitizer.*; do
                [ -f "$f" ] && { echo "---- fuzz_$t: $f"; cat "$f"; }
            done
        } >&2
    fi
    # corpus: the units in the fuzzer's corpus (count/bytes), then the files of the work folder, which keeps the
    # inputs that reductions replaced.
    printf 'fuzz_%s: %s execs (%s/s), cov %s, ft %s, corpus %s (%s files); %s; log %s\n' "$t" "${execs:-?}" \
        "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$files" "$verdict" "$log" >"$work/summary"
    cat "$work/summary"
    [ "$verdict" = ok ]
}

echo "fuzz.sh: ${targets[*]}, ${seconds} s each, $jobs at a time, in $build/fuzz" >&2
failed=0
running=0
for t in "${targets[@]}"; do
    if [ "$jobs" -le 1 ]; then
        run_target "$t" || failed=1
        continue
    fi
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done

echo "---- summary" >&2
for t in "${targets[@]}"; do cat "$build/fuzz/$t/summary" 2>/dev/null || echo "fuzz_$t: no result"; done
if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: findings above; reproduce with: $build/tests/fuzz/fuzz_TARGET ARTIFACT" >&2
    exit 1
fi
