#!/usr/bin/env bash
# Foundation benchmark: start-up time, idle memory, and throughput of
# /healthz (baseline), OIDC discovery and /oauth2/jwks on the release build,
# then /healthz again on a second server at the default log level (info: one
# access-log line per request) against the first at warning. Ratios are taken
# against /healthz of the same run. Not part of CI.
#
# Usage: scripts/bench/foundation.sh [--skip-build] [--duration SECONDS] [--connections N]
# Environment:
#   SIGIL_BIN   a binary to measure instead of building .build/release/sigil
#               (implies --skip-build)
#   SIGIL_BENCH_LOG_LEVEL  log level of the first server (default warning)
# See scripts/bench/README.md for how to read the output.
#
# Load goes to 127.0.0.1 only, with wrk bounded by -t1 and -d (default 10 s).

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

SKIP_BUILD=0
DURATION=10
CONNECTIONS=16
while [ "$#" -gt 0 ]; do
    case "$1" in
        --skip-build) SKIP_BUILD=1 ;;
        --duration) DURATION=$2; shift ;;
        --connections) CONNECTIONS=$2; shift ;;
        -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
case "$DURATION" in '' | *[!0-9]*) echo "--duration takes whole seconds" >&2; exit 2 ;; esac
if [ "$DURATION" -gt 120 ]; then
    echo "--duration is capped at 120 s" >&2
    exit 2
fi

for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is required" >&2; exit 2; }
done
if ! command -v wrk >/dev/null 2>&1; then
    echo "bench: installing wrk with apt" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench: wrk is missing and this is not root; apt-get install wrk" >&2
        exit 2
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
fi

cd "$REPO_ROOT"
if [ -n "${SIGIL_BIN:-}" ]; then
    SKIP_BUILD=1
    case "$SIGIL_BIN" in /*) ;; *) SIGIL_BIN="$PWD/$SIGIL_BIN" ;; esac
else
    SIGIL_BIN=$REPO_ROOT/.build/release/sigil
fi
if [ "$SKIP_BUILD" -eq 0 ]; then
    section "swift build -c release"
    swift build -c release
    SIGIL_BIN="$(swift build -c release --show-bin-path)/sigil"
fi
[ -x "$SIGIL_BIN" ] || { echo "bench: no executable at $SIGIL_BIN" >&2; exit 2; }

unset SIGIL_DATABASE_URL SIGIL_MASTER_KEY SIGIL_HOST SIGIL_PORT SIGIL_DATA_DIR SIGIL_PUBLIC_URL SIGIL_LOG_LEVEL
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-bench.XXXXXX")
PID=""
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        sleep 1
        kill -KILL "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"

# rss_kib PID: VmRSS in KiB from /proc.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# wrk_rps PATH: requests/s reported by wrk.
wrk_rps() {
    local out
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$BASE$1")
    printf '%s\n' "$out" >"$WORK/wrk$(echo "$1" | tr '/' '_').txt"
    printf '%s\n' "$out" | sed 's/^/    /' >&2
    local non2xx
    non2xx=$(printf '%s\n' "$out" | awk '/Non-2xx or 3xx responses:/ { print $NF }')
    if [ -n "$non2xx" ]; then
        echo "bench: $1 had $non2xx non-2xx responses; its figure is not meaningful" >&2
    fi
    printf '%s\n' "$out" | awk '/^Requests\/sec:/ { print $2 }'
}

# start_server LEVEL: starts sigil serve on $PORT over $WORK/data with --log-level LEVEL (or
# the default level when LEVEL is "default"), sets PID, returns once /readyz says 200.
start_server() {
    local level_args=()
    [ "$1" = default ] || level_args=(--log-level "$1")
    SIGIL_RATE_LIMIT_SCALE=${SIGIL_RATE_LIMIT_SCALE:-100000} "$SIGIL_BIN" serve --host 127.0.0.1 --port "$PORT" --data-dir "$WORK/data" \
        --public-url "$BASE" "${level_args[@]}" >>"$WORK/stdout" 2>>"$WORK/stderr" </dev/null &
    PID=$!
    local ready=0
    for _ in $(seq 1 6000); do   # at most ~60 s
        if ! kill -0 "$PID" 2>/dev/null; then
            break
        fi
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/readyz" 2>/dev/null)" = "200" ]; then
            ready=1
            break
        fi
        sleep 0.01
    done
    if [ "$ready" -ne 1 ]; then
        echo "bench: server did not become ready" >&2
        tail -n 20 "$WORK/stdout" "$WORK/stderr" >&2 || true
        exit 1
    fi
}

# ratio A B: A / B with three decimals, or null.
ratio() {
    python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f"{a / b:.3f}" if a > 0 and b > 0 else "null")' "${1:-0}" "${2:-0}"
}

DISCOVERY=/.well-known/openid-configuration

section "start-up: process start to /readyz 200"
# Quiet logs first: request logging at info would measure the logger, not the server (the second
# server below measures exactly that).
FIRST_LEVEL=${SIGIL_BENCH_LOG_LEVEL:-warning}
start_ns=$(date +%s%N)
start_server "$FIRST_LEVEL"
end_ns=$(date +%s%N)
STARTUP_MS=$(( (end_ns - start_ns) / 1000000 ))
echo "startup_ms=$STARTUP_MS (fresh data dir: includes creating the database, migrations, tenant default and its keys)"

section "idle memory"
sleep 2
RSS_IDLE_KIB=$(rss_kib "$PID")
echo "rss_idle_kib=$RSS_IDLE_KIB"

section "throughput, log level $FIRST_LEVEL (wrk -t1 -c$CONNECTIONS -d${DURATION}s)"
# Warm up every path so the first measured requests do not pay for lazy setup.
for _ in 1 2 3 4 5; do
    for path in /healthz "$DISCOVERY" /oauth2/jwks; do
        curl -s -o /dev/null "$BASE$path" || true
    done
done
echo "/healthz:" >&2
HEALTHZ_RPS=$(wrk_rps /healthz)
echo "$DISCOVERY:" >&2
DISCOVERY_RPS=$(wrk_rps "$DISCOVERY")
echo "/oauth2/jwks:" >&2
JWKS_RPS=$(wrk_rps /oauth2/jwks)
RSS_AFTER_KIB=$(rss_kib "$PID")
RATIO=$(ratio "$JWKS_RPS" "$HEALTHZ_RPS")
DISCOVERY_RATIO=$(ratio "$DISCOVERY_RPS" "$HEALTHZ_RPS")
stop_process "$PID" 30
status=$STOP_STATUS
PID=""

section "/healthz at the default log level (wrk -t1 -c$CONNECTIONS -d${DURATION}s)"
# The same data dir, a second server with no --log-level: one JSON access-log line per request
# on stdout (here a file in $WORK).
start_server default
for _ in 1 2 3 4 5; do curl -s -o /dev/null "$BASE/healthz" || true; done
echo "/healthz (default log level):" >&2
HEALTHZ_INFO_RPS=$(wrk_rps /healthz)
LOG_LINES=$(grep -c '"msg":"request"' "$WORK/stdout" || true)
LOG_RATIO=$(ratio "$HEALTHZ_INFO_RPS" "$HEALTHZ_RPS")
stop_process "$PID" 30
status_info=$STOP_STATUS
PID=""

section "result"
printf '%-34s %s\n' "binary" "$SIGIL_BIN"
printf '%-34s %s\n' "startup to /readyz (ms)" "$STARTUP_MS"
printf '%-34s %s\n' "RSS idle (KiB)" "$RSS_IDLE_KIB"
printf '%-34s %s\n' "RSS after load (KiB)" "$RSS_AFTER_KIB"
printf '%-34s %s\n' "/healthz req/s ($FIRST_LEVEL)" "$HEALTHZ_RPS"
printf '%-34s %s\n' "discovery req/s" "$DISCOVERY_RPS"
printf '%-34s %s\n' "/oauth2/jwks req/s" "$JWKS_RPS"
printf '%-34s %s\n' "/healthz req/s (default level)" "$HEALTHZ_INFO_RPS"
printf '%-34s %s\n' "access-log lines written" "$LOG_LINES"
printf '%-34s %s\n' "ratio discovery/healthz" "$DISCOVERY_RATIO"
printf '%-34s %s\n' "ratio jwks/healthz" "$RATIO"
printf '%-34s %s\n' "ratio healthz default/$FIRST_LEVEL" "$LOG_RATIO"
printf '%-34s %s\n' "exit status on SIGTERM" "$status $status_info"
# One machine-readable line for keeping history.
printf 'BENCH {"startup_ms": %s, "rss_idle_kib": %s, "rss_after_kib": %s, "healthz_rps": %s, "discovery_rps": %s, "jwks_rps": %s, "healthz_default_level_rps": %s, "ratio": %s, "discovery_ratio": %s, "log_ratio": %s, "connections": %s, "duration_s": %s}\n' \
    "$STARTUP_MS" "$RSS_IDLE_KIB" "$RSS_AFTER_KIB" "${HEALTHZ_RPS:-null}" "${DISCOVERY_RPS:-null}" "${JWKS_RPS:-null}" \
    "${HEALTHZ_INFO_RPS:-null}" "$RATIO" "$DISCOVERY_RATIO" "$LOG_RATIO" "$CONNECTIONS" "$DURATION"
