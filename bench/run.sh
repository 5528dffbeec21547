#!/usr/bin/env bash
# Haul's benchmark, one command: scripts/setup.sh's environment (PostgreSQL,
# LocalStack, release build), then bench/bench.py. Seeds bench.events once
# (5,000,000 rows by default, ~800 MB as CSV; reused while the row count
# matches) in database haul_bench.
#
# Usage: bench/run.sh [--rows N] [--skip latency,concurrent]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$HAUL_ROOT"

ensure_postgres
export_aws_test_credentials
venv="$(localstack/install.sh)"
localstack/start.sh haul-bench >&2
command -v wrk >/dev/null || { log "Installing wrk (latency test)..."; apt-get install -y -qq wrk >/dev/null || log "wrk unavailable; the latency test will be skipped"; }
command -v oha >/dev/null || { log "Installing oha (fixed-rate latency test, once)..."; cargo install --locked oha >&2 || log "oha unavailable; the fixed-rate latency test will be skipped"; }
log "Building haul (release)..."
cargo build --release --locked -p haul
exec python3 bench/bench.py --haul-bin "$HAUL_BIN" --aws-bin "$venv/bin/aws" "$@"
