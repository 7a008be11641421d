#!/usr/bin/env bash
# Side by side in one run on this machine: the faithfulness protocol of docs/evaluation.md on one image, in
# vitexplain (`vitexplain evaluate`) and in PyTorch + transformers (tools/bench_evaluate.py), each with the inputs of
# a curve sent one at a time and a whole curve per batch. The protocol: the rollout map's deletion (to black) and
# insertion (from blur) curves and the same for one random order: 4 curves of 50 inputs for ViT-B/16.
#
#   tools/bench-evaluate.sh [MODEL_DIR [IMAGE]]      default weights/vit-base-random images/chelsea.png
#
# Needs the build (tools/build.sh) and, for the PyTorch half, a Python with torch and transformers:
# $PYTHON, else .venv/bin/python. Make the model with: $PYTHON tools/make_random_model.py weights/vit-base-random
# vitexplain's figures are the device time of the curves from its summary (curves_ms over curve_inputs), its
# explanation excluded; PyTorch's the wall time of the same curves after a warm-up.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="${1:-$root/weights/vit-base-random}"
image="${2:-$root/images/chelsea.png}"
build="${VTE_BUILD_DIR:-$root/build}"
python="${PYTHON:-$root/.venv/bin/python}"
threads="$(nproc)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$root/tools/build.sh" >/dev/null
stem="$(basename "${image%.*}")"
echo "== vitexplain ($(nproc) cores)"
# A warm-up run compiles and caches the kernels; its map is the one both sides follow.
"$build/vitexplain" evaluate --model "$model" --method rollout --random-seeds 1 --quiet --save-maps "$work/maps" \
    "$image" >/dev/null
for batch in 1 0; do
    args=()
    label="a whole curve"
    if [ "$batch" != 0 ]; then args=(--batch "$batch"); label="$batch"; fi
    "$build/vitexplain" evaluate --model "$model" --method rollout --random-seeds 1 --quiet "${args[@]}" \
        --summary "$work/run.json" "$image" >/dev/null
    "$python" - "$work/run.json" "$label" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["images"][0]["times_ms"]
print(f"vitexplain, batch {sys.argv[2]:>13}: {t['curves'] / t['curve_inputs']:7.1f} ms per input, "
      f"{t['curves'] / 1000:7.1f} s for the image ({t['curve_inputs']} inputs)")
PY
done
echo "== PyTorch, $threads threads"
"$python" "$root/tools/bench_evaluate.py" "$model" "$image" "$work/maps/${stem}_rollout.npy" --threads "$threads" \
    --batches 1,0 2>&1 | grep -v "Loading weights"
