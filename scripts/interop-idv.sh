#!/usr/bin/env bash
# Runs the identity-verification interop tests (issue 13: Okta "Bring your own IDV") against the built
# `sigil` binary:
#   interop/idv_passport.py --self-test   the synthetic ePassport chip (TD3 DG1 with its check digits, an
#                              ISO 19794-5 DG2, EF.SOD signed with `openssl cms` by a document signer of a
#                              brainpoolP256r1 CSCA) and its forgeries, checked with `openssl cms -verify`
#                              and by re-hashing
#   interop/ida_rules.py --self-test      the OIDC4IDA rules written from the spec text (verified_claims and
#                              their requests), over the spec's examples restated and broken variants
#   interop/idv_e2e.py         the real `sigil serve` as Okta's IDV vendor: Python requests as Okta
#                              (interop/okta_idv.py's OktaIDVClient: PAR, token, Okta's evaluation, the
#                              OIDC4IDA rules (ida_rules.py) always, the OIDC4IDA schema when
#                              $SIGIL_IDA_SCHEMA_DIR has it) and headless Chromium as the
#                              person (chip files and a selfie through the capture page, the fake camera, the
#                              desktop-to-phone hand-off through the QR code); VERIFIED, each FAILED, cancel,
#                              replays, cookie and CSRF refusals, the admin API, and a privacy scan of the
#                              server's output and database. Liveness is waived by the test policy.
# Face matching needs the engine: $SIGIL_IDV_ENGINE (default /usr/local/lib/sigil/sigil-idv-engine when it
# exists); without it the face-dependent cases are SKIP lines naming the server's engine_unavailable.
# The photographs come from ../shared/fixtures (absent: those cases are skipped).
# Needs: chromium, chromium-driver, openssl, zbar-tools, librsvg2-bin; /opt/peers-venv with selenium, requests,
# cryptography (scripts/install-interop.sh).
# Ends with the summed "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
# The late-arrival case needs the test-only lifetime knob of `sigil serve`.
SIGIL_IDV_SESSION_LIFETIME_ENV=${SIGIL_IDV_SESSION_LIFETIME_ENV:-SIGIL_INSECURE_IDV_SESSION_LIFETIME_SECONDS}
if [ -z "${SIGIL_IDV_ENGINE:-}" ] && [ -x /usr/local/lib/sigil/sigil-idv-engine ]; then
    SIGIL_IDV_ENGINE=/usr/local/lib/sigil/sigil-idv-engine
fi
args=(--sigil "$SIGIL_BIN")
[ -n "${SIGIL_IDV_ENGINE:-}" ] && args+=(--engine "$SIGIL_IDV_ENGINE")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
[ -n "${SIGIL_IDV_SESSION_LIFETIME_ENV:-}" ] && args+=(--session-lifetime-env "$SIGIL_IDV_SESSION_LIFETIME_ENV")
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
run_python_suite interop/idv_passport.py --self-test
run_python_suite interop/ida_rules.py --self-test
run_python_suite interop/idv_e2e.py "${args[@]}"
summary
