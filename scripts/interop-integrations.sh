#!/usr/bin/env bash
# Runs the one-click integrations interop test (issue 14): interop/integrations.py drives the real
# `sigil integration auth0-saml|auth0-social|okta-saml|okta-idv` CLI against the Auth0 and Okta fakes
# (interop/fake_auth0.py, interop/fake_okta.py, in the test's own process) next to a real `sigil serve`:
# what each command creates on both sides, the refusals (wrong secret or token, missing scope, grant
# disabled, name taken, invalid name, read-only token) with nothing half-made left, the vendors' first
# request accepted by Sigil, no credential or management token in Sigil's database, outputs or the
# fakes' logs, and vendor_request_validator.py over both logs. See docs/integrations.md.
# Needs /opt/peers-venv (scripts/install-interop.sh: requests, pysaml2, authlib, openapi-core, PyYAML),
# xmlsec1, sqlite3, and the vendor OpenAPI documents in ../shared/reference/vendor-openapi
# ($SIGIL_VENDOR_OPENAPI_DIR); without them every case is a SKIP line. Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
require_sigil_bin interop-integrations.sh
run_python_suite interop/integrations.py --sigil "$SIGIL_BIN"
summary
