#!/usr/bin/env bash
# The admin API against its own OpenAPI document, by schemathesis (PyPI; /opt/peers-venv from
# scripts/install-interop.sh): every check (status codes, content types, response schemas,
# schema-valid requests accepted, schema-violating ones refused, undeclared methods answered 405)
# in the coverage, fuzzing and stateful phases, deterministic, against the real `sigil serve`.
# Rejections the document cannot express are allowed per operation in schemathesis.toml.
# The limits are scaled up for the run (SIGIL_RATE_LIMIT_SCALE): fuzzing sends thousands of
# requests from one address, which is what the limits exist to stop.
# Ends with "N passed, M failed" (one check: the whole run).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
ST=${SCHEMATHESIS:-/opt/peers-venv/bin/schemathesis}
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
env -u SIGIL_DATABASE_URL SIGIL_RATE_LIMIT_SCALE=100000 "$SIGIL_BIN" serve --port "$PORT" --data-dir "$WORK/data" \
    --public-url "$BASE" --log-level warning >"$WORK/out" 2>"$WORK/err" </dev/null &
PID=$!
cleanup() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 120); do
    curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
    sleep 0.5
done
TOKEN=$(env -u SIGIL_DATABASE_URL "$SIGIL_BIN" admin token create --data-dir "$WORK/data")
# Requests wait up to 60 s (schemathesis' default is 10): POST /integrations with a generated vendor
# domain makes outbound calls (name resolution, then a 3 s connect and 5 s read limit per call), which
# on a loaded CI machine took longer than 10 s once; the answer is then a 422, not a hang.
"$ST" --version
rc=0
"$ST" run "$BASE/api/admin/v1/openapi.json" --url "$BASE" -H "Authorization: Bearer $TOKEN" \
    --checks all --max-examples "${SIGIL_SCHEMATHESIS_EXAMPLES:-50}" --request-timeout 60 || rc=$?
if [ "$rc" -eq 0 ]; then
    echo "PASS schemathesis: the admin API agrees with its OpenAPI document (all checks, three phases)"
    echo "1 passed, 0 failed"
else
    echo "FAIL schemathesis found disagreements (above)"
    echo "0 passed, 1 failed"
fi
exit "$rc"
