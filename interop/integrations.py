#!/usr/bin/env python3
"""Interop: the one-click integrations of issue 14 (`sigil integration auth0-saml|auth0-social|okta-saml|okta-idv`)
run by the real CLI against the Auth0 and Okta fakes (interop/fake_auth0.py, interop/fake_okta.py, run in this
process so that the management tokens the fake issues can be recorded), next to a real `sigil serve`.

Set-up: FakeAuth0 (tenant acme) with a good M2M client (create/read/update:connections, read:clients), one without
create:connections, one whose client-credentials grant is disabled, and two applications (Portal, Shop); FakeOkta
with a super-admin token and a read-only token; `sigil serve` on a free port (tenant "default",
SIGIL_OUTBOUND_ALLOW_HOSTS=127.0.0.1,localhost for the server and the CLI).

Cases (PASS / FAIL / SKIP lines):
  auth0-saml    exit 0, the JSON names the connection; the fake holds a samlp connection whose signInEndpoint is the
                SSO URL of Sigil's SAML metadata, signingCert is base64 of a PEM whose certificate is the metadata's,
                fieldsMap maps email/given_name/family_name; enabled for Portal and Shop; Sigil has a SAML app whose
                entity ID is urn:auth0:acme:NAME and whose ACS is the fake's /login/callback?connection=NAME
  auth0-social  the oauth2 connection's authorizationURL/tokenURL are the discovery document's endpoints,
                pkce_enabled true, client_id is a Sigil OIDC app's whose redirect URI is the fake's /login/callback
  okta-saml     (--route domain:acme.com) the SAML2 IdP's sso.url is Sigil's SSO URL, trust.issuer its entity ID,
                trust.kid a key-store key whose x5c is Sigil's certificate, an active routing rule sends
                alice@acme.com (not bob@other.org) to the IdP; Sigil's SAML app has Okta's audience and ACS
  okta-idv      the IDV_STANDARD IdP's par/authorization/token/jwks URLs and issuer are Sigil's; client_id is a Sigil
                OIDC app with require_par and Okta's redirect URI
  refusals      wrong secret, no create:connections, grant disabled, name taken (auth0-saml and auth0-social),
                bad_name.x, wrong Okta token, read-only Okta token (both Okta commands): non-zero exit, the JSON
                error's code, and nothing new at the vendor or in Sigil
  first leg     the vendors' first request reaches Sigil and is accepted: Auth0's AuthnRequest, Auth0's
                authorization request (PKCE S256), Okta's AuthnRequest, Okta's IDV PAR (201)
  sign-ins      a real Sigil user (the first administrator, enrolled from the link `sigil serve` prints, with a
                passkey in headless Chromium's WebAuthn virtual authenticator) signs in through what each command
                created, every vendor step done by the fake's helper built from what it STORED:
                Auth0 SAML  /__fake__/login?connection= → the stored signInEndpoint → SAMLResponse POSTed by the
                            browser to the fake's ACS, checked by pysaml2 + xmlsec1 against the stored signingCert:
                            persistent opaque NameID (stable on a second sign-in), email/given_name/family_name
                            (the stored fieldsMap) = the user's; with another certificate stored, refused
                Auth0 social authorization code with PKCE S256 at the stored authorizationURL, code exchanged at the
                            stored tokenURL with the stored client_id/secret; the ID token verifies with Sigil's
                            JWKS, iss = issuer, aud = client_id, names = the user's; pkce_enabled flipped off
                            through the backdoor: Sigil refuses ("code_challenge is required"), then restored
                Okta SAML   /__fake__/login?idp= (HTTP-POST AuthnRequest) → the fake's ACS {org}/sso/saml2/{id}:
                            Issuer = trust.issuer, email NameID, email/firstName/lastName = the user's
                Okta IDV    OktaIDVClient from the stored IDV_STANDARD IdP: PAR, the capture page, #cancel →
                            access_denied with Okta's state (and iss) at the stored redirect URI; with the IDV
                            engine and ../shared/fixtures, also a full verification (synthetic ePassport chip,
                            selfie, face match; liveness off) ending in Okta's evaluation VERIFIED
                Without Chromium/chromedriver/selenium: SKIP lines; without the engine or the fixtures the full
                verification is a SKIP line
  doctor        (run before the sign-ins, so those go through the repaired objects) `sigil integration doctor ID --json`
                for each of the four: Sigil's side only → ok; with one-time credentials (--secret-stdin --partner) → ok;
                then drift made behind Sigil's back through the fakes' backdoors (auth0-saml: signInEndpoint, signingCert of
                another certificate, fieldsMap, one enabled client removed; auth0-social: pkce_enabled off, tokenURL; okta-saml:
                sso url, trust.kid pointed at another uploaded key; okta-idv: token URL) → exit 2 with sso_url_changed,
                partner_certificate_differs, attribute_mapping_changed, connection_not_enabled, pkce_disabled, endpoints_changed,
                endpoint_changed (vendor side, repairable) → --repair → the fake's stored object is Sigil's again (other options,
                display_name, audience, client credentials kept) → ok; `integration list --json` shows the four ok
  unrepairable  a deleted Auth0 connection / Okta IdP (connection_missing, identity_provider_missing), a changed Auth0
                client_id (repaired next to PKCE, exit 2 with client_id_changed left), a deactivated Okta IdP and a deleted
                routing rule: reported, not repairable, --repair changes nothing
  rotation      `sigil keys rotate`: the doctor sees certificate_changed on Sigil's side alone for both SAML kinds;
                --repair gives Auth0 and Okta the new certificate; the SAML sign-ins then run with the new key
  admin API     with `sigil admin token create`: POST /api/admin/v1/integrations (auth0-saml, okta-idv) → 201; GET list and
                one; POST …/doctor ({} , {client_id, secret}, {secret}) → ok; wrong secret → 422 auth0-secret-wrong; repair
                without credentials → 422; unknown id → 404; taken name → 409; wrong secret at create → 422, nothing made.
                The secret and token sent in the bodies are in the never-stored scan
  never stored  no client secret, Okta token or issued management access token in Sigil's SQLite files, their
                `sqlite3 .dump`, the server's or the CLI's output, or the fakes' JSONL logs
  validator     vendor_request_validator.py over both logs; the fakes recorded no invalid request from Sigil

Without the vendor OpenAPI documents (../shared/reference/vendor-openapi/, or $SIGIL_VENDOR_OPENAPI_DIR) the fakes
cannot run (they validate every exchange against them): the whole suite is then SKIP lines, "0 passed, 0 failed".

    /opt/peers-venv/bin/python interop/integrations.py --sigil PATH [--keep]

Ends with "N passed, M failed"; exits 1 on any FAIL.
"""
import argparse, base64, glob, hashlib, json, os, re, secrets, shutil, signal, socket, subprocess, sys, tempfile, time, traceback, urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

import requests  # noqa: E402

PASSED = FAILED = 0
ALLOW = "127.0.0.1,localhost"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"


def check(name, ok, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print(f"PASS {name}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL {name}  -- {str(detail)[:900]}", flush=True)
    return ok


def skip(name, why):
    print(f"SKIP {name} -- {why}", flush=True)


def summary():
    print(f"{PASSED} passed, {FAILED} failed", flush=True)
    return 1 if FAILED else 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pem_der(pem):
    body = re.sub(r"-----[^-]+-----", "", pem)
    return base64.b64decode("".join(body.split()))


class Sigil:
    def __init__(self, binary, work):
        self.binary, self.work = binary, work
        self.port = free_port()
        self.base = f"http://localhost:{self.port}"
        self.data = os.path.join(work, "sigil-data")
        self.out, self.err = os.path.join(work, "serve.stdout"), os.path.join(work, "serve.stderr")
        self.cli_log = os.path.join(work, "cli.log")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SIGIL_")}
        self.env["SIGIL_OUTBOUND_ALLOW_HOSTS"] = ALLOW

    def start(self):
        self.proc = subprocess.Popen([self.binary, "serve", "--port", str(self.port), "--data-dir", self.data, "--public-url", self.base],
                                     stdout=open(self.out, "w"), stderr=open(self.err, "w"), env=self.env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"sigil serve did not get ready (exit {self.proc.poll()}): {open(self.err).read()[-600:]}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None

    def cli(self, *args, stdin=None):
        argv = [self.binary, *args, "--data-dir", self.data]
        r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120, env=self.env)
        with open(self.cli_log, "a") as f:
            f.write(f"$ sigil {' '.join(args)}\n--- rc {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}\n")
        return r

    def integration(self, sub, *args, secret):
        r = self.cli("integration", sub, "--tenant", "default", "--json", "--public-url", self.base, *args, stdin=secret + "\n")
        lines = [line for line in r.stdout.splitlines() if line.strip()]
        try:
            doc = json.loads(lines[-1]) if lines else None
        except ValueError:
            doc = None
        return r, doc

    def apps(self):
        r = self.cli("app", "list", "--tenant", "default", "--json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def app_show(self, app_id):
        r = self.cli("app", "show", "--tenant", "default", app_id, "--json")
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {"_raw": r.stdout + r.stderr}


def saml_metadata(base):
    xml = requests.get(base + "/saml/metadata", timeout=10).text
    root = ET.fromstring(xml)
    sso = {e.get("Location") for e in root.iter(f"{{{MD}}}SingleSignOnService")}
    certs = {base64.b64decode("".join(e.text.split())) for e in root.iter(f"{{{DS}}}X509Certificate") if e.text}
    return sso, certs, root.get("entityID")


# ---------------------------------------------------------------------------------------------------- real sign-ins
USER = {"email": "grace.hopper@acme.com", "given_name": "Grace", "family_name": "Hopper"}


def wait_until(fn, timeout=30, interval=0.2):
    """fn()'s first truthy value within timeout, else None (exceptions count as falsy)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = fn()
            if value:
                return value
        except Exception:
            pass
        time.sleep(interval)
    return None


def browser_missing():
    """Why the browser sign-ins cannot run here, or None."""
    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.path.exists(path):
            return f"{path} is missing (Debian's chromium and chromium-driver, scripts/install-interop.sh)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed in this Python (scripts/install-interop.sh)"
    return None


def new_signin(fake, before, timeout=30):
    """The first sign-in the fake recorded after `before` entries, or None."""
    return wait_until(lambda: fake.state.signins[before] if len(fake.state.signins) > before else None, timeout)


def real_signins(sigil, auth0, okta, disco, idp, vidp, sapp):
    """Four sign-ins of a real Sigil user through what the one-click commands created, each driven by the
    vendor-side helper the fake builds from what it STORED (auth0.saml_sp / oauth2_rp, okta.saml_sp /
    idv_client), in headless Chromium with a virtual passkey."""
    why = browser_missing()
    if why:
        for name in ("sign-in Auth0 SAML", "sign-in Auth0 social", "sign-in Okta SAML", "sign-in Okta IDV"):
            skip(name, why)
        return
    from passkey_signin import enrol_first_admin
    from selenium.webdriver.common.by import By
    link = wait_until(lambda: (re.search(r"(http://localhost:\d+/enroll/\S+)", open(sigil.err).read()) or [None, None])[1], 30)
    if not check("sign-in: `sigil serve` printed the first administrator's enrolment link", bool(link), open(sigil.err).read()[-400:]):
        return
    try:
        driver, _ = enrol_first_admin(link, USER["email"], USER["given_name"], USER["family_name"])
    except Exception as e:
        check("sign-in: the first administrator enrols a passkey in Chromium (virtual authenticator)", False, repr(e))
        return
    check("sign-in: the first administrator enrols a passkey in Chromium (virtual authenticator) and is on /account", True)
    try:
        _auth0_saml(driver, sigil, auth0)
        _auth0_social(driver, sigil, auth0, disco, sapp)
        if idp:
            _okta_saml(driver, sigil, okta, idp)
        else:
            check("sign-in Okta SAML: the SAML2 IdP exists", False, "okta-saml created none")
        if vidp:
            _okta_idv(driver, sigil, okta, vidp, disco, By)
            _okta_idv_verified(driver, sigil, okta, vidp, By)
        else:
            check("sign-in Okta IDV: the IDV_STANDARD IdP exists", False, "okta-idv created none")
    finally:
        driver.quit()


def _saml_signin(driver, fake, start_url, label):
    before = len(fake.state.signins)
    driver.get(start_url)
    got = new_signin(fake, before)
    if not check(f"{label}: the browser posted a SAMLResponse to the vendor's ACS and the fake recorded the sign-in", got is not None,
                 f"at {driver.current_url}: {driver.page_source[:400]}"):
        return None
    check(f"{label}: the vendor's SP (pysaml2 + xmlsec1, trusting the stored certificate) accepts the response", got.get("ok"), got.get("error"))
    return got if got.get("ok") else None


def _auth0_saml(driver, sigil, auth0):
    label = "sign-in Auth0 SAML"
    conn = auth0.state.by_name("sigil-saml")
    sp = auth0.saml_sp("sigil-saml")  # built by the fake from the stored connection
    o = conn["options"]
    check(f"{label}: Auth0's SP is the stored connection's (entity urn:auth0:acme:sigil-saml, ACS /login/callback?connection=, SSO = signInEndpoint)",
          sp.entity_id == "urn:auth0:acme:sigil-saml" and sp.acs_url == f"{auth0.base_url}/login/callback?connection=sigil-saml"
          and sp.sso_url == o["signInEndpoint"], (sp.entity_id, sp.acs_url, sp.sso_url))
    got = _saml_signin(driver, auth0, f"{auth0.base_url}/__fake__/login?connection=sigil-saml", label)
    if not got:
        return
    attrs = got.get("attributes") or {}
    check(f"{label}: NameID is persistent and opaque (not the email)", got.get("name_id") and got.get("name_id") != USER["email"]
          and got.get("name_id_format") == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", (got.get("name_id"), got.get("name_id_format")))
    for k in ("email", "given_name", "family_name"):  # the stored fieldsMap's attribute names
        check(f"{label}: attribute {k} is the Sigil user's (fieldsMap {o.get('fieldsMap', {}).get(k)!r})", attrs.get(o.get("fieldsMap", {}).get(k, k)) == [USER[k]], attrs)
    again = _saml_signin(driver, auth0, f"{auth0.base_url}/__fake__/login?connection=sigil-saml", label + " (second time)")
    if again:
        check(f"{label}: the persistent NameID is stable across sign-ins", again.get("name_id") == got.get("name_id"), (again.get("name_id"), got.get("name_id")))
    # The trust is the stored certificate: with another one stored, the same sign-in is refused by the SP.
    from vendor_sp import make_keypair
    _, other = make_keypair(sigil.work, "not-sigil")
    bad = dict(o, signingCert=base64.b64encode(open(other, "rb").read()).decode())
    r = requests.patch(f"{auth0.base_url}/__fake__/connections/{conn['id']}", json={"options": bad}, timeout=10)
    before = len(auth0.state.signins)
    import logging
    quiet = logging.getLogger("saml2")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL + 1)  # pysaml2 logs xmlsec1's expected "FAIL" output; the fake records the refusal
    try:
        driver.get(f"{auth0.base_url}/__fake__/login?connection=sigil-saml")
        refused = new_signin(auth0, before)
    finally:
        quiet.setLevel(level)
    check(f"{label}: with another certificate stored as signingCert, Auth0's SP refuses Sigil's response (the stored certificate is the trust)",
          r.status_code in (200, 204) and refused is not None and not refused.get("ok"), (r.status_code, refused))
    r = requests.patch(f"{auth0.base_url}/__fake__/connections/{conn['id']}", json={"options": o}, timeout=10)
    check(f"{label}: the stored signingCert restored", r.status_code in (200, 204) and auth0.state.by_name("sigil-saml")["options"] == o, r.status_code)


def _auth0_social(driver, sigil, auth0, disco, sapp):
    label = "sign-in Auth0 social"
    conn = auth0.state.by_name("sigil-social")
    o = dict(conn["options"])
    rp = auth0.oauth2_rp("sigil-social")  # the fake's RP from the stored connection (the instance /__fake__/login uses)
    check(f"{label}: Auth0's RP is the stored connection's (client_id, tokenURL, PKCE S256, redirect /login/callback)",
          rp.client_id == o["client_id"] and rp.token_endpoint == o["tokenURL"] and rp.pkce_enabled and rp.redirect_uri == auth0.callback_url,
          (rp.client_id, rp.token_endpoint, rp.pkce_enabled, rp.redirect_uri))
    tokens, urls = [], []
    fetch, authz = rp.fetch_token, rp.authorization_url

    def recording_fetch(callback_url):
        t = fetch(callback_url)
        tokens.append(dict(t))
        return t

    def recording_authz(state=None):
        out = authz(state)
        urls.append(out[0])
        return out
    rp.fetch_token, rp.authorization_url = recording_fetch, recording_authz
    before = len(auth0.state.signins)
    driver.get(f"{auth0.base_url}/__fake__/login?connection=sigil-social")
    got = new_signin(auth0, before)
    if check(f"{label}: the browser came back to Auth0's /login/callback and the fake recorded the sign-in", got is not None,
             f"at {driver.current_url}: {driver.page_source[:400]}"):
        check(f"{label}: Auth0 exchanged the code at the stored tokenURL with the stored client_id/secret (client_secret_post, code_verifier)",
              got.get("ok") and got.get("has_access_token"), got)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(urls[0]).query)) if urls else {}
    check(f"{label}: the authorization request went to the stored authorizationURL with PKCE S256",
          bool(urls) and urls[0].startswith(o["authorizationURL"] + "?") and q.get("code_challenge_method") == "S256" and q.get("code_challenge"),
          urls[:1])
    idt = (tokens[0] if tokens else {}).get("id_token")
    if check(f"{label}: the token response carries an ID token", bool(idt), list((tokens[0] if tokens else {}).keys())):
        try:
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # authlib.jose's deprecation notice
                from authlib.jose import JsonWebKey, jwt
            keys = JsonWebKey.import_key_set(requests.get(disco["jwks_uri"], timeout=10).json())
            claims = jwt.decode(idt, keys)
            claims.validate(leeway=60)
            sig_ok = True
        except Exception as e:
            claims, sig_ok = {}, repr(e)
        check(f"{label}: the ID token's signature verifies with Sigil's JWKS, and it is in date", sig_ok is True, sig_ok)
        aud = claims.get("aud")
        check(f"{label}: ID token iss is Sigil's issuer, aud the stored client_id", claims.get("iss") == disco.get("issuer")
              and (aud == o["client_id"] or aud == [o["client_id"]]), (claims.get("iss"), aud, o["client_id"]))
        check(f"{label}: ID token email, given_name, family_name are the Sigil user's",
              all(claims.get(k) == USER[k] for k in USER) and claims.get("sub"), {k: claims.get(k) for k in ("sub", *USER)})
    rp.fetch_token, rp.authorization_url = fetch, authz

    # The point of PKCE: the same connection with pkce_enabled off (as the Auth0 dashboard leaves it) is refused by Sigil.
    off = dict(o, pkce_enabled=False)
    r = requests.patch(f"{auth0.base_url}/__fake__/connections/{conn['id']}", json={"options": off}, timeout=10)
    check(f"{label}: pkce_enabled flipped off through the fake's backdoor", r.status_code in (200, 204)
          and auth0.state.by_name("sigil-social")["options"].get("pkce_enabled") is False, (r.status_code, r.text[:200]))
    before = len(auth0.state.signins)
    driver.get(f"{auth0.base_url}/__fake__/login?connection=sigil-social")
    got = new_signin(auth0, before, timeout=15)
    err = (got or {}).get("error") or ""
    check(f"{label}: without PKCE Sigil refuses Auth0's authorization request (code_challenge is required), no sign-in",
          got is not None and not got.get("ok") and "code_challenge is required" in err,
          got or f"at {driver.current_url}: {driver.page_source[:400]}")
    r = requests.patch(f"{auth0.base_url}/__fake__/connections/{conn['id']}", json={"options": o}, timeout=10)
    check(f"{label}: pkce_enabled restored", r.status_code in (200, 204) and auth0.state.by_name("sigil-social")["options"].get("pkce_enabled") is True,
          r.status_code)


def _okta_saml(driver, sigil, okta, idp):
    label = "sign-in Okta SAML"
    trust = idp["protocol"]["credentials"]["trust"]
    sp = okta.saml_sp(idp["id"])  # built by the fake from the stored IdP and its key-store certificate
    check(f"{label}: Okta's SP is the stored IdP's (audience, ACS {{org}}/sso/saml2/{{id}}, issuer, SSO URL)",
          sp.entity_id == trust["audience"] and sp.acs_url == f"{okta.org_url}/sso/saml2/{idp['id']}" and sp.idp_entity_id == trust["issuer"]
          and sp.sso_url in (idp["protocol"]["endpoints"]["sso"].get("destination"), idp["protocol"]["endpoints"]["sso"]["url"]),
          (sp.entity_id, sp.acs_url, sp.idp_entity_id, sp.sso_url))
    got = _saml_signin(driver, okta, f"{okta.base_url}/__fake__/login?idp={idp['id']}", label)
    if not got:
        return
    attrs = got.get("attributes") or {}
    check(f"{label}: Issuer is the stored trust.issuer", got.get("issuer") == trust["issuer"], got.get("issuer"))
    check(f"{label}: NameID is the user's email (emailAddress)", got.get("name_id") == USER["email"], (got.get("name_id"), got.get("name_id_format")))
    for okta_name, k in (("email", "email"), ("firstName", "given_name"), ("lastName", "family_name")):
        check(f"{label}: attribute {okta_name} is the Sigil user's", attrs.get(okta_name) == [USER[k]], attrs)


def _okta_idv(driver, sigil, okta, vidp, disco, By):
    label = "sign-in Okta IDV"
    client = okta.idv_client(vidp["id"])  # OktaIDVClient from the stored IDV_STANDARD IdP
    creds = vidp["protocol"]["credentials"]["client"]
    check(f"{label}: Okta's client is the stored IdP's (client_id, PAR URL, redirect {{org}}/idp/identity-verification/callback)",
          client.client_id == creds["client_id"] and client.client_secret == creds["client_secret"]
          and client.par_url == vidp["protocol"]["endpoints"]["par"]["url"] and client.callback_url == okta.idv_redirect_uri,
          (client.client_id, client.par_url, client.callback_url))
    p = client.par(USER["given_name"], USER["family_name"], "00u" + secrets.token_hex(9)[:17], extra_claims={"email": USER["email"]})
    if not check(f"{label}: PAR with the stored client credentials answers 201 with a request_uri", p.ok, (p.reasons, p.problems)):
        return
    driver.get(client.authorize_url(p))
    sid = wait_until(lambda: re.search(r"/idv/([A-Za-z0-9_-]+)", urllib.parse.urlsplit(driver.current_url).path), 20)
    on_page = sid and driver.find_elements(By.ID, "cancel")
    if not check(f"{label}: the browser (authorize with only request_uri) reaches Sigil's capture page", bool(on_page),
                 f"at {driver.current_url}: {driver.page_source[:400]}"):
        return
    driver.find_element(By.ID, "cancel").click()
    url = wait_until(lambda: driver.current_url if driver.current_url.startswith(okta.idv_redirect_uri) else None, 30)
    if not check(f"{label}: #cancel sends the browser to the stored redirect URI ({okta.idv_redirect_uri})", bool(url),
                 f"at {driver.current_url}: {driver.page_source[:300]}"):
        return
    cb = client.callback(url, p)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    check(f"{label}: Okta reads error=access_denied with its own state, no code", cb.get("error") == "access_denied" and cb.get("state") == p.state
          and not cb.get("code") and "ERROR_RESPONSE_AUTHORIZE" in ((cb.get("verdict") or {}).get("reasons") or []), (q, cb.get("verdict")))
    if "iss" in q:
        check(f"{label}: the callback's iss (RFC 9207) is Sigil's issuer", q["iss"] == disco.get("issuer"), q["iss"])
    else:
        print(f"  note: {label}: the cancel callback carries no iss parameter", flush=True)


IDV_ENGINE = "/usr/local/lib/sigil/sigil-idv-engine"


def _okta_idv_verified(driver, sigil, okta, vidp, By):
    """A full verification through the stored IDV_STANDARD IdP: the engine (face match) and the face fixtures are
    needed; the chip is a synthetic ePassport (interop/idv_passport.py) under a CSCA imported through the admin API.
    The capture page is driven with interop/idv_e2e.py's own functions."""
    label = "sign-in Okta IDV (verified)"
    try:
        import idv_e2e
        import idv_passport
    except Exception as e:
        skip(label, f"interop/idv_e2e.py or idv_passport.py cannot be imported: {e!r}")
        return
    faces = idv_passport.FIXTURE_FACES
    if not (os.path.isfile(IDV_ENGINE) and os.access(IDV_ENGINE, os.X_OK)):
        skip(label, f"the IDV engine {IDV_ENGINE} is not installed (scripts/install-idv-engines.sh): only the cancel path above runs")
        return
    if not all(os.path.isfile(os.path.join(faces, n)) for n in ("obama__a.jpg", "obama__b.jpg")):
        skip(label, f"the face fixtures are not in {faces} ($SIGIL_FIXTURES_DIR): only the cancel path above runs")
        return
    idv_e2e.check = check  # its helpers report through this suite's tally
    r = sigil.cli("admin", "token", "create")
    token = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else None
    if not check(f"{label}: `sigil admin token create` for the IDV set-up", bool(token), r.stderr[-300:]):
        return
    admin = idv_e2e.AdminAPI(sigil.base, token)
    policy = {"document_types": ["passport"], "countries": ["UTO"], "require_chip": True, "require_face_match": True,
              "require_liveness": False, "weakest_name_match": "fuzzy", "review_reasons": [], "face_match_threshold": 0.6, "retention_days": 30}
    pki = idv_passport.make_pki(os.path.join(sigil.work, "pki"))
    passport = idv_passport.make_passport(os.path.join(sigil.work, "passport"), pki, open(os.path.join(faces, "obama__a.jpg"), "rb").read())
    r1, _ = admin.call("PUT", "/idv/policy", policy)
    r2, _ = admin.call("POST", "/idv/cscas", {"pem": open(pki["csca"][0]).read()})
    if not check(f"{label}: IDV policy (passport, chip, face match; liveness off) and the synthetic CSCA set through the admin API",
                 r1.status_code == 200 and r2.status_code == 201, (r1.status_code, r1.text[:200], r2.status_code, r2.text[:200])):
        return
    client = okta.idv_client(vidp["id"])
    p = client.par("Anna", "Eriksson", "00u" + secrets.token_hex(9)[:17])
    if not check(f"{label}: PAR with the stored client credentials answers 201", p.ok, (p.reasons, p.problems)):
        return
    driver.get(client.authorize_url(p))
    if not check(f"{label}: the browser reaches Sigil's capture page", bool(wait_until(lambda: driver.find_elements(By.ID, "submit"), 20)),
                 driver.current_url):
        return
    ok, detail = idv_e2e.fill_capture(driver, passport, os.path.join(faces, "obama__b.jpg"))
    if not check(f"{label}: chip DG1/DG2/SOD and a selfie uploaded through the capture page", ok, detail):
        return
    driver.find_element(By.ID, "submit").click()
    url = wait_until(lambda: driver.current_url if driver.current_url.startswith(okta.idv_redirect_uri) else None, 90, 0.3)
    if not check(f"{label}: #submit → the decision → the browser at the stored redirect URI", bool(url),
                 f"at {driver.current_url}, #status {idv_e2e.page_state(driver)}"):
        return
    cb = client.callback(url, p)
    if not check(f"{label}: Okta's callback carries a code and its own state", cb.get("ok") and cb.get("code"), cb.get("verdict") or url):
        return
    verdict = client.token(cb["code"], p)
    vc = (verdict.get("id_token_claims") or {}).get("verified_claims")
    check(f"{label}: token exchange with the stored client credentials → Okta's evaluation VERIFIED (CLAIMS_VERIFIED)",
          verdict.get("result") == "VERIFIED" and verdict.get("reasons") == ["CLAIMS_VERIFIED"],
          {k: verdict.get(k) for k in ("result", "reasons", "details")})
    check(f"{label}: the ID token's aud is the stored client_id and it carries verified_claims",
          verdict.get("id_token_claims", {}).get("aud") in (client.client_id, [client.client_id]) and bool(vc),
          (verdict.get("id_token_claims") or {}).get("aud"))


# ---------------------------------------------------------------------------------------------------- the doctor
ELSEWHERE = "https://elsewhere.example"


def doctor(sigil, iid, *args, secret=None):
    """`sigil integration doctor ID --json`: (completed process, the JSON line or {}). With `secret`, it is given on stdin
    with --secret-stdin --partner (docs/integrations.md: without --partner or --client-id the secret is not read)."""
    argv = ["integration", "doctor", iid, "--tenant", "default", "--json", "--public-url", sigil.base, *args]
    if secret is not None:
        argv += ["--secret-stdin", "--partner"]
    r = sigil.cli(*argv, stdin=(secret + "\n") if secret is not None else None)
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    try:
        doc = json.loads(lines[-1]) if lines else {}
    except ValueError:
        doc = {}
    return r, doc or {}


def last_check(doc):
    return doc.get("last_check") or {}


def codes_of(doc):
    return {f.get("code") for f in last_check(doc).get("findings") or []}


def finding(doc, code):
    return next((f for f in last_check(doc).get("findings") or [] if f.get("code") == code), None)


def doctor_ok(sigil, label, iid, *args, secret=None, partner=False):
    r, d = doctor(sigil, iid, *args, secret=secret)
    c = last_check(d)
    check(f"{label}: exit 0, status ok, no findings, partner_read {str(partner).lower()}",
          r.returncode == 0 and c.get("status") == "ok" and not c.get("findings") and c.get("partner_read") is partner
          and d.get("id") == iid, (r.returncode, c, r.stderr[-300:]))
    return d


def doctor_drift(sigil, label, iid, args, secret, wanted, repairable=True):
    r, d = doctor(sigil, iid, *args, secret=secret)
    c = last_check(d)
    got = codes_of(d)
    check(f"{label}: exit 2, status drift, findings {', '.join(sorted(wanted))}",
          r.returncode == 2 and c.get("status") == "drift" and set(wanted) <= got and c.get("partner_read") is True,
          (r.returncode, c.get("status"), sorted(got), r.stdout[-600:], r.stderr[-300:]))
    bad = [f for f in c.get("findings") or [] if f.get("code") in wanted and (f.get("repairable") is not repairable or f.get("side") != "partner"
                                                                            or not f.get("message"))]
    check(f"{label}: each finding is on the vendor's side, {'repairable' if repairable else 'not repairable'}, with a message", not bad, bad)
    return r, d


def doctor_repair(sigil, label, iid, args, secret):
    r, d = doctor(sigil, iid, *args, "--repair", secret=secret)
    c = last_check(d)
    check(f"{label}: --repair exits 0, status ok, says what it repaired", r.returncode == 0 and c.get("status") == "ok" and not c.get("findings")
          and d.get("repaired"), (r.returncode, c, d.get("repaired"), r.stderr[-300:]))
    return d


def drift_and_repair(sigil, auth0, okta, docs, good_id, good_secret, super_token, portal, shop, md_certs, sso_urls, disco):
    """Case 1: each one-click result checked by the doctor (Sigil's side, then with credentials), changed at the vendor behind
    Sigil's back through the fake's backdoor, reported by the doctor, repaired, and checked again (the fake's stored object
    is Sigil's again). The sign-ins that run afterwards go through the repaired objects."""
    doc, sdoc, odoc, idoc = docs
    from vendor_sp import make_keypair, pem_body
    a0 = ["--client-id", good_id]

    # ------------------------------------------------------------ auth0-saml
    iid = doc.get("id") or ""
    check("doctor: auth0-saml's JSON names the integration id (int_…)", re.fullmatch(r"int_[0-9a-z]{26}", iid or "") is not None, doc.get("id"))
    conn = auth0.state.by_name("sigil-saml")
    if iid and conn:
        label = "doctor auth0-saml"
        doctor_ok(sigil, f"{label} (Sigil's side only)", iid)
        d = doctor_ok(sigil, f"{label} (with credentials)", iid, *a0, secret=good_secret, partner=True)
        check(f"{label}: with credentials it says to rotate them", bool(d.get("rotate_credentials")), d.get("rotate_credentials"))
        r, d = doctor(sigil, iid, *a0, secret="wrong-" + good_secret[::-1])
        check(f"{label}: with a wrong secret: not ok (non-zero exit), and says Auth0 refused the credentials (not read)",
              r.returncode != 0 and (d.get("error") == "auth0_secret_wrong" or "partner_not_read" in codes_of(d)),
              (r.returncode, r.stdout[-400:], r.stderr[-200:]))
        o = json.loads(json.dumps(conn["options"]))
        _, other = make_keypair(sigil.work, "doctor-other")
        bad = dict(o, signInEndpoint=ELSEWHERE + "/saml/sso", signingCert=base64.b64encode(open(other, "rb").read()).decode(),
                   fieldsMap={"email": "mail", "given_name": "given_name", "family_name": "family_name"})
        r = requests.patch(f"{auth0.base_url}/__fake__/connections/{conn['id']}", json={"options": bad, "enabled_clients": [portal]}, timeout=10)
        check(f"{label}: drift made through the backdoor (signInEndpoint, signingCert, fieldsMap, Shop no longer enabled)",
              r.status_code == 200 and auth0.state.enabled.get(conn["id"]) == [portal], (r.status_code, r.text[:200]))
        _, d = doctor_drift(sigil, label, iid, a0, good_secret,
                            {"sso_url_changed", "partner_certificate_differs", "attribute_mapping_changed", "connection_not_enabled"})
        f = finding(d, "sso_url_changed") or {}
        check(f"{label}: sso_url_changed names the URL Auth0 now uses", ELSEWHERE in (f.get("message") or ""), f)
        f = finding(d, "connection_not_enabled") or {}
        check(f"{label}: connection_not_enabled names the Auth0 application (Shop)", shop in (f.get("message") or ""), f)
        r, _ = doctor(sigil, iid, "--repair")
        check(f"{label}: --repair without credentials is refused (non-zero exit), nothing changed at Auth0",
              r.returncode not in (0, 2) and auth0.state.by_name("sigil-saml")["options"]["signInEndpoint"] == bad["signInEndpoint"],
              (r.returncode, r.stdout[-300:], r.stderr[-300:]))
        d = doctor_repair(sigil, label, iid, a0, good_secret)
        now = auth0.state.by_name("sigil-saml") or {}
        no = now.get("options") or {}
        try:
            cert_ok = pem_der(base64.b64decode(no.get("signingCert", "")).decode()) in md_certs
        except Exception as e:
            cert_ok = repr(e)
        check(f"{label}: repaired at Auth0: signInEndpoint is Sigil's SSO URL, signingCert Sigil's certificate, fieldsMap Sigil's",
              no.get("signInEndpoint") in sso_urls and cert_ok is True and no.get("fieldsMap") == o.get("fieldsMap"),
              (no.get("signInEndpoint"), cert_ok, no.get("fieldsMap")))
        check(f"{label}: repaired at Auth0: the other options are kept (GET, merge, PATCH), display_name kept",
              {k: v for k, v in no.items() if k != "signingCert"} == {k: v for k, v in o.items() if k != "signingCert"}
              and now.get("display_name") == conn.get("display_name"),
              sorted(set(no.items()) ^ set(o.items())) if all(isinstance(v, str) for v in list(no.values()) + list(o.values())) else (no, o))
        check(f"{label}: repaired at Auth0: enabled again for Portal and Shop", set(auth0.state.enabled.get(conn["id"], [])) == {portal, shop},
              auth0.state.enabled.get(conn["id"]))
        doctor_ok(sigil, f"{label} (after the repair, with credentials)", iid, *a0, secret=good_secret, partner=True)

    # ------------------------------------------------------------ auth0-social
    iid = sdoc.get("id") or ""
    conn = auth0.state.by_name("sigil-social")
    if iid and conn:
        label = "doctor auth0-social"
        doctor_ok(sigil, f"{label} (Sigil's side only)", iid)
        doctor_ok(sigil, f"{label} (with credentials)", iid, *a0, secret=good_secret, partner=True)
        o = json.loads(json.dumps(conn["options"]))
        bad = dict(o, pkce_enabled=False, tokenURL=ELSEWHERE + "/oauth2/token")
        r = requests.patch(f"{auth0.base_url}/__fake__/connections/{conn['id']}", json={"options": bad}, timeout=10)
        check(f"{label}: drift made through the backdoor (pkce_enabled false, tokenURL elsewhere)", r.status_code == 200, r.text[:200])
        doctor_drift(sigil, label, iid, a0, good_secret, {"pkce_disabled", "endpoints_changed"})
        doctor_repair(sigil, label, iid, a0, good_secret)
        no = (auth0.state.by_name("sigil-social") or {}).get("options") or {}
        check(f"{label}: repaired at Auth0: pkce_enabled true, authorizationURL/tokenURL the discovery document's",
              no.get("pkce_enabled") is True and no.get("tokenURL") == disco.get("token_endpoint")
              and no.get("authorizationURL") == disco.get("authorization_endpoint"), {k: no.get(k) for k in ("pkce_enabled", "tokenURL", "authorizationURL")})
        check(f"{label}: repaired at Auth0: every other option kept (client_id, client_secret, scope…), options = as created", no == o,
              {k: (o.get(k), no.get(k)) for k in set(o) | set(no) if o.get(k) != no.get(k) and k != "client_secret"})
        doctor_ok(sigil, f"{label} (after the repair, with credentials)", iid, *a0, secret=good_secret, partner=True)

    # ------------------------------------------------------------ okta-saml
    iid = odoc.get("id") or ""
    kinds = {x.get("kind"): x.get("id") for x in odoc.get("partner_objects") or []}
    idp = okta.state.idps.get(kinds.get("identity_provider"))
    if iid and idp:
        label = "doctor okta-saml"
        doctor_ok(sigil, f"{label} (Sigil's side only)", iid)
        d = doctor_ok(sigil, f"{label} (with credentials)", iid, secret=super_token, partner=True)
        check(f"{label}: with credentials it says to revoke the token", bool(d.get("rotate_credentials")), d.get("rotate_credentials"))
        proto = json.loads(json.dumps(idp["protocol"]))
        kid0 = proto["credentials"]["trust"]["kid"]
        _, other = make_keypair(sigil.work, "doctor-okta-other")
        r = requests.post(f"{okta.base_url}/api/v1/idps/credentials/keys", headers={"Authorization": "SSWS " + super_token},
                          json={"x5c": [pem_body(open(other).read())]}, timeout=10)
        other_kid = r.json().get("kid") if r.status_code == 200 else None
        bad = json.loads(json.dumps(proto))
        bad["endpoints"]["sso"]["url"] = ELSEWHERE + "/saml/sso"
        if "destination" in bad["endpoints"]["sso"]:
            bad["endpoints"]["sso"]["destination"] = ELSEWHERE + "/saml/sso"
        bad["credentials"]["trust"]["kid"] = other_kid
        r2 = requests.patch(f"{okta.base_url}/__fake__/idps/{idp['id']}", json={"protocol": bad}, timeout=10)
        check(f"{label}: drift made (another certificate uploaded as a key and trusted, sso url elsewhere)",
              other_kid and r2.status_code == 200 and okta.state.idps[idp["id"]]["protocol"]["credentials"]["trust"]["kid"] == other_kid,
              (r.status_code, r.text[:200], r2.status_code))
        doctor_drift(sigil, label, iid, [], super_token, {"sso_url_changed", "partner_certificate_differs"})
        d = doctor_repair(sigil, label, iid, [], super_token)
        now = okta.state.idps.get(idp["id"]) or {}
        np_ = now.get("protocol") or {}
        trust = (np_.get("credentials") or {}).get("trust") or {}
        key = okta.state.keys.get(trust.get("kid")) or {}
        check(f"{label}: repaired at Okta: sso.url is Sigil's SSO URL", ((np_.get("endpoints") or {}).get("sso") or {}).get("url") in sso_urls,
              (np_.get("endpoints") or {}).get("sso"))
        check(f"{label}: repaired at Okta: trust.kid is a key holding Sigil's certificate (the one Okta already held: {kid0})",
              key.get("x5c") and base64.b64decode(key["x5c"][0]) in md_certs and trust.get("kid") == kid0, (trust.get("kid"), kid0, other_kid))
        check(f"{label}: repaired at Okta: trust.issuer and audience unchanged, the IdP still SAML2 and active",
              trust.get("issuer") == proto["credentials"]["trust"]["issuer"] and trust.get("audience") == proto["credentials"]["trust"]["audience"]
              and now.get("type") == "SAML2" and now.get("status") == "ACTIVE", (trust, now.get("status")))
        rec = {x.get("kind"): x.get("id") for x in (d.get("partner_objects") or [])}
        check(f"{label}: the record names the trusted key after the repair", rec.get("key") == trust.get("kid"), (rec, trust.get("kid")))
        doctor_ok(sigil, f"{label} (after the repair, with credentials)", iid, secret=super_token, partner=True)

    # ------------------------------------------------------------ okta-idv
    iid = idoc.get("id") or ""
    ids = [x.get("id") for x in idoc.get("partner_objects") or [] if x.get("kind") == "identity_provider"]
    vidp = okta.state.idps.get(ids[0]) if ids else None
    if iid and vidp:
        label = "doctor okta-idv"
        doctor_ok(sigil, f"{label} (Sigil's side only)", iid)
        doctor_ok(sigil, f"{label} (with credentials)", iid, secret=super_token, partner=True)
        proto = json.loads(json.dumps(vidp["protocol"]))
        bad = json.loads(json.dumps(proto))
        bad["endpoints"]["token"]["url"] = ELSEWHERE + "/oauth2/token"
        r = requests.patch(f"{okta.base_url}/__fake__/idps/{vidp['id']}", json={"protocol": bad}, timeout=10)
        check(f"{label}: drift made through the backdoor (token endpoint elsewhere)", r.status_code == 200, r.text[:200])
        _, d = doctor_drift(sigil, label, iid, [], super_token, {"endpoint_changed"})
        f = finding(d, "endpoint_changed") or {}
        check(f"{label}: endpoint_changed names the token endpoint and the URL Okta now calls", "token" in (f.get("message") or "")
              and ELSEWHERE in (f.get("message") or "") and len([x for x in last_check(d).get("findings") or [] if x.get("code") == "endpoint_changed"]) == 1, f)
        doctor_repair(sigil, label, iid, [], super_token)
        np_ = (okta.state.idps.get(vidp["id"]) or {}).get("protocol") or {}
        check(f"{label}: repaired at Okta: the token URL is the discovery token endpoint", ((np_.get("endpoints") or {}).get("token") or {}).get("url")
              == disco.get("token_endpoint"), (np_.get("endpoints") or {}).get("token"))
        check(f"{label}: repaired at Okta: the rest of the protocol (client_id/secret, issuer, other endpoints, scopes) as created", np_ == proto,
              {k: (proto.get(k), np_.get(k)) for k in set(proto) | set(np_) if proto.get(k) != np_.get(k) and k != "credentials"})
        doctor_ok(sigil, f"{label} (after the repair, with credentials)", iid, secret=super_token, partner=True)

    # ------------------------------------------------------------ list
    r = sigil.cli("integration", "list", "--tenant", "default", "--json")
    try:
        items = json.loads(r.stdout).get("integrations") or []
    except ValueError:
        items = []
    listed = {x.get("id"): x for x in items}
    want = [x.get("id") for x in docs if x.get("id")]
    check("integration list --json: lists the four one-click integrations with their kind and last check",
          r.returncode == 0 and all(i in listed for i in want) and all((listed[i].get("last_check") or {}).get("status") == "ok" for i in want)
          and [listed[x["id"]].get("kind") for x in docs if x.get("id")] == ["auth0-saml", "auth0-social", "okta-saml", "okta-idv"],
          (r.returncode, r.stdout[-600:]))


def deleted_objects(sigil, auth0, okta, a0, og, good_id, good_secret, super_token):
    """Case 2: the vendor's object deleted behind Sigil's back (connection, identity provider): reported, not repairable."""
    r, d = sigil.integration("auth0-saml", "--domain", a0, "--client-id", good_id, "--client-secret-stdin", "--connection-name", "sigil-gone",
                             secret=good_secret)
    conn = auth0.state.by_name("sigil-gone")
    if check("deleted: auth0-saml sigil-gone set up", r.returncode == 0 and conn is not None and (d or {}).get("id"), r.stdout[-300:] + r.stderr[-300:]):
        rr = requests.delete(f"{auth0.base_url}/__fake__/connections/{conn['id']}", timeout=10)
        check("deleted: the Auth0 connection deleted through the backdoor", rr.status_code == 204 and auth0.state.by_name("sigil-gone") is None, rr.status_code)
        doctor_drift(sigil, "deleted: doctor auth0-saml", d["id"], ["--client-id", good_id], good_secret, {"connection_missing"}, repairable=False)
        r2, d2 = doctor(sigil, d["id"], "--client-id", good_id, "--repair", secret=good_secret)
        check("deleted: doctor --repair cannot repair it (exit 2, connection_missing, nothing repaired, nothing created)",
              r2.returncode == 2 and "connection_missing" in codes_of(d2) and not d2.get("repaired") and auth0.state.by_name("sigil-gone") is None,
              (r2.returncode, codes_of(d2), d2.get("repaired")))
    r, d = sigil.integration("okta-idv", "--domain", og, "--api-token-stdin", "--idp-name", "Gone IDV", secret=super_token)
    ids = [x.get("id") for x in (d or {}).get("partner_objects") or [] if x.get("kind") == "identity_provider"]
    if check("deleted: okta-idv 'Gone IDV' set up", r.returncode == 0 and ids and ids[0] in okta.state.idps, r.stdout[-300:] + r.stderr[-300:]):
        rr = requests.delete(f"{okta.base_url}/__fake__/idps/{ids[0]}", timeout=10)
        check("deleted: the Okta identity provider deleted through the backdoor", rr.status_code == 204 and ids[0] not in okta.state.idps, rr.status_code)
        doctor_drift(sigil, "deleted: doctor okta-idv", d["id"], [], super_token, {"identity_provider_missing"}, repairable=False)
        r2, d2 = doctor(sigil, d["id"], "--repair", secret=super_token)
        check("deleted: doctor --repair cannot repair it (exit 2, identity_provider_missing, nothing repaired)",
              r2.returncode == 2 and "identity_provider_missing" in codes_of(d2) and not d2.get("repaired") and ids[0] not in okta.state.idps,
              (r2.returncode, codes_of(d2), d2.get("repaired")))


def admin_api_integrations(sigil, auth0, okta, a0, og, api_id, api_secret, api_token, wrong_secret, portal):
    """Case 3: the admin API: one-click auth0-saml, list, get, doctor (ok, wrong secret, unknown id). The secrets sent in
    request bodies are in the never-stored scan (credentials)."""
    r = sigil.cli("admin", "token", "create")
    token = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else None
    if not check("admin API: `sigil admin token create`", bool(token), r.stderr[-300:]):
        return
    h = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    api = sigil.base + "/api/admin/v1/integrations"

    def call(method, url, body=None):
        resp = requests.request(method, url, json=body, headers=h, timeout=60)
        try:
            return resp, resp.json()
        except ValueError:
            return resp, {}
    before = len(sigil.apps() or [])
    resp, b = call("POST", api, {"kind": "auth0-saml", "domain": a0, "client_id": api_id, "secret": api_secret, "connection_name": "sigil-api",
                                 "enable_for": [portal]})
    integ = b.get("integration") or {}
    conn = auth0.state.by_name("sigil-api")
    check("admin API: POST /integrations auth0-saml → 201 with the integration, next_step, rotate_credentials",
          resp.status_code == 201 and re.fullmatch(r"int_[0-9a-z]{26}", integ.get("id") or "") and integ.get("kind") == "auth0-saml"
          and b.get("next_step") and b.get("rotate_credentials") and b.get("application_name"), (resp.status_code, resp.text[:600]))
    check("admin API: the connection exists at Auth0 (samlp, enabled for Portal), named in the integration",
          conn is not None and conn["strategy"] == "samlp" and auth0.state.enabled.get(conn["id"]) == [portal]
          and any(o.get("kind") == "connection" and o.get("id") == conn["id"] for o in integ.get("partner_objects") or []), (conn, integ))
    apps = sigil.apps() or []
    check("admin API: Sigil has the SAML application, entity urn:auth0:acme:sigil-api", len(apps) == before + 1
          and any(x.get("id") == integ.get("application_id") and x.get("entity_id") == "urn:auth0:acme:sigil-api" for x in apps), integ.get("application_id"))
    check("admin API: the response does not echo the secret", api_secret not in resp.text, "secret in the 201 body")
    iid = integ.get("id")
    if not iid:
        return
    resp, b = call("GET", api)
    check("admin API: GET /integrations lists it", resp.status_code == 200 and any(x.get("id") == iid for x in b.get("items") or []),
          (resp.status_code, resp.text[:300]))
    resp, b = call("GET", f"{api}/{iid}")
    check("admin API: GET /integrations/{id} shows it (kind, connection, application)", resp.status_code == 200 and b.get("id") == iid
          and b.get("application_id") == integ.get("application_id") and b.get("partner_objects") == integ.get("partner_objects"), (resp.status_code, resp.text[:300]))
    resp, b = call("POST", f"{api}/{iid}/doctor", {})
    c = (b.get("integration") or {}).get("last_check") or {}
    check("admin API: POST …/doctor {} → 200, ok, Sigil's side only", resp.status_code == 200 and c.get("status") == "ok" and c.get("partner_read") is False,
          (resp.status_code, resp.text[:400]))
    resp, b = call("POST", f"{api}/{iid}/doctor", {"client_id": api_id, "secret": api_secret})
    c = (b.get("integration") or {}).get("last_check") or {}
    check("admin API: POST …/doctor with client_id and secret → 200, ok, the vendor's side read, rotate_credentials",
          resp.status_code == 200 and c.get("status") == "ok" and c.get("partner_read") is True and not c.get("findings") and b.get("rotate_credentials"),
          (resp.status_code, resp.text[:400]))
    resp, b = call("POST", f"{api}/{iid}/doctor", {"client_id": api_id, "secret": wrong_secret})
    check("admin API: POST …/doctor with a wrong secret → 422 problem+json, type auth0-secret-wrong",
          resp.status_code == 422 and str(b.get("type", "")).endswith("auth0-secret-wrong") and "problem+json" in resp.headers.get("Content-Type", ""),
          (resp.status_code, resp.headers.get("Content-Type"), resp.text[:500]))
    check("admin API: the wrong-secret answer does not echo the secret", wrong_secret not in resp.text, "secret echoed")
    resp, b = call("POST", f"{api}/{iid}/doctor", {"repair": True})
    check("admin API: POST …/doctor repair without credentials → 422", resp.status_code == 422, (resp.status_code, resp.text[:300]))
    unknown = "int_" + "0" * 26
    resp, b = call("POST", f"{api}/{unknown}/doctor", {})
    check("admin API: POST …/doctor of an unknown id → 404 problem+json", resp.status_code == 404 and "problem+json" in resp.headers.get("Content-Type", ""),
          (resp.status_code, resp.text[:300]))
    resp, b = call("GET", f"{api}/{unknown}")
    check("admin API: GET an unknown id → 404", resp.status_code == 404, (resp.status_code, resp.text[:300]))
    resp, b = call("POST", api, {"kind": "auth0-saml", "domain": a0, "client_id": api_id, "secret": api_secret, "connection_name": "sigil-api"})
    check("admin API: POST with a taken connection name → 409 auth0-connection-name-taken", resp.status_code == 409
          and str(b.get("type", "")).endswith("auth0-connection-name-taken"), (resp.status_code, resp.text[:300]))
    resp, b = call("POST", api, {"kind": "auth0-saml", "domain": a0, "client_id": api_id, "secret": wrong_secret, "connection_name": "sigil-api-2"})
    check("admin API: POST with a wrong secret → 422 auth0-secret-wrong, nothing created", resp.status_code == 422
          and str(b.get("type", "")).endswith("auth0-secret-wrong") and auth0.state.by_name("sigil-api-2") is None, (resp.status_code, resp.text[:300]))
    # Okta through the admin API: its own token (in the never-stored scan), the doctor with {"secret"} only
    resp, b = call("POST", api, {"kind": "okta-idv", "domain": og, "secret": api_token, "idp_name": "Sigil IDV via API"})
    integ = b.get("integration") or {}
    ids = [x.get("id") for x in integ.get("partner_objects") or [] if x.get("kind") == "identity_provider"]
    check("admin API: POST /integrations okta-idv → 201, the IDV_STANDARD IdP exists at Okta", resp.status_code == 201 and ids
          and (okta.state.idps.get(ids[0]) or {}).get("type") == "IDV_STANDARD" and api_token not in resp.text, (resp.status_code, resp.text[:400]))
    if ids:
        resp, b = call("POST", f"{api}/{integ['id']}/doctor", {"secret": api_token})
        c = (b.get("integration") or {}).get("last_check") or {}
        check("admin API: POST …/doctor {secret} for Okta → 200, ok, the vendor's side read", resp.status_code == 200 and c.get("status") == "ok"
              and c.get("partner_read") is True and api_token not in resp.text, (resp.status_code, resp.text[:400]))


def unrepairable_drift(sigil, auth0, okta, a0, og, good_id, good_secret, super_token):
    """Drift the doctor reports but cannot repair, next to drift it can: a changed Auth0 client_id (with pkce off, repaired),
    a deactivated Okta IdP and its deleted routing rule. Fresh integrations, so the sign-ins below are not touched."""
    a0args = ["--client-id", good_id]
    r, d = sigil.integration("auth0-social", "--domain", a0, "--client-id", good_id, "--client-secret-stdin", "--connection-name", "sigil-cid",
                             secret=good_secret)
    conn = auth0.state.by_name("sigil-cid")
    if check("unrepairable: auth0-social sigil-cid set up", r.returncode == 0 and conn is not None and (d or {}).get("id"), r.stdout[-300:] + r.stderr[-300:]):
        o = json.loads(json.dumps(conn["options"]))
        requests.patch(f"{auth0.base_url}/__fake__/connections/{conn['id']}", json={"options": dict(o, client_id="someone-else", pkce_enabled=False)},
                       timeout=10)
        _, dd = doctor_drift(sigil, "unrepairable: doctor auth0-social", d["id"], a0args, good_secret, {"pkce_disabled"})
        f = finding(dd, "client_id_changed") or {}
        check("unrepairable: doctor auth0-social: client_id_changed, not repairable", f.get("repairable") is False and f.get("side") == "partner", dd)
        r2, d2 = doctor(sigil, d["id"], *a0args, "--repair", secret=good_secret)
        no = (auth0.state.by_name("sigil-cid") or {}).get("options") or {}
        check("unrepairable: --repair puts PKCE back, leaves the client_id, exits 2 with client_id_changed only",
              r2.returncode == 2 and codes_of(d2) == {"client_id_changed"} and d2.get("repaired") and no.get("pkce_enabled") is True
              and no.get("client_id") == "someone-else", (r2.returncode, codes_of(d2), d2.get("repaired"), no.get("pkce_enabled"), no.get("client_id")))
    r, d = sigil.integration("okta-saml", "--domain", og, "--api-token-stdin", "--idp-name", "Sigil other", "--route", "domain:other.example",
                             secret=super_token)
    kinds = {x.get("kind"): x.get("id") for x in (d or {}).get("partner_objects") or []}
    idp_id, rule_id = kinds.get("identity_provider"), kinds.get("routing_rule")
    if check("unrepairable: okta-saml 'Sigil other' set up with a routing rule", r.returncode == 0 and idp_id in okta.state.idps and rule_id in okta.state.rules,
             r.stdout[-300:] + r.stderr[-300:]):
        r1 = requests.patch(f"{okta.base_url}/__fake__/idps/{idp_id}", json={"status": "INACTIVE"}, timeout=10)
        r2 = requests.delete(f"{okta.base_url}/__fake__/rules/{rule_id}", timeout=10)
        check("unrepairable: the IdP deactivated and the routing rule deleted through the backdoor", r1.status_code == 200 and r2.status_code == 204,
              (r1.status_code, r2.status_code))
        doctor_drift(sigil, "unrepairable: doctor okta-saml", d["id"], [], super_token, {"identity_provider_inactive", "routing_rule_missing"},
                     repairable=False)


def rotation_and_repair(sigil, auth0, okta, docs, good_id, good_secret, super_token):
    """After `sigil keys rotate`, the doctor sees on Sigil's side alone that Auth0 and Okta hold the old certificate
    (certificate_changed), and --repair gives them the new one: the SAML sign-ins that run afterwards are signed with it."""
    doc, _, odoc, _ = docs
    before = {x.get("id"): (x.get("values") or {}).get("certificate_sha256") for x in (doc, odoc)}
    r = sigil.cli("keys", "rotate", "--tenant", "default")
    if not check("rotation: `sigil keys rotate --tenant default`", r.returncode == 0, r.stdout[-300:] + r.stderr[-300:]):
        return
    for label, d0, args, secret in (("auth0-saml", doc, ["--client-id", good_id], good_secret), ("okta-saml", odoc, [], super_token)):
        iid = d0.get("id")
        if not iid:
            continue
        r, d = doctor(sigil, iid)
        f = finding(d, "certificate_changed") or {}
        check(f"rotation: doctor {label} (Sigil's side only): exit 2, certificate_changed, repairable", r.returncode == 2
              and last_check(d).get("status") == "drift" and f.get("repairable") is True, (r.returncode, last_check(d)))
        d = doctor_repair(sigil, f"rotation: doctor {label}", iid, args, secret)
        new_fp = (d.get("values") or {}).get("certificate_sha256")
        if label == "auth0-saml":
            o = (auth0.state.by_name("sigil-saml") or {}).get("options") or {}
            try:
                held = hashlib.sha256(pem_der(base64.b64decode(o.get("signingCert", "")).decode())).hexdigest()
            except Exception as e:
                held = repr(e)
        else:
            idp = okta.state.idps.get({x.get("kind"): x.get("id") for x in d0.get("partner_objects") or []}.get("identity_provider")) or {}
            kid = idp.get("protocol", {}).get("credentials", {}).get("trust", {}).get("kid")
            key = okta.state.keys.get(kid) or {}
            held = hashlib.sha256(base64.b64decode(key["x5c"][0])).hexdigest() if key.get("x5c") else None
        check(f"rotation: {label} repaired: the vendor holds the new certificate (the record's certificate_sha256, not the old one)",
              new_fp and held == new_fp and new_fp != before.get(iid), (held, new_fp, before.get(iid)))
        doctor_ok(sigil, f"rotation: doctor {label} after the repair (with credentials)", iid, *args, secret=secret, partner=True)


def vendor_writes_logged(a0_log, okta_log):
    """Case 4: the doctor's writes are in the fakes' logs, so the validator below covers them."""
    seen = set()
    for path in (a0_log, okta_log):
        for line in open(path):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            p = e.get("path", "")
            if e.get("method") == "PATCH" and re.fullmatch(r"/api/v2/connections/[^/]+", p):
                seen.add("PATCH connection")
            if e.get("method") == "PATCH" and re.fullmatch(r"/api/v2/connections/[^/]+/clients", p):
                seen.add("PATCH connection clients")
            if e.get("method") == "GET" and re.fullmatch(r"/api/v2/connections/[^/]+/clients", p):
                seen.add("GET connection clients")
            if e.get("method") == "PUT" and re.fullmatch(r"/api/v1/idps/[^/]+", p):
                seen.add("PUT idp")
            if e.get("method") == "GET" and re.fullmatch(r"/api/v1/idps/credentials/keys/[^/]+", p):
                seen.add("GET key")
    want = {"PATCH connection", "PATCH connection clients", "GET connection clients", "PUT idp", "GET key"}
    check("the fakes' logs hold the doctor's reads and repairs (PATCH connection, PATCH/GET …/clients, PUT idp, GET key) for the validator",
          want <= seen, sorted(want - seen))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.path.join(HERE, "..", ".build", "debug", "sigil"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.sigil)

    import vendor_openapi
    spec = vendor_openapi.spec_dir()
    missing = [d["file"] for d in vendor_openapi.DOCS.values() if not (spec / d["file"]).is_file()]
    if missing:
        why = f"the vendor OpenAPI documents are not in {spec} (missing {', '.join(missing)}; set SIGIL_VENDOR_OPENAPI_DIR): the fakes validate every exchange against them and cannot run"
        for name in ("auth0-saml", "auth0-social", "okta-saml", "okta-idv", "refusals", "doctor (drift and repair)", "doctor (deleted objects)",
                     "admin API integrations", "never stored", "vendor request validator"):
            skip(name, why)
        return summary()

    from fake_auth0 import FakeAuth0
    from fake_okta import FakeOkta

    work = tempfile.mkdtemp(prefix="sigil-integrations-")
    a0_log, okta_log = os.path.join(work, "auth0.jsonl"), os.path.join(work, "okta.jsonl")
    auth0 = FakeAuth0(tenant="acme", log_path=a0_log, work=os.path.join(work, "auth0-work"))
    okta = FakeOkta(log_path=okta_log, work=os.path.join(work, "okta-work"))
    issued = []  # every management access token the fake Auth0 issued
    sign = auth0.signer.sign

    def recording_sign(claims):
        token = sign(claims)
        issued.append(token)
        return token
    auth0.signer.sign = recording_sign
    auth0.start()
    okta.start()

    def sec(prefix):
        return prefix + secrets.token_urlsafe(30)
    good_id, good_secret = "m2m" + secrets.token_hex(12), sec("goodsecret-")
    noscope_id, noscope_secret = "noscope" + secrets.token_hex(10), sec("noscopesecret-")
    nogrant_id, nogrant_secret = "nogrant" + secrets.token_hex(10), sec("nograntsecret-")
    wrong_secret = sec("wrongsecret-")
    api_id, api_secret = "m2mapi" + secrets.token_hex(10), sec("adminapisecret-")  # sent in admin API request bodies only
    auth0.seed_client(good_id, good_secret, ["create:connections", "read:connections", "update:connections", "read:clients"])
    auth0.seed_client(noscope_id, noscope_secret, ["read:connections", "update:connections", "read:clients"])
    auth0.seed_client(api_id, api_secret, ["create:connections", "read:connections", "update:connections", "read:clients"])
    auth0.seed_client(nogrant_id, nogrant_secret, ["create:connections", "read:connections", "update:connections", "read:clients"], grant=False)
    portal = auth0.seed_client(name="Portal", app_type="regular_web")["client_id"]
    shop = auth0.seed_client(name="Shop", app_type="spa")["client_id"]
    super_token, ro_token, wrong_token = okta.seed_token(role="super"), okta.seed_token(role="readonly"), sec("00wrong")
    api_token = okta.seed_token(role="super")  # sent in admin API request bodies only
    credentials = {"auth0 good secret": good_secret, "auth0 no-scope secret": noscope_secret, "auth0 no-grant secret": nogrant_secret,
                   "auth0 wrong secret": wrong_secret, "okta super token": super_token, "okta read-only token": ro_token,
                   "okta wrong token": wrong_token, "auth0 secret sent through the admin API": api_secret,
                   "okta token sent through the admin API": api_token}
    for c in auth0.state.clients.values():
        if c["client_secret"] not in credentials.values():
            credentials[f"auth0 {c['name']} secret"] = c["client_secret"]

    sigil = Sigil(binary, work)
    sigil.start()
    a0 = auth0.base_url
    og = okta.base_url
    try:
        sso_urls, md_certs, idp_entity = saml_metadata(sigil.base)
        disco = requests.get(sigil.base + "/.well-known/openid-configuration", timeout=10).json()
        check("Sigil's SAML metadata names an SSO URL and a certificate", sso_urls and md_certs, (sso_urls, len(md_certs)))

        # ---------------------------------------------------------------- auth0-saml
        r, doc = sigil.integration("auth0-saml", "--domain", a0, "--client-id", good_id, "--client-secret-stdin",
                                   "--connection-name", "sigil-saml", "--enable-for", f"{portal},{shop}", secret=good_secret)
        check("auth0-saml exits 0", r.returncode == 0, r.stdout + r.stderr)
        doc = doc or {}
        objs = doc.get("partner_objects") or []
        conn = auth0.state.by_name("sigil-saml")
        check("auth0-saml JSON names the connection and the Sigil application",
              conn is not None and any(o.get("kind") == "connection" and o.get("id") == conn["id"] and o.get("name") == "sigil-saml" for o in objs)
              and doc.get("application_id") and doc.get("kind") == "auth0-saml", doc)
        if conn:
            o = conn["options"]
            check("auth0-saml connection is samlp", conn["strategy"] == "samlp", conn["strategy"])
            check("auth0-saml signInEndpoint is Sigil's SSO URL (metadata)", o.get("signInEndpoint") in sso_urls, (o.get("signInEndpoint"), sso_urls))
            try:
                pem = base64.b64decode(o.get("signingCert", "")).decode()
                cert_ok = "BEGIN CERTIFICATE" in pem and pem_der(pem) in md_certs
            except Exception as e:
                cert_ok, pem = False, repr(e)
            check("auth0-saml signingCert is base64 of the PEM of the metadata's certificate", cert_ok, pem[:200])
            check("auth0-saml fieldsMap maps email, given_name, family_name",
                  o.get("fieldsMap") == {"email": "email", "given_name": "given_name", "family_name": "family_name"}, o.get("fieldsMap"))
            check("auth0-saml connection enabled for Portal and Shop", set(auth0.state.enabled.get(conn["id"], [])) == {portal, shop},
                  auth0.state.enabled.get(conn["id"]))
            check("auth0-saml JSON lists the enabled clients", set(doc.get("enabled_clients") or []) == {portal, shop}, doc.get("enabled_clients"))
        sp = auth0.sp_values("sigil-saml")
        apps = sigil.apps() or []
        app = next((x for x in apps if x.get("id") == doc.get("application_id")), None)
        check("auth0-saml Sigil SAML app has Auth0's entity ID", app is not None and app.get("protocol") == "saml" and app.get("entity_id") == sp["entity_id"],
              (app, sp["entity_id"]))
        shown = json.dumps(sigil.app_show(doc.get("application_id", "-")))
        check("auth0-saml Sigil app has Auth0's ACS URL", sp["acs_url"] in shown or sp["acs_url"].replace("?", "\\u003f") in shown, shown[:400])
        check("auth0-saml values name the ACS and entity ID", (doc.get("values") or {}).get("acs_url") == sp["acs_url"]
              and (doc.get("values") or {}).get("sp_entity_id") == sp["entity_id"], doc.get("values"))

        # ---------------------------------------------------------------- auth0-social
        r, sdoc = sigil.integration("auth0-social", "--domain", a0, "--client-id", good_id, "--client-secret-stdin",
                                    "--connection-name", "sigil-social", "--enable-for", portal, secret=good_secret)
        check("auth0-social exits 0", r.returncode == 0, r.stdout + r.stderr)
        sdoc = sdoc or {}
        sconn = auth0.state.by_name("sigil-social")
        check("auth0-social JSON names the connection", sconn is not None and any(o.get("id") == sconn["id"] for o in sdoc.get("partner_objects") or []), sdoc)
        apps = sigil.apps() or []
        sapp = next((x for x in apps if x.get("id") == sdoc.get("application_id")), None)
        if sconn:
            o = sconn["options"]
            check("auth0-social connection is oauth2", sconn["strategy"] == "oauth2", sconn["strategy"])
            check("auth0-social authorizationURL is the discovery authorization_endpoint", o.get("authorizationURL") == disco.get("authorization_endpoint"),
                  (o.get("authorizationURL"), disco.get("authorization_endpoint")))
            check("auth0-social tokenURL is the discovery token_endpoint", o.get("tokenURL") == disco.get("token_endpoint"),
                  (o.get("tokenURL"), disco.get("token_endpoint")))
            check("auth0-social pkce_enabled is true", o.get("pkce_enabled") is True, o.get("pkce_enabled"))
            check("auth0-social client_id is the Sigil app's", sapp is not None and o.get("client_id") == sapp.get("client_id")
                  == (sdoc.get("values") or {}).get("client_id"), (o.get("client_id"), sapp))
            check("auth0-social connection enabled for Portal", auth0.state.enabled.get(sconn["id"]) == [portal], auth0.state.enabled.get(sconn["id"]))
            check("auth0-social scope is openid email profile", o.get("scope") == "openid email profile", o.get("scope"))
        check("auth0-social Sigil app's redirect URI is Auth0's /login/callback",
              sapp is not None and sapp.get("redirect_uris") == [auth0.callback_url], (sapp, auth0.callback_url))

        # ---------------------------------------------------------------- okta-saml
        r, odoc = sigil.integration("okta-saml", "--domain", og, "--api-token-stdin", "--route", "domain:acme.com", secret=super_token)
        check("okta-saml exits 0", r.returncode == 0, r.stdout + r.stderr)
        odoc = odoc or {}
        kinds = {o.get("kind"): o.get("id") for o in odoc.get("partner_objects") or []}
        idp = okta.state.idps.get(kinds.get("identity_provider"))
        check("okta-saml JSON names the key, the IdP and the routing rule", idp is not None and kinds.get("key") in okta.state.keys
              and kinds.get("routing_rule") in okta.state.rules, kinds)
        if idp:
            p = idp["protocol"]
            check("okta-saml IdP is SAML2", idp["type"] == "SAML2", idp["type"])
            check("okta-saml sso.url is Sigil's SSO URL", p["endpoints"]["sso"]["url"] in sso_urls, (p["endpoints"]["sso"], sso_urls))
            check("okta-saml trust.issuer is Sigil's entity ID", p["credentials"]["trust"]["issuer"] == idp_entity, (p["credentials"]["trust"], idp_entity))
            kid = p["credentials"]["trust"].get("kid")
            key = okta.state.keys.get(kid) or {}
            check("okta-saml trust.kid is the uploaded key holding Sigil's certificate",
                  kid == kinds.get("key") and key.get("x5c") and base64.b64decode(key["x5c"][0]) in md_certs, (kid, kinds.get("key")))
            rule = okta.state.rules.get(kinds.get("routing_rule")) or {}
            provs = (((rule.get("actions") or {}).get("idp") or {}).get("providers") or [])
            check("okta-saml routing rule points at the IdP", any(x.get("id") == idp["id"] for x in provs) and rule.get("status") == "ACTIVE", rule)
            routed = json.dumps(okta.route_for("alice@acme.com"))
            other = json.dumps(okta.route_for("bob@other.org"))
            check("okta-saml alice@acme.com is routed to Sigil, bob@other.org is not", idp["id"] in routed and idp["id"] not in other, (routed, other))
            apps = sigil.apps() or []
            oapp = next((x for x in apps if x.get("id") == odoc.get("application_id")), None)
            audience = p["credentials"]["trust"].get("audience")
            check("okta-saml Sigil SAML app has Okta's audience as entity ID", oapp is not None and oapp.get("entity_id") == audience, (oapp, audience))
            acs = f"{okta.org_url}/sso/saml2/{idp['id']}"  # Okta's INSTANCE ACS (the fake's _links.acs)
            check("okta-saml values name Okta's ACS and audience", (odoc.get("values") or {}).get("acs_url") == acs
                  and (odoc.get("values") or {}).get("sp_entity_id") == audience, odoc.get("values"))
            shown = json.dumps(sigil.app_show(odoc.get("application_id", "-")))
            check("okta-saml Sigil app has Okta's ACS URL", acs in shown, (acs, shown[:400]))

        # ---------------------------------------------------------------- okta-idv
        r, idoc = sigil.integration("okta-idv", "--domain", og, "--api-token-stdin", secret=super_token)
        check("okta-idv exits 0", r.returncode == 0, r.stdout + r.stderr)
        idoc = idoc or {}
        ids = [o.get("id") for o in idoc.get("partner_objects") or [] if o.get("kind") == "identity_provider"]
        vidp = okta.state.idps.get(ids[0]) if ids else None
        check("okta-idv JSON names the IdP", vidp is not None, idoc)
        apps = sigil.apps() or []
        vapp = next((x for x in apps if x.get("id") == idoc.get("application_id")), None)
        if vidp:
            p = vidp["protocol"]
            ep = p["endpoints"]
            check("okta-idv IdP is IDV_STANDARD", vidp["type"] == "IDV_STANDARD", vidp["type"])
            check("okta-idv par URL is the discovery PAR endpoint", ep["par"]["url"] == disco.get("pushed_authorization_request_endpoint"),
                  (ep["par"], disco.get("pushed_authorization_request_endpoint")))
            check("okta-idv authorization URL is Sigil's /oauth2/idv-authorize", ep["authorization"]["url"] == disco.get("issuer") + "/oauth2/idv-authorize",
                  ep["authorization"])
            check("okta-idv token URL is the discovery token endpoint", ep["token"]["url"] == disco.get("token_endpoint"), ep["token"])
            check("okta-idv jwks URL is the discovery jwks_uri", ep["jwks"]["url"] == disco.get("jwks_uri"), (ep["jwks"], disco.get("jwks_uri")))
            check("okta-idv issuer is Sigil's issuer", p["issuer"]["url"] == disco.get("issuer"), (p["issuer"], disco.get("issuer")))
            check("okta-idv client_id is the Sigil app's", vapp is not None and p["credentials"]["client"]["client_id"] == vapp.get("client_id"),
                  (p["credentials"]["client"].get("client_id"), vapp))
        check("okta-idv Sigil app: require_par and Okta's redirect URI", vapp is not None and vapp.get("require_par") is True
              and okta.idv_redirect_uri in (vapp.get("redirect_uris") or []), (vapp, okta.idv_redirect_uri))

        # ---------------------------------------------------------------- refusals
        def world():
            return (len(auth0.state.connections), sum(len(v) for v in auth0.state.enabled.values()), len(okta.state.keys),
                    len(okta.state.idps), len(okta.state.rules), len(sigil.apps() or []))

        def refusal(label, sub, argv, secret, code, words=()):
            before = world()
            r, d = sigil.integration(sub, *argv, secret=secret)
            d = d or {}
            check(f"refusal {label}: non-zero exit, code {code}", r.returncode != 0 and d.get("error") == code, (r.returncode, r.stdout[-400:], r.stderr[-300:]))
            msg = d.get("message") or ""
            if words:
                check(f"refusal {label}: the message names {', '.join(words)}", all(w in msg for w in words), msg)
            after = world()
            check(f"refusal {label}: nothing new at the vendor or in Sigil", before == after, (before, after))
            return d

        auth0_args = ["--domain", a0, "--client-secret-stdin"]
        refusal("wrong Auth0 secret", "auth0-saml", auth0_args + ["--client-id", good_id, "--connection-name", "x1"], wrong_secret, "auth0_secret_wrong")
        refusal("no create:connections", "auth0-saml", auth0_args + ["--client-id", noscope_id, "--connection-name", "x2"], noscope_secret,
                "auth0_scope_missing", ("create:connections",))
        refusal("grant disabled", "auth0-social", auth0_args + ["--client-id", nogrant_id, "--connection-name", "x3"], nogrant_secret,
                "auth0_grant_disabled", ("Client Credentials",))
        refusal("connection name taken (auth0-saml)", "auth0-saml", auth0_args + ["--client-id", good_id, "--connection-name", "sigil-saml"], good_secret,
                "auth0_connection_name_taken", ("sigil-saml",))
        refusal("connection name taken (auth0-social, Sigil app undone)", "auth0-social",
                auth0_args + ["--client-id", good_id, "--connection-name", "sigil-social"], good_secret, "auth0_connection_name_taken")
        n_log = len(open(a0_log).read().splitlines())
        refusal("invalid name bad_name.x", "auth0-saml", auth0_args + ["--client-id", good_id, "--connection-name", "bad_name.x"], good_secret,
                "auth0_connection_name_invalid")
        check("refusal invalid name: Auth0 was not called", len(open(a0_log).read().splitlines()) == n_log)
        refusal("unknown client to enable", "auth0-saml", auth0_args + ["--client-id", good_id, "--connection-name", "x4", "--enable-for", "nosuchclient"],
                good_secret, "auth0_client_unknown")
        for sub in ("okta-saml", "okta-idv"):
            refusal(f"wrong Okta token ({sub})", sub, ["--domain", og, "--api-token-stdin", "--idp-name", "Wrong " + sub], wrong_token, "okta_token_invalid")
            refusal(f"read-only Okta token ({sub})", sub, ["--domain", og, "--api-token-stdin", "--idp-name", "RO " + sub], ro_token, "okta_not_admin")

        # ---------------------------------------------------------------- the vendors' first request reaches Sigil
        def accepted(resp):
            loc = resp.headers.get("Location", "")
            return resp.status_code in (200, 302, 303) and "error=" not in loc and resp.status_code < 400, (resp.status_code, loc[:200], resp.text[:200])

        try:
            req = auth0.saml_sp("sigil-saml").start(relay_state="rs")
            if "url" in req:
                resp = requests.get(req["url"], allow_redirects=False, timeout=10)
            else:
                resp = requests.post(req["action"], data=req["form"], allow_redirects=False, timeout=10)
            ok, detail = accepted(resp)
            check("first leg: Sigil accepts Auth0's AuthnRequest (to sign-in, no error)", ok, detail)
        except Exception as e:
            check("first leg: Sigil accepts Auth0's AuthnRequest (to sign-in, no error)", False, repr(e))
        try:
            rp = auth0.oauth2_rp("sigil-social")
            url, _, verifier = rp.authorization_url()
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
            check("first leg: Auth0's authorization request carries PKCE S256", verifier and q.get("code_challenge_method") == "S256", q)
            resp = requests.get(url, allow_redirects=False, timeout=10)
            ok, detail = accepted(resp)
            check("first leg: Sigil accepts Auth0's authorization request", ok and not resp.headers.get("Location", "").startswith(auth0.callback_url), detail)
        except Exception as e:
            check("first leg: Sigil accepts Auth0's authorization request", False, repr(e))
        if idp:
            try:
                req = okta.saml_sp(idp["id"]).start(relay_state="rs")
                resp = (requests.get(req["url"], allow_redirects=False, timeout=10) if "url" in req
                        else requests.post(req["action"], data=req["form"], allow_redirects=False, timeout=10))
                ok, detail = accepted(resp)
                check("first leg: Sigil accepts Okta's AuthnRequest", ok, detail)
            except Exception as e:
                check("first leg: Sigil accepts Okta's AuthnRequest", False, repr(e))
        if vidp:
            try:
                client = okta.idv_client(vidp["id"])
                pending = client.par("Anna Maria", "Eriksson", "anna@example.com")
                check("first leg: Okta's IDV PAR to Sigil answers 201 with a request_uri", getattr(pending, "request_uri", None) and not pending.reasons,
                      (pending.reasons, pending.problems))
            except Exception as e:
                check("first leg: Okta's IDV PAR to Sigil answers 201 with a request_uri", False, repr(e))

        # ---------------------------------------------------------------- the doctor, the admin API
        drift_and_repair(sigil, auth0, okta, (doc, sdoc, odoc, idoc), good_id, good_secret, super_token, portal, shop, md_certs, sso_urls, disco)
        deleted_objects(sigil, auth0, okta, a0, og, good_id, good_secret, super_token)
        unrepairable_drift(sigil, auth0, okta, a0, og, good_id, good_secret, super_token)
        admin_api_integrations(sigil, auth0, okta, a0, og, api_id, api_secret, api_token, wrong_secret, portal)
        rotation_and_repair(sigil, auth0, okta, (doc, sdoc, odoc, idoc), good_id, good_secret, super_token)
        # the repairs replaced the stored IdPs: the sign-ins below go through the repaired objects
        idp = okta.state.idps.get(idp["id"]) if idp else None
        vidp = okta.state.idps.get(vidp["id"]) if vidp else None

        # ---------------------------------------------------------------- real sign-ins through what was created (and repaired)
        real_signins(sigil, auth0, okta, disco, idp, vidp, sapp)
    except Exception:
        check("suite ran to the end", False, traceback.format_exc())
    finally:
        rc = sigil.stop()
        check("sigil serve exits 0 on SIGTERM", rc == 0, rc)
        auth0_fail, okta_fail = auth0.failures(), okta.failures()
        auth0.stop()
        okta.stop()

    # ---------------------------------------------------------------- never stored
    check("the fake Auth0 issued management tokens (the scan below has something to look for)", len(issued) >= 5, len(issued))
    needles = dict(credentials)
    for i, t in enumerate(issued):
        needles[f"issued access token #{i + 1}"] = t
        needles[f"issued access token #{i + 1} signature"] = t.rsplit(".", 1)[-1]
    haystacks = {}
    for path in sorted(glob.glob(os.path.join(sigil.data, "**", "*"), recursive=True)):
        if os.path.isfile(path):
            haystacks[os.path.relpath(path, work)] = open(path, "rb").read()
    for db in sorted(glob.glob(os.path.join(sigil.data, "*.sqlite"))):
        dump = subprocess.run(["sqlite3", db, ".dump"], capture_output=True, timeout=60) if shutil.which("sqlite3") else None
        if dump is not None:
            check(f"sqlite3 .dump of {os.path.basename(db)} works", dump.returncode == 0 and len(dump.stdout) > 1000, dump.stderr[-200:])
            haystacks[os.path.basename(db) + " (.dump)"] = dump.stdout
        else:
            import sqlite3
            haystacks[os.path.basename(db) + " (iterdump)"] = "\n".join(sqlite3.connect(db).iterdump()).encode()
    for path in (sigil.out, sigil.err, sigil.cli_log, a0_log, okta_log):
        haystacks[os.path.basename(path)] = open(path, "rb").read()
    check("never stored: the scan covers the database, its dump, the outputs and both logs",
          any(".dump" in k or "iterdump" in k for k in haystacks) and len(haystacks) >= 6, sorted(haystacks))
    for label, value in needles.items():
        hits = [name for name, data in haystacks.items() if value.encode() in data]
        if label.endswith("signature"):
            if hits:
                check(f"never stored: {label}", False, hits)
            continue
        check(f"never stored: {label}", not hits, hits)

    # ---------------------------------------------------------------- validator
    vendor_writes_logged(a0_log, okta_log)
    check("the fake Auth0 recorded no invalid request from Sigil and no bad response", not auth0_fail["request_failures"]
          and not auth0_fail["response_failures"], auth0_fail)
    check("the fake Okta recorded no invalid request from Sigil and no bad response", not okta_fail["request_failures"]
          and not okta_fail["response_failures"], okta_fail)
    v = subprocess.run([sys.executable, os.path.join(HERE, "vendor_request_validator.py"), a0_log, okta_log, "--quiet"],
                       capture_output=True, text=True, timeout=300)
    print("  validator: " + (v.stdout.strip().splitlines() or ["(no output)"])[-1], flush=True)
    check("vendor_request_validator.py: every request Sigil sent validates against the vendor documents", v.returncode == 0,
          v.stdout[-1500:] + v.stderr[-500:])

    if args.keep:
        print(f"  work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
