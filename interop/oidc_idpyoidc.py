#!/usr/bin/env python3
"""Interop: idpyoidc (the IdentityPython OIDC library behind SATOSA and the OIDF's Python RP) as a
second relying party of the real `sigil serve`.

idpyoidc's RPHandler reads discovery, builds the authorization request (state, nonce, PKCE S256
through its pkce add-on), the request is pushed to /oauth2/par (see below), headless Chromium
(virtual passkey) goes to /oauth2/authorize with client_id + request_uri, and idpyoidc's
`finalize` checks the response state, exchanges the code with client_secret_basic and
the PKCE verifier, verifies the ID token against /oauth2/jwks (signature, iss, aud, nonce, exp)
and calls userinfo. Then a plain (non-PAR) authorization and a refresh.

idpyoidc 5.0.0's own PAR add-on cannot be used against an RFC 9126 server: it only accepts
HTTP 200 (RFC 9126 §2.2 says 201) and it always sends the parameters as a signed request object
(JAR), which Sigil does not support. So the push is done here with the exact parameters idpyoidc
built, authenticated as idpyoidc would (client_secret_basic); everything else is idpyoidc's.

    pip install idpyoidc   (into /opt/peers-venv)
    /opt/peers-venv/bin/python interop/oidc_idpyoidc.py [--sigil .build/debug/sigil] [--artifacts DIR]
"""
import argparse, os, sys, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oidc_common import Sigil, check  # noqa: E402

import requests
from idpyoidc.client.rp_handler import RPHandler
from idpyoidc.client.defaults import DEFAULT_OIDC_SERVICES, DEFAULT_RP_KEY_DEFS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    s = Sigil(args.sigil, "sigil-oidc-idpy-", args.artifacts)
    try:
        meta = s.enrol()
        reg = s.create_client("idpyoidc RP", "--redirect-uri", s.redirect_uri)
        cid, secret = reg["client_id"], reg["client_secret"]
        config = {
            "client_type": "oidc", "issuer": s.issuer, "client_id": cid, "client_secret": secret, "redirect_uris": [s.redirect_uri],
            "behaviour": {"response_types": ["code"], "scope": ["openid", "email", "profile"],
                          "token_endpoint_auth_method": "client_secret_basic"},
            "add_ons": {"pkce": {"function": "idpyoidc.client.oauth2.add_on.pkce.add_support",
                                 "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"}}},
            "client_authn_methods": ["client_secret_basic"],
            "services": {k: v for k, v in DEFAULT_OIDC_SERVICES.items() if k != "registration"},  # registered with the CLI
        }
        # idpyoidc writes the RP's own keys to private/ and static/ (relative paths by default): keep them in the temp dir.
        key_conf = dict(DEFAULT_RP_KEY_DEFS, private_path=os.path.join(s.work, "idpy-private.json"),
                        public_path=os.path.join(s.work, "idpy-public.json"))
        rph = RPHandler(base_url=f"http://127.0.0.1:{s.rp_port}", client_configs={"sigil": config}, verify_ssl=False,
                        httpc_params={"verify": False}, key_conf=key_conf)

        # --- PAR + code flow ---
        started = rph.begin(issuer_id="sigil", req_args={"scope": ["openid", "email", "profile"]})
        url = started["url"] if isinstance(started, dict) else started
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(url).query))
        check("idpyoidc read discovery and built the request (state, nonce, PKCE S256)",
              url.startswith(meta["authorization_endpoint"]) and all(q.get(k) for k in ("state", "nonce", "code_challenge"))
              and q.get("code_challenge_method") == "S256", url)
        print(f"     (idpyoidc asked for scope {q.get('scope')!r})")
        par = requests.post(meta["pushed_authorization_request_endpoint"], auth=(cid, secret), data=q, timeout=10)
        check("PAR with idpyoidc's parameters -> 201", par.status_code == 201, f"{par.status_code} {par.text}")
        s.sign_out_browser()
        cb, saw_login = s.browse_until(meta["authorization_endpoint"] + "?" + urllib.parse.urlencode(
            {"client_id": cid, "request_uri": par.json()["request_uri"]}), s.redirect_uri)
        response = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(cb).query))
        s.secrets.append(response.get("code", ""))
        check("signed out -> hosted login -> back at idpyoidc's redirect URI with a code", "code" in response, cb)
        try:
            result = rph.finalize(s.issuer, response)
        except Exception as error:
            result = {"error": repr(error)}
        ok = isinstance(result, dict) and "error" not in result and result.get("id_token") is not None
        check("idpyoidc finalize: state checked, code exchanged, ID token verified", ok, str(result)[:500])
        if ok:
            idt = result["id_token"]
            s.secrets.append(result.get("token", ""))
            check("idpyoidc: ID token iss, aud and nonce as requested", idt["iss"] == s.issuer and cid in idt["aud"]
                  and idt["nonce"] == q["nonce"], str(idt.to_dict())[:300])
            user = result.get("userinfo") or {}
            check("idpyoidc fetched userinfo (same sub, email)", user.get("sub") == idt["sub"] and user.get("email") == "ada@example.com",
                  str(user)[:300])
            state = result["state"]
            try:
                refreshed = rph.refresh_access_token(state)
                check("idpyoidc refreshed the access token", bool(refreshed.get("access_token")), str(refreshed.to_dict())[:300])
                s.secrets.extend([refreshed.get("access_token", ""), refreshed.get("refresh_token", "")])
            except Exception as error:
                check("idpyoidc refreshed the access token", False, repr(error))

        # --- a plain authorization (no PAR) with the session that now exists ---
        started = rph.begin(issuer_id="sigil", req_args={"scope": ["openid", "email", "profile"]})
        url = started["url"] if isinstance(started, dict) else started
        cb, saw_login = s.browse_until(url, s.redirect_uri)
        response = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(cb).query))
        s.secrets.append(response.get("code", ""))
        try:
            result = rph.finalize(s.issuer, response)
        except Exception as error:
            result = {"error": repr(error)}
        check("idpyoidc: plain code flow with a session, verified ID token", isinstance(result, dict) and "error" not in result
              and result.get("id_token") is not None and not saw_login, str(result)[:300])

        # --- a tampered response: idpyoidc must refuse it (the RP side of the iss check) ---
        started = rph.begin(issuer_id="sigil", req_args={"scope": ["openid", "email", "profile"]})
        url = started["url"] if isinstance(started, dict) else started
        cb, _ = s.browse_until(url, s.redirect_uri)
        response = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(cb).query))
        s.secrets.append(response.get("code", ""))
        response["state"] = "not-the-state"
        try:
            result = rph.finalize(s.issuer, response)
            refused = not isinstance(result, dict) or "error" in result
        except Exception:
            refused = True
        check("idpyoidc refuses a response with a foreign state", refused)
    except Exception as error:
        s.failed(error)
    finally:
        s.finish()


if __name__ == "__main__":
    main()
