#!/usr/bin/env bash
# The one test command: unit tests and the end-to-end tests in tests/, which
# need PostgreSQL (started here if it is down) and LocalStack's S3 (installed
# and started here; each test makes its own database and bucket).
# LocalStack is left running for the next run; localstack/stop.sh stops it.
#
# Usage: scripts/test.sh [cargo test args...]
#   e.g. scripts/test.sh -p haul-core
#        scripts/test.sh -p haul-tests -- --nocapture
# Env: HAUL_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
#      HAUL_TEST_S3_ENDPOINT (default http://127.0.0.1:4566), CARGO_TARGET_DIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HAUL_ROOT"

ensure_postgres
localstack/install.sh >/dev/null
localstack/start.sh >&2

export_aws_test_credentials
export HAUL_TEST_DATABASE_URL="${HAUL_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export HAUL_TEST_S3_ENDPOINT="${HAUL_TEST_S3_ENDPOINT:-http://127.0.0.1:4566}"

# --workspace would override a package selection (-p), so it is only the default.
scope=(--workspace)
for arg in "$@"; do
    [[ $arg == -- ]] && break
    case $arg in -p | -p* | --package | --package=*) scope=() ;; esac
done

# The browser download test (tests/tests/browser.rs) drives Debian's headless
# Chromium; it fails, rather than skips, when Chromium is missing.
if ! command -v chromium >/dev/null; then
    [[ $(id -u) == 0 ]] || die "chromium is missing: apt-get install -y chromium chromium-driver (as root)"
    log "Installing chromium and chromium-driver for the browser test..."
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2
fi

# The fault-injection tests run the real `haul` binary as child processes
# (tests/src/process.rs), and `cargo test` does not build another package's
# binary.
cargo build -p haul --locked

exec cargo test "${scope[@]}" --locked "$@"
