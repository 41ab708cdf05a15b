#!/usr/bin/env bash
# Runs the AdminX interop suite (issue 16): headless Chromium walks the admin portal as a seed's
# steps are written (OIDC and SAML applications, Authorization Server, SAMLv2 certificate, users,
# audit, tenants), completes real sign-ins through what it configured (authlib, pysaml2), attacks
# CSRF, origin, framing and roles directly, and scans every page with axe-core. With
# $SIGIL_ARTIFACTS set, a screenshot of each page goes there (docs/images/adminx/ holds the docs' set).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
args=(--sigil "$SIGIL_BIN")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--screenshots "$SIGIL_ARTIFACTS")
exec /opt/peers-venv/bin/python interop/adminx.py "${args[@]}"
