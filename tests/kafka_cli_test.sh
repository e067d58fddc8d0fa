#!/usr/bin/env bash
# The commands of deploy/kafka/README.md, run as written against
# vigie-kafka-mock: the shipped server consumes the example's events from
# its brokers with kcat as the producer, counts them, and dead-letters the
# bad one.
set -euo pipefail
vigie=$1
vigiectl=$2
mock=$3
source "$(dirname "$0")/testutil/cli_server.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
command -v kcat > /dev/null || fail "kcat is not installed (deploy/setup.sh)"

"$mock" --brokers=3 --topic=vigie-events:4 --topic=vigie-dead-letters:1 \
  > "$dir/brokers.txt" 2>> "$dir/log" &
mock_pid=$!
trap 'kill -TERM $mock_pid 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do [ -s "$dir/brokers.txt" ] && break; sleep 0.1; done
BROKERS=$(head -1 "$dir/brokers.txt")
[ -n "$BROKERS" ] || fail "vigie-kafka-mock printed no brokers"

start --config="$root/deploy/kafka/vigie-kafka.yaml" \
  --kafka_brokers="$BROKERS"
kcat -P -b "$BROKERS" -t vigie-events -K $'\t' \
  -H content-type=application/json -l "$root/deploy/kafka/events.tsv"

# The group join takes a few seconds; then the 5 good events count.
for _ in $(seq 1 300); do
  ctl metrics --model=credit
  grep -q "2 joined" "$dir/out" && break
  sleep 0.1
done
expect 0 "3 predictions"
expect 0 "2 outcomes"
expect 0 "2 joined"

# c-4 may be in a later batch than the events counted above: read the
# dead-letter topic until it is there.
for _ in $(seq 1 100); do
  kcat -C -b "$BROKERS" -t vigie-dead-letters -e -f '%k %h\n' \
    > "$dir/dead" 2>> "$dir/log"
  [ -s "$dir/dead" ] && break
  sleep 0.1
done
grep -q "^c-4 .*vigie-error=.*scor: Cannot find field" "$dir/dead" ||
  fail "no dead letter for c-4: $(cat "$dir/dead")"
grep -q "vigie-source-topic=vigie-events" "$dir/dead" ||
  fail "dead letter without its origin: $(cat "$dir/dead")"
[ "$(wc -l < "$dir/dead")" -eq 1 ] || fail "dead letters: $(cat "$dir/dead")"
stop
echo "kafka_cli_test: ok"
