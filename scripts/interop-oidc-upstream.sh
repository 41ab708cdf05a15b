#!/usr/bin/env bash
# Runs the OIDC relying-party interop tests (Sigil towards upstream OpenID Providers, issue 12)
# against the built `sigil` binary:
#   interop/oidc_upstream_op.py --self-test  the upstream OP (idpyoidc's OP: discovery, login page,
#                              PKCE S256, PAR, client_secret_basic/post and private_key_jwt, the
#                              deliberately wrong ID tokens, key rollover, single sign-on, end_session
#                              and back-channel logout tokens) against authlib's client first
#   interop/oidc_upstream.py --self-test   the callback and back-channel logout attack batteries
#                              against a reference relying party (authlib + joserfc): the baselines
#                              accepted, each attack refused
#   interop/oidc_upstream.py   the real `sigil serve` with that OP in headless Chromium: JIT
#                              provisioning, downstream OIDC (authlib) and SAML (pysaml2) apps, linking,
#                              Back, refusals (existing user, unverified or missing email, access_denied),
#                              the callback attack battery (state, code replay, mix-up, login CSRF, wrong
#                              or mis-signed ID tokens), --par, private_key_jwt, client_secret_post,
#                              claims from userinfo, an OP signing-key rollover, and upstream OIDC
#                              logout both ways (RP-initiated from /account and from a downstream
#                              client's /oauth2/logout through the OP's end_session_endpoint;
#                              back-channel logout tokens from the OP and the attack battery on them)
#   interop/upstream_stepup_authenticator.py  step-up with the Sigil authenticator after the OP's
#                              sign-in (the real `sigil-authenticator` CLI as the phone, $SIGIL_AUTHENTICATOR_BIN):
#                              the step-up page's push, number matching, the downstream ID token's
#                              amr/acr, wrong number and deny, the approval bound to the browser and
#                              the flow (the sign-in route, other browsers, another user's device, replay)
# Needs: chromium, chromium-driver, xmlsec1; /opt/peers-venv with selenium, requests, idpyoidc,
# authlib, pysaml2, xmlsec, lxml (scripts/install-interop.sh).
# Ends with the summed "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIGIL_BIN=${SIGIL_BIN:-.build/debug/sigil}
SIGIL_AUTHENTICATOR_BIN=${SIGIL_AUTHENTICATOR_BIN:-.build/debug/sigil-authenticator}
args=(--sigil "$SIGIL_BIN")
[ -n "${SIGIL_ARTIFACTS:-}" ] && args+=(--artifacts "$SIGIL_ARTIFACTS")
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
run_python_suite interop/oidc_upstream_op.py --self-test
run_python_suite interop/oidc_upstream.py --self-test
run_python_suite interop/oidc_upstream.py "${args[@]}"
run_python_suite interop/upstream_stepup_authenticator.py "${args[@]}" --authenticator "$SIGIL_AUTHENTICATOR_BIN"
summary
