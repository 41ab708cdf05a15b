#!/usr/bin/env bash
# Runs the SAML service-provider interop tests (Sigil towards upstream IdPs, issue 12) against the
# built `sigil` binary:
#   interop/saml_acs_attacks.py --self-test  the crafted responses (XSW1-8, comment in NameID, DTD,
#                              RSA-SHA1, ...) checked against pysaml2's SP role and xmlsec1 first
#                              and the encryption crafting (libxmlsec1, pysaml2 decrypt it)
#   interop/saml_upstream_idp.py --self-test the Okta-shaped IdP (pysaml2's IdP role) against pysaml2's SP,
#                              single logout both ways included; an HTTP-POST-only IdP, encrypted
#                              assertions and NameIDs
#   interop/saml_upstream.py   the real `sigil serve` with the Okta-shaped IdP in headless Chromium:
#                              JIT provisioning, downstream OIDC (authlib) and SAML (pysaml2) apps,
#                              linking, Back, identifier-first routing, single logout both ways (a
#                              downstream SP signed out on the way), Sigil's AuthnRequest and single
#                              logout over HTTP-POST (an IdP offering only POST; a connection by
#                              hand), the ACS attack battery and its SAML traces (CLI, admin API),
#                              connections through the admin API, a signing-certificate rollover,
#                              encrypted assertions and EncryptedIDs (AES-CBC only under a signed
#                              Response, AES-GCM, RSA-OAEP; rsa-1_5, 3DES refused) from the IdP and
#                              crafted, and SimpleSAMLphp as a second upstream IdP when installed
#                              (HTTP-POST AuthnRequest, assertion.encryption, nameid.encryption)
# Needs: chromium, chromium-driver, xmlsec1, simplesamlphp + php-cli/php-xml; /opt/peers-venv with
# selenium, requests, pysaml2, xmlsec, lxml, authlib (scripts/install-interop.sh).
# Ends with the summed "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
args=(--sigil "$SIGIL_BIN")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
run_python_suite interop/saml_acs_attacks.py --self-test
run_python_suite interop/saml_upstream_idp.py --self-test
run_python_suite interop/saml_upstream.py "${args[@]}"
summary
