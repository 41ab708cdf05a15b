#!/usr/bin/env bash
# Runs the authenticator interop tests against the built binaries, one after the other:
#   interop/authenticator_signin.py  sign-in with headless Chromium, the sigil-authenticator CLI, zbarimg
#                                    and the APNs/FCM fake
#   interop/oidc_stepup.py           OIDC step-up with RFC 9470: authlib as the RP, a resource server asking
#                                    for acr urn:sigil:acr:liveid, Chromium and the CLI approving with face,
#                                    fingerprint or PIN
# Screenshots go to $SIGIL_ARTIFACTS (the step-up suite's to $SIGIL_ARTIFACTS/oidc_stepup).
# Ends with the summed "N passed, M failed"; exits 1 if either suite failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
args=(--sigil "${SIGIL_BIN:-.build/debug/sigil}" --authenticator "${SIGIL_AUTHENTICATOR_BIN:-.build/debug/sigil-authenticator}")
signin_args=("${args[@]}")
stepup_args=("${args[@]}")
if [ -n "${SIGIL_ARTIFACTS:-}" ]; then
    signin_args+=(--artifacts "$SIGIL_ARTIFACTS")
    stepup_args+=(--artifacts "$SIGIL_ARTIFACTS/oidc_stepup")
fi
run_python_suite interop/authenticator_signin.py "${signin_args[@]}"
run_python_suite interop/oidc_stepup.py "${stepup_args[@]}"
summary
