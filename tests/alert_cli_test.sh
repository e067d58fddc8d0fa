#!/usr/bin/env bash
# vigiectl's alert operations with the shipped binaries: after the demo
# stream fires alerts, a silence is created, listed (text and JSON), seen on
# the alert it matches and expired; an alert is acknowledged; its history
# and the watch stream show it; bad usage exits 2 and an unknown silence 1.
# Usage: alert_cli_test.sh VIGIE VIGIECTL
set -euo pipefail
vigie=$1
vigiectl=$2
source "$(dirname "$0")/testutil/cli_server.sh"

start
ctl simulate --n=20000
expect 0 "40,000"

# The fingerprint of the firing F1 alert (disparate impact of the demo
# model), from the JSON listing.
ctl alerts --model=demo --format=json
expect 0 '"ruleId": "F1"'
fingerprint=$(grep -B3 '"ruleId": "F1"' "$dir/out" | sed -n 's/.*"fingerprint": "\([0-9a-f]*\)".*/\1/p' | head -1)
[ -n "$fingerprint" ] || fail "no fingerprint for F1 in: $(cat "$dir/out")"

# A silence: refused without its author, then created, listed, shown on
# the alert, expired.
ctl silence create --match=model_id=demo,rule_id=F1 --duration=1h
expect 2 "silence create needs --by"
ctl silence create --match=model_id=demo,rule_id=F1 --duration=1h \
  --by=alice --comment="retraining, TICKET-12"
expect 0 "ACTIVE"
id=$(head -1 "$dir/out" | cut -d' ' -f1)
[ -n "$id" ] || fail "no silence id in: $(cat "$dir/out")"
ctl silence list
expect 0 "$id ACTIVE"
expect 0 'matches model_id="demo", rule_id="F1"'
expect 0 "by alice: retraining, TICKET-12"
ctl silence list --by=alice
expect 2 "--by does not apply to silence list"
ctl silence list --format=json
expect 0 "\"id\": \"$id\""
ctl alerts --model=demo
expect 0 "silenced by $id (not sent to the sinks)"

# An acknowledgement, shown on the alert and in the watch stream.
ctl ack --fingerprint="$fingerprint" --by=bob --comment=looking
expect 0 "acknowledged by bob"
ctl alerts --model=demo
expect 0 "acknowledged by bob"
set +e
timeout 3 "$vigiectl" watch --server="$address" --model=demo \
  > "$dir/watch" 2>&1
set -e
grep -q "CURRENT CRITICAL FIRING F1 .*\[$fingerprint\] (silenced by $id; acknowledged by bob)" \
  "$dir/watch" || fail "watch did not show the F1 alert: $(cat "$dir/watch")"

# The alert's history: its transitions, oldest first, in text and JSON.
ctl history --fingerprint="$fingerprint"
expect 0 "CRITICAL FIRING F1 demographic_parity_ratio"
ctl history --model=demo --limit=1 --format=json
expect 0 '"transitions"'
[ "$(grep -c '"fingerprint"' "$dir/out")" -eq 1 ] \
  || fail "--limit=1 printed other than one transition: $(cat "$dir/out")"
ctl history --since=yesterday
expect 2 "--since: cannot parse time 'yesterday'"

ctl silence expire --id="$id"
expect 0 "$id EXPIRED"
ctl silence list
expect 0 "no silences"
ctl silence list --all
expect 0 "$id EXPIRED"
ctl silence expire --id=nope
expect 1 "no silence has id 'nope'"
ctl alerts --model=demo
! grep -q "silenced by" "$dir/out" || fail "still silenced: $(cat "$dir/out")"

stop
echo "alert cli: 1 passed, 0 failed"
