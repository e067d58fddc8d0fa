#!/usr/bin/env bash
# Sets up, builds and runs Vigie on its embedded defaults, replays the
# built-in simulated stream (a credit model whose scores for women are
# shifted down: a known, injected bias) into it over gRPC, and shows the
# metrics and the alert that fired.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/setup.sh
build=${VIGIE_BUILD_DIR:-build}
# The same flags as tools/check.sh, so that the two share one build.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
cmake --build "$build" -j "$(nproc)" --target vigie vigiectl

# A fresh state folder per demo, so that replaying twice does not count twice.
data="$build/demo-data"
rm -rf "$data" "$data.port" "$data.http"
"$build/services/vigie" --data_dir="$data" --grpc_address=127.0.0.1:0 \
  --port_file="$data.port" --http_address=127.0.0.1:0 \
  --http_port_file="$data.http" 2> "$build/demo-server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT

for _ in $(seq 1 300); do
  [ -s "$data.port" ] && break
  if ! kill -0 $server 2>/dev/null; then
    cat "$build/demo-server.log" >&2
    exit 1
  fi
  sleep 0.1
done
address="127.0.0.1:$(cat "$data.port")"
echo "== Vigie is serving gRPC on $address (state in $data, log in $build/demo-server.log)"

ctl="$build/tools/vigiectl"
echo "== Replaying the simulated stream (20,000 predictions and their outcomes)"
"$ctl" simulate --server="$address"
echo
echo "== Metrics of model 'demo'"
"$ctl" metrics --server="$address" --model=demo
echo
echo "== Alerts"
"$ctl" alerts --server="$address"
echo
echo "== Prometheus metrics (a few of http://127.0.0.1:$(cat "$data.http")/metrics)"
curl -fsS "http://127.0.0.1:$(cat "$data.http")/metrics" > "$build/demo-metrics.txt"
grep -E '^vigie_(events_total|alerts_open|checkpoints_total)|window="24h",metric="(calibration\.ece|fairness\.groups\.selection_rate)"' \
  "$build/demo-metrics.txt" | sed -n '1,14p'
echo
report="$build/demo-report.html"
"$ctl" report demo --server="$address" --out="$report" 2>/dev/null
echo "== Report page of model 'demo': http://127.0.0.1:$(cat "$data.http")/models/demo"
echo "   (while this demo runs), and the same page written to $report:"
grep -o '<b>[0-9]* alerts\? \(is\|are\) firing</b>[^.]*' "$report" |
  sed 's/<[^>]*>//g; s/^/   /' || true
echo
echo "== Server log (alerts are logged too)"
grep -E "alert|serving" "$build/demo-server.log" || true
