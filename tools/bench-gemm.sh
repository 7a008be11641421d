#!/usr/bin/env bash
# CPU GEMM candidates side by side on every GEMM of a ViT-B/16 forward pass (docs/performance.md, "CPU GEMM paths").
#
#   tools/bench-gemm.sh [--runs N] [--reps N] [--threads N] [--batches 1,8] [--wait-idle]
#
# Builds tools/bench_gemm.c once per candidate with gcc directly (the CMake build does not depend on these
# libraries) into $VTE_BUILD_DIR/bench-gemm (default build/bench-gemm); a candidate whose library is not
# installed is skipped with a note. Candidates (Debian 12 packages):
#   openblas@auto      libopenblas-dev, core type from OpenBLAS's own detection (OPENBLAS_CORETYPE removed)
#   openblas@Haswell   the same library with OPENBLAS_CORETYPE=Haswell (its AVX2 kernels)
#   openblas@SkylakeX  the same library with OPENBLAS_CORETYPE=SkylakeX (its AVX-512 kernels)
#   onednn             libdnnl-dev (dnnl_sgemm and the matmul primitive)
#   libxsmm            libxsmm-dev (libxsmm_sgemm_omp; JIT kernels per head for attention)
#   blis@auto          libblis-dev, sub-configuration from BLIS's own detection (BLIS_ARCH_TYPE removed)
#   blis@skx           the same library with BLIS_ARCH_TYPE=0 (BLIS_ARCH_SKX, its AVX-512 kernels)
#   own                our AVX-512 kernels, attention products only (gcc only)
# Each candidate runs --runs times (default 3) in separate processes, the candidates interleaved; per shape the
# table keeps the lowest median of the runs (the least disturbed) and gives the spread of the medians. The raw
# output of every process is kept in the build folder (results/), each with the share of the machine that other
# processes used while it ran. --wait-idle waits before each process until other processes use under 10 % of the
# machine (on a 2-core machine anything else running skews the numbers).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${VTE_BUILD_DIR:-$root/build}/bench-gemm"
runs=3 reps=15 threads=2 batches=1,8 wait_idle=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --batches) batches="$2"; shift 2 ;;
    --wait-idle) wait_idle=1; shift ;;
    *) echo "usage: $0 [--runs N] [--reps N] [--threads N] [--batches 1,8] [--wait-idle]" >&2; exit 2 ;;
  esac
done
mkdir -p "$build/results"
rm -f "$build"/results/*.txt
src="$root/tools/bench_gemm.c"
cflags=(-std=c11 -O3 -Wall -Wextra -fopenmp)
multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"

# has_header HEADER CFLAGS...: whether the preprocessor finds HEADER.
has_header() {
  local header="$1"; shift
  printf '#include <%s>\n' "$header" | gcc -E -x c - "$@" >/dev/null 2>&1
}

# build NAME DEFINE HEADER "CFLAGS" "LIBS": builds bench-gemm-NAME, or says why not.
built=()
build_one() {
  local name="$1" define="$2" header="$3" extra_cflags="$4" libs="$5"
  # shellcheck disable=SC2086
  if [ -n "$header" ] && ! has_header "$header" $extra_cflags; then
    echo "skipped $name: $header not found (library not installed)"
    return 0
  fi
  # shellcheck disable=SC2086
  gcc "${cflags[@]}" -D"$define" $extra_cflags "$src" -o "$build/bench-gemm-$name" $libs -lm
  built+=("$name")
}

blis_dir="/usr/include/$multiarch/blis-openmp"
blis_lib="/usr/lib/$multiarch/blis-openmp"
build_one openblas BENCH_OPENBLAS cblas.h "$(pkg-config --cflags openblas 2>/dev/null || true)" \
  "$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)"
build_one onednn BENCH_ONEDNN oneapi/dnnl/dnnl.h "" "-ldnnl"
# libxsmmnoblas instead of a BLAS: a call that libxsmm would hand to BLAS fails the check instead of
# silently measuring OpenBLAS.
build_one libxsmm BENCH_LIBXSMM libxsmm.h "" "-lxsmmext -lxsmm -lxsmmnoblas -lpthread -lrt -ldl"
build_one blis BENCH_BLIS blis.h "-isystem $blis_dir" "-L$blis_lib -Wl,-rpath,$blis_lib -lblis"
build_one own BENCH_OWN "" "" ""

# busy_jiffies: CPU time (all cores, in clock ticks) spent outside idle and iowait since boot.
busy_jiffies() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
ticks="$(getconf CLK_TCK)" cores="$(nproc)"

# wait_quiet: waits until other processes used under 10 % of the machine over 5 s.
wait_quiet() {
  while :; do
    local before after
    before="$(busy_jiffies)"; sleep 5; after="$(busy_jiffies)"
    if awk -v d="$((after - before))" -v t="$ticks" -v c="$cores" 'BEGIN { exit !(d / (5 * t * c) < 0.10) }'; then
      return 0
    fi
    echo "waiting: the machine is busy ($(cut -d' ' -f1 /proc/loadavg))" >&2
    sleep 25
  done
}

# run_candidate TAG BINARY OUT ENV...: one process of a candidate; its lines tagged "variant@TAG" where TAG is not
# empty. Ends with the share of the machine that other processes used meanwhile.
run_candidate() {
  local tag="$1" binary="$2" out="$3"; shift 3
  if [ "$wait_idle" = 1 ]; then wait_quiet; fi
  local before after start end self
  before="$(busy_jiffies)"; start="$(date +%s.%N)"
  env "$@" "$build/bench-gemm-$binary" --threads "$threads" --reps "$reps" --batches "$batches" > "$out.raw" || \
    echo "# exit status $?" >> "$out.raw"
  end="$(date +%s.%N)"; after="$(busy_jiffies)"
  # our own CPU time so far: user + system time of this shell's finished children (cutime + cstime)
  self="$(awk '{ print $16 + $17 }' /proc/$$/stat)"
  awk -v tag="$tag" '($1 == "R" || $1 == "S" || $1 == "F") && tag != "" { $2 = $2 "@" tag } { print }' "$out.raw" > "$out"
  rm -f "$out.raw"
  awk -v d="$((after - before))" -v self="$self" -v prev="${children_ticks:-0}" -v t="$ticks" -v c="$cores" \
      -v s="$start" -v e="$end" 'BEGIN {
        other = (d - (self - prev)) / ((e - s) * t * c) * 100; if (other < 0) other = 0
        printf "# other processes used %.0f %% of the machine during this run (%.0f s)\n", other, e - s }' >> "$out"
  children_ticks="$self"
}

cpu="$(awk -F': ' '/^model name/ { n = $2 } /^cpu family/ { f = $2 } /^model\t/ { m = $2 }
  END { printf "%s, family %d model %d", n, f, m }' /proc/cpuinfo)"
isa="$(grep -o -w 'avx512f\|avx512_bf16\|avx2\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "# machine: $cpu, $cores cores; $isa" > "$build/results/machine.txt"

for run in $(seq 1 "$runs"); do
  for name in "${built[@]}"; do
    case "$name" in
      openblas)
        run_candidate auto openblas "$build/results/run$run-openblas-auto.txt" -u OPENBLAS_CORETYPE \
          OPENBLAS_NUM_THREADS="$threads"
        run_candidate Haswell openblas "$build/results/run$run-openblas-haswell.txt" OPENBLAS_CORETYPE=Haswell \
          OPENBLAS_NUM_THREADS="$threads"
        run_candidate SkylakeX openblas "$build/results/run$run-openblas-skylakex.txt" OPENBLAS_CORETYPE=SkylakeX \
          OPENBLAS_NUM_THREADS="$threads" ;;
      blis)
        run_candidate auto blis "$build/results/run$run-blis-auto.txt" -u BLIS_ARCH_TYPE BLIS_NUM_THREADS="$threads"
        run_candidate skx blis "$build/results/run$run-blis-skx.txt" BLIS_ARCH_TYPE=0 BLIS_NUM_THREADS="$threads" ;;
      *)
        run_candidate "" "$name" "$build/results/run$run-$name.txt" OMP_NUM_THREADS="$threads" ;;
    esac
    echo "run $run: $name done" >&2
  done
done

# Per variant, shape and batch: the lowest median of the runs; forward-pass sums from those.
python3 - "$build"/results/machine.txt "$build"/results/run*.txt <<'EOF'
import collections, sys
order = ["patch", "qkv", "out", "fc1", "fc2", "qk", "pv"]
per_forward = {s: (1 if s == "patch" else 12) for s in order}
best, medians, skipped, notes, wrong = {}, collections.defaultdict(list), {}, [], set()
peaks, others = [], []
for path in sys.argv[2:]:
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "R":
            key = (f[1], f[2], int(f[3]))
            med = float(f[9])
            medians[key].append(med)
            if "WRONG" in f:
                wrong.add(key)
            if key not in best or med < best[key]["median"]:
                best[key] = dict(m=f[4], n=f[5], k=f[6], count=f[7], first=float(f[8]), median=med, gflops=float(f[10]),
                                 err=float(f[11]))
        elif f[0] == "S" and "run in the other variants" not in line:
            skipped[(f[1], f[2], int(f[3]))] = " ".join(f[4:])
        elif line.startswith("# candidate") and line.rstrip() not in notes:
            notes.append(line.rstrip())
        elif line.startswith("# peak"):
            peaks.append(line.rstrip())
        elif line.startswith("# other processes"):
            others.append(float(f[4]))
print(open(sys.argv[1]).read().rstrip())
for n in notes:
    print(n)
if peaks:
    print(max(peaks, key=lambda l: float(l.split(":")[1].split()[0])), f"(best of {len(peaks)})")
if others:
    print(f"# other processes used {min(others):.0f}-{max(others):.0f} % of the machine during the runs")
variants = sorted({k[0] for k in best})
batches = sorted({k[2] for k in best})
def forward(v, b, source):
    total = 0.0
    for s in order:
        if (v, s, b) not in source or (v, s, b) in wrong:
            return None
        total += per_forward[s] * source[(v, s, b)]
    return total / b
for b in batches:
    print(f"\n### batch {b}: GFLOP/s (best median of {max(len(x) for x in medians.values())} runs), forward = GEMM ms per image")
    print("| variant | " + " | ".join(order) + " | forward ms |")
    print("|---|" + "---:|" * (len(order) + 1))
    for v in variants:
        cells = []
        for s in order:
            key = (v, s, b)
            if key in best:
                cells.append(f"{best[key]['gflops']:.0f}" + (" WRONG" if key in wrong else ""))
            else:
                cells.append("–")
        fwd = forward(v, b, {k: x["median"] for k, x in best.items()})
        print(f"| {v} | " + " | ".join(cells) + f" | {fwd:.1f} |" if fwd is not None else f"| {v} | " + " | ".join(cells) + " | – |")
    # the best variant per shape, combined
    combo = {}
    picks = []
    for s in order:
        cands = [(x["median"], v) for (v, s2, b2), x in best.items() if s2 == s and b2 == b and (v, s2, b2) not in wrong]
        if cands:
            med, v = min(cands)
            combo[("best", s, b)] = med
            picks.append(f"{s}: {v}")
    fwd = forward("best", b, combo)
    if fwd is not None:
        print(f"\nbatch {b}, best variant per shape: {fwd:.1f} ms per image ({'; '.join(picks)})")
print("\n### spread of the medians over the runs ((max - min) / min), first call ms (run 1, JIT and thread start-up)")
print("| variant | shape | batch | M×N×K ×count | best median ms | spread | first ms | rel. error |")
print("|---|---|---:|---|---:|---:|---:|---:|")
for v in variants:
    for b in batches:
        for s in order:
            key = (v, s, b)
            if key not in best:
                continue
            x = best[key]
            meds = medians[key]
            spread = (max(meds) - min(meds)) / min(meds) * 100
            print(f"| {v} | {s} | {b} | {x['m']}×{x['n']}×{x['k']} ×{x['count']} | {x['median']:.3f} | {spread:.0f} % | {x['first']:.1f} | {x['err']:.1e} |")
if skipped:
    print("\nnot run:")
    for (v, s, b), why in sorted(skipped.items()):
        if b == batches[0]:
            print(f"  {v} {s}: {why}")
if wrong:
    print("\nWRONG RESULTS (not counted):", ", ".join(f"{v} {s} b{b}" for v, s, b in sorted(wrong)))
    sys.exit(1)
EOF
