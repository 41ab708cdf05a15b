#!/usr/bin/env bash
# Runs the OpenID Connect interop suites against the built binary, each with headless Chromium and
# the WebAuthn virtual authenticator for the sign-in (docs/oidc.md "Interop tests"):
#   interop/oidc_rp.py        authlib as the relying party (PAR, code + PKCE, refresh, revoke, logout, ...)
#   interop/oidc_battery.py   checks modelled on the OpenID conformance suite's basic OP plan
#   interop/oidc_okta.py      the exchange Okta's "Bring your own IDV vendor" integration performs
#   interop/oidc_idpyoidc.py  idpyoidc as a second relying party
# Apache + mod_auth_openidc has its own script (root, extra packages): scripts/interop-oidc-apache.sh.
# Screenshots go to $SIGIL_ARTIFACTS/<suite> (default: temp dirs). Exits 1 if any suite failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
failed=()
for suite in oidc_rp oidc_battery oidc_okta oidc_idpyoidc oidc_clients; do
    args=(--sigil "$SIGIL_BIN")
    [ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS/$suite")
    echo "=== interop/$suite.py"
    /opt/peers-venv/bin/python "interop/$suite.py" "${args[@]}" || failed+=("$suite")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "OIDC interop suites failed: ${failed[*]}"
    exit 1
fi
echo "OIDC interop suites: all passed"
