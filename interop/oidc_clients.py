#!/usr/bin/env python3
"""Interop: managing OIDC clients while real relying parties use them, against the real
`sigil serve`, with authlib as the RP.

1. Auth0's setup order: a client is registered with a placeholder callback, then
   `sigil app update --add-redirect-uri/--remove-redirect-uri` installs the real one; authlib runs
   the code flow (PKCE, client_secret_basic) through the hosted login to the new callback, and the
   placeholder is refused afterwards; the client is then switched to EdDSA ID tokens (RFC 8037),
   which authlib verifies with the OKP key from the JWKS.
2. Secret rotation: `sigil app rotate-secret --grace 600` gives a new secret while the old one
   keeps working; a second rotation without grace stops the previous one at once (authlib gets
   invalid_client); `app show --json` never prints a secret.
3. private_key_jwt with a `jwks_uri`: the client publishes its JWKS on a local HTTP server; authlib's
   private_key_jwt_sign makes the assertions; the client then rotates its key (publishes only the new one) and,
   once Sigil's one-refetch-a-minute window allows, the new key works and the old one is refused.
4. SAML SP registration from a metadata URL: pysaml2 builds an SP's metadata, served over HTTP;
   `sigil app create-saml --metadata URL` registers it with the entity ID, ACS and NameID format it
   declares; a refused URL (http off loopback) registers nothing.

    /opt/peers-venv/bin/python interop/oidc_clients.py [--sigil .build/debug/sigil] [--artifacts DIR]
"""
import argparse, json, os, subprocess, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oidc_common import Sigil, check, b64json, free_port  # noqa: E402

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken


class Documents(BaseHTTPRequestHandler):
    """Serves whatever is in `docs` (path → (content type, bytes)) and counts requests."""
    docs = {}
    hits = {}

    def do_GET(self):
        Documents.hits[self.path] = Documents.hits.get(self.path, 0) + 1
        if self.path not in Documents.docs:
            self.send_response(404)
            self.end_headers()
            return
        kind, body = Documents.docs[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def client_credentials(meta, client_id, secret=None, auth=None):
    """Returns (token or None, error text)."""
    session = OAuth2Session(client_id, secret, token_endpoint_auth_method=auth or "client_secret_basic")
    try:
        return session.fetch_token(meta["token_endpoint"], grant_type="client_credentials"), ""
    except Exception as error:
        return None, repr(error)


def jwt_client_credentials(meta, client_id, key):
    """client_credentials authenticated by an RFC 7523 assertion that authlib signs (ES256).
    authlib's PrivateKeyJWT session helper imports every key as RSA, so the form is posted here."""
    from authlib.oauth2.rfc7523 import private_key_jwt_sign
    assertion = private_key_jwt_sign(key, client_id=client_id, token_endpoint=meta["token_endpoint"], alg="ES256")
    r = requests.post(meta["token_endpoint"], timeout=10, data={
        "grant_type": "client_credentials", "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    return (r.json(), "") if r.status_code == 200 else (None, f"{r.status_code} {r.text[:200]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    s = Sigil(args.sigil, "sigil-oidc-clients-", args.artifacts)
    docs_port = free_port()
    docs = HTTPServer(("127.0.0.1", docs_port), Documents)
    threading.Thread(target=docs.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{docs_port}"
    try:
        meta = s.enrol()

        # --- private_key_jwt with a jwks_uri (first, so the key-rotation wait overlaps the rest) ---
        key1 = JsonWebKey.generate_key("EC", "P-256", is_private=True, options={"kid": "client-key-1"})
        Documents.docs["/jwks.json"] = ("application/json", json.dumps({"keys": [key1.as_dict(is_private=False)]}).encode())
        jwt_client = s.create_client("JWKS URI client", "--grant-type", "client_credentials", "--auth-method", "private_key_jwt",
                                     "--jwks-uri", base + "/jwks.json", "--scope", "openid")
        check("registered a private_key_jwt client with a jwks_uri (no secret)", jwt_client.get("client_secret") is None)
        first_fetch = time.time()
        token, error = jwt_client_credentials(meta, jwt_client["client_id"], key1)
        check("authlib authenticated with private_key_jwt against the jwks_uri", bool(token), error)
        token, error = jwt_client_credentials(meta, jwt_client["client_id"], key1)
        check("a second assertion is checked against the cached keys (one fetch)", bool(token) and Documents.hits.get("/jwks.json") == 1,
              f"{error} fetches={Documents.hits.get('/jwks.json')}")
        bad_uri = s.cli("app", "create-oidc", "--tenant", "default", "--name", "bad", "--grant-type", "client_credentials",
                        "--auth-method", "private_key_jwt", "--jwks-uri", "http://rp.example/jwks.json", "--json")
        check("a jwks_uri over http off loopback is refused at registration", bad_uri.returncode != 0 and "jwks_uri" in bad_uri.stderr,
              bad_uri.stderr[-300:])

        # --- Auth0's order: placeholder callback first, the real one later ---
        placeholder = "https://placeholder.sigil-interop.example/callback"
        reg = s.create_client("Auth0 connection", "--redirect-uri", placeholder, "--grant-type", "authorization_code",
                              "--grant-type", "refresh_token", "--grant-type", "client_credentials")
        client_id, secret1 = reg["client_id"], reg["client_secret"]
        out = s.cli("app", "update", "--tenant", "default", client_id, "--add-redirect-uri", s.redirect_uri,
                    "--remove-redirect-uri", placeholder, "--json")
        shown = json.loads(out.stdout) if out.returncode == 0 else {}
        check("app update swapped the placeholder callback for the real one", shown.get("redirect_uris") == [s.redirect_uri],
              out.stderr[-300:] or out.stdout[-300:])
        missing = s.cli("app", "update", "--tenant", "default", client_id, "--remove-redirect-uri", "https://never.example/cb")
        check("removing a callback that is not registered is an error", missing.returncode != 0 and "not registered" in missing.stderr,
              missing.stderr[-200:])
        bad = s.cli("app", "update", "--tenant", "default", client_id, "--add-redirect-uri", "http://rp.example/cb")
        check("an http callback off loopback is refused and nothing changes", bad.returncode != 0)
        after = json.loads(s.cli("app", "show", "--tenant", "default", client_id, "--json").stdout)
        check("the refused update left the client as it was", after.get("redirect_uris") == [s.redirect_uri], json.dumps(after)[:300])

        verifier = generate_token(48)
        state, nonce = generate_token(16), generate_token(16)
        rp = OAuth2Session(client_id, secret1, scope="openid email", redirect_uri=s.redirect_uri, state=state,
                           code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
        url, _ = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, state=state)
        callback, _ = s.browse_until(url, s.redirect_uri)
        token = rp.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
        s.secrets += [token.get("access_token", ""), token.get("refresh_token", "")]
        claims, error = s.verify_id_token(token.get("id_token", ""), client_id, nonce=nonce, access_token=token.get("access_token"))
        check("authlib's code flow reached the updated callback and verified the ID token", claims is not None, error)
        old = requests.get(meta["authorization_endpoint"] + "?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": client_id, "redirect_uri": placeholder, "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}),
            allow_redirects=False, timeout=10)
        check("the removed placeholder callback is refused (error page, no redirect)", old.status_code == 400 and "location" not in old.headers,
              str(old.status_code))

        # --- EdDSA ID tokens for this client (RFC 8037), verified by authlib through the JWKS ---
        out = s.cli("app", "update", "--tenant", "default", client_id, "--id-token-alg", "EdDSA", "--json")
        check("app update switched the client to EdDSA ID tokens", out.returncode == 0 and
              json.loads(out.stdout).get("id_token_signed_response_alg") == "EdDSA", out.stderr[-200:])
        verifier, state, nonce = generate_token(48), generate_token(16), generate_token(16)
        rp = OAuth2Session(client_id, secret1, scope="openid", redirect_uri=s.redirect_uri, state=state,
                           code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
        url, _ = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, state=state)
        callback, _ = s.browse_until(url, s.redirect_uri)
        ed = rp.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
        s.secrets += [ed.get("access_token", ""), ed.get("refresh_token", "")]
        header = b64json(ed["id_token"].split(".")[0])
        try:
            from authlib.oidc.core import CodeIDToken
            claims = JsonWebToken(["EdDSA"]).decode(ed["id_token"], JsonWebKey.import_key_set(s.jwks()), claims_cls=CodeIDToken,
                                                    claims_options={"iss": {"essential": True, "value": s.issuer}},
                                                    claims_params={"nonce": nonce, "client_id": client_id})
            claims.validate(leeway=5)
            ok, error = True, ""
        except Exception as e:  # noqa: BLE001
            ok, error = False, repr(e)
        key = next((k for k in s.jwks()["keys"] if k.get("kid") == header.get("kid")), {})
        check("authlib verified an EdDSA (Ed25519) ID token with the OKP key from the JWKS",
              ok and header.get("alg") == "EdDSA" and key.get("kty") == "OKP" and key.get("crv") == "Ed25519", error or json.dumps(header))
        check("discovery lists EdDSA for ID tokens", "EdDSA" in meta.get("id_token_signing_alg_values_supported", []))

        # --- secret rotation ---
        out = s.cli("app", "rotate-secret", "--tenant", "default", client_id, "--grace", "600", "--json")
        rotated = json.loads(out.stdout) if out.returncode == 0 else {}
        secret2 = rotated.get("client_secret", "")
        s.secrets.append(secret2)
        check("rotate-secret --grace printed a new secret and when the old one ends",
              bool(secret2) and secret2 != secret1 and bool(rotated.get("previous_secret_expires_at")), out.stderr[-300:])
        t_new, e_new = client_credentials(meta, client_id, secret2)
        t_old, e_old = client_credentials(meta, client_id, secret1)
        check("during the grace period both the new and the old secret work", bool(t_new) and bool(t_old), e_new + e_old)
        refreshed = None
        try:
            refreshed = OAuth2Session(client_id, secret2, token_endpoint_auth_method="client_secret_basic").refresh_token(
                meta["token_endpoint"], refresh_token=token["refresh_token"])
            s.secrets += [refreshed.get("access_token", ""), refreshed.get("refresh_token", "")]
        except Exception as error:
            refreshed = {"error": repr(error)}
        check("a refresh token issued before the rotation is redeemed with the new secret", "access_token" in (refreshed or {}),
              json.dumps(refreshed)[:200])
        out = s.cli("app", "rotate-secret", "--tenant", "default", client_id, "--json")
        secret3 = json.loads(out.stdout).get("client_secret", "") if out.returncode == 0 else ""
        s.secrets.append(secret3)
        t_prev, e_prev = client_credentials(meta, client_id, secret2)
        t_first, _ = client_credentials(meta, client_id, secret1)
        t_now, e_now = client_credentials(meta, client_id, secret3)
        check("rotation without grace: the previous secret stops at once (invalid_client)",
              t_prev is None and "invalid_client" in e_prev and t_first is None, e_prev)
        check("rotation without grace: the new secret works", bool(t_now), e_now)
        shown = s.cli("app", "show", "--tenant", "default", client_id, "--json").stdout
        check("app show prints no secret", all(x not in shown for x in (secret1, secret2, secret3)) and "secret_hash" not in shown)

        # --- the client rotates its key at the jwks_uri ---
        key2 = JsonWebKey.generate_key("EC", "P-256", is_private=True, options={"kid": "client-key-2"})
        Documents.docs["/jwks.json"] = ("application/json", json.dumps({"keys": [key2.as_dict(is_private=False)]}).encode())
        wait = 61 - (time.time() - first_fetch)
        if wait > 0:
            time.sleep(wait)
        token, error = jwt_client_credentials(meta, jwt_client["client_id"], key2)
        check("after the client rotated its key, Sigil refetched the jwks_uri and accepted the new key",
              bool(token) and Documents.hits.get("/jwks.json") == 2, f"{error} fetches={Documents.hits.get('/jwks.json')}")
        token, error = jwt_client_credentials(meta, jwt_client["client_id"], key1)
        check("the key the client removed is refused (invalid_client) without another fetch",
              token is None and "invalid_client" in error and Documents.hits.get("/jwks.json") == 2,
              f"{error} fetches={Documents.hits.get('/jwks.json')}")

        # --- a SAML SP registered from its metadata URL (metadata written by pysaml2) ---
        from saml2.config import SPConfig
        from saml2.metadata import create_metadata_string
        sp_entity = base + "/sp/metadata"
        config = SPConfig()
        config.load({"entityid": sp_entity, "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(base + "/sp/acs", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")]},
            "name_id_format": ["urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"],
            "want_assertions_signed": True}}, "xmlsec_binary": "/usr/bin/xmlsec1"})
        Documents.docs["/sp/metadata"] = ("application/samlmetadata+xml", create_metadata_string(None, config=config, sign=False))
        out = s.cli("app", "create-saml", "--tenant", "default", "--metadata", sp_entity, "--json")
        sp = json.loads(out.stdout) if out.returncode == 0 else {}
        check("create-saml --metadata URL registered pysaml2's SP (entity ID, ACS, NameID format from its metadata)",
              sp.get("entity_id") == sp_entity and sp.get("acs") == [base + "/sp/acs"]
              and sp.get("name_id_format") == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
              out.stderr[-300:] or json.dumps(sp))
        idp = requests.get(s.issuer + "/saml/metadata", timeout=10)
        check("the IdP serves its metadata for the imported SP to use", idp.status_code == 200 and b"IDPSSODescriptor" in idp.content)
        refused = s.cli("app", "create-saml", "--tenant", "default", "--metadata", "http://sp.example/metadata")
        missing = s.cli("app", "create-saml", "--tenant", "default", "--metadata", base + "/nothing-here")
        # One message for every unreachable target (issue 11): a 404 reads like a refused connection.
        check("metadata URLs over http to a host not allowed, or answering 404, register nothing, with one message",
              refused.returncode != 0 and missing.returncode != 0 and "could not be fetched" in missing.stderr
              and "404" not in missing.stderr, missing.stderr[-200:])
        # Without the operator's allowance for loopback, the same working URL is refused before any fetch.
        strict_env = {k: v for k, v in os.environ.items() if k != "SIGIL_OUTBOUND_ALLOW_HOSTS"}
        strict = subprocess.run([s.binary, "app", "create-saml", "--tenant", "default", "--metadata", sp_entity,
                                 "--data-dir", s.data_dir], capture_output=True, text=True, env=strict_env)
        check("a loopback metadata URL is refused unless SIGIL_OUTBOUND_ALLOW_HOSTS allows the host",
              strict.returncode != 0 and "loopback" in strict.stderr, strict.stderr[-200:])
        listed = json.loads(s.cli("app", "list", "--tenant", "default", "--json").stdout)
        check("only the one SAML SP was stored", sum(1 for a in listed if a.get("protocol") == "saml") == 1)
    except Exception as error:  # noqa: BLE001
        s.failed(error)
    finally:
        docs.shutdown()
        s.finish()


if __name__ == "__main__":
    main()
