#!/usr/bin/env bash
# The shipped binaries on TLS with a bearer token: vigie started on a
# configuration with tls: and auth:, certificates made here with openssl;
# vigiectl reaches it with --tls_ca, queries without the token, and streams
# only with --token_file; a plaintext vigiectl is told to give --tls_ca.
# Usage: tls_cli_test.sh VIGIE VIGIECTL
set -euo pipefail
vigie=$1
vigiectl=$2
source "$(dirname "$0")/testutil/cli_server.sh"

(
  cd "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
    -days 2 -subj '/CN=Vigie test CA' 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
    -subj '/CN=localhost' 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out server.pem -days 2 -extfile san.ext 2>/dev/null
  echo "a-token" > token
)
cat > "$dir/vigie.yaml" <<YAML
tls:
  cert_file: $dir/server.pem
  key_file: $dir/server.key
auth:
  bearer_token_file: $dir/token
YAML
start --config="$dir/vigie.yaml"
tls=(--tls_ca="$dir/ca.pem" --tls_server_name=localhost)

ctl alerts --connect_timeout=2s
expect 1 "give --tls_ca"
ctl alerts "${tls[@]}"
expect 0 ""
ctl simulate "${tls[@]}" --n=200
expect 1 "authorization: Bearer"
ctl simulate "${tls[@]}" --token_file="$dir/token" --n=200
expect 0 "accepted:"
ctl metrics "${tls[@]}" --model=demo
expect 0 "demo"
stop
echo "tls_cli_test: ok"
