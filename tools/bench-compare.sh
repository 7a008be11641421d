#!/usr/bin/env bash
# Side by side in one run on this machine: vitexplain (forward and every method, per image, at batch 1 and
# 8, after warm-up) and PyTorch + transformers on the same CPU computing the same things.
#
#   tools/bench-compare.sh [MODEL_DIR]      default weights/vit-base-random
#
# Needs the build (tools/build.sh) and, for the PyTorch half, a Python with torch and transformers:
# $PYTHON, else .venv/bin/python (python3 -m venv .venv && .venv/bin/pip install -r tools/requirements.txt).
# Make the model with: $PYTHON tools/make_random_model.py weights/vit-base-random
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="${1:-$root/weights/vit-base-random}"
build="${VTE_BUILD_DIR:-$root/build}"
python="${PYTHON:-$root/.venv/bin/python}"
threads="$(nproc)"
"$root/tools/build.sh" >/dev/null
echo "== vitexplain ($(nproc) cores)"
for batch in 1 8; do "$build/vitexplain-bench-explain" --model "$model" --batch "$batch" --iterations 3; done
echo "== PyTorch, $threads threads"
"$python" "$root/tools/bench_pytorch.py" "$model" --threads "$threads" --iterations 3 2>&1 | grep -v "Loading weights"
