#!/usr/bin/env python3
"""Interop: the exchange Okta's "Bring your own IDV vendor" integration performs, shaped exactly as
Okta documents it (docs/oidc.md "PAR the Okta way"; reference: Okta IDV docs, as summarised in the
project's protocol notes §1.3-1.5), against the real `sigil serve`.

The client is registered with Okta's callback `https://{okta host}/idp/identity-verification/callback`
(and the custom-domain variant), `client_secret_post`, scopes `openid profile identity_assurance`.
Okta's PAR: form-encoded, secret in the body, response_type=code, PKCE S256, nonce, state,
login_hint = an Okta user id, and `claims` as a JSON string whose `id_token.verified_claims` is an
array with `verification.trust_framework/assurance_level` and `claims.given_name/family_name`
carrying `"fuzzy": true`. The browser then goes to `/oauth2/idv-authorize?request_uri=…` without
client_id (as Okta does) and, in a second round, to `/oauth2/authorize?client_id=…&request_uri=…`;
the callback host cannot be reached, so navigation to it is blocked in the browser and the code is
read from the browser's URL. The code is exchanged with client_secret_post + code_verifier and
the ID token is checked as Okta checks it (RS256, kid in JWKS, iss, aud, exp, iat, nonce, sub).
`verified_claims` in the ID token arrive with the IDV work; here the check is only that the
exchange completes and that no unsupported claim appears.

    /opt/peers-venv/bin/python interop/oidc_okta.py [--sigil .build/debug/sigil] [--artifacts DIR]
"""
import argparse, json, os, sys, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oidc_common import Sigil, check, b64json  # noqa: E402

import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

OKTA = "https://sigil-interop.okta.com"
CUSTOM = "https://login.sigil-interop.example"
CALLBACK = OKTA + "/idp/identity-verification/callback"
CUSTOM_CALLBACK = CUSTOM + "/idp/identity-verification/callback"
OKTA_USER_ID = "00ub0oNGTSWTBKOLGLNR"


def okta_claims(given, family):
    return {"id_token": {"verified_claims": [{
        "verification": {"trust_framework": {"value": "IDV-DELEGATED", "essential": True},
                         "assurance_level": {"value": "VERIFIED", "essential": True}},
        "claims": {"given_name": {"value": given, "fuzzy": True},
                   "family_name": {"value": family, "fuzzy": True},
                   "email": {"value": "ada@example.com", "fuzzy": True}}}]}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    s = Sigil(args.sigil, "sigil-oidc-okta-", args.artifacts)
    try:
        meta = s.enrol()
        try:
            reg = s.create_client("Okta IDV", "--redirect-uri", CALLBACK, "--redirect-uri", CUSTOM_CALLBACK,
                                  "--auth-method", "client_secret_post", "--scope", "openid", "--scope", "profile",
                                  "--scope", "identity_assurance", "--grant-type", "authorization_code")
            check("registered the Okta client (client_secret_post, scope identity_assurance, Okta callbacks)", True)
        except RuntimeError as error:
            check("registered the Okta client (client_secret_post, scope identity_assurance, Okta callbacks)", False, str(error))
            raise
        cid, secret = reg["client_id"], reg["client_secret"]
        check("discovery advertises the PAR endpoint and the claims parameter",
              bool(meta.get("pushed_authorization_request_endpoint")) and meta.get("claims_parameter_supported") is True)
        # The callback host is not reachable from here: stop the browser there and read the URL.
        s.driver.execute_cdp_cmd("Network.enable", {})
        s.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": [OKTA + "/*", CUSTOM + "/*"]})

        def okta_par(redirect_uri=CALLBACK, **override):
            verifier = generate_token(64)
            body = {"client_id": cid, "client_secret": secret, "response_type": "code",
                    "scope": "openid profile identity_assurance", "redirect_uri": redirect_uri,
                    "state": generate_token(32), "nonce": generate_token(32), "login_hint": OKTA_USER_ID,
                    "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
                    "claims": json.dumps(okta_claims("Ada", "Lovelace"))}
            body.update(override)
            r = requests.post(meta["pushed_authorization_request_endpoint"], data=body, timeout=10,
                              headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
            return r, body, verifier

        def exchange(code, verifier, redirect_uri=CALLBACK):
            r = requests.post(meta["token_endpoint"], timeout=10, data={
                "grant_type": "authorization_code", "client_id": cid, "client_secret": secret, "code": code,
                "code_verifier": verifier, "redirect_uri": redirect_uri})
            if r.status_code == 200:
                s.secrets.extend([r.json().get("access_token", ""), r.json().get("refresh_token") or ""])
            return r

        def okta_checks(label, r, body):
            tok = r.json() if r.status_code == 200 else {}
            check(f"{label}: token response has id_token, expires_in, access_token, token_type Bearer",
                  all(k in tok for k in ("id_token", "expires_in", "access_token")) and tok.get("token_type") == "Bearer", r.text[:300])
            idt = tok.get("id_token", "")
            header = b64json(idt.split(".")[0]) if idt else {}
            check(f"{label}: ID token header alg RS256 with a kid", header.get("alg") == "RS256" and bool(header.get("kid")), json.dumps(header))
            claims, err = s.verify_id_token(idt, cid, body["nonce"], tok.get("access_token"))
            check(f"{label}: ID token verifies against /oauth2/jwks (kid, iss, aud, exp, nonce)", claims is not None, err)
            claims = claims or {}
            now = time.time()
            check(f"{label}: iss is the configured issuer", claims.get("iss") == s.issuer and s.issuer == meta.get("issuer"),
                  f"{claims.get('iss')} (https in production: the issuer is the public URL)")
            check(f"{label}: aud is the client_id, sub present, exp future, iat past",
                  claims.get("aud") in (cid, [cid]) and bool(claims.get("sub")) and claims.get("exp", 0) > now and claims.get("iat", now + 99) <= now + 5,
                  json.dumps(dict(claims))[:300])
            supported = {"given_name", "family_name", "middle_name", "email", "birthdate", "phone_number", "address"}
            registered = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid", "azp",
                          "name", "updated_at", "verified_claims"}
            extra = set(claims) - supported - registered
            check(f"{label}: no claims outside OIDC registered + Okta's supported set", not extra, ",".join(sorted(extra)))
            print(f"     ({label}: verified_claims in the ID token: {'yes' if 'verified_claims' in claims else 'not yet (IDV issue)'})")
            return tok

        # --- PAR as Okta sends it ---
        r, body, verifier = okta_par()
        check("Okta-shaped PAR (form, client_secret_post, identity_assurance, verified_claims with fuzzy) -> 201",
              r.status_code == 201, f"{r.status_code} {r.text}")
        if r.status_code != 201:
            raise RuntimeError("PAR refused; see above")
        pushed = r.json()
        check("PAR response: urn request_uri, expires_in 60, JSON, no-store",
              pushed.get("request_uri", "").startswith("urn:ietf:params:oauth:request_uri:") and pushed.get("expires_in") == 60
              and r.headers.get("Content-Type", "").startswith("application/json") and "no-store" in r.headers.get("Cache-Control", ""),
              f"{pushed} {r.headers}")

        # --- round 1: the user arrives without a Sigil session; only request_uri, as Okta does ---
        s.sign_out_browser()
        idv_url = s.issuer + "/oauth2/idv-authorize?" + urllib.parse.urlencode({"request_uri": pushed["request_uri"]})
        cb, saw_login = s.browse_until(idv_url, CALLBACK)
        s.driver.save_screenshot(os.path.join(s.artifacts, "okta-callback.png"))
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(cb).query))
        check("/oauth2/idv-authorize?request_uri (no client_id), signed out: sign-in, then Okta's callback with a code",
              bool(q.get("code")), cb.split("?")[0])
        check("the callback carries Okta's state and iss", q.get("state") == body["state"] and q.get("iss") == s.issuer)
        s.secrets.append(q.get("code", ""))
        tok = okta_checks("round 1", exchange(q.get("code", ""), verifier), body)
        s.secrets.append(tok.get("id_token", ""))

        # --- round 2: /oauth2/authorize with client_id and request_uri, a session exists ---
        r, body, verifier = okta_par()
        pushed = r.json() if r.status_code == 201 else {}
        cb, _ = s.browse_until(meta["authorization_endpoint"] + "?" + urllib.parse.urlencode(
            {"client_id": cid, "request_uri": pushed.get("request_uri", "")}), CALLBACK)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(cb).query))
        check("/oauth2/authorize?client_id&request_uri -> Okta's callback with a code", bool(q.get("code")) and q.get("state") == body["state"], cb.split("?")[0])
        s.secrets.append(q.get("code", ""))
        okta_checks("round 2", exchange(q.get("code", ""), verifier), body)

        # --- the custom-domain callback, and Okta's printed JSON body ---
        r, body, verifier = okta_par(CUSTOM_CALLBACK)
        pushed = r.json() if r.status_code == 201 else {}
        cb, _ = s.browse_until(s.issuer + "/oauth2/idv-authorize?" + urllib.parse.urlencode({"request_uri": pushed.get("request_uri", "")}), CUSTOM_CALLBACK)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(cb).query))
        check("custom-domain callback works the same", bool(q.get("code")), cb.split("?")[0])
        s.secrets.append(q.get("code", ""))
        r = exchange(q.get("code", ""), verifier, CUSTOM_CALLBACK)
        check("... and its code exchanges", r.status_code == 200 and "id_token" in r.json(), r.text[:200])
        verifier = generate_token(64)
        jbody = {"client_id": cid, "client_secret": secret, "response_type": "code", "scope": "openid profile identity_assurance",
                 "redirect_uri": CALLBACK, "state": generate_token(16), "nonce": generate_token(16), "login_hint": OKTA_USER_ID,
                 "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
                 "claims": okta_claims("Ada", "Lovelace")}
        r = requests.post(meta["pushed_authorization_request_endpoint"], json=jbody, timeout=10)
        check("PAR with Okta's printed JSON body (claims as an object) is tolerated -> 201", r.status_code == 201, f"{r.status_code} {r.text}")

        # --- errors in the shapes Okta reads ---
        r, _, _ = okta_par(redirect_uri=OKTA + "/somewhere/else")
        check("PAR with an unregistered redirect_uri -> 400 invalid_request JSON", r.status_code == 400
              and r.json().get("error") == "invalid_request", r.text)
        r, _, _ = okta_par(client_secret="wrong")
        check("PAR with a wrong client_secret -> 401 invalid_client", r.status_code == 401 and r.json().get("error") == "invalid_client", r.text)
        r, _, _ = okta_par(code_challenge_method="plain", code_challenge=generate_token(64))
        check("PAR with plain PKCE -> 400", r.status_code == 400, r.text)
        # An authorization error goes back to Okta as error=…&state=… (prompt=none without a session).
        s.sign_out_browser()
        r, body, _ = okta_par(prompt="none")
        cb, _ = s.browse_until(s.issuer + "/oauth2/idv-authorize?" + urllib.parse.urlencode({"request_uri": r.json()["request_uri"]}), CALLBACK)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(cb).query))
        check("an authorization error reaches Okta's callback as error=…&state=…", q.get("error") == "login_required"
              and q.get("state") == body["state"], cb.split("?")[0] + " " + str(q.get("error")))
    except Exception as error:
        s.failed(error)
    finally:
        s.finish()


if __name__ == "__main__":
    main()
