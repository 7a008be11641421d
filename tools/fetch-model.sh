#!/usr/bin/env bash
# Downloads a Hugging Face ViTForImageClassification model folder (config.json, model.safetensors and,
# when the model has one, preprocessor_config.json) from the Hugging Face hub.
#
#   tools/fetch-model.sh MODEL_ID DIR        e.g. tools/fetch-model.sh google/vit-base-patch16-224 weights/vit-base-patch16-224
#
# Needs internet access to huggingface.co (set HF_ENDPOINT for a mirror, HF_TOKEN for gated models).
# Files land in a temporary folder first and DIR appears only when everything arrived.
set -euo pipefail

if [ $# -ne 2 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  [ $# -eq 2 ] && exit 0 || exit 2
fi
model_id="$1"
dir="$2"
endpoint="${HF_ENDPOINT:-https://huggingface.co}"

if command -v curl >/dev/null 2>&1; then
  fetch() { # URL FILE -> HTTP status (000 when unreachable)
    local auth=()
    [ -n "${HF_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $HF_TOKEN")
    local code
    code="$(curl -sS -L --connect-timeout 15 --retry 2 "${auth[@]}" -o "$2" -w '%{http_code}' "$1" 2>/dev/null || true)"
    echo "${code:-000}"
  }
else
  echo "fetch-model.sh: curl is needed (apt-get install curl)" >&2
  exit 3
fi

if [ -e "$dir/model.safetensors" ] && [ -e "$dir/config.json" ]; then
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
           "with access and copy config.json, model.safetensors and preprocessor_config.json into $dir." >&2
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

mkdir -p "$(dirname "$dir")"
rm -rf "$dir.partial"
mv "$tmp" "$dir.partial"
trap - EXIT
mv "$dir.partial" "$dir" 2>/dev/null || { cp -r "$dir.partial"/. "$dir"/ && rm -rf "$dir.partial"; }
echo "fetch-model.sh: $model_id is in $dir" >&2
