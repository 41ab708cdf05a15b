#!/usr/bin/env python3
"""Interop: Sigil's SAML IdP against pysaml2 (a real SP library; signatures checked by xmlsec1).

Starts the real `sigil serve`, enrols the first administrator in headless Chromium with the
WebAuthn virtual authenticator, registers pysaml2 service providers with `sigil app create-saml`
(one from its generated metadata, one shaped like Auth0, one like Okta), then runs SSO through
the browser: SP-initiated over HTTP-Redirect and HTTP-POST (signed AuthnRequests where the SP
signs), a fresh sign-in through the hosted login that resumes the pending request, IdP-initiated
SSO, and single logout. The SPs' ACS is a tiny local HTTP server; each SAMLResponse posted there
goes to pysaml2's `parse_authn_request_response` (signature, audience, InResponseTo, Destination,
Recipient, time conditions), then NameID and attributes are checked.

    /opt/peers-venv/bin/python interop/saml_sp.py [--sigil .build/debug/sigil] [--artifacts DIR]

Needs chromium, chromium-driver, xmlsec1 and `pip install selenium requests pysaml2`.
Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if anything failed.
"""
import base64, json, os, shutil, signal, subprocess, sys, threading, time, urllib.parse, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from passkey_signin import check, finish, free_port, launch, make_driver, wait_path, enrol_first_admin, RESULTS, audit_events  # noqa: E402

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
import requests
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, xmldsig
from saml2.samlp import STATUS_SUCCESS
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED

XMLSEC = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"


class ACS:
    """The SPs' web side: serves start pages (an SP's POST-binding form) and receives responses."""

    def __init__(self):
        self.received = []  # (path, form)
        self.pages = {}  # path -> html
        self.handlers = {}  # path -> function(form) -> html (an SP answering a message through the browser)
        # path -> function(raw query) -> ("redirect", url) or html: an SP endpoint taking the HTTP-Redirect binding
        self.get_handlers = {}
        self.get_received = []  # (path, raw query)
        self.event = threading.Condition()
        acs = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                path, _, query = self.path.partition("?")
                handler = acs.get_handlers.get(path)
                if handler:
                    try:
                        result = handler(query)
                    except Exception as error:  # the check that called it reports it
                        result = f"<html><body><h1 id='get-handler-error'>{error!r}</h1></body></html>"
                    with acs.event:
                        acs.get_received.append((path, query))
                        acs.event.notify_all()
                    if isinstance(result, tuple) and result[0] == "redirect":
                        self.send_response(302)
                        self.send_header("Location", result[1])
                        self.end_headers()
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.end_headers()
                    self.wfile.write(result.encode())
                    return
                page = acs.pages.get(path)
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((page or "not found").encode())

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
                page = b"<html><body><h1 id='acs-done'>SP received the response</h1></body></html>"
                handler = acs.handlers.get(self.path.split("?")[0])
                if handler:
                    try:
                        page = handler(form).encode()
                    except Exception as error:  # the check that called it reports it
                        form = dict(form, handler_error=repr(error))
                with acs.event:
                    acs.received.append((self.path, form))
                    acs.event.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(page)

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.port}"

    def wait(self, count, timeout=30):
        with self.event:
            self.event.wait_for(lambda: len(self.received) >= count, timeout=timeout)
        return self.received[count - 1] if len(self.received) >= count else None


def make_keypair(directory, name):
    key, cert = os.path.join(directory, f"{name}.key"), os.path.join(directory, f"{name}.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", f"/CN={name}"], check=True, capture_output=True)
    return key, cert


def sp_client(work, idp_metadata, entity_id, acs_url, slo_url=None, sign_requests=False, name="sp", name_id_format=None):
    key, cert = make_keypair(work, name)
    sp = {
        "endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]},
        "allow_unsolicited": True,
        "authn_requests_signed": sign_requests,
        "want_response_signed": True,
        "want_assertions_signed": True,
        "signing_algorithm": xmldsig.SIG_RSA_SHA256,
        "digest_algorithm": xmldsig.DIGEST_SHA256,
    }
    if slo_url:
        sp["endpoints"]["single_logout_service"] = [(slo_url, BINDING_HTTP_POST)]
    if name_id_format:
        sp["name_id_format"] = [name_id_format]
    conf = SPConfig()
    conf.load({
        "entityid": entity_id, "service": {"sp": sp}, "key_file": key, "cert_file": cert, "xmlsec_binary": XMLSEC,
        "metadata": {"local": [idp_metadata]}, "accepted_time_diff": 60,
        # Okta-style names (email, firstName, session.amr) are in no pysaml2 attribute map.
        "allow_unknown_attributes": True,
    })
    return Saml2Client(conf), conf, cert


def cli(binary, work, *args):
    r = subprocess.run([binary, *args, "--data-dir", os.path.join(work, "data")], capture_output=True, text=True)
    return r


def post_form_page(action, fields):
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    return f'<html><body><form id="f" method="post" action="{action}">{inputs}<button id="go">go</button></form>' \
           '<script>document.getElementById("f").submit()</script></body></html>'


def main():
    binary, work, artifacts, port, base, proc, link = launch("sigil-saml-")
    idp_entity = base + "/saml/metadata"
    acs = ACS()
    driver = None
    try:
        if not check("sigil serve printed an enrolment link", bool(link)):
            return
        driver, authenticator = enrol_first_admin(link, "ada@example.com", "Ada", "Lovelace")
        check("first administrator enrolled with a virtual passkey", True)

        # --- IdP metadata, as pysaml2 loads it ---
        r = requests.get(idp_entity, timeout=10)
        check("GET /saml/metadata serves metadata", r.status_code == 200 and "IDPSSODescriptor" in r.text, str(r.status_code))
        idp_metadata = os.path.join(work, "idp.xml")
        with open(idp_metadata, "w") as f:
            f.write(r.text)
        signed_meta = os.path.join(work, "idp-signed.xml")
        with open(signed_meta, "w") as f:
            f.write(requests.get(idp_entity + "?signed=1", timeout=10).text)
        pem = requests.get(base + "/saml/certificate.pem", timeout=10).text
        with open(os.path.join(work, "idp.pem"), "w") as f:
            f.write(pem)
        v = subprocess.run([XMLSEC, "--verify", "--pubkey-cert-pem", os.path.join(work, "idp.pem"), "--id-attr:ID",
                            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor", signed_meta], capture_output=True, text=True)
        check("xmlsec1 verifies the signed metadata", v.returncode == 0, v.stderr[-300:])

        # --- SP 1: a pysaml2 SP registered from its own metadata; signs its AuthnRequests ---
        generic, generic_conf, _ = sp_client(work, idp_metadata, acs.base + "/sp/metadata", acs.base + "/acs",
                                             slo_url=acs.base + "/slo", sign_requests=True, name="generic",
                                             name_id_format=NAMEID_FORMAT_EMAILADDRESS)
        sp_meta = os.path.join(work, "sp.xml")
        with open(sp_meta, "w") as f:
            f.write(str(entity_descriptor(generic_conf)))
        r = cli(binary, work, "app", "create-saml", "--tenant", "default", "--metadata", sp_meta, "--json")
        ok = r.returncode == 0
        created = json.loads(r.stdout) if ok else {}
        check("sigil app create-saml --metadata registers the pysaml2 SP", ok and created.get("entity_id") == acs.base + "/sp/metadata",
              r.stdout + r.stderr)
        check("the SP's metadata asked for signed requests and Sigil requires them", created.get("require_signed_requests") is True, str(created))

        def complete(client, received_count, outstanding, label, expect_name_id=None, expect_attrs=None):
            got = acs.wait(received_count)
            if not check(f"{label}: the browser posted a SAMLResponse to the ACS", got is not None and "SAMLResponse" in got[1],
                         driver.current_url + " " + driver.page_source[:400]):
                return None
            path, form = got
            try:
                resp = client.parse_authn_request_response(form["SAMLResponse"], BINDING_HTTP_POST, outstanding=outstanding)
            except Exception as error:
                check(f"{label}: pysaml2 accepts the response (xmlsec1 signature, audience, InResponseTo)", False, repr(error))
                return None
            check(f"{label}: pysaml2 accepts the response (xmlsec1 signature, audience, InResponseTo)", resp is not None)
            if resp is None:
                return None
            identity = resp.get_identity()
            name_id = resp.get_subject().text
            if expect_name_id is not None:
                check(f"{label}: NameID", name_id == expect_name_id, name_id)
            for k, want in (expect_attrs or {}).items():
                check(f"{label}: attribute {k}", identity.get(k) == want, json.dumps(identity))
            return resp, form, path

        # SP-initiated, HTTP-Redirect, signed request; the browser is signed in.
        reqid, info = generic.prepare_for_authenticate(entityid=idp_entity, relay_state="/after-redirect",
                                                       binding=BINDING_HTTP_REDIRECT, sigalg=xmldsig.SIG_RSA_SHA256)
        location = dict(info["headers"])["Location"]
        check("pysaml2 signed its Redirect AuthnRequest (SigAlg rsa-sha256)", "Signature=" in location and "rsa-sha256" in urllib.parse.unquote(location))
        driver.get(location)
        out = complete(generic, 1, {reqid: "/"}, "Redirect binding", "ada@example.com",
                       {"email": ["ada@example.com"], "firstName": ["Ada"], "lastName": ["Lovelace"]})
        if out:
            resp, form, _ = out
            check("Redirect binding: RelayState comes back", form.get("RelayState") == "/after-redirect", str(form.get("RelayState")))
            amr = resp.get_identity().get("session.amr") or []
            check("Redirect binding: session.amr is multi-valued and has the passkey methods", len(amr) > 1 and "user" in amr, str(amr))
            check("Redirect binding: InResponseTo matched", resp.in_response_to == reqid, str(resp.in_response_to))
            classes = [str(a.authn_context.authn_context_class_ref.text) for a in resp.assertion.authn_statement]
            check("Redirect binding: AuthnContextClassRef is not PasswordProtectedTransport",
                  classes and "PasswordProtectedTransport" not in classes[0], str(classes))

        # SP-initiated, HTTP-POST binding, signed (enveloped) request; cross-site POST, so Sigil
        # sends the browser through /login (which sees the session) and resumes.
        reqid2, info2 = generic.prepare_for_authenticate(entityid=idp_entity, relay_state="/after-post", binding=BINDING_HTTP_POST,
                                                         sign=True, sigalg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256)
        html = info2["data"]
        acs.pages["/start-post"] = html if "<form" in html else post_form_page(base + "/saml/sso", {})
        driver.get(acs.base + "/start-post")
        out = complete(generic, 2, {reqid2: "/"}, "POST binding", "ada@example.com", {"email": ["ada@example.com"]})
        if out:
            check("POST binding: RelayState comes back", out[1].get("RelayState") == "/after-post", str(out[1].get("RelayState")))

        # A replayed AuthnRequest (same signed Redirect URL) is answered with a SAML error status.
        driver.get(location)
        got = acs.wait(3)
        replay_ok = False
        if got:
            xml = base64.b64decode(got[1]["SAMLResponse"]).decode()
            replay_ok = "RequestDenied" in xml and "<saml:Assertion" not in xml
        check("a replayed AuthnRequest gets Requester/RequestDenied and no assertion", replay_ok)

        # Fresh browser (no session): SP-initiated lands on /login, the passkey signs in, and the
        # pending request resumes to the ACS.
        driver.get(base + "/healthz")
        driver.delete_all_cookies()  # Sigil's cookies: the driver must be on Sigil's origin
        reqid3, info3 = generic.prepare_for_authenticate(entityid=idp_entity, relay_state="/fresh", binding=BINDING_HTTP_REDIRECT,
                                                         sigalg=xmldsig.SIG_RSA_SHA256)
        driver.get(dict(info3["headers"])["Location"])
        try:
            WebDriverWait(driver, 20).until(lambda d: "/login" in d.current_url or "acs-done" in d.page_source)
            if "/login" in driver.current_url:
                check("signed out: SSO sends the browser to the hosted login", True)
                try:
                    driver.find_element(By.ID, "passkey-button").click()
                except Exception:
                    pass  # conditional mediation may already be signing in
        except Exception:
            check("signed out: SSO sends the browser to the hosted login", False, driver.current_url)
        complete(generic, 4, {reqid3: "/"}, "after a passkey sign-in", "ada@example.com")

        # IdP-initiated (unsolicited) to the generic SP.
        driver.get(base + "/saml/idp-initiated?sp=" + urllib.parse.quote(acs.base + "/sp/metadata", safe="") + "&RelayState=home")
        out = complete(generic, 5, {}, "IdP-initiated", "ada@example.com")
        if out:
            check("IdP-initiated: no InResponseTo", out[0].in_response_to is None, str(out[0].in_response_to))

        # --- SP 2: shaped like Auth0 (urn:auth0:{tenant}:{connection}, ACS with ?connection=, unspecified NameID) ---
        auth0_entity = "urn:auth0:sigil-interop:sigil-saml"
        auth0_acs = acs.base + "/login/callback?connection=sigil-saml"
        auth0, _, _ = sp_client(work, idp_metadata, auth0_entity, auth0_acs, name="auth0", name_id_format=NAMEID_FORMAT_UNSPECIFIED)
        r = cli(binary, work, "app", "create-saml", "--tenant", "default", "--entity-id", auth0_entity, "--acs-url", auth0_acs,
                "--name-id-format", "unspecified", "--json")
        check("Auth0-shaped SP registered with --entity-id/--acs-url", r.returncode == 0, r.stdout + r.stderr)
        reqid4, info4 = auth0.prepare_for_authenticate(entityid=idp_entity, relay_state="auth0-state", binding=BINDING_HTTP_REDIRECT)
        driver.get(dict(info4["headers"])["Location"])
        out = complete(auth0, 6, {reqid4: "/"}, "Auth0-shaped SP", "ada@example.com")
        if out:
            check("Auth0-shaped SP: posted to the exact ACS with ?connection=", out[2] == "/login/callback?connection=sigil-saml", out[2])
            xml = base64.b64decode(out[1]["SAMLResponse"]).decode()
            check("Auth0-shaped SP: Destination and Recipient are the exact ACS",
                  xml.count('="' + auth0_acs.replace("&", "&amp;") + '"') >= 2, xml[:300])
            check("Auth0-shaped SP: Audience is urn:auth0:{tenant}:{connection}", f"<saml:Audience>{auth0_entity}</saml:Audience>" in xml)

        # --- SP 3: shaped like Okta (ACS /sso/saml2/{id}, audience https://www.okta.com/saml2/service-provider/…,
        # signed requests over HTTP-POST, email/firstName/lastName + session.amr) ---
        okta_entity = "https://www.okta.com/saml2/service-provider/spsigilinteroptest01"
        okta_acs = acs.base + "/sso/saml2/0oasigilinterop01"
        okta, _, okta_cert = sp_client(work, idp_metadata, okta_entity, okta_acs, sign_requests=True, name="okta",
                                       name_id_format=NAMEID_FORMAT_EMAILADDRESS)
        r = cli(binary, work, "app", "create-saml", "--tenant", "default", "--entity-id", okta_entity, "--acs-url", okta_acs,
                "--certificate", okta_cert, "--require-signed-requests", "--json")
        check("Okta-shaped SP registered with its certificate, signed requests required", r.returncode == 0, r.stdout + r.stderr)
        reqid5, info5 = okta.prepare_for_authenticate(entityid=idp_entity, relay_state="okta-state", binding=BINDING_HTTP_POST,
                                                      sign=True, sigalg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256)
        acs.pages["/start-okta"] = info5["data"]
        driver.get(acs.base + "/start-okta")
        complete(okta, 7, {reqid5: "/"}, "Okta-shaped SP", "ada@example.com",
                 {"email": ["ada@example.com"], "firstName": ["Ada"], "lastName": ["Lovelace"]})
        # Unsigned request to the Okta-shaped SP: refused with a status, no assertion.
        reqid6, info6 = okta.prepare_for_authenticate(entityid=idp_entity, binding=BINDING_HTTP_REDIRECT, sign=False)
        driver.get(dict(info6["headers"])["Location"])
        check("an unsigned request to an SP that must sign gets an error page, nothing is posted",
              "must sign its requests" in driver.page_source and len(acs.received) == 7, driver.page_source[:300])

        # Unknown SP: an error page at the IdP, nothing posted anywhere.
        stranger, _, _ = sp_client(work, idp_metadata, "https://stranger.example/sp", acs.base + "/stranger", name="stranger")
        _, info7 = stranger.prepare_for_authenticate(entityid=idp_entity, binding=BINDING_HTTP_REDIRECT)
        driver.get(dict(info7["headers"])["Location"])
        check("an unregistered SP gets an error page at the IdP", "refused" in driver.page_source and len(acs.received) == 7,
              driver.page_source[:300])

        # --- single logout (SAML profiles §4.4): two pysaml2 SPs signed in in one browser session,
        # SP-initiated logout from one (HTTP-Redirect, then HTTP-POST); Sigil verifies it, ends its
        # session, sends the other SP a signed LogoutRequest through the browser, collects its
        # signed LogoutResponse and answers the initiator with a signed LogoutResponse. ---
        other, other_conf, _ = sp_client(work, idp_metadata, acs.base + "/sp2/metadata", acs.base + "/acs2",
                                         slo_url=acs.base + "/slo2", sign_requests=True, name="other",
                                         name_id_format=NAMEID_FORMAT_EMAILADDRESS)
        other_meta = os.path.join(work, "sp2.xml")
        with open(other_meta, "w") as f:
            f.write(str(entity_descriptor(other_conf)))
        r = cli(binary, work, "app", "create-saml", "--tenant", "default", "--metadata", other_meta, "--json")
        check("a second pysaml2 SP with a logout URL registered from its metadata",
              r.returncode == 0 and json.loads(r.stdout or "{}").get("slo_url") == acs.base + "/slo2", r.stdout + r.stderr)
        idp_pem = os.path.join(work, "idp.pem")

        def xmlsec_verify(xml_text, element):
            path = os.path.join(work, f"msg-{time.time_ns()}.xml")
            with open(path, "w") as f:
                f.write(xml_text)
            v = subprocess.run([XMLSEC, "--verify", "--pubkey-cert-pem", idp_pem, "--id-attr:ID",
                                f"urn:oasis:names:tc:SAML:2.0:protocol:{element}", path], capture_output=True, text=True)
            return v.returncode == 0, v.stderr[-300:]

        other_seen = {}

        def other_slo(form):
            # The other SP's logout endpoint: check the IdP's LogoutRequest, log out, answer signed.
            xml = base64.b64decode(form["SAMLRequest"]).decode()
            other_seen["xmlsec"] = xmlsec_verify(xml, "LogoutRequest")
            req = other.parse_logout_request(form["SAMLRequest"], BINDING_HTTP_POST)
            other_seen["signed"] = req is not None and req.message.signature is not None
            other_seen["name_id"] = req.message.name_id.text if req else None
            other_seen["session_index"] = [i.text for i in req.message.session_index] if req else None
            subjects = other.users.subjects()
            answer = other.handle_logout_request(form["SAMLRequest"], subjects[0], BINDING_HTTP_POST, sign=True,
                                                 sign_alg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256,
                                                 relay_state=form.get("RelayState"))
            other_seen["logged_out_locally"] = other.users.subjects() == []
            return answer["data"]

        acs.handlers["/slo2"] = other_slo

        def cookie():
            if not driver.current_url.startswith(base):
                driver.get(base + "/healthz")  # cookies are read per site
            c = driver.get_cookie("sigil_session_default")
            return {"sigil_session_default": c["value"]} if c else {}

        def idp_signed_in(cookies=None):
            r = requests.get(base + "/account", cookies=cookies if cookies is not None else cookie(), allow_redirects=False, timeout=10)
            return r.status_code == 200

        def fresh_session_with_both(label):
            driver.get(base + "/healthz")
            driver.delete_all_cookies()
            n = len(acs.received)
            rid, info = other.prepare_for_authenticate(entityid=idp_entity, binding=BINDING_HTTP_REDIRECT, sigalg=xmldsig.SIG_RSA_SHA256)
            driver.get(dict(info["headers"])["Location"])
            try:
                WebDriverWait(driver, 20).until(lambda d: "/login" in d.current_url or "acs-done" in d.page_source)
                if "/login" in driver.current_url:
                    try:
                        driver.find_element(By.ID, "passkey-button").click()
                    except Exception:
                        pass
            except Exception:
                pass
            complete(other, n + 1, {rid: "/"}, f"{label}: sign-in to the second SP", "ada@example.com")
            n = len(acs.received)
            rid, info = generic.prepare_for_authenticate(entityid=idp_entity, binding=BINDING_HTTP_REDIRECT, sigalg=xmldsig.SIG_RSA_SHA256)
            driver.get(dict(info["headers"])["Location"])
            complete(generic, n + 1, {rid: "/"}, f"{label}: sign-in to the first SP in the same browser session", "ada@example.com")
            check(f"{label}: both SPs hold a session for the user", bool(other.users.subjects()) and bool(generic.users.subjects()))

        def start_logout(client, binding, sign=True, name_id=None):
            name_id = name_id or client.users.subjects()[0]
            before = set(client.state.keys())
            out = client.do_logout(name_id, [idp_entity], reason="", expire=None, sign=sign, expected_binding=binding,
                                   sign_alg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256)
            req_id = next(iter(set(client.state.keys()) - before), None)
            _, http_info = out[idp_entity]
            if binding == BINDING_HTTP_REDIRECT:
                driver.get(dict(http_info["headers"])["Location"])
            else:
                acs.pages["/start-slo"] = http_info["data"]
                driver.get(acs.base + "/start-slo")
            return req_id

        for binding, label in ((BINDING_HTTP_REDIRECT, "SLO over HTTP-Redirect"), (BINDING_HTTP_POST, "SLO over HTTP-POST")):
            fresh_session_with_both(label)
            # Refused first: an unsigned LogoutRequest, and one signed with a key Sigil does not know.
            start_logout(generic, binding, sign=False)
            WebDriverWait(driver, 15).until(lambda d: "refused" in d.page_source or "acs-done" in d.page_source)
            check(f"{label}: an unsigned LogoutRequest gets an error page and the session stays signed in",
                  "refused" in driver.page_source and idp_signed_in(), driver.page_source[:300])
            forger, _, _ = sp_client(work, idp_metadata, acs.base + "/sp/metadata", acs.base + "/acs", name="forger")
            start_logout(forger, binding, sign=True, name_id=generic.users.subjects()[0])
            WebDriverWait(driver, 15).until(lambda d: "refused" in d.page_source or "acs-done" in d.page_source)
            check(f"{label}: a LogoutRequest signed with another key gets an error page and the session stays signed in",
                  "refused" in driver.page_source and idp_signed_in(), driver.page_source[:300])
            # The real one.
            session_cookie = cookie()
            check(f"{label}: still signed in at Sigil before the real logout", bool(session_cookie) and idp_signed_in(session_cookie))
            other_seen.clear()
            n = len(acs.received)
            req_id = start_logout(generic, binding, sign=True)
            got = acs.wait(n + 2, timeout=30)  # the other SP's /slo2, then the initiator's /slo
            posts = acs.received[n:]
            to_other = next((f for p, f in posts if p == "/slo2"), None)
            check(f"{label}: the other SP received a LogoutRequest through the browser", to_other is not None and "SAMLRequest" in to_other,
                  str([p for p, _ in posts]) + " " + driver.current_url + " " + driver.page_source[:300])
            if to_other is not None:
                check(f"{label}: the other SP's handler ran", "handler_error" not in to_other, to_other.get("handler_error", ""))
                check(f"{label}: xmlsec1 verifies the IdP's LogoutRequest signature", other_seen.get("xmlsec", (False,))[0],
                      str(other_seen.get("xmlsec")))
                check(f"{label}: pysaml2 accepts the signed LogoutRequest", other_seen.get("signed") is True, str(other_seen))
                check(f"{label}: the LogoutRequest names the user and the other SP's SessionIndex",
                      other_seen.get("name_id") == "ada@example.com" and bool(other_seen.get("session_index")), str(other_seen))
                check(f"{label}: the other SP logged the user out", other_seen.get("logged_out_locally") is True, str(other_seen))
            final = next((f for p, f in posts if p == "/slo"), None)
            check(f"{label}: the initiator received a LogoutResponse", got is not None and final is not None and "SAMLResponse" in final,
                  str([p for p, _ in posts]))
            if final is not None and "SAMLResponse" in final:
                xml = base64.b64decode(final["SAMLResponse"]).decode()
                ok, why = xmlsec_verify(xml, "LogoutResponse")
                check(f"{label}: xmlsec1 verifies the IdP's LogoutResponse signature", ok, why)
                try:
                    resp = generic.parse_logout_request_response(final["SAMLResponse"], BINDING_HTTP_POST)
                except Exception as error:
                    resp = None
                    check(f"{label}: pysaml2 accepts the LogoutResponse", False, repr(error))
                if resp is not None:
                    check(f"{label}: the LogoutResponse answers the initiator's request (InResponseTo)", resp.in_response_to == req_id,
                          f"{resp.in_response_to} != {req_id}")
                    check(f"{label}: status Success (every SP confirmed)", resp.response.status.status_code.value == STATUS_SUCCESS
                          and resp.response.status.status_code.status_code is None, str(resp.response.status))
                    generic.handle_logout_response(resp)
                    check(f"{label}: the initiating SP logged the user out", generic.users.subjects() == [], str(generic.users.subjects()))
            check(f"{label}: Sigil's session ended (its cookie no longer works)", not idp_signed_in(session_cookie))
        # --- the audit log saw it ---
        token = cli(binary, work, "admin", "token", "create").stdout.strip()
        events = audit_events(base, token)
        actions = [e["action"] for e in events]
        for action in ("saml.sso.responded", "saml.sso.rejected", "saml.slo", "saml.slo.rejected", "saml.slo.propagated"):
            check(f"audit log has {action}", action in actions, ",".join(sorted(set(actions))))
    except Exception as error:
        import traceback
        traceback.print_exc()
        check("the flow ran to the end", False, repr(error))
        if driver:
            driver.save_screenshot(os.path.join(artifacts, "saml-failure.png"))
            print("page at failure:", driver.current_url, driver.page_source[:1500])
    finally:
        if driver:
            driver.quit()
        acs.server.shutdown()
        finish(proc, work, artifacts)


if __name__ == "__main__":
    main()
