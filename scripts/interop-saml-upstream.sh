#!/usr/bin/env bash
# Runs the SAML service-provider interop tests (Sigil towards upstream IdPs, issue 12) against the
# built `sigil` binary:
#   interop/saml_acs_attacks.py --self-test  the crafted responses (XSW1-8, comment in NameID, DTD,
#                              RSA-SHA1, ...) checked against pysaml2's SP role and xmlsec1 first
#   interop/saml_upstream_idp.py --self-test the Okta-shaped IdP (pysaml2's IdP role) against pysaml2's SP,
#                              single logout both ways included
#   interop/saml_upstream.py   the real `sigil serve` with the Okta-shaped IdP in headless Chromium:
#                              JIT provisioning, downstream OIDC (authlib) and SAML (pysaml2) apps,
#                              linking, Back, identifier-first routing, single logout both ways (a
#                              downstream SP signed out on the way), the ACS attack battery and its
#                              SAML traces (CLI, admin API), connections through the admin API, a
#                              signing-certificate rollover, and SimpleSAMLphp as a second upstream
#                              IdP when installed
# Needs: chromium, chromium-driver, xmlsec1, simplesamlphp + php-cli/php-xml; /opt/peers-venv with
# selenium, requests, pysaml2, xmlsec, lxml, authlib (scripts/install-interop.sh).
# Ends with the summed "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
args=(--sigil "$SIGIL_BIN")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0 rc=0
run() {
    echo "--- $*"
    /opt/peers-venv/bin/python -W ignore "$@" 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
    if [ -n "$line" ]; then
        passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
        failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
    else
        failed=$((failed + 1))  # died before its summary
        rc=1
    fi
}
run interop/saml_acs_attacks.py --self-test
run interop/saml_upstream_idp.py --self-test
run interop/saml_upstream.py "${args[@]}"
echo "$passed passed, $failed failed"
exit "$rc"
