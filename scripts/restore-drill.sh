#!/usr/bin/env bash
# Backup and restore drill, SQLite and PostgreSQL, master key included (docs/operations.md, Backups).
#
# For each backend: start `sigil serve`, create users, an OIDC client, a SAML service provider and
# an admin token, take a client-credentials token T1; then back up WHILE the node serves a stream
# of admin writes (SQLite: `sigil backup`, i.e. VACUUM INTO; PostgreSQL: `pg_dump -Fc`), copying the
# master key beside it; restore into a fresh data directory / a fresh database, start a node on
# the restored copy with the same master key, and check: the users, applications and admin token
# are there, T1 still verifies against the restored node's JWKS, the restored node issues a new
# token (so its private keys decrypt) that verifies too. Last, a restore started with the WRONG
# master key must refuse to start with a clear message (and never become ready).
#
# Usage: scripts/restore-drill.sh
# Environment:
#   SIGIL_BIN                   the binary (default .build/debug/sigil)
#   SIGIL_RESTORE_BACKENDS      "sqlite postgres" (default both)
#   SIGIL_RESTORE_POSTGRES_URL  a PostgreSQL server URL whose user may create databases; the
#                               drill uses databases sigil_restore_src and sigil_restore_dst
#                               (dropped and created). Default: SIGIL_TEST_POSTGRES_URL's server
#   SIGIL_RESTORE_KEEP=1        keep the work directory
# Needs curl, jq, python3 with joserfc (JWT checks), and pg_dump, pg_restore, psql for PostgreSQL.
# Prints PASS/FAIL per check and "N passed, M failed"; exits 1 on any failure, 2 on usage errors.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

require_sigil_bin restore
for tool in curl jq python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "restore: $tool is required" >&2; exit 2; }
done
python3 -c 'import joserfc' 2>/dev/null || { echo "restore: python3 joserfc is required" >&2; exit 2; }
BACKENDS=${SIGIL_RESTORE_BACKENDS:-sqlite postgres}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-restore.XXXXXX")
HTTP_BODY_FILE=$WORK/body
PIDS=()
LOAD_PID=""
cleanup() {
    local pid
    [ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    if [ "${SIGIL_RESTORE_KEEP:-0}" = 1 ]; then echo "restore: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

unset SIGIL_DATABASE_URL SIGIL_HOST SIGIL_PORT SIGIL_DATA_DIR SIGIL_PUBLIC_URL SIGIL_LOG_LEVEL SIGIL_MASTER_KEY
export SIGIL_RATE_LIMIT_SCALE=100

# has_apps CLIENT_ID FILE: FILE (an application list) holds the drill's OIDC client and SAML SP.
has_apps() {
    jq -e --arg c "$1" '[.items[] | select(.oidc.client_id == $c or .saml.entity_id == "https://sp.example/drill")] | length == 2' "$2" >/dev/null
}

# refused_exit STATUS: a failure exit that is not timeout(1)'s.
refused_exit() { [ "$1" != 0 ] && [ "$1" != 124 ]; }

new_key() { python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'; }

# start_node NAME DATA_DIR [DATABASE_URL]: starts serve, sets NODE_PID and NODE_URL; 0 when ready.
NODE_PID=""
NODE_URL=""
start_node() {
    local name=$1 dir=$2 db=${3:-} port
    port=$(free_port)
    NODE_URL="http://127.0.0.1:$port"
    local args=(serve --host 127.0.0.1 --port "$port" --data-dir "$dir")
    [ -n "$db" ] && args+=(--database-url "$db")
    "$SIGIL_BIN" "${args[@]}" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" </dev/null &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    wait_http_200 "$NODE_URL/readyz" 120 "$NODE_PID"
}

# sigil_cli DATA_DIR DATABASE_URL ARGS...
sigil_cli() {
    local dir=$1 db=$2
    shift 2
    if [ -n "$db" ]; then
        "$SIGIL_BIN" "$@" --data-dir "$dir" --database-url "$db"
    else
        "$SIGIL_BIN" "$@" --data-dir "$dir"
    fi
}

# cc_token BASE CLIENT_ID SECRET: prints a client-credentials access token (empty on failure).
cc_token() {
    curl -s --max-time 15 -u "$2:$3" -d grant_type=client_credentials "$1/oauth2/token" | jq -r '.access_token // empty'
}

# verifies TOKEN BASE: the token's signature verifies against BASE's JWKS (joserfc).
verifies() {
    python3 - "$1" "$2" <<'PY'
import sys, requests
from joserfc import jwt
from joserfc.jwk import KeySet
token, base = sys.argv[1], sys.argv[2]
keys = KeySet.import_key_set(requests.get(base + "/oauth2/jwks", timeout=10).json())
try:
    jwt.decode(token, keys, algorithms=["RS256", "ES256", "EdDSA"])
except Exception as error:
    print(f"does not verify: {error}", file=sys.stderr)
    sys.exit(1)
PY
}

# load BASE TOKEN STOPFILE: admin writes until STOPFILE exists, so the backup runs under load.
load() {
    local base=$1 token=$2 stop=$3 i=0
    while [ ! -e "$stop" ]; do
        i=$((i + 1))
        curl -s -o /dev/null --max-time 10 -X POST "$base/api/admin/v1/users" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -d "{\"email\":\"load-$i@example.com\",\"given_name\":\"Load\",\"family_name\":\"N$i\"}"
    done
}

# drill BACKEND: the whole drill for one backend.
drill() {
    local backend=$1 src_db="" dst_db="" key=""
    local live=$WORK/$backend/live backup=$WORK/$backend/backup restored=$WORK/$backend/restored wrong=$WORK/$backend/wrong
    mkdir -p "$backup" && chmod 700 "$backup"
    if [ "$backend" = postgres ]; then
        src_db=$PG_SRC
        dst_db=$PG_DST
        key=$(new_key)
        export SIGIL_MASTER_KEY=$key
    else
        unset SIGIL_MASTER_KEY # the node creates master.key in its data directory
    fi

    section "$backend: a node with data"
    if start_node "$backend-live" "$live" "$src_db"; then pass "$backend: live node ready"; else fail "$backend: live node ready"; return; fi
    local live_url=$NODE_URL live_pid=$NODE_PID
    local admin
    admin=$(sigil_cli "$live" "$src_db" admin token create --name drill 2>"$WORK/cli.err" | tail -n 1)
    local users=() i
    for i in 1 2 3 4 5; do
        http POST "$live_url/api/admin/v1/users" "{\"email\":\"drill-$i@example.com\",\"given_name\":\"Drill\",\"family_name\":\"N$i\"}" \
            -H "Authorization: Bearer $admin"
        [ "$HTTP_STATUS" = 201 ] && users+=("$(jq -r .id "$HTTP_BODY_FILE")")
    done
    check "$backend: 5 users created through the admin API" [ "${#users[@]}" = 5 ]
    local reg client_id secret
    reg=$(sigil_cli "$live" "$src_db" app create-oidc --tenant default --name drill-rp --redirect-uri https://rp.example/cb \
        --grant-type client_credentials --json 2>>"$WORK/cli.err")
    client_id=$(jq -r .client_id <<<"$reg")
    secret=$(jq -r .client_secret <<<"$reg")
    sigil_cli "$live" "$src_db" app create-saml --tenant default --entity-id https://sp.example/drill \
        --acs-url https://sp.example/acs --json >/dev/null 2>>"$WORK/cli.err"
    local t1
    t1=$(cc_token "$live_url" "$client_id" "$secret")
    check "$backend: token T1 issued before the backup" [ -n "$t1" ]
    check "$backend: T1 verifies against the live JWKS" verifies "$t1" "$live_url"

    section "$backend: backup while the node serves writes"
    local stop=$WORK/$backend.stop
    load "$live_url" "$admin" "$stop" &
    LOAD_PID=$!
    sleep 1
    if [ "$backend" = sqlite ]; then
        if sigil_cli "$live" "" backup --to "$backup/sigil.sqlite" --json >"$WORK/backup.json" 2>"$WORK/backup.err"; then
            pass "$backend: sigil backup wrote a copy while serving ($(jq -r .bytes "$WORK/backup.json") bytes)"
        else
            fail "$backend: sigil backup wrote a copy while serving" "$(cat "$WORK/backup.err")"
        fi
        cp -p "$live/master.key" "$backup/master.key"
        check "$backend: sigil backup refuses to overwrite a file" \
            bash -c '! "$0" backup --to "$1" --data-dir "$2" 2>/dev/null' "$SIGIL_BIN" "$backup/sigil.sqlite" "$live"
        local fingerprint
        fingerprint=$(jq -r .master_key_fingerprint "$WORK/backup.json")
        check "$backend: the backup names the master key it needs (fingerprint)" test "${fingerprint:-null}" != null
    else
        if pg_dump -Fc --no-owner -d "$src_db" -f "$backup/sigil.dump" 2>"$WORK/backup.err"; then
            pass "$backend: pg_dump -Fc while serving"
        else
            fail "$backend: pg_dump -Fc while serving" "$(cat "$WORK/backup.err")"
        fi
        (umask 077 && printf '%s\n' "$key" >"$backup/master.key")
    fi
    sleep 1
    touch "$stop"
    wait "$LOAD_PID" 2>/dev/null
    LOAD_PID=""
    local loaded
    loaded=$(curl -s "$live_url/api/admin/v1/users?limit=200" -H "Authorization: Bearer $admin" | jq '[.items[] | select(.email | startswith("load-"))] | length')
    check "$backend: writes went on during the backup ($loaded users written by the load)" [ "${loaded:-0}" -gt 0 ]
    if [ "$backend" = sqlite ]; then
        check "$backend: the copy passes integrity_check on its own (no -wal beside it)" python3 - "$backup/sigil.sqlite" <<'PY'
import os, sqlite3, sys
path = sys.argv[1]
con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
ok = con.execute("PRAGMA integrity_check").fetchall() == [("ok",)] and not os.path.exists(path + "-wal")
sys.exit(0 if ok else 1)
PY
    else
        check "$backend: pg_restore --list reads the dump" bash -c 'pg_restore --list "$0" >/dev/null' "$backup/sigil.dump"
    fi

    section "$backend: restore into a fresh location"
    if [ "$backend" = sqlite ]; then
        mkdir -p "$restored" && chmod 700 "$restored"
        cp "$backup/sigil.sqlite" "$restored/sigil.sqlite"
        cp -p "$backup/master.key" "$restored/master.key"
    else
        if pg_restore --no-owner --exit-on-error -d "$dst_db" "$backup/sigil.dump" 2>"$WORK/restore.err"; then
            pass "$backend: pg_restore into a fresh database"
        else
            fail "$backend: pg_restore into a fresh database" "$(tail -n 3 "$WORK/restore.err")"
        fi
        SIGIL_MASTER_KEY=$(cat "$backup/master.key")
        export SIGIL_MASTER_KEY
    fi
    if start_node "$backend-restored" "$restored" "$dst_db"; then
        pass "$backend: a node starts on the restored copy with the same master key"
    else
        fail "$backend: a node starts on the restored copy with the same master key" "$(tail -n 3 "$WORK/$backend-restored.stderr")"
        return
    fi
    local url=$NODE_URL missing=0 u
    for u in "${users[@]}"; do
        http GET "$url/api/admin/v1/users/$u" "" -H "Authorization: Bearer $admin"
        [ "$HTTP_STATUS" = 200 ] || missing=$((missing + 1))
    done
    check "$backend: the users are there, read with the restored admin token ($missing missing)" [ "$missing" = 0 ]
    http GET "$url/api/admin/v1/applications?limit=200" "" -H "Authorization: Bearer $admin"
    check "$backend: the OIDC client and the SAML service provider are there" has_apps "$client_id" "$HTTP_BODY_FILE"
    check "$backend: T1 (signed before the backup) verifies against the restored JWKS" verifies "$t1" "$url"
    local t2
    t2=$(cc_token "$url" "$client_id" "$secret")
    check "$backend: the restored node issues a new token with the same client secret" [ -n "$t2" ]
    check "$backend: the new token verifies against the restored JWKS" verifies "$t2" "$url"
    http GET "$url/saml/certificate.pem"
    expect_status "$backend: SAML signing certificate served from the restored keys" 200
    http POST "$url/api/admin/v1/keys/rotate" "" -H "Authorization: Bearer $admin"
    expect_status "$backend: keys rotate on the restored node" 200
    stop_process "$NODE_PID" 30
    stop_process "$live_pid" 30

    section "$backend: restore with the WRONG master key"
    local bad_key
    bad_key=$(new_key)
    if [ "$backend" = sqlite ]; then
        mkdir -p "$wrong" && chmod 700 "$wrong"
        cp "$backup/sigil.sqlite" "$wrong/sigil.sqlite"
        (umask 077 && printf '%s\n' "$bad_key" >"$wrong/master.key")
        unset SIGIL_MASTER_KEY
    else
        export SIGIL_MASTER_KEY=$bad_key
    fi
    local port rc=0
    port=$(free_port)
    local args=(serve --host 127.0.0.1 --port "$port" --data-dir "$wrong")
    [ -n "$dst_db" ] && args+=(--database-url "$dst_db")
    timeout 60 "$SIGIL_BIN" "${args[@]}" >"$WORK/$backend-wrong.stdout" 2>"$WORK/$backend-wrong.stderr" </dev/null || rc=$?
    check "$backend: serve refuses to start with the wrong master key (exit $rc)" refused_exit "$rc"
    if grep -q "does not open the signing keys" "$WORK/$backend-wrong.stderr"; then
        pass "$backend: ... and says why: $(head -c 160 "$WORK/$backend-wrong.stderr")"
    else
        fail "$backend: ... and says why" "stderr: $(head -c 300 "$WORK/$backend-wrong.stderr")"
    fi
    unset SIGIL_MASTER_KEY
}

for backend in $BACKENDS; do
    case "$backend" in
    sqlite) drill sqlite ;;
    postgres)
        SERVER_URL=${SIGIL_RESTORE_POSTGRES_URL:-${SIGIL_TEST_POSTGRES_URL:-}}
        if [ -z "$SERVER_URL" ]; then
            fail "postgres: a server to use" "set SIGIL_RESTORE_POSTGRES_URL or SIGIL_TEST_POSTGRES_URL (or SIGIL_RESTORE_BACKENDS=sqlite)"
            continue
        fi
        for tool in pg_dump pg_restore psql; do
            command -v "$tool" >/dev/null 2>&1 || { echo "restore: $tool is required for PostgreSQL" >&2; exit 2; }
        done
        read -r PG_ADMIN PG_SRC PG_DST < <(python3 - "$SERVER_URL" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(*(urlunsplit((u.scheme, u.netloc, "/" + d, u.query, "")) for d in ("postgres", "sigil_restore_src", "sigil_restore_dst")))
PY
)
        if psql -X -q -v ON_ERROR_STOP=1 "$PG_ADMIN" -c 'DROP DATABASE IF EXISTS sigil_restore_src' -c 'DROP DATABASE IF EXISTS sigil_restore_dst' \
            -c 'CREATE DATABASE sigil_restore_src' -c 'CREATE DATABASE sigil_restore_dst' >/dev/null 2>"$WORK/psql.err"; then
            drill postgres
        else
            fail "postgres: create the drill's databases" "$(cat "$WORK/psql.err")"
        fi
        ;;
    *) echo "restore: unknown backend $backend" >&2; exit 2 ;;
    esac
done

section "restore drill summary"
summary
