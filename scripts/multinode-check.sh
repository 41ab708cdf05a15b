#!/usr/bin/env bash
# Two `sigil serve` nodes on one PostgreSQL database.
#
# Usage: scripts/multinode-check.sh
# Environment:
#   SIGIL_MULTINODE_POSTGRES_URL  the database both nodes share, e.g.
#                                 postgres://postgres@127.0.0.1:54329/sigil_multinode
#   SIGIL_TEST_POSTGRES_URL       used when the above is unset: same server,
#                                 database name replaced by sigil_multinode
#   SIGIL_MULTINODE_RESET=1       drop and recreate schema "public" first (needs
#                                 psql; destroys everything in that database)
#   SIGIL_MASTER_KEY              shared master key (base64, 32 bytes); default: a
#                                 new random one, so the database should be fresh
#   SIGIL_BIN                     the binary (default .build/debug/sigil)
#   SIGIL_MULTINODE_PORTS         "PORT_A PORT_B" (default "18081 18082"; free
#                                 ports are picked when those are taken)
#   SIGIL_MULTINODE_KEY_WAIT      seconds to wait for a rotation to show (default 30)
#
# Both nodes start at the same moment (so they race on migrations and on
# bootstrapping tenant "default"). Prints PASS/FAIL per check and a closing
# "N passed, M failed" line; exits 1 if any check failed, 2 on usage errors.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

for tool in curl jq python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "multinode: $tool is required" >&2
        exit 2
    fi
done

SIGIL_BIN=${SIGIL_BIN:-$REPO_ROOT/.build/debug/sigil}
case "$SIGIL_BIN" in /*) ;; *) SIGIL_BIN="$PWD/$SIGIL_BIN" ;; esac
if [ ! -x "$SIGIL_BIN" ]; then
    echo "multinode: no executable at $SIGIL_BIN (build first or set SIGIL_BIN)" >&2
    exit 2
fi

DB_URL=${SIGIL_MULTINODE_POSTGRES_URL:-}
if [ -z "$DB_URL" ]; then
    if [ -z "${SIGIL_TEST_POSTGRES_URL:-}" ]; then
        echo "multinode: set SIGIL_MULTINODE_POSTGRES_URL or SIGIL_TEST_POSTGRES_URL" >&2
        exit 2
    fi
    # Replace the path (database name) and keep any ?query.
    DB_URL=$(python3 - "$SIGIL_TEST_POSTGRES_URL" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(urlunsplit((u.scheme, u.netloc, "/sigil_multinode", u.query, u.fragment)))
PY
)
fi
# Host part only, for messages: never print a password.
DB_SHOWN=$(python3 - "$DB_URL" <<'PY'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
print(f"{u.scheme}://{u.hostname}:{u.port or 5432}{u.path}")
PY
)

if [ "${SIGIL_MULTINODE_RESET:-0}" = "1" ]; then
    if ! command -v psql >/dev/null 2>&1; then
        echo "multinode: SIGIL_MULTINODE_RESET=1 needs psql" >&2
        exit 2
    fi
    # psql does not take the postgres:// scheme's sslmode default the same way
    # everywhere; the URL is passed as is.
    if ! psql "$DB_URL" -v ON_ERROR_STOP=1 -q -c 'DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;' >/dev/null; then
        echo "multinode: could not reset $DB_SHOWN" >&2
        exit 2
    fi
fi

unset SIGIL_DATABASE_URL SIGIL_HOST SIGIL_PORT SIGIL_DATA_DIR SIGIL_PUBLIC_URL SIGIL_LOG_LEVEL
if [ -z "${SIGIL_MASTER_KEY:-}" ]; then
    SIGIL_MASTER_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
fi
export SIGIL_MASTER_KEY

read -r PORT_A PORT_B <<<"${SIGIL_MULTINODE_PORTS:-18081 18082}"
port_is_free "$PORT_A" || PORT_A=$(free_port)
port_is_free "$PORT_B" || PORT_B=$(free_port)
while [ "$PORT_B" = "$PORT_A" ]; do PORT_B=$(free_port); done
A="http://127.0.0.1:$PORT_A"
B="http://127.0.0.1:$PORT_B"
KEY_WAIT=${SIGIL_MULTINODE_KEY_WAIT:-30}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-multinode.XXXXXX")
HTTP_BODY_FILE=$WORK/body
PID_A=""
PID_B=""

cleanup() {
    local rc=$?
    local pid
    for pid in $PID_A $PID_B; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    sleep 0.5
    for pid in $PID_A $PID_B; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "$T_FAILED" -gt 0 ] || [ "$rc" -ne 0 ]; then
        for f in "$WORK"/node-*.stdout "$WORK"/node-*.stderr; do
            if [ -s "$f" ]; then
                echo "---- last 25 lines of $(basename "$f") ----"
                tail -n 25 "$f"
            fi
        done
    fi
    if [ "${SIGIL_MULTINODE_KEEP:-0}" = "1" ]; then
        echo "multinode: kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

sigil() {
    "$SIGIL_BIN" "$@" --database-url "$DB_URL" --data-dir "$WORK/cli-data" 2>"$WORK/cli.stderr"
}
cli_err() {
    head -c 400 "$WORK/cli.stderr" | tr '\n' ' '
}

start_node() { # NAME PORT
    "$SIGIL_BIN" serve --host 127.0.0.1 --port "$2" --data-dir "$WORK/data-$1" \
        --database-url "$DB_URL" --public-url "http://127.0.0.1:$2" \
        >"$WORK/node-$1.stdout" 2>"$WORK/node-$1.stderr" </dev/null &
}

section "multinode: two nodes on $DB_SHOWN (A $A, B $B)"
start_node a "$PORT_A"
PID_A=$!
start_node b "$PORT_B"
PID_B=$!

ready_a=0
ready_b=0
wait_http_200 "$A/readyz" 120 "$PID_A" && ready_a=1
wait_http_200 "$B/readyz" 120 "$PID_B" && ready_b=1
if [ "$ready_a" = 1 ]; then pass "node A ready (/readyz 200)"; else fail "node A ready (/readyz 200)"; fi
if [ "$ready_b" = 1 ]; then pass "node B ready (/readyz 200)"; else fail "node B ready (/readyz 200)"; fi
if [ "$ready_a" != 1 ] || [ "$ready_b" != 1 ]; then
    summary
    exit 1
fi

# canonical_jwks URL OUT: JWKS with keys sorted by kid and members sorted.
canonical_jwks() {
    curl -sS --max-time 15 "$1" | jq -S '.keys |= sort_by(.kid)' >"$2" 2>/dev/null
}

section "JWKS on both nodes"
if python3 "$SCRIPT_DIR/check_jwks.py" "$A/oauth2/jwks" --out "$WORK/kids-a.json"; then
    pass "node A JWKS passes the joserfc checks"
else
    fail "node A JWKS passes the joserfc checks"
fi
canonical_jwks "$A/oauth2/jwks" "$WORK/jwks-a.json"
canonical_jwks "$B/oauth2/jwks" "$WORK/jwks-b.json"
if [ -s "$WORK/jwks-a.json" ] && cmp -s "$WORK/jwks-a.json" "$WORK/jwks-b.json"; then
    pass "both nodes serve identical JWKS"
else
    fail "both nodes serve identical JWKS" "A: $(jq -c '[.keys[].kid]' "$WORK/jwks-a.json" 2>/dev/null) B: $(jq -c '[.keys[].kid]' "$WORK/jwks-b.json" 2>/dev/null)"
fi
# tenant_count_default: how many tenants in tenant list --json are "default".
n_default=""
if sigil tenant list --json >"$WORK/tenants.json"; then
    json_stdout "tenant list --json --database-url: stdout is one JSON document" "$WORK/tenants.json"
    n_default=$(jq '[(if type == "array" then .[] else (.tenants // .items // .data // [])[] end)
        | select(type == "object" and (.name == "default" or .slug == "default"))] | length' "$WORK/tenants.json" 2>/dev/null)
fi
if [ "$n_default" = "1" ]; then
    pass "exactly one tenant default after the concurrent start"
else
    fail "exactly one tenant default after the concurrent start" "count '$n_default': $(head -c 300 "$WORK/tenants.json") $(cli_err)"
fi

section "admin API across nodes"
raw=$(sigil admin token create) || raw=""
single_token "sigil admin token create --database-url prints only the token" "$raw"
TOKEN=$TOKEN_VALUE
AUTH=(-H "Authorization: Bearer $TOKEN")
EMAIL="multinode.$RANDOM$RANDOM@example.com"
http POST "$A/api/admin/v1/users" "{\"email\":\"$EMAIL\",\"given_name\":\"Multi\",\"family_name\":\"Node\"}" "${AUTH[@]}"
USER_ID=""
if expect_status "POST user on node A 201" 201; then
    USER_ID=$(jq -r '.id // empty' "$HTTP_BODY_FILE" 2>/dev/null)
fi
if [ -n "$USER_ID" ]; then
    http GET "$B/api/admin/v1/users/$USER_ID" "" "${AUTH[@]}"
    if expect_status "GET the user on node B 200" 200; then
        if jq -e --arg e "$EMAIL" '(.email | ascii_downcase) == $e' "$HTTP_BODY_FILE" >/dev/null 2>&1; then
            pass "node B returns the user node A created"
        else
            fail "node B returns the user node A created" "$(head -c 300 "$HTTP_BODY_FILE")"
        fi
    fi
else
    fail "GET the user on node B 200" "no user id from node A"
fi
http GET "$B/api/admin/v1/users" "" "${AUTH[@]}"
if [ "$HTTP_STATUS" = "200" ] && grep -qiF "$EMAIL" "$HTTP_BODY_FILE"; then
    pass "node B's user list has the user"
else
    fail "node B's user list has the user" "HTTP $HTTP_STATUS"
fi
http POST "$B/api/admin/v1/users" "{\"email\":\"$EMAIL\",\"given_name\":\"Multi\",\"family_name\":\"Node\"}" "${AUTH[@]}"
expect_problem "same email on node B -> 409 problem+json" 409

section "key rotation seen by both nodes"
BEFORE=$(jq -r '.keys[].kid' "$WORK/jwks-a.json" 2>/dev/null | sort)
if sigil keys rotate --tenant default >"$WORK/rotate.out"; then
    pass "sigil keys rotate --database-url"
else
    fail "sigil keys rotate --database-url" "$(cli_err)"
fi
new_on() { # URL -> prints kids not in $BEFORE
    curl -sS --max-time 15 "$1" | jq -r '.keys[].kid' 2>/dev/null | sort | comm -13 <(printf '%s\n' "$BEFORE") - | sed '/^$/d'
}
NEW_A=""
NEW_B=""
deadline=$((SECONDS + KEY_WAIT))
while :; do
    NEW_A=$(new_on "$A/oauth2/jwks")
    NEW_B=$(new_on "$B/oauth2/jwks")
    if { [ -n "$NEW_A" ] && [ -n "$NEW_B" ]; } || [ "$SECONDS" -ge "$deadline" ]; then
        break
    fi
    sleep 1
done
if [ -n "$NEW_A" ]; then pass "node A publishes the new kid"; else fail "node A publishes the new kid" "none after ${KEY_WAIT}s"; fi
if [ -n "$NEW_B" ]; then pass "node B publishes the new kid"; else fail "node B publishes the new kid" "none after ${KEY_WAIT}s"; fi
canonical_jwks "$A/oauth2/jwks" "$WORK/jwks-a2.json"
canonical_jwks "$B/oauth2/jwks" "$WORK/jwks-b2.json"
if [ -s "$WORK/jwks-a2.json" ] && cmp -s "$WORK/jwks-a2.json" "$WORK/jwks-b2.json"; then
    pass "both nodes serve identical JWKS after rotation"
else
    fail "both nodes serve identical JWKS after rotation"
fi

section "audit chain: both nodes and the CLI writing at once"
# Admin API writes on both nodes and CLI processes, all at the same moment, append to the default
# tenant's audit chain; it must come out as one unbroken line (docs/audit.md).
CHAIN_PIDS=()
for i in 1 2 3 4 5 6 7 8; do
    node=$A
    if [ $((i % 2)) -eq 0 ]; then node=$B; fi
    curl -s -o /dev/null -w '%{http_code}\n' -X POST "$node/api/admin/v1/users" "${AUTH[@]}" -H 'Content-Type: application/json' \
        -d "{\"email\":\"chain.api.$i.$RANDOM@example.com\",\"given_name\":\"Chain\",\"family_name\":\"Api\"}" \
        >"$WORK/chain-api-$i.status" 2>/dev/null &
    CHAIN_PIDS+=($!)
    "$SIGIL_BIN" user create --tenant default --email "chain.cli.$i.$RANDOM@example.com" --given-name Chain --family-name Cli \
        --database-url "$DB_URL" --data-dir "$WORK/cli-data" >/dev/null 2>"$WORK/chain-cli-$i.err" &
    CHAIN_PIDS+=($!)
done
chain_failed=0
for pid in "${CHAIN_PIDS[@]}"; do wait "$pid" || chain_failed=$((chain_failed + 1)); done
api_created=$(grep -c '^201$' "$WORK"/chain-api-*.status 2>/dev/null | awk -F: '{s += $NF} END {print s + 0}')
if [ "$chain_failed" -eq 0 ] && [ "$api_created" -eq 8 ]; then
    pass "16 concurrent audited writes (8 admin API on two nodes, 8 CLI processes) all succeed"
else
    fail "16 concurrent audited writes all succeed" "$chain_failed processes failed, $api_created/8 API 201s; $(cat "$WORK"/chain-cli-*.err | head -c 300)"
fi
if sigil audit checkpoint >/dev/null && verify_out=$(sigil audit verify --json); then
    if echo "$verify_out" | jq -e '.intact == true and ([.chains[].events] | add) >= 16' >/dev/null; then
        pass "sigil audit verify: every chain intact after concurrent writers"
    else
        fail "sigil audit verify: every chain intact after concurrent writers" "$(echo "$verify_out" | head -c 400)"
    fi
else
    fail "sigil audit verify: every chain intact after concurrent writers" "exit status: $(cli_err) $(echo "${verify_out:-}" | head -c 300)"
fi

section "shutdown"
stop_process "$PID_A" 30
status_a=$STOP_STATUS
stop_process "$PID_B" 30
status_b=$STOP_STATUS
PID_A=""
PID_B=""
if [ "$status_a" = "0" ]; then pass "node A exits 0 on SIGTERM"; else fail "node A exits 0 on SIGTERM" "status $status_a"; fi
if [ "$status_b" = "0" ]; then pass "node B exits 0 on SIGTERM"; else fail "node B exits 0 on SIGTERM" "status $status_b"; fi
if [ -n "$TOKEN" ] && grep -qF -- "$TOKEN" "$WORK"/node-*.stdout; then
    fail "node logs have no admin token"
else
    pass "node logs have no admin token"
fi
if grep -qF -- "$SIGIL_MASTER_KEY" "$WORK"/node-*.stdout "$WORK"/node-*.stderr; then
    fail "node output has no master key"
else
    pass "node output has no master key"
fi

section "multinode summary"
summary
