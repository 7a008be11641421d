#!/usr/bin/env bash
# Installs the Debian 12 packages that vitexplain needs to build, run and test. Idempotent and
# non-interactive: packages already installed are left alone, and apt is not touched at all when nothing
# is missing. Needs root or sudo. --sanitize adds the toolchain of the sanitized tests and the fuzzers.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo   # OpenCL loader, headers, CPU driver
  libclblast-dev                                             # GEMM
  libopencv-dev zlib1g-dev                                   # image decoding, colour maps, windows; PNG text
  libjansson-dev                                             # JSON (config.json, safetensors headers)
  libopenblas-dev libdnnl-dev                                # GEMM on CPU devices (OpenBLAS, oneDNN)
  libcriterion-dev                                           # tests
  xvfb                                                       # virtual X server for the `live` window tests
  python3-venv                                               # the Python package's tests (tools/test-python.sh)
)
# --sanitize: what the sanitized tests and the fuzzers of tools/test.sh need as well: clang, its ASan, UBSan and
# libFuzzer runtimes (libclang-rt-dev, which clang's packages only recommend), llvm-symbolizer for the reports' stacks (llvm).
if [ "${1:-}" = "--sanitize" ]; then
  packages+=(clang libclang-rt-dev llvm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps.sh: missing packages (${missing[*]}) and neither root nor sudo to install them" >&2
  exit 1
fi

echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
