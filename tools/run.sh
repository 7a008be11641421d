#!/usr/bin/env bash
# The README's main command: installs missing packages, builds, and explains sample images with every method,
# saving the pictures under results/ (as the original project's `python main.py` did). Extra arguments go to
# `vitexplain explain` (e.g. --method gmar --norm l2, --grid, --topk 3).
#
# Model and images: $VITEXPLAIN_MODEL (a folder or a Hugging Face hub id) or weights/vit-base-patch16-224 (get it
# with tools/fetch-model.sh google/vit-base-patch16-224 weights/vit-base-patch16-224) explain the photos in images/;
# without either, the model that ships in weights/fashion-vit (a small ViT trained on Fashion-MNIST, 90.2% accurate
# on its test set) explains the garments in images/fashion/. vitexplain's first line says which model it uses.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${VTE_BUILD_DIR:-$root/build}"
"$root/tools/build.sh"
cd "$root"
inputs=images/
if [ -z "${VITEXPLAIN_MODEL:-}" ] && [ ! -f weights/vit-base-patch16-224/model.safetensors ]; then
  echo "run.sh: no weights/vit-base-patch16-224 (see the README to fetch it): the bundled Fashion-MNIST model" \
       "explains images/fashion/" >&2
  inputs=images/fashion/
fi
args=("$@")
if [ ${#args[@]} -eq 0 ]; then args=(--method all --grid); fi
exec "$build/vitexplain" explain "${args[@]}" "$inputs"
