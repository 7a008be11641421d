#!/usr/bin/env bash
# The README's main command: installs missing packages, builds, and explains the sample images in images/
# with every method, saving the pictures under results/ (as the original project's `python main.py` did).
# Extra arguments go to `vitexplain explain` (e.g. --method gmar --norm l2, --grid, --topk 3).
#
# Model: $VITEXPLAIN_MODEL, else weights/vit-base-patch16-224 when present (get it with
#   tools/fetch-model.sh google/vit-base-patch16-224 weights/vit-base-patch16-224);
# otherwise the small random test model tests/fixtures/models/vit-tiny, whose classes are made up (the
# pictures then show that the pipeline works, not what a trained ViT sees).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${VTE_BUILD_DIR:-$root/build}"
"$root/tools/build.sh"
cd "$root"
model="${VITEXPLAIN_MODEL:-weights/vit-base-patch16-224}"
if [ ! -f "$model/model.safetensors" ]; then
  echo "run.sh: no model in $model: using the random test model tests/fixtures/models/vit-tiny" >&2
  echo "run.sh: (its classes are made up; see the README to fetch google/vit-base-patch16-224)" >&2
  model=tests/fixtures/models/vit-tiny
fi
args=("$@")
if [ ${#args[@]} -eq 0 ]; then args=(--method all --grid); fi
exec "$build/vitexplain" explain --model "$model" "${args[@]}" images/
