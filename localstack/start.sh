#!/usr/bin/env bash
# Start LocalStack (S3 only) as a plain background process from the venv made
# by install.sh -- no Docker engine here or in CI. Returns once S3 is healthy.
# Does nothing if something already answers healthy on the port. stop.sh is
# its counterpart; tests use the pair to simulate an S3 outage.
#
# Usage: start.sh [BUCKET...]   -- also creates these buckets (if missing).
# LocalStack community has no persistence: after stop.sh/start.sh every bucket
# and object is gone, so pass the buckets here (or run create-bucket.sh) again.
#
# Env: HAUL_CACHE (default ~/.cache/haul), LOCALSTACK_HOST_PORT (default
# 127.0.0.1:4566), LOCALSTACK_START_TIMEOUT (seconds, default 60),
# S3_SKIP_SIGNATURE_VALIDATION (default 0, see below).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${HAUL_CACHE:-$HOME/.cache/haul}"
LISTEN="${LOCALSTACK_HOST_PORT:-127.0.0.1:4566}"
TIMEOUT="${LOCALSTACK_START_TIMEOUT:-60}"
PIDFILE="$CACHE/localstack.pid"
LOG="$CACHE/localstack.log"

host="${LISTEN%:*}"
port="${LISTEN##*:}"
[[ $host == 0.0.0.0 || -z $host ]] && host=127.0.0.1 # probe a wildcard bind via loopback
HEALTH_URL="http://$host:$port/_localstack/health"

# Healthy = S3 "available" (not loaded yet, loads on first request) or "running".
# Body looks like {"services": {"s3": "available", ...}, "edition": "community", ...}
healthy() {
    local body
    body="$(curl -fsS --max-time 2 "$HEALTH_URL" 2>/dev/null)" || return 1
    [[ $body =~ \"s3\":\ *\"(available|running)\" ]]
}

# Anything accepting TCP connections on the port?
port_in_use() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

alive() { # pid exists and is not a zombie
    local st
    st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
    [[ $st != Z* ]]
}

create_buckets() {
    local b
    for b in "$@"; do
        S3_ENDPOINT="http://$host:$port" "$HERE/create-bucket.sh" "$b"
    done
}

if healthy; then
    echo "LocalStack S3 already healthy at http://$host:$port"
    create_buckets "$@"
    exit 0
fi

VENV="$("$HERE/install.sh")"
mkdir -p "$CACHE"

# Serialise concurrent start.sh calls so only one LocalStack is launched.
exec 8>"$CACHE/.localstack-start.lock"
flock 8
if healthy; then # another start.sh finished while we waited for the lock
    echo "LocalStack S3 already healthy at http://$host:$port"
    create_buckets "$@"
    exit 0
fi

pid=""
if [[ -f $PIDFILE ]]; then
    pid="$(cat "$PIDFILE")"
    if [[ -n $pid ]] && alive "$pid" && grep -qa 'localstack.runtime.main' "/proc/$pid/cmdline" 2>/dev/null; then
        echo "LocalStack (pid $pid) is already starting; waiting for it" >&2
    else
        pid="" # stale pid file
        rm -f "$PIDFILE"
    fi
fi

started=0
if [[ -z $pid ]] && ! healthy; then
    # LocalStack doesn't exit when it cannot bind: it logs CannotListenError,
    # prints "Ready." and lingers. Refuse early instead of timing out.
    if port_in_use; then
        echo "start.sh: $host:$port is in use by something that is not a healthy LocalStack" \
            "(see: ss -ltnp 'sport = :$port')" >&2
        exit 1
    fi
    # Python temp files go to the cache dir, wiped on start: a killed
    # LocalStack leaks them. (S3 object and part bytes go elsewhere: unlinked
    # temp files under /tmp/localstack-s3-storage, a path LocalStack fixes.)
    rm -rf "$CACHE/localstack-tmp"
    mkdir -p "$CACHE/localstack-tmp" "$CACHE/localstack-volume"
    [[ -f $LOG ]] && mv -f "$LOG" "$LOG.1"
    # setsid: own session/process group, so a Ctrl-C or a dying test harness
    # doesn't take it down and stop.sh can signal the whole group.
    # All three std streams are redirected (and the lock fd closed) so a caller
    # that captures start.sh's output is not kept waiting by LocalStack.
    # S3_SKIP_SIGNATURE_VALIDATION=0: LocalStack defaults to 1, which accepts
    # presigned URLs with bad signatures *and past their expiry*; 0 makes it
    # check them like AWS does.
    setsid env -u TMPDIR \
        SERVICES=s3 \
        GATEWAY_LISTEN="$LISTEN" \
        DNS_ADDRESS=0 \
        SKIP_SSL_CERT_DOWNLOAD=1 \
        DISABLE_EVENTS=1 \
        LOCALSTACK_VOLUME_DIR="$CACHE/localstack-volume" \
        S3_SKIP_SIGNATURE_VALIDATION="${S3_SKIP_SIGNATURE_VALIDATION:-0}" \
        TMP="$CACHE/localstack-tmp" \
        "$VENV/bin/python" -m localstack.runtime.main \
        </dev/null >"$LOG" 2>&1 8>&- &
    pid=$!
    disown "$pid" # no "Killed" job notice from this shell if it must be killed
    echo "$pid" >"$PIDFILE"
    started=1
fi

t0=$(date +%s%N)
deadline=$((SECONDS + TIMEOUT))
while ! healthy; do
    if [[ -n $pid ]] && ! alive "$pid"; then
        echo "LocalStack (pid $pid) exited during start-up. Last lines of $LOG:" >&2
        tail -n 40 "$LOG" >&2 || true
        rm -f "$PIDFILE"
        exit 1
    fi
    if grep -q 'CannotListenError' "$LOG" 2>/dev/null; then
        echo "LocalStack could not listen on $LISTEN. Last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2 || true
        # In this state it ignores SIGTERM: don't wait long before SIGKILL.
        if ((started)); then LOCALSTACK_STOP_TIMEOUT=1 "$HERE/stop.sh" >&2 || true; fi
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "LocalStack not healthy at $HEALTH_URL after ${TIMEOUT}s. Last lines of $LOG:" >&2
        tail -n 40 "$LOG" >&2 || true
        if ((started)); then "$HERE/stop.sh" >&2 || true; fi
        exit 1
    fi
    sleep 0.2
done
echo "LocalStack S3 ready at http://$host:$port (pid ${pid:-?}, waited $(( ($(date +%s%N) - t0) / 1000000 )) ms, log $LOG)"
create_buckets "$@"
