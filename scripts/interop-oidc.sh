#!/usr/bin/env bash
# Runs the OpenID Connect interop test (authlib as the relying party, headless Chromium with the
# WebAuthn virtual authenticator for the sign-in) against the built binary.
# Screenshots go to $SIGIL_ARTIFACTS (default: a temp dir).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
args=(--sigil "$SIGIL_BIN")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
exec /opt/peers-venv/bin/python interop/oidc_rp.py "${args[@]}"
