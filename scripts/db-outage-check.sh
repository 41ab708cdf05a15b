#!/usr/bin/env bash
# What `sigil serve` does when PostgreSQL goes away and comes back.
#
# Usage: scripts/db-outage-check.sh
# Environment:
#   SIGIL_OUTAGE_POSTGRES_URL  database to use; default: SIGIL_TEST_POSTGRES_URL's
#                              server with database sigil_outage (created with
#                              psql when missing)
#   SIGIL_BIN                  the binary (default .build/debug/sigil)
#
# The server reaches PostgreSQL through scripts/tcp_proxy.py on 127.0.0.1;
# stopping the proxy cuts it off (open connections are aborted), starting it
# again on the same port restores it. The contract checked:
#   /healthz 200 and /metrics 200 without the database, promptly (5 s);
#   /readyz 503 without the database, promptly (10 s);
#   /readyz 200 again within 30 s once the database is back;
#   SIGTERM exits 0, also while the database is unreachable.
# Prints PASS/FAIL per check and "N passed, M failed"; exits 1 on any failure.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

require_sigil_bin outage

DB_URL=${SIGIL_OUTAGE_POSTGRES_URL:-}
if [ -z "$DB_URL" ]; then
    [ -n "${SIGIL_TEST_POSTGRES_URL:-}" ] || { echo "outage: set SIGIL_OUTAGE_POSTGRES_URL or SIGIL_TEST_POSTGRES_URL" >&2; exit 2; }
    read -r DB_URL ADMIN_URL < <(python3 - "$SIGIL_TEST_POSTGRES_URL" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(urlunsplit((u.scheme, u.netloc, "/sigil_outage", u.query, "")),
      urlunsplit((u.scheme, u.netloc, "/postgres", u.query, "")))
PY
)
    if command -v psql >/dev/null 2>&1; then
        if [ "$(psql -X -At "$ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = 'sigil_outage'" 2>/dev/null)" != "1" ]; then
            psql -X -q "$ADMIN_URL" -c 'CREATE DATABASE sigil_outage' >/dev/null || { echo "outage: cannot create sigil_outage" >&2; exit 2; }
        else
            psql -X -q "$DB_URL" -c 'DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;' >/dev/null 2>&1 || true
        fi
    fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-outage.XXXXXX")
HTTP_BODY_FILE=$WORK/body
SERVE_PID=""
PROXY_PID=""
cleanup() {
    local pid
    for pid in $SERVE_PID $PROXY_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.5
    for pid in $SERVE_PID $PROXY_PID; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "$T_FAILED" -gt 0 ]; then
        echo "---- last 15 lines of serve.stdout ----"
        tail -n 15 "$WORK/serve.stdout" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Target host/port and the same URL pointed at the proxy.
PROXY_PORT=$(free_port)
read -r TARGET_HOST TARGET_PORT PROXIED_URL < <(python3 - "$DB_URL" "$PROXY_PORT" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
userinfo = u.netloc.rsplit("@", 1)[0] + "@" if "@" in u.netloc else ""
print(u.hostname, u.port or 5432, urlunsplit((u.scheme, f"{userinfo}127.0.0.1:{sys.argv[2]}", u.path, u.query, u.fragment)))
PY
)

start_proxy() {
    python3 "$SCRIPT_DIR/tcp_proxy.py" "$PROXY_PORT" "$TARGET_HOST" "$TARGET_PORT" >>"$WORK/proxy.log" 2>&1 &
    PROXY_PID=$!
    local _
    for _ in $(seq 1 50); do
        port_is_free "$PROXY_PORT" || return 0
        sleep 0.1
    done
    return 1
}
stop_proxy() {
    stop_process "$PROXY_PID" 10
    PROXY_PID=""
}

# timed GET: sets HTTP_STATUS ("000" on time-out) within LIMIT seconds.
timed_get() { # URL LIMIT
    HTTP_STATUS=$(curl -s -o "$HTTP_BODY_FILE" -m "$2" -w '%{http_code}' "$1" 2>/dev/null) || true
    [ -n "$HTTP_STATUS" ] || HTTP_STATUS=000
}

export SIGIL_MASTER_KEY
SIGIL_MASTER_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
unset SIGIL_DATABASE_URL SIGIL_HOST SIGIL_PORT SIGIL_DATA_DIR SIGIL_PUBLIC_URL SIGIL_LOG_LEVEL
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"

section "outage: serve on $BASE, PostgreSQL through 127.0.0.1:$PROXY_PORT"
start_proxy || { echo "outage: proxy did not start" >&2; cat "$WORK/proxy.log" >&2; exit 2; }
"$SIGIL_BIN" serve --host 127.0.0.1 --port "$PORT" --data-dir "$WORK/data" --database-url "$PROXIED_URL" \
    >"$WORK/serve.stdout" 2>"$WORK/serve.stderr" </dev/null &
SERVE_PID=$!
if wait_http_200 "$BASE/readyz" 120 "$SERVE_PID"; then
    pass "ready with the database"
else
    fail "ready with the database"
    summary
    exit 1
fi

section "database cut off"
stop_proxy
sleep 1
timed_get "$BASE/healthz" 5
if [ "$HTTP_STATUS" = "200" ]; then pass "/healthz 200 within 5 s without the database"; else fail "/healthz 200 within 5 s without the database" "got $HTTP_STATUS"; fi
timed_get "$BASE/metrics" 5
if [ "$HTTP_STATUS" = "200" ]; then pass "/metrics 200 within 5 s without the database"; else fail "/metrics 200 within 5 s without the database" "got $HTTP_STATUS"; fi
timed_get "$BASE/readyz" 10
if [ "$HTTP_STATUS" = "503" ]; then pass "/readyz 503 within 10 s without the database"; else fail "/readyz 503 within 10 s without the database" "got $HTTP_STATUS"; fi

section "database back"
start_proxy || fail "proxy restarts"
if wait_http_200 "$BASE/readyz" 30 "$SERVE_PID"; then
    pass "/readyz 200 again within 30 s"
else
    fail "/readyz 200 again within 30 s"
fi
timed_get "$BASE/oauth2/jwks" 10
if [ "$HTTP_STATUS" = "200" ]; then pass "JWKS 200 after recovery"; else fail "JWKS 200 after recovery" "got $HTTP_STATUS"; fi

section "shutdown while the database is unreachable"
stop_proxy
timed_get "$BASE/readyz" 10   # let it notice
stop_process "$SERVE_PID" 30
SERVE_PID=""
if [ "$STOP_STATUS" = "0" ]; then pass "SIGTERM exits 0 without the database"; else fail "SIGTERM exits 0 without the database" "status $STOP_STATUS"; fi

section "outage summary"
summary
