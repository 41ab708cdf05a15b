#!/usr/bin/env python3
"""Interop: a battery modelled on the OpenID Foundation conformance suite's *basic* OP plan
(oidcc-basic-certification-test-plan), run against the real `sigil serve` with a headless
Chromium session signed in with a WebAuthn virtual passkey.

Covers: nonce echoed in the ID token (signature by a JWKS key, iss, aud, at_hash); state and iss
in the response; userinfo sub; prompt=none without a session -> login_required at the RP with
state and iss, and with a session -> a code; prompt=login and max_age=1 force a new sign-in with
a fresh auth_time; authorization code reuse -> invalid_grant and the tokens issued from it
revoked; redirect_uri mismatch and unknown client -> an error page, never a redirect; PKCE
verifier mismatch -> invalid_grant; `plain` PKCE refused at PAR and at /authorize;
response_type=token and request objects refused; a repeated parameter refused; PAR request_uri
single use and expiry (60 s); bad client authentication -> 401 invalid_client (with
WWW-Authenticate: Basic for client_secret_basic).

Consent (a client registered with --consent required): prompt=none before approval ->
consent_required; the consent page is shown, Deny -> access_denied at the RP, Allow -> a code; the
second time no page; prompt=consent shows it again; removing the access on /account revokes the
client's refresh token and the page comes back. acr: the ID token's acr (phrh for the virtual
authenticator's device-bound passkey); then, signed in with a synced passkey (phr), acr_values=phrh
with prompt=none -> login_required, without it the login page offers passkeys only and the ID token
reports phr; an essential phrh -> access_denied; acr_values=phr -> acr phr.

    /opt/peers-venv/bin/python interop/oidc_battery.py [--sigil .build/debug/sigil] [--artifacts DIR]

Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if anything failed.
"""
import argparse, os, sys, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oidc_common import Sigil, check  # noqa: E402

import requests
from selenium.webdriver.common.by import By
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlparse(url).query))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    s = Sigil(args.sigil, "sigil-oidc-battery-", args.artifacts)
    try:
        meta = s.enrol()
        reg = s.create_client("battery RP", "--redirect-uri", s.redirect_uri)
        cid, secret = reg["client_id"], reg["client_secret"]
        authz, token_ep, par_ep = meta["authorization_endpoint"], meta["token_endpoint"], meta["pushed_authorization_request_endpoint"]

        def params(**extra):
            verifier = generate_token(64)
            p = {"response_type": "code", "client_id": cid, "redirect_uri": s.redirect_uri, "scope": "openid email profile",
                 "state": generate_token(16), "nonce": generate_token(16),
                 "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}
            p.update(extra)
            return p, verifier

        def url(p):
            return authz + "?" + urllib.parse.urlencode(p)

        def exchange(code, verifier, auth=None, data_extra=None):
            """The token request for a code (auth defaults to the battery client's secret)."""
            data = {"grant_type": "authorization_code", "code": code, "redirect_uri": s.redirect_uri, "code_verifier": verifier}
            data.update(data_extra or {})
            r = requests.post(token_ep, auth=auth if auth is not None else (cid, secret), data=data, timeout=10)
            if r.status_code == 200:
                body = r.json()
                s.secrets.extend([body.get("access_token", ""), body.get("refresh_token", "")])
            return r

        def error_of(r):
            try:
                return r.json().get("error")
            except Exception:
                return None

        # A request pushed now and used after its 60 s lifetime, at the end of the battery.
        early_p, _ = params()
        early = requests.post(par_ep, auth=(cid, secret), data=early_p, timeout=10)
        early_at = time.time()
        check("PAR (for the expiry test) answers 201 with expires_in 60", early.status_code == 201 and early.json().get("expires_in") == 60,
              early.text)

        # --- oidcc-server: code flow, nonce echoed, state and iss in the response ---
        p, verifier = params()
        cb, saw_login = s.browse_until(url(p), s.redirect_uri)
        q = query_of(cb)
        check("code flow with a session: no login page, a code", not saw_login and "code" in q, cb)
        check("the response carries state and iss (RFC 9207)", q.get("state") == p["state"] and q.get("iss") == s.issuer, cb)
        s.secrets.append(q.get("code", ""))
        r = exchange(q["code"], verifier)
        body = r.json() if r.status_code == 200 else {}
        check("token response: Bearer, access and ID tokens, no-store", body.get("token_type") == "Bearer" and "id_token" in body
              and "no-store" in r.headers.get("Cache-Control", ""), r.text[:300])
        claims, err = s.verify_id_token(body.get("id_token", ""), cid, p["nonce"], body.get("access_token"))
        check("ID token verifies (RS256, kid in JWKS, iss, aud, exp, at_hash)", claims is not None, err)
        check("oidcc-ensure-request-with-nonce: the nonce is echoed in the ID token", bool(claims) and claims.get("nonce") == p["nonce"])
        check("acr in the ID token: phrh (the virtual authenticator's device-bound passkey)", bool(claims) and claims.get("acr") == "phrh",
              str(claims and claims.get("acr")))
        check("discovery lists Sigil's acr values", meta.get("acr_values_supported") == ["phrh", "phr", "urn:sigil:acr:liveid", "urn:sigil:acr:authenticator"],
              str(meta.get("acr_values_supported")))
        first_access = body.get("access_token", "")
        info = requests.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {first_access}"}, timeout=10)
        check("oidcc-userinfo-get: sub matches the ID token", info.status_code == 200 and bool(claims)
              and info.json().get("sub") == claims.get("sub"), info.text)
        uinfo_post = requests.post(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {first_access}"}, timeout=10)
        check("oidcc-userinfo-post-header works", uinfo_post.status_code == 200, str(uinfo_post.status_code))

        # --- oidcc-codereuse: a second redemption fails and revokes what the first one issued ---
        again = exchange(q["code"], verifier)
        check("code reuse -> 400 invalid_grant", again.status_code == 400 and error_of(again) == "invalid_grant", again.text)
        intro = requests.post(meta["introspection_endpoint"], auth=(cid, secret), data={"token": first_access}, timeout=10).json()
        check("code reuse revoked the access token (introspection inactive)", intro.get("active") is False, str(intro))
        info = requests.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {first_access}"}, timeout=10)
        check("code reuse revoked the access token (userinfo 401)", info.status_code == 401, str(info.status_code))
        rt = body.get("refresh_token")
        if rt:
            rr = requests.post(token_ep, auth=(cid, secret), data={"grant_type": "refresh_token", "refresh_token": rt}, timeout=10)
            check("code reuse revoked the refresh token", rr.status_code == 400 and error_of(rr) == "invalid_grant", rr.text)

        # --- PKCE ---
        p, verifier = params()
        cb, _ = s.browse_until(url(p), s.redirect_uri)
        q = query_of(cb)
        s.secrets.append(q.get("code", ""))
        wrong = exchange(q["code"], generate_token(64))
        check("PKCE verifier mismatch -> 400 invalid_grant", wrong.status_code == 400 and error_of(wrong) == "invalid_grant", wrong.text)
        p, verifier = params()
        cb, _ = s.browse_until(url(p), s.redirect_uri)
        q = query_of(cb)
        s.secrets.append(q.get("code", ""))
        missing = requests.post(token_ep, auth=(cid, secret), timeout=10, data={
            "grant_type": "authorization_code", "code": q["code"], "redirect_uri": s.redirect_uri})
        check("PKCE verifier missing -> refused (400)", missing.status_code == 400 and error_of(missing) in ("invalid_grant", "invalid_request"),
              missing.text)
        plain_v = generate_token(64)
        p, _ = params(code_challenge=plain_v, code_challenge_method="plain")
        r = requests.post(par_ep, auth=(cid, secret), data=p, timeout=10)
        check("plain PKCE refused at PAR (400 invalid_request)", r.status_code == 400 and error_of(r) == "invalid_request", r.text)
        cb, _ = s.browse_until(url(p), s.redirect_uri)
        q = query_of(cb)
        check("plain PKCE refused at /authorize (error to the RP with state, no code)", q.get("error") == "invalid_request"
              and "code" not in q and q.get("state") == p["state"] and q.get("iss") == s.issuer, cb)

        # --- redirect_uri mismatch and unknown client: an error page, never a redirect ---
        for name, bad in (("redirect_uri mismatch", {"redirect_uri": f"http://127.0.0.1:{s.rp_port}/other"}),
                          ("redirect_uri with an extra query", {"redirect_uri": s.redirect_uri + "?x=1"}),
                          ("unknown client_id", {"client_id": "no-such-client"})):
            p, _ = params(**bad)
            r = requests.get(url(p), allow_redirects=False, timeout=10)
            check(f"{name} -> 400 error page, no Location", r.status_code == 400 and "Location" not in r.headers,
                  f"{r.status_code} {r.headers.get('Location')}")
            s.driver.get(url(p))
            time.sleep(0.5)
            check(f"{name}: the browser stays on Sigil", s.driver.current_url.startswith(s.issuer), s.driver.current_url)

        # --- other refusals the basic plan makes ---
        p, _ = params(response_type="token")
        cb, _ = s.browse_until(url(p), s.redirect_uri)
        q = query_of(cb)
        check("response_type=token -> unsupported_response_type at the RP", q.get("error") == "unsupported_response_type"
              and q.get("state") == p["state"], cb)
        p, _ = params(request="eyJhbGciOiJub25lIn0.e30.")
        cb, _ = s.browse_until(url(p), s.redirect_uri)
        check("a request object -> request_not_supported", query_of(cb).get("error") == "request_not_supported", cb)
        p, _ = params()
        r = requests.get(url(p) + "&scope=openid", cookies={"sigil_session_default": s.session_cookie()}, allow_redirects=False, timeout=10)
        check("a repeated parameter -> invalid_request (Sigil: an error page, no code)", r.status_code == 400 and "invalid_request" in r.text
              and "Location" not in r.headers, f"{r.status_code} {r.headers.get('Location')}")

        # --- bad client authentication ---
        p, verifier = params()
        cb, _ = s.browse_until(url(p), s.redirect_uri)
        code = query_of(cb)["code"]
        s.secrets.append(code)
        r = exchange(code, verifier, auth=(cid, "wrong-secret"))
        check("client_secret_basic with a wrong secret -> 401 invalid_client", r.status_code == 401 and error_of(r) == "invalid_client", r.text)
        check("... with WWW-Authenticate: Basic", r.headers.get("WWW-Authenticate", "").startswith("Basic"), r.headers.get("WWW-Authenticate"))
        r = requests.post(token_ep, timeout=10, data={"grant_type": "authorization_code", "code": code, "redirect_uri": s.redirect_uri,
                                                      "code_verifier": verifier, "client_id": cid, "client_secret": "wrong"})
        check("client_secret_post with a wrong secret -> 401 invalid_client", r.status_code == 401 and error_of(r) == "invalid_client", r.text)
        r = requests.post(token_ep, timeout=10, data={"grant_type": "authorization_code", "code": code, "redirect_uri": s.redirect_uri,
                                                      "code_verifier": verifier, "client_id": cid})
        check("a confidential client without a secret -> 401 invalid_client", r.status_code == 401 and error_of(r) == "invalid_client", r.text)
        r = exchange(code, verifier, auth=("no-such-client", secret))
        check("an unknown client -> 401 invalid_client", r.status_code == 401 and error_of(r) == "invalid_client", r.text)
        r = exchange(code, verifier)
        check("the code still works after failed client authentications", r.status_code == 200, r.text[:200])

        # --- prompt=none without a session, then prompt=none with one ---
        s.sign_out_browser()
        p, _ = params(prompt="none")
        cb, saw_login = s.browse_until(url(p), s.redirect_uri)
        q = query_of(cb)
        check("oidcc-prompt-none-not-logged-in: login_required at the RP", q.get("error") == "login_required" and not saw_login, cb)
        check("... with state and iss", q.get("state") == p["state"] and q.get("iss") == s.issuer, cb)
        r = requests.get(url(p), allow_redirects=False, timeout=10)
        check("prompt=none without cookies (no browser): redirect with login_required",
              r.status_code in (302, 303) and query_of(r.headers.get("Location", "")).get("error") == "login_required",
              f"{r.status_code} {r.headers.get('Location')}")

        # Sign in again through an ordinary authorization.
        p, verifier = params()
        cb, saw_login = s.browse_until(url(p), s.redirect_uri)
        signed_in_at = time.time()
        check("without a session the hosted login runs and the request resumes", saw_login and "code" in query_of(cb), cb)
        r = exchange(query_of(cb)["code"], verifier)
        first_auth_time = (s.verify_id_token(r.json()["id_token"], cid, p["nonce"])[0] or {}).get("auth_time", 0) if r.status_code == 200 else 0
        p, verifier = params(prompt="none")
        cb, saw_login = s.browse_until(url(p), s.redirect_uri)
        check("oidcc-prompt-none-logged-in: a code without the login page", "code" in query_of(cb) and not saw_login, cb)
        r = exchange(query_of(cb)["code"], verifier)
        c2 = s.verify_id_token(r.json().get("id_token", ""), cid, p["nonce"])[0] if r.status_code == 200 else None
        check("... and the same auth_time", bool(c2) and c2.get("auth_time") == first_auth_time, f"{first_auth_time} {c2 and c2.get('auth_time')}")

        # --- max_age=1 after waiting, and prompt=login: a new sign-in, a fresh auth_time ---
        time.sleep(max(0, 2.5 - (time.time() - signed_in_at)))
        for name, extra in (("oidcc-max-age-1", {"max_age": "1"}), ("oidcc-prompt-login", {"prompt": "login"})):
            asked = int(time.time())
            p, verifier = params(**extra)
            cb, saw_login = s.browse_until(url(p), s.redirect_uri)
            q = query_of(cb)
            check(f"{name}: the login page is shown again", saw_login and "code" in q, cb)
            r = exchange(q.get("code", ""), verifier)
            c = s.verify_id_token(r.json().get("id_token", ""), cid, p["nonce"])[0] if r.status_code == 200 else None
            check(f"{name}: auth_time is fresh", bool(c) and c.get("auth_time", 0) >= asked - 1 and c.get("auth_time") > first_auth_time,
                  f"asked {asked}, auth_time {c and c.get('auth_time')}")
            time.sleep(2)

        # --- consent: a third-party client (docs/oidc.md "Consent") ---
        third = s.create_client("Third-party RP", "--redirect-uri", s.redirect_uri, "--consent", "required")
        tcid, tsecret = third["client_id"], third["client_secret"]

        def tparams(**extra):
            p, v = params(**extra)
            p["client_id"] = tcid
            return p, v

        p, _ = tparams(prompt="none")
        cb, _ = s.browse_until(url(p), s.redirect_uri)
        q = query_of(cb)
        check("consent required, prompt=none before approval -> consent_required at the RP",
              q.get("error") == "consent_required" and q.get("state") == p["state"] and not s.saw_consent, cb)
        p, _ = tparams()
        cb, _ = s.browse_until(url(p), s.redirect_uri, consent="deny")
        q = query_of(cb)
        check("the consent page is shown; Deny -> access_denied at the RP (state, iss, no code)", s.saw_consent
              and q.get("error") == "access_denied" and q.get("state") == p["state"] and q.get("iss") == s.issuer and "code" not in q, cb)
        p, verifier = tparams()
        cb, _ = s.browse_until(url(p), s.redirect_uri, consent="allow")
        q = query_of(cb)
        check("the consent page is shown again after Deny; Allow -> a code", s.saw_consent and "code" in q and q.get("state") == p["state"], cb)
        r = exchange(q.get("code", ""), verifier, auth=(tcid, tsecret))
        tbody = r.json() if r.status_code == 200 else {}
        tclaims, err = s.verify_id_token(tbody.get("id_token", ""), tcid, p["nonce"], tbody.get("access_token"))
        check("... and the code redeems to a verifiable ID token for the third-party client", tclaims is not None, err or r.text[:200])
        p, verifier = tparams()
        cb, _ = s.browse_until(url(p), s.redirect_uri)
        check("the second authorization: no consent page, a code", not s.saw_consent and "code" in query_of(cb), cb)
        p, _ = tparams(prompt="none")
        cb, _ = s.browse_until(url(p), s.redirect_uri)
        check("after approval prompt=none -> a code", "code" in query_of(cb) and not s.saw_consent, cb)
        p, _ = tparams(prompt="consent")
        cb, _ = s.browse_until(url(p), s.redirect_uri, consent="allow")
        check("prompt=consent shows the page again; Allow -> a code", s.saw_consent and "code" in query_of(cb), cb)
        # Removing the access on the account page revokes the client's tokens.
        s.driver.get(s.issuer + "/account")
        listed = s.driver.find_elements(By.CSS_SELECTOR, "#consents li")
        check("/account lists the approved application", len(listed) == 1 and "Third-party RP" in listed[0].text,
              " | ".join(e.text for e in listed))
        if listed:
            listed[0].find_element(By.TAG_NAME, "button").click()
            time.sleep(1)
        check("... and Remove access empties the list", not s.driver.find_elements(By.CSS_SELECTOR, "#consents li"), s.driver.current_url)
        rt = tbody.get("refresh_token", "")
        rr = requests.post(token_ep, auth=(tcid, tsecret), data={"grant_type": "refresh_token", "refresh_token": rt}, timeout=10)
        check("removing the access revoked the client's refresh token (invalid_grant)", bool(rt) and rr.status_code == 400
              and error_of(rr) == "invalid_grant", rr.text)
        p, _ = tparams(prompt="none")
        cb, _ = s.browse_until(url(p), s.redirect_uri)
        check("after removal prompt=none -> consent_required again", query_of(cb).get("error") == "consent_required", cb)

        # --- acr (docs/oidc.md "acr") with a weaker session: a synced passkey (phr) ---
        d = s.driver
        d.execute_cdp_cmd("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": s.authenticator})
        s.authenticator = d.execute_cdp_cmd("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
            "isUserVerified": True, "automaticPresenceSimulation": True,
            "defaultBackupEligibility": True, "defaultBackupState": True}})["authenticatorId"]
        d.get(s.issuer + "/account")
        before = len(d.find_elements(By.CSS_SELECTOR, "#passkeys li"))
        d.find_element(By.ID, "add-passkey").click()
        deadline = time.time() + 20
        while time.time() < deadline and len(d.find_elements(By.CSS_SELECTOR, "#passkeys li")) <= before:
            time.sleep(0.3)
        check("a synced (backup-eligible) passkey added on /account", len(d.find_elements(By.CSS_SELECTOR, "#passkeys li")) == before + 1)
        p, verifier = params(prompt="login")
        cb, saw_login = s.browse_until(url(p), s.redirect_uri)
        r = exchange(query_of(cb).get("code", ""), verifier)
        c = s.verify_id_token(r.json().get("id_token", ""), cid, p["nonce"])[0] if r.status_code == 200 else None
        check("signed in with the synced passkey: the ID token says acr phr", saw_login and bool(c) and c.get("acr") == "phr",
              str(c and c.get("acr")))
        p, _ = params(acr_values="phrh", prompt="none")
        cb, saw_login = s.browse_until(url(p), s.redirect_uri)
        q = query_of(cb)
        check("acr_values=phrh (higher than the session) with prompt=none -> login_required at the RP",
              q.get("error") == "login_required" and q.get("state") == p["state"] and not saw_login, cb)
        # The rendered login page (a snapshot taken mid-navigation may be the previous document).
        # The passkey can finish the sign-in before the page is read at all; then the sign-in
        # runs again (up to three times) until the page was seen.
        for _ in range(3):
            p, verifier = params(acr_values="phrh")
            cb, saw_login = s.browse_until(url(p), s.redirect_uri)
            page = next((html for html in s.login_pages if 'id="acr-note"' in html), "")
            if not page and s.login_urls:
                # The passkey finished before the page could be read (a loaded machine): the page
                # is a function of its URL (acr, prompt), so read the same URL without the session.
                page = next((t for t in (requests.get(u, timeout=10).text for u in s.login_urls) if 'id="acr-note"' in t), "")
            if page or not saw_login:
                break
        check("acr_values=phrh: a new sign-in whose page offers passkeys only", saw_login and bool(page)
              and 'id="authenticator"' not in page, f"{len(s.login_pages)} snapshots; " + (page or "".join(s.login_pages))[:300])
        r = exchange(query_of(cb).get("code", ""), verifier)
        c = s.verify_id_token(r.json().get("id_token", ""), cid, p["nonce"])[0] if r.status_code == 200 else None
        check("... voluntary and still unmet after the sign-in: a code whose ID token reports phr", bool(c) and c.get("acr") == "phr",
              str(c and c.get("acr")) + r.text[:200])
        essential = '{"id_token":{"acr":{"essential":true,"values":["phrh"]}}}'
        p, _ = params(claims=essential)
        cb, saw_login = s.browse_until(url(p), s.redirect_uri)
        q = query_of(cb)
        check("essential acr phrh unmet after the sign-in -> access_denied with error_description", saw_login
              and q.get("error") == "access_denied" and "acr" in q.get("error_description", "") and "code" not in q, cb)
        p, verifier = params(acr_values="phr")
        cb, saw_login = s.browse_until(url(p), s.redirect_uri)
        r = exchange(query_of(cb).get("code", ""), verifier)
        c = s.verify_id_token(r.json().get("id_token", ""), cid, p["nonce"])[0] if r.status_code == 200 else None
        check("acr_values=phr with a phr session: no sign-in, acr phr in the ID token", not saw_login and bool(c) and c.get("acr") == "phr",
              str(c and c.get("acr")))

        # --- PAR: single use, bound to its client, and expiry ---
        p, verifier = params()
        pushed = requests.post(par_ep, auth=(cid, secret), data=p, timeout=10).json()
        par_url = authz + "?" + urllib.parse.urlencode({"client_id": cid, "request_uri": pushed["request_uri"]})
        cb, _ = s.browse_until(par_url, s.redirect_uri)
        check("PAR request_uri with a session -> a code", "code" in query_of(cb), cb)
        cookie = {"sigil_session_default": s.session_cookie()}
        r = requests.get(par_url, cookies=cookie, allow_redirects=False, timeout=10)
        check("PAR request_uri replay (same session) refused, no code", r.status_code == 400 or (
            "code" not in query_of(r.headers.get("Location", "")) and r.status_code in (302, 303)), f"{r.status_code} {r.headers.get('Location')}")
        other = s.create_client("other RP", "--redirect-uri", s.redirect_uri)
        p, _ = params()
        pushed = requests.post(par_ep, auth=(cid, secret), data=p, timeout=10).json()
        r = requests.get(authz + "?" + urllib.parse.urlencode({"client_id": other["client_id"], "request_uri": pushed["request_uri"]}),
                         cookies=cookie, allow_redirects=False, timeout=10)
        check("PAR request_uri presented with another client_id refused, no code", "code" not in query_of(r.headers.get("Location", ""))
              and r.status_code in (400, 302, 303), f"{r.status_code} {r.headers.get('Location')}")
        wait = 62 - (time.time() - early_at)
        if wait > 0:
            print(f"(waiting {wait:.0f} s for the first pushed request to expire)", flush=True)
            time.sleep(wait)
        r = requests.get(authz + "?" + urllib.parse.urlencode({"client_id": cid, "request_uri": early.json()["request_uri"]}),
                         cookies=cookie, allow_redirects=False, timeout=10)
        check("an expired PAR request_uri (> 60 s) refused, no code", r.status_code == 400 or (
            r.status_code in (302, 303) and "code" not in query_of(r.headers.get("Location", ""))), f"{r.status_code} {r.headers.get('Location')}")
        cb, _ = s.browse_until(authz + "?" + urllib.parse.urlencode({"client_id": cid, "request_uri": early.json()["request_uri"]}), s.issuer, 5)
        time.sleep(0.5)
        check("... and the browser is not sent to the RP", not s.driver.current_url.startswith(s.redirect_uri), s.driver.current_url)
    except Exception as error:  # an unexpected failure is a failed check, never a silent pass
        s.failed(error)
    finally:
        s.finish()


if __name__ == "__main__":
    main()
