#!/usr/bin/env bash
# `vigiectl reference` with the shipped binaries: a generated sample with a
# numeric and a categorical feature uploaded to a server on a temporary
# folder and a free port, shown as text and JSON, uploaded again as a new
# version; then the sample replayed, so that `metrics` shows drift against
# the reference; and the usage errors, which exit 2.
# Usage: reference_cli_test.sh VIGIE VIGIECTL
set -euo pipefail
vigie=$1
vigiectl=$2
source "$(dirname "$0")/testutil/cli_server.sh"

start

# 200 predictions of model credit, a second apart, with a numeric feature x
# and a categorical feature c, each followed by its outcome (lines 1-400);
# then one prediction with a score out of range (line 401).
categories=(low mid high)
for i in $(seq 0 199); do
  printf '{"prediction":{"modelId":"credit","predictionId":"p%d",' "$i"
  printf '"eventTime":"2026-01-05T00:%02d:%02dZ","binary":{"score":0.%02d},' \
    $((i / 60)) $((i % 60)) $((i % 100))
  printf '"features":{"x":{"numeric":%d.5},"c":{"categorical":"%s"}}}}\n' \
    $((i % 37)) "${categories[i % 3]}"
  printf '{"outcome":{"modelId":"credit","predictionId":"p%d",' "$i"
  printf '"eventTime":"2026-01-05T01:00:00Z","binary":%s}}\n' \
    "$([ $((i % 4)) -eq 0 ] && echo true || echo false)"
done > "$dir/sample.jsonl"
printf '%s\n' '{"prediction":{"modelId":"credit","predictionId":"bad","eventTime":"2026-01-05T00:00:00Z","binary":{"score":1.7}}}' \
  >> "$dir/sample.jsonl"

ctl reference upload --model=credit --file="$dir/sample.jsonl" \
  --description="first sample"
expect 0 "uploaded reference v1 of model credit: 200 predictions, 200 labels"
expect 0 "rejected: 1 of 401 events"
expect 0 "line 401: INVALID_SCORE"
grep -qE '^  x +numeric +200 ' "$dir/out" || fail "no profile of x: $(cat "$dir/out")"
grep -qE '^  c +categorical +200 ' "$dir/out" || fail "no profile of c: $(cat "$dir/out")"

ctl reference show --model=credit
expect 0 "reference v1 of model credit"
expect 0 "source:  upload: first sample"
expect 0 "x (numeric): 200 values"
expect 0 "c (categorical): 200 values"
expect 0 "  low "

ctl reference show --model=credit --format=json
expect 0 '"version": 1,'
expect 0 '"feature": "x"'
expect 0 '"kind": "categorical"'

head -n 400 "$dir/sample.jsonl" > "$dir/second.jsonl"
ctl reference upload --model=credit --file="$dir/second.jsonl" \
  --description="second sample"
expect 0 "uploaded reference v2 of model credit"
expect 0 "rejected: 0 of 400 events"
ctl reference show --model=credit
expect 0 "reference v2 of model credit"
expect 0 "source:  upload: second sample"
expect 0 "versions kept: v1 v2"
# The first version is still there, whole.
ctl reference show --model=credit --reference_version=1
expect 0 "reference v1 of model credit"
expect 0 "source:  upload: first sample"
expect 0 "x (numeric): 200 values"
ctl reference show --model=credit --reference_version=7
expect 1 "keeps no reference v7"

# The same events as a stream: metrics compares them with version 2.
ctl replay --file="$dir/second.jsonl"
expect 0 "accepted"
ctl metrics --model=credit
expect 0 "drift against reference v2 (upload: second sample)"
grep -qE '^  x +[a-z_]+ +200 .* ok$' "$dir/out" || fail "no drift line for x: $(cat "$dir/out")"
ctl metrics --model=credit --format=json
expect 0 '"jensenShannon"'
expect 0 '"conceptDrift"'

# Usage errors exit 2 and say what is wrong; a failed call exits 1.
ctl reference upload --file="$dir/sample.jsonl"
expect 2 "reference upload needs --model"
ctl reference upload --model=credit
expect 2 "reference upload needs --file"
ctl reference upload --model=credit --file="$dir/missing.jsonl"
expect 2 "cannot open"
printf '%s\n' "$(head -n 1 "$dir/sample.jsonl")" '{"prediction":' > "$dir/broken.jsonl"
ctl reference upload --model=credit --file="$dir/broken.jsonl"
expect 2 "broken.jsonl: line 2: invalid JSON event"
ctl reference upload --model=credit --file="$dir/sample.jsonl" --format=csv
expect 2 "--format does not apply to reference upload"
ctl reference remove --model=credit
expect 2 "reference takes upload or show"
ctl reference show --model=nobody
expect 1 "has no reference"

# One event larger than 60 MiB is refused before anything is sent.
{
  printf '{"prediction":{"modelId":"credit","predictionId":"big",'
  printf '"binary":{"score":0.5},"features":{"c":{"categorical":"'
  head -c $((61 * 1024 * 1024)) /dev/zero | tr '\0' a
  printf '"}}}}\n'
} > "$dir/big.jsonl"
ctl reference upload --model=credit --file="$dir/big.jsonl"
expect 2 "the request would exceed 60 MiB at line 1"
ctl reference show --model=credit
expect 0 "reference v2 of model credit"

stop

# Versions survive a restart.
start
ctl reference show --model=credit --reference_version=1
expect 0 "source:  upload: first sample"
expect 0 "versions kept: v1 v2"
stop
echo "reference cli: 1 passed, 0 failed"
