#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds Vigie with warnings as errors and
# runs the whole test suite. This is exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/setup.sh
build=${VIGIE_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVIGIE_WERROR=ON
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" --timeout 600
