#!/usr/bin/env bash
# Runs the passkey sign-in interop test (headless Chromium, WebAuthn virtual authenticator)
# against the built binary. Screenshots go to $SIGIL_ARTIFACTS (default: a temp dir).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
args=(--sigil "$SIGIL_BIN")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
exec /opt/peers-venv/bin/python interop/passkey_signin.py "${args[@]}"
