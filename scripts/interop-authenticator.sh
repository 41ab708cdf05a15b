#!/usr/bin/env bash
# Runs the authenticator sign-in interop test (headless Chromium, the sigil-authenticator CLI,
# zbarimg, and the APNs/FCM fake) against the built binaries. Screenshots go to $SIGIL_ARTIFACTS.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
args=(--sigil "${SIGIL_BIN:-.build/debug/sigil}" --authenticator "${SIGIL_AUTHENTICATOR_BIN:-.build/debug/sigil-authenticator}")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
exec /opt/peers-venv/bin/python interop/authenticator_signin.py "${args[@]}"
