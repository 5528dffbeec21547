#!/usr/bin/env bash
# Fuzzes the live API with schemathesis, driven by Haul's own /openapi.json:
# starts `haul all` on a throwaway database and bucket with one API key, lets
# schemathesis generate requests (valid and invalid) for every operation, and
# fails on any 5xx, on any 4xx that is not problem+json, and on any presigned
# URL or download token that reached the logs.
#
# Bounded: FUZZ_MAX_EXAMPLES per operation (default 60) and FUZZ_MAX_TIME
# seconds overall (default 90). The venv lives in ~/.cache/haul/fuzz-venv and
# is reused while fuzz/requirements.txt is unchanged.
# Needs PostgreSQL on 127.0.0.1:5432 and LocalStack (scripts/test.sh starts both).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$HAUL_ROOT"

MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-60}"
MAX_TIME="${FUZZ_MAX_TIME:-90}"
VENV="${HAUL_CACHE:-$HOME/.cache/haul}/fuzz-venv"
REQS="$HAUL_ROOT/fuzz/requirements.txt"

if ! cmp -s "$REQS" "$VENV/requirements.txt" 2>/dev/null; then
    log "Installing schemathesis into $VENV..."
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
    cp "$REQS" "$VENV/requirements.txt"
fi

ensure_postgres
export_aws_test_credentials
S3_ENDPOINT="${HAUL_TEST_S3_ENDPOINT:-http://127.0.0.1:4566}"
cargo build --quiet --locked --bin haul
HAUL="$CARGO_TARGET_DIR/debug/haul"

RUN="$(date +%s)-$$"
WORK="$(mktemp -d)"
DB="haul_fuzz_${RUN//-/_}"
BUCKET="haul-fuzz-$RUN"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
HAUL_PID=""
cleanup() {
    [[ -n $HAUL_PID ]] && kill "$HAUL_PID" 2>/dev/null && wait "$HAUL_PID" 2>/dev/null || true
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $DB"
psql -q -h 127.0.0.1 -U postgres -d "$DB" <<'SQL'
CREATE TABLE events (id bigint PRIMARY KEY, tenant_id text NOT NULL, kind text, amount numeric, at timestamptz);
INSERT INTO events SELECT i, 'fuzz', 'k' || (i % 5), i * 1.5, timestamptz '2024-01-01' + i * interval '1 minute'
  FROM generate_series(1, 2000) i;
SQL
S3_ENDPOINT="$S3_ENDPOINT" localstack/create-bucket.sh "$BUCKET" >/dev/null

cat >"$WORK/haul.toml" <<TOML
[server]
bind = "127.0.0.1:$PORT"
public_url = "http://127.0.0.1:$PORT"
# Fuzzing is many requests from one key: keep the limit out of the way.
rate_limit_per_second = 10000
rate_limit_burst = 10000
[database]
url = "postgres://postgres@127.0.0.1:5432/$DB"
[s3]
bucket = "$BUCKET"
endpoint = "$S3_ENDPOINT"
force_path_style = true
[worker]
concurrency = 2
part_size = "5MiB"
[exports]
max_active_per_tenant = 100000
[auth]
signing_secret = "fuzz-signing-secret-0123456789abcdef"
[log]
level = "info,sqlx=warn"
[datasets.events]
table = "public.events"
key = ["id"]
filterable = ["kind", "amount", "at"]
tenant_column = "tenant_id"
TOML

export HAUL_CONFIG="$WORK/haul.toml"
"$HAUL" migrate 2>/dev/null
KEY="$("$HAUL" keys create --tenant fuzz 2>/dev/null)"
# The real binary's `keys list` names the key by its prefix, never in full.
LISTING="$("$HAUL" keys list 2>/dev/null)"
grep -q "^${KEY:0:8} .*fuzz" <<<"$LISTING" || die "haul keys list lacks the key's prefix and tenant"
if grep -qF "$KEY" <<<"$LISTING"; then die "haul keys list shows a whole key"; fi
"$HAUL" all >"$WORK/haul.log" 2>&1 &
HAUL_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/haul.log" >&2; die "haul did not start"; }

# One finished export whose link is followed with its token and with the key,
# so the log check below would see a leaked token or presigned URL.
api() { curl -fsS -H "Authorization: Bearer $KEY" "$@"; }
ID="$(api -X POST -H 'Content-Type: application/json' -d '{"dataset": "events"}' \
    "http://127.0.0.1:$PORT/v1/exports" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
LINK=""
for _ in $(seq 1 150); do
    LINK="$(api "http://127.0.0.1:$PORT/v1/exports/$ID" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["links"]["download"] or "")')"
    [[ -n $LINK ]] && break
    sleep 0.2
done
[[ -n $LINK ]] || die "the seed export did not finish"
[[ "$(curl -sS -o /dev/null -w '%{http_code}' "$LINK")" == 303 ]] || die "the download link did not redirect"
api -o /dev/null "http://127.0.0.1:$PORT/v1/exports/$ID/download"

log "Fuzzing http://127.0.0.1:$PORT for up to ${MAX_TIME}s, $MAX_EXAMPLES examples per operation..."
status=0
cd "$WORK" # schemathesis keeps a cache directory in its working directory
SCHEMATHESIS_HOOKS=checks PYTHONPATH="$HAUL_ROOT/fuzz" \
    "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
    --header "Authorization: Bearer $KEY" \
    --checks not_a_server_error,problem_json_errors \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --seed 42 \
    --no-color \
    --report junit --report-dir "$WORK/report" || status=$?

served="$(grep -c 'actix_web::middleware::logger' "$WORK/haul.log" || true)"
errors="$(grep -cE 'logger.* 5[0-9][0-9] ' "$WORK/haul.log" || true)"
log "Requests haul served during the run: $served (5xx: $errors)"
if grep -nE 'token=|X-Amz-Signature|X-Amz-Credential' "$WORK/haul.log" >&2; then
    log "FAIL: a download token or presigned URL appears in haul's logs"
    status=1
fi
if [[ $errors != 0 ]]; then
    grep -E 'logger.* 5[0-9][0-9] |internal error' "$WORK/haul.log" | head -20 >&2
    status=1
fi
cd "$HAUL_ROOT"
exit "$status"
