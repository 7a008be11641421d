#!/usr/bin/env bash
# Downloads a Hugging Face ViTForImageClassification model folder (config.json, model.safetensors and,
# when the model has one, preprocessor_config.json) from the Hugging Face hub.
#
#   tools/fetch-model.sh MODEL_ID DIR        e.g. tools/fetch-model.sh google/vit-base-patch16-224 weights/vit-base-patch16-224
#   tools/fetch-model.sh MODEL_ID --cache    into the Hugging Face cache, as transformers lays it out
#                                            ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub);
#                                            then `vitexplain --model MODEL_ID` (and Python) find it there
#
# Needs internet access to huggingface.co (set HF_ENDPOINT for a mirror, HF_TOKEN for gated models).
# Files land in a temporary folder first and DIR appears only when everything arrived.
set -euo pipefail

if [ $# -ne 2 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  [ $# -eq 2 ] && exit 0 || exit 2
fi
model_id="$1"
dir="$2"
endpoint="${HF_ENDPOINT:-https://huggingface.co}"
cache_mode=0
if [ "$dir" = "--cache" ]; then
  case "$model_id" in
    */*/*|/*|*/|.*) echo "fetch-model.sh: --cache needs a hub id ORG/NAME, got '$model_id'" >&2; exit 2 ;;
    */*) ;;
    *) echo "fetch-model.sh: --cache needs a hub id ORG/NAME, got '$model_id'" >&2; exit 2 ;;
  esac
  cache="${HF_HUB_CACHE:-${HF_HOME:+$HF_HOME/hub}}"
  cache="${cache:-$HOME/.cache/huggingface/hub}"
  cache_mode=1
  repo="$cache/models--${model_id%%/*}--${model_id#*/}"
fi

if command -v curl >/dev/null 2>&1; then
  fetch() { # URL FILE -> HTTP status (000 when unreachable); the response headers go to FILE.headers
    local auth=()
    [ -n "${HF_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $HF_TOKEN")
    local code
    code="$(curl -sS -L --connect-timeout 15 --retry 2 "${auth[@]}" -D "$2.headers" -o "$2" -w '%{http_code}' "$1" \
      2>/dev/null || true)"
    echo "${code:-000}"
  }
else
  echo "fetch-model.sh: curl is needed (apt-get install curl)" >&2
  exit 3
fi

if [ "$cache_mode" = 0 ] && [ -e "$dir/model.safetensors" ] && [ -e "$dir/config.json" ]; then
  echo "fetch-model.sh: $dir already holds a model; remove it to download again" >&2
  exit 0
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/vte-fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

for file in config.json model.safetensors preprocessor_config.json; do
  url="$endpoint/$model_id/resolve/main/$file"
  echo "fetch-model.sh: downloading $url" >&2
  status="$(fetch "$url" "$tmp/$file")"
  case "$status" in
    200) ;;
    000)
      echo "fetch-model.sh: cannot reach $endpoint (no internet access?). Download $model_id on a machine" \
           "with access and copy config.json, model.safetensors and preprocessor_config.json into" \
           "$( [ "$cache_mode" = 1 ] && echo "the Hugging Face cache there (or a folder here: fetch-model.sh $model_id DIR)" || echo "$dir")." >&2
      exit 3 ;;
    401|403)
      echo "fetch-model.sh: $model_id/$file needs authorisation (HTTP $status): set HF_TOKEN" >&2
      exit 3 ;;
    404)
      if [ "$file" = preprocessor_config.json ]; then
        rm -f "$tmp/$file"   # optional: the model's defaults apply
        continue
      fi
      echo "fetch-model.sh: $model_id has no $file (HTTP 404). vitexplain reads safetensors only; convert" \
           "a PyTorch checkpoint with transformers' save_pretrained(..., safe_serialization=True)." >&2
      exit 3 ;;
    *)
      echo "fetch-model.sh: downloading $url failed with HTTP $status" >&2
      exit 3 ;;
  esac
done

if [ "$cache_mode" = 1 ]; then
  # The hub's layout: blobs/<sha256>, snapshots/<commit>/<file> -> ../../blobs/<sha256>, refs/main = <commit>.
  commit="$(tr -d '\r' < "$tmp/config.json.headers" | awk 'tolower($1) == "x-repo-commit:" {print $2}' | tail -1)"
  if [ -z "$commit" ]; then
    echo "fetch-model.sh: the hub did not say which revision it served (no X-Repo-Commit header)" >&2
    exit 3
  fi
  mkdir -p "$repo/blobs" "$repo/refs" "$repo/snapshots/$commit"
  for file in config.json model.safetensors preprocessor_config.json; do
    [ -e "$tmp/$file" ] || continue
    blob="$(sha256sum "$tmp/$file" | cut -d' ' -f1)"
    mv "$tmp/$file" "$repo/blobs/$blob"
    ln -sfn "../../blobs/$blob" "$repo/snapshots/$commit/$file"
  done
  printf '%s' "$commit" > "$repo/refs/main.partial" && mv "$repo/refs/main.partial" "$repo/refs/main"
  echo "fetch-model.sh: $model_id (revision $commit) is in $repo; use --model $model_id" >&2
  exit 0
fi
rm -f "$tmp"/*.headers
mkdir -p "$(dirname "$dir")"
rm -rf "$dir.partial"
mv "$tmp" "$dir.partial"
trap - EXIT
mv "$dir.partial" "$dir" 2>/dev/null || { cp -r "$dir.partial"/. "$dir"/ && rm -rf "$dir.partial"; }
echo "fetch-model.sh: $model_id is in $dir" >&2
