#!/usr/bin/env bash
# `vigiectl catalogue` with the shipped binaries: a small catalogue file
# uploaded to a server on a temporary folder and a free port, shown as text
# and JSON, uploaded again as a new version; a bad file refused with its
# line named and the stored catalogue unchanged; the catalogue kept across a
# restart; the usage errors, which exit 2; and a configured catalogue_file
# with a bad line, which stops the server at start naming the file and line.
# Usage: catalogue_cli_test.sh VIGIE VIGIECTL
set -euo pipefail
vigie=$1
vigiectl=$2
source "$(dirname "$0")/testutil/cli_server.sh"

# Model recs is a recommender: only those take a catalogue.
printf 'models:\n  - id: recs\n    task: recommendation\n' > "$dir/base.yaml"
start --config="$dir/base.yaml"

# 5 items on lines 3-8 (line 5 is blank): 4 with categories among jazz,
# live, rock, pop (4 labels), e5 with none; 1,200 reference users (line 2).
cat > "$dir/items.jsonl" <<'JSONL'
# catalogue of model recs
{"referenceUsers": 1200}
{"item": {"itemId": "e1", "categories": ["jazz", "live"], "referenceUsers": 300}}
{"item": {"itemId": "e2", "categories": ["rock"], "referenceUsers": 40}}

{"item": {"itemId": "e3", "categories": ["pop", "rock"]}}
{"item": {"itemId": "e4", "categories": ["jazz"], "referenceUsers": 1200}}
{"item": {"itemId": "e5"}}
JSONL

ctl catalogue upload --model=recs --file="$dir/items.jsonl" \
  --description="items export 2026-11"
expect 0 "uploaded catalogue v1 of model recs"
expect 0 "items:        5 (4 with features)"
expect 0 "features:     categories, 4 labels"
expect 0 "reference:    1,200 users"
expect 0 "description:  items export 2026-11"

ctl catalogue show --model=recs
expect 0 "catalogue v1 of model recs"
expect 0 "items:        5 (4 with features)"
expect 0 "features:     categories, 4 labels"
expect 0 "reference:    1,200 users"
expect 0 "description:  items export 2026-11"
expect 0 "uploaded:     "
grep -qE '^  fingerprint:  [0-9a-f]{16}$' "$dir/out" || fail "no fingerprint: $(cat "$dir/out")"
fingerprint=$(grep fingerprint "$dir/out")

ctl catalogue show --model=recs --format=json
expect 0 '"version": 1,'
expect 0 '"featureKind": "categories"'
expect 0 '"items": "5"'

# A second version: 2 items with 2-dimensional embeddings, no reference.
cat > "$dir/embeddings.jsonl" <<'JSONL'
{"item": {"itemId": "v1", "embedding": [1, 0]}}
{"item": {"itemId": "v2", "embedding": [0.5, 0.5]}}
JSONL
ctl catalogue upload --model=recs --file="$dir/embeddings.jsonl"
expect 0 "uploaded catalogue v2 of model recs"
expect 0 "features:     embedding, dimension 2"
expect 0 "reference:    none"
expect 0 "description:  no description"

# Line 4 repeats e1: the server refuses it, naming the line; v2 stays.
printf '%s\n' '{"item": {"itemId": "e1"}}' '{"item": {"itemId": "e2"}}' \
  '# again' '{"item": {"itemId": "e1"}}' > "$dir/dup.jsonl"
ctl catalogue upload --model=recs --file="$dir/dup.jsonl"
expect 1 "dup.jsonl: line 4: duplicate item id \"e1\""
ctl catalogue show --model=recs
expect 0 "catalogue v2 of model recs"

# Usage errors exit 2 and say what is wrong; a failed call exits 1.
ctl catalogue upload --file="$dir/items.jsonl"
expect 2 "catalogue upload needs --model"
ctl catalogue upload --model=recs
expect 2 "catalogue upload needs --file"
ctl catalogue upload --model=recs --file="$dir/missing.jsonl"
expect 2 "cannot open"
printf '%s\n' '{"item": {"itemId": "e1"}}' '{"item": ' > "$dir/broken.jsonl"
ctl catalogue upload --model=recs --file="$dir/broken.jsonl"
expect 2 "broken.jsonl: line 2: not a CatalogueLine"
ctl catalogue show --model=recs --file="$dir/items.jsonl"
expect 2 "--file does not apply to catalogue show"
ctl catalogue remove --model=recs
expect 2 "catalogue takes upload or show"
ctl catalogue
expect 2 "catalogue needs an action: upload or show"
ctl catalogue show --model=nobody
expect 1 "has no catalogue"

# Back to the first file: version 3, the same fingerprint as version 1 (the
# same ids in the same order); kept across a restart.
ctl catalogue upload --model=recs --file="$dir/items.jsonl" \
  --description="items export 2026-11"
expect 0 "uploaded catalogue v3 of model recs"
stop
start --config="$dir/base.yaml"
ctl catalogue show --model=recs
expect 0 "catalogue v3 of model recs"
expect 0 "items:        5 (4 with features)"
expect 0 "$fingerprint"
stop

# A configured catalogue_file (relative to the configuration's folder) with
# a bad line stops the server at start, naming the file and the line.
mkdir "$dir/conf"
printf '%s\n' '{"item": {"itemId": "a"}}' '{"item": {"itemId": "b", "categories": [""]}}' \
  > "$dir/conf/bad.jsonl"
printf 'models:\n  - id: recs\n    task: recommendation\n    catalogue_file: bad.jsonl\n' > "$dir/conf/vigie.yaml"
set +e
"$vigie" --config="$dir/conf/vigie.yaml" --data_dir="$dir/state" \
  --grpc_address=127.0.0.1:0 --http_address=127.0.0.1:0 > "$dir/out" 2>&1
code=$?
set -e
[ "$code" -ne 0 ] || fail "a bad catalogue_file did not stop the server"
grep -qF "catalogue_file \"$dir/conf/bad.jsonl\": line 2: empty category label" \
  "$dir/out" || fail "no file and line in: $(cat "$dir/out")"

# The same catalogue as the stored v3, configured: no new version at start.
cp "$dir/items.jsonl" "$dir/conf/items.jsonl"
printf 'models:\n  - id: recs\n    task: recommendation\n    catalogue_file: items.jsonl\n' > "$dir/conf/vigie.yaml"
start --config="$dir/conf/vigie.yaml"
ctl catalogue show --model=recs
expect 0 "catalogue v3 of model recs"
expect 0 "description:  items export 2026-11"
stop
# Another one: stored as version 4 at start.
cp "$dir/embeddings.jsonl" "$dir/conf/items.jsonl"
start --config="$dir/conf/vigie.yaml"
ctl catalogue show --model=recs
expect 0 "catalogue v4 of model recs"
expect 0 "description:  catalogue_file: $dir/conf/items.jsonl"
expect 0 "features:     embedding, dimension 2"
stop
echo "catalogue cli: 1 passed, 0 failed"
