#!/usr/bin/env bash
# The README's main command: installs missing packages, builds, and runs vitexplain on the sample images
# in images/.
#
# Model: weights/vit-base-patch16-224 when present (get it with
#   tools/fetch-model.sh google/vit-base-patch16-224 weights/vit-base-patch16-224), or $VITEXPLAIN_MODEL;
# otherwise the small random test model tests/fixtures/models/vit-tiny, whose predictions are
# meaningless (it shows that the pipeline runs, not what a trained ViT sees).
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
shopt -s nullglob nocaseglob
images=(images/*.jpg images/*.jpeg images/*.png)
exec "$build/vitexplain" classify --model "$model" --topk 3 "$@" "${images[@]}"
