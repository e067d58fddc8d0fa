#!/usr/bin/env bash
# The shipped binaries end to end, as tools/demo.sh runs them: the server on
# its embedded defaults (but a temporary folder and a free port), the
# simulated stream replayed by vigiectl, then metrics and alerts; finally a
# graceful stop on SIGTERM. Usage: cli_demo_test.sh VIGIE VIGIECTL
set -euo pipefail
vigie=$1
vigiectl=$2
source "$(dirname "$0")/testutil/cli_server.sh"

start

"$vigiectl" simulate --server="$address" --n=20000 > "$dir/simulate" 2>&1 \
  || fail "simulate: $(cat "$dir/simulate")"
grep -q "40,000\|40000" "$dir/simulate" || fail "simulate did not report 40,000 events: $(cat "$dir/simulate")"

"$vigiectl" metrics --server="$address" --model=demo > "$dir/metrics" 2>&1 \
  || fail "metrics: $(cat "$dir/metrics")"
grep -q "female" "$dir/metrics" || fail "metrics lack the female group"

"$vigiectl" alerts --server="$address" > "$dir/alerts" 2>&1 \
  || fail "alerts: $(cat "$dir/alerts")"
grep -qi "critical" "$dir/alerts" || fail "no critical alert: $(cat "$dir/alerts")"
grep -q "Q2.4" "$dir/alerts" || fail "alert does not cite Q2.4"
grep -q "labelia-dsrc@v202301" "$dir/alerts" || fail "alert lacks the referential"
grep -q "alert FIRING" "$dir/log" || fail "the server did not log the alert"

# The report page, as vigiectl writes it: one self-contained HTML file.
"$vigiectl" report demo --server="$address" --out="$dir/report.html" \
  > "$dir/report" 2>&1 || fail "report: $(cat "$dir/report")"
for text in '<!DOCTYPE html>' 'Model demo' 'By sex' 'female' 'Q2.4' '<svg'; do
  grep -qF -- "$text" "$dir/report.html" || fail "the report lacks '$text'"
done
! grep -q '<script' "$dir/report.html" || fail "the report has a script"
ctl report --out="$dir/none.html"
expect 2 "report needs a model"
ctl report nobody --out="$dir/none.html"
expect 1 "nobody"
[ ! -e "$dir/none.html" ] || fail "a failed report left a file behind"

# Purging the model: refused without --yes, then everything is gone.
ctl purge demo
expect 2 "cannot be undone: add --yes"
ctl purge demo --yes
expect 0 "purged model demo: 20000 predictions"
ctl metrics --model=demo
expect 1 "model 'demo' has no data"
ctl purge demo --yes
expect 1 "keeps nothing of model 'demo'"

# Bad usage is a clear error, exit code 2.
set +e
"$vigiectl" metrics --server="$address" > "$dir/usage" 2>&1
code=$?
set -e
[ "$code" -eq 2 ] || fail "metrics without --model exited $code, want 2"

stop
grep -q "stopped" "$dir/log" || fail "server did not log its stop"
echo "cli demo: 1 passed, 0 failed"
