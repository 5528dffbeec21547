#!/usr/bin/env bash
# Run Haul on demo data, in the foreground (Ctrl-C stops it):
#   - LocalStack S3 on 127.0.0.1:4566 with bucket haul-demo (left running;
#     localstack/stop.sh stops it);
#   - database haul_demo, seeded from config/demo-seed.sql if the seed is
#     missing (or always with --reseed, which re-runs the seed: it drops and
#     recreates schema "demo", keeping Haul's own tables and keys);
#   - `haul migrate`, one new API key each for tenants acme and globex;
#   - then `haul -c config/demo.toml all` (API on 127.0.0.1:8080 + workers).
#
# Usage: scripts/demo.sh [--reseed]
# Env: HAUL_DEMO_PORT (default 8080) to serve on another port.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HAUL_ROOT"

reseed=0
for arg in "$@"; do
    case $arg in
    --reseed) reseed=1 ;;
    -h | --help)
        sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument: $arg (usage: scripts/demo.sh [--reseed])" ;;
    esac
done

CONFIG=config/demo.toml
DB=haul_demo
PORT="${HAUL_DEMO_PORT:-8080}"
export HAUL__SERVER__BIND="127.0.0.1:$PORT"
export HAUL__SERVER__PUBLIC_URL="http://127.0.0.1:$PORT"
BASE="$HAUL__SERVER__PUBLIC_URL"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres)

# Fail now rather than after the set-up if the port is taken.
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "127.0.0.1:$PORT is already in use (another haul?). Stop it, or use HAUL_DEMO_PORT=8081 $0"
fi

ensure_postgres
export_aws_test_credentials

if [[ ! -x $HAUL_BIN ]]; then
    log "No release binary at $HAUL_BIN; building it (scripts/setup.sh does this too)..."
    cargo build --release -p haul
fi

localstack/start.sh haul-demo >&2

if [[ -z "$("${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]]; then
    log "Creating database $DB..."
    createdb -h 127.0.0.1 -U postgres "$DB"
fi
seeded="$("${PSQL[@]}" -d "$DB" -tAc \
    "SELECT to_regclass('demo.orders') IS NOT NULL AND to_regclass('demo.order_items') IS NOT NULL
        AND to_regclass('demo.customers') IS NOT NULL")"
if ((reseed)) || [[ $seeded != t ]]; then
    log "Loading demo data into $DB (config/demo-seed.sql, a few seconds)..."
    "${PSQL[@]}" -d "$DB" -f config/demo-seed.sql
fi

"$HAUL_BIN" -c "$CONFIG" migrate
ACME_KEY="$("$HAUL_BIN" -c "$CONFIG" keys create --tenant acme)"
GLOBEX_KEY="$("$HAUL_BIN" -c "$CONFIG" keys create --tenant globex)"

cat <<INFO

================================================================================
Haul demo: API on $BASE, S3 (LocalStack) on http://127.0.0.1:4566
  acme key:   $ACME_KEY
  globex key: $GLOBEX_KEY
Datasets: orders, order_items, customers (see config/demo.toml).

In another terminal:
  KEY=$ACME_KEY
  # start an export (202 + the export resource)
  ID=\$(curl -s -X POST $BASE/v1/exports -H "Authorization: Bearer \$KEY" \\
        -H 'Content-Type: application/json' -d '{"dataset":"orders"}' | jq -r .id)
  # poll until "status": "succeeded"
  curl -s $BASE/v1/exports/\$ID -H "Authorization: Bearer \$KEY" | jq '{status, progress, result}'
  # download: Haul answers 303 to a presigned S3 URL, -L follows it
  curl -sL -o orders.csv $BASE/v1/exports/\$ID/download -H "Authorization: Bearer \$KEY"
  # or use links.download, which carries a token and needs no key
  curl -sL -o orders.csv "\$(curl -s $BASE/v1/exports/\$ID -H "Authorization: Bearer \$KEY" | jq -r .links.download)"
  sha256sum orders.csv   # equals result.sha256
Ctrl-C stops Haul; LocalStack keeps running (localstack/stop.sh stops it).
================================================================================

INFO

exec "$HAUL_BIN" -c "$CONFIG" all
