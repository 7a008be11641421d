#!/usr/bin/env bash
# The Python package's tests (python/tests, pytest), run by tools/test.sh after the C tests: a virtual
# environment in BUILD/python-venv, `pip install ./python[test]` into it (scikit-build-core builds
# libvitexplain.so; its CMake folder BUILD/python-build is kept, so a rebuild compiles only what changed), then
# pytest with $VITEXPLAIN_CLI set to BUILD/vitexplain, which the maps are compared with.
# Usage: tools/test-python.sh [BUILD] [pytest arguments...]   (BUILD: default build/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
shift || true
venv="$build/python-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  --config-settings=build-dir="$build/python-build" "$root/python[test]"
# The compiled OpenCL programs are shared with the C tests' cache.
mkdir -p "$build/test-cache"
cd "$root/python"
VITEXPLAIN_CLI="$build/vitexplain" POCL_CACHE_DIR="$build/test-cache/pocl" \
  VITEXPLAIN_CACHE_DIR="$build/test-cache/programs" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
