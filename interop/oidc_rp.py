#!/usr/bin/env python3
"""Interop: the real `sigil serve` as an OpenID Provider for authlib's OAuth 2.0 / OIDC client.

Registers a client with `sigil app create-oidc --json`, reads discovery, pushes the authorization
request (PAR, RFC 9126), sends headless Chromium (WebAuthn virtual authenticator, signed in with
a passkey through Sigil's hosted login) to /oauth2/authorize with only `request_uri`, exchanges
the code with PKCE using authlib's OAuth2Session, verifies the ID token with authlib against
/oauth2/jwks (iss, aud, nonce, at_hash), calls userinfo, refreshes (rotation, reuse refused),
revokes, introspects, runs client credentials, and ends the session with RP-initiated logout,
after which the RP's back-channel logout endpoint must receive a logout token (OpenID Connect
Back-Channel Logout 1.0) that authlib verifies against /oauth2/jwks.

    /opt/peers-venv/bin/python interop/oidc_rp.py [--sigil .build/debug/sigil] [--artifacts DIR]

Needs chromium, chromium-driver and `pip install selenium requests authlib` (scripts/install-interop.sh).
Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if anything failed.
"""
import argparse, base64, json, os, secrets, shutil, signal, subprocess, sys, tempfile, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the test server is http://localhost
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from passkey_signin import check, free_port, start_sigil, make_driver, wait_path, RESULTS, stop_sigil, report_and_exit  # noqa: E402

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from authlib.integrations.requests_client import OAuth2Session
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
import warnings
warnings.filterwarnings("ignore")  # authlib.jose deprecation notice (joserfc); the API still verifies
from authlib.jose import JsonWebKey, JsonWebToken  # noqa: E402


class Callback(BaseHTTPRequestHandler):
    """The RP's redirect, post-logout and back-channel logout endpoints: records what arrived."""
    hits = []
    backchannel = []  # (path, content type, form)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        Callback.backchannel.append((self.path, self.headers.get("Content-Type", ""), urllib.parse.parse_qs(body)))
        self.send_response(200)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def do_GET(self):
        Callback.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body>rp callback</body></html>")

    def log_message(self, *args):
        pass


def sigil_cli(binary, data_dir, *args):
    return subprocess.run([binary, *args, "--data-dir", data_dir], capture_output=True, text=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    binary = os.path.abspath(args.sigil)
    work = tempfile.mkdtemp(prefix="sigil-oidc-")
    artifacts = args.artifacts or work
    os.makedirs(artifacts, exist_ok=True)
    data_dir = os.path.join(work, "data")
    port = free_port()
    issuer = f"http://localhost:{port}"
    rp_port = free_port()
    rp = HTTPServer(("127.0.0.1", rp_port), Callback)
    threading.Thread(target=rp.serve_forever, daemon=True).start()
    redirect_uri = f"http://127.0.0.1:{rp_port}/cb"
    bye_uri = f"http://127.0.0.1:{rp_port}/bye"
    backchannel_uri = f"http://127.0.0.1:{rp_port}/backchannel"
    proc, link = start_sigil(binary, data_dir, port)
    driver = None
    secrets_seen = []
    try:
        if not check("sigil serve printed an enrolment link", bool(link)):
            return
        driver, _ = make_driver()
        # A user with a passkey: enrol the first administrator (this also signs the browser in).
        driver.get(link)
        driver.find_element(By.ID, "email").send_keys("ada@example.com")
        driver.find_element(By.ID, "given_name").send_keys("Ada")
        driver.find_element(By.ID, "family_name").send_keys("Lovelace")
        driver.find_element(By.ID, "enroll-button").click()
        wait_path(driver, "/account")
        check("enrolled a passkey user", True)

        # --- register the RP with the CLI ---
        out = sigil_cli(binary, data_dir, "app", "create-oidc", "--tenant", "default", "--name", "authlib RP",
                        "--redirect-uri", redirect_uri, "--post-logout-redirect-uri", bye_uri,
                        "--backchannel-logout-uri", backchannel_uri, "--json")
        check("sigil app create-oidc --json", out.returncode == 0, out.stderr)
        reg = json.loads(out.stdout)
        client_id, client_secret = reg["client_id"], reg["client_secret"]
        secrets_seen.append(client_secret)

        # --- discovery ---
        meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
        check("discovery issuer is the public URL", meta.get("issuer") == issuer, meta.get("issuer"))
        for field in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "pushed_authorization_request_endpoint",
                      "revocation_endpoint", "introspection_endpoint", "end_session_endpoint"):
            check(f"discovery has {field}", meta.get(field, "").startswith(issuer + "/"), str(meta.get(field)))
        check("discovery: S256 only", meta.get("code_challenge_methods_supported") == ["S256"])
        check("discovery: RS256 ID tokens", "RS256" in meta.get("id_token_signing_alg_values_supported", []))
        check("discovery: iss in authorization responses", meta.get("authorization_response_iss_parameter_supported") is True)
        check("discovery: back-channel logout with sid", meta.get("backchannel_logout_supported") is True
              and meta.get("backchannel_logout_session_supported") is True)

        # --- PAR (RFC 9126), client_secret_basic ---
        verifier = generate_token(64)
        nonce, state = generate_token(20), generate_token(20)
        par = requests.post(meta["pushed_authorization_request_endpoint"], auth=(client_id, client_secret), timeout=10, data={
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "openid email profile",
            "state": state, "nonce": nonce, "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
            "claims": json.dumps({"id_token": {"email": None}}),
        })
        check("PAR answers 201", par.status_code == 201, f"{par.status_code} {par.text}")
        pushed = par.json()
        check("PAR request_uri is a URN with expires_in", pushed.get("request_uri", "").startswith("urn:ietf:params:oauth:request_uri:")
              and pushed.get("expires_in") == 60, json.dumps(pushed))
        check("PAR response is not cacheable", "no-store" in par.headers.get("Cache-Control", ""))
        bad = requests.post(meta["pushed_authorization_request_endpoint"], auth=(client_id, "wrong"), data={"response_type": "code"}, timeout=10)
        check("PAR with a wrong secret is 401 invalid_client", bad.status_code == 401 and bad.json().get("error") == "invalid_client", bad.text)

        # --- the browser: signed out first, so the hosted login runs and resumes the request ---
        driver.delete_all_cookies()
        authorize_url = meta["authorization_endpoint"] + "?" + urllib.parse.urlencode({"request_uri": pushed["request_uri"]})
        driver.get(authorize_url)
        deadline = time.time() + 30
        while time.time() < deadline and not driver.current_url.startswith(redirect_uri):
            if urllib.parse.urlparse(driver.current_url).path == "/login":
                try:
                    driver.find_element(By.ID, "passkey-button").click()
                except Exception:
                    pass
            time.sleep(0.5)
        callback = driver.current_url
        driver.save_screenshot(os.path.join(artifacts, "callback.png"))
        check("sign-in through /login returns to the RP's redirect URI", callback.startswith(redirect_uri), callback)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(callback).query))
        check("authorization response carries state", query.get("state") == state)
        check("authorization response carries iss (RFC 9207)", query.get("iss") == issuer, str(query.get("iss")))
        again = requests.get(authorize_url, allow_redirects=False, timeout=10)
        check("the request_uri is single use", again.status_code == 400, str(again.status_code))

        # --- code exchange with authlib (PKCE, client_secret_basic) ---
        client = OAuth2Session(client_id, client_secret, scope="openid email profile", redirect_uri=redirect_uri, state=state,
                               token_endpoint_auth_method="client_secret_basic")
        token = client.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
        check("authlib exchanged the code", "access_token" in token and "id_token" in token and "refresh_token" in token,
              ",".join(token.keys()))
        secrets_seen += [token["access_token"], token["refresh_token"], query.get("code", "")]
        jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
        claims = JsonWebToken(["RS256"]).decode(
            token["id_token"], jwks, claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": issuer}},
            claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]})
        try:
            claims.validate(leeway=5)
            check("authlib verified the ID token (signature, iss, aud, exp, nonce, at_hash)", True)
        except Exception as error:
            check("authlib verified the ID token (signature, iss, aud, exp, nonce, at_hash)", False, repr(error))
        check("ID token has auth_time, amr, acr, sid", all(k in claims for k in ("auth_time", "amr", "acr", "sid")), json.dumps(dict(claims)))
        check("ID token carries the email asked for in claims", claims.get("email") == "ada@example.com")
        replay = requests.post(meta["token_endpoint"], auth=(client_id, client_secret), timeout=10, data={
            "grant_type": "authorization_code", "code": query["code"], "redirect_uri": redirect_uri, "code_verifier": verifier})
        check("a replayed code is refused with invalid_grant", replay.status_code == 400 and replay.json().get("error") == "invalid_grant",
              replay.text)

        # The replay revoked that grant (RFC 9700); run a second authorization for the rest.
        verifier = generate_token(64)
        nonce, state = generate_token(20), generate_token(20)
        client = OAuth2Session(client_id, client_secret, scope="openid email profile", redirect_uri=redirect_uri, state=state,
                               code_challenge_method="S256")
        url, _ = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, state=state)
        driver.get(url)
        WebDriverWait(driver, 20).until(lambda d: d.current_url.startswith(redirect_uri))
        token = client.fetch_token(meta["token_endpoint"], authorization_response=driver.current_url, code_verifier=verifier)
        check("a plain (non-PAR) authorization with an existing session", "id_token" in token)
        secrets_seen += [token["access_token"], token["refresh_token"]]

        info = client.get(meta["userinfo_endpoint"], timeout=10)
        body = info.json() if info.status_code == 200 else {}
        check("userinfo answers with the user's claims", body.get("sub") == claims["sub"] and body.get("email") == "ada@example.com"
              and body.get("given_name") == "Ada", info.text)

        old_refresh = token["refresh_token"]
        new = client.refresh_token(meta["token_endpoint"])
        check("refresh rotates the refresh token", new.get("refresh_token") not in (None, old_refresh))
        secrets_seen.append(new["refresh_token"])
        reuse = requests.post(meta["token_endpoint"], auth=(client_id, client_secret), timeout=10,
                              data={"grant_type": "refresh_token", "refresh_token": old_refresh})
        check("a rotated refresh token is refused", reuse.status_code == 400 and reuse.json().get("error") == "invalid_grant", reuse.text)
        intro = requests.post(meta["introspection_endpoint"], auth=(client_id, client_secret), data={"token": new["access_token"]}, timeout=10)
        check("reuse revoked the family (introspection: inactive)", intro.json().get("active") is False, intro.text)

        # Revocation (RFC 7009) on a fresh grant.
        verifier, state = generate_token(64), generate_token(20)
        client = OAuth2Session(client_id, client_secret, scope="openid", redirect_uri=redirect_uri, state=state, code_challenge_method="S256")
        url, _ = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, state=state)
        driver.get(url)
        WebDriverWait(driver, 20).until(lambda d: d.current_url.startswith(redirect_uri))
        token = client.fetch_token(meta["token_endpoint"], authorization_response=driver.current_url, code_verifier=verifier)
        secrets_seen += [token["access_token"], token["refresh_token"]]
        active = requests.post(meta["introspection_endpoint"], auth=(client_id, client_secret), data={"token": token["access_token"]}, timeout=10).json()
        check("introspection: the access token is active", active.get("active") is True and active.get("client_id") == client_id, json.dumps(active))
        revoked = client.revoke_token(meta["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token")
        check("authlib revoked the refresh token", revoked.status_code == 200, str(revoked.status_code))
        after = requests.post(meta["introspection_endpoint"], auth=(client_id, client_secret), data={"token": token["access_token"]}, timeout=10).json()
        check("revocation ended the access token too", after.get("active") is False, json.dumps(after))

        # --- client credentials with client_secret_post ---
        out = sigil_cli(binary, data_dir, "app", "create-oidc", "--tenant", "default", "--name", "service", "--grant-type", "client_credentials",
                        "--auth-method", "client_secret_post", "--scope", "email", "--json")
        service = json.loads(out.stdout) if out.returncode == 0 else {}
        check("registered a client-credentials client", bool(service), out.stderr)
        if service:
            secrets_seen.append(service["client_secret"])
            m2m = OAuth2Session(service["client_id"], service["client_secret"], token_endpoint_auth_method="client_secret_post")
            cc = m2m.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
            header = json.loads(base64.urlsafe_b64decode(cc["access_token"].split(".")[0] + "=="))
            check("client credentials: a JWT access token (typ at+jwt)", header.get("typ") == "at+jwt" and "id_token" not in cc, json.dumps(header))

        # --- private_key_jwt (RFC 7523) with authlib's PrivateKeyJWT ---
        key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
        jwks_file = os.path.join(work, "client-jwks.json")
        with open(jwks_file, "w") as f:
            json.dump({"keys": [key.as_dict(is_private=False)]}, f)
        out = sigil_cli(binary, data_dir, "app", "create-oidc", "--tenant", "default", "--name", "jwt client", "--grant-type", "client_credentials",
                        "--auth-method", "private_key_jwt", "--jwks-file", jwks_file, "--scope", "email", "--json")
        jwt_client = json.loads(out.stdout) if out.returncode == 0 else {}
        check("registered a private_key_jwt client with its JWKS", bool(jwt_client) and jwt_client.get("client_secret") is None, out.stderr)
        if jwt_client:
            from authlib.oauth2.rfc7523 import PrivateKeyJWT
            pem = key.as_pem(is_private=True).decode()
            signed = OAuth2Session(jwt_client["client_id"], pem, token_endpoint_auth_method=PrivateKeyJWT(meta["token_endpoint"]))
            try:
                cc = signed.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
                check("authlib authenticated with private_key_jwt", "access_token" in cc, json.dumps(cc)[:200])
            except Exception as error:
                check("authlib authenticated with private_key_jwt", False, repr(error))
            # The same assertion twice: the jti is remembered.
            from authlib.oauth2.rfc7523 import private_key_jwt_sign
            assertion = private_key_jwt_sign(pem, client_id=jwt_client["client_id"], token_endpoint=meta["token_endpoint"])
            form = {"grant_type": "client_credentials", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion": assertion}
            first = requests.post(meta["token_endpoint"], data=form, timeout=10)
            second = requests.post(meta["token_endpoint"], data=form, timeout=10)
            check("a replayed client assertion is refused", first.status_code == 200 and second.status_code == 401
                  and second.json().get("error") == "invalid_client", f"{first.status_code} {second.status_code} {second.text}")

        # --- RP-initiated logout ---
        check("no back-channel logout before the session ends", Callback.backchannel == [], str(Callback.backchannel))
        driver.get(issuer + "/healthz")  # cookies are read per site: step back onto Sigil's
        session_cookie = (driver.get_cookie("sigil_session_default") or {}).get("value", "")
        driver.get(meta["end_session_endpoint"] + "?" + urllib.parse.urlencode({
            "id_token_hint": token.get("id_token", ""), "post_logout_redirect_uri": bye_uri, "state": "bye-1"}))
        WebDriverWait(driver, 20).until(lambda d: d.current_url.startswith(bye_uri))
        check("logout returns to the registered post_logout_redirect_uri with state", driver.current_url == bye_uri + "?state=bye-1", driver.current_url)
        r = requests.get(issuer + "/account", cookies={"sigil_session_default": session_cookie}, allow_redirects=False, timeout=10)
        check("the session ended", bool(session_cookie) and r.status_code == 303 and "/login" in r.headers.get("Location", ""),
              f"{r.status_code} {r.headers.get('Location')}")

        # --- back-channel logout: Sigil POSTs a logout token to the RP, off the request path ---
        deadline = time.time() + 15
        while not Callback.backchannel and time.time() < deadline:
            time.sleep(0.1)
        got = Callback.backchannel[0] if Callback.backchannel else None
        check("the RP's back-channel logout URI received a POST after the logout", got is not None and got[0] == "/backchannel", str(got))
        if got:
            check("back-channel logout: form-encoded logout_token", got[1].startswith("application/x-www-form-urlencoded")
                  and len(got[2].get("logout_token", [])) == 1, f"{got[1]} {list(got[2])}")
            logout_token = (got[2].get("logout_token") or [""])[0]
            secrets_seen.append(logout_token)
            id_claims = json.loads(base64.urlsafe_b64decode(token["id_token"].split(".")[1] + "=="))
            header = json.loads(base64.urlsafe_b64decode(logout_token.split(".")[0] + "=="))
            raw_jwks = requests.get(meta["jwks_uri"], timeout=10).json()
            check("logout token: typ logout+jwt, kid in the JWKS", header.get("typ") == "logout+jwt"
                  and any(k.get("kid") == header.get("kid") for k in raw_jwks.get("keys", [])), str(header))
            try:
                lt = JsonWebToken(["RS256"]).decode(logout_token, JsonWebKey.import_key_set(raw_jwks),
                                                    claims_options={"iss": {"essential": True, "value": issuer},
                                                                    "aud": {"essential": True, "value": client_id},
                                                                    "iat": {"essential": True}, "jti": {"essential": True}})
                lt.validate(leeway=5)
                check("logout token: authlib verifies the signature by /oauth2/jwks, iss, aud, iat, exp", True)
                events = lt.get("events") or {}
                check("logout token: the back-channel logout event", isinstance(events, dict)
                      and events.get("http://schemas.openid.net/event/backchannel-logout") == {}, json.dumps(events))
                check("logout token: no nonce", "nonce" not in lt, json.dumps(dict(lt)))
                check("logout token: sub and sid of the ID token", lt.get("sub") == id_claims.get("sub")
                      and lt.get("sid") and lt.get("sid") == id_claims.get("sid"), f"{lt.get('sub')} {lt.get('sid')} {id_claims.get('sid')}")
                check("logout token: short-lived", 0 < lt.get("exp", 0) - lt.get("iat", 0) <= 300)
            except Exception as error:
                check("logout token: authlib verifies the signature by /oauth2/jwks, iss, aud, iat, exp", False, repr(error))
        time.sleep(1)
        check("exactly one back-channel logout for the one session", len(Callback.backchannel) == 1, str(len(Callback.backchannel)))
    except Exception as error:  # an unexpected failure is a failed check, never a silent pass
        import traceback
        traceback.print_exc()
        check("the flow ran to the end", False, repr(error))
        if driver:
            driver.save_screenshot(os.path.join(artifacts, "failure.png"))
            print("page at failure:", driver.current_url, driver.page_source[:1500])
    finally:
        if driver:
            driver.quit()
        rp.shutdown()
        stop_sigil(proc)
        with open(os.path.join(work, "serve.stdout")) as f:
            log = f.read()
        with open(os.path.join(work, "serve.stderr")) as f:
            log += f.read()
        leaked = [s[:12] for s in secrets_seen if s and s in log]
        check("no code, token or client secret in the server log", not leaked, ",".join(leaked))
        if not args.artifacts:
            shutil.rmtree(work, ignore_errors=True)
        report_and_exit()


if __name__ == "__main__":
    main()
