#!/usr/bin/env bash
# The test command of the README: installs missing packages, builds, and runs every Criterion test
# through CTest. The first run compiles the OpenCL programs (PoCL: seconds each); the caches under
# build/test-cache make later runs fast.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${VTE_BUILD_DIR:-$root/build}"
"$root/tools/build.sh"
cd "$build"
ctest --output-on-failure "$@"
