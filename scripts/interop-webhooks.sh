#!/usr/bin/env bash
# Runs the outbound-webhooks interop suite: interop/webhooks.py drives a real `sigil serve` and receives its
# messages with interop/webhook_receiver.py, which verifies every one with the Standard Webhooks reference
# library from PyPI (`standardwebhooks`, installed into /opt/peers-venv by scripts/install-interop.sh).
# Endpoints through the admin API (secrets shown once, refusals, 404s), message shape, subscriptions, "*",
# disabled endpoints, tampering, retries with backoff (500, 503, closed connection), replay, secret rotation with
# and without overlap, the delivery log, tenant isolation, and no secret in any log or answer: one node on SQLite,
# about 65 s. With PostgreSQL, also two nodes on one database: node A is SIGKILLed while the receiver holds its
# delivery, node B sends it again after the lease, and after dedup by webhook-id every event arrived exactly once;
# then both nodes live, no event sent twice; about 35 s more. The driver's docstring lists every check.
#
# Usage: scripts/interop-webhooks.sh
# Environment:
#   SIGIL_BIN                      the binary (default .build/debug/sigil)
#   SIGIL_TEST_POSTGRES_URL        a PostgreSQL server whose user may create databases (CI:
#                                  postgres://postgres@127.0.0.1:54329/postgres); database sigil_webhooks on it
#                                  is dropped and created afresh for the two-node part, and dropped at the end.
#                                  Unset: the two-node part is skipped (a SKIP line), the rest runs on SQLite.
#   SIGIL_WEBHOOKS_POSTGRES_URL    the same, taking precedence over SIGIL_TEST_POSTGRES_URL
#   SIGIL_WEBHOOKS_KEEP=1          keep the work directory (server logs, data) and the database
# Needs /opt/peers-venv with requests and standardwebhooks (scripts/install-interop.sh), and psql for PostgreSQL.
# Prints PASS/FAIL/SKIP lines and "N passed, M failed"; exits 1 on any failure, 2 on usage errors.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
require_sigil_bin interop-webhooks.sh

PY=/opt/peers-venv/bin/python
if [ ! -x "$PY" ] || ! "$PY" -c 'import requests, standardwebhooks' 2>/dev/null; then
    echo "interop-webhooks.sh: $PY with requests and standardwebhooks is required (run scripts/install-interop.sh)" >&2
    exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-webhooks.XXXXXX")
PG_ADMIN_URL=""
DB_NAME=sigil_webhooks

# The driver stops the servers it starts; if it dies before it can (SIGKILL, a crash), the pids it wrote to
# $WORK/pids are stopped here, each only if it is still our sigil binary.
SIGIL_REAL=$(readlink -f "$SIGIL_BIN")
cleanup() {
    local pid
    if [ -f "$WORK/pids" ]; then
        while read -r pid; do
            [ -n "$pid" ] || continue
            if [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$SIGIL_REAL" ]; then
                kill -TERM "$pid" 2>/dev/null || true
                sleep 1
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$WORK/pids"
    fi
    if [ -n "$PG_ADMIN_URL" ] && [ "${SIGIL_WEBHOOKS_KEEP:-0}" != "1" ]; then
        psql -X -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null 2>&1 || true
    fi
    if [ "${SIGIL_WEBHOOKS_KEEP:-0}" = "1" ]; then
        echo "interop-webhooks.sh: kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

DRIVER_ARGS=(--sigil "$SIGIL_BIN" --work "$WORK")
SERVER_URL=${SIGIL_WEBHOOKS_POSTGRES_URL:-${SIGIL_TEST_POSTGRES_URL:-}}
if [ -n "$SERVER_URL" ]; then
    # Same server and credentials; database "postgres" to create ours, ours for the nodes (keeping any ?query).
    read -r PG_ADMIN_URL DB_URL < <(python3 - "$SERVER_URL" "$DB_NAME" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(*(urlunsplit((u.scheme, u.netloc, "/" + d, u.query, "")) for d in ("postgres", sys.argv[2])))
PY
)
    if ! command -v psql >/dev/null 2>&1; then
        fail "postgres: psql is needed to create a fresh database"
        PG_ADMIN_URL=""
    elif psql -X -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME" \
        >/dev/null 2>"$WORK/psql.err"; then
        DRIVER_ARGS+=(--postgres-url "$DB_URL")
    else
        fail "postgres: create a fresh database $DB_NAME" "$(head -c 400 "$WORK/psql.err")"
        PG_ADMIN_URL=""
    fi
else
    echo "NOTE: SIGIL_TEST_POSTGRES_URL is not set: SQLite only; the two-node part (PostgreSQL) is skipped"
fi

run_python_suite interop/webhooks.py "${DRIVER_ARGS[@]}"
summary
