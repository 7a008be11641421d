#!/usr/bin/env bash
# Forward-pass timing of a model at batch 1 and 8, cold (empty PoCL and program caches: what a first run
# on a new machine costs) and warm (caches filled by the cold run).
#
#   tools/bench-forward.sh [MODEL_DIR]     default weights/vit-base-random (make it with
#                                          .venv/bin/python tools/make_random_model.py weights/vit-base-random)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="${1:-$root/weights/vit-base-random}"
build="${VTE_BUILD_DIR:-$root/build}"
"$root/tools/build.sh" >/dev/null
bench="$build/vitexplain-bench-forward"
cache="$(mktemp -d "${TMPDIR:-/tmp}/vte-bench-cache.XXXXXX")"
trap 'rm -rf "$cache"' EXIT
for batch in 1 8; do
  rm -rf "$cache"/*
  mkdir -p "$cache/pocl" "$cache/programs"
  export POCL_CACHE_DIR="$cache/pocl" VITEXPLAIN_CACHE_DIR="$cache/programs"
  echo "== batch $batch, cold caches"
  "$bench" --model "$model" --batch "$batch" --iterations 3
  echo "== batch $batch, warm caches"
  "$bench" --model "$model" --batch "$batch" --iterations 5
done
