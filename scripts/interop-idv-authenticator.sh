#!/usr/bin/env bash
# Runs the identity-verification interop test driven by the Sigil app: interop/idv_authenticator.py, the
# real `sigil serve` with headless Chromium as the desktop and the real `sigil-authenticator verify` CLI as
# the phone (the hand-off QR read from the capture page with rsvg-convert + zbarimg, the synthetic ePassport
# chip of interop/idv_passport.py, a selfie): the account page's "Verify my identity" (back to /account,
# "Verified on …"), verified_claims to an OIDC client allowed identity_assurance (and none to one that is
# not), an Okta-shaped IDV session finished on the phone, the refusals (another user's device, evidence
# before the claim, the hand-off twice, an altered DG1, the wrong face, an expired hand-off on a second
# server with SIGIL_INSECURE_IDV_SESSION_LIFETIME_SECONDS=4) and a privacy scan of the servers' output.
# Driving licences (interop/idv_cards.py): a front and back that agree -> VERIFIED; a front printed with another
# family name -> FAILED front_matches_barcode / front_family_name_differs; a front with only the photo -> VERIFIED.
# Liveness: require_liveness is false except in the liveness cases, which switch it on, send frames synthesised from
# one photo with interop/idv_liveness_frames.py (a rendered injection: it tests the protocol path with the real
# engine, not liveness strength) through `sigil-authenticator verify --liveness DIR`, and switch it off again.
# Face matching needs the engine: $SIGIL_IDV_ENGINE (default /usr/local/lib/sigil/sigil-idv-engine when it
# exists); without it the server is given a path that does not exist and the face-dependent cases are SKIP
# lines naming the server's engine_unavailable (the liveness cases are skipped: their frames need the engine). The photographs come from ../shared/fixtures
# ($SIGIL_FIXTURES_DIR; absent: the face cases are skipped).
# Needs: chromium, chromium-driver, openssl, zbar-tools, librsvg2-bin; /opt/peers-venv with selenium,
# requests, cryptography, authlib (scripts/install-interop.sh). Screenshots go to $SIGIL_ARTIFACTS.
# Ends with the summed "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
SIGIL_AUTHENTICATOR_BIN=${SIGIL_AUTHENTICATOR_BIN:-.build/debug/sigil-authenticator}
if [ -z "${SIGIL_IDV_ENGINE:-}" ] && [ -x /usr/local/lib/sigil/sigil-idv-engine ]; then
    SIGIL_IDV_ENGINE=/usr/local/lib/sigil/sigil-idv-engine
fi
args=(--sigil "$SIGIL_BIN" --authenticator "$SIGIL_AUTHENTICATOR_BIN")
[ -n "${SIGIL_IDV_ENGINE:-}" ] && args+=(--engine "$SIGIL_IDV_ENGINE")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
run_python_suite interop/idv_authenticator.py "${args[@]}"
summary
