#!/usr/bin/env bash
# Build (or reuse) the Python venv that runs LocalStack's S3 natively: these
# machines and CI have no Docker engine. Idempotent and quiet on success; the
# only stdout is the venv path, so callers can do VENV="$(install.sh)".
#
# The venv is rebuilt from scratch when requirements.txt or constraints.txt
# change (a sha256 of both is kept in a stamp file inside the venv).
#
# Env: HAUL_CACHE (default ~/.cache/haul), HAUL_PYTHON (force an interpreter).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${HAUL_CACHE:-$HOME/.cache/haul}"
VENV="$CACHE/localstack-venv"
STAMP="$VENV/.haul-requirements.sha256"
REQ="$HERE/requirements.txt"
CON="$HERE/constraints.txt"
PIPLOG="$CACHE/localstack-install.log"

want="$(cat "$REQ" "$CON" | sha256sum | cut -d' ' -f1)"

# Usable = the interpreter still runs (pyenv versions can disappear) and
# LocalStack is importable.
venv_usable() { "$VENV/bin/python" -c 'import localstack' >/dev/null 2>&1; }
stamp_ok() { [[ -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; }

# Fast path, no lock: nothing to do.
if stamp_ok && venv_usable; then
    echo "$VENV"
    exit 0
fi

mkdir -p "$CACHE"
# Serialise concurrent installs (e.g. several test processes calling start.sh).
exec 9>"$CACHE/.localstack-install.lock"
flock 9
if stamp_ok && venv_usable; then # another process finished it meanwhile
    echo "$VENV"
    exit 0
fi

# LocalStack 2026.3.0 needs Python >= 3.12 (PEP 695 generics) with venv/ensurepip.
py_ok() {
    "$1" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 12) else 1)' \
        >/dev/null 2>&1
}

find_python() {
    local c root d
    local -a cands=()
    if [[ -n ${HAUL_PYTHON:-} ]]; then
        # An explicit choice must work; don't silently fall back to another one.
        py_ok "$HAUL_PYTHON" || { echo "HAUL_PYTHON=$HAUL_PYTHON is not a Python >= 3.12 with venv" >&2; return 1; }
        cands+=("$HAUL_PYTHON")
    fi
    for c in python3.13 python3.12; do
        if command -v "$c" >/dev/null 2>&1; then cands+=("$(command -v "$c")"); fi
    done
    root=""
    if command -v pyenv >/dev/null 2>&1; then root="$(pyenv root 2>/dev/null || true)"; fi
    [[ -n $root ]] || root="${PYENV_ROOT:-$HOME/.pyenv}"
    for c in 3.13 3.12; do
        while IFS= read -r d; do
            [[ -d $d ]] && cands+=("$d/bin/python3") # newest patch release first
        done < <(printf '%s\n' "$root/versions/$c".* | sort -rV)
    done
    for c in /usr/bin/python3.1[2-9] /usr/bin/python3; do
        [[ -x $c ]] && cands+=("$c")
    done
    for c in "${cands[@]}"; do
        # pyenv shims exist for versions that aren't selected; py_ok weeds them out.
        if py_ok "$c"; then
            # Resolve shims/symlinks so the venv points at the real interpreter.
            "$c" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    return 1
}

rebuild=0
if ! venv_usable; then
    rebuild=1
elif [[ -f $STAMP ]]; then
    rebuild=1 # pins changed: start clean so no stale package survives
fi
# (A usable venv without a stamp -- built by hand, or an interrupted install --
# is adopted: pip below makes it match the pins, usually without downloading.)

if ((rebuild)); then
    if ! PY="$(find_python)"; then
        cat >&2 <<EOF
install.sh: no Python >= 3.12 found (LocalStack 2026.3.0 needs it).
Looked for python3.13/python3.12 on PATH, pyenv's versions/3.13.* and 3.12.*,
and /usr/bin/python3.12+. Install one (e.g. 'pyenv install 3.13') or set
HAUL_PYTHON=/path/to/python3.13.
EOF
        exit 1
    fi
    echo "install.sh: building LocalStack venv in $VENV with $PY (takes a minute)..." >&2
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi

# Stamp is written only after a complete, consistent install.
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
        -c "$CON" -r "$REQ" >"$PIPLOG" 2>&1 \
    || ! "$VENV/bin/python" -m pip check >>"$PIPLOG" 2>&1; then
    echo "install.sh: pip failed; last lines of $PIPLOG:" >&2
    tail -n 30 "$PIPLOG" >&2
    exit 1
fi
echo "$want" >"$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"
echo "$VENV"
