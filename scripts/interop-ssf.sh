#!/usr/bin/env bash
# Runs the Shared Signals interop suite: interop/ssf_receiver.py is an OpenID Shared Signals Framework 1.0 receiver
# written from the specifications (SSF 1.0, CAEP 1.0, RISC 1.0, RFC 8417 SETs, RFC 8935 push, RFC 8936 poll,
# RFC 9493 subject identifiers) and from Okta's documented SSF receiver, driving a real `sigil serve` as the
# transmitter: discovery (/.well-known/ssf-configuration, also for a path tenant), client_credentials tokens with
# ssf.manage / ssf.read (401 without a token, 403 insufficient_scope without the scope, read-only tokens refused every
# change), stream create/read/list/PATCH/PUT/DELETE, another client's streams 404, verification SETs over push and
# poll verified against jwks_uri, subjects added by email and opaque id (a subject not added gets nothing, a removed
# one nothing more), session-revoked / credential-change (the real sigil-authenticator enrolled and removed) /
# account-disabled SETs, RFC 8936 ack and setErrs, paused (held) and disabled (dropped) streams, a receiver answering
# 503 (the SET arrives later, exactly once by jti), an Okta-profile stream checked by Okta's rules, and no client
# secret, access token or receiver Authorization value in the server's output. One node on SQLite, about 2 minutes
# (most of it waiting for retries). The driver's docstring lists every check.
#
# Usage: scripts/interop-ssf.sh
# Environment:
#   SIGIL_BIN                  the server (default .build/debug/sigil)
#   SIGIL_AUTHENTICATOR_BIN    the CLI authenticator (default .build/debug/sigil-authenticator); without it the
#                              credential-change cases are SKIP lines
#   SIGIL_ARTIFACTS            keep the server's logs and every SET received there (and the work folder)
# Needs /opt/peers-venv with requests, cryptography and joserfc (installed with authlib by scripts/install-interop.sh).
# Prints PASS/FAIL/SKIP lines and "N passed, M failed"; exits 1 on any failure, 2 on usage errors.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
require_sigil_bin interop-ssf.sh
SIGIL_AUTHENTICATOR_BIN=${SIGIL_AUTHENTICATOR_BIN:-$REPO_ROOT/.build/debug/sigil-authenticator}

PY=/opt/peers-venv/bin/python
if [ ! -x "$PY" ] || ! "$PY" -c 'import requests, joserfc, cryptography' 2>/dev/null; then
    echo "interop-ssf.sh: $PY with requests, cryptography and joserfc (authlib) is required (run scripts/install-interop.sh)" >&2
    exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-ssf.XXXXXX")
# The driver stops the server it starts; if it dies before it can, the pid it wrote to $WORK/pids is stopped here,
# only while it is still our sigil binary.
SIGIL_REAL=$(readlink -f "$SIGIL_BIN")
cleanup() {
    local pid
    if [ -f "$WORK/pids" ]; then
        while read -r pid; do
            [ -n "$pid" ] || continue
            if [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$SIGIL_REAL" ]; then
                kill -TERM "$pid" 2>/dev/null || true
            fi
        done <"$WORK/pids"
    fi
    if [ -n "${SIGIL_ARTIFACTS:-}" ]; then
        echo "interop-ssf.sh: kept $WORK (server data and logs, the authenticator homes)"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

args=(--sigil "$SIGIL_BIN" --work "$WORK")
if [ -x "$SIGIL_AUTHENTICATOR_BIN" ]; then
    args+=(--authenticator "$SIGIL_AUTHENTICATOR_BIN")
else
    echo "NOTE: no sigil-authenticator at $SIGIL_AUTHENTICATOR_BIN: the credential-change cases are skipped"
    args+=(--authenticator "")
fi
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
run_python_suite interop/ssf_receiver.py "${args[@]}"
summary
