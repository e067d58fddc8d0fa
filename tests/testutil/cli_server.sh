# Sourced by the shell tests of the shipped binaries, after they set
# `vigie` and `vigiectl`: a temporary folder ($dir, removed at exit with the
# server killed), and
#   start [FLAGS...]  runs the server on $dir/state and a free loopback port
#                     (extra flags passed on), its log appended to $dir/log,
#                     and sets $address;
#   stop              stops it with SIGTERM; it must exit 0;
#   ctl CMD [FLAGS]   runs vigiectl against it, output in $dir/out, exit
#                     status in $code;
#   expect CODE TEXT  the last ctl exited CODE and printed TEXT;
#   fail MESSAGE      prints it and the server log, and exits 1.
dir=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill -KILL "$server" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- server log" >&2; cat "$dir/log" >&2; exit 1; }
ctl() {
  set +e
  "$vigiectl" "$1" --server="$address" "${@:2}" > "$dir/out" 2>&1
  code=$?
  set -e
}
expect() {
  [ "$code" -eq "$1" ] || fail "exit $code, want $1: $(cat "$dir/out")"
  grep -qF -- "$2" "$dir/out" || fail "no '$2' in: $(cat "$dir/out")"
}
start() {
  rm -f "$dir/port"
  "$vigie" --data_dir="$dir/state" --grpc_address=127.0.0.1:0 \
    --http_address=127.0.0.1:0 \
    --port_file="$dir/port" "$@" 2>> "$dir/log" &
  server=$!
  for _ in $(seq 1 300); do
    [ -s "$dir/port" ] && break
    kill -0 "$server" 2>/dev/null || fail "server exited at start"
    sleep 0.1
  done
  [ -s "$dir/port" ] || fail "server did not report its port"
  address="127.0.0.1:$(cat "$dir/port")"
}
stop() {
  kill -TERM "$server"
  wait "$server" || fail "server exited non-zero on SIGTERM"
  server=
}
