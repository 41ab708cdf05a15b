#!/usr/bin/env bash
# Runs the SAML IdP interop test: pysaml2 service providers (xmlsec1 verifies signatures) against
# the built `sigil` binary through headless Chromium with a WebAuthn virtual authenticator.
# Needs: chromium, chromium-driver, xmlsec1; /opt/peers-venv with selenium, requests, pysaml2.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
args=(--sigil "$SIGIL_BIN")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
exec /opt/peers-venv/bin/python interop/saml_sp.py "${args[@]}"
