#!/usr/bin/env bash
# Runs the one-click integrations interop test (issue 14): interop/integrations.py drives the real
# `sigil integration auth0-saml|auth0-social|okta-saml|okta-idv` CLI against the Auth0 and Okta fakes
# (interop/fake_auth0.py, interop/fake_okta.py, in the test's own process) next to a real `sigil serve`:
# what each command creates on both sides, the refusals (wrong secret or token, missing scope, grant
# disabled, name taken, invalid name, read-only token) with nothing half-made left, the vendors' first
# request accepted by Sigil, a real sign-in of a passkey user (headless Chromium) through each result
# (Auth0 SAML and social, Okta SAML, Okta IDV cancel and, with the IDV engine and fixtures, a full
# verification), each vendor step done by the fake's helper built from what the fake stored, no
# credential or management token in Sigil's database, outputs or the fakes' logs; the integration doctor (drift
# made through the fakes' backdoors, findings, --repair, deleted objects, a key rotation) and the admin API's
# /integrations, whose request-body secrets are in the same scan; and
# vendor_request_validator.py over both logs. See docs/integrations.md. About 35 s.
# Needs /opt/peers-venv (scripts/install-interop.sh: requests, pysaml2, authlib, openapi-core, PyYAML,
# selenium), xmlsec1, sqlite3, chromium and chromium-driver (else the sign-ins are SKIP lines), and the
# vendor OpenAPI documents in ../shared/reference/vendor-openapi ($SIGIL_VENDOR_OPENAPI_DIR); without
# them every case is a SKIP line. Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
require_sigil_bin interop-integrations.sh
run_python_suite interop/integrations.py --sigil "$SIGIL_BIN"
summary
