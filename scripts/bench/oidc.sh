#!/usr/bin/env bash
# Token endpoint throughput (issue 4): client-credentials tokens per second with RS256 and with ES256
# clients, each as a ratio to raw signing of the same algorithm on one core measured in the same run
# (`sigil-bench signing`), then complete authorization-code flows per second in-process
# (`sigil-bench oidc-flow`, against two raw RS256 signatures per flow). Not part of CI.
#
#   scripts/bench/oidc.sh [--skip-build] [--duration SECONDS] [--postgres URL]
#   SIGIL_BIN / SIGIL_BENCH_BIN   binaries to use instead of building release
#   SIGIL_BENCH_LOG_LEVEL         the server's --log-level (default: none given, i.e. info, as users run it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DURATION=10
BUILD=1
PG_URL=""
while [ $# -gt 0 ]; do
    case "$1" in
        --skip-build) BUILD=0; shift ;;
        --duration) DURATION=$2; shift 2 ;;
        --postgres) PG_URL=$2; shift 2 ;;
        *) echo "usage: $0 [--skip-build] [--duration S] [--postgres URL]" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)" >&2; exit 2; }
if [ -z "${SIGIL_BIN:-}" ]; then
    [ "$BUILD" = 1 ] && swift build -c release --product sigil --product sigil-bench >&2
    SIGIL_BIN=.build/release/sigil
    SIGIL_BENCH_BIN=${SIGIL_BENCH_BIN:-.build/release/sigil-bench}
fi
SIGIL_BENCH_BIN=${SIGIL_BENCH_BIN:-$(dirname "$SIGIL_BIN")/sigil-bench}
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
# PostgreSQL: a fresh database for the run, dropped at exit.
DB_ARGS=()
DB_NAME=""
STORAGE=sqlite
if [ -n "$PG_URL" ]; then
    command -v psql >/dev/null || { echo "bench: --postgres needs psql" >&2; exit 2; }
    DB_NAME="sigil_bench_$$_$RANDOM"
    psql -q "$PG_URL" -c "CREATE DATABASE $DB_NAME" >/dev/null
    DB_ARGS=(--database-url "${PG_URL%/*}/$DB_NAME")
    STORAGE=postgresql
fi
LOG_ARGS=()
[ -n "${SIGIL_BENCH_LOG_LEVEL:-}" ] && LOG_ARGS=(--log-level "$SIGIL_BENCH_LOG_LEVEL")
SIGIL_RATE_LIMIT_SCALE=${SIGIL_RATE_LIMIT_SCALE:-100000} "$SIGIL_BIN" serve --port "$PORT" --data-dir "$WORK/data" "${DB_ARGS[@]}" "${LOG_ARGS[@]}" >"$WORK/out" 2>"$WORK/err" &
PID=$!
cleanup() {
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    [ -n "$DB_NAME" ] && psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fs "$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
TOKEN=$("$SIGIL_BIN" admin token create --data-dir "$WORK/data" "${DB_ARGS[@]}")

client() {  # client ALG -> "id secret"
    curl -fs -XPOST "$BASE/api/admin/v1/applications" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d "{\"name\":\"bench-$1\",\"protocol\":\"oidc\",\"redirect_uris\":[\"https://rp.example/cb\"],\"grant_types\":[\"client_credentials\"],\"token_endpoint_auth_method\":\"client_secret_post\",\"id_token_signed_response_alg\":\"$1\"}" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["oidc"]["client_id"], d["client_secret"])'
}

echo "Token endpoint benchmark: $(nproc) cores, wrk -t1 -c8 -d${DURATION}s, storage $STORAGE, log level ${SIGIL_BENCH_LOG_LEVEL:-info (default)}"
echo "RSS idle (KiB): $(rss)"
read -r RS_RAW_LINE < <("$SIGIL_BENCH_BIN" signing --seconds 3 | grep '^RS256 ')
read -r ES_RAW_LINE < <("$SIGIL_BENCH_BIN" signing --seconds 3 | grep '^ES256 ')
for ALG in RS256 ES256; do
    read -r CID SECRET < <(client "$ALG")
    BODY="grant_type=client_credentials&client_id=$CID&client_secret=$SECRET"
    curl -fs -XPOST "$BASE/oauth2/token" -d "$BODY" | python3 -c 'import json,sys,base64; t=json.load(sys.stdin)["access_token"]; h=json.loads(base64.urlsafe_b64decode(t.split(".")[0]+"==")); assert h["alg"]==sys.argv[1], h' "$ALG"
    cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$BODY"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
    wrk -t1 -c8 -d"${DURATION}s" --latency -s "$WORK/post.lua" "$BASE/oauth2/token" >"$WORK/wrk.txt"
    if grep -q "Non-2xx" "$WORK/wrk.txt"; then echo "bench: $ALG run had non-2xx responses:" >&2; cat "$WORK/wrk.txt" >&2; fi
    RATE=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
    P50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")
    P99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
    RAW=$([ "$ALG" = RS256 ] && echo "$RS_RAW_LINE" || echo "$ES_RAW_LINE")
    RAW=${RAW#* }
    GOAL=$([ "$ALG" = RS256 ] && echo 0.80 || echo 0.30)
    python3 -c "import sys; r,raw=float(sys.argv[1]),float(sys.argv[2]); print(f'  {sys.argv[3]}: {r:8.0f} tokens/s   raw signing {raw:8.0f} /s (1 core)   ratio {r/raw:.2f} (goal >= {sys.argv[4]})   p50 {sys.argv[5]}  p99 {sys.argv[6]}  RSS {sys.argv[7]} KiB')" "$RATE" "$RAW" "$ALG" "$GOAL" "$P50" "$P99" "$(rss)"
done
FLOW_ARGS=()
[ -n "$DB_NAME" ] && FLOW_ARGS=(--postgres "${PG_URL%/*}/$DB_NAME")
"$SIGIL_BENCH_BIN" oidc-flow --seconds "$DURATION" "${FLOW_ARGS[@]}"
