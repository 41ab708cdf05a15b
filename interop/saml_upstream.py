#!/usr/bin/env python3
"""Interop: Sigil as a SAML service provider towards an upstream, Okta-shaped IdP (issue 12).

Starts the real `sigil serve` (http://localhost:PORT) and an Okta-shaped IdP on pysaml2's IdP role
(interop/saml_upstream_idp.py, http://127.0.0.1:PORT: cross-site), registers it with
`sigil upstream create-saml --metadata URL`, then in headless Chromium: the login page shows the
connection's button, the upstream login runs (Sigil's signed AuthnRequest over HTTP-Redirect is
checked by the IdP against Sigil's SP metadata), the user is provisioned just in time from Okta's
attributes, and the Sigil session continues to a downstream OIDC client (authlib, code + PKCE) and a
downstream SAML SP (pysaml2); a second sign-in links to the same user; Back after sign-in keeps
the session; an existing local user with the same email is not linked silently. Then the ACS
attack battery (interop/saml_acs_attacks.py) and a signing-certificate rollover (metadata with the
old and new certificate, `sigil upstream refresh`, responses signed with the new key accepted,
with a key outside metadata refused). If SimpleSAMLphp is installed, one complete login through it
as a second upstream IdP.

Also: identifier-first routing (`#upstream-route` on /login sends alice@example.org to the IdP,
bob@nowhere.test back to /login with `#upstream-none`); single logout both ways with a downstream
pysaml2 SP signed in through Sigil (IdP-initiated: the IdP's signed LogoutRequest through the
browser ends Sigil's session, signs the SP out and is answered with a signed LogoutResponse,
RelayState echoed; replayed and unsigned requests refused. Sigil-initiated: Sign out on /account
signs the SP out, sends a signed LogoutRequest with the user's NameID and the IdP's SessionIndex,
and finishes on /login after the IdP's signed LogoutResponse); the SAML trace of the attack
battery (`sigil upstream traces/trace`, the admin API) against the audit log, with no personal
data; a second connection made, read, disabled and deleted through the admin API, and a refresh.

Step-up (a connection's `step_up` policy, `create-saml --step-up`, admin API PATCH {step_up}): a user
signs in through the connection while step-up is off, adds a passkey on /account, signs out; with
step-up on, the next sign-in from the downstream OIDC client stops on the step-up page (no session
yet) and the passkey finishes it (ID token amr fed, mfa, user; acr phr/phrh). The flow cannot be
finished from another browser (no cookies, or a fresh Chromium holding a copy of the passkey) nor
cross-origin, another account's passkey is refused, users without a passkey (linked or new) get
`stepUpUnavailable` and no session (the new one not provisioned); the audit log's
upstream.signed_in says step_up passkey, the SAML trace has the step-up check.

HTTP-POST bindings (post_bindings): a second Okta-shaped IdP whose metadata offers only HTTP-POST for
SSO and SLO (connection okta-post, sso_binding post): Sigil's auto-submitting form carries an
AuthnRequest with an enveloped signature (Reference #ID, RSA-SHA256, exclusive c14n) that xmlsec1
verifies with the certificate of Sigil's SP metadata; the IdP (signed requests required) verifies
it with xmlsec1 and pysaml2 and refuses a copy changed after signing; Chromium's network log shows
the browser POSTing it; the login completes (JIT). Single logout both ways over HTTP-POST: the
IdP's signed LogoutRequest posted through the browser ends the session and Sigil's LogoutResponse
comes back posted with an enveloped signature the IdP verifies (a changed or unsigned POSTed
request refused); Sign out posts Sigil's signed LogoutRequest (NameID, SessionIndex) and finishes
on /login after the IdP's posted LogoutResponse. A connection made by hand (`--sso-url
--sso-binding post --certificate --idp-entity-id`) signs in too.

Encryption (encryption): connection okta-enc, its SP metadata's encryption certificate; the
Okta-shaped IdP encrypts with pysaml2's encrypt_assertion (xmlsec1 and a template): aes256-cbc under
a signed Response, aes128-gcm with and without the Response signature, an EncryptedID (aes128-cbc)
inside an aes256-gcm assertion are accepted in the browser (JIT; the audit's upstream.saml.accepted
says encrypted and carries the SHA-256 of the decrypted NameID; Sigil's LogoutRequest at sign-out
names that NameID); aes256-cbc in an unsigned Response (page and audit say AES-CBC), rsa-1_5 key
transport and Triple DES are refused (400, nobody provisioned, audited); the ACS takes a Response
over 16 KiB; then the crafted encryption battery (saml_acs_attacks.run_encryption_battery).
SimpleSAMLphp, when installed: besides the plain login, an HTTP-POST AuthnRequest (a connection
made by hand) that its `validate.authnrequest` checks (its server and debug logs show the POST and
the signature; a changed copy refused), `assertion.encryption` (its AES-128-CBC + RSA-OAEP-MGF1P,
seen in the posted Response) accepted under its signed Response and refused inside an unsigned one
(`saml20.sign.response` false: the page says AES-CBC, nobody provisioned, audited), and
`nameid.encryption` with a NameID other than the mail address, read as the right user (audit
subject_hash, the same user at the next login).

    /opt/peers-venv/bin/python interop/saml_upstream.py [--sigil .build/debug/sigil] [--artifacts DIR]

Needs chromium, chromium-driver, xmlsec1 and /opt/peers-venv with selenium, requests, pysaml2,
xmlsec, lxml, authlib (scripts/install-interop.sh); simplesamlphp + php-cli/php-xml optional.
Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if anything failed.
"""
import base64, hashlib, html, json, re, os, secrets, shutil, subprocess, sys, time, urllib.parse, zlib

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from passkey_signin import check, finish, launch, make_driver  # noqa: E402
from saml_sp import ACS, sp_client  # noqa: E402
import saml_acs_attacks as attacks  # noqa: E402
from saml_upstream_idp import OktaShapedIdP, free_port  # noqa: E402

import requests  # noqa: E402
from lxml import etree  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, xmldsig  # noqa: E402
from saml2.metadata import entity_descriptor  # noqa: E402
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.common.security import generate_token  # noqa: E402
import warnings  # noqa: E402
warnings.filterwarnings("ignore")
from authlib.jose import JsonWebKey, JsonWebToken  # noqa: E402

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SESSION = "sigil_session_default"



def click_step_up(driver, done, timeout=30):
    """Clicks #step-up-button and waits for `done`; a sign-in rate limit (the page says "retry after
    N seconds": many sign-ins from one address in this suite) is waited out and the click repeated."""
    for _ in range(4):
        driver.find_element(By.ID, "step-up-button").click()
        deadline = time.time() + timeout
        throttled = None
        while time.time() < deadline:
            try:
                if done(driver):
                    return True
                status = driver.find_elements(By.ID, "status")
                text = status[0].text if status else ""
            except Exception:
                text = ""
            m = re.search(r"retry after (\d+) seconds", text)
            if m:
                throttled = int(m.group(1))
                break
            time.sleep(0.2)
        if throttled is None:
            return False
        time.sleep(throttled + 1)
    return False

def cli(binary, data, *args):
    return subprocess.run([binary, *args, "--data-dir", data], capture_output=True, text=True, timeout=60)


NOTES = []  # contract observations printed at the end


def upstream(binary, data, base, *args):
    """`sigil upstream …` with --public-url (the CLI prints SP values for the URL users reach Sigil at;
    its default is http://127.0.0.1:8080, not the running server's)."""
    r = cli(binary, data, "upstream", *args, "--public-url", base)
    if r.returncode != 0 and "--public-url" in r.stderr and ("Unknown option" in r.stderr or "unexpected" in r.stderr.lower()):
        NOTES.append(f"`sigil upstream {args[0]}` has no --public-url")
        r = cli(binary, data, "upstream", *args)
    return r


def users(binary, data):
    r = cli(binary, data, "user", "list", "--tenant", "default", "--json")
    d = json.loads(r.stdout or "[]")
    return d.get("items", d) if isinstance(d, dict) else d


def wait_until(driver, cond, timeout=25):
    try:
        WebDriverWait(driver, timeout).until(lambda d: cond(d))
        return True
    except Exception:  # noqa: BLE001 - the caller's check reports it
        return False


def on(driver, url_prefix):
    return driver.current_url.startswith(url_prefix)


def idp_login(driver, idp, username):
    """On the IdP's login page: the username, then Sign In."""
    if not wait_until(driver, lambda d: d.find_elements(By.ID, "okta-signin-username")):
        return False
    driver.find_element(By.ID, "okta-signin-username").send_keys(username)
    driver.find_element(By.ID, "okta-signin-submit").click()
    return True


def upstream_from_login(driver, base, idp, username, connection="okta"):
    """On Sigil's /login: the connection's button, then the IdP's login."""
    if not wait_until(driver, lambda d: d.find_elements(By.ID, f"upstream-{connection}")):
        return False
    driver.find_element(By.ID, f"upstream-{connection}").click()
    return idp_login(driver, idp, username)


def page_error(driver):
    els = driver.find_elements(By.ID, "error")
    return els[0].text if els else None


def main():
    binary, work, artifacts, port, base, proc, link = launch("sigil-saml-upstream-")
    data = os.path.join(work, "data")
    idp = OktaShapedIdP(work)
    peer = ACS()  # the downstream apps' web side (OIDC redirect URI, SAML SP ACS)
    peer.pages["/cb"] = "<html><body><h1 id='rp-callback'>rp callback</h1></body></html>"
    driver = None
    try:
        check("sigil serve is ready", bool(link) or requests.get(base + "/readyz", timeout=5).status_code == 200)
        h = subprocess.run([binary, "upstream", "create-saml", "--help"], capture_output=True, text=True)
        if not check("the binary has `sigil upstream create-saml`", h.returncode == 0 and "--metadata" in h.stdout,
                     (h.stdout + h.stderr)[:300]):
            return

        # A local user who exists before any upstream login (not linked silently).
        r = cli(binary, data, "user", "create", "--tenant", "default", "--email", "carol@example.org", "--given-name", "Carol",
                "--family-name", "Local", "--json")
        check("a local user carol@example.org exists beforehand", r.returncode == 0, r.stderr)

        # --- register the Okta-shaped IdP ---
        r = upstream(binary, data, base, "create-saml", "--tenant", "default", "--name", "okta", "--display-name", "Okta",
                "--metadata", idp.metadata_url, "--email-domain", "example.org", "--json")
        created = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip().startswith("{") else {}
        if not check("sigil upstream create-saml --metadata URL --json", bool(created), r.stdout + r.stderr):
            return
        sp_entity, acs_url = f"{base}/saml/sp/okta/metadata", f"{base}/saml/sp/okta/acs"
        check("create-saml: sp_entity_id is {base}/saml/sp/okta/metadata", created.get("sp_entity_id") == sp_entity, str(created))
        check("create-saml: acs_url is {base}/saml/sp/okta/acs", created.get("acs_url") == acs_url, str(created.get("acs_url")))
        check("create-saml: idp_entity_id and sso_url from the IdP's metadata",
              created.get("idp_entity_id") == idp.entity_id and created.get("sso_url") == idp.sso_url, str(created))
        check("create-saml: signing_certificates are the IdP certificate's SHA-256",
              [c.lower().replace(":", "") for c in created.get("signing_certificates", [])] == idp.fingerprints(),
              f"{created.get('signing_certificates')} vs {idp.fingerprints()}")
        check("create-saml: name, display_name, id", created.get("name") == "okta" and created.get("display_name") == "Okta"
              and bool(created.get("id")), str(created))
        sp_md_url = created.get("sp_metadata_url") or sp_entity
        idp.trust_sp(sp_md_url)
        r = upstream(binary, data, base, "list", "--tenant", "default", "--json")
        check("sigil upstream list --json shows the connection", r.returncode == 0 and '"okta"' in r.stdout, r.stdout + r.stderr)

        # --- Sigil's SP metadata ---
        md = requests.get(sp_md_url, timeout=10)
        ok = md.status_code == 200
        doc = etree.fromstring(md.content) if ok else None
        check("SP metadata is served at the SP entity ID", ok and doc.get("entityID") == sp_entity, f"{md.status_code} {md.text[:200]}")
        if doc is not None:
            ns = {"md": MD}
            spsso = doc.find("md:SPSSODescriptor", ns)
            check("SP metadata: AuthnRequestsSigned=true, WantAssertionsSigned=true",
                  spsso is not None and spsso.get("AuthnRequestsSigned") == "true" and spsso.get("WantAssertionsSigned") == "true")
            uses = sorted(k.get("use") or "" for k in doc.iterfind(".//md:KeyDescriptor", ns))
            check("SP metadata: KeyDescriptors for signing and encryption", "signing" in uses and "encryption" in uses, str(uses))
            acss = [(e.get("Binding"), e.get("Location")) for e in doc.iterfind(".//md:AssertionConsumerService", ns)]
            check("SP metadata: ACS over HTTP-POST at the ACS URL", (BINDING_HTTP_POST, acs_url) in acss, str(acss))
            slos = [e.get("Location") for e in doc.iterfind(".//md:SingleLogoutService", ns)]
            check("SP metadata: SingleLogoutService at {base}/saml/sp/okta/slo", f"{base}/saml/sp/okta/slo" in slos, str(slos))

        # --- the start of a login, seen without a browser ---
        s = requests.Session()
        r = s.get(f"{base}/login/upstream/okta", params={"return_to": "/account"}, allow_redirects=False, timeout=10)
        loc = r.headers.get("Location", "")
        q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(loc).query).items()}
        check("GET /login/upstream/okta redirects to the IdP's SSO URL (HTTP-Redirect binding)",
              r.status_code in (302, 303) and loc.startswith(idp.sso_url + "?"), f"{r.status_code} {loc[:120]}")
        check("the redirect carries SAMLRequest, RelayState, SigAlg=rsa-sha256 and Signature",
              all(k in q for k in ("SAMLRequest", "RelayState", "Signature")) and q.get("SigAlg") == attacks_rsa_sha256(), str(list(q)))
        set_cookie = r.headers.get("Set-Cookie", "")
        check("a binding cookie is set: HttpOnly, SameSite=Strict", "httponly" in set_cookie.lower() and "samesite=strict" in set_cookie.lower(),
              set_cookie)
        if "SAMLRequest" in q:
            areq = etree.fromstring(zlib.decompress(base64.b64decode(q["SAMLRequest"]), -15))
            P, A = attacks.P, attacks.A
            nip = areq.find(f"{{{P}}}NameIDPolicy")
            check("AuthnRequest: ID, Destination = IdP SSO URL, ACS URL, ProtocolBinding HTTP-POST",
                  bool(areq.get("ID")) and areq.get("Destination") == idp.sso_url and areq.get("AssertionConsumerServiceURL") == acs_url
                  and areq.get("ProtocolBinding") == BINDING_HTTP_POST, etree.tostring(areq)[:400])
            check("AuthnRequest: Issuer is the SP entity ID", areq.findtext(f"{{{A}}}Issuer") == sp_entity)
            check("AuthnRequest: NameIDPolicy emailAddress, AllowCreate=true",
                  nip is not None and nip.get("Format") == NAMEID_FORMAT_EMAILADDRESS and nip.get("AllowCreate") == "true")
        page = s.get(loc, timeout=10)
        check("the IdP verifies Sigil's signed AuthnRequest (SP metadata certificates, raw query) and shows its login page",
              page.status_code == 200 and "okta-signin-username" in page.text, (idp.errors[-1:] or [page.text[:200]])[0])
        # --- downstream registrations ---
        redirect_uri = peer.base + "/cb"
        r = cli(binary, data, "app", "create-oidc", "--tenant", "default", "--name", "downstream RP", "--redirect-uri", redirect_uri, "--json")
        client_id, client_secret = (lambda j: (j.get("client_id"), j.get("client_secret")))(json.loads(r.stdout or "{}"))
        check("a downstream OIDC client is registered", r.returncode == 0 and bool(client_id), r.stderr)
        sigil_idp_md = os.path.join(work, "sigil-idp.xml")
        with open(sigil_idp_md, "w") as f:
            f.write(requests.get(base + "/saml/metadata", timeout=10).text)
        sp, sp_conf, _ = sp_client(work, sigil_idp_md, peer.base + "/sp/metadata", peer.base + "/acs", sign_requests=True, name="downstream",
                                   name_id_format=NAMEID_FORMAT_EMAILADDRESS)
        sp_md = os.path.join(work, "downstream-sp.xml")
        with open(sp_md, "w") as f:
            f.write(str(entity_descriptor(sp_conf)))
        r = cli(binary, data, "app", "create-saml", "--tenant", "default", "--metadata", sp_md, "--json")
        check("a downstream pysaml2 SP is registered", r.returncode == 0, r.stdout + r.stderr)
        # A second downstream SP with a SingleLogoutService (HTTP-POST): single logout reaches it through the browser.
        slo_sp, slo_sp_conf, _ = sp_client(work, sigil_idp_md, peer.base + "/sp-slo/metadata", peer.base + "/acs-slo",
                                           slo_url=peer.base + "/slo-down", sign_requests=True, name="downstream-slo",
                                           name_id_format=NAMEID_FORMAT_EMAILADDRESS)
        slo_sp_md = os.path.join(work, "downstream-slo-sp.xml")
        with open(slo_sp_md, "w") as f:
            f.write(str(entity_descriptor(slo_sp_conf)))
        r = cli(binary, data, "app", "create-saml", "--tenant", "default", "--metadata", slo_sp_md, "--json")
        check("a downstream pysaml2 SP with a logout URL is registered",
              r.returncode == 0 and json.loads(r.stdout or "{}").get("slo_url") == peer.base + "/slo-down", r.stdout + r.stderr)
        meta = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()

        # --- browser 1: OIDC client -> /login -> upstream Okta -> JIT -> back to the client ---
        driver, _ = make_driver(logs=True)
        before = {u["email"] for u in users(binary, data)}
        verifier, nonce, state = generate_token(64), generate_token(20), generate_token(20)
        oauth = OAuth2Session(client_id, client_secret, scope="openid email profile", redirect_uri=redirect_uri, state=state,
                              code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
        url, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, state=state)
        driver.get(url)
        wait_until(driver, lambda d: "/login" in d.current_url)
        link_el = driver.find_elements(By.ID, "upstream-okta")
        check("the login page shows the connection button (id=upstream-okta, 'Sign in with Okta')",
              bool(link_el) and "Sign in with Okta" in link_el[0].text, driver.current_url + " " + driver.page_source[:300])
        if link_el:
            href = link_el[0].get_attribute("href")
            check("the button links to /login/upstream/okta with return_to", "/login/upstream/okta?" in href and "return_to=" in href, href)
        driver.save_screenshot(os.path.join(artifacts, "login-with-okta.png"))
        n_requests = len(idp.requests)
        ok = upstream_from_login(driver, base, idp, "alice")
        check("the button leads to the IdP's login page (cross-site, 127.0.0.1)", ok and len(idp.requests) > n_requests
              and idp.requests[-1].get("accepted"), str(idp.requests[-1:])[:300] + " " + str(idp.errors[-1:]))
        reached = wait_until(driver, lambda d: on(d, redirect_uri), 30)
        driver.save_screenshot(os.path.join(artifacts, "oidc-after-upstream.png"))
        csp = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e.get("message", "")]
        chain = []  # the document requests and the redirects between them, from Chromium's network log
        for entry in driver.get_log("performance"):
            m = json.loads(entry["message"])["message"]
            if m.get("method") == "Network.requestWillBeSent" and m["params"].get("type") == "Document":
                p = m["params"]
                if p.get("redirectResponse"):
                    chain.append(f"{p['redirectResponse']['status']} -> {p['request']['url'][:90]}")
                else:
                    chain.append(f"{p['request']['method']} {p['request']['url'][:90]}")
        check("after the upstream login the browser is back at the OIDC client with a code", reached and "code=" in driver.current_url,
              driver.current_url + " " + (page_error(driver) or "") + (f" | console: {csp} | chain: {chain[-5:]}" if csp
                                                                       else " " + driver.page_source[:300]))
        if not reached:
            # Carry on with the session the upstream login started: a second authorization request.
            verifier, nonce, state = generate_token(64), generate_token(20), generate_token(20)
            oauth = OAuth2Session(client_id, client_secret, scope="openid email profile", redirect_uri=redirect_uri, state=state,
                                  code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
            url, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, state=state)
            driver.get(url)
            reached = wait_until(driver, lambda d: on(d, redirect_uri), 30)
            check("(a second authorization with the session the upstream login started reaches the client)", reached, driver.current_url)
        alice_sub = None
        if reached:
            token = oauth.fetch_token(meta["token_endpoint"], authorization_response=driver.current_url, code_verifier=verifier)
            jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
            claims = JsonWebToken(["RS256", "ES256"]).decode(token["id_token"], jwks)
            claims.validate(leeway=5)
            alice_sub = claims.get("sub")
            check("downstream OIDC: the ID token carries the upstream identity",
                  claims.get("email") == "alice@example.org" and claims.get("nonce") == nonce, json.dumps(dict(claims)))
            info = oauth.get(meta["userinfo_endpoint"], timeout=10).json()
            check("downstream OIDC: userinfo has Okta's firstName/lastName as given/family name",
                  info.get("given_name") == "Alice" and info.get("family_name") == "Liddell", json.dumps(info))
        after = users(binary, data)
        alice = [u for u in after if u.get("email") == "alice@example.org"]
        check("JIT: one user alice@example.org was created", len(alice) == 1 and "alice@example.org" not in before, str(after))
        if alice:
            check("JIT: given and family name from Okta's attributes", alice[0].get("given_name") == "Alice"
                  and alice[0].get("family_name") == "Liddell", str(alice[0]))
        driver.get(base + "/healthz")
        c = driver.get_cookie(SESSION)
        check("a Sigil session cookie (HttpOnly, SameSite=Lax)", bool(c) and c.get("httpOnly") and c.get("sameSite") == "Lax", str(c))

        # --- same browser: downstream SAML SP gets the upstream identity without another login ---
        n = len(peer.received)
        rid, info = sp.prepare_for_authenticate(entityid=base + "/saml/metadata", relay_state="down", binding=BINDING_HTTP_REDIRECT,
                                                sigalg=xmldsig.SIG_RSA_SHA256)
        driver.get(dict(info["headers"])["Location"])
        got = peer.wait(n + 1, timeout=30)
        resp = None
        if got and "SAMLResponse" in got[1]:
            try:
                resp = sp.parse_authn_request_response(got[1]["SAMLResponse"], BINDING_HTTP_POST, outstanding={rid: "/"})
            except Exception as error:  # noqa: BLE001
                check("downstream SAML: pysaml2 accepts Sigil's response", False, repr(error))
        ident = resp.get_identity() if resp else {}
        check("downstream SAML: NameID and attributes are the upstream identity",
              resp is not None and resp.get_subject().text == "alice@example.org" and ident.get("firstName") == ["Alice"]
              and ident.get("lastName") == ["Liddell"], f"{json.dumps(ident)} {driver.current_url}")

        # --- browser 2 (fresh): downstream SAML SP first, through /login and Okta: the second login links ---
        driver.get(base + "/healthz")
        driver.delete_all_cookies()
        n = len(peer.received)
        rid, info = sp.prepare_for_authenticate(entityid=base + "/saml/metadata", relay_state="down2", binding=BINDING_HTTP_REDIRECT,
                                                sigalg=xmldsig.SIG_RSA_SHA256)
        driver.get(dict(info["headers"])["Location"])
        wait_until(driver, lambda d: "/login" in d.current_url)
        upstream_from_login(driver, base, idp, "alice")
        got = peer.wait(n + 1, timeout=30)
        resp = None
        if got and "SAMLResponse" in got[1]:
            try:
                resp = sp.parse_authn_request_response(got[1]["SAMLResponse"], BINDING_HTTP_POST, outstanding={rid: "/"})
            except Exception as error:  # noqa: BLE001
                check("signed-out downstream SAML: pysaml2 accepts Sigil's response", False, repr(error))
        check("signed-out downstream SAML SP -> /login -> Okta -> the SP receives the upstream identity",
              resp is not None and resp.get_subject().text == "alice@example.org", driver.current_url + " " + str(page_error(driver)))
        check("the second upstream login of alice links to the same Sigil user (no duplicate)",
              len([u for u in users(binary, data) if u.get("email") == "alice@example.org"]) == 1)

        # --- sign in directly to /account, twice, and press Back ---
        for attempt in (1, 2):
            driver.get(base + "/healthz")
            driver.delete_all_cookies()
            driver.get(base + "/login?return_to=/account")
            upstream_from_login(driver, base, idp, "alice")
            reached = wait_until(driver, lambda d: d.current_url.split("?")[0] == base + "/account", 30)
            check(f"sign-in {attempt} via Okta lands on /account as alice", reached and "alice@example.org" in driver.page_source,
                  driver.current_url + " " + str(page_error(driver)))
        driver.save_screenshot(os.path.join(artifacts, "account-after-upstream.png"))
        driver.back()
        time.sleep(2)
        back_url, back_error = driver.current_url, page_error(driver)
        driver.save_screenshot(os.path.join(artifacts, "after-back.png"))
        check("Back after sign-in: no Sigil error page", back_error is None, f"{back_url}: {back_error}")
        driver.get(base + "/account")
        check("Back after sign-in: still signed in", driver.current_url.split("?")[0] == base + "/account"
              and "alice@example.org" in driver.page_source, driver.current_url)
        alice_users = [u for u in users(binary, data) if u.get("email") == "alice@example.org"]
        check("after four upstream logins there is still exactly one alice", len(alice_users) == 1, str(alice_users))

        # --- an existing local user with the same email is not linked silently ---
        driver.get(base + "/healthz")
        driver.delete_all_cookies()
        driver.get(base + "/login?return_to=/account")
        upstream_from_login(driver, base, idp, "carol")
        wait_until(driver, lambda d: d.find_elements(By.ID, "error") or d.current_url.split("?")[0] == base + "/account", 30)
        err = page_error(driver)
        driver.get(base + "/healthz")
        check("an upstream login matching an existing local user's email is refused with a clear page (not linked)",
              err is not None and driver.get_cookie(SESSION) is None, f"{driver.current_url} {err}")
        carols = [u for u in users(binary, data) if u.get("email") == "carol@example.org"]
        check("carol is still one local user", len(carols) == 1 and carols[0].get("family_name") == "Local", str(carols))

        # --- --link-domain: a connection that may link existing users of example.org on first login ---
        r = upstream(binary, data, base, "create-saml", "--tenant", "default", "--name", "okta-link", "--display-name", "Okta (linking)",
                     "--metadata", idp.metadata_url, "--link-domain", "example.org", "--json")
        if check("a connection with --link-domain example.org", r.returncode == 0, r.stdout + r.stderr):
            idp.trust_sp(json.loads(r.stdout).get("sp_metadata_url") or f"{base}/saml/sp/okta-link/metadata")
            for attempt in (1, 2):
                driver.get(base + "/healthz")
                driver.delete_all_cookies()
                driver.get(base + "/login?return_to=/account")
                upstream_from_login(driver, base, idp, "carol", connection="okta-link")
                reached = wait_until(driver, lambda d: d.current_url.split("?")[0] == base + "/account", 30)
                check(f"--link-domain: carol's upstream login {attempt} signs in the existing local carol",
                      reached and "carol@example.org" in driver.page_source, driver.current_url + " " + str(page_error(driver)))
            after = [u for u in users(binary, data) if u.get("email") == "carol@example.org"]
            check("--link-domain: linked to the same user (same id, no duplicate, local names kept)",
                  [u.get("id") for u in after] == [carols[0].get("id")] if carols else False, str(after))

        # --- identifier-first: the login page's organisation form routes by email domain ---
        print("--- identifier-first routing", flush=True)
        identifier_first(driver, base, idp)

        # --- single logout with the upstream IdP, both ways (downstream SP signed out on the way) ---
        print("--- single logout", flush=True)
        single_logout(binary, data, base, idp, peer, driver, slo_sp, artifacts)

        # --- Sigil's AuthnRequest, LogoutRequest and LogoutResponse over HTTP-POST ---
        print("--- HTTP-POST bindings", flush=True)
        post_bindings(binary, data, base, work, driver, artifacts)

        # --- the attack battery against the ACS ---
        print("--- ACS attack battery", flush=True)
        r = upstream(binary, data, base, "create-saml", "--tenant", "default", "--name", "okta-b", "--display-name", "Okta B",
                "--metadata", idp.metadata_url, "--email-domain", "example.org", "--json")
        other = "okta-b" if check("a second connection to the same IdP (for the cross-connection attack)", r.returncode == 0,
                                  r.stdout + r.stderr) else None
        if other:
            idp.trust_sp(json.loads(r.stdout).get("sp_metadata_url") or f"{base}/saml/sp/okta-b/metadata")
        target = attacks.SigilACS(binary, data, base, "okta")
        target.idp_origin = idp.base
        keys = attacks.IdPKeys(idp.key, idp.cert, idp.entity_id)
        attacks.run_battery(target, keys, check, work, other_connection=other)

        # A return_to to another origin never becomes the final redirect.
        b = target.browser()
        try:
            st = target.start(b, return_to="https://evil.example/steal")
            spec = attacks.Spec(issuer=idp.entity_id, destination=target.acs_url, audience=target.sp_entity_id, in_response_to=st.request_id,
                                name_id="bob@example.org", attributes={"email": "bob@example.org", "firstName": "Bob", "lastName": "Builder"})
            out = target.submit(b, attacks.b64(attacks.serialize(attacks.sign(attacks.build_response(spec), idp.key, idp.cert))),
                                st.relay_state, idp_origin=idp.base)
            check("return_to=https://evil.example: the final redirect stays on Sigil",
                  not (out.continue_location or "").startswith("https://evil.example"), out.describe())
        except RuntimeError as refused:
            check("return_to=https://evil.example: the final redirect stays on Sigil", "400" in str(refused), str(refused))

        # --- the SAML trace (flight recorder) of the attempts above ---
        print("--- SAML trace", flush=True)
        saml_traces(binary, data, base, work, target)

        # --- connections through the admin API ---
        print("--- admin API", flush=True)
        admin_api(binary, data, base, idp, driver)

        # --- step-up: the user's own Sigil passkey after the upstream sign-in ---
        print("--- step-up", flush=True)
        step_up(binary, data, base, idp, {"client_id": client_id, "client_secret": client_secret, "redirect_uri": redirect_uri,
                                          "meta": meta}, artifacts)

        # --- signing certificate rollover ---
        print("--- certificate rollover", flush=True)
        old_key, old_cert = idp.key, idp.cert
        new_key, new_cert = idp.begin_rollover()
        r = cli(binary, data, "upstream", "refresh", "--tenant", "default", "--name", "okta", "--json")
        changes = json.loads(r.stdout).get("changes") if r.returncode == 0 and r.stdout.strip().startswith("{") else None
        check("sigil upstream refresh --json reports the new signing certificate as a change", bool(changes), r.stdout + r.stderr)
        r = cli(binary, data, "upstream", "refresh", "--tenant", "default", "--name", "okta")
        check("sigil upstream refresh again: no change", r.returncode == 0 and "no change" in r.stdout, r.stdout + r.stderr)
        listed = json.loads(upstream(binary, data, base, "list", "--tenant", "default", "--json").stdout or "[]")
        listed = listed.get("items", listed) if isinstance(listed, dict) else listed
        conn = next((c for c in listed if c.get("name") == "okta"), {})
        check("after refresh the connection trusts the old and the new certificate",
              sorted(x.lower().replace(":", "") for x in conn.get("signing_certificates", [])) == sorted(idp.fingerprints()), str(conn))
        idp.sign_with_new()
        driver.get(base + "/healthz")
        driver.delete_all_cookies()
        driver.get(base + "/login?return_to=/account")
        upstream_from_login(driver, base, idp, "bob")
        reached = wait_until(driver, lambda d: d.current_url.split("?")[0] == base + "/account", 30)
        check("rollover: a login signed with the new key (pysaml2 IdP) is accepted", reached and "bob@example.org" in driver.page_source
              and idp.responses[-1]["key"] == idp.signing_key, driver.current_url + " " + str(page_error(driver)))

        def crafted(key, cert, email="bob@example.org"):
            b = target.browser()
            st = target.start(b)
            spec = attacks.Spec(issuer=idp.entity_id, destination=target.acs_url, audience=target.sp_entity_id,
                                in_response_to=st.request_id, name_id=email,
                                attributes={"email": email, "firstName": "Bob", "lastName": "Builder"})
            return target.submit(b, attacks.b64(attacks.serialize(attacks.sign(attacks.build_response(spec), key, cert))),
                                 st.relay_state, idp_origin=idp.base)
        out = crafted(new_key, new_cert)
        check("rollover: a crafted response signed with the new key is accepted", out.accepted, out.describe())
        out = crafted(old_key, old_cert)
        check("rollover: the old key still works while metadata lists it", out.accepted, out.describe())
        stray_key, stray_cert = attacks.make_keypair(work, "not-in-metadata")
        before_users = users(binary, data)
        out = crafted(stray_key, stray_cert)
        check("rollover: a response signed with a key not in metadata is refused", not out.accepted and out.error is not None,
              out.describe())
        idp.finish_rollover()
        r = cli(binary, data, "upstream", "refresh", "--tenant", "default", "--name", "okta")
        check("sigil upstream refresh after the old certificate left metadata", r.returncode == 0, r.stdout + r.stderr)
        out = crafted(old_key, old_cert)
        check("rollover: once the old certificate left metadata, its signatures are refused", not out.accepted, out.describe())
        out = crafted(new_key, new_cert)
        check("rollover: the new key still works", out.accepted, out.describe())
        check("rollover: no user provisioned by the refused responses", {u["email"] for u in users(binary, data)}
              == {u["email"] for u in before_users})

        # --- --allow-unsolicited: IdP-initiated responses accepted when the operator says so ---
        r = upstream(binary, data, base, "create-saml", "--tenant", "default", "--name", "okta-idpinit", "--display-name", "Okta tile",
                     "--metadata", idp.metadata_url, "--allow-unsolicited", "--json")
        if check("a connection with --allow-unsolicited", r.returncode == 0, r.stdout + r.stderr):
            tile = attacks.SigilACS(binary, data, base, "okta-idpinit", target.token)
            tile.idp_origin = idp.base
            b = tile.browser()
            spec = attacks.Spec(issuer=idp.entity_id, destination=tile.acs_url, audience=tile.sp_entity_id, in_response_to=None,
                                name_id="dave@example.org", attributes={"email": "dave@example.org", "firstName": "Dave", "lastName": "Tile"})
            xml = attacks.serialize(attacks.sign(attacks.build_response(spec), idp.key, idp.cert))
            out = tile.submit(b, attacks.b64(xml), None)
            check("--allow-unsolicited: an IdP-initiated response signs in (a new user, JIT)", out.accepted
                  and "dave@example.org" in (tile.whoami(b) or ""), out.describe())
            out = tile.submit(tile.browser(), attacks.b64(xml), None)
            check("--allow-unsolicited: the same IdP-initiated response replayed is refused", not out.accepted and out.error is not None,
                  out.describe())

        # --- delete: the connection goes from the list, the login page and its endpoints ---
        r = cli(binary, data, "upstream", "delete", "--tenant", "default", "--name", "okta-b")
        idp.distrust_sp(f"{base}/saml/sp/okta-b/metadata")  # the IdP reads every trusted SP's metadata on each request
        check("sigil upstream delete --name okta-b", r.returncode == 0, r.stdout + r.stderr)
        listed = upstream(binary, data, base, "list", "--tenant", "default", "--json").stdout
        check("the deleted connection is no longer listed", '"okta-b"' not in listed and '"okta"' in listed, listed[:300])
        r = requests.get(f"{base}/login?return_to=/account", timeout=10)
        check("the login page no longer offers it", 'id="upstream-okta-b"' not in r.text and 'id="upstream-okta"' in r.text)
        r = requests.get(f"{base}/login/upstream/okta-b", allow_redirects=False, timeout=10)
        check("starting a login with the deleted connection is refused (404)", r.status_code == 404, str(r.status_code))

        # --- encrypted assertions and NameIDs (AES-CBC under a signed Response, AES-GCM, RSA-OAEP) ---
        print("--- encryption", flush=True)
        encryption(binary, data, base, work, driver, idp, artifacts)

        # --- SimpleSAMLphp as a second upstream IdP, when installed ---
        if os.path.exists("/usr/share/simplesamlphp/www") and shutil.which("php"):
            simplesamlphp_login(binary, data, base, work, artifacts, driver)
        else:
            print("SKIP SimpleSAMLphp (not installed: apt-get install simplesamlphp php-cli php-xml php-mbstring)")

        # --- the audit log ---
        events = target.audit(500)
        actions = {e["action"] for e in events}
        for action in ("upstream.saml.accepted", "upstream.saml.rejected", "user.created"):
            check(f"audit log has {action}", action in actions, ",".join(sorted(actions)))
    except Exception as error:  # noqa: BLE001 - an unexpected failure is a failed check
        import traceback
        traceback.print_exc()
        check("the flow ran to the end", False, repr(error))
        if driver:
            driver.save_screenshot(os.path.join(artifacts, "upstream-failure.png"))
            print("page at failure:", driver.current_url, driver.page_source[:1500])
    finally:
        for note in NOTES:
            print("NOTE", note)
        if driver:
            driver.quit()
        idp.shutdown()
        peer.server.shutdown()
        finish(proc, work, artifacts)


def signed_in_at_sigil(base, cookie_value):
    """Whether Sigil's /account accepts this session cookie (200) or asks to sign in."""
    if not cookie_value:
        return False
    r = requests.get(base + "/account", cookies={SESSION: cookie_value}, allow_redirects=False, timeout=10)
    return r.status_code == 200


def fresh_browser(driver, base):
    driver.get(base + "/healthz")
    driver.delete_all_cookies()


def identifier_first(driver, base, idp):
    """`#upstream-route` on /login: alice@example.org goes to the connection with --email-domain
    example.org (the IdP's login page, then /account); bob@nowhere.test back to /login with #upstream-none."""
    fresh_browser(driver, base)
    driver.get(base + "/login?return_to=/account")
    form = wait_until(driver, lambda d: d.find_elements(By.ID, "upstream-route"), 10)
    if not check("identifier-first: /login shows the organisation form (#upstream-route, #upstream-email, #upstream-route-button)",
                 form and bool(driver.find_elements(By.ID, "upstream-email")) and bool(driver.find_elements(By.ID, "upstream-route-button")),
                 driver.page_source[:400]):
        return
    driver.find_element(By.ID, "upstream-email").send_keys("alice@example.org")
    driver.find_element(By.ID, "upstream-route-button").click()
    reached = wait_until(driver, lambda d: d.find_elements(By.ID, "okta-signin-username"), 20)
    check("identifier-first: alice@example.org leads to the IdP's login page", reached and driver.current_url.startswith(idp.sso_url),
          driver.current_url + " " + str(page_error(driver)))
    if reached:
        idp_login(driver, idp, "alice")
        done = wait_until(driver, lambda d: d.current_url.split("?")[0] == base + "/account", 30)
        check("identifier-first: ... and the sign-in ends on the return_to (/account) as alice",
              done and "alice@example.org" in driver.page_source, driver.current_url + " " + str(page_error(driver)))
    fresh_browser(driver, base)
    driver.get(base + "/login?return_to=/account")
    wait_until(driver, lambda d: d.find_elements(By.ID, "upstream-email"), 10)
    driver.find_element(By.ID, "upstream-email").send_keys("bob@nowhere.test")
    driver.find_element(By.ID, "upstream-route-button").click()
    none = wait_until(driver, lambda d: d.find_elements(By.ID, "upstream-none"), 20)
    check("identifier-first: bob@nowhere.test comes back to /login showing #upstream-none",
          none and urllib.parse.urlparse(driver.current_url).path == "/login", driver.current_url)
    q = urllib.parse.parse_qs(urllib.parse.urlparse(driver.current_url).query)
    check("identifier-first: the return_to survives the round trip", q.get("return_to") == ["/account"], driver.current_url)


def downstream_signin(driver, base, idp, peer, sp, label):
    """A fresh browser: the downstream SP (with a logout URL) -> Sigil /login -> Okta (alice) -> the SP
    receives and accepts the response. Returns the Sigil session cookie value, or None."""
    fresh_browser(driver, base)
    n = len(peer.received)
    rid, info = sp.prepare_for_authenticate(entityid=base + "/saml/metadata", relay_state="slo", binding=BINDING_HTTP_REDIRECT,
                                            sigalg=xmldsig.SIG_RSA_SHA256)
    driver.get(dict(info["headers"])["Location"])
    wait_until(driver, lambda d: "/login" in d.current_url)
    upstream_from_login(driver, base, idp, "alice")
    got = peer.wait(n + 1, timeout=30)
    resp = None
    if got and got[0].startswith("/acs-slo") and "SAMLResponse" in got[1]:
        try:
            resp = sp.parse_authn_request_response(got[1]["SAMLResponse"], BINDING_HTTP_POST, outstanding={rid: "/"})
        except Exception as error:  # noqa: BLE001
            check(f"{label}: pysaml2 accepts Sigil's response", False, repr(error))
    ok = check(f"{label}: a fresh browser signs in to the downstream SP through Okta (alice)",
               resp is not None and resp.get_subject().text == "alice@example.org" and bool(sp.users.subjects()),
               f"{driver.current_url} {page_error(driver)} {got and got[0]}")
    driver.get(base + "/healthz")
    c = driver.get_cookie(SESSION)
    return (c or {}).get("value") if ok else None


def single_logout(binary, data, base, idp, peer, driver, sp, artifacts):
    sp_entity, sigil_slo = f"{base}/saml/sp/okta/metadata", f"{base}/saml/sp/okta/slo"
    down = {}  # what the downstream SP's logout endpoint saw

    def downstream_slo(form):
        down.clear()
        down["relay_state"] = form.get("RelayState")
        req = sp.parse_logout_request(form["SAMLRequest"], BINDING_HTTP_POST)
        down["signed"] = req is not None and req.message.signature is not None
        down["name_id"] = req.message.name_id.text if req else None
        subjects = sp.users.subjects()
        answer = sp.handle_logout_request(form["SAMLRequest"], subjects[0], BINDING_HTTP_POST, sign=True, sign_alg=xmldsig.SIG_RSA_SHA256,
                                          digest_alg=xmldsig.DIGEST_SHA256, relay_state=form.get("RelayState"))
        down["logged_out_locally"] = sp.users.subjects() == []
        return answer["data"]
    peer.handlers["/slo-down"] = downstream_slo
    token = cli(binary, data, "admin", "token", "create", "--name", "interop-slo").stdout.strip()

    def audit(action):
        r = requests.get(f"{base}/api/admin/v1/audit-events?limit=200", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        return [e for e in r.json().get("items", []) if e.get("action") == action] if r.status_code == 200 else []

    def issued_index():
        mine = [x for x in idp.responses if x["user"] == "alice@example.org" and x.get("sp") == sp_entity]
        return mine[-1]["session_index"] if mine else None

    # --- 1. IdP-initiated ---
    label = "IdP-initiated SLO"
    cookie = downstream_signin(driver, base, idp, peer, sp, label)
    check(f"{label}: Sigil's session works before the logout", signed_in_at_sigil(base, cookie))
    index = issued_index()
    relay = "okta-rs-" + generate_token(8)
    rid, url = idp.logout_request_url(sp_entity, "alice@example.org", index, relay_state=relay)
    check(f"{label}: the IdP's LogoutRequest goes to Sigil's SLO from its SP metadata, signed over the query (rsa-sha256)",
          url.startswith(sigil_slo + "?") and f"SigAlg={urllib.parse.quote_plus(attacks_rsa_sha256())}" in url and "Signature=" in url, url[:160])
    n_resp, n_peer = len(idp.logout_responses), len(peer.received)
    driver.get(idp.initiate_url(rid))  # the browser is at the IdP, which redirects it to Sigil
    ended = wait_until(driver, lambda d: d.find_elements(By.ID, "idp-logged-out") or d.find_elements(By.ID, "idp-error")
                       or d.find_elements(By.ID, "error"), 40)
    driver.save_screenshot(os.path.join(artifacts, "slo-idp-initiated.png"))
    check(f"{label}: the browser ends on the IdP's signed-out page", ended and bool(driver.find_elements(By.ID, "idp-logged-out")),
          f"{driver.current_url} {page_error(driver)} {driver.page_source[:300]}")
    to_down = [f for p, f in peer.received[n_peer:] if p == "/slo-down"]
    check(f"{label}: the downstream SP received Sigil's LogoutRequest through the browser", bool(to_down) and "SAMLRequest" in to_down[0],
          str([p for p, _ in peer.received[n_peer:]]))
    if to_down:
        check(f"{label}: the downstream SP's handler ran", "handler_error" not in to_down[0], to_down[0].get("handler_error", ""))
        check(f"{label}: the downstream SP's LogoutRequest is signed and names alice", down.get("signed") is True
              and down.get("name_id") == "alice@example.org", str(down))
        check(f"{label}: the downstream SP signed alice out", down.get("logged_out_locally") is True, str(down))
    got = idp.logout_responses[n_resp:]
    answer = got[-1] if got else {}
    check(f"{label}: the IdP's SLO endpoint received a LogoutResponse", bool(got), f"{driver.current_url}")
    if answer:
        check(f"{label}: LogoutResponse signature verifies with Sigil's SP certificate (from {{base}}/saml/sp/okta/metadata, rsa-sha256)",
              answer.get("signature_verified") is True and answer.get("sig_alg") == attacks_rsa_sha256(), str(answer.get("sig_alg")))
        check(f"{label}: LogoutResponse Success, InResponseTo the IdP's request", answer.get("status") == attacks.SUCCESS
              and answer.get("in_response_to") == rid, f"{answer.get('status')} {answer.get('in_response_to')} vs {rid}")
        check(f"{label}: LogoutResponse Issuer is the SP entity ID, Destination the IdP's SLO URL",
              answer.get("issuer") == sp_entity and answer.get("destination") == idp.slo_url,
              f"{answer.get('issuer')} {answer.get('destination')}")
        check(f"{label}: RelayState echoed", answer.get("relay_state") == relay, f"{answer.get('relay_state')!r} vs {relay!r}")
    check(f"{label}: Sigil's session ended (the old cookie no longer opens /account)", cookie and not signed_in_at_sigil(base, cookie))
    driver.get(base + "/account")
    wait_until(driver, lambda d: "/login" in d.current_url, 10)
    check(f"{label}: a later /account in the browser asks to sign in", urllib.parse.urlparse(driver.current_url).path == "/login",
          driver.current_url)
    received = audit("upstream.saml.logout_received")
    check(f"{label}: audit upstream.saml.logout_received", bool(received), str(received[:1]))
    # Replayed, unsigned: refused with a reason, answered to nobody.
    r = requests.get(url, allow_redirects=False, timeout=10)
    err = attacks.error_text(r.text) or ""
    check(f"{label}: the same LogoutRequest replayed is refused (400, reason replayed)", r.status_code == 400 and "replayed" in err,
          f"{r.status_code} {err or r.text[:200]}")
    cookie2 = downstream_signin(driver, base, idp, peer, sp, f"{label} (unsigned)")
    n_resp = len(idp.logout_responses)
    _, unsigned = idp.logout_request_url(sp_entity, "alice@example.org", issued_index(), relay_state="unsigned", sign=False)
    r = requests.get(unsigned, allow_redirects=False, timeout=10)
    err = attacks.error_text(r.text) or ""
    check(f"{label}: an unsigned LogoutRequest is refused (400, reason signatureRequired)", r.status_code == 400
          and "signatureRequired" in err, f"{r.status_code} {err or r.text[:200]}")
    check(f"{label}: ... and the session it names stays signed in", signed_in_at_sigil(base, cookie2) and len(idp.logout_responses) == n_resp)
    rejected = audit("upstream.saml.logout_rejected")
    check(f"{label}: audit upstream.saml.logout_rejected for the refusals", len(rejected) >= 2, str([e.get("reason") for e in rejected]))

    # --- 2. Sigil-initiated (the same browser, still signed in from the unsigned attempt) ---
    label = "Sigil-initiated SLO"
    if not cookie2:
        check(f"{label}: a signed-in session to start from", False)
        return
    index = issued_index()
    n_req, n_peer = len(idp.logout_requests), len(peer.received)
    driver.get(base + "/account")
    if not check(f"{label}: /account has the Sign out button", wait_until(driver, lambda d: d.find_elements(By.ID, "sign-out"), 10),
                 driver.current_url):
        return
    driver.find_element(By.ID, "sign-out").click()
    reached = wait_until(driver, lambda d: urllib.parse.urlparse(d.current_url).path == "/login" and d.current_url.startswith(base)
                         or d.find_elements(By.ID, "idp-error") or d.find_elements(By.ID, "error"), 40)
    driver.save_screenshot(os.path.join(artifacts, "slo-sigil-initiated.png"))
    check(f"{label}: Sign out on /account ends on Sigil's /login", reached and driver.current_url.startswith(base + "/login"),
          f"{driver.current_url} {page_error(driver)} {driver.page_source[:300]}")
    to_down = [f for p, f in peer.received[n_peer:] if p == "/slo-down"]
    check(f"{label}: the downstream SP was signed out first (its LogoutRequest through the browser)",
          bool(to_down) and down.get("logged_out_locally") is True, f"{[p for p, _ in peer.received[n_peer:]]} {down}")
    seen = idp.logout_requests[n_req:]
    req = seen[-1] if seen else {}
    check(f"{label}: the IdP's SLO received Sigil's LogoutRequest", bool(seen), driver.current_url)
    if req:
        check(f"{label}: LogoutRequest over HTTP-Redirect, signed (rsa-sha256), verified with Sigil's SP metadata certificate",
              req.get("binding") == BINDING_HTTP_REDIRECT and req.get("sig_alg") == attacks_rsa_sha256() and req.get("signature_verified") is True,
              f"{req.get('binding')} {req.get('sig_alg')} {req.get('signature_verified')}")
        check(f"{label}: LogoutRequest NameID is alice's (emailAddress)", req.get("name_id") == "alice@example.org",
              f"{req.get('name_id')} {req.get('name_id_format')}")
        check(f"{label}: LogoutRequest SessionIndex is the one the IdP issued", req.get("session_indexes") == [index],
              f"{req.get('session_indexes')} vs {index}")
        check(f"{label}: LogoutRequest Issuer is the SP entity ID, Destination the IdP's SLO URL",
              req.get("issuer") == sp_entity and req.get("destination") == idp.slo_url, f"{req.get('issuer')} {req.get('destination')}")
        check(f"{label}: LogoutRequest carries a RelayState", bool(req.get("relay_state")), str(req.get("relay_state")))
        ans = req.get("answer") or {}
        loc = ans.get("location", "")
        q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(loc).query).items()}
        check(f"{label}: the IdP answered with a signed LogoutResponse (HTTP-Redirect) to {{base}}/saml/sp/okta/slo, RelayState echoed",
              loc.startswith(sigil_slo + "?") and "SAMLResponse" in q and "Signature" in q and q.get("RelayState") == req.get("relay_state"),
              loc[:200] or str(req.get("refused")))
    check(f"{label}: Sigil's session ended", not signed_in_at_sigil(base, cookie2))
    driver.get(base + "/account")
    wait_until(driver, lambda d: "/login" in d.current_url, 10)
    check(f"{label}: a later /account asks to sign in", urllib.parse.urlparse(driver.current_url).path == "/login", driver.current_url)
    done = audit("upstream.saml.logout_completed")
    check(f"{label}: audit upstream.saml.logout_completed (success)", bool(done) and done[0].get("outcome") in (None, "success"),
          str(done[:1]))


# Everything the test IdPs and crafted responses say about people: no trace may contain it.
PERSONAL = ["alice@example.org", "bob@example.org", "carol@example.org", "mallory@example.org", "dave@example.org",
            "Alice", "Liddell", "Bob", "Builder", "Carol", "Danvers", "Mallory", "Attacker", "Dave"]


def saml_traces(binary, data, base, work, target):
    """`sigil upstream traces/trace` and the admin API's traces, against the audit log of the same attempts."""
    r = cli(binary, data, "upstream", "traces", "--tenant", "default", "--name", "okta", "--limit", "200", "--json")
    try:
        traces = json.loads(r.stdout) if r.returncode == 0 else None
    except ValueError:
        traces = None
    if not check("sigil upstream traces --tenant default --name okta --json lists the attempts", isinstance(traces, list) and len(traces) > 0,
                 r.stdout[:300] + r.stderr[:300]):
        return
    traces = traces.get("items", traces) if isinstance(traces, dict) else traces
    created = [t.get("created_at") or "" for t in traces]
    check("traces: newest first", created == sorted(created, reverse=True), str(created[:5]))
    check("traces: each has id, connection okta, outcome accepted/rejected",
          all(t.get("id") and t.get("connection") == "okta" and t.get("outcome") in ("accepted", "rejected") for t in traces),
          str([(t.get("id"), t.get("connection"), t.get("outcome")) for t in traces][:5]))
    rejected = [t for t in traces if t.get("outcome") == "rejected"]
    accepted = [t for t in traces if t.get("outcome") == "accepted"]
    check("traces: both accepted and rejected attempts are there", len(accepted) > 0 and len(rejected) > 0, f"{len(accepted)} / {len(rejected)}")
    bad = [(t["id"], t.get("reason"), (t.get("checks") or [{}])[-1]) for t in rejected
           if not t.get("reason") or not t.get("checks") or t["checks"][-1].get("passed") is not False]
    check("traces: every rejected trace has a reason and its checks end with a failed check", not bad, str(bad[:3]))
    bad = [(t["id"], [c for c in t.get("checks", []) if not c.get("passed")]) for t in accepted
           if not t.get("checks") or any(not c.get("passed") for c in t["checks"]) or t.get("reason")]
    check("traces: every accepted trace has only passed checks and no reason", not bad, str(bad[:3]))
    events = target.audit(3000)
    audited = [SigilACSReason.split(target.reason(e)) for e in events if e["action"] == "upstream.saml.rejected"]
    audited = [reason for reason, connection in audited if connection == "okta"]
    # The ACS refuses most attempts; the same-site continue step refuses a few more (another
    # browser, an existing account not linkable, a disabled user, ...), after the ACS accepted.
    at_acs = [r for r in audited if r not in CONTINUE_STEP_REASONS]
    check("traces: the rejected traces' reasons are the audit log's upstream.saml.rejected reasons for okta at the ACS "
          "(same order, newest first)", [t.get("reason") for t in rejected if t.get("reason") not in CONTINUE_STEP_REASONS] == at_acs,
          f"traces {[t.get('reason') for t in rejected]} vs audit {at_acs}")
    later = [r for r in audited if r in CONTINUE_STEP_REASONS]
    traced = [t.get("reason") for t in rejected]
    missing = [r for r in later if traced.count(r) < later.count(r)]
    check("traces: sign-ins refused at the continue step (audit: " + ", ".join(sorted(set(later))) + ") are traced as rejected with that "
          "reason, not left as accepted", bool(later) and not missing,
          f"audit has upstream.saml.rejected {later} for okta; the traces' reasons are {sorted(set(traced))}; the attempt's trace still says "
          f"outcome accepted (newest trace: {traces[0].get('outcome')} {traces[0].get('reason')}, flow {traces[0].get('flow_id')})")
    leaks = []
    for t in traces:
        texts = [("xml", m.get("xml") or "") for m in t.get("messages", [])] + [("detail " + c.get("name", ""), c.get("detail") or "")
                                                                              for c in t.get("checks", [])]
        for where, text in texts:
            for word in PERSONAL:
                if word in text:
                    leaks.append((t["id"], t.get("reason"), where, word, text[max(0, text.find(word) - 80):text.find(word) + 60]))
    check("traces: no message XML or check detail contains a test user's email, first or last name", not leaks, str(leaks[:4]))
    check("traces: the messages are there (a received Response, decoded)",
          all(any(m.get("kind") == "Response" and m.get("direction") == "received" for m in t.get("messages", [])) for t in accepted),
          str([[(m.get("kind"), m.get("direction")) for m in t.get("messages", [])] for t in accepted][:3]))
    exported = {}
    for t in (rejected[0], accepted[0]):
        path = os.path.join(work, f"trace-{t['id']}.json")
        r = cli(binary, data, "upstream", "trace", "--tenant", "default", "--id", t["id"], "-o", path)
        try:
            with open(path) as f:
                exported[t["id"]] = json.load(f)
        except (OSError, ValueError) as error:
            exported[t["id"]] = repr(error)
        check(f"sigil upstream trace --id ({t['outcome']}) -o FILE writes the same JSON as traces lists", r.returncode == 0
              and exported[t["id"]] == t, f"{r.stdout} {r.stderr} {str(exported[t['id']])[:300]}")
    token = cli(binary, data, "admin", "token", "create", "--name", "interop-traces").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    r = requests.get(f"{base}/api/admin/v1/upstreams/okta/traces", params={"limit": 200}, headers=headers, timeout=10)
    items = r.json().get("items") if r.status_code == 200 else None
    check("GET /api/admin/v1/upstreams/okta/traces lists the same traces, newest first", items is not None
          and [i.get("id") for i in items] == [t["id"] for t in traces], f"{r.status_code} {r.text[:300]}")
    for t in (rejected[0], accepted[0]):
        r = requests.get(f"{base}/api/admin/v1/upstream-traces/{t['id']}", headers=headers, timeout=10)
        got = r.json() if r.status_code == 200 else {}
        same = all(got.get(k) == t.get(k) for k in ("id", "connection", "outcome", "flow_id", "messages", "checks")) \
            and got.get("reason") == t.get("reason")
        check(f"GET /api/admin/v1/upstream-traces/{{id}} ({t['outcome']}) serves the trace the CLI exports", r.status_code == 200 and same,
              f"{r.status_code} {str({k: v for k, v in got.items() if got.get(k) != t.get(k)})[:300]}")
    r = requests.get(f"{base}/api/admin/v1/upstream-traces/{rejected[0]['id']}", timeout=10)
    check("GET /api/admin/v1/upstream-traces/{id} without a token: 401", r.status_code == 401, str(r.status_code))
    r = requests.get(f"{base}/api/admin/v1/upstream-traces/trc_doesnotexist", headers=headers, timeout=10)
    check("GET /api/admin/v1/upstream-traces/{unknown}: 404", r.status_code == 404, str(r.status_code))


CONTINUE_STEP_REASONS = {"otherBrowser", "linkNotTrusted", "userDisabled", "noEmail", "notProvisioned", "unknownFlow"}


class SigilACSReason:
    @staticmethod
    def split(reason):
        """The audit's `reason: connection NAME: message` as (reason, NAME)."""
        head, _, rest = (reason or "").partition(": connection ")
        return head, rest.split(":", 1)[0]


def admin_api(binary, data, base, idp, driver):
    """A second connection through the admin API: create from a metadata URL, get, list, PATCH
    enabled false (its button and routing go), DELETE; refresh of okta returns changes."""
    token = cli(binary, data, "admin", "token", "create", "--name", "interop-upstreams").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    api = f"{base}/api/admin/v1"
    r = requests.post(f"{api}/upstreams", headers=headers, timeout=20, json={
        "name": "okta2", "display_name": "Okta 2", "metadata_url": idp.metadata_url, "email_domains": ["example.net"]})
    body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
    if not check("POST /api/admin/v1/upstreams {name okta2, metadata_url, email_domains}: 201", r.status_code == 201 and body.get("name") == "okta2",
                 f"{r.status_code} {r.text[:400]}"):
        return
    check("created: Location header names /upstreams/okta2", r.headers.get("Location", "").endswith("/api/admin/v1/upstreams/okta2"),
          str(r.headers.get("Location")))
    check("created: SP values and the IdP's from its metadata", body.get("sp_entity_id") == f"{base}/saml/sp/okta2/metadata"
          and body.get("acs_url") == f"{base}/saml/sp/okta2/acs" and body.get("idp_entity_id") == idp.entity_id
          and body.get("sso_url") == idp.sso_url and body.get("metadata_url") == idp.metadata_url, json.dumps(body)[:400])
    check("created: email_domains, enabled, protocol saml", body.get("email_domains") == ["example.net"] and body.get("enabled") is True
          and body.get("protocol") == "saml", json.dumps(body)[:400])
    idp.trust_sp(body.get("sp_metadata_url") or f"{base}/saml/sp/okta2/metadata")
    r = requests.get(f"{api}/upstreams/okta2", headers=headers, timeout=10)
    check("GET /api/admin/v1/upstreams/okta2: the same connection, with an ETag", r.status_code == 200 and r.json().get("id") == body.get("id")
          and bool(r.headers.get("ETag")), f"{r.status_code} {r.text[:200]}")
    r = requests.get(f"{api}/upstreams", headers=headers, timeout=10)
    names = [c.get("name") for c in r.json().get("items", [])] if r.status_code == 200 else []
    check("GET /api/admin/v1/upstreams lists okta and okta2", "okta2" in names and "okta" in names, f"{r.status_code} {names}")
    r = requests.get(f"{api}/upstreams", timeout=10)
    check("GET /api/admin/v1/upstreams without a token: 401", r.status_code == 401, str(r.status_code))
    page = requests.get(f"{base}/login?return_to=/account", timeout=10).text
    check("the login page offers okta2's button", 'id="upstream-okta2"' in page)
    r = requests.get(f"{base}/login/upstream", params={"email": "zoe@example.net", "return_to": "/account"}, allow_redirects=False, timeout=10)
    check("identifier-first: zoe@example.net routes to okta2 (its email_domains)", "/login/upstream/okta2" in r.headers.get("Location", ""),
          f"{r.status_code} {r.headers.get('Location')}")
    idp.users["erin"] = {"email": "erin@example.net", "firstName": "Erin", "lastName": "Second"}
    fresh_browser(driver, base)
    driver.get(f"{base}/login?return_to=/account")
    upstream_from_login(driver, base, idp, "erin", connection="okta2")
    reached = wait_until(driver, lambda d: d.current_url.split("?")[0] == base + "/account", 30)
    check("okta2 (made through the API): a browser sign-in through its button lands on /account as erin (JIT)",
          reached and "erin@example.net" in driver.page_source, driver.current_url + " " + str(page_error(driver)))
    r = requests.patch(f"{api}/upstreams/okta2", headers=headers, json={"enabled": False}, timeout=10)
    check("PATCH /api/admin/v1/upstreams/okta2 {enabled: false}: 200, enabled false", r.status_code == 200 and r.json().get("enabled") is False,
          f"{r.status_code} {r.text[:300]}")
    page = requests.get(f"{base}/login?return_to=/account", timeout=10).text
    check("disabled: the login page no longer offers okta2's button", 'id="upstream-okta2"' not in page and 'id="upstream-okta"' in page)
    r = requests.get(f"{base}/login/upstream/okta2", allow_redirects=False, timeout=10)
    check("disabled: starting a login with okta2 is refused (no redirect to the IdP)",
          not (r.status_code in (302, 303) and r.headers.get("Location", "").startswith(idp.sso_url)), f"{r.status_code} {r.headers.get('Location')}")
    r = requests.get(f"{base}/login/upstream", params={"email": "zoe@example.net", "return_to": "/account"}, allow_redirects=False, timeout=10)
    check("disabled: zoe@example.net is no longer routed to okta2", "/login/upstream/okta2" not in r.headers.get("Location", "")
          and "upstream=none" in r.headers.get("Location", ""), f"{r.status_code} {r.headers.get('Location')}")
    r = requests.delete(f"{api}/upstreams/okta2", headers=headers, timeout=10)
    idp.distrust_sp(body.get("sp_metadata_url") or f"{base}/saml/sp/okta2/metadata")
    check("DELETE /api/admin/v1/upstreams/okta2: 204", r.status_code == 204, f"{r.status_code} {r.text[:200]}")
    r = requests.get(f"{api}/upstreams/okta2", headers=headers, timeout=10)
    check("after DELETE: GET /api/admin/v1/upstreams/okta2 is 404", r.status_code == 404, str(r.status_code))
    r = requests.get(f"{base}/saml/sp/okta2/metadata", timeout=10)
    check("after DELETE: okta2's SP metadata is gone (404)", r.status_code == 404, str(r.status_code))
    r = requests.post(f"{api}/upstreams/okta/refresh", headers=headers, timeout=20)
    body = r.json() if r.status_code == 200 else {}
    check("POST /api/admin/v1/upstreams/okta/refresh: 200 with changes (a list; none now) and the connection",
          r.status_code == 200 and isinstance(body.get("changes"), list) and body.get("upstream", {}).get("name") == "okta",
          f"{r.status_code} {r.text[:300]}")


# --- step-up: the user's own Sigil passkey after the upstream sign-in (connection policy step_up) ---

def stash_credentials(driver, authenticator):
    """Takes every credential out of the virtual authenticator (returned, to be put back with
    restore_credentials): /login's conditional mediation would otherwise sign in with it by itself."""
    creds = driver.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    for c in creds:
        driver.execute_cdp_cmd("WebAuthn.removeCredential", {"authenticatorId": authenticator, "credentialId": c["credentialId"]})
    return creds


def restore_credentials(driver, authenticator, creds):
    for c in creds:
        cred = {k: c[k] for k in ("credentialId", "isResidentCredential", "rpId", "privateKey", "userHandle", "signCount") if k in c}
        driver.execute_cdp_cmd("WebAuthn.addCredential", {"authenticatorId": authenticator, "credential": cred})


STEP_UP_PAGE = "body[data-page='step-up']"


def at_step_up_or_error(d):
    return d.find_elements(By.CSS_SELECTOR, STEP_UP_PAGE) or d.find_elements(By.ID, "error")


def in_page_post(driver, path, body):
    """POST JSON from the page (same origin, this browser's cookies): (status, body)."""
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0], {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(arguments[1])})
          .then(async r => done([r.status, await r.text()])).catch(e => done([0, String(e)]));
    """, path, body)


FOREIGN_STEP_UP = """
    const done = arguments[arguments.length - 1];
    const flow = arguments[0];
    const b = (s) => { const t = s.replace(/-/g,'+').replace(/_/g,'/'); const r = atob(t + '==='.slice((t.length+3)%4));
                       return Uint8Array.from(r, c => c.charCodeAt(0)).buffer; };
    const e = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'');
    const post = (p, body) => fetch(p, {method:'POST', headers:{'Content-Type':'application/json'}, body: JSON.stringify(body)})
                                .then(async r => ({status: r.status, body: await r.text()}));
    (async () => {
      const options = await post('/login/upstream/step-up/options', {flow});
      // A passkey request this browser may have (the ordinary sign-in's), answered with the user's passkey.
      const start = JSON.parse((await post('/login/passkey/options', {})).body);
      start.publicKey.challenge = b(start.publicKey.challenge);
      const c = await navigator.credentials.get({publicKey: start.publicKey});
      const cred = {id: c.id, rawId: e(c.rawId), type: c.type, response: {clientDataJSON: e(c.response.clientDataJSON),
                    authenticatorData: e(c.response.authenticatorData), signature: e(c.response.signature),
                    userHandle: c.response.userHandle ? e(c.response.userHandle) : undefined}};
      const verify = await post('/login/upstream/step-up/verify', {flow, transaction: start.transaction, credential: cred});
      done({options, verify});
    })().catch(err => done({error: String(err)}));
"""


def step_up(binary, data, base, idp, oidc, artifacts):
    """A connection whose policy asks for the user's own Sigil passkey after the IdP's sign-in.

    sue signs in through the connection (step-up off) from the downstream OIDC client, adds a passkey
    on /account and signs out; the admin turns step_up on (PATCH); sue's next sign-in from the OIDC
    client stops on the step-up page (no session yet), the passkey finishes it, and the ID token says
    fed + the passkey's methods + mfa and Sigil's acr. The step-up page's flow cannot be finished by
    another browser (no cookies; a fresh Chromium holding a copy of sue's passkey) and survives those
    attempts. nina (linked, no passkey) and zed (new) are refused with stepUpUnavailable and not signed
    in. Another account's passkey is refused (stepUpWrongUser). Audit: upstream.signed_in with
    step_up passkey. Also `create-saml --step-up`, and step_up off again."""
    token = cli(binary, data, "admin", "token", "create", "--name", "interop-step-up").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    api = f"{base}/api/admin/v1"
    for user, first, last in (("sue", "Sue", "Stepper"), ("nina", "Nina", "Nokey"), ("zed", "Zed", "Newcomer"), ("tom", "Tom", "Other")):
        idp.users[user] = {"email": f"{user}@example.org", "firstName": first, "lastName": last}
    label = "step-up"

    # The CLI flag: a connection made with --step-up says so (then goes).
    r = upstream(binary, data, base, "create-saml", "--tenant", "default", "--name", "okta-step-cli", "--metadata", idp.metadata_url,
                 "--step-up", "--json")
    made = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip().startswith("{") else {}
    check(f"{label}: sigil upstream create-saml --step-up --json shows step_up true", made.get("step_up") is True, r.stdout[:300] + r.stderr[:300])
    r = requests.get(f"{api}/upstreams/okta-step-cli", headers=headers, timeout=10)
    check(f"{label}: GET /api/admin/v1/upstreams/okta-step-cli says step_up true", r.status_code == 200 and r.json().get("step_up") is True,
          f"{r.status_code} {r.text[:300]}")
    cli(binary, data, "upstream", "delete", "--tenant", "default", "--name", "okta-step-cli")

    r = upstream(binary, data, base, "create-saml", "--tenant", "default", "--name", "okta-step", "--display-name", "Okta step-up",
                 "--metadata", idp.metadata_url, "--json")
    made = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip().startswith("{") else {}
    if not check(f"{label}: a connection okta-step without --step-up (step_up false)", bool(made) and made.get("step_up") is False,
                 r.stdout[:300] + r.stderr[:300]):
        return
    idp.trust_sp(made.get("sp_metadata_url") or f"{base}/saml/sp/okta-step/metadata")

    meta, redirect_uri = oidc["meta"], oidc["redirect_uri"]

    def authorize():
        verifier, nonce, state = generate_token(64), generate_token(20), generate_token(20)
        oauth = OAuth2Session(oidc["client_id"], oidc["client_secret"], scope="openid email profile", redirect_uri=redirect_uri, state=state,
                              code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
        url, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, state=state)
        return oauth, url, verifier, nonce

    def id_token(oauth, verifier, callback):
        token = oauth.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
        jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
        claims = JsonWebToken(["RS256", "ES256", "EdDSA"]).decode(token["id_token"], jwks)
        claims.validate(leeway=5)
        return dict(claims)

    def signed_in_upstream(d, user, return_to="/account", via_login_page=False):
        """A fresh browser session: start the okta-step sign-in, the IdP's login as `user`; waits for the step-up page, an error or the
        return_to."""
        fresh_browser(d, base)
        if via_login_page:
            d.get(f"{base}/login?return_to={urllib.parse.quote(return_to)}")
            upstream_from_login(d, base, idp, user, connection="okta-step")
        else:
            d.get(f"{base}/login/upstream/okta-step?return_to={urllib.parse.quote(return_to)}")
            idp_login(d, idp, user)
        wait_until(d, lambda x: at_step_up_or_error(x) or x.current_url.split("?")[0] == base + return_to, 30)

    a, a_auth = make_driver()
    b = None
    try:
        # --- 1. sue: first sign-in without step-up (OIDC client), a passkey on /account, sign out ---
        fresh_browser(a, base)
        oauth, url, verifier, nonce = authorize()
        a.get(url)
        wait_until(a, lambda d: "/login" in d.current_url)
        upstream_from_login(a, base, idp, "sue", connection="okta-step")
        reached = wait_until(a, lambda d: on(d, redirect_uri) or at_step_up_or_error(d), 30)
        if not check(f"{label} off: sue's sign-in through okta-step reaches the OIDC client directly", reached and on(a, redirect_uri),
                     f"{a.current_url} {page_error(a)}"):
            return
        before = id_token(oauth, verifier, a.current_url)
        check(f"{label} off: the ID token has amr fed and none of the passkey's methods; acr not Sigil's",
              "fed" in (before.get("amr") or []) and "user" not in (before.get("amr") or []) and before.get("acr") not in ("phr", "phrh"),
              f"amr {before.get('amr')} acr {before.get('acr')}")
        a.get(base + "/account")
        if not check(f"{label}: sue's /account has #add-passkey", wait_until(a, lambda d: d.find_elements(By.ID, "add-passkey"), 10),
                     a.current_url):
            return
        n = len(a.find_elements(By.CSS_SELECTOR, "#passkeys li"))
        a.find_element(By.ID, "add-passkey").click()
        added = wait_until(a, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#passkeys li")) > n, 20)
        creds = a.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": a_auth})["credentials"]
        if not check(f"{label}: sue added a passkey on /account (virtual authenticator)", added and len(creds) == 1,
                     f"{len(creds)} credentials; status: {(a.find_elements(By.ID, 'status') or [None])[0] and a.find_element(By.ID, 'status').text}"):
            return
        sue_creds = stash_credentials(a, a_auth)  # /login's passkey autofill would sign in with it by itself
        old = (a.get_cookie(SESSION) or {}).get("value")
        a.find_element(By.ID, "sign-out").click()
        wait_until(a, lambda d: urllib.parse.urlparse(d.current_url).path == "/login" and d.current_url.startswith(base), 40)
        check(f"{label}: sue signed out (the old session no longer opens /account)", bool(old) and not signed_in_at_sigil(base, old),
              a.current_url)
        # nina: signed in (linked, JIT) while step-up is off; she never adds a passkey.
        signed_in_upstream(a, "nina")
        check(f"{label} off: nina signs in through okta-step (JIT) and has no passkey",
              a.current_url.split("?")[0] == base + "/account" and "nina@example.org" in a.page_source, f"{a.current_url} {page_error(a)}")

        # --- the admin turns step-up on ---
        r = requests.patch(f"{api}/upstreams/okta-step", headers=headers, json={"step_up": True}, timeout=10)
        check(f"{label}: PATCH /api/admin/v1/upstreams/okta-step {{step_up: true}}: 200, step_up true",
              r.status_code == 200 and r.json().get("step_up") is True, f"{r.status_code} {r.text[:300]}")
        r = requests.get(f"{api}/upstreams/okta-step", headers=headers, timeout=10)
        check(f"{label}: GET /api/admin/v1/upstreams/okta-step says step_up true", r.status_code == 200 and r.json().get("step_up") is True,
              f"{r.status_code} {r.text[:300]}")
        listed = json.loads(upstream(binary, data, base, "list", "--tenant", "default", "--json").stdout or "[]")
        listed = listed.get("items", listed) if isinstance(listed, dict) else listed
        conn = next((c for c in listed if c.get("name") == "okta-step"), {})
        check(f"{label}: sigil upstream list --json says step_up true for okta-step", conn.get("step_up") is True, str(conn)[:300])

        # --- sue again, from the OIDC client: the step-up page, then her passkey ---
        fresh_browser(a, base)
        oauth, url, verifier, nonce = authorize()
        a.get(url)
        wait_until(a, lambda d: "/login" in d.current_url)
        upstream_from_login(a, base, idp, "sue", connection="okta-step")
        wait_until(a, lambda d: at_step_up_or_error(d) or on(d, redirect_uri), 30)
        a.save_screenshot(os.path.join(artifacts, "step-up-page.png"))
        page = a.find_elements(By.CSS_SELECTOR, STEP_UP_PAGE)
        if not check(f"{label} on: after the IdP and the browser step, sue sees the step-up page (data-page=step-up)", bool(page),
                     f"{a.current_url} {page_error(a)} {a.page_source[:300]}"):
            return
        forms = a.find_elements(By.ID, "step-up-form")
        flow = forms[0].get_attribute("data-flow") if forms else ""
        check(f"{label} on: the page has #step-up-form with a data-flow (upsaml_…) and #step-up-button",
              flow.startswith("upsaml_") and bool(a.find_elements(By.ID, "step-up-button")), f"flow {flow!r}")
        check(f"{label} on: the page names the connection (Okta step-up)", "Okta step-up" in a.page_source, a.page_source[:300])
        check(f"{label} on: no session cookie yet on the step-up page", a.get_cookie(SESSION) is None, str(a.get_cookie(SESSION)))
        restore_credentials(a, a_auth, sue_creds)
        reached = click_step_up(a, lambda d: on(d, redirect_uri), 30)
        status = (a.find_elements(By.ID, "status") or [None])[0]
        if check(f"{label} on: the passkey finishes the sign-in and the browser is back at the OIDC client with a code",
                 reached and "code=" in a.current_url, f"{a.current_url} status: {status.text if status else None}"):
            after = id_token(oauth, verifier, a.current_url)
            amr = after.get("amr") or []
            check(f"{label} on: the ID token is sue's (email, nonce)", after.get("email") == "sue@example.org" and after.get("nonce") == nonce,
                  json.dumps(after))
            check(f"{label} on: the ID token's amr has fed, mfa and user (the passkey's methods joined the upstream's)",
                  all(m in amr for m in ("fed", "mfa", "user")), f"amr {amr}")
            check(f"{label} on: the ID token's acr is Sigil's phr/phrh (a device-bound virtual passkey: phrh)",
                  after.get("acr") in ("phr", "phrh"), f"acr {after.get('acr')}")
            check(f"{label} on: the same subject as before step-up (linked, not a new user)", after.get("sub") == before.get("sub"),
                  f"{after.get('sub')} vs {before.get('sub')}")
        a.get(base + "/account")  # an HTML page of Sigil's (connect-src 'self') for the fetch below
        check(f"{label} on: a session cookie now", a.get_cookie(SESSION) is not None)
        status, text = in_page_post(a, "/login/upstream/step-up/options", {"flow": flow})
        check(f"{label} on: the finished flow cannot be stepped up again (options: 4xx)", 400 <= status < 500, f"{status} {text[:200]}")

        # --- 3. the step-up page's flow from another browser ---
        sue_creds = stash_credentials(a, a_auth)
        signed_in_upstream(a, "sue")
        forms = a.find_elements(By.ID, "step-up-form")
        flow = forms[0].get_attribute("data-flow") if forms else ""
        if not check(f"{label} on: sue's second sign-in (to /account) stops on the step-up page", bool(flow),
                     f"{a.current_url} {page_error(a)}"):
            return
        s = requests.Session()
        r = s.post(f"{base}/login/upstream/step-up/options", json={"flow": flow}, headers={"Origin": base}, timeout=10)
        check(f"{label}: another browser (no cookies) posting the flow to /login/upstream/step-up/options gets a 4xx and no session",
              400 <= r.status_code < 500 and SESSION not in r.headers.get("Set-Cookie", ""), f"{r.status_code} {r.text[:200]}")
        binding = {c["name"]: c["value"] for c in a.get_cookies() if c["name"].startswith("sigil_login_")}
        r = requests.post(f"{base}/login/upstream/step-up/options", json={"flow": flow}, cookies=binding,
                          headers={"Origin": "https://evil.example"}, timeout=10)
        check(f"{label}: /login/upstream/step-up/options from another origin (with the browser's binding cookie) is refused (403)",
              bool(binding) and r.status_code == 403, f"{r.status_code} {r.text[:200]} binding cookie {list(binding)}")
        b, b_auth = make_driver()
        # A page of Sigil's whose CSP lets its script fetch Sigil (connect-src 'self') and that asks for no passkey by itself
        # (/login's autofill would sign in with the copied passkey): an unknown enrolment link's error page.
        b.get(base + "/enroll/sigil_en_unknown")
        restore_credentials(b, b_auth, sue_creds)  # even with a copy of sue's passkey
        out = b.execute_async_script(FOREIGN_STEP_UP, flow)
        opt, ver = out.get("options") or {}, out.get("verify") or {}
        print(f"    (another browser: options {opt.get('status')} {str(opt.get('body'))[:160]}; verify {ver.get('status')} "
              f"{str(ver.get('body'))[:160]})", flush=True)
        check(f"{label}: a fresh Chromium profile posting the flow to /login/upstream/step-up/options gets a 4xx",
              400 <= opt.get("status", 0) < 500, json.dumps(out)[:400])
        check(f"{label}: ... and /login/upstream/step-up/verify with sue's passkey (on an ordinary passkey transaction) gets a 4xx",
              400 <= ver.get("status", 0) < 500, json.dumps(out)[:400])
        b.get(base + "/healthz")
        check(f"{label}: ... and that browser has no session", b.get_cookie(SESSION) is None, str(b.get_cookie(SESSION)))
        b.quit()
        b = None

        # Another account's passkey in the right browser: tom (via okta, no step-up) has a passkey; sue's step-up with it is refused.
        t, t_auth = make_driver()
        try:
            fresh_browser(t, base)
            t.get(f"{base}/login/upstream/okta?return_to=/account")
            idp_login(t, idp, "tom")
            wait_until(t, lambda d: d.find_elements(By.ID, "add-passkey"), 30)
            t.find_element(By.ID, "add-passkey").click()
            wait_until(t, lambda d: d.find_elements(By.CSS_SELECTOR, "#passkeys li"), 20)
            tom_creds = t.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": t_auth})["credentials"]
        finally:
            t.quit()
        if check(f"{label}: tom (another account) has a passkey", len(tom_creds) == 1, str(len(tom_creds))):
            restore_credentials(a, a_auth, tom_creds)
            a.find_element(By.ID, "step-up-button").click()
            wait_until(a, lambda d: d.find_element(By.ID, "status").text not in ("", "Follow your device's prompt…", "Checking…")
                       or not d.find_elements(By.CSS_SELECTOR, STEP_UP_PAGE), 20)
            said = a.find_element(By.ID, "status").text if a.find_elements(By.ID, "status") else ""
            check(f"{label}: another account's passkey on the step-up page is refused (the page says so, no session)",
                  bool(a.find_elements(By.CSS_SELECTOR, STEP_UP_PAGE)) and bool(said) and a.get_cookie(SESSION) is None,
                  f"{a.current_url} status {said!r} cookie {a.get_cookie(SESSION)}")
            stash_credentials(a, a_auth)
        restore_credentials(a, a_auth, sue_creds)
        reached = click_step_up(a, lambda d: d.current_url.split("?")[0] == base + "/account", 30)
        status = (a.find_elements(By.ID, "status") or [None])[0]
        check(f"{label}: after those attempts, sue's own passkey in her browser still finishes the sign-in (lands on /account as sue)",
              reached and "sue@example.org" in a.page_source, f"{a.current_url} status: {status.text if status else None}")
        sue_creds = stash_credentials(a, a_auth)

        # --- 2. a user without a passkey: refused, not signed in ---
        n_users = {u["email"] for u in users(binary, data)}
        for who, what in (("nina", "nina (linked, no passkey)"), ("zed", "zed (new, no passkey)")):
            signed_in_upstream(a, who)
            a.save_screenshot(os.path.join(artifacts, f"step-up-{who}.png"))
            err = page_error(a)
            check(f"{label}: {what} gets Sigil's refusal page (id=error) with reason stepUpUnavailable",
                  err is not None and "stepUpUnavailable" in err, f"{a.current_url} error {err!r} step-up page {bool(at_step_up_or_error(a))}")
            a.get(base + "/healthz")
            check(f"{label}: ... and {who} is not signed in", a.get_cookie(SESSION) is None, str(a.get_cookie(SESSION)))
        check(f"{label}: the refused new user zed was not provisioned", "zed@example.org" not in {u["email"] for u in users(binary, data)}
              and "zed@example.org" not in n_users, str(sorted({u["email"] for u in users(binary, data)})))

        # --- 4. the audit log ---
        r = requests.get(f"{api}/audit-events?limit=200", headers=headers, timeout=10)
        events = r.json().get("items", []) if r.status_code == 200 else []
        signed = [e for e in events if e.get("action") == "upstream.signed_in" and (e.get("after") or {}).get("connection") == "okta-step"]
        stepped = [e for e in signed if (e.get("after") or {}).get("step_up") == "passkey"]
        check(f"{label}: audit upstream.signed_in for okta-step with step_up: passkey (the two step-up sign-ins)", len(stepped) >= 2,
              str([(e.get("after") or {}) for e in signed][:4]))
        check(f"{label}: audit upstream.signed_in of the sign-ins before step-up say step_up: no",
              any((e.get("after") or {}).get("step_up") == "no" for e in signed), str([(e.get("after") or {}) for e in signed][:4]))
        rejected = [e.get("reason") or "" for e in events if e.get("action") == "upstream.saml.rejected"]
        check(f"{label}: audit upstream.saml.rejected with stepUpUnavailable (nina, zed)",
              len([x for x in rejected if x.startswith("stepUpUnavailable")]) >= 2, str(rejected[:6]))
        check(f"{label}: audit upstream.saml.rejected with stepUpWrongUser (tom's passkey)",
              any(x.startswith("stepUpWrongUser") for x in rejected), str(rejected[:6]))

        # The SAML trace of the last step-up sign-in records the passkey step.
        r = cli(binary, data, "upstream", "traces", "--tenant", "default", "--name", "okta-step", "--limit", "50", "--json")
        try:
            traces = json.loads(r.stdout) if r.returncode == 0 else []
        except ValueError:
            traces = []
        traces = traces.get("items", traces) if isinstance(traces, dict) else traces
        stepped_traces = [t for t in traces if any(c.get("name") == "step-up" and c.get("passed") for c in t.get("checks", []))]
        check(f"{label}: sigil upstream traces --name okta-step: the step-up sign-ins' traces end with a passed step-up check",
              len(stepped_traces) >= 2 and all(t.get("outcome") == "accepted" for t in stepped_traces),
              str([(t.get("outcome"), t.get("reason"), [c.get("name") for c in t.get("checks", [])][-3:]) for t in traces[:6]]))

        # --- step-up off again: sue lands directly ---
        r = requests.patch(f"{api}/upstreams/okta-step", headers=headers, json={"step_up": False}, timeout=10)
        check(f"{label}: PATCH {{step_up: false}}: 200, step_up false", r.status_code == 200 and r.json().get("step_up") is False,
              f"{r.status_code} {r.text[:300]}")
        signed_in_upstream(a, "sue")
        check(f"{label} off again: sue's sign-in lands on /account without the step-up page",
              a.current_url.split("?")[0] == base + "/account" and "sue@example.org" in a.page_source, f"{a.current_url} {page_error(a)}")
    finally:
        a.quit()
        if b:
            b.quit()


def attacks_rsa_sha256():
    return "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def simplesamlphp_login(binary, data, base, work, artifacts, driver):
    """SimpleSAMLphp 1.19 (Debian) as a second upstream IdP: one complete login (student, HTTP-Redirect
    AuthnRequest); Sigil's AuthnRequest over HTTP-POST to a connection made by hand (--sso-binding
    post), with SimpleSAMLphp's `validate.authnrequest` checking its enveloped signature (a copy
    changed after signing refused); encrypted assertions (`assertion.encryption`: SimpleSAMLphp's
    AES-128-CBC and RSA-OAEP-MGF1P, under its signed Response) accepted, and refused inside an
    unsigned Response (`saml20.sign.response` false); an encrypted NameID (`nameid.encryption`,
    with a NameID that is not the mail address) read as the right user."""
    ssp_dir = os.path.join(work, "ssp")
    port = free_port()
    setup = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ssp_upstream_setup.sh")
    r = subprocess.run(["bash", setup, ssp_dir], capture_output=True, text=True, env=dict(os.environ, SSP_PORT=str(port)))
    if not check("SimpleSAMLphp: configured", r.returncode == 0, r.stdout + r.stderr):
        return
    php_log = os.path.join(work, "ssp-php.log")
    log = open(php_log, "w")
    php = subprocess.Popen(["php", "-S", f"127.0.0.1:{port}", "-t", "/usr/share/simplesamlphp/www"], stdout=log, stderr=log,
                           env=dict(os.environ, SIMPLESAMLPHP_CONFIG_DIR=os.path.join(ssp_dir, "config")))
    ssp_base = f"http://127.0.0.1:{port}"
    md_url = f"{ssp_base}/saml2/idp/metadata.php"
    sso_url = f"{ssp_base}/saml2/idp/SSOService.php"
    ssp_log = os.path.join(ssp_dir, "log", "simplesamlphp.log")

    def register(name, display, options=None, *how):
        """create-saml (from SimpleSAMLphp's metadata URL unless `how` says otherwise), then Sigil's SP metadata
        (and `options`) dropped where SimpleSAMLphp trusts it. Returns the created connection (a dict)."""
        r = upstream(binary, data, base, "create-saml", "--tenant", "default", "--name", name, "--display-name", display,
                     *(how or ("--metadata", md_url)), "--attribute", "email=mail", "--attribute", "given_name=givenName",
                     "--attribute", "family_name=sn", "--json")
        created = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip().startswith("{") else {}
        if created:
            with open(os.path.join(ssp_dir, "metadata", f"sp-{name}.xml"), "w") as f:
                f.write(requests.get(created.get("sp_metadata_url") or f"{base}/saml/sp/{name}/metadata", timeout=10).text)
            if options:
                with open(os.path.join(ssp_dir, "metadata", f"sp-{name}.json"), "w") as f:
                    json.dump(options, f)
        else:
            print(r.stdout[:300], r.stderr[:300])
        return created

    def login(name, username, password, shot):
        """A fresh browser: Sigil's /login/upstream/NAME, SimpleSAMLphp's form; waits for /account or an error page."""
        clear_browser(driver, base)
        driver.get(f"{base}/login/upstream/{name}?return_to=/account")
        if not wait_until(driver, lambda d: d.find_elements(By.NAME, "username"), 20):
            return False
        driver.find_element(By.NAME, "username").send_keys(username)
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.NAME, "password").submit()
        wait_until(driver, lambda d: d.current_url.split("?")[0] == base + "/account" or d.find_elements(By.ID, "error"), 30)
        driver.save_screenshot(os.path.join(artifacts, shot))
        return driver.current_url.split("?")[0] == base + "/account"

    def posted_response(name):
        """The SAMLResponse the browser posted to the connection's ACS (Chromium's network log), as an lxml root."""
        got = [f for u, f in browser_posts(driver) if u == f"{base}/saml/sp/{name}/acs" and "SAMLResponse" in f]
        return etree.fromstring(base64.b64decode(got[-1]["SAMLResponse"])) if got else None

    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if requests.get(md_url, timeout=3).status_code == 200:
                    break
            except Exception:  # noqa: BLE001
                time.sleep(0.3)
        created = register("ssp", "SimpleSAMLphp")
        if not check("SimpleSAMLphp: registered with create-saml (attribute mapping mail/givenName/sn)", bool(created)):
            return
        driver.get(base + "/healthz")
        driver.delete_all_cookies()
        driver.get(base + "/login?return_to=/account")
        if not wait_until(driver, lambda d: d.find_elements(By.ID, "upstream-ssp")):
            check("SimpleSAMLphp: the login page shows its button", False, driver.page_source[:300])
            return
        driver.find_element(By.ID, "upstream-ssp").click()
        wait_until(driver, lambda d: d.find_elements(By.NAME, "username"), 20)
        driver.save_screenshot(os.path.join(artifacts, "ssp-login.png"))
        try:
            driver.find_element(By.NAME, "username").send_keys("student")
            driver.find_element(By.NAME, "password").send_keys("studentpass")
            driver.find_element(By.NAME, "password").submit()
        except Exception as error:  # noqa: BLE001
            check("SimpleSAMLphp: its login form", False, repr(error) + " " + driver.page_source[:300])
            return
        reached = wait_until(driver, lambda d: d.current_url.split("?")[0] == base + "/account", 30)
        driver.save_screenshot(os.path.join(artifacts, "ssp-after.png"))
        check("SimpleSAMLphp: a complete login lands on /account as student@example.org",
              reached and "student@example.org" in driver.page_source,
              driver.current_url + " " + str(page_error(driver)) + " " + driver.page_source[:300])
        students = [u for u in users(binary, data) if u.get("email") == "student@example.org"]
        check("SimpleSAMLphp: JIT user with mapped names", len(students) == 1 and students[0].get("given_name") == "Stu"
              and students[0].get("family_name") == "Dent", str(students))
        idp_doc = etree.fromstring(requests.get(md_url, timeout=10).content)
        ssp_entity = idp_doc.get("entityID")

        # --- Sigil's AuthnRequest over HTTP-POST (a connection made by hand), validate.authnrequest ---
        lab = "SimpleSAMLphp HTTP-POST"
        made = register("ssp-post", "SimpleSAMLphp POST", None, "--idp-entity-id", ssp_entity, "--sso-url", sso_url, "--sso-binding", "post",
                        "--certificate", os.path.join(ssp_dir, "cert", "idp.crt"))
        if check(f"{lab}: create-saml --sso-url {{SSOService.php}} --sso-binding post --certificate idp.crt --idp-entity-id: sso_binding post",
                 made.get("sso_binding") == "post" and made.get("sso_url") == sso_url, str(made)[:300]):
            s = requests.Session()
            r = s.get(f"{base}/login/upstream/ssp-post", params={"return_to": "/account"}, allow_redirects=False, timeout=10)
            action, fields = form_of(r.text)
            xml = base64.b64decode(fields.get("SAMLRequest", ""))
            present, uri, sig_alg, _, _ = enveloped(xml) if xml else (False, None, None, None, None)
            check(f"{lab}: Sigil's page posts an AuthnRequest with an enveloped RSA-SHA256 signature to SSOService.php",
                  action == sso_url and present and sig_alg == attacks_rsa_sha256(), f"{r.status_code} {action} {present} {sig_alg}")
            if xml:
                changed = dict(fields, SAMLRequest=base64.b64encode(xml.replace(b'Version="2.0"', b'Version="2.0" ForceAuthn="true"', 1)).decode())
                page = requests.post(sso_url, data=changed, timeout=15)
                check(f"{lab}: SimpleSAMLphp refuses a copy changed after signing (validate.authnrequest: its signature is checked)",
                      'name="username"' not in page.text, f"{page.status_code} {page.text[:200]}")
            mark = os.path.getsize(php_log) if os.path.exists(php_log) else 0
            smark = os.path.getsize(ssp_log) if os.path.exists(ssp_log) else 0
            reached = login("ssp-post", "poster", "posterpass", "ssp-post-after.png")
            to_ssp = [f for u, f in browser_posts(driver) if u.split("?")[0] == sso_url and "SAMLRequest" in f]
            check(f"{lab}: the browser POSTed the SAMLRequest to SSOService.php (Chromium's network log)", bool(to_ssp))
            with open(php_log, errors="replace") as f:
                f.seek(mark)
                access = f.read()
            check(f"{lab}: SimpleSAMLphp's server logged POST /saml2/idp/SSOService.php", "POST /saml2/idp/SSOService.php" in access,
                  access[-300:])
            with open(ssp_log, errors="replace") as f:
                f.seek(smark)
                received = f.read()
            m = re.search(r"Received message:(.*?)(?:Sending message:|$)", received, re.S)
            check(f"{lab}: SimpleSAMLphp's log shows the AuthnRequest it received, with its ds:Signature",
                  m is not None and "AuthnRequest" in m.group(1) and "ds:Signature" in m.group(1), received[-300:])
            check(f"{lab}: poster's login lands on /account as poster@example.org (JIT)", reached and "poster@example.org" in driver.page_source
                  and any(u.get("email") == "poster@example.org" for u in users(binary, data)), f"{driver.current_url} {page_error(driver)}")

        # --- encrypted assertions: assertion.encryption (AES-128-CBC, RSA-OAEP-MGF1P) ---
        lab = "SimpleSAMLphp assertion.encryption"
        target = attacks.SigilACS(binary, data, base, "ssp-enc")
        if check(f"{lab}: connection ssp-enc, SimpleSAMLphp told to encrypt for it", bool(register("ssp-enc", "SimpleSAMLphp encrypted",
                                                                                               {"assertion.encryption": True}))):
            before = {e["id"] for e in target.audit(200)}
            reached = login("ssp-enc", "cipher", "cipherpass", "ssp-enc-after.png")
            resp = posted_response("ssp-enc")
            methods = [e.get("Algorithm") for e in resp.iter(f"{{{attacks.XENC}}}EncryptionMethod")] if resp is not None else []
            check(f"{lab}: SimpleSAMLphp's Response holds an EncryptedAssertion (aes128-cbc, rsa-oaep-mgf1p; no plain Assertion) and is signed",
                  resp is not None and resp.find(f"{{{attacks.A}}}EncryptedAssertion") is not None and resp.find(f"{{{attacks.A}}}Assertion") is None
                  and methods == [attacks.XENC + "aes128-cbc", attacks.XENC + "rsa-oaep-mgf1p"] and resp.find(f"{{{DS}}}Signature") is not None,
                  str(methods))
            check(f"{lab}: the login lands on /account as cipher@example.org", reached and "cipher@example.org" in driver.page_source,
                  f"{driver.current_url} {page_error(driver)}")
            ciphers = [u for u in users(binary, data) if u.get("email") == "cipher@example.org"]
            check(f"{lab}: JIT user cipher@example.org with the mapped names (Cy Pher)", len(ciphers) == 1 and ciphers[0].get("given_name") == "Cy"
                  and ciphers[0].get("family_name") == "Pher", str(ciphers))
            events = accepted_events(target, before, "ssp-enc")
            check(f"{lab}: audit upstream.saml.accepted says encrypted true", len(events) == 1 and events[0].get("encrypted") == "true", str(events))

        lab = "SimpleSAMLphp assertion.encryption, Response unsigned"
        target = attacks.SigilACS(binary, data, base, "ssp-enc-unsigned", target.token)
        if check(f"{lab}: connection ssp-enc-unsigned (saml20.sign.response false: only the assertion is signed)",
                 bool(register("ssp-enc-unsigned", "SimpleSAMLphp unsigned", {"assertion.encryption": True, "saml20.sign.response": False}))):
            before = {e["id"] for e in target.audit(200)}
            login("ssp-enc-unsigned", "unsigned", "unsignedpass", "ssp-enc-unsigned-after.png")
            resp = posted_response("ssp-enc-unsigned")
            check(f"{lab}: SimpleSAMLphp's Response is unsigned and holds an aes128-cbc EncryptedAssertion",
                  resp is not None and resp.find(f"{{{DS}}}Signature") is None and resp.find(f"{{{attacks.A}}}EncryptedAssertion") is not None
                  and attacks.XENC + "aes128-cbc" in [e.get("Algorithm") for e in resp.iter(f"{{{attacks.XENC}}}EncryptionMethod")])
            err = attacks.error_text(driver.page_source) or ""
            check(f"{lab}: refused with Sigil's error page (id=error) naming AES-CBC", "AES-CBC" in err, f"{driver.current_url} {err!r}")
            driver.get(base + "/healthz")
            check(f"{lab}: no session", driver.get_cookie(SESSION) is None)
            check(f"{lab}: unsigned@example.org not provisioned", all(u.get("email") != "unsigned@example.org" for u in users(binary, data)))
            rejected = [target.reason(e) or "" for e in target.audit(200) if e["id"] not in before and e["action"] == "upstream.saml.rejected"]
            check(f"{lab}: audit upstream.saml.rejected for ssp-enc-unsigned naming AES-CBC",
                  any("ssp-enc-unsigned" in x and "AES-CBC" in x for x in rejected), str(rejected))

        # --- nameid.encryption: an EncryptedID whose NameID is not the mail address ---
        lab = "SimpleSAMLphp nameid.encryption"
        target = attacks.SigilACS(binary, data, base, "ssp-nameid", target.token)
        subject = "h1dd3n.subject@idp.example.net"
        options = {"nameid.encryption": True, "authproc": {"20": {
            "class": "saml:AttributeNameID", "attribute": "subject", "Format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}}}
        if check(f"{lab}: connection ssp-nameid (the NameID from the `subject` attribute, encrypted)",
                 bool(register("ssp-nameid", "SimpleSAMLphp NameID", options))):
            before = {e["id"] for e in target.audit(200)}
            reached = login("ssp-nameid", "hidden", "hiddenpass", "ssp-nameid-after.png")
            resp = posted_response("ssp-nameid")
            subject_el = resp.find(f".//{{{attacks.A}}}Assertion/{{{attacks.A}}}Subject") if resp is not None else None
            check(f"{lab}: SimpleSAMLphp's signed Response has a Subject with an EncryptedID (aes128-cbc, rsa-oaep-mgf1p) and no NameID",
                  subject_el is not None and subject_el.find(f"{{{attacks.A}}}EncryptedID") is not None
                  and subject_el.find(f"{{{attacks.A}}}NameID") is None and resp.find(f"{{{DS}}}Signature") is not None
                  and [e.get("Algorithm") for e in subject_el.iter(f"{{{attacks.XENC}}}EncryptionMethod")]
                  == [attacks.XENC + "aes128-cbc", attacks.XENC + "rsa-oaep-mgf1p"], etree.tostring(subject_el)[:300] if subject_el is not None else "")
            check(f"{lab}: the login lands on /account as hidden@example.org (the mail attribute)", reached
                  and "hidden@example.org" in driver.page_source, f"{driver.current_url} {page_error(driver)}")
            events = accepted_events(target, before, "ssp-nameid")
            check(f"{lab}: audit upstream.saml.accepted: subject_hash is the SHA-256 of the decrypted NameID {subject!r}",
                  len(events) == 1 and events[0].get("subject_hash") == subject_hash(subject), f"{events} vs {subject_hash(subject)}")
            hidden = [u for u in users(binary, data) if u.get("email") == "hidden@example.org"]
            check(f"{lab}: one JIT user hidden@example.org", len(hidden) == 1, str(hidden))
            reached = login("ssp-nameid", "hidden", "hiddenpass", "ssp-nameid-again.png")
            check(f"{lab}: a second login (a new EncryptedID of the same NameID) is the same user, linked by the decrypted NameID",
                  reached and "hidden@example.org" in driver.page_source
                  and [u.get("id") for u in users(binary, data) if u.get("email") == "hidden@example.org"] == [hidden[0].get("id") if hidden else None],
                  f"{driver.current_url} {page_error(driver)}")
    finally:
        php.terminate()
        try:
            php.wait(timeout=10)
        except subprocess.TimeoutExpired:
            php.kill()

# --- HTTP-POST bindings, encryption: shared helpers ---

def form_of(page):
    """(action, fields) of the first form of an HTML page (Sigil's and the IdPs' auto-submitting pages)."""
    form = re.search(r"<form[^>]*>.*?</form>", page, re.S)
    if not form:
        return None, {}
    action = re.search(r'action="([^"]*)"', form.group(0))
    fields = {html.unescape(n): html.unescape(v) for n, v in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(0))}
    return html.unescape(action.group(1)) if action else None, fields


def browser_posts(driver):
    """Every document POST in Chromium's network log since the last call: [(url, fields)]. A body
    the log leaves out is fetched with Network.getRequestPostData."""
    posts = []
    for entry in driver.get_log("performance"):
        m = json.loads(entry["message"])["message"]
        if m.get("method") != "Network.requestWillBeSent":
            continue
        p = m["params"]
        req = p.get("request", {})
        if req.get("method") != "POST" or p.get("type") != "Document":
            continue
        body = req.get("postData")
        if body is None and req.get("hasPostData"):
            try:
                body = driver.execute_cdp_cmd("Network.getRequestPostData", {"requestId": p["requestId"]}).get("postData")
            except Exception:  # noqa: BLE001 - gone already
                body = None
        posts.append((req.get("url", ""), {k: v[0] for k, v in urllib.parse.parse_qs(body or "").items()}))
    return posts


def clear_browser(driver, base):
    """Every cookie of every site (Sigil's and the IdPs' sessions), and the network log so far."""
    driver.get(base + "/healthz")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get_log("performance")


def sp_encryption_certificate(base, name, work):
    """The connection's encryption certificate from its SP metadata (KeyDescriptor use="encryption"),
    written as PEM; None when the metadata has none."""
    doc = etree.fromstring(requests.get(f"{base}/saml/sp/{name}/metadata", timeout=10).content)
    body = doc.findtext(f".//{{{MD}}}KeyDescriptor[@use='encryption']//{{{DS}}}X509Certificate")
    if not body:
        return None
    path = os.path.join(work, f"sp-{name}-encryption.pem")
    with open(path, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n" + "".join(body.split()) + "\n-----END CERTIFICATE-----\n")
    return path


def sp_signing_certificate(base, name, work):
    doc = etree.fromstring(requests.get(f"{base}/saml/sp/{name}/metadata", timeout=10).content)
    body = doc.findtext(f".//{{{MD}}}KeyDescriptor[@use='signing']//{{{DS}}}X509Certificate")
    path = os.path.join(work, f"sp-{name}-signing.pem")
    with open(path, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n" + "".join((body or "").split()) + "\n-----END CERTIFICATE-----\n")
    return path


def xmlsec1_verify(xml_bytes, cert_path, element, work):
    """xmlsec1 on the enveloped signature of the protocol message `element` (samlp namespace)."""
    path = os.path.join(work, f"verify-{secrets.token_hex(4)}.xml")
    with open(path, "wb") as f:
        f.write(xml_bytes)
    v = subprocess.run(["/usr/bin/xmlsec1", "--verify", "--enabled-reference-uris", "empty,same-doc", "--pubkey-cert-pem", cert_path,
                        "--id-attr:ID", f"{attacks.P}:{element}", path], capture_output=True, text=True)
    os.unlink(path)
    return v.returncode == 0, v.stderr[-300:]


def enveloped(xml_bytes):
    """(signature is a child of the root, its Reference URI, SignatureMethod, DigestMethod, c14n) of a message."""
    root = etree.fromstring(xml_bytes)
    sig = root.find(f"{{{DS}}}Signature")
    if sig is None:
        return False, None, None, None, None
    si = sig.find(f"{{{DS}}}SignedInfo")
    ref = si.find(f"{{{DS}}}Reference")
    return (True, ref.get("URI"), si.find(f"{{{DS}}}SignatureMethod").get("Algorithm"), ref.find(f"{{{DS}}}DigestMethod").get("Algorithm"),
            si.find(f"{{{DS}}}CanonicalizationMethod").get("Algorithm"))


def accepted_events(target, before, connection):
    """The audit's new upstream.saml.accepted events (their `after`) for `connection`."""
    return [e.get("after") or {} for e in target.audit(200) if e["id"] not in before and e["action"] == "upstream.saml.accepted"
            and (e.get("after") or {}).get("connection") == connection]


def subject_hash(name_id):
    return hashlib.sha256(name_id.encode()).hexdigest()[:16]


SHA256_DIGEST = "http://www.w3.org/2001/04/xmlenc#sha256"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def post_bindings(binary, data, base, work, driver, artifacts):
    """Sigil's own messages over HTTP-POST, towards an Okta-shaped IdP whose metadata offers only
    HTTP-POST for SSO and SLO (pysaml2, `sso_bindings`/`slo_bindings`): the AuthnRequest in Sigil's
    auto-submitting form with an enveloped signature (checked at the IdP by xmlsec1 and pysaml2 with
    the certificate of Sigil's SP metadata, a copy changed after signing refused), a complete
    browser login, and single logout both ways over HTTP-POST (Sigil's LogoutRequest and
    LogoutResponse signed and verified at the IdP; the IdP's signed, and a changed or unsigned one
    refused by Sigil). A connection made by hand with --sso-binding post signs in too."""
    people = {"pat": {"email": "pat@example.org", "firstName": "Pat", "lastName": "Poster"},
             "polly": {"email": "polly@example.org", "firstName": "Polly", "lastName": "Manual"}}
    pidp = OktaShapedIdP(work, users=people, app="exk1post", sso_bindings=[BINDING_HTTP_POST], slo_bindings=[BINDING_HTTP_POST])
    label = "HTTP-POST"
    try:
        r = upstream(binary, data, base, "create-saml", "--tenant", "default", "--name", "okta-post", "--display-name", "Okta POST",
                     "--metadata", pidp.metadata_url, "--json")
        created = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip().startswith("{") else {}
        if not check(f"{label}: create-saml from metadata offering only HTTP-POST SSO and SLO: sso_binding post, the IdP's SSO and SLO URLs",
                     created.get("sso_binding") == "post" and created.get("sso_url") == pidp.sso_url and created.get("slo_url") == pidp.slo_url,
                     r.stdout[:400] + r.stderr[:300]):
            return
        sp_entity, sigil_slo = f"{base}/saml/sp/okta-post/metadata", f"{base}/saml/sp/okta-post/slo"
        pidp.trust_sp(sp_entity)
        sp_cert = sp_signing_certificate(base, "okta-post", work)

        # --- the start of a login without a browser: Sigil's form, its AuthnRequest, the IdP's verdict ---
        s = requests.Session()
        r = s.get(f"{base}/login/upstream/okta-post", params={"return_to": "/account"}, allow_redirects=False, timeout=10)
        action, fields = form_of(r.text)
        check(f"{label}: GET /login/upstream/okta-post answers 200 with an auto-submitting form (no redirect) posting SAMLRequest "
              "and RelayState to the IdP's SSO URL", r.status_code == 200 and action == pidp.sso_url and "SAMLRequest" in fields
              and bool(fields.get("RelayState")) and "document.forms[0].submit()" in r.text, f"{r.status_code} {action} {list(fields)}")
        if "SAMLRequest" in fields:
            xml = base64.b64decode(fields["SAMLRequest"])
            areq = etree.fromstring(xml)
            present, uri, sig_alg, digest, c14n = enveloped(xml)
            check(f"{label}: the AuthnRequest (not deflated) carries an enveloped ds:Signature: child of AuthnRequest, Reference "
                  "#its ID, RSA-SHA256, SHA-256 digest, exclusive c14n", areq.tag == f"{{{attacks.P}}}AuthnRequest" and present
                  and uri == "#" + (areq.get("ID") or "-") and sig_alg == attacks_rsa_sha256() and digest == SHA256_DIGEST and c14n == EXC_C14N,
                  f"{present} {uri} {sig_alg} {digest} {c14n}")
            ok, why = xmlsec1_verify(xml, sp_cert, "AuthnRequest", work)
            check(f"{label}: xmlsec1 verifies it with the signing certificate of Sigil's SP metadata", ok, why)
            check(f"{label}: AuthnRequest Destination the IdP's SSO URL, ACS URL, ProtocolBinding HTTP-POST, Issuer the SP entity ID",
                  areq.get("Destination") == pidp.sso_url and areq.get("AssertionConsumerServiceURL") == f"{base}/saml/sp/okta-post/acs"
                  and areq.get("ProtocolBinding") == BINDING_HTTP_POST and areq.findtext(f"{{{attacks.A}}}Issuer") == sp_entity,
                  xml[:300].decode())
            changed = dict(fields, SAMLRequest=base64.b64encode(xml.replace(b'Version="2.0"', b'Version="2.0" ForceAuthn="true"', 1)).decode())
            page = s.post(pidp.sso_url, data=changed, timeout=10)
            check(f"{label}: the IdP refuses a copy of the AuthnRequest changed after signing (the signature covers it)",
                  "idp-error" in page.text and "okta-signin-username" not in page.text, page.text[:200])
            page = s.post(pidp.sso_url, data=fields, timeout=10)
            seen = pidp.requests[-1] if pidp.requests else {}
            check(f"{label}: the IdP (signed requests required) accepts Sigil's form as posted: enveloped signature verified by xmlsec1 "
                  "and pysaml2 with the SP metadata's certificate", "okta-signin-username" in page.text and seen.get("binding") == BINDING_HTTP_POST
                  and seen.get("signature_verified_xmlsec1") is True and seen.get("signature_verified") is True and seen.get("id") == areq.get("ID"),
                  (pidp.errors[-1:] or [page.text[:200]])[0])

        # --- the browser: Sigil's page posts the request, pat signs in (JIT) ---
        clear_browser(driver, base)
        n = len(pidp.requests)
        driver.get(base + "/login?return_to=/account")
        upstream_from_login(driver, base, pidp, "pat", connection="okta-post")
        reached = wait_until(driver, lambda d: d.current_url.split("?")[0] == base + "/account", 30)
        driver.save_screenshot(os.path.join(artifacts, "post-binding-account.png"))
        posts = browser_posts(driver)
        to_idp = [f for u, f in posts if u.split("?")[0] == pidp.sso_url]
        check(f"{label}: the browser POSTed the SAMLRequest (and RelayState) to the IdP's SSO URL (Chromium's network log)",
              bool(to_idp) and "SAMLRequest" in to_idp[0] and "RelayState" in to_idp[0], str([u for u, _ in posts]))
        got = pidp.requests[n:]
        seen = got[-1] if got else {}
        check(f"{label}: the IdP received it over HTTP-POST with an enveloped ds:Signature (Reference #ID) that xmlsec1 and pysaml2 verified",
              seen.get("binding") == BINDING_HTTP_POST and seen.get("enveloped_signature") is True
              and seen.get("reference_uri") == "#" + (seen.get("id") or "-") and seen.get("signature_verified_xmlsec1") is True
              and seen.get("accepted") is True, str({k: v for k, v in seen.items() if k != "xml"})[:400])
        if to_idp and seen.get("xml"):
            check(f"{label}: the browser's posted SAMLRequest is the one the IdP verified",
                  base64.b64decode(to_idp[0]["SAMLRequest"]).decode() == seen["xml"])
        check(f"{label}: pat's login lands on /account as pat@example.org", reached and "pat@example.org" in driver.page_source,
              driver.current_url + " " + str(page_error(driver)))
        check(f"{label}: JIT user pat@example.org", len([u for u in users(binary, data) if u.get("email") == "pat@example.org"]) == 1)
        cookie = (driver.get_cookie(SESSION) or {}).get("value")

        # --- IdP-initiated single logout over HTTP-POST ---
        lab = f"{label} IdP-initiated SLO"
        index = pidp.responses[-1]["session_index"] if pidp.responses else None
        relay = "post-rs-" + generate_token(8)
        rid, url = pidp.logout_request_url(sp_entity, "pat@example.org", index, relay_state=relay)
        check(f"{lab}: the IdP posts to Sigil's SLO endpoint for HTTP-POST from its SP metadata", url == sigil_slo, url)
        n_resp = len(pidp.logout_responses)
        driver.get(pidp.initiate_url(rid))
        ended = wait_until(driver, lambda d: d.find_elements(By.ID, "idp-logged-out") or d.find_elements(By.ID, "idp-error")
                           or d.find_elements(By.ID, "error"), 30)
        posts = browser_posts(driver)
        check(f"{lab}: the browser POSTed the IdP's signed LogoutRequest to Sigil, then Sigil's LogoutResponse to the IdP",
              any(u == sigil_slo and "SAMLRequest" in f for u, f in posts) and any(u == pidp.slo_url and "SAMLResponse" in f for u, f in posts),
              str([(u, list(f)) for u, f in posts]))
        check(f"{lab}: the browser ends on the IdP's signed-out page", ended and bool(driver.find_elements(By.ID, "idp-logged-out")),
              f"{driver.current_url} {page_error(driver)} {driver.page_source[:200]}")
        answer = (pidp.logout_responses[n_resp:] or [{}])[-1]
        check(f"{lab}: Sigil's LogoutResponse came over HTTP-POST with an enveloped signature (RSA-SHA256) that the IdP verified "
              "(xmlsec1, the SP metadata's certificate)", answer.get("binding") == BINDING_HTTP_POST and answer.get("enveloped_signature") is True
              and answer.get("signature_verified") is True and answer.get("sig_alg") == attacks_rsa_sha256()
              and answer.get("reference_uri") == "#" + (answer.get("id") or "-"), str({k: v for k, v in answer.items() if k != "xml"})[:400])
        check(f"{lab}: LogoutResponse Success, InResponseTo the IdP's request, Destination the IdP's SLO, Issuer the SP, RelayState echoed",
              answer.get("status") == attacks.SUCCESS and answer.get("in_response_to") == rid and answer.get("destination") == pidp.slo_url
              and answer.get("issuer") == sp_entity and answer.get("relay_state") == relay,
              str({k: answer.get(k) for k in ("status", "in_response_to", "destination", "issuer", "relay_state")}))
        check(f"{lab}: pat's Sigil session ended", bool(cookie) and not signed_in_at_sigil(base, cookie))

        # Refusals at Sigil's SLO over POST: a signed request changed after signing, an unsigned one.
        clear_browser(driver, base)
        driver.get(base + "/login?return_to=/account")
        upstream_from_login(driver, base, pidp, "pat", connection="okta-post")
        wait_until(driver, lambda d: d.current_url.split("?")[0] == base + "/account", 30)
        cookie = (driver.get_cookie(SESSION) or {}).get("value")
        index = pidp.responses[-1]["session_index"] if pidp.responses else None
        rid, _ = pidp.logout_request_url(sp_entity, "pat@example.org", index, relay_state="changed")
        sent = pidp.logout_sent[rid]
        changed = dict(sent["fields"], SAMLRequest=base64.b64encode(sent["xml"].encode().replace(
            b"pat@example.org", b"polly@example.org")).decode())
        r = requests.post(sigil_slo, data=changed, allow_redirects=False, timeout=10)
        err = attacks.error_text(r.text) or ""
        check(f"{lab}: a POSTed LogoutRequest changed after signing (NameID) is refused (400, the signature)", r.status_code == 400
              and re.search(r"signature|signed", err, re.I) is not None, f"{r.status_code} {err or r.text[:200]}")
        rid, _ = pidp.logout_request_url(sp_entity, "pat@example.org", index, relay_state="unsigned", sign=False)
        r = requests.post(sigil_slo, data=pidp.logout_sent[rid]["fields"], allow_redirects=False, timeout=10)
        err = attacks.error_text(r.text) or ""
        check(f"{lab}: an unsigned POSTed LogoutRequest is refused (400, signatureRequired)", r.status_code == 400
              and "signatureRequired" in err, f"{r.status_code} {err or r.text[:200]}")
        check(f"{lab}: ... and pat's session stays", signed_in_at_sigil(base, cookie))

        # --- Sigil-initiated single logout over HTTP-POST ---
        lab = f"{label} Sigil-initiated SLO"
        n_req = len(pidp.logout_requests)
        driver.get_log("performance")
        driver.get(base + "/account")
        if check(f"{lab}: /account has the Sign out button", wait_until(driver, lambda d: d.find_elements(By.ID, "sign-out"), 10)):
            driver.find_element(By.ID, "sign-out").click()
            reached = wait_until(driver, lambda d: urllib.parse.urlparse(d.current_url).path == "/login" and d.current_url.startswith(base)
                                 or d.find_elements(By.ID, "idp-error") or d.find_elements(By.ID, "error"), 30)
            posts = browser_posts(driver)
            check(f"{lab}: the browser POSTed Sigil's LogoutRequest to the IdP's SLO, then the IdP's LogoutResponse to Sigil",
                  any(u == pidp.slo_url and "SAMLRequest" in f for u, f in posts) and any(u == sigil_slo and "SAMLResponse" in f for u, f in posts),
                  str([(u, list(f)) for u, f in posts]))
            check(f"{lab}: Sign out ends on Sigil's /login", reached and driver.current_url.startswith(base + "/login"),
                  f"{driver.current_url} {page_error(driver)} {driver.page_source[:200]}")
            req = (pidp.logout_requests[n_req:] or [{}])[-1]
            check(f"{lab}: the IdP got Sigil's LogoutRequest over HTTP-POST, enveloped signature (RSA-SHA256, Reference #ID) verified "
                  "with the SP metadata's certificate (xmlsec1)", req.get("binding") == BINDING_HTTP_POST and req.get("enveloped_signature") is True
                  and req.get("signature_verified") is True and req.get("sig_alg") == attacks_rsa_sha256()
                  and req.get("reference_uri") == "#" + (req.get("id") or "-"), str({k: v for k, v in req.items() if k not in ("xml", "answer")})[:400])
            check(f"{lab}: LogoutRequest NameID pat@example.org, the SessionIndex the IdP issued, Destination the IdP's SLO, Issuer the SP",
                  req.get("name_id") == "pat@example.org" and req.get("session_indexes") == [index] and req.get("destination") == pidp.slo_url
                  and req.get("issuer") == sp_entity, str({k: req.get(k) for k in ("name_id", "session_indexes", "destination", "issuer")}))
            check(f"{lab}: the IdP answered over HTTP-POST (a signed LogoutResponse, RelayState echoed) and Sigil accepted it",
                  (req.get("answer") or {}).get("binding") == BINDING_HTTP_POST and reached and driver.current_url.startswith(base + "/login"),
                  str(req.get("answer", {}).get("location")))
            check(f"{lab}: pat's Sigil session ended", bool(cookie) and not signed_in_at_sigil(base, cookie))

        # --- by hand: --sso-url URL --sso-binding post --certificate PEM --idp-entity-id ID ---
        lab = f"{label} by hand"
        r = upstream(binary, data, base, "create-saml", "--tenant", "default", "--name", "okta-post-manual", "--display-name", "Okta POST (manual)",
                     "--idp-entity-id", pidp.entity_id, "--sso-url", pidp.sso_url, "--sso-binding", "post", "--certificate", pidp.cert, "--json")
        made = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip().startswith("{") else {}
        if check(f"{lab}: create-saml --sso-url --sso-binding post --certificate --idp-entity-id: sso_binding post, no SLO",
                 made.get("sso_binding") == "post" and made.get("sso_url") == pidp.sso_url and made.get("slo_url") is None,
                 r.stdout[:300] + r.stderr[:300]):
            pidp.trust_sp(f"{base}/saml/sp/okta-post-manual/metadata")
            manual = attacks.SigilACS(binary, data, base, "okta-post-manual")
            b = manual.browser()
            r = b.get(f"{base}/login/upstream/okta-post-manual", params={"return_to": "/account"}, allow_redirects=False, timeout=10)
            action, fields = form_of(r.text)
            page = b.post(action or pidp.sso_url, data=fields, timeout=10)
            key = re.search(r'name="pending" value="([^"]+)"', page.text)
            check(f"{lab}: Sigil answers with a form posting a signed AuthnRequest; the IdP verifies it (xmlsec1, pysaml2) and shows "
                  "its login", r.status_code == 200 and action == pidp.sso_url and key is not None
                  and pidp.requests[-1].get("signature_verified_xmlsec1") is True, (pidp.errors[-1:] or [page.text[:200]])[0])
            if key:
                done = b.post(pidp.sso_url + "/login", data={"pending": key.group(1), "username": "polly"}, timeout=10)
                _, back = form_of(done.text)
                out = manual.submit(b, back.get("SAMLResponse", ""), back.get("RelayState"), idp_origin=pidp.base)
                check(f"{lab}: the IdP's response completes the sign-in as polly@example.org (JIT)", out.accepted
                      and "polly@example.org" in (manual.whoami(b) or ""), out.describe())
    finally:
        pidp.shutdown()


def encryption(binary, data, base, work, driver, idp, artifacts):
    """Encrypted assertions from the Okta-shaped IdP (pysaml2's encrypt_assertion: xmlsec1 with a
    template) for the encryption certificate in Sigil's SP metadata, through a connection of its
    own (okta-enc): aes256-cbc under a signed Response, aes128-gcm with and without the Response
    signature, and an EncryptedID inside an AES-GCM assertion are accepted in the browser (JIT; the
    audit's subject_hash is the decrypted NameID's, and Sigil's LogoutRequest at sign-out carries
    it); aes256-cbc in an unsigned Response, rsa-1_5 key transport and pysaml2's default Triple DES
    are refused (400 page, nobody provisioned, audited). Then the crafted encryption battery."""
    label = "encryption (pysaml2 IdP)"
    r = upstream(binary, data, base, "create-saml", "--tenant", "default", "--name", "okta-enc", "--display-name", "Okta encrypted",
                 "--metadata", idp.metadata_url, "--json")
    if not check(f"{label}: a connection okta-enc", r.returncode == 0, r.stdout[:300] + r.stderr[:300]):
        return
    sp_entity, acs_url = f"{base}/saml/sp/okta-enc/metadata", f"{base}/saml/sp/okta-enc/acs"
    idp.trust_sp(sp_entity)
    enc_cert = sp_encryption_certificate(base, "okta-enc", work)
    if not check(f"{label}: Sigil's SP metadata for okta-enc has a KeyDescriptor use=\"encryption\" with a certificate", enc_cert is not None):
        return
    with open(enc_cert, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        key_encipherment = usage.key_encipherment
    except x509.ExtensionNotFound:
        key_encipherment = True
    check(f"{label}: the encryption certificate is RSA >= 2048 bits and allows keyEncipherment",
          isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size >= 2048 and key_encipherment)
    target = attacks.SigilACS(binary, data, base, "okta-enc")
    target.idp_origin = idp.base
    for who in ("cbc256", "gcm128", "gcm-nosig", "cbc-unsigned", "rsa15", "tdes", "masked"):
        idp.users[who] = {"email": f"{who}@example.org", "firstName": who.capitalize(), "lastName": "Encrypted"}
    hidden_subject = "00u" + generate_token(10)
    idp.users["masked"].update(name_id=hidden_subject, name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
    xenc, xenc11 = attacks.XENC, attacks.XENC11

    def browser_login(case, who, methods, response_signed, subject=None, **settings):
        idp.encrypt_for_sp(sp_entity, **settings)
        before = {e["id"] for e in target.audit(200)}
        clear_browser(driver, base)
        driver.get(f"{base}/login/upstream/okta-enc?return_to=/account")
        idp_login(driver, idp, who)
        reached = wait_until(driver, lambda d: d.current_url.split("?")[0] == base + "/account" or d.find_elements(By.ID, "error")
                             or (d.current_url == acs_url and "continue-form" not in d.page_source), 30)
        sent = idp.responses[-1] if idp.responses else {}
        root = etree.fromstring(sent["xml"].encode()) if sent.get("xml") else None
        check(f"{case}: the IdP sent an EncryptedAssertion ({', '.join(m.rsplit('#', 1)[1] for m in methods)}; no plain Assertion), "
              f"the Response {'signed' if response_signed else 'unsigned'}", sent.get("user") == f"{who}@example.org"
              and sent.get("encryption_methods") == methods and sent.get("response_signed") is response_signed
              and root.find(f"{{{attacks.A}}}Assertion") is None and root.find(f"{{{attacks.A}}}EncryptedAssertion") is not None,
              f"{sent.get('encryption_methods')} signed {sent.get('response_signed')}")
        if not check(f"{case}: the login lands on /account as {who}@example.org", reached
                     and driver.current_url.split("?")[0] == base + "/account" and f"{who}@example.org" in driver.page_source,
                     f"{driver.current_url} {page_error(driver)} {driver.find_element(By.TAG_NAME, 'body').text[:200]!r} "
                     f"(the SAMLResponse field: {len(sent.get('xml', '')) * 4 // 3} bytes)"):
            return False  # what follows would only repeat it
        check(f"{case}: JIT user {who}@example.org with the IdP's names", [(u.get("given_name"), u.get("family_name"))
              for u in users(binary, data) if u.get("email") == f"{who}@example.org"] == [(who.capitalize(), "Encrypted")])
        events = accepted_events(target, before, "okta-enc")
        check(f"{case}: audit upstream.saml.accepted: encrypted true, subject_hash the SHA-256 of {subject or who + '@example.org'!r}",
              len(events) == 1 and events[0].get("encrypted") == "true"
              and events[0].get("subject_hash") == subject_hash(subject or f"{who}@example.org"), str(events))
        return True

    browser_login(f"{label}: aes256-cbc + rsa-oaep-mgf1p, Response signed", "cbc256", [xenc + "aes256-cbc", xenc + "rsa-oaep-mgf1p"], True,
                  content="aes256-cbc", transport="rsa-oaep-mgf1p")
    browser_login(f"{label}: aes128-gcm + rsa-oaep-mgf1p, Response signed", "gcm128", [xenc11 + "aes128-gcm", xenc + "rsa-oaep-mgf1p"], True,
                  content="aes128-gcm")
    browser_login(f"{label}: aes128-gcm, Response unsigned (assertion signed inside)", "gcm-nosig",
                  [xenc11 + "aes128-gcm", xenc + "rsa-oaep-mgf1p"], False, content="aes128-gcm", sign_response=False)
    # The ACS takes a Response the size real IdPs send: SAML sets no limit, and encrypted responses
    # carrying certificates (the case below: about 18 KiB of base64) or many attribute values pass
    # 16 KiB; Sigil's own message limit (SAMLBindings.maxBytes) is 512 KiB.
    b = target.browser()
    st = target.start(b)
    groups = [f"cn=interop-group-{i:03d},ou=groups,dc=example,dc=org" for i in range(60)]
    spec = attacks.Spec(issuer=idp.entity_id, destination=acs_url, audience=sp_entity, in_response_to=st.request_id, name_id="groups@example.org",
                        attributes={"email": "groups@example.org", "firstName": "Many", "lastName": "Groups", "memberOf": groups})
    body = attacks.b64(attacks.serialize(attacks.sign(attacks.build_response(spec), idp.key, idp.cert)))
    out = target.submit(b, body, st.relay_state)
    check(f"ACS: a signed Response of {len(body) // 1024} KiB base64 (60 group values; plain, signed twice) is accepted",
          out.accepted, f"ACS answered {out.acs_status}: {out.acs_body[:200]!r}")
    case = f"{label}: EncryptedID (aes128-cbc) inside an aes256-gcm assertion, NameID {hidden_subject} (unspecified)"
    if browser_login(case, "masked", [xenc11 + "aes256-gcm", xenc + "rsa-oaep-mgf1p"], True, subject=hidden_subject,
                     content="aes256-gcm", name_id=("aes128-cbc", "rsa-oaep-mgf1p")):
        # Sigil-initiated logout: the LogoutRequest names the NameID Sigil decrypted, with the SessionIndex.
        issued = idp.responses[-1].get("session_index") if idp.responses else None
        n_req = len(idp.logout_requests)
        driver.get(base + "/account")
        if wait_until(driver, lambda d: d.find_elements(By.ID, "sign-out"), 10):
            driver.find_element(By.ID, "sign-out").click()
            wait_until(driver, lambda d: urllib.parse.urlparse(d.current_url).path == "/login" and d.current_url.startswith(base), 30)
        req = (idp.logout_requests[n_req:] or [{}])[-1]
        check(f"{case}: at sign-out Sigil's signed LogoutRequest names the decrypted NameID and its format, and the SessionIndex",
              req.get("signature_verified") is True and req.get("name_id") == hidden_subject
              and req.get("name_id_format") == "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
              and req.get("session_indexes") == [issued],
              str({k: req.get(k) for k in ("signature_verified", "name_id", "name_id_format", "session_indexes")}) + f" issued {issued}")

    # Refused: through the IdP's own responses (pysaml2), posted like its page would.
    results = []

    def refused(case, who, mentions, **settings):
        idp.encrypt_for_sp(sp_entity, **settings)
        out, _, _ = attacks.attempt_response(target, check, results, lambda *a: None, case,
                                             lambda st: idp.response_for(sp_entity, st.request_id, acs_url, idp.users[who]).encode())
        reasons = results[-1][2]
        check(f"{case}: the error page and the audited reason say {mentions.pattern!r}", bool(out.error) and mentions.search(out.error) is not None
              and any(mentions.search(x or "") for x in reasons), f"page {out.error!r} audit {reasons}")
        sent = idp.responses[-1]
        return sent

    sent = refused(f"{label}: aes256-cbc in an unsigned Response (assertion signed inside)", "cbc-unsigned", re.compile("AES-CBC"),
                   content="aes256-cbc", sign_response=False)
    check(f"{label}: ... that response really was aes256-cbc, unsigned at the Response, with a signed assertion inside",
          sent["encryption_methods"] == [xenc + "aes256-cbc", xenc + "rsa-oaep-mgf1p"] and not sent["response_signed"])
    sent = refused(f"{label}: rsa-1_5 key transport (aes256-gcm, Response signed)", "rsa15", re.compile(r"RSA-OAEP|algorithm"),
                   content="aes256-gcm", transport="rsa-1_5")
    check(f"{label}: ... that response's EncryptedKey really was rsa-1_5", sent["encryption_methods"] == [xenc11 + "aes256-gcm", xenc + "rsa-1_5"])
    refused(f"{label}: tripledes-cbc (pysaml2's default content encryption; Response signed)", "tdes", re.compile(r"algorithm|AES"),
            content="tripledes-cbc")
    idp.encrypt_for_sp(sp_entity, None)

    # The crafted encryption battery, against the same connection.
    print("--- encryption battery (crafted)", flush=True)
    attacks.run_encryption_battery(target, attacks.IdPKeys(idp.key, idp.cert, idp.entity_id), enc_cert, check, work,
                                   log=lambda *a: None)


if __name__ == "__main__":
    main()
