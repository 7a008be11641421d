#!/usr/bin/env bash
# Installs missing packages, configures and builds vitexplain into build/ (or $VTE_BUILD_DIR).
# CI=true turns warnings into errors. Arguments go to the configure step (tools/test.sh: -DVTE_SANITIZE=ON ...).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${VTE_BUILD_DIR:-$root/build}"
"$root/tools/install-deps.sh"
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVTE_WERROR="$werror" -DVTE_BUILD_TESTS=ON "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
