#!/usr/bin/env bash
# The Auth0 and Okta fakes of issue 14 (one-click integrations) against the vendors' OpenAPI documents:
#   1. interop/vendor_openapi.py --self-test   (the documents load in place; validation works and is fast)
#   2. interop/fake_auth0.py --self-test       (token endpoint, connections, scopes, errors, 429, SP/RP side)
#   3. interop/fake_okta.py --self-test        (SSWS, keys, SAML2/IDV IdPs, routing rules, errors, 429, SP side)
#   4. interop/vendor_request_validator.py over the JSONL logs 2 and 3 wrote (an independent re-validation),
#      and over a tampered copy, which it must reject;
#   5. each fake started from its command line, its ready line read, one token call made through it.
# Needs /opt/peers-venv with requests, cryptography, authlib, pysaml2, lxml, openapi-core, PyYAML
# (scripts/install-interop.sh), xmlsec1 and openssl; the documents in ../shared/reference/vendor-openapi
# (or SIGIL_VENDOR_OPENAPI_DIR). Everything listens on 127.0.0.1 only. Ends with "N passed, N failed".
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"
PY=/opt/peers-venv/bin/python
WORK=$(mktemp -d /tmp/sigil-vendor-fakes.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

run_python_suite interop/vendor_openapi.py --self-test
run_python_suite interop/fake_auth0.py --self-test --log "$WORK/auth0.jsonl"
run_python_suite interop/fake_okta.py --self-test --log "$WORK/okta.jsonl"
run_python_suite interop/vendor_request_validator.py --quiet "$WORK/auth0.jsonl" "$WORK/okta.jsonl"

# The validator must catch what it exists for: a response that breaks the document, a request that
# breaks it without the test's mark, and a credential left in the log.
"$PY" - "$WORK/auth0.jsonl" "$WORK/tampered-response.jsonl" "$WORK/tampered-request.jsonl" "$WORK/tampered-secret.jsonl" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
conn = next(e for e in lines if e["method"] == "POST" and e["path"] == "/api/v2/connections" and e["response"]["status"] == 201)
bad = json.loads(json.dumps(conn)); bad["response"]["body"]["undocumented_field"] = 1
open(sys.argv[2], "w").write(json.dumps(bad) + "\n")
bad = json.loads(json.dumps(conn)); bad["request"]["body"]["name"] = "not_valid_name"
open(sys.argv[3], "w").write(json.dumps(bad) + "\n")
bad = json.loads(json.dumps(conn)); bad["request"]["headers"]["Authorization"] = "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig"
open(sys.argv[4], "w").write(json.dumps(bad) + "\n")
EOF
for t in response request secret; do
    if "$PY" -W ignore interop/vendor_request_validator.py --quiet "$WORK/tampered-$t.jsonl" >"$WORK/tampered-$t.out" 2>&1; then
        fail "validator rejects a log with a tampered $t" "$(tail -n 3 "$WORK/tampered-$t.out")"
    else
        pass "validator rejects a log with a tampered $t"
    fi
done

# start_fake NAME ARGS...: runs a fake's CLI in the background (its PID kept for cleanup; no subshell,
# so PIDS is this shell's), waits for its JSON ready line in $WORK/NAME.ready.
start_fake() {
    local name=$1 i
    shift
    "$PY" -W ignore "$@" >"$WORK/$name.ready" 2>"$WORK/$name.err" &
    PIDS+=("$!")
    for i in $(seq 1 100); do
        if [ -s "$WORK/$name.ready" ]; then
            return 0
        fi
        sleep 0.1
    done
    cat "$WORK/$name.err" >&2
    return 1
}

if start_fake auth0 interop/fake_auth0.py --tenant cli-test --log "$WORK/auth0-cli.jsonl" \
    --seed-client "cliclient:cli-secret-123456:read:connections,create:connections" --seed-client "off:off-secret-1234:read:connections:nogrant"; then
    ready=$(head -n 1 "$WORK/auth0.ready")
    base=$(echo "$ready" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["base_url"])')
    aud=$(echo "$ready" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["audience"])')
    code=$(curl -s -o "$WORK/tok.json" -w '%{http_code}' -d grant_type=client_credentials -d client_id=cliclient \
        -d client_secret=cli-secret-123456 --data-urlencode "audience=$aud" "$base/oauth/token")
    scope=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("scope",""))' "$WORK/tok.json" 2>/dev/null || true)
    check "fake_auth0 CLI: ready line, --seed-client scopes in the token" test "$code:$scope" = "200:read:connections create:connections"
    code=$(curl -s -o /dev/null -w '%{http_code}' -d grant_type=client_credentials -d client_id=off \
        -d client_secret=off-secret-1234 --data-urlencode "audience=$aud" "$base/oauth/token")
    check "fake_auth0 CLI: :nogrant seeds a client without the grant (403)" test "$code" = 403
    check "fake_auth0 CLI: the log redacts the secret" bash -c "grep -q '<redacted>' '$WORK/auth0-cli.jsonl' && ! grep -q cli-secret-123456 '$WORK/auth0-cli.jsonl'"
else
    fail "fake_auth0 CLI starts and prints its ready line"
fi

if start_fake okta interop/fake_okta.py --log "$WORK/okta-cli.jsonl" --seed-token "00cli-token-abcdef:super" --seed-token "00ro-token-abcdef:readonly"; then
    ready=$(head -n 1 "$WORK/okta.ready")
    base=$(echo "$ready" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["base_url"])')
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: SSWS 00cli-token-abcdef" "$base/api/v1/policies?type=IDP_DISCOVERY")
    check "fake_okta CLI: ready line, --seed-token admits the token" test "$code" = 200
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: SSWS 00ro-token-abcdef" -H 'Content-Type: application/json' \
        -d '{"x5c":["MIIB"]}' "$base/api/v1/idps/credentials/keys")
    check "fake_okta CLI: a :readonly token cannot write (403)" test "$code" = 403
    check "fake_okta CLI: the log redacts the token" bash -c "grep -q 'SSWS <redacted>' '$WORK/okta-cli.jsonl' && ! grep -q 00cli-token-abcdef '$WORK/okta-cli.jsonl'"
else
    fail "fake_okta CLI starts and prints its ready line"
fi
run_python_suite interop/vendor_request_validator.py --quiet "$WORK/auth0-cli.jsonl" "$WORK/okta-cli.jsonl"

summary
