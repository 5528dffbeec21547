# Shared by scripts/*.sh (sourced, not run). Callers set -euo pipefail.

# Repository root, whatever the caller's working directory.
HAUL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One target dir shared by setup.sh, demo.sh, test.sh and CI, outside the repo
# so that a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/haul/target}"
HAUL_BIN="$CARGO_TARGET_DIR/release/haul"

log() { printf '%s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# Start the local PostgreSQL cluster if nothing answers on 127.0.0.1:5432,
# then wait for it (up to 30 s). Needs root (pg_ctlcluster switches to the
# cluster's owner); CI runs as root.
ensure_postgres() {
    if pg_isready -q -h 127.0.0.1 -p 5432; then
        return 0
    fi
    command -v pg_ctlcluster >/dev/null || die "PostgreSQL is not answering on 127.0.0.1:5432 and pg_ctlcluster is missing"
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
    [[ -n $version ]] || die "PostgreSQL is not answering on 127.0.0.1:5432 and /etc/postgresql has no cluster"
    log "Starting PostgreSQL $version/main..."
    pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
        log "pg_ctlcluster failed (maybe it is already starting); waiting anyway"
    local i
    for ((i = 0; i < 60; i++)); do
        if pg_isready -q -h 127.0.0.1 -p 5432; then
            log "PostgreSQL is up on 127.0.0.1:5432"
            return 0
        fi
        sleep 0.5
    done
    die "PostgreSQL did not answer on 127.0.0.1:5432 within 30 s (see /var/log/postgresql/)"
}

# LocalStack's S3 accepts any signature-valid credentials, but it derives the
# account from the access key id, so always use the ones create-bucket.sh uses
# (test/test, account 000000000000) -- never whatever AWS keys are around.
export_aws_test_credentials() {
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
    unset AWS_SESSION_TOKEN AWS_PROFILE
}
