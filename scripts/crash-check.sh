#!/usr/bin/env bash
# Crash consistency: sign-ins, token grants (plain and PAR), SAML SSO and admin writes against
# `sigil serve`, while nodes are killed with SIGKILL at random moments (and, on PostgreSQL, the
# database is restarted once with an immediate shutdown, so its crash recovery runs). Then every
# response the client saw as committed must still be there, nothing may be half-written, one-time
# values must still be one-time, and every node must have come back by itself.
# The driver is scripts/crash_driver.py; see docs/operations.md ("Crash consistency").
#
# Usage: scripts/crash-check.sh
# Environment:
#   SIGIL_BIN                the binary (default .build/debug/sigil)
#   SIGIL_CRASH_BACKENDS     "sqlite postgres" (default both; PostgreSQL runs two nodes)
#   SIGIL_CRASH_DURATION     seconds of workload per backend (default 45)
#   SIGIL_CRASH_KILLS        SIGKILLs per backend (default 6)
#   SIGIL_CRASH_SEED         seed of the kill schedule and the workload mix (default: the clock;
#                            printed, so a failing run can be repeated)
#   SIGIL_CRASH_WORKERS      concurrent clients (default 4)
#   SIGIL_CRASH_PG_BIN       PostgreSQL server binaries (default: newest /usr/lib/postgresql/*/bin)
#   SIGIL_CRASH_KEEP=1       keep the work directory (node logs, databases)
# PostgreSQL: the script starts its own throwaway cluster (initdb; as the postgres user when run
# as root) on a free port with the default, durable settings (fsync on), because it must restart
# it; nothing else uses it. The default run takes about 3.5 minutes (the checks replay everything); a longer one:
#   SIGIL_CRASH_DURATION=420 SIGIL_CRASH_KILLS=42 bash scripts/crash-check.sh   (~30 minutes)
# Prints PASS/FAIL per check, a "crash numbers:" line per backend and "N passed, M failed";
# exits 1 on any failure, 2 on usage errors.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

require_sigil_bin crash
python3 -c 'import requests, cryptography' 2>/dev/null || { echo "crash: python3 with requests and cryptography is required" >&2; exit 2; }

BACKENDS=${SIGIL_CRASH_BACKENDS:-sqlite postgres}
DURATION=${SIGIL_CRASH_DURATION:-45}
KILLS=${SIGIL_CRASH_KILLS:-6}
SEED=${SIGIL_CRASH_SEED:-$(date +%s)}
WORKERS=${SIGIL_CRASH_WORKERS:-4}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-crash.XXXXXX")
chmod 755 "$WORK"
PG_STARTED=0
PG_DATA=""
PG_BIN=""

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

cleanup() {
    if [ "$PG_STARTED" = 1 ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    if [ "${SIGIL_CRASH_KEEP:-0}" = 1 ]; then
        echo "crash: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# run_driver BACKEND ARGS...: runs the driver, echoes its lines, and counts its PASS/FAIL lines
# into this script's totals (its own closing line is replaced by ours).
run_driver() {
    local backend=$1 out rc=0
    shift
    out=$WORK/$backend.out
    python3 "$SCRIPT_DIR/crash_driver.py" --backend "$backend" --sigil "$SIGIL_BIN" --duration "$DURATION" --kills "$KILLS" \
        --seed "$SEED" --workers "$WORKERS" --work "$WORK/$backend" "$@" >"$out" 2>"$WORK/$backend.err" || rc=$?
    grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$out"
    T_PASSED=$((T_PASSED + $(grep -c '^PASS ' "$out")))
    local failed
    failed=$(grep -c '^FAIL ' "$out")
    T_FAILED=$((T_FAILED + failed))
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        fail "$backend: driver exited $rc" "$(tail -n 5 "$WORK/$backend.err" | tr '\n' ' ')"
    fi
    if [ "$rc" -ne 0 ]; then
        echo "---- last lines of the driver's log ($backend) ----"
        tail -n 20 "$WORK/$backend.err"
    fi
}

start_postgres() {
    PG_BIN=${SIGIL_CRASH_PG_BIN:-}
    if [ -z "$PG_BIN" ]; then
        local dir
        for dir in $(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V -r); do
            if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then PG_BIN=$dir; break; fi
        done
    fi
    [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || { fail "postgres: server binaries found" "set SIGIL_CRASH_PG_BIN"; return 1; }
    PG_PORT=$(free_port)
    local pg_dir=$WORK/pg
    mkdir -p "$pg_dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$pg_dir"; fi
    PG_DATA=$pg_dir/data
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-locale >"$pg_dir/initdb.log" 2>&1 || {
        fail "postgres: initdb" "$(tail -n 3 "$pg_dir/initdb.log")"
        return 1
    }
    PG_STARTED=1
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$pg_dir/postgres.log" -w -t 60 \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $pg_dir -c max_connections=100" start >/dev/null || {
        fail "postgres: start" "$(tail -n 5 "$pg_dir/postgres.log" 2>/dev/null)"
        return 1
    }
    "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'CREATE DATABASE sigil_crash' >/dev/null || {
        fail "postgres: create database"
        return 1
    }
    PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/sigil_crash"
    # Immediate shutdown (no checkpoint: WAL replay on start), then start with the same options.
    if [ "$(id -u)" = 0 ]; then
        PG_RESTART="cd / && runuser -u postgres -- $PG_BIN/pg_ctl -D $PG_DATA -l $pg_dir/postgres.log -m immediate -w -t 60 restart"
    else
        PG_RESTART="$PG_BIN/pg_ctl -D $PG_DATA -l $pg_dir/postgres.log -m immediate -w -t 60 restart"
    fi
    return 0
}

section "crash consistency: seed $SEED, ${DURATION}s and $KILLS kills per backend ($BACKENDS)"
for backend in $BACKENDS; do
    case "$backend" in
    sqlite)
        section "SQLite: one node"
        run_driver sqlite
        ;;
    postgres)
        section "PostgreSQL: two nodes, one database restart"
        if start_postgres; then
            run_driver postgres --database-url "$PG_URL" --psql "$PG_BIN/psql" --pg-restart "$PG_RESTART"
        fi
        ;;
    *)
        echo "crash: unknown backend $backend" >&2
        exit 2
        ;;
    esac
done

section "crash summary"
grep -h '^crash numbers:' "$WORK"/*.out 2>/dev/null || true
summary
