#!/usr/bin/env bash
# Stop the LocalStack started by start.sh (found via its pid file) and wait
# until it has exited, so a following start.sh can bind the port again.
# Tests use stop.sh/start.sh to simulate an S3 outage.
#
# Env: HAUL_CACHE (default ~/.cache/haul), LOCALSTACK_STOP_TIMEOUT (s, default 10).
set -euo pipefail

CACHE="${HAUL_CACHE:-$HOME/.cache/haul}"
PIDFILE="$CACHE/localstack.pid"
TIMEOUT="${LOCALSTACK_STOP_TIMEOUT:-10}"

alive() { # pid exists and is not a zombie
    local st
    st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
    [[ $st != Z* ]]
}

if [[ ! -f $PIDFILE ]]; then
    echo "LocalStack not running (no pid file $PIDFILE)"
    exit 0
fi
pid="$(cat "$PIDFILE")"
# Only signal what start.sh started: the pid may have been reused since.
if [[ -z $pid ]] || ! alive "$pid" || ! grep -qa 'localstack.runtime.main' "/proc/$pid/cmdline" 2>/dev/null; then
    echo "LocalStack not running (stale pid file removed)"
    rm -f "$PIDFILE"
    exit 0
fi

# start.sh runs it under setsid, so it leads its own process group: signal the
# group to catch any helper processes too.
sig_group() {
    if [[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" == "$pid" ]]; then
        kill "-$1" -- "-$pid" 2>/dev/null || true
    else
        kill "-$1" "$pid" 2>/dev/null || true
    fi
}

# SIGTERM normally ends it in ~1.5 s; a LocalStack that failed to bind its
# port ignores it, hence the SIGKILL fallback.
sig_group TERM
deadline=$((SECONDS + TIMEOUT))
while alive "$pid"; do
    if ((SECONDS >= deadline)); then
        echo "LocalStack (pid $pid) ignored SIGTERM for ${TIMEOUT}s; sending SIGKILL" >&2
        sig_group KILL
        sleep 0.5
        break
    fi
    sleep 0.1
done
rm -f "$PIDFILE"
echo "LocalStack (pid $pid) stopped"
