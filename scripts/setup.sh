#!/usr/bin/env bash
# One-time (and idempotent) set-up of a development machine:
#   1. start PostgreSQL if nothing answers on 127.0.0.1:5432;
#   2. build the Python venv that runs LocalStack's S3 (localstack/install.sh);
#   3. build the release binary into $CARGO_TARGET_DIR (default ~/.cache/haul/target).
# Safe to re-run; then it only rebuilds what changed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HAUL_ROOT"

ensure_postgres

log "Installing LocalStack (S3 emulator) into a venv..."
venv="$(localstack/install.sh)"
log "LocalStack venv: $venv"

log "Building haul (release) in $CARGO_TARGET_DIR..."
cargo build --release -p haul

echo "haul binary: $HAUL_BIN"
echo "next: scripts/demo.sh   (runs Haul on demo data; Ctrl-C stops it)"
