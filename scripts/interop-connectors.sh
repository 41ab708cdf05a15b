#!/usr/bin/env bash
# Runs the connector API interop suite (issue 15, docs/connectors.md): interop/connectors.py drives the real
# `sigil serve` with a scripted flow builder acting as Descope (interop/flow_builder.py: holds a connector key, calls
# POST /api/v1/connectors/idv/sessions with an Idempotency-Key and a redirect_url to its own /resume on 127.0.0.1,
# sends the browser to session_url, reads the result on /resume, receives idv.session_started and idv.decided
# webhooks verified with the Standard Webhooks reference library from PyPI through interop/webhook_receiver.py).
# Registration -> IDV -> VERIFIED in headless Chromium (the synthetic ePassport chip of interop/idv_passport.py and a
# selfie through the capture page, as interop/idv_e2e.py does, back on the flow builder cross-site) and with the real
# `sigil-authenticator verify` (the page's hand-off QR, liveness_mode active with frames synthesised by
# interop/idv_liveness_frames.py; and the connector answer's handoff_url alone); a FAILED run (expected names that do
# not match); keys shown once, 401/403/422 refusals, idempotent retries (replayed, refused with another body,
# concurrent), the LiveID step-up (challenge page in Chromium and `sigil-authenticator approve`: match, wrong
# number, declined, PIN where biometric was asked, unanswered until the server expires it; stepup.decided webhooks;
# these run even without the fixtures and the engine), inbound hooks (the flow builder posting signed events to
# /api/v1/hooks/<name> as Descope would: RFC 9421 signatures made by pyauth's http-message-signatures library from
# PyPI, and Descope's x-descope-webhook-s256 HMAC; login.risk -> a LiveID step-up approved in Chromium and
# `sigil-authenticator approve`, user.registered -> an IDV session; replayed, stale, tampered, unsigned deliveries
# refused; also run without the fixtures and the engine), the tenant policy only ever narrowed (document_types;
# liveness_mode active, finished by the capture page's own liveness run in Chromium fed the synthesised frames
# through a test camera), the step-up's live face re-match (SIGIL_CONNECTORS_ONLY=face: a user verified through the
# connector by her email, then `sigil-authenticator approve --liveness` with frames of the same person -> match, of
# another -> refused three times, no_match; then OpenID Connect for her: a CIBA request with acr_values
# urn:sigil:acr:liveid asks the phone for the face re-match, and the code flow's LiveID sign-in in Chromium approved
# with `approve --liveness` gives ID and access tokens naming her IDV session in urn:sigil:claims:verification_process);
# no key, webhook secret, hook secret or link secret in the server's output.
# About 5 minutes (the hooks alone, SIGIL_CONNECTORS_ONLY=hooks, about 15 s; face alone about 3). The driver's docstring
# lists every check.
# Needs the IDV engine ($SIGIL_IDV_ENGINE, default /usr/local/lib/sigil/sigil-idv-engine when it exists) and the
# photographs in ../shared/fixtures ($SIGIL_FIXTURES_DIR overrides) for the identity verification cases: without
# either there is nothing to decide a verification with, and those are one SKIP line (keys, step-up, hooks and the
# privacy scan still run).
# Needs: chromium, chromium-driver, openssl, zbar-tools, librsvg2-bin; /opt/peers-venv with selenium, requests,
# cryptography, authlib, standardwebhooks, http-message-signatures, numpy and Pillow (scripts/install-interop.sh,
# scripts/install-idv-engines.sh).
# Environment: SIGIL_BIN, SIGIL_AUTHENTICATOR_BIN (default .build/debug/…), SIGIL_IDV_ENGINE, SIGIL_FIXTURES_DIR,
# SIGIL_ARTIFACTS (keep screenshots, server logs and the work folder there), SIGIL_CONNECTORS_ONLY (comma-separated
# cases after the keys, e.g. hooks or stepup,hooks).
# Ends with the summed "N passed, M failed"; exits 1 on any failure.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
SIGIL_AUTHENTICATOR_BIN=${SIGIL_AUTHENTICATOR_BIN:-.build/debug/sigil-authenticator}
if [ -z "${SIGIL_IDV_ENGINE:-}" ] && [ -x /usr/local/lib/sigil/sigil-idv-engine ]; then
    SIGIL_IDV_ENGINE=/usr/local/lib/sigil/sigil-idv-engine
fi
FIXTURES=${SIGIL_FIXTURES_DIR:-../shared/fixtures}
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

if [ ! -d "$FIXTURES/faces" ] || [ -z "${SIGIL_IDV_ENGINE:-}" ] || [ ! -x "${SIGIL_IDV_ENGINE:-}" ]; then
    # interop/connectors.py then runs the keys, the LiveID step-up and the inbound hook cases only, and says why it
    # skips the rest.
    SIGIL_IDV_ENGINE=""
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigil-connectors.XXXXXX")
# The driver stops the servers and browsers it starts; if it dies before it can (SIGKILL, a crash), the pids it wrote
# to $WORK/pids (sigil serve, chromedriver) are stopped here, each only while it still runs one of those programs,
# chromedriver's own children (its Chromium) first.
SIGIL_REAL=$(readlink -f "$SIGIL_BIN")
cleanup() {
    local pid exe child
    if [ -f "$WORK/pids" ]; then
        while read -r pid; do
            [ -n "$pid" ] || continue
            exe=$(readlink -f "/proc/$pid/exe" 2>/dev/null) || continue
            case "$exe" in
                "$SIGIL_REAL") kill -TERM "$pid" 2>/dev/null || true ;;
                */chromedriver)
                    for child in $(pgrep -P "$pid" 2>/dev/null); do kill -TERM "$child" 2>/dev/null || true; done
                    kill -TERM "$pid" 2>/dev/null || true
                    ;;
            esac
        done <"$WORK/pids"
    fi
    if [ -n "${SIGIL_ARTIFACTS:-}" ]; then
        echo "interop-connectors.sh: kept $WORK (server logs, data, passports, CLI home)"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

args=(--sigil "$SIGIL_BIN" --authenticator "$SIGIL_AUTHENTICATOR_BIN" --engine "$SIGIL_IDV_ENGINE" --work "$WORK")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
[ -n "${SIGIL_CONNECTORS_ONLY:-}" ] && args+=(--only "$SIGIL_CONNECTORS_ONLY")
run_python_suite interop/connectors.py "${args[@]}"
summary
