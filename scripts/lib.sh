# shellcheck shell=bash
# shellcheck disable=SC2034  # STOP_STATUS, HTTP_* are read by the scripts that source this
# Shared helpers for scripts/smoke.sh, scripts/multinode-check.sh and
# scripts/bench/foundation.sh. Source it; it defines functions only.
#
# Nothing here talks to anything but 127.0.0.1.

# --- PASS/FAIL bookkeeping -------------------------------------------------

T_PASSED=0
T_FAILED=0
T_FAILED_NAMES=()

pass() {
    T_PASSED=$((T_PASSED + 1))
    printf 'PASS %s\n' "$1"
}

# fail NAME [DETAIL...]
fail() {
    local name=$1
    shift
    T_FAILED=$((T_FAILED + 1))
    T_FAILED_NAMES+=("$name")
    printf 'FAIL %s' "$name"
    if [ "$#" -gt 0 ]; then
        printf ' -- %s' "$*"
    fi
    printf '\n'
}

# check NAME COMMAND...: PASS if the command exits 0, FAIL otherwise.
check() {
    local name=$1
    shift
    if "$@"; then
        pass "$name"
    else
        fail "$name"
    fi
}

# summary: prints the closing line and returns 1 when anything failed.
summary() {
    if [ "$T_FAILED" -gt 0 ]; then
        printf 'failed checks: %s\n' "${T_FAILED_NAMES[*]}"
    fi
    printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
    [ "$T_FAILED" -eq 0 ]
}

# run_python_suite SCRIPT [ARGS...]: runs an interop script with /opt/peers-venv's Python, echoes its
# output and adds its closing "N passed, M failed" to the totals. A script that dies before that
# line, or exits non-zero with nothing failed, counts as one failure.
run_python_suite() {
    local out line status failed
    out=$(mktemp)
    echo "--- $*"
    /opt/peers-venv/bin/python -W ignore "$@" 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)
    rm -f "$out"
    if [ -z "$line" ]; then
        T_FAILED=$((T_FAILED + 1))
        T_FAILED_NAMES+=("$1 (died before its summary)")
        return
    fi
    failed=$(echo "$line" | cut -d' ' -f3)
    T_PASSED=$((T_PASSED + $(echo "$line" | cut -d' ' -f1)))
    T_FAILED=$((T_FAILED + failed))
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        T_FAILED=$((T_FAILED + 1))
    fi
    if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
        T_FAILED_NAMES+=("$1")
    fi
}

log() {
    printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

section() {
    printf '\n==== %s ====\n' "$*"
}

# --- the binary ------------------------------------------------------------

# require_sigil_bin NAME: makes SIGIL_BIN (default $REPO_ROOT/.build/debug/sigil) an absolute path
# and exits 2, naming the script NAME, when it is not an executable.
require_sigil_bin() {
    SIGIL_BIN=${SIGIL_BIN:-$REPO_ROOT/.build/debug/sigil}
    case "$SIGIL_BIN" in /*) ;; *) SIGIL_BIN="$PWD/$SIGIL_BIN" ;; esac
    [ -x "$SIGIL_BIN" ] || {
        echo "$1: no executable at $SIGIL_BIN (build first or set SIGIL_BIN)" >&2
        exit 2
    }
}

# --- processes and ports ---------------------------------------------------

# free_port: prints a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# port_is_free PORT
port_is_free() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# wait_http_200 URL TIMEOUT_SECONDS [PID]: polls URL until it answers 200.
# Gives up early when PID (the server) has exited.
wait_http_200() {
    local url=$1 timeout=$2 pid=${3:-}
    local deadline=$((SECONDS + timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            log "process $pid exited while waiting for $url"
            return 1
        fi
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null)" = "200" ]; then
            return 0
        fi
        sleep 0.2
    done
    log "timed out after ${timeout}s waiting for 200 from $url"
    return 1
}

# stop_process PID TIMEOUT_SECONDS [SIGNAL]: sends SIGNAL (default TERM), waits, and sets STOP_STATUS to the
# exit status, or to "timeout" (after a SIGKILL) when it did not exit in time.
# Call it directly, never inside $(...): only this shell can wait for its child.
STOP_STATUS=""
stop_process() {
    local pid=$1 timeout=${2:-20} signal=${3:-TERM}
    local deadline=$((SECONDS + timeout))
    STOP_STATUS=""
    kill -"$signal" "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        # A zombie still answers kill -0; `wait` reaps it below.
        if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = "Z" ]; then
            break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            STOP_STATUS="timeout"
            return 0
        fi
        sleep 0.1
    done
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    STOP_STATUS=$rc
}

# --- HTTP --------------------------------------------------------------------

# http METHOD URL [BODY] [extra curl args...]
# Sets HTTP_STATUS, HTTP_CTYPE (lower-cased, without parameters) and writes the
# body to $HTTP_BODY_FILE (default: a temp file). BODY "" means no body.
HTTP_STATUS=""
HTTP_CTYPE=""
HTTP_BODY_FILE=""
http() {
    local method=$1 url=$2 body=${3:-}
    shift 2
    [ "$#" -gt 0 ] && shift
    if [ -z "$HTTP_BODY_FILE" ]; then
        HTTP_BODY_FILE=$(mktemp)
    fi
    local out args=(-sS -X "$method" -o "$HTTP_BODY_FILE" -w '%{http_code}\n%{content_type}' --max-time 15)
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    if ! out=$(curl "${args[@]}" "$@" "$url" 2>&1); then
        HTTP_STATUS="000"
        HTTP_CTYPE=""
        : >"$HTTP_BODY_FILE"
        log "curl $method $url failed: $out"
        return 0
    fi
    HTTP_STATUS=$(printf '%s\n' "$out" | sed -n 1p)
    HTTP_CTYPE=$(printf '%s\n' "$out" | sed -n 2p | cut -d';' -f1 | tr -d ' ' | tr '[:upper:]' '[:lower:]')
}

http_body() {
    cat "$HTTP_BODY_FILE"
}

# expect_status NAME WANTED...: PASS when HTTP_STATUS is one of WANTED.
expect_status() {
    local name=$1
    shift
    local want
    for want in "$@"; do
        if [ "$HTTP_STATUS" = "$want" ]; then
            pass "$name"
            return 0
        fi
    done
    fail "$name" "expected HTTP $*, got $HTTP_STATUS ($HTTP_CTYPE): $(head -c 300 "$HTTP_BODY_FILE" | tr '\n' ' ')"
    return 1
}

# expect_problem NAME WANTED...: status is one of WANTED, the content type is
# application/problem+json and the body is a JSON object.
expect_problem() {
    local name=$1
    shift
    local want ok=0
    for want in "$@"; do
        [ "$HTTP_STATUS" = "$want" ] && ok=1
    done
    if [ "$ok" -ne 1 ]; then
        fail "$name" "expected HTTP $* problem+json, got $HTTP_STATUS ($HTTP_CTYPE): $(head -c 300 "$HTTP_BODY_FILE" | tr '\n' ' ')"
        return 1
    fi
    if [ "$HTTP_CTYPE" != "application/problem+json" ]; then
        fail "$name" "status $HTTP_STATUS ok but Content-Type is '$HTTP_CTYPE', expected application/problem+json"
        return 1
    fi
    if ! jq -e 'type == "object"' "$HTTP_BODY_FILE" >/dev/null 2>&1; then
        fail "$name" "status $HTTP_STATUS ok but body is not a JSON object: $(head -c 300 "$HTTP_BODY_FILE")"
        return 1
    fi
    pass "$name"
}

# --- CLI output ----------------------------------------------------------------

# json_stdout NAME FILE: PASS when FILE (a command's stdout) is exactly one JSON
# document. When it holds more (say a log line before the JSON), FAIL and keep
# only the last document in FILE so later checks can still read it.
json_stdout() {
    local name=$1 file=$2 n
    n=$(jq -s 'length' "$file" 2>/dev/null || echo "not JSON")
    if [ "$n" = "1" ]; then
        pass "$name"
        return 0
    fi
    fail "$name" "stdout holds $n JSON documents: $(head -c 200 "$file" | tr '\n' ' ')"
    if [ "$n" != "not JSON" ] && [ "$n" != "0" ]; then
        jq -s 'last' "$file" >"$file.last" && mv "$file.last" "$file"
    fi
    return 1
}

# single_token NAME VALUE: PASS when VALUE is one non-empty line without spaces.
# Sets TOKEN_VALUE to VALUE's last line either way, so later checks can go on.
TOKEN_VALUE=""
single_token() {
    local name=$1 value=$2
    TOKEN_VALUE=$(printf '%s\n' "$value" | sed '/^[[:space:]]*$/d' | tail -n 1)
    if [ -n "$value" ] && [ "$(printf '%s' "$value" | wc -l)" -eq 0 ] && [[ "$value" != *[[:space:]]* ]]; then
        pass "$name"
        return 0
    fi
    fail "$name" "stdout was: $(printf '%s' "$value" | head -c 300 | tr '\n' '|')"
    return 1
}
