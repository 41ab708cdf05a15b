#!/usr/bin/env bash
# Sigil beside glewlwyd (issue 17, item 1): Debian's glewlwyd 2.7 and Sigil on the same machine,
# each on a free 127.0.0.1 port with a throwaway SQLite database, measured with wrk in alternating
# rounds on two scenarios:
#   token      POST token endpoint, client_credentials, client_secret_basic, one scope, RS256
#              access token signed with a 2048-bit RSA key
#   discovery  GET /.well-known/openid-configuration
# Prints req/s per round, the medians, the ratios Sigil/glewlwyd (goals: token >= 5, discovery
# >= 1) and a final `BENCH {json}` line. Not part of CI.
#
# Usage: scripts/bench/glewlwyd.sh [--duration SECONDS] [--rounds N]
#   --duration  seconds per wrk run (default 10, at most 60)
#   --rounds    alternating rounds (default 3, at most 9)
# Environment:
#   SIGIL_BIN                  the sigil binary (default .build/release/sigil; build it first with
#                              `swift build -c release --product sigil`; this script never builds)
#   GLEWLWYD_BENCH_LOG_LEVEL   glewlwyd's log_level (default INFO, its packaged default)
#   GLEWLWYD_BENCH_PBKDF2_ITERATIONS  PBKDF2 iterations glewlwyd hashes the client secret with
#                              (default 1, like Sigil's single SHA-256 of a random secret;
#                              glewlwyd's own default, 150000, makes its token endpoint PBKDF2-bound)
#   TMPDIR                     where the temporary directory (both databases) goes (default /tmp)
#   SIGIL_RSA_SIGNER           passed to Sigil as is (boringssl to compare signers)
# Needs root to install glewlwyd and wrk with apt-get when they are missing.
# See scripts/bench/README.md, "Sigil beside glewlwyd".

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

DURATION=10
ROUNDS=3
CONNECTIONS=8
while [ "$#" -gt 0 ]; do
    case "$1" in
        --duration) DURATION=${2:-}; shift ;;
        --rounds) ROUNDS=${2:-}; shift ;;
        -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "usage: $0 [--duration SECONDS] [--rounds N]" >&2; exit 2 ;;
    esac
    shift
done
case "$DURATION" in '' | *[!0-9]* | 0) echo "--duration takes whole seconds (1-60)" >&2; exit 2 ;; esac
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "--rounds takes a whole number (1-9)" >&2; exit 2 ;; esac
[ "$DURATION" -le 60 ] || { echo "--duration is capped at 60 s" >&2; exit 2; }
[ "$ROUNDS" -le 9 ] || { echo "--rounds is capped at 9" >&2; exit 2; }

for tool in curl python3 openssl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is required" >&2; exit 2; }
done

# apt_install PACKAGE: installs a Debian package (as root), refreshing the lists once if needed.
apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench: $1 is missing and this is not root; run: apt-get install -y $1" >&2
        exit 2
    fi
    echo "bench: installing $1 with apt-get" >&2
    # policy-rc.d in containers keeps the packaged glewlwyd service from starting; on a machine
    # with systemd it starts on port 4593, which this script does not use.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null; }
}
command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v glewlwyd >/dev/null 2>&1 || apt_install glewlwyd
GLEWLWYD_VERSION=$(glewlwyd --version 2>/dev/null | head -n 1)

# The schema (with its default data: admin/password, the database user and client backends) ships
# with the package; dbconfig-common's copy is plain SQL, the documentation's is gzipped.
GLEWLWYD_SCHEMA=$(dpkg -L glewlwyd 2>/dev/null | grep -E '/dbconfig-common/data/glewlwyd/install/sqlite3$|/init\.sqlite3\.sql(\.gz)?$' | head -n 1 || true)
[ -n "$GLEWLWYD_SCHEMA" ] && [ -f "$GLEWLWYD_SCHEMA" ] || {
    echo "bench: cannot find glewlwyd's SQLite schema (dpkg -L glewlwyd)" >&2
    exit 2
}
GLEWLWYD_LIB=/usr/lib/glewlwyd
[ -d "$GLEWLWYD_LIB/plugin" ] || GLEWLWYD_LIB=$(dirname "$(dpkg -L glewlwyd | grep -m1 '/libprotocol_oidc\.so$')")/..

SIGIL_BIN=${SIGIL_BIN:-$REPO_ROOT/.build/release/sigil}
case "$SIGIL_BIN" in /*) ;; *) SIGIL_BIN="$PWD/$SIGIL_BIN" ;; esac  # relative to the caller's directory
cd "$REPO_ROOT"
[ -x "$SIGIL_BIN" ] || {
    echo "bench: no executable at $SIGIL_BIN (swift build -c release --product sigil, or set SIGIL_BIN)" >&2
    exit 2
}
case "$SIGIL_BIN" in */debug/* | *debug*) echo "bench: $SIGIL_BIN looks like a debug build: its numbers mean nothing" >&2 ;; esac

unset SIGIL_DATABASE_URL SIGIL_MASTER_KEY SIGIL_HOST SIGIL_PORT SIGIL_DATA_DIR SIGIL_PUBLIC_URL SIGIL_LOG_LEVEL
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-glewlwyd-bench.XXXXXX")
# Both databases live here: on a disk, glewlwyd's SQLite (rollback journal, synchronous FULL) pays
# fsyncs on every token that Sigil's (WAL, synchronous NORMAL) does not; on tmpfs neither does.
WORK_FS=$(stat -f -c %T "$WORK" 2>/dev/null || echo unknown)
SIGIL_PID=""
GLEWLWYD_PID=""
cleanup() {
    local pid
    for pid in "$SIGIL_PID" "$GLEWLWYD_PID"; do
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "$SIGIL_PID" "$GLEWLWYD_PID"; do
        [ -n "$pid" ] || continue
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# Reads a token response on stdin, checks the access token's JOSE header says RS256, prints
# "alg kid length".
TOKEN_HEADER_PY='import base64, json, sys
t = json.load(sys.stdin)["access_token"]
h = json.loads(base64.urlsafe_b64decode(t.split(".")[0] + "=="))
assert h.get("alg") == "RS256", h
print(h.get("alg"), h.get("kid"), len(t))'

# ---------------------------------------------------------------------------------------------------
section "glewlwyd $GLEWLWYD_VERSION: throwaway SQLite database and config"
GW_DIR=$WORK/glewlwyd
mkdir -p "$GW_DIR"
GW_PBKDF2_ITERATIONS=${GLEWLWYD_BENCH_PBKDF2_ITERATIONS:-1}
case "$GW_PBKDF2_ITERATIONS" in '' | *[!0-9]* | 0) echo "GLEWLWYD_BENCH_PBKDF2_ITERATIONS must be a positive integer" >&2; exit 2 ;; esac
python3 - "$GLEWLWYD_SCHEMA" "$GW_DIR/glewlwyd.db" "$GW_PBKDF2_ITERATIONS" <<'PY'
import gzip, json, sqlite3, sys
src, db, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
sql = (gzip.open(src, "rt") if src.endswith(".gz") else open(src)).read()
c = sqlite3.connect(db)
c.executescript(sql)
assert c.execute("SELECT count(*) FROM g_user WHERE gu_username = 'admin'").fetchone()[0] == 1
# The database client backend's "pbkdf2-iterations" (CLIENT_DATABASE.md): how client secrets are
# hashed when the client is added, and so what every client authentication costs.
(params,) = c.execute("SELECT gcmi_parameters FROM g_client_module_instance WHERE gcmi_name = 'database'").fetchone()
params = json.loads(params)
params["pbkdf2-iterations"] = iterations
c.execute("UPDATE g_client_module_instance SET gcmi_parameters = ? WHERE gcmi_name = 'database'", (json.dumps(params),))
c.commit()
PY
GW_PORT=$(free_port)
GW="http://127.0.0.1:$GW_PORT"
# Only what this run needs: HTTP on 127.0.0.1, the packaged modules, SQLite in $GW_DIR, the log in
# a file (glewlwyd's packaged default is log_mode file, log_level INFO). No static files.
cat >"$GW_DIR/glewlwyd.conf" <<EOF
port=$GW_PORT
bind_address="127.0.0.1"
external_url="$GW"
login_url="login.html"
api_prefix="api"
log_mode="file"
log_level="${GLEWLWYD_BENCH_LOG_LEVEL:-INFO}"
log_file="$GW_DIR/glewlwyd.log"
cookie_secure=0
admin_session_authentication="cookie"
profile_session_authentication="cookie"
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="$GLEWLWYD_LIB/user"
client_module_path="$GLEWLWYD_LIB/client"
user_auth_scheme_module_path="$GLEWLWYD_LIB/scheme"
plugin_module_path="$GLEWLWYD_LIB/plugin"
hash_algorithm="SHA512"
database =
{
  type = "sqlite3"
  path = "$GW_DIR/glewlwyd.db"
};
EOF
glewlwyd --config-file="$GW_DIR/glewlwyd.conf" >"$GW_DIR/stdout" 2>"$GW_DIR/stderr" </dev/null &
GLEWLWYD_PID=$!
if ! wait_http_200 "$GW/config/" 30 "$GLEWLWYD_PID"; then
    echo "bench: glewlwyd did not start" >&2
    tail -n 20 "$GW_DIR/stdout" "$GW_DIR/stderr" "$GW_DIR/glewlwyd.log" >&2 2>/dev/null || true
    exit 1
fi
echo "glewlwyd pid $GLEWLWYD_PID on $GW"

section "glewlwyd: OIDC plugin (RS256, RSA 2048) and a client_credentials client, via the admin API"
# gw_admin METHOD PATH [JSON-FILE]: an admin API call with the session cookie; fails on non-200.
gw_admin() {
    local status
    status=$(curl -sS -o "$GW_DIR/last-response" -w '%{http_code}' -b "$GW_DIR/cookies" -X "$1" \
        -H 'Content-Type: application/json' ${3:+--data-binary "@$3"} "$GW/api$2")
    if [ "$status" != 200 ]; then
        echo "bench: glewlwyd $1 /api$2 answered $status: $(head -c 500 "$GW_DIR/last-response")" >&2
        exit 1
    fi
}
# A fresh database has the administrator admin/password with scope g_admin; signing in with the
# password sets the session cookie the admin API requires.
printf '{"username":"admin","password":"password"}' >"$GW_DIR/auth.json"
status=$(curl -sS -o "$GW_DIR/last-response" -w '%{http_code}' -c "$GW_DIR/cookies" -X POST \
    -H 'Content-Type: application/json' --data-binary "@$GW_DIR/auth.json" "$GW/api/auth/")
[ "$status" = 200 ] || { echo "bench: glewlwyd admin sign-in answered $status" >&2; exit 1; }

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$GW_DIR/rsa.key" 2>/dev/null
openssl pkey -in "$GW_DIR/rsa.key" -pubout -out "$GW_DIR/rsa.pub" 2>/dev/null
GW_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
GW_CLIENT=bench-client
GW_SCOPE=bench
python3 - "$GW_DIR" "$GW" "$GW_CLIENT" "$GW_SECRET" "$GW_SCOPE" <<'PY'
import json, sys
d, base, client, secret, scope = sys.argv[1:]
# Plugin instance "oidc" (module oidc): jwt-type rsa + jwt-key-size 256 = RS256 with the PEM key;
# allow-non-oidc + auth-type-client-enabled let it answer client_credentials (an OAuth2 grant).
plugin = {
    "module": "oidc", "name": "oidc", "display_name": "OpenID Connect (bench)", "order_rank": 0, "readonly": False,
    "parameters": {
        "iss": base + "/api/oidc",
        "jwt-type": "rsa", "jwt-key-size": "256",
        "key": open(d + "/rsa.key").read(), "cert": open(d + "/rsa.pub").read(),
        "access-token-duration": 3600, "refresh-token-duration": 1209600, "code-duration": 600,
        "refresh-token-rolling": False, "allow-non-oidc": True,
        "auth-type-code-enabled": True, "auth-type-token-enabled": False, "auth-type-password-enabled": False,
        "auth-type-client-enabled": True, "auth-type-refresh-enabled": True,
        "scope": [],
    },
}
json.dump(plugin, open(d + "/plugin.json", "w"))
json.dump({"name": scope, "display_name": "Benchmark", "description": "benchmark scope",
           "password_required": False, "scheme": {}}, open(d + "/scope.json", "w"))
# A confidential client in the database client backend, its secret stored as "password".
json.dump({"client_id": client, "name": client, "description": "benchmark client", "enabled": True,
           "confidential": True, "password": secret, "scope": [scope],
           "authorization_type": ["client_credentials"], "redirect_uri": ["https://rp.example/cb"],
           "token_endpoint_auth_method": ["client_secret_basic"]}, open(d + "/client.json", "w"))
PY
gw_admin POST /mod/plugin/ "$GW_DIR/plugin.json"
gw_admin POST /scope/ "$GW_DIR/scope.json"
gw_admin POST /client/ "$GW_DIR/client.json"
stored=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT gc_password FROM g_client WHERE gc_client_id = ?", (sys.argv[2],)).fetchone()[0].rsplit(",", 1)[-1])' "$GW_DIR/glewlwyd.db" "$GW_CLIENT")
[ "$stored" = "$GW_PBKDF2_ITERATIONS" ] || { echo "bench: glewlwyd stored the client secret with $stored PBKDF2 iterations, not $GW_PBKDF2_ITERATIONS" >&2; exit 1; }
echo "glewlwyd client secret: PBKDF2-HMAC-SHA256, $stored iteration(s) (glewlwyd's default is 150000)"
GW_TOKEN_URL="$GW/api/oidc/token"
GW_DISCOVERY_URL="$GW/api/oidc/.well-known/openid-configuration"
GW_TOKEN_BODY="grant_type=client_credentials&scope=$GW_SCOPE"
read -r alg kid len < <(curl -sS -f -u "$GW_CLIENT:$GW_SECRET" -X POST -d "$GW_TOKEN_BODY" "$GW_TOKEN_URL" | python3 -c "$TOKEN_HEADER_PY") ||
    { echo "bench: glewlwyd gave no RS256 access token" >&2; tail -n 5 "$GW_DIR/glewlwyd.log" >&2; exit 1; }
echo "glewlwyd token: alg $alg, kid $kid, $len bytes"
status=$(curl -sS -o /dev/null -w '%{http_code}' -u "$GW_CLIENT:wrong-secret" -X POST -d "$GW_TOKEN_BODY" "$GW_TOKEN_URL")
case "$status" in 4*) echo "glewlwyd token with a wrong secret: $status (refused)" ;; *) echo "bench: glewlwyd accepted a wrong client secret ($status)" >&2; exit 1 ;; esac
status=$(curl -sS -o "$GW_DIR/discovery.json" -w '%{http_code}' "$GW_DISCOVERY_URL")
[ "$status" = 200 ] || { echo "bench: glewlwyd discovery answered $status" >&2; exit 1; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["token_endpoint"] == sys.argv[2], d; print("glewlwyd discovery: 200,", len(open(sys.argv[1],"rb").read()), "bytes")' "$GW_DIR/discovery.json" "$GW_TOKEN_URL"

# ---------------------------------------------------------------------------------------------------
section "Sigil $("$SIGIL_BIN" --version 2>/dev/null || echo '?'): $SIGIL_BIN"
SG_DIR=$WORK/sigil
mkdir -p "$SG_DIR"
SG_PORT=$(free_port)
SG="http://127.0.0.1:$SG_PORT"
# The default log level (info: one JSON access-log line per request, here into a file), as users
# run it. The rate-limit scale keeps the token endpoint's per-client limit out of the way, as in
# oidc.sh.
SIGIL_RATE_LIMIT_SCALE=${SIGIL_RATE_LIMIT_SCALE:-100000} "$SIGIL_BIN" serve --port "$SG_PORT" --data-dir "$SG_DIR/data" \
    --public-url "$SG" >"$SG_DIR/stdout" 2>"$SG_DIR/stderr" </dev/null &
SIGIL_PID=$!
if ! wait_http_200 "$SG/readyz" 60 "$SIGIL_PID"; then
    echo "bench: sigil did not become ready" >&2
    tail -n 20 "$SG_DIR/stdout" "$SG_DIR/stderr" >&2 || true
    exit 1
fi
echo "sigil pid $SIGIL_PID on $SG"
ADMIN_TOKEN=$("$SIGIL_BIN" admin token create --data-dir "$SG_DIR/data")
# As oidc.sh registers its clients, with client_secret_basic so both servers see the same request.
curl -sS -f -X POST "$SG/api/admin/v1/applications" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"name":"bench-RS256","protocol":"oidc","redirect_uris":["https://rp.example/cb"],"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic","id_token_signed_response_alg":"RS256"}' \
    >"$SG_DIR/app.json"
read -r SG_CLIENT SG_SECRET < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["oidc"]["client_id"], d["client_secret"])' "$SG_DIR/app.json")
# Sigil's scopes are a fixed set and client_credentials refuses openid; profile is in a new
# client's allowed scopes, so each server gets a one-scope request.
SG_SCOPE=profile
SG_TOKEN_URL="$SG/oauth2/token"
SG_DISCOVERY_URL="$SG/.well-known/openid-configuration"
SG_TOKEN_BODY="grant_type=client_credentials&scope=$SG_SCOPE"
read -r alg kid len < <(curl -sS -f -u "$SG_CLIENT:$SG_SECRET" -X POST -d "$SG_TOKEN_BODY" "$SG_TOKEN_URL" | python3 -c "$TOKEN_HEADER_PY") ||
    { echo "bench: sigil gave no RS256 access token" >&2; exit 1; }
echo "sigil token: alg $alg, kid $kid, $len bytes"
status=$(curl -sS -o /dev/null -w '%{http_code}' "$SG_DISCOVERY_URL")
[ "$status" = 200 ] || { echo "bench: sigil discovery answered $status" >&2; exit 1; }
echo "sigil discovery: 200"

# ---------------------------------------------------------------------------------------------------
# wrk scripts: the token request with HTTP Basic client authentication.
token_lua() {  # token_lua FILE BODY CLIENT SECRET
    local basic
    basic=$(printf '%s:%s' "$3" "$4" | base64 -w0)
    cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = "$2"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA
}
token_lua "$WORK/token-sigil.lua" "$SG_TOKEN_BODY" "$SG_CLIENT" "$SG_SECRET"
token_lua "$WORK/token-glewlwyd.lua" "$GW_TOKEN_BODY" "$GW_CLIENT" "$GW_SECRET"

# Warm-up, unmeasured: a few requests of each kind to each server.
for _ in $(seq 1 20); do
    curl -s -o /dev/null -u "$SG_CLIENT:$SG_SECRET" -X POST -d "$SG_TOKEN_BODY" "$SG_TOKEN_URL" || true
    curl -s -o /dev/null -u "$GW_CLIENT:$GW_SECRET" -X POST -d "$GW_TOKEN_BODY" "$GW_TOKEN_URL" || true
    curl -s -o /dev/null "$SG_DISCOVERY_URL" || true
    curl -s -o /dev/null "$GW_DISCOVERY_URL" || true
done

RESULTS=$WORK/results.tsv
: >"$RESULTS"
# measure ROUND SCENARIO SERVER URL [LUA]: one wrk run; appends
# "round scenario server rps p50_ms p99_ms non2xx socket_errors" to $RESULTS.
measure() {
    local round=$1 scenario=$2 server=$3 url=$4 lua=${5:-} out
    out=$WORK/wrk-$round-$scenario-$server.txt
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency ${lua:+-s "$lua"} "$url" >"$out" 2>&1 || true
    python3 - "$out" "$round" "$scenario" "$server" >>"$RESULTS" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v)
    if not m: return "null"
    n, u = float(m.group(1)), m.group(2)
    return f"{n * {'us': 0.001, 'ms': 1.0, 's': 1000.0, 'm': 60000.0}[u]:.3f}"
rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
print("\t".join([sys.argv[2], sys.argv[3], sys.argv[4],
                 rps.group(1) if rps else "null",
                 ms(p50.group(1)) if p50 else "null", ms(p99.group(1)) if p99 else "null",
                 non2xx.group(1) if non2xx else "0",
                 str(sum(int(x) for x in sock.groups())) if sock else "0"]))
PY
    local line
    line=$(tail -n 1 "$RESULTS")
    IFS=$'\t' read -r _ _ _ rps p50 p99 non2xx sockerr <<<"$line"
    printf '  round %s  %-9s  %-8s  %10s req/s   p50 %s ms   p99 %s ms\n' "$round" "$scenario" "$server" "$rps" "$p50" "$p99"
    if [ "$non2xx" != 0 ]; then
        echo "bench: round $round $scenario $server: $non2xx non-2xx responses; this round of $scenario is discarded" >&2
        sed -n '1,20p' "$out" | sed 's/^/    /' >&2
    fi
    [ "$sockerr" = 0 ] || echo "bench: round $round $scenario $server: $sockerr socket errors (connect/read/write/timeout)" >&2
    if [ "$rps" = null ]; then
        echo "bench: round $round $scenario $server: wrk gave no figure; this round of $scenario is discarded" >&2
        sed -n '1,20p' "$out" | sed 's/^/    /' >&2
    fi
    local pid=$SIGIL_PID
    [ "$server" = sigil ] || pid=$GLEWLWYD_PID
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "bench: $server (pid $pid) is no longer running" >&2
        tail -n 20 "$WORK/$server"/std* >&2 2>/dev/null || true
        exit 1
    fi
}

section "alternating rounds: wrk -t1 -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds, $(nproc) cores"
echo "databases on $WORK_FS ($WORK); glewlwyd client secrets: $GW_PBKDF2_ITERATIONS PBKDF2 iteration(s)"
echo "load before: $(uptime)"
for round in $(seq 1 "$ROUNDS"); do
    measure "$round" token sigil "$SG_TOKEN_URL" "$WORK/token-sigil.lua"
    measure "$round" token glewlwyd "$GW_TOKEN_URL" "$WORK/token-glewlwyd.lua"
    measure "$round" discovery sigil "$SG_DISCOVERY_URL"
    measure "$round" discovery glewlwyd "$GW_DISCOVERY_URL"
done
LOAD_AFTER=$(uptime)
echo "load after: $LOAD_AFTER"
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo null; }
SIGIL_RSS=$(rss_kib "$SIGIL_PID")
GLEWLWYD_RSS=$(rss_kib "$GLEWLWYD_PID")

section "result"
python3 - "$RESULTS" "$ROUNDS" "$DURATION" "$CONNECTIONS" "$SIGIL_BIN" "$GLEWLWYD_VERSION" "${SIGIL_RSS:-null}" "${GLEWLWYD_RSS:-null}" "$LOAD_AFTER" \
    "$GW_PBKDF2_ITERATIONS" "$WORK_FS" <<'PY'
import json, os, statistics, sys
path, rounds, duration, conns, binary, gw_version, sigil_rss, gw_rss, load, iterations, work_fs = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
num = lambda v: None if v == "null" else float(v)
runs = {}
for r, scen, server, rps, p50, p99, non2xx, sock in rows:
    runs[(int(r), scen, server)] = dict(rps=num(rps), p50=num(p50), p99=num(p99), non2xx=int(non2xx), sock=int(sock))
goals = {"token": 5.0, "discovery": 1.0}
out = {"rounds": int(rounds), "duration_s": int(duration), "connections": int(conns), "cores": os.cpu_count(),
       "sigil_bin": binary, "glewlwyd_version": gw_version, "glewlwyd_pbkdf2_iterations": int(iterations),
       "work_fs": work_fs,
       "sigil_rss_after_kib": int(sigil_rss) if sigil_rss.isdigit() else None,
       "glewlwyd_rss_after_kib": int(gw_rss) if gw_rss.isdigit() else None}
med = lambda xs, digits=1: round(statistics.median(xs), digits) if xs else None
for scen in ("token", "discovery"):
    print(f"{scen}:")
    print(f"  {'round':>5}  {'sigil req/s':>12}  {'glewlwyd req/s':>14}  {'ratio':>6}")
    kept = {"sigil": [], "glewlwyd": []}
    lat = {"sigil": ([], []), "glewlwyd": ([], [])}
    per_round = []
    for r in range(1, int(rounds) + 1):
        s, g = runs.get((r, scen, "sigil")), runs.get((r, scen, "glewlwyd"))
        bad = any(x is None or x["rps"] is None or x["non2xx"] > 0 for x in (s, g))
        sr = s["rps"] if s else None
        gr = g["rps"] if g else None
        ratio = (sr / gr) if (sr and gr) else None
        note = "  discarded (non-2xx or no figure)" if bad else ""
        fmt = lambda v: f"{v:,.0f}" if v is not None else "-"
        print(f"  {r:>5}  {fmt(sr):>12}  {fmt(gr):>14}  {(f'{ratio:.2f}' if ratio else '-'):>6}{note}")
        per_round.append({"round": r, "sigil_rps": sr, "glewlwyd_rps": gr, "discarded": bad})
        if not bad:
            for name, x in (("sigil", s), ("glewlwyd", g)):
                kept[name].append(x["rps"])
                if x["p50"] is not None: lat[name][0].append(x["p50"])
                if x["p99"] is not None: lat[name][1].append(x["p99"])
    ms, mg = med(kept["sigil"]), med(kept["glewlwyd"])
    ratio = round(ms / mg, 3) if ms and mg else None
    goal = goals[scen]
    verdict = "no figure" if ratio is None else ("meets" if ratio >= goal else "below")
    print(f"  median  {ms if ms is not None else '-':>12}  {mg if mg is not None else '-':>14}  "
          f"ratio sigil/glewlwyd {ratio if ratio is not None else '-'} (goal >= {goal:g}: {verdict}; "
          f"{len(kept['sigil'])} of {rounds} rounds kept)")
    for name in ("sigil", "glewlwyd"):
        p50s, p99s = lat[name]
        print(f"  {name:>8} latency: median p50 {med(p50s, 3) or '-'} ms, median p99 {med(p99s, 3) or '-'} ms")
    out[scen] = {"sigil_rps_median": ms, "glewlwyd_rps_median": mg, "ratio": ratio, "goal": goal,
                 "rounds_kept": len(kept["sigil"]), "per_round": per_round,
                 "sigil_p50_ms": med(lat["sigil"][0], 3), "sigil_p99_ms": med(lat["sigil"][1], 3),
                 "glewlwyd_p50_ms": med(lat["glewlwyd"][0], 3), "glewlwyd_p99_ms": med(lat["glewlwyd"][1], 3)}
print(f"RSS after load (KiB): sigil {sigil_rss}, glewlwyd {gw_rss}")
out["load_after"] = load.strip()
print("BENCH " + json.dumps(out, separators=(", ", ": ")))
# Exit 1 when a scenario kept no round: there is nothing to compare.
sys.exit(0 if all(out[s]["rounds_kept"] > 0 for s in ("token", "discovery")) else 1)
PY
