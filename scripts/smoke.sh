#!/usr/bin/env bash
# End-to-end smoke test of the real `sigil` binary on SQLite.
#
# Usage: scripts/smoke.sh [DATA_DIR]
#   DATA_DIR  optional; must not exist yet or be empty. Default: a fresh
#             directory under a temp dir, removed at the end.
# Environment:
#   SIGIL_BIN              the binary (default .build/debug/sigil, relative to the repo)
#   SIGIL_SMOKE_LOG_LEVEL  --log-level for serve (default info)
#   SIGIL_SMOKE_KEEP=1     keep the temp dir (logs, data) after the run
#   SIGIL_SMOKE_KEY_WAIT   seconds to wait for a CLI key rotation to show in
#                          the served JWKS (default 30)
#
# Prints PASS/FAIL per check and a closing "N passed, M failed" line; exits 1
# if any check failed, 2 on usage errors. Talks to 127.0.0.1 only.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

for tool in curl jq openssl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "smoke: $tool is required" >&2
        exit 2
    fi
done

SIGIL_BIN=${SIGIL_BIN:-$REPO_ROOT/.build/debug/sigil}
case "$SIGIL_BIN" in /*) ;; *) SIGIL_BIN="$PWD/$SIGIL_BIN" ;; esac
if [ ! -x "$SIGIL_BIN" ]; then
    echo "smoke: no executable at $SIGIL_BIN (build first or set SIGIL_BIN)" >&2
    exit 2
fi

# Nothing from the caller's environment may point serve or the CLI elsewhere:
# this test is about SQLite in a fresh data dir with a generated master.key.
unset SIGIL_DATABASE_URL SIGIL_MASTER_KEY SIGIL_HOST SIGIL_PORT SIGIL_DATA_DIR SIGIL_PUBLIC_URL SIGIL_LOG_LEVEL

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-smoke.XXXXXX")
if [ -n "${1:-}" ]; then
    DATA=$1
    if [ -e "$DATA" ] && [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
        echo "smoke: data dir $DATA exists and is not empty; give a fresh one" >&2
        rm -rf "$WORK"
        exit 2
    fi
    case "$DATA" in /*) ;; *) DATA="$PWD/$DATA" ;; esac
else
    DATA=$WORK/data   # does not exist yet: serve must create it
fi
HTTP_BODY_FILE=$WORK/body
SERVE_OUT=$WORK/serve.stdout
SERVE_ERR=$WORK/serve.stderr
SERVE_PID=""

cleanup() {
    local rc=$?
    if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
        kill -TERM "$SERVE_PID" 2>/dev/null || true
        sleep 1
        kill -KILL "$SERVE_PID" 2>/dev/null || true
    fi
    if [ "$T_FAILED" -gt 0 ] || [ "$rc" -ne 0 ]; then
        for f in "$SERVE_OUT" "$SERVE_ERR"; do
            if [ -s "$f" ]; then
                echo "---- last 40 lines of $(basename "$f") ----"
                tail -n 40 "$f"
            fi
        done
    fi
    if [ "${SIGIL_SMOKE_KEEP:-0}" = "1" ]; then
        echo "smoke: kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# sigil ARGS...: runs the CLI against the same data dir; stderr goes to $WORK/cli.stderr.
sigil() {
    "$SIGIL_BIN" "$@" --data-dir "$DATA" 2>"$WORK/cli.stderr"
}

cli_err() {
    head -c 400 "$WORK/cli.stderr" | tr '\n' ' '
}

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
LOG_LEVEL=${SIGIL_SMOKE_LOG_LEVEL:-info}
KEY_WAIT=${SIGIL_SMOKE_KEY_WAIT:-30}

section "smoke: sigil serve on $BASE, data dir $DATA"
"$SIGIL_BIN" serve --host 127.0.0.1 --port "$PORT" --data-dir "$DATA" \
    --public-url "$BASE" --log-level "$LOG_LEVEL" >"$SERVE_OUT" 2>"$SERVE_ERR" </dev/null &
SERVE_PID=$!

if wait_http_200 "$BASE/readyz" 120 "$SERVE_PID"; then
    pass "serve becomes ready (/readyz 200)"
else
    fail "serve becomes ready (/readyz 200)"
    summary
    exit 1
fi

# --- data dir ----------------------------------------------------------------
section "data dir"
if [ -f "$DATA/sigil.sqlite" ]; then
    pass "data dir holds sigil.sqlite"
else
    fail "data dir holds sigil.sqlite" "contents: $(find "$DATA" -maxdepth 1 2>&1 | tr '\n' ' ')"
fi
if [ -f "$DATA/master.key" ]; then
    mode=$(stat -c '%a' "$DATA/master.key")
    if [ "$mode" = "600" ]; then
        pass "master.key mode is 0600"
    else
        fail "master.key mode is 0600" "mode is $mode"
    fi
else
    fail "master.key mode is 0600" "no $DATA/master.key"
fi

# --- enrolment link -------------------------------------------------------------
section "enrolment link"
ENROLL_LINK=$(grep -oE 'https?://[^[:space:]"]*/enroll/[A-Za-z0-9._~%-]+' "$SERVE_ERR" | head -n 1 || true)
ENROLL_TOKEN=${ENROLL_LINK##*/enroll/}
if [ -n "$ENROLL_LINK" ] && [ "${#ENROLL_TOKEN}" -ge 16 ]; then
    pass "enrolment link printed on stderr"
else
    fail "enrolment link printed on stderr" "no .../enroll/<token> (>=16 chars) in stderr"
    ENROLL_TOKEN=""
fi
if [ -n "$ENROLL_LINK" ]; then
    case "$ENROLL_LINK" in
        "$BASE"/*) pass "enrolment link starts with --public-url" ;;
        *) fail "enrolment link starts with --public-url" "link is ${ENROLL_LINK%/enroll/*}/enroll/…, public URL $BASE" ;;
    esac
fi
if grep -qE '/enroll/' "$SERVE_OUT"; then
    fail "enrolment link not in stdout log" "stdout mentions /enroll/"
else
    pass "enrolment link not in stdout log"
fi

# --- operations endpoints ------------------------------------------------------
section "operations endpoints"
http GET "$BASE/healthz"
expect_status "/healthz 200" 200
http GET "$BASE/readyz"
expect_status "/readyz 200" 200

# --- JWKS ------------------------------------------------------------------------
section "JWKS"
if python3 "$SCRIPT_DIR/check_jwks.py" "$BASE/oauth2/jwks" --out "$WORK/jwks1.json"; then
    pass "JWKS: RS256 + ES256 keys, kid = RFC 7638 thumbprint (joserfc)"
else
    fail "JWKS: RS256 + ES256 keys, kid = RFC 7638 thumbprint (joserfc)"
fi
http GET "$BASE/oauth2/jwks"
case "$HTTP_CTYPE" in
    application/json | application/jwk-set+json) pass "JWKS Content-Type is JSON" ;;
    *) fail "JWKS Content-Type is JSON" "got '$HTTP_CTYPE'" ;;
esac
DEFAULT_KIDS=$(jq -r '.kids[]' "$WORK/jwks1.json" 2>/dev/null | sort)

# --- SAML certificate ----------------------------------------------------------
section "SAML certificate"
http GET "$BASE/saml/certificate.pem"
if expect_status "/saml/certificate.pem 200" 200; then
    cp "$HTTP_BODY_FILE" "$WORK/saml.pem"
    if openssl x509 -noout -text -in "$WORK/saml.pem" >"$WORK/saml.txt" 2>&1; then
        pass "SAML certificate parses with openssl x509"
        if grep -q 'Public-Key: (2048 bit)' "$WORK/saml.txt"; then
            pass "SAML certificate has a 2048-bit public key"
        else
            fail "SAML certificate has a 2048-bit public key" "$(grep 'Public-Key' "$WORK/saml.txt" | tr -s ' ')"
        fi
        if python3 "$SCRIPT_DIR/check_jwks.py" "$BASE/oauth2/jwks" --cert "$WORK/saml.pem" >/dev/null; then
            pass "SAML certificate holds a published RS256 key"
        else
            fail "SAML certificate holds a published RS256 key"
        fi
    else
        fail "SAML certificate parses with openssl x509" "$(head -c 300 "$WORK/saml.txt")"
    fi
fi

# --- key rotation through the CLI while serve runs -----------------------------
section "key rotation (CLI while serve runs)"
if sigil keys list --tenant default --json >"$WORK/keys-before.json"; then
    pass "sigil keys list --tenant default --json"
    json_stdout "keys list --json: stdout is one JSON document" "$WORK/keys-before.json"
else
    fail "sigil keys list --tenant default --json" "$(cli_err)"
fi
CURRENT_BEFORE=$(python3 "$SCRIPT_DIR/keys_by_state.py" current <"$WORK/keys-before.json" 2>/dev/null | sort)
if [ -n "$CURRENT_BEFORE" ]; then
    pass "keys list names the current keys"
else
    fail "keys list names the current keys" "no key with state current in: $(head -c 300 "$WORK/keys-before.json")"
fi
missing=$(comm -23 <(printf '%s\n' "$CURRENT_BEFORE" | sed '/^$/d') <(printf '%s\n' "$DEFAULT_KIDS"))
if [ -n "$CURRENT_BEFORE" ] && [ -z "$missing" ]; then
    pass "JWKS publishes the current keys"
else
    fail "JWKS publishes the current keys" "not published: ${missing:-<no current keys known>}"
fi

if sigil keys rotate --tenant default >"$WORK/rotate.out"; then
    pass "sigil keys rotate --tenant default"
else
    fail "sigil keys rotate --tenant default" "$(cli_err)"
fi
# The running server may cache keys briefly; poll until the new kid shows.
NEW_KIDS=""
deadline=$((SECONDS + KEY_WAIT))
while :; do
    python3 "$SCRIPT_DIR/check_jwks.py" "$BASE/oauth2/jwks" --out "$WORK/jwks2.json" >/dev/null 2>&1
    AFTER_KIDS=$(jq -r '.kids[]' "$WORK/jwks2.json" 2>/dev/null | sort)
    NEW_KIDS=$(comm -13 <(printf '%s\n' "$DEFAULT_KIDS") <(printf '%s\n' "$AFTER_KIDS") | sed '/^$/d')
    if [ -n "$NEW_KIDS" ] || [ "$SECONDS" -ge "$deadline" ]; then
        break
    fi
    sleep 1
done
if [ -n "$NEW_KIDS" ]; then
    pass "JWKS publishes a new kid after rotation"
else
    fail "JWKS publishes a new kid after rotation" "same kids after ${KEY_WAIT}s"
fi
missing=$(comm -23 <(printf '%s\n' "$CURRENT_BEFORE" | sed '/^$/d') <(printf '%s\n' "$AFTER_KIDS"))
if [ -n "$CURRENT_BEFORE" ] && [ -z "$missing" ]; then
    pass "previously-current kids still published after rotation"
else
    fail "previously-current kids still published after rotation" "missing: ${missing:-<no current keys known>}"
fi
if python3 "$SCRIPT_DIR/check_jwks.py" "$BASE/oauth2/jwks" >/dev/null; then
    pass "JWKS after rotation passes the joserfc checks"
else
    fail "JWKS after rotation passes the joserfc checks"
fi
PREVIOUS_AFTER=""
if sigil keys list --tenant default --json >"$WORK/keys-after.json"; then
    PREVIOUS_AFTER=$(python3 "$SCRIPT_DIR/keys_by_state.py" previous <"$WORK/keys-after.json" 2>/dev/null | sort)
    missing=$(comm -23 <(printf '%s\n' "$CURRENT_BEFORE" | sed '/^$/d') <(printf '%s\n' "$PREVIOUS_AFTER"))
    if [ -n "$CURRENT_BEFORE" ] && [ -z "$missing" ]; then
        pass "keys list: previously-current keys are now previous"
    else
        fail "keys list: previously-current keys are now previous" "not previous: ${missing:-<no current keys known>}"
    fi
else
    fail "keys list: previously-current keys are now previous" "$(cli_err)"
fi
PUBLISHED=$(for st in next current previous; do
    python3 "$SCRIPT_DIR/keys_by_state.py" "$st" <"$WORK/keys-after.json" 2>/dev/null
done | sort)
if [ -n "$PUBLISHED" ] && [ "$PUBLISHED" = "$AFTER_KIDS" ]; then
    pass "JWKS publishes exactly the next, current and previous keys"
else
    fail "JWKS publishes exactly the next, current and previous keys" "keys list: $(printf '%s' "$PUBLISHED" | tr '\n' ' ') JWKS: $(printf '%s' "$AFTER_KIDS" | tr '\n' ' ')"
fi

# A second rotation retires the keys that were previous: they leave the JWKS.
if sigil keys rotate --tenant default >"$WORK/rotate2.out"; then
    pass "second sigil keys rotate"
else
    fail "second sigil keys rotate" "$(cli_err)"
fi
deadline=$((SECONDS + KEY_WAIT))
while :; do
    python3 "$SCRIPT_DIR/check_jwks.py" "$BASE/oauth2/jwks" --out "$WORK/jwks3.json" >/dev/null 2>&1
    THIRD_KIDS=$(jq -r '.kids[]' "$WORK/jwks3.json" 2>/dev/null | sort)
    if [ -n "$THIRD_KIDS" ] && [ "$THIRD_KIDS" != "$AFTER_KIDS" ]; then
        break
    fi
    [ "$SECONDS" -ge "$deadline" ] && break
    sleep 1
done
still=$(comm -12 <(printf '%s\n' "$PREVIOUS_AFTER" | sed '/^$/d') <(printf '%s\n' "$THIRD_KIDS") | sed '/^$/d')
if [ -n "${PREVIOUS_AFTER:-}" ] && [ -n "$THIRD_KIDS" ] && [ -z "$still" ]; then
    pass "retired keys leave the JWKS after the second rotation"
else
    fail "retired keys leave the JWKS after the second rotation" "still published: ${still:-<none known>}"
fi
sigil keys list --tenant default --json >"$WORK/keys-third.json"
RETIRED=$(python3 "$SCRIPT_DIR/keys_by_state.py" retired <"$WORK/keys-third.json" 2>/dev/null | sort)
missing=$(comm -23 <(printf '%s\n' "$PREVIOUS_AFTER" | sed '/^$/d') <(printf '%s\n' "$RETIRED"))
if [ -n "${PREVIOUS_AFTER:-}" ] && [ -z "$missing" ]; then
    pass "keys list: previous keys are retired after the second rotation"
else
    fail "keys list: previous keys are retired after the second rotation" "not retired: ${missing:-<none known>}"
fi
DEFAULT_KIDS=$THIRD_KIDS

# --- second tenant: path prefix and Host header --------------------------------
section "tenant acme (path prefix and Host header)"
if sigil tenant create acme --host acme.localtest >"$WORK/tenant-create.out"; then
    pass "sigil tenant create acme --host acme.localtest"
else
    fail "sigil tenant create acme --host acme.localtest" "$(cli_err)"
fi
sigil tenant list --json >"$WORK/tenants.json"
json_stdout "tenant list --json: stdout is one JSON document" "$WORK/tenants.json"
if jq -e '[.. | strings] | index("acme") != null' "$WORK/tenants.json" >/dev/null 2>&1; then
    pass "sigil tenant list --json shows acme"
else
    fail "sigil tenant list --json shows acme" "$(head -c 300 "$WORK/tenants.json") $(cli_err)"
fi
if python3 "$SCRIPT_DIR/check_jwks.py" "$BASE/t/acme/oauth2/jwks" --out "$WORK/jwks-acme-path.json"; then
    pass "/t/acme/oauth2/jwks is a valid JWKS"
else
    fail "/t/acme/oauth2/jwks is a valid JWKS"
fi
if python3 "$SCRIPT_DIR/check_jwks.py" "$BASE/oauth2/jwks" --host acme.localtest --out "$WORK/jwks-acme-host.json"; then
    pass "Host: acme.localtest /oauth2/jwks is a valid JWKS"
else
    fail "Host: acme.localtest /oauth2/jwks is a valid JWKS"
fi
ACME_PATH_KIDS=$(jq -r '.kids[]' "$WORK/jwks-acme-path.json" 2>/dev/null | sort)
ACME_HOST_KIDS=$(jq -r '.kids[]' "$WORK/jwks-acme-host.json" 2>/dev/null | sort)
shared=$(comm -12 <(printf '%s\n' "$DEFAULT_KIDS") <(printf '%s\n' "$ACME_PATH_KIDS") | sed '/^$/d')
if [ -n "$ACME_PATH_KIDS" ] && [ -z "$shared" ]; then
    pass "acme's kids differ from default's"
else
    fail "acme's kids differ from default's" "shared kids: ${shared:-<acme has none>}"
fi
if [ -n "$ACME_PATH_KIDS" ] && [ "$ACME_PATH_KIDS" = "$ACME_HOST_KIDS" ]; then
    pass "path prefix and Host header select the same tenant"
else
    fail "path prefix and Host header select the same tenant" "path: $(printf '%s' "$ACME_PATH_KIDS" | tr '\n' ' ') host: $(printf '%s' "$ACME_HOST_KIDS" | tr '\n' ' ')"
fi
python3 "$SCRIPT_DIR/check_jwks.py" "$BASE/t/default/oauth2/jwks" --out "$WORK/jwks-default-path.json" >/dev/null 2>&1
if [ "$(jq -r '.kids[]' "$WORK/jwks-default-path.json" 2>/dev/null | sort)" = "$DEFAULT_KIDS" ]; then
    pass "/t/default/oauth2/jwks equals /oauth2/jwks"
else
    fail "/t/default/oauth2/jwks equals /oauth2/jwks"
fi

# --- CLI users and apps ----------------------------------------------------------
section "CLI users and applications"
if sigil user create --tenant default --email cli.user@example.com --given-name Cli --family-name User --json >"$WORK/user-create.json"; then
    pass "sigil user create --json"
    json_stdout "user create --json: stdout is one JSON document" "$WORK/user-create.json"
else
    fail "sigil user create --json" "$(cli_err)"
fi
sigil user list --tenant default --json >"$WORK/users-cli.json"
json_stdout "user list --json: stdout is one JSON document" "$WORK/users-cli.json"
if grep -qi 'cli.user@example.com' "$WORK/users-cli.json"; then
    pass "sigil user list --json shows the user"
else
    fail "sigil user list --json shows the user" "$(head -c 300 "$WORK/users-cli.json") $(cli_err)"
fi
CLIENT_ID=""
CLIENT_SECRET=""
if sigil app create-oidc --tenant default --name smoke-app --redirect-uri "http://127.0.0.1:9/callback" --json >"$WORK/app.json"; then
    json_stdout "app create-oidc --json: stdout is one JSON document" "$WORK/app.json"
    CLIENT_ID=$(jq -r '.client_id // empty' "$WORK/app.json" 2>/dev/null)
    CLIENT_SECRET=$(jq -r '.client_secret // empty' "$WORK/app.json" 2>/dev/null)
fi
if [ -n "$CLIENT_ID" ] && [ -n "$CLIENT_SECRET" ]; then
    pass "sigil app create-oidc --json prints client_id and client_secret"
else
    fail "sigil app create-oidc --json prints client_id and client_secret" "$(head -c 300 "$WORK/app.json") $(cli_err)"
fi
sigil app list --tenant default --json >"$WORK/apps.json"
json_stdout "app list --json: stdout is one JSON document" "$WORK/apps.json"
if [ -n "$CLIENT_ID" ] && grep -qF "$CLIENT_ID" "$WORK/apps.json"; then
    pass "sigil app list --json shows the client"
else
    fail "sigil app list --json shows the client" "$(head -c 300 "$WORK/apps.json") $(cli_err)"
fi
if [ -n "$CLIENT_SECRET" ] && ! grep -qF "$CLIENT_SECRET" "$WORK/apps.json"; then
    pass "sigil app list does not reveal the client secret"
else
    fail "sigil app list does not reveal the client secret"
fi
if sigil migrate >"$WORK/migrate.out"; then
    pass "sigil migrate is idempotent while serve runs"
else
    fail "sigil migrate is idempotent while serve runs" "$(cli_err)"
fi

# --- admin API --------------------------------------------------------------------
section "admin API"
API="$BASE/api/admin/v1"
raw=$(sigil admin token create) || raw=""
single_token "sigil admin token create prints only the token" "$raw"
ADMIN_TOKEN=$TOKEN_VALUE
raw=$(sigil admin token create --tenant acme) || raw=""
single_token "sigil admin token create --tenant acme prints only the token" "$raw"
ACME_TOKEN=$TOKEN_VALUE
if [ -n "$ACME_TOKEN" ] && [ "$ACME_TOKEN" = "$ADMIN_TOKEN" ]; then
    fail "two admin tokens differ"
fi
AUTH=(-H "Authorization: Bearer $ADMIN_TOKEN")

# users_snapshot: canonical JSON of the default tenant's user list (or an error marker).
users_snapshot() {
    local body=$WORK/snapshot.json
    local code
    code=$(curl -sS -o "$body" -w '%{http_code}' --max-time 15 "${AUTH[@]}" "$API/users" 2>/dev/null) || code=000
    if [ "$code" = "200" ] && jq -S . "$body" 2>/dev/null; then
        return 0
    fi
    echo "HTTP $code"
}

users_count() {
    jq 'if type == "array" then . else (.items // .users // .data // []) end | length'
}

# assert_unchanged NAME: the user list equals $USERS_BASELINE.
assert_unchanged() {
    local now
    now=$(users_snapshot)
    if [ "$now" = "$USERS_BASELINE" ]; then
        pass "$1: user list unchanged"
    else
        fail "$1: user list unchanged" "$(diff <(printf '%s\n' "$USERS_BASELINE") <(printf '%s\n' "$now") | head -n 10 | tr '\n' ' ')"
    fi
}

http GET "$API/openapi.json"
if expect_status "GET openapi.json without auth 200" 200; then
    if jq -e '(.openapi | type == "string") and (.paths | type == "object")' "$HTTP_BODY_FILE" >/dev/null 2>&1; then
        pass "openapi.json is an OpenAPI document"
        # A third-party validator checks the document against the OpenAPI 3.1 schema.
        if out=$(python3 -c 'import sys, json; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print("valid")' "$HTTP_BODY_FILE" 2>&1); then
            pass "openapi.json passes openapi-spec-validator"
        else
            fail "openapi.json passes openapi-spec-validator" "$(echo "$out" | tail -n 3)"
        fi
    else
        fail "openapi.json is an OpenAPI document" "$(head -c 200 "$HTTP_BODY_FILE")"
    fi
fi

http GET "$API/users" "" "${AUTH[@]}"
expect_status "GET users with token 200" 200
COUNT_BEFORE=$(users_count <"$HTTP_BODY_FILE" 2>/dev/null || echo "?")

http POST "$API/users" '{"email":"Smoke.User@Example.com","given_name":"Smoke","family_name":"User"}' "${AUTH[@]}"
USER_ID=""
if expect_status "POST user 201" 201; then
    USER_ID=$(jq -r '.id // empty' "$HTTP_BODY_FILE" 2>/dev/null)
    if [ -n "$USER_ID" ]; then
        pass "created user has an id"
    else
        fail "created user has an id" "$(head -c 300 "$HTTP_BODY_FILE")"
    fi
fi
USERS_BASELINE=$(users_snapshot)
COUNT_AFTER=$(printf '%s' "$USERS_BASELINE" | users_count 2>/dev/null || echo "?")
if [ "$COUNT_BEFORE" != "?" ] && [ "$COUNT_AFTER" = "$((COUNT_BEFORE + 1))" ]; then
    pass "user list grew by one"
else
    fail "user list grew by one" "before $COUNT_BEFORE, after $COUNT_AFTER"
fi

http POST "$API/users" '{"email":"smoke.user@EXAMPLE.COM","given_name":"Other","family_name":"Case"}' "${AUTH[@]}"
expect_problem "POST same email, other case -> 409 problem+json" 409
assert_unchanged "duplicate email"

http POST "$API/users" '{"email":"not-an-email","given_name":"Bad","family_name":"Email"}' "${AUTH[@]}"
expect_problem "POST invalid email -> 400/422 problem+json" 400 422
assert_unchanged "invalid email"

http POST "$API/users" '{"email":"unknown.field@example.com","given_name":"Un","family_name":"Known","is_superuser":true}' "${AUTH[@]}"
expect_problem "POST unknown field -> 400 problem+json" 400
assert_unchanged "unknown field"

http POST "$API/users" '{"email":"no.token@example.com","given_name":"No","family_name":"Token"}'
expect_problem "POST without token -> 401 problem+json" 401
assert_unchanged "no token"

http POST "$API/users" '{"email":"bad.token@example.com","given_name":"Bad","family_name":"Token"}' -H "Authorization: Bearer not-a-real-token"
expect_problem "POST with a forged token -> 401 problem+json" 401
assert_unchanged "forged token"

http GET "$API/users"
expect_problem "GET users without token -> 401 problem+json" 401

http GET "$BASE/t/acme/api/admin/v1/users" "" -H "Authorization: Bearer $ACME_TOKEN"
expect_status "acme-scoped token on acme -> 200" 200
http GET "$API/users" "" -H "Authorization: Bearer $ACME_TOKEN"
expect_status "acme-scoped token on default (GET) -> 403" 403
http POST "$API/users" '{"email":"cross.tenant@example.com","given_name":"Cross","family_name":"Tenant"}' -H "Authorization: Bearer $ACME_TOKEN"
expect_status "acme-scoped token on default (POST) -> 403" 403
assert_unchanged "cross-tenant token"

if [ -n "$USER_ID" ]; then
    http GET "$API/users/$USER_ID" "" "${AUTH[@]}"
    if expect_status "GET users/{id} 200" 200; then
        if jq -e --arg id "$USER_ID" '.id == $id and (.email | ascii_downcase) == "smoke.user@example.com"' "$HTTP_BODY_FILE" >/dev/null 2>&1; then
            pass "GET users/{id} returns the user"
        else
            fail "GET users/{id} returns the user" "$(head -c 300 "$HTTP_BODY_FILE")"
        fi
    fi
    http PATCH "$API/users/$USER_ID" '{"given_name":"Patched"}' "${AUTH[@]}"
    expect_status "PATCH users/{id} 200" 200
    http GET "$API/users/$USER_ID" "" "${AUTH[@]}"
    if jq -e '.given_name == "Patched" and .family_name == "User"' "$HTTP_BODY_FILE" >/dev/null 2>&1; then
        pass "PATCH changed given_name only"
    else
        fail "PATCH changed given_name only" "$(head -c 300 "$HTTP_BODY_FILE")"
    fi
    http GET "$API/audit-events" "" "${AUTH[@]}"
    if expect_status "GET audit-events 200" 200; then
        if grep -qF "$USER_ID" "$HTTP_BODY_FILE"; then
            pass "audit events mention the created user"
        else
            fail "audit events mention the created user" "$(head -c 300 "$HTTP_BODY_FILE")"
        fi
        if [ -n "$ADMIN_TOKEN" ] && grep -qF "$ADMIN_TOKEN" "$HTTP_BODY_FILE"; then
            fail "audit events do not contain the admin token"
        else
            pass "audit events do not contain the admin token"
        fi
    fi
    http DELETE "$API/users/$USER_ID" "" "${AUTH[@]}"
    expect_status "DELETE users/{id} 200/204" 200 204
    http GET "$API/users/$USER_ID" "" "${AUTH[@]}"
    expect_problem "GET deleted user -> 404 problem+json" 404
else
    fail "GET/PATCH/DELETE users/{id}" "no user id from the POST"
fi

# --- metrics ------------------------------------------------------------------------
section "metrics"
http GET "$BASE/metrics"
if expect_status "/metrics 200" 200; then
    if grep -q '^sigil_http_requests_total' "$HTTP_BODY_FILE"; then
        pass "/metrics has sigil_http_requests_total"
    else
        fail "/metrics has sigil_http_requests_total"
    fi
    if grep -q '^sigil_build_info' "$HTTP_BODY_FILE"; then
        pass "/metrics has sigil_build_info"
    else
        fail "/metrics has sigil_build_info"
    fi
fi

# --- shutdown and logs ----------------------------------------------------------------
section "shutdown, restart and logs"
MASTER_KEY_SUM=$(sha256sum "$DATA/master.key" 2>/dev/null | cut -d' ' -f1)
stop_process "$SERVE_PID" 30
status=$STOP_STATUS
SERVE_PID=""
if [ "$status" = "0" ]; then
    pass "SIGTERM: serve exits 0"
else
    fail "SIGTERM: serve exits 0" "exit status $status"
fi

# Restart on the same data dir: keys, users and tokens persist; SIGINT exits 0.
"$SIGIL_BIN" serve --host 127.0.0.1 --port "$PORT" --data-dir "$DATA" \
    --public-url "$BASE" --log-level "$LOG_LEVEL" >"$SERVE_OUT.2" 2>"$SERVE_ERR.2" </dev/null &
SERVE_PID=$!
if wait_http_200 "$BASE/readyz" 120 "$SERVE_PID"; then
    pass "restart on the same data dir becomes ready"
    if [ "$(sha256sum "$DATA/master.key" 2>/dev/null | cut -d' ' -f1)" = "$MASTER_KEY_SUM" ]; then
        pass "restart keeps master.key"
    else
        fail "restart keeps master.key" "master.key changed or vanished"
    fi
    python3 "$SCRIPT_DIR/check_jwks.py" "$BASE/oauth2/jwks" --out "$WORK/jwks-restart.json" >/dev/null 2>&1
    if [ "$(jq -r '.kids[]' "$WORK/jwks-restart.json" 2>/dev/null | sort)" = "$DEFAULT_KIDS" ]; then
        pass "restart publishes the same kids"
    else
        fail "restart publishes the same kids"
    fi
    http GET "$API/users" "" "${AUTH[@]}"
    if [ "$HTTP_STATUS" = "200" ] && grep -qi 'cli.user@example.com' "$HTTP_BODY_FILE"; then
        pass "restart keeps users and admin tokens"
    else
        fail "restart keeps users and admin tokens" "HTTP $HTTP_STATUS"
    fi
    stop_process "$SERVE_PID" 30 INT
    if [ "$STOP_STATUS" = "0" ]; then
        pass "SIGINT: serve exits 0"
    else
        fail "SIGINT: serve exits 0" "exit status $STOP_STATUS"
    fi
else
    fail "restart on the same data dir becomes ready" "$(tail -n 5 "$SERVE_ERR.2" | tr '\n' ' ')"
    kill -KILL "$SERVE_PID" 2>/dev/null || true
fi
SERVE_PID=""

if [ -s "$SERVE_OUT" ]; then
    bad=$(cat "$SERVE_OUT" "$SERVE_OUT.2" 2>/dev/null | grep -v '^[[:space:]]*$' | while IFS= read -r line; do
        printf '%s\n' "$line" | jq -e 'type == "object"' >/dev/null 2>&1 || printf '%s\n' "$line"
    done | head -n 3)
    if [ -z "$bad" ]; then
        pass "every stdout line is a JSON object"
    else
        fail "every stdout line is a JSON object" "e.g. $(printf '%s' "$bad" | head -c 300)"
    fi
else
    fail "every stdout line is a JSON object" "serve wrote nothing to stdout"
fi

# no_secret NAME SECRET FILE...
no_secret() {
    local name=$1 secret=$2
    shift 2
    if [ -z "$secret" ]; then
        fail "$name" "secret unknown, cannot check"
    elif grep -qF -- "$secret" "$@"; then
        fail "$name" "found in $(grep -lF -- "$secret" "$@" | xargs -n1 basename | tr '\n' ' ')"
    else
        pass "$name"
    fi
}
touch "$SERVE_OUT.2" "$SERVE_ERR.2"
no_secret "stdout log has no admin token" "$ADMIN_TOKEN" "$SERVE_OUT" "$SERVE_OUT.2"
no_secret "stdout log has no tenant-scoped admin token" "$ACME_TOKEN" "$SERVE_OUT" "$SERVE_OUT.2"
no_secret "stdout log has no client secret" "$CLIENT_SECRET" "$SERVE_OUT" "$SERVE_OUT.2"
no_secret "stdout log has no enrolment token" "$ENROLL_TOKEN" "$SERVE_OUT" "$SERVE_OUT.2"
no_secret "stderr has no admin token" "$ADMIN_TOKEN" "$SERVE_ERR" "$SERVE_ERR.2"
no_secret "stderr has no client secret" "$CLIENT_SECRET" "$SERVE_ERR" "$SERVE_ERR.2"
MASTER_KEY_TEXT=$(head -c 200 "$DATA/master.key" 2>/dev/null | tr -d '\n')
no_secret "logs have no master key" "$MASTER_KEY_TEXT" "$SERVE_OUT" "$SERVE_OUT.2" "$SERVE_ERR" "$SERVE_ERR.2"

section "smoke summary"
summary
