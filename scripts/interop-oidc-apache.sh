#!/usr/bin/env bash
# Runs interop/oidc_mod_auth_openidc.py: Apache httpd with Debian's mod_auth_openidc as a relying
# party of the built binary (headless Chromium, virtual passkey). Needs root and
# scripts/install-apache-oidc.sh. Screenshots go to $SIGIL_ARTIFACTS (default: a temp dir).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
args=(--sigil "$SIGIL_BIN")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
exec /opt/peers-venv/bin/python interop/oidc_mod_auth_openidc.py "${args[@]}"
