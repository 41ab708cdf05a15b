#!/usr/bin/env bash
# Authorization-code flows over HTTP (issue 17, item 1): wrk against a release `sigil serve` at the
# default log level, on SQLite or (with --postgres URL) on a fresh PostgreSQL database.
#
#   scripts/bench/flows.sh [--duration SECONDS] [--postgres URL]
#
# Scenarios, each `wrk -t1 -c8 -d${DURATION}s --latency` on 127.0.0.1:
#   /healthz    the HTTP floor
#   PAR push    POST /oauth2/par with client_secret_post and a valid request (expects 201)
#   code flow   PAR -> GET /oauth2/authorize with a signed-in session (303 with a code) ->
#               POST /oauth2/token (200 with an id_token), chained by scripts/bench/flows_code.lua
# The session comes from the sigil-authenticator CLI: it enrols as the first administrator's phone
# and approves a QR sign-in (scripts/bench/flows_session.py), all over HTTP, no browser.
#
# Environment:
#   SIGIL_BIN                the server (default .build/release/sigil); never built here
#   SIGIL_AUTHENTICATOR_BIN  the CLI authenticator (default: sigil-authenticator beside SIGIL_BIN)
# --postgres URL: a server where that user may create databases (e.g.
#   postgres://postgres@127.0.0.1:5432/postgres); a fresh database is created for the run and
#   dropped at exit. Needs psql.
# Prints a table and a last `BENCH {json}` line; see scripts/bench/README.md. Not part of CI.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

DURATION=10
CONNECTIONS=8
PG_URL=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        --duration) DURATION=${2:-}; shift ;;
        --postgres) PG_URL=${2:-}; shift ;;
        -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "usage: $0 [--duration SECONDS] [--postgres URL]" >&2; exit 2 ;;
    esac
    shift
done
case "$DURATION" in '' | *[!0-9]* | 0) echo "--duration takes whole seconds (1-120)" >&2; exit 2 ;; esac
if [ "$DURATION" -gt 120 ]; then
    echo "--duration is capped at 120 s" >&2
    exit 2
fi
case "$PG_URL" in '' | postgres://* | postgresql://*) ;; *) echo "--postgres takes a postgres:// URL" >&2; exit 2 ;; esac

for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is required" >&2; exit 2; }
done
if [ -n "$PG_URL" ] && ! command -v psql >/dev/null 2>&1; then
    echo "bench: --postgres needs psql (apt-get install postgresql-client)" >&2
    exit 2
fi
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench: wrk is missing and this is not root; apt-get install wrk" >&2
        exit 2
    fi
    echo "bench: installing wrk with apt" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
fi

cd "$REPO_ROOT"
SIGIL_BIN=${SIGIL_BIN:-$REPO_ROOT/.build/release/sigil}
case "$SIGIL_BIN" in /*) ;; *) SIGIL_BIN="$PWD/$SIGIL_BIN" ;; esac
SIGIL_AUTHENTICATOR_BIN=${SIGIL_AUTHENTICATOR_BIN:-$(dirname "$SIGIL_BIN")/sigil-authenticator}
case "$SIGIL_AUTHENTICATOR_BIN" in /*) ;; *) SIGIL_AUTHENTICATOR_BIN="$PWD/$SIGIL_AUTHENTICATOR_BIN" ;; esac
[ -x "$SIGIL_BIN" ] || { echo "bench: no executable at $SIGIL_BIN (swift build -c release --product sigil, or set SIGIL_BIN)" >&2; exit 2; }
[ -x "$SIGIL_AUTHENTICATOR_BIN" ] || {
    echo "bench: no executable at $SIGIL_AUTHENTICATOR_BIN (swift build -c release --product sigil-authenticator, or set SIGIL_AUTHENTICATOR_BIN)" >&2
    exit 2
}

unset SIGIL_DATABASE_URL SIGIL_MASTER_KEY SIGIL_HOST SIGIL_PORT SIGIL_DATA_DIR SIGIL_PUBLIC_URL SIGIL_LOG_LEVEL
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-flows.XXXXXX")
PID=""
WRK_PID=""
PG_DB=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$WRK_PID" ]; then
        kill -TERM "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
    fi
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        stop_process "$PID" 15
        [ "$STOP_STATUS" = 0 ] || echo "bench: sigil serve exited with $STOP_STATUS on SIGTERM" >&2
    fi
    PID=""
    if [ -n "$PG_DB" ]; then
        psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            psql "$PG_URL" -X -q -c "DROP DATABASE IF EXISTS \"$PG_DB\"" >/dev/null 2>&1 ||
            echo "bench: could not drop database $PG_DB" >&2
        PG_DB=""
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

loadavg() { cut -d' ' -f1 /proc/loadavg; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo null; }
LOAD_BEFORE=$(loadavg)
CORES=$(nproc)

# --- the database -------------------------------------------------------------------------------
DB_ARGS=()
BACKEND=sqlite
GOAL=500
if [ -n "$PG_URL" ]; then
    BACKEND=postgresql
    GOAL=300
    PG_DB="sigil_bench_flows_$$_$RANDOM"
    psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DB\"" >/dev/null || {
        PG_DB=""
        echo "bench: could not create a database through $PG_URL" >&2
        exit 1
    }
    SERVER_DB_URL=$(python3 - "$PG_URL" "$PG_DB" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + sys.argv[2], u.query, u.fragment)))
PY
)
    DB_ARGS=(--database-url "$SERVER_DB_URL")
fi

# --- the server ---------------------------------------------------------------------------------
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
SIGIL_RATE_LIMIT_SCALE=${SIGIL_RATE_LIMIT_SCALE:-100000} "$SIGIL_BIN" serve --port "$PORT" --data-dir "$WORK/data" \
    --public-url "$BASE" "${DB_ARGS[@]}" >"$WORK/server.stdout" 2>"$WORK/server.stderr" </dev/null &
PID=$!
if ! wait_http_200 "$BASE/readyz" 90 "$PID"; then
    echo "bench: sigil serve did not become ready" >&2
    tail -n 20 "$WORK/server.stderr" "$WORK/server.stdout" >&2 || true
    exit 1
fi
ENROL_LINK=""
for _ in $(seq 1 100); do
    ENROL_LINK=$(grep -o "$BASE/enroll/[^[:space:]]*" "$WORK/server.stderr" | head -n 1 || true)
    [ -n "$ENROL_LINK" ] && break
    sleep 0.1
done
[ -n "$ENROL_LINK" ] || { echo "bench: sigil serve printed no first-administrator link" >&2; tail -n 20 "$WORK/server.stderr" >&2; exit 1; }
RSS_IDLE=$(rss_kib "$PID")

echo "Authorization-code flows over HTTP: $BACKEND, $CORES cores, load average $LOAD_BEFORE, wrk -t1 -c$CONNECTIONS -d${DURATION}s"
echo "  server $SIGIL_BIN (pid $PID, default log level) at $BASE"
echo "  issue 17 goals: code flows >= 500/s on SQLite and >= 300/s on PostgreSQL"
if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1.5 else 1)' "$LOAD_BEFORE"; then :; else
    echo "bench: load average $LOAD_BEFORE (>= 1.5): something else is running; these figures check the script, do not record them" >&2
fi

# --- an application and a signed-in session ----------------------------------------------------
ADMIN_TOKEN=$("$SIGIL_BIN" admin token create --data-dir "$WORK/data" "${DB_ARGS[@]}")
REDIRECT_URI="http://127.0.0.1:9/cb"
APP_JSON=$(curl -fsS -X POST "$BASE/api/admin/v1/applications" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench-flows\",\"protocol\":\"oidc\",\"redirect_uris\":[\"$REDIRECT_URI\"],\"grant_types\":[\"authorization_code\"],\"token_endpoint_auth_method\":\"client_secret_post\",\"require_pkce\":true,\"consent\":\"implicit\",\"id_token_signed_response_alg\":\"RS256\"}") || {
    echo "bench: could not register the application through the admin API" >&2
    exit 1
}
read -r CLIENT_ID CLIENT_SECRET < <(printf '%s' "$APP_JSON" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["oidc"]["client_id"], d["client_secret"])') || true
if [ -z "$CLIENT_ID" ] || [ -z "$CLIENT_SECRET" ]; then
    echo "bench: the admin API answered no client id and secret: $APP_JSON" >&2
    exit 1
fi

COOKIE=$(python3 "$SCRIPT_DIR/flows_session.py" --base "$BASE" --enrol-link "$ENROL_LINK" \
    --authenticator "$SIGIL_AUTHENTICATOR_BIN" --home "$WORK/phone") || {
    echo "bench: could not get a signed-in session with sigil-authenticator (above)" >&2
    exit 1
}
echo "  client $CLIENT_ID (client_secret_post, PKCE S256, consent implicit, RS256); session cookie ${COOKIE%%=*}"

# PKCE pairs for the flows (SHA-256 is not at hand in wrk's Lua): base64url(32 random bytes) and
# base64url(SHA-256(verifier)), RFC 7636 S256.
mapfile -t PKCE < <(python3 - <<'PY'
import base64, hashlib, os
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
for _ in range(64):
    v = b64(os.urandom(32))
    print(f"{v}:{b64(hashlib.sha256(v.encode()).digest())}")
PY
)

# --- one flow with curl, to fail clearly before measuring ----------------------------------------
flow_error() {
    echo "bench: the authorization-code flow does not work over HTTP: $*" >&2
    tail -n 5 "$WORK/server.stdout" >&2 || true
    exit 1
}
VERIFIER=${PKCE[0]%%:*}
CHALLENGE=${PKCE[0]#*:}
status=$(curl -sS -o "$WORK/par.json" -w '%{http_code}' -X POST "$BASE/oauth2/par" \
    --data-urlencode "response_type=code" --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET" \
    --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "scope=openid" --data-urlencode "code_challenge=$CHALLENGE" \
    --data-urlencode "code_challenge_method=S256" --data-urlencode "state=check" --data-urlencode "nonce=check-nonce")
[ "$status" = 201 ] || flow_error "PAR answered $status: $(head -c 300 "$WORK/par.json")"
REQUEST_URI=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["request_uri"])' "$WORK/par.json") ||
    flow_error "PAR answer without request_uri: $(head -c 300 "$WORK/par.json")"
read -r AUTHZ_STATUS LOCATION < <(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}\n' -G -H "Cookie: $COOKIE" \
    --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "request_uri=$REQUEST_URI" "$BASE/oauth2/authorize")
case "$AUTHZ_STATUS" in 302 | 303) ;; *) flow_error "GET /oauth2/authorize answered $AUTHZ_STATUS (Location: ${LOCATION:-none})" ;; esac
CODE=$(python3 - "$LOCATION" "$REDIRECT_URI" <<'PY'
import sys, urllib.parse
location, redirect = sys.argv[1], sys.argv[2]
u = urllib.parse.urlsplit(location)
q = urllib.parse.parse_qs(u.query)
ok = location.startswith(redirect + "?") and q.get("state") == ["check"] and len(q.get("code", [])) == 1
print(q["code"][0] if ok else "")
PY
)
case "$LOCATION" in
    "$BASE"/login*) flow_error "/oauth2/authorize sent the browser to sign in: the session cookie was not accepted ($LOCATION)" ;;
esac
[ -n "$CODE" ] || flow_error "the authorization response is not a code for $REDIRECT_URI with state=check: $LOCATION"
status=$(curl -sS -o "$WORK/token.json" -w '%{http_code}' -X POST "$BASE/oauth2/token" \
    --data-urlencode "grant_type=authorization_code" --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$REDIRECT_URI" \
    --data-urlencode "code_verifier=$VERIFIER" --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET")
[ "$status" = 200 ] || flow_error "the token endpoint answered $status: $(head -c 300 "$WORK/token.json")"
python3 - "$WORK/token.json" "$CLIENT_ID" <<'PY' || flow_error "the token response is not what a client expects: $(head -c 300 "$WORK/token.json")"
import base64, json, sys
t = json.load(open(sys.argv[1]))
part = lambda s, i: json.loads(base64.urlsafe_b64decode(s.split(".")[i] + "=" * (-len(s.split(".")[i]) % 4)))
assert t.get("access_token") and t.get("token_type", "").lower() == "bearer", t
header, claims = part(t["id_token"], 0), part(t["id_token"], 1)
assert header["alg"] == "RS256", header
assert claims["aud"] in (sys.argv[2], [sys.argv[2]]) and claims["nonce"] == "check-nonce", claims
PY
echo "  checked one flow with curl: PAR 201, authorize $AUTHZ_STATUS with a code, token 200 with an RS256 id_token"

# --- the scenarios ------------------------------------------------------------------------------
# run_wrk NAME [wrk arguments...]: runs wrk, keeps its output in $WORK/NAME.txt, echoes it indented
# on stderr, and sets RPS, P50, P99 (ms), NON2XX (wrk's count of statuses >= 400) and SOCKET_ERRORS.
run_wrk() {
    local name=$1
    shift
    # In the background and waited for, so that Ctrl-C runs the trap at once (bash would otherwise
    # wait for wrk, which stops on SIGINT and exits 0, and then carry on).
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" >"$WORK/$name.txt" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || true
    WRK_PID=""
    sed 's/^/    /' "$WORK/$name.txt" >&2
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "bench: sigil serve exited during the $name run" >&2
        tail -n 20 "$WORK/server.stderr" >&2 || true
        exit 1
    fi
    read -r RPS P50 P99 NON2XX SOCKET_ERRORS < <(awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            return "null"
        }
        /^Requests\/sec:/ { rps = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { gsub(",", ""); socket = $4 + $6 + $8 + $10 }
        END { printf "%s %s %s %d %d\n", (rps == "" ? "null" : rps), (p50 == "" ? "null" : p50), (p99 == "" ? "null" : p99), non2xx, socket }
    ' "$WORK/$name.txt")
}

DISCARDED=()
# discard NAME REASON: the scenario's figures are not meaningful.
discard() {
    echo "bench: $1: $2; its figures are discarded" >&2
    DISCARDED+=("$1")
}

for _ in 1 2 3 4 5; do curl -s -o /dev/null "$BASE/healthz" || true; done

echo "/healthz:" >&2
run_wrk healthz "$BASE/healthz"
HZ_RPS=$RPS HZ_P50=$P50 HZ_P99=$P99 HZ_BAD=$NON2XX
[ "$HZ_BAD" -eq 0 ] || discard healthz "$HZ_BAD non-2xx responses"
[ "$SOCKET_ERRORS" -eq 0 ] || discard healthz "$SOCKET_ERRORS socket errors (timeouts or resets)"
[ "$HZ_RPS" != null ] || discard healthz "no figure from wrk"
RSS_HEALTHZ=$(rss_kib "$PID")

echo "PAR push:" >&2
PAR_BODY="response_type=code&client_id=$CLIENT_ID&client_secret=$CLIENT_SECRET&redirect_uri=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$REDIRECT_URI")&scope=openid&code_challenge=$CHALLENGE&code_challenge_method=S256&state=bench&nonce=bench"
run_wrk par -s "$SCRIPT_DIR/flows_par.lua" "$BASE" -- /oauth2/par 201 "$PAR_BODY"
PAR_RPS=$RPS PAR_P50=$P50 PAR_P99=$P99
PAR_LINE=$(grep '^STATUS ' "$WORK/par.txt" || true)
PAR_BAD=$(printf '%s\n' "$PAR_LINE" | sed -n 's/.*unexpected=\([0-9]*\).*/\1/p')
PAR_BAD=${PAR_BAD:-null}
if [ "$PAR_BAD" = null ]; then
    discard par "no STATUS line from flows_par.lua"
elif [ "$PAR_BAD" -ne 0 ]; then
    discard par "$PAR_BAD responses other than 201 (first: $(printf '%s' "$PAR_LINE" | sed 's/.*first=//'))"
fi
[ "$PAR_RPS" != null ] || discard par "no figure from wrk"
[ "$SOCKET_ERRORS" -eq 0 ] || discard par "$SOCKET_ERRORS socket errors (timeouts or resets)"
RSS_PAR=$(rss_kib "$PID")

echo "code flows (PAR, authorize, token):" >&2
run_wrk flows -s "$SCRIPT_DIR/flows_code.lua" "$BASE" -- "$CLIENT_ID" "$CLIENT_SECRET" "$REDIRECT_URI" "$COOKIE" "${PKCE[@]}"
FLOW_RPS=$RPS FLOW_P50=$P50 FLOW_P99=$P99 FLOW_SOCKET_ERRORS=$SOCKET_ERRORS
FLOW_LINE=$(grep '^FLOWS ' "$WORK/flows.txt" || true)
field() { printf '%s\n' "$FLOW_LINE" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
FLOWS_DONE=$(field completed)
FLOWS_RATE=$(field rate)
FLOWS_BAD=$(field unexpected)
if [ -z "$FLOW_LINE" ] || [ -z "$FLOWS_BAD" ]; then
    discard flows "no FLOWS line from flows_code.lua"
    FLOWS_DONE=null FLOWS_RATE=null FLOWS_BAD=null
elif [ "$FLOWS_BAD" -ne 0 ]; then
    discard flows "$FLOWS_BAD unexpected responses (first: $(printf '%s' "$FLOW_LINE" | sed 's/.*first=//'))"
elif [ "$FLOWS_DONE" -eq 0 ]; then
    discard flows "no flow completed"
fi
[ "$FLOW_SOCKET_ERRORS" -eq 0 ] || discard flows "$FLOW_SOCKET_ERRORS socket errors (timeouts or resets)"
RSS_FLOWS=$(rss_kib "$PID")
LOAD_AFTER=$(loadavg)

# --- results ------------------------------------------------------------------------------------
kept() { # kept NAME VALUE: VALUE, or null when NAME was discarded
    local d
    for d in "${DISCARDED[@]+"${DISCARDED[@]}"}"; do [ "$d" = "$1" ] && { echo null; return; }; done
    echo "$2"
}
HZ_RPS=$(kept healthz "$HZ_RPS") HZ_P50=$(kept healthz "$HZ_P50") HZ_P99=$(kept healthz "$HZ_P99")
PAR_RPS=$(kept par "$PAR_RPS") PAR_P50=$(kept par "$PAR_P50") PAR_P99=$(kept par "$PAR_P99")
FLOW_RPS=$(kept flows "$FLOW_RPS") FLOW_P50=$(kept flows "$FLOW_P50") FLOW_P99=$(kept flows "$FLOW_P99")
FLOWS_RATE=$(kept flows "$FLOWS_RATE")
VERDICT=$(python3 -c '
import sys
rate, goal = sys.argv[1], float(sys.argv[2])
print("no figure" if rate == "null" else ("met" if float(rate) >= goal else "not met"))' "$FLOWS_RATE" "$GOAL")

echo
printf '%-34s %10s %9s %9s %11s %14s\n' "scenario ($BACKEND)" "req/s" "p50 ms" "p99 ms" "unexpected" "RSS after KiB"
printf '%-34s %10s %9s %9s %11s %14s\n' "/healthz" "$HZ_RPS" "$HZ_P50" "$HZ_P99" "$HZ_BAD" "$RSS_HEALTHZ"
printf '%-34s %10s %9s %9s %11s %14s\n' "PAR push (201)" "$PAR_RPS" "$PAR_P50" "$PAR_P99" "$PAR_BAD" "$RSS_PAR"
printf '%-34s %10s %9s %9s %11s %14s\n' "code flow requests (3 per flow)" "$FLOW_RPS" "$FLOW_P50" "$FLOW_P99" "$FLOWS_BAD" "$RSS_FLOWS"
printf '%-34s %10s\n' "complete code flows/s" "$FLOWS_RATE"
printf '%-34s %10s\n' "flows completed" "$FLOWS_DONE"
printf '%-34s %10s\n' "RSS idle (KiB)" "$RSS_IDLE"
printf '%-34s %s\n' "goal (issue 17)" ">= $GOAL flows/s on $BACKEND: $VERDICT"
printf '%-34s %s\n' "load average (1 min)" "$LOAD_BEFORE before, $LOAD_AFTER after, $CORES cores"
printf 'BENCH {"bench": "flows", "backend": "%s", "cores": %s, "load_avg_before": %s, "load_avg_after": %s, "duration_s": %s, "connections": %s, "healthz_rps": %s, "healthz_p50_ms": %s, "healthz_p99_ms": %s, "par_rps": %s, "par_p50_ms": %s, "par_p99_ms": %s, "flow_requests_rps": %s, "flow_p50_ms": %s, "flow_p99_ms": %s, "flows_per_s": %s, "flows_completed": %s, "flows_goal": %s, "goal": "%s", "rss_idle_kib": %s, "rss_after_healthz_kib": %s, "rss_after_par_kib": %s, "rss_after_flows_kib": %s, "discarded": [%s]}\n' \
    "$BACKEND" "$CORES" "$LOAD_BEFORE" "$LOAD_AFTER" "$DURATION" "$CONNECTIONS" \
    "$HZ_RPS" "$HZ_P50" "$HZ_P99" "$PAR_RPS" "$PAR_P50" "$PAR_P99" "$FLOW_RPS" "$FLOW_P50" "$FLOW_P99" \
    "$FLOWS_RATE" "${FLOWS_DONE:-null}" "$GOAL" "$VERDICT" "$RSS_IDLE" "$RSS_HEALTHZ" "$RSS_PAR" "$RSS_FLOWS" \
    "$(printf '"%s",' "${DISCARDED[@]+"${DISCARDED[@]}"}" | sed 's/,$//; s/^""$//')"
[ "${#DISCARDED[@]}" -eq 0 ]
