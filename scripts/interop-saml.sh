#!/usr/bin/env bash
# Runs the SAML IdP interop tests against the built `sigil` binary through headless Chromium with a
# WebAuthn virtual authenticator:
#   interop/saml_sp.py        pysaml2 service providers (xmlsec1 verifies signatures)
#   interop/saml_onelogin.py  encrypted assertions (pysaml2 decrypting with xmlsec1), and OneLogin's
#                             python3-saml, plain and with encrypted assertions
#   interop/redirect_chains.py  peers that answer Sigil's auto-submitted forms with a redirect to
#                             another origin (Auth0-shaped ACS, Shibboleth-style SLO, OIDC form_post,
#                             consent, RP-initiated logout): no CSP form-action block in Chromium;
#                             the continue link opened twice; one sign-in per login page
# Needs: chromium, chromium-driver, xmlsec1; /opt/peers-venv with selenium, requests, pysaml2,
# python3-saml, authlib (scripts/install-interop.sh). Ends with the summed "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
args=(--sigil "$SIGIL_BIN")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0 rc=0
for script in interop/saml_sp.py interop/saml_onelogin.py interop/redirect_chains.py; do
    echo "--- $script"
    /opt/peers-venv/bin/python "$script" "${args[@]}" 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
    if [ -n "$line" ]; then
        passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
        failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
    else
        failed=$((failed + 1))  # died before its summary
        rc=1
    fi
done
echo "$passed passed, $failed failed"
exit "$rc"
