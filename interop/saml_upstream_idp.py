#!/usr/bin/env python3
"""An Okta-shaped SAML 2.0 identity provider on pysaml2's IdP role (saml2.server.Server, xmlsec1),
for testing Sigil as a SAML service provider (issue 12: upstream IdPs).

Shaped the way Okta's IdP behaves (docs: /work/shared/reference/protocols.md §5, §7):
  * entity ID `http://www.okta.com/{app}`, metadata at `/app/{app}/sso/saml/metadata`: one
    KeyDescriptor use="signing" (two during a certificate rollover), NameIDFormat emailAddress and
    unspecified, SingleSignOnService HTTP-POST and HTTP-Redirect at `/app/{app}/sso/saml`,
    SingleLogoutService;
  * signed Response and signed Assertion (RSA-SHA256, SHA-256 digests), NameID format
    emailAddress, attributes `email`, `firstName`, `lastName` with the Basic name format.
A login page at the SSO endpoint asks for a username (no password: this is a test IdP) and maps it
through a small user table. Every AuthnRequest must be signed by the SP: over HTTP-Redirect the
signature is checked over the query exactly as received (SAML bindings §3.4.4.1), over HTTP-POST
the enveloped signature by pysaml2/xmlsec1, with the SP's signing certificates from its metadata,
which is fetched from the SP's metadata URL (`trust_sp`) on every request. The response goes to
the AssertionConsumerServiceURL of the request only if the SP's metadata lists it for HTTP-POST,
through an auto-submitting form. `sso_bindings`/`slo_bindings` choose what metadata offers
(default both; HTTP-POST only for SLO makes the IdP send its own logout messages over HTTP-POST,
enveloped-signed, in auto-submitting forms). Over HTTP-POST the AuthnRequest must carry an enveloped
ds:Signature whose Reference is its ID, verified with xmlsec1 and then pysaml2.

Encryption (`encrypt_for_sp`): the assertion signed, then encrypted for the SP's metadata
certificate use="encryption" by pysaml2's encrypt_assertion (xmlsec1 with a template: content
aes128/192/256-cbc, aes128/192/256-gcm or tripledes-cbc, key transport rsa-oaep-mgf1p or rsa-1_5),
then the Response signed or not; optionally the NameID in a saml:EncryptedID (lxml and
saml_acs_attacks.encrypt_in_place, since pysaml2 cannot), with a NameID other than the email
(`name_id` in the user table).

Single logout (SAML profiles §4.4) at `/app/{app}/slo/saml`, both ways:
  * IdP-initiated: `logout_request_url` builds a LogoutRequest (NameID, the SessionIndex this IdP
    issued) with pysaml2's `create_logout_request`, signed over the query (HTTP-Redirect, RSA-SHA256)
    by `apply_binding`, for the SP's SingleLogoutService from its metadata; the browser starts at
    `/app/{app}/slo/saml/initiate?id=…`. The SP's LogoutResponse comes back to the SLO endpoint, its
    signature is checked over the raw query (or enveloped, over HTTP-POST) with the SP's signing
    certificates from its metadata, and it is recorded (`logout_responses`).
  * SP-initiated: a LogoutRequest arriving at the SLO endpoint is checked the same way, recorded
    (`logout_requests`) and answered with a signed LogoutResponse (HTTP-Redirect, RelayState
    echoed) to the SP's SingleLogoutService.

The self-test also runs an HTTP-POST-only IdP against a pysaml2 SP with an encryption key: POST
AuthnRequests (unsigned or changed ones refused), encrypted assertions and EncryptedIDs that
libxmlsec1 and pysaml2 decrypt with valid signatures inside, single logout over HTTP-POST both ways.

    /opt/peers-venv/bin/python interop/saml_upstream_idp.py --self-test   # against pysaml2's SP role
    /opt/peers-venv/bin/python interop/saml_upstream_idp.py --serve [--port P]   # run it by hand
"""
import argparse, base64, html, json, os, secrets, subprocess, sys, tempfile, threading, time, types, urllib.parse, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import logging
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, xmldsig
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.samlp import logout_request_from_string
from saml2.server import Server
from saml2.authn_context import PASSWORDPROTECTEDTRANSPORT

logging.getLogger("saml2").setLevel(logging.CRITICAL)

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
P = "urn:oasis:names:tc:SAML:2.0:protocol"
A = "urn:oasis:names:tc:SAML:2.0:assertion"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
HERE = os.path.dirname(os.path.abspath(__file__))

USERS = {
    "alice": {"email": "alice@example.org", "firstName": "Alice", "lastName": "Liddell"},
    "bob": {"email": "bob@example.org", "firstName": "Bob", "lastName": "Builder"},
    "carol": {"email": "carol@example.org", "firstName": "Carol", "lastName": "Danvers"},
}

# Okta's attribute names with the Basic name format, and nothing else (pysaml2's own maps would
# rename them to URNs).
ATTRIBUTE_MAP = '''MAP = {
    "identifier": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
    "fro": {"email": "email", "firstName": "firstName", "lastName": "lastName"},
    "to": {"email": "email", "firstName": "firstName", "lastName": "lastName"},
}
'''



def serve_document(port, body, content_type):
    """Serves `body` on every GET to 127.0.0.1:port (an SP's metadata for the self-tests); returns the server."""
    class Document(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.end_headers()
            self.wfile.write(body)
    server = ThreadingHTTPServer(("127.0.0.1", port), Document)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_keypair(directory, name, days=2):
    key, cert = os.path.join(directory, f"{name}.key"), os.path.join(directory, f"{name}.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", str(days),
                    "-subj", f"/CN={name}"], check=True, capture_output=True)
    return key, cert


def cert_body(cert_path):
    with open(cert_path) as f:
        return "".join(f.read().split("-----")[2].split())


def cert_sha256(cert_path):
    with open(cert_path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).fingerprint(hashes.SHA256()).hex()


def auto_post_page(action, fields):
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>' for k, v in fields.items())
    # Okta's page: a form submitted on load, with a button for browsers without JavaScript.
    return (f'<!DOCTYPE html><html><head><title>Redirecting</title></head><body onload="document.forms[0].submit()">'
            f'<form id="appForm" method="POST" action="{html.escape(action)}">{inputs}'
            f'<noscript><button type="submit">Continue</button></noscript></form></body></html>')


class OktaShapedIdP:
    def __init__(self, work, users=None, app="exk1sigil", port=None, sso_bindings=(BINDING_HTTP_POST, BINDING_HTTP_REDIRECT),
                 slo_bindings=(BINDING_HTTP_POST, BINDING_HTTP_REDIRECT)):
        self.work = work
        self.sso_bindings = tuple(sso_bindings)  # what metadata offers (the endpoint takes both)
        self.slo_bindings = tuple(slo_bindings)  # what metadata offers; POST only: the IdP also sends over POST
        self.encrypt_for = {}  # SP entity ID -> encryption settings (encrypt_for_sp)
        self.users = dict(users or USERS)
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.entity_id = f"http://www.okta.com/{app}"
        self.sso_path = f"/app/{app}/sso/saml"
        self.metadata_path = f"/app/{app}/sso/saml/metadata"
        self.slo_path = f"/app/{app}/slo/saml"
        self.keys = [make_keypair(work, f"okta-{app}-1")]
        self.metadata_keys = [0]  # which keys metadata publishes
        self.signing_key = 0  # which key signs
        self.sp_metadata_urls = []
        self.pending = {}  # key -> request context
        self.requests = []  # every AuthnRequest received: dict of what it said and how it was checked
        self.responses = []  # every Response sent: dict(request_id, acs, xml, user)
        self.errors = []  # every request refused: text
        self.logout_requests = []  # every LogoutRequest received at the SLO endpoint (SP-initiated): dict
        self.logout_responses = []  # every LogoutResponse received at the SLO endpoint: dict
        self.logout_sent = {}  # request ID -> dict(url, name_id, session_index, relay_state, sp) of IdP-initiated requests
        self.lock = threading.Lock()
        idp = self
        with open(os.path.join(work, "okta_attributes.py"), "w") as f:
            f.write(ATTRIBUTE_MAP)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def send(self, status, body, ctype="text/html; charset=utf-8"):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def answer(self, result):
                """(status, html) or ("redirect", url)."""
                if result[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", result[1])
                    self.send_header("Cache-Control", "no-store")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send(*result)

            def do_GET(self):
                path, _, query = self.path.partition("?")
                try:
                    if path == idp.metadata_path:
                        return self.send(200, idp.metadata(), "application/samlmetadata+xml")
                    if path == idp.sso_path:
                        return self.send(*idp.sso(BINDING_HTTP_REDIRECT, query, None))
                    if path == idp.slo_path:
                        return self.answer(idp.slo(BINDING_HTTP_REDIRECT, query, None))
                    if path == idp.slo_path + "/initiate":
                        rid = urllib.parse.parse_qs(query).get("id", [""])[0]
                        if rid not in idp.logout_sent:
                            return self.send(404, "no such logout")
                        sent = idp.logout_sent[rid]
                        if sent.get("fields"):  # HTTP-POST: the browser carries it in an auto-submitting form
                            return self.send(200, auto_post_page(sent["url"], sent["fields"]))
                        return self.answer(("redirect", sent["url"]))
                    self.send(404, "not found")
                except Exception as error:  # noqa: BLE001 - an IdP error page, recorded
                    idp.errors.append(repr(error))
                    self.send(500, f"<html><body><h1 id='idp-error'>{html.escape(repr(error))}</h1></body></html>")

            def do_POST(self):
                path = self.path.split("?")[0]
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
                try:
                    if path == idp.sso_path:
                        return self.send(*idp.sso(BINDING_HTTP_POST, None, form))
                    if path == idp.sso_path + "/login":
                        return self.send(*idp.login(form))
                    if path == idp.slo_path:
                        return self.answer(idp.slo(BINDING_HTTP_POST, None, form))
                    self.send(404, "not found")
                except Exception as error:  # noqa: BLE001
                    idp.errors.append(repr(error))
                    self.send(500, f"<html><body><h1 id='idp-error'>{html.escape(repr(error))}</h1></body></html>")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # --- configuration the tests change -------------------------------------------------------------
    @property
    def metadata_url(self):
        return self.base + self.metadata_path

    @property
    def sso_url(self):
        return self.base + self.sso_path

    @property
    def slo_url(self):
        return self.base + self.slo_path

    @property
    def key(self):
        return self.keys[self.signing_key][0]

    @property
    def cert(self):
        return self.keys[self.signing_key][1]

    def trust_sp(self, metadata_url):
        if metadata_url not in self.sp_metadata_urls:
            self.sp_metadata_urls.append(metadata_url)

    def distrust_sp(self, metadata_url):
        """Forgets an SP (its metadata is fetched on every request: a deleted SP's would fail)."""
        if metadata_url in self.sp_metadata_urls:
            self.sp_metadata_urls.remove(metadata_url)

    def fingerprints(self, which=None):
        return [cert_sha256(self.keys[i][1]) for i in (which if which is not None else self.metadata_keys)]

    def begin_rollover(self):
        """Publishes a second signing certificate; still signs with the old one."""
        self.keys.append(make_keypair(self.work, f"okta-{self.app}-{len(self.keys) + 1}"))
        self.metadata_keys = [self.signing_key, len(self.keys) - 1]
        return self.keys[-1]

    def sign_with_new(self):
        self.signing_key = len(self.keys) - 1

    def finish_rollover(self):
        """Only the new certificate stays in metadata."""
        self.metadata_keys = [self.signing_key]

    def shutdown(self):
        self.server.shutdown()

    # --- metadata -----------------------------------------------------------------------------------
    def metadata(self):
        keys = "".join(
            f'<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{DS}"><ds:X509Data><ds:X509Certificate>'
            f'{cert_body(self.keys[i][1])}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
            for i in self.metadata_keys)
        return (f'<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="{MD}" entityID="{self.entity_id}">'
                f'<md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="{P}">{keys}'
                '<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>'
                '<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>'
                + "".join(f'<md:SingleSignOnService Binding="{b}" Location="{self.sso_url}"/>' for b in self.sso_bindings)
                + "".join(f'<md:SingleLogoutService Binding="{b}" Location="{self.slo_url}"/>' for b in self.slo_bindings) +
                '</md:IDPSSODescriptor></md:EntityDescriptor>')

    def _server(self):
        """pysaml2's IdP with the current signing key and every trusted SP's metadata, fetched now."""
        files = []
        for i, url in enumerate(self.sp_metadata_urls):
            r = requests.get(url, timeout=10)
            r.raise_for_status()
            files.append(os.path.join(self.work, f"sp-metadata-{i}.xml"))
            with open(files[-1], "w") as f:
                f.write(r.text)
        conf = IdPConfig()
        conf.load({
            "entityid": self.entity_id,
            "key_file": self.key, "cert_file": self.cert, "xmlsec_binary": "/usr/bin/xmlsec1",
            "attribute_map_dir": self.work,
            "metadata": {"local": files},
            "accepted_time_diff": 120,  # Okta's maxClockSkew example: 120000 ms
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT), (self.sso_url, BINDING_HTTP_POST)],
                              "single_logout_service": [(self.base + self.slo_path, BINDING_HTTP_POST)]},
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                # Redirect signatures are checked below over the raw query; POST ones by pysaml2.
                "want_authn_requests_signed": False,
                "sign_response": True, "sign_assertion": True,
                "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None,
                                         "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}},
            }},
        })
        return Server(config=conf)

    # --- SSO ----------------------------------------------------------------------------------------
    def _refuse(self, why, info=None):
        self.errors.append(why)
        if info is not None:
            info["refused"] = why
            self.requests.append(info)
        return 400, f"<html><body><h1 id='idp-error'>Okta: {html.escape(why)}</h1></body></html>"

    def sso(self, binding, raw_query, form):
        server = self._server()
        info = {"binding": binding}
        if binding == BINDING_HTTP_REDIRECT:
            pairs = [p.split("=", 1) for p in raw_query.split("&") if "=" in p]
            raw = {k: v for k, v in pairs}
            params = {k: urllib.parse.unquote_plus(v) for k, v in pairs}
            if "SAMLRequest" not in params:
                return self._refuse("no SAMLRequest", info)
            xml = zlib.decompress(base64.b64decode(params["SAMLRequest"]), -15).decode()
            relay_state = params.get("RelayState")
            info["sig_alg"] = params.get("SigAlg")
        else:
            if "SAMLRequest" not in form:
                return self._refuse("no SAMLRequest", info)
            xml = base64.b64decode(form["SAMLRequest"]).decode()
            relay_state = form.get("RelayState")
        info["xml"] = xml
        info["relay_state"] = relay_state
        doc = etree.fromstring(xml.encode())
        issuer = doc.findtext(f"{{{A}}}Issuer")
        nip = doc.find(f"{{{P}}}NameIDPolicy")
        info.update(id=doc.get("ID"), destination=doc.get("Destination"), acs_url=doc.get("AssertionConsumerServiceURL"),
                    protocol_binding=doc.get("ProtocolBinding"), issuer=issuer, issue_instant=doc.get("IssueInstant"),
                    name_id_policy=None if nip is None else {"format": nip.get("Format"), "allow_create": nip.get("AllowCreate")},
                    force_authn=doc.get("ForceAuthn"), is_passive=doc.get("IsPassive"))
        try:
            certs = [c for _, c in server.metadata.certs(issuer, "spsso", "signing")]
        except Exception:  # noqa: BLE001 - not in any metadata
            certs = []
        if not certs:
            return self._refuse(f"unknown service provider {issuer!r} (or no signing certificate in its metadata)", info)
        if binding == BINDING_HTTP_REDIRECT:
            if params.get("SigAlg") != RSA_SHA256 or "Signature" not in params:
                return self._refuse(f"the request must be signed with RSA-SHA256 (SigAlg {params.get('SigAlg')!r})", info)
            # The signed octets: the parameters exactly as they arrived (bindings §3.4.4.1).
            signed = "&".join(f"{k}={raw[k]}" for k in ("SAMLRequest", "RelayState", "SigAlg") if k in raw).encode()
            signature = base64.b64decode(params["Signature"])
            ok = False
            for c in certs:
                pub = x509.load_der_x509_certificate(base64.b64decode("".join(c.split()))).public_key()
                try:
                    pub.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
                    ok = True
                except Exception:  # noqa: BLE001 - try the next certificate
                    pass
            info["signature_verified"] = ok
            if not ok:
                return self._refuse("the request's signature does not verify with the SP's certificates", info)
            try:
                req = server.parse_authn_request(params["SAMLRequest"], BINDING_HTTP_REDIRECT)
            except Exception as error:  # noqa: BLE001
                return self._refuse(f"pysaml2 refused the request: {error!r}", info)
        else:
            # HTTP-POST (bindings §3.5.4): an enveloped signature on the AuthnRequest itself, checked
            # here with xmlsec1 and each SP signing certificate, then again by pysaml2.
            sig = doc.find(f"{{{DS}}}Signature")
            ref = None if sig is None else sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
            method = None if sig is None else sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
            info.update(enveloped_signature=sig is not None, reference_uri=None if ref is None else ref.get("URI"),
                        sig_alg=None if method is None else method.get("Algorithm"))
            if sig is None:
                return self._refuse("the HTTP-POST AuthnRequest carries no enveloped ds:Signature", info)
            if info["reference_uri"] != "#" + (info["id"] or ""):
                return self._refuse(f"the signature's Reference {info['reference_uri']!r} is not the request's ID", info)
            info["signature_verified_xmlsec1"] = self._verify_enveloped(xml, "AuthnRequest", certs)
            if not info["signature_verified_xmlsec1"]:
                return self._refuse("the AuthnRequest's enveloped signature does not verify (xmlsec1) with the SP's certificates", info)
            server.config.setattr("idp", "want_authn_requests_signed", True)
            try:
                req = server.parse_authn_request(form["SAMLRequest"], BINDING_HTTP_POST)
            except Exception as error:  # noqa: BLE001
                return self._refuse(f"the request is not correctly signed: {error!r}", info)
            info["signature_verified"] = req is not None
        if req is None:
            return self._refuse("pysaml2 refused the request", info)
        acs_allowed = [s["location"] for s in server.metadata.assertion_consumer_service(issuer, BINDING_HTTP_POST)]
        acs = info["acs_url"] or (acs_allowed[0] if acs_allowed else None)
        if acs not in acs_allowed:
            return self._refuse(f"AssertionConsumerServiceURL {acs!r} is not in the SP's metadata ({acs_allowed})", info)
        info["accepted"] = True
        self.requests.append(info)
        key = secrets.token_urlsafe(16)
        with self.lock:
            self.pending[key] = {"id": info["id"], "sp": issuer, "acs": acs, "relay_state": relay_state}
        return 200, self.login_page(key)

    def login_page(self, key, error=""):
        err = f'<p id="okta-signin-error" role="alert">{html.escape(error)}</p>' if error else ""
        return (f'<!DOCTYPE html><html><head><title>Okta (test) - Sign In</title></head><body><h1>Sign in to Okta</h1>{err}'
                f'<form id="okta-signin" method="post" action="{self.sso_path}/login">'
                f'<input type="hidden" name="pending" value="{key}"/>'
                '<label for="okta-signin-username">Username</label> '
                '<input id="okta-signin-username" name="username" type="text" autocomplete="username"/> '
                '<input id="okta-signin-submit" type="submit" value="Sign In"/></form></body></html>')

    def login(self, form):
        key = form.get("pending", "")
        with self.lock:
            ctx = self.pending.get(key)
        if ctx is None:
            return 400, "<html><body><h1 id='idp-error'>Okta: this sign-in has expired</h1></body></html>"
        username = form.get("username", "").strip().lower()
        user = self.users.get(username)
        if user is None:
            return 200, self.login_page(key, "Unable to sign in")
        with self.lock:
            self.pending.pop(key, None)
        xml = self.response_for(ctx["sp"], ctx["id"], ctx["acs"], user)
        fields = {"SAMLResponse": base64.b64encode(xml.encode()).decode()}
        if ctx["relay_state"] is not None:
            fields["RelayState"] = ctx["relay_state"]
        return 200, auto_post_page(ctx["acs"], fields)

    def encrypt_for_sp(self, sp, content="aes256-cbc", transport="rsa-oaep-mgf1p", sign_response=True, name_id=None,
                       assertion=True):
        """Encrypts what this IdP sends `sp` for the SP's encryption certificate (its metadata's
        KeyDescriptor use="encryption"), as Okta's "Assertion Encryption" does: the assertion is
        signed, then encrypted (`content`: aes128-cbc … aes256-gcm, tripledes-cbc; `transport`:
        rsa-oaep-mgf1p or rsa-1_5) by pysaml2's encrypt_assertion (xmlsec1 and a template), then the
        Response is signed unless `sign_response` is False. `name_id` (content, transport) also
        puts the NameID in a saml:EncryptedID (pysaml2 cannot: done here with lxml and the same
        algorithms; the assertion is then encrypted the same way, if `assertion`). None: stop."""
        if content is None:
            self.encrypt_for.pop(sp, None)
        else:
            self.encrypt_for[sp] = {"content": content, "transport": transport, "sign_response": sign_response, "name_id": name_id,
                                    "assertion": assertion}

    def _sp_encryption_cert(self, server, sp):
        certs = server.metadata.certs(sp, "spsso", "encryption")
        if not certs:
            raise ValueError(f"the SP {sp!r} publishes no encryption certificate")
        return "".join(certs[0][1].split())

    def response_for(self, sp, request_id, acs, user):
        server = self._server()
        identity = {"email": [user["email"]], "firstName": [user["firstName"]], "lastName": [user["lastName"]]}
        name_id = NameID(format=user.get("name_id_format", NAMEID_FORMAT_EMAILADDRESS), text=user.get("name_id", user["email"]))
        enc = self.encrypt_for.get(sp)
        common = dict(in_response_to=request_id, destination=acs, sp_entity_id=sp, name_id=name_id,
                      authn={"class_ref": PASSWORDPROTECTEDTRANSPORT}, sign_alg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256)
        session_index = None
        if enc is None:
            xml = str(server.create_authn_response(identity, sign_response=True, sign_assertion=True, **common))
        elif enc["name_id"] is None:
            from saml2.sigver import get_pem_wrapped_unwrapped, make_temp, pre_encryption_part
            import saml_acs_attacks as crafted
            content_uri, size, _ = crafted.CONTENT_ENCRYPTION[enc["content"]]
            session_key = "des-192" if enc["content"] == "tripledes-cbc" else f"aes-{size * 8}"

            def encrypt_assertion(_self, encrypt_cert, sp_entity_id, response, node_xpath=None):
                wrapped, unwrapped = get_pem_wrapped_unwrapped(encrypt_cert)
                pem = make_temp(wrapped.encode("ascii"), decode=False, delete_tmpfiles=True)
                template = pre_encryption_part(msg_enc=content_uri, key_enc=crafted.KEY_TRANSPORT[enc["transport"]], encrypt_cert=unwrapped)
                return _self.sec.encrypt_assertion(response, pem.name, template, key_type=session_key, node_xpath=node_xpath)
            server._encrypt_assertion = types.MethodType(encrypt_assertion, server)
            xml = str(server.create_authn_response(
                identity, sign_response=enc["sign_response"], sign_assertion=True, encrypt_assertion=True,
                encrypt_assertion_self_contained=True, encrypt_cert_assertion=self._sp_encryption_cert(server, sp), **common))
        else:
            import saml_acs_attacks as crafted
            sp_cert = "-----BEGIN CERTIFICATE-----\n" + self._sp_encryption_cert(server, sp) + "\n-----END CERTIFICATE-----\n"
            root = etree.fromstring(str(server.create_authn_response(identity, sign_response=False, sign_assertion=False, **common)).encode())
            assertion = root.find(f"{{{A}}}Assertion")
            session_index = assertion.find(f"{{{A}}}AuthnStatement").get("SessionIndex")
            crafted.encrypt_in_place(assertion.find(f"{{{A}}}Subject/{{{A}}}NameID"), sp_cert, *enc["name_id"], wrapper="EncryptedID")
            crafted.sign_element(assertion, self.key, self.cert)
            if enc["assertion"]:
                crafted.encrypt_in_place(assertion, sp_cert, enc["content"], enc["transport"])
            if enc["sign_response"]:
                crafted.sign_element(root, self.key, self.cert)
            xml = etree.tostring(root, encoding="unicode")
        doc = etree.fromstring(xml.encode())
        index = doc.find(f".//{{{A}}}AuthnStatement")
        methods = [e.get("Algorithm") for e in doc.iter("{http://www.w3.org/2001/04/xmlenc#}EncryptionMethod")]
        self.responses.append({"request_id": request_id, "acs": acs, "xml": xml, "user": user["email"], "key": self.signing_key,
                               "sp": sp, "session_index": session_index or (None if index is None else index.get("SessionIndex")),
                               "name_id": name_id.text, "encryption_methods": methods, "encryption": enc,
                               "response_signed": doc.find(f"{{{DS}}}Signature") is not None})
        return xml

    # --- single logout ------------------------------------------------------------------------------
    @staticmethod
    def _sp_certs(server, sp):
        try:
            return [c for _, c in server.metadata.certs(sp, "spsso", "signing")]
        except Exception:  # noqa: BLE001 - not in any metadata
            return []

    @staticmethod
    def _sp_slo(server, sp, binding=BINDING_HTTP_REDIRECT):
        try:
            return server.metadata.single_logout_service(sp, binding, "spsso")[0]["location"]
        except Exception:  # noqa: BLE001 - none for that binding
            return None

    @staticmethod
    def verify_redirect_signature(raw_query, typ, certs):
        """SAML bindings §3.4.4.1: the signature over `typ=…&RelayState=…&SigAlg=…` exactly as received."""
        pairs = [p.split("=", 1) for p in raw_query.split("&") if "=" in p]
        raw = {k: v for k, v in pairs}
        params = {k: urllib.parse.unquote_plus(v) for k, v in pairs}
        if params.get("SigAlg") != RSA_SHA256 or "Signature" not in params:
            return False, params
        signed = "&".join(f"{k}={raw[k]}" for k in (typ, "RelayState", "SigAlg") if k in raw).encode()
        signature = base64.b64decode(params["Signature"])
        for c in certs:
            pub = x509.load_der_x509_certificate(base64.b64decode("".join(c.split()))).public_key()
            try:
                pub.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
                return True, params
            except Exception:  # noqa: BLE001 - the next certificate
                pass
        return False, params

    def _verify_enveloped(self, xml, element, certs):
        """xmlsec1 on the enveloped signature of an HTTP-POST message, with each SP certificate."""
        path = os.path.join(self.work, f"slo-{secrets.token_hex(4)}.xml")
        with open(path, "w") as f:
            f.write(xml)
        try:
            for c in certs:
                pem = os.path.join(self.work, f"sp-cert-{secrets.token_hex(4)}.pem")
                with open(pem, "w") as f:
                    f.write("-----BEGIN CERTIFICATE-----\n" + "".join(c.split()) + "\n-----END CERTIFICATE-----\n")
                v = subprocess.run(["/usr/bin/xmlsec1", "--verify", "--enabled-reference-uris", "empty,same-doc", "--pubkey-cert-pem", pem,
                                    "--id-attr:ID", f"{P}:{element}", path], capture_output=True, text=True)
                if v.returncode == 0:
                    return True
            return False
        finally:
            os.unlink(path)

    @property
    def slo_binding(self):
        """How this IdP sends logout messages: HTTP-Redirect, or HTTP-POST when its metadata offers only POST."""
        return BINDING_HTTP_REDIRECT if BINDING_HTTP_REDIRECT in self.slo_bindings else BINDING_HTTP_POST

    def logout_request_url(self, sp, name_id, session_index=None, relay_state=None, sign=True):
        """An IdP-initiated LogoutRequest for `sp`, over `slo_binding`: HTTP-Redirect signed over the
        query, or HTTP-POST with an enveloped signature (RSA-SHA256, SHA-256), unless `sign` is False.
        Returns (request ID, the SP's SLO URL: with the query for Redirect); the browser starts at
        `initiate_url(request ID)`."""
        server = self._server()
        post = self.slo_binding == BINDING_HTTP_POST
        destination = self._sp_slo(server, sp, self.slo_binding)
        name = NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=name_id)
        indexes = [session_index] if session_index else None
        fields = None
        if post:
            rid, req = server.create_logout_request(destination, sp, name_id=name, session_indexes=indexes, sign=sign,
                                                    sign_alg=RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256)
            xml, url = str(req), destination
            fields = {"SAMLRequest": base64.b64encode(xml.encode()).decode()}
            if relay_state is not None:
                fields["RelayState"] = relay_state
        else:
            rid, req = server.create_logout_request(destination, sp, name_id=name, session_indexes=indexes, sign=False)
            xml = str(req)
            info = server.apply_binding(BINDING_HTTP_REDIRECT, xml, destination, relay_state or "", sign=sign, sigalg=RSA_SHA256)
            url = dict(info["headers"])["Location"]
        self.logout_sent[rid] = {"url": url, "fields": fields, "binding": self.slo_binding, "name_id": name_id,
                                 "session_index": session_index, "relay_state": relay_state, "sp": sp, "xml": xml, "signed": sign}
        return rid, url

    def initiate_url(self, request_id):
        return f"{self.slo_url}/initiate?id={urllib.parse.quote(request_id)}"

    def slo(self, binding, raw_query, form):
        """The SLO endpoint: a LogoutResponse (answering our request) or a LogoutRequest (answered)."""
        server = self._server()
        if binding == BINDING_HTTP_REDIRECT:
            params = {k: v[0] for k, v in urllib.parse.parse_qs(raw_query or "").items()}
            typ = "SAMLResponse" if "SAMLResponse" in params else "SAMLRequest"
            if typ not in params:
                return self._refuse("no SAMLRequest or SAMLResponse at the logout endpoint")
            xml = zlib.decompress(base64.b64decode(params[typ]), -15).decode()
        else:
            params = dict(form)
            typ = "SAMLResponse" if "SAMLResponse" in params else "SAMLRequest"
            if typ not in params:
                return self._refuse("no SAMLRequest or SAMLResponse at the logout endpoint")
            xml = base64.b64decode(params[typ]).decode()
        doc = etree.fromstring(xml.encode())
        issuer = doc.findtext(f"{{{A}}}Issuer")
        certs = self._sp_certs(server, issuer)
        if binding == BINDING_HTTP_REDIRECT:
            verified, _ = self.verify_redirect_signature(raw_query, typ, certs)
        else:
            verified = self._verify_enveloped(xml, "LogoutResponse" if typ == "SAMLResponse" else "LogoutRequest", certs)
        relay_state = params.get("RelayState")
        sig = doc.find(f"{{{DS}}}Signature")
        method = None if sig is None else sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
        ref = None if sig is None else sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
        info = {"binding": binding, "xml": xml, "id": doc.get("ID"), "issuer": issuer, "destination": doc.get("Destination"),
                "relay_state": relay_state, "signature_verified": verified, "known_sp": bool(certs),
                "sig_alg": params.get("SigAlg") if binding == BINDING_HTTP_REDIRECT else (None if method is None else method.get("Algorithm")),
                "enveloped_signature": sig is not None, "reference_uri": None if ref is None else ref.get("URI")}
        if typ == "SAMLResponse":
            code = doc.find(f"{{{P}}}Status/{{{P}}}StatusCode")
            info.update(kind=doc.tag, in_response_to=doc.get("InResponseTo"), status=None if code is None else code.get("Value"),
                        sub_status=[c.get("Value") for c in (code if code is not None else [])])
            self.logout_responses.append(info)
            if not verified:
                return self._refuse("the logout response's signature does not verify with the SP's certificates")
            return 200, "<html><body><h1 id='idp-logged-out'>Okta: you are signed out</h1></body></html>"
        nid = doc.find(f"{{{A}}}NameID")
        info.update(kind=doc.tag, name_id=None if nid is None else nid.text, name_id_format=None if nid is None else nid.get("Format"),
                    session_indexes=[e.text for e in doc.findall(f"{{{P}}}SessionIndex")], not_on_or_after=doc.get("NotOnOrAfter"))
        self.logout_requests.append(info)
        if not verified:
            return self._refuse("the logout request's signature does not verify with the SP's certificates")
        request = logout_request_from_string(xml)
        destination = self._sp_slo(server, issuer, self.slo_binding)
        if self.slo_binding == BINDING_HTTP_POST:
            signed = server.create_logout_response(request, [BINDING_HTTP_POST], sign=True, sign_alg=RSA_SHA256,
                                                   digest_alg=xmldsig.DIGEST_SHA256)
            signed = signed if isinstance(signed, str) else str(signed)
            fields = {"SAMLResponse": base64.b64encode(signed.encode()).decode()}
            if relay_state is not None:
                fields["RelayState"] = relay_state
            info["answer"] = {"id": etree.fromstring(signed.encode()).get("ID"), "xml": signed, "binding": BINDING_HTTP_POST,
                              "location": destination, "fields": fields}
            return 200, auto_post_page(destination, fields)
        response = server.create_logout_response(request, [BINDING_HTTP_REDIRECT], sign=False)
        http = server.apply_binding(BINDING_HTTP_REDIRECT, str(response), destination, relay_state or "", response=True, sign=True,
                                    sigalg=RSA_SHA256)
        info["answer"] = {"id": response.id, "xml": str(response), "binding": BINDING_HTTP_REDIRECT,
                          "location": dict(http["headers"])["Location"]}
        return "redirect", info["answer"]["location"]


# --- self-test: pysaml2's SP role against this IdP ------------------------------------------------------

def self_test(check):
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    from saml2.metadata import entity_descriptor
    work = tempfile.mkdtemp(prefix="okta-idp-selftest-")
    idp = OktaShapedIdP(work)
    md = requests.get(idp.metadata_url, timeout=10)
    doc = etree.fromstring(md.content)
    ns = {"md": MD}
    check("metadata: Okta's entity ID and path", doc.get("entityID") == "http://www.okta.com/exk1sigil" and md.status_code == 200)
    check("metadata: one KeyDescriptor use=signing", len(doc.findall(".//md:KeyDescriptor[@use='signing']", ns)) == 1)
    check("metadata: NameIDFormat emailAddress and unspecified",
          [e.text for e in doc.findall(".//md:NameIDFormat", ns)] == ["urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                                                                      "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"])
    check("metadata: SSO over HTTP-POST and HTTP-Redirect at /app/exk1sigil/sso/saml",
          sorted(e.get("Binding").rsplit(":", 1)[1] for e in doc.findall(".//md:SingleSignOnService", ns)) == ["HTTP-POST", "HTTP-Redirect"]
          and {e.get("Location") for e in doc.findall(".//md:SingleSignOnService", ns)} == {idp.sso_url})

    # A pysaml2 SP that signs its requests, its metadata served over HTTP like Sigil's.
    sp_port = free_port()
    sp_base = f"http://localhost:{sp_port}"
    sp_key, sp_cert = make_keypair(work, "sp")
    idp_md_file = os.path.join(work, "idp.xml")

    def sp_conf():
        with open(idp_md_file, "w") as f:
            f.write(requests.get(idp.metadata_url, timeout=10).text)
        c = SPConfig()
        c.load({"entityid": sp_base + "/saml/sp/okta/metadata", "key_file": sp_key, "cert_file": sp_cert,
                "xmlsec_binary": "/usr/bin/xmlsec1", "metadata": {"local": [idp_md_file]}, "allow_unknown_attributes": True,
                "accepted_time_diff": 60,
                "service": {"sp": {"endpoints": {"assertion_consumer_service": [(sp_base + "/saml/sp/okta/acs", BINDING_HTTP_POST)],
                                                 "single_logout_service": [(sp_base + "/saml/sp/okta/slo", BINDING_HTTP_REDIRECT)]},
                                   "authn_requests_signed": True, "want_response_signed": True, "want_assertions_signed": True}}})
        return c
    conf = sp_conf()
    sp_md = str(entity_descriptor(conf))

    srv = serve_document(sp_port, sp_md.encode(), "application/xml")
    idp.trust_sp(sp_base + "/saml/sp/okta/metadata")

    def login(client, username="alice", binding=BINDING_HTTP_REDIRECT, tamper=False):
        rid, info = client.prepare_for_authenticate(entityid=idp.entity_id, relay_state="rs-1", binding=binding,
                                                    sigalg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256, sign=True)
        s = requests.Session()
        if binding == BINDING_HTTP_REDIRECT:
            url = dict(info["headers"])["Location"]
            if tamper:
                url = url.replace("RelayState=rs-1", "RelayState=rs-2")
            page = s.get(url, timeout=10)
        else:
            data = dict(__import__("re").findall(r'name="([^"]+)" value="([^"]*)"', info["data"]))
            page = s.post(idp.sso_url, data={k: html.unescape(v) for k, v in data.items()}, timeout=10)
        if page.status_code != 200 or "okta-signin-username" not in page.text:
            return rid, None, page.text
        key = __import__("re").search(r'name="pending" value="([^"]+)"', page.text).group(1)
        done = s.post(idp.sso_url + "/login", data={"pending": key, "username": username}, timeout=10)
        fields = dict(__import__("re").findall(r'name="([^"]+)" value="([^"]*)"', done.text))
        return rid, {k: html.unescape(v) for k, v in fields.items()}, done.text

    client = Saml2Client(conf)
    rid, fields, page = login(client)
    check("Redirect binding: the signed request is accepted and the login page shown", fields is not None, page[:300])
    if fields:
        check("the auto-submitting form posts to the SP's ACS", f'action="{sp_base}/saml/sp/okta/acs"' in page and "onload" in page)
        xml = base64.b64decode(fields["SAMLResponse"]).decode()
        check("Response and Assertion are both signed (RSA-SHA256)", xml.count("<ds:Signature") + xml.count(":Signature ") >= 2
              or xml.count("Signature>") >= 4, xml[:200])
        check("RSA-SHA256 signatures", RSA_SHA256 in xml)
        resp = client.parse_authn_request_response(fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={rid: "/"})
        ident = resp.get_identity() if resp else {}
        check("pysaml2 SP accepts it: NameID emailAddress", resp is not None and resp.get_subject().text == "alice@example.org"
              and resp.get_subject().format == NAMEID_FORMAT_EMAILADDRESS)
        check("attributes email/firstName/lastName, Basic name format",
              ident.get("email") == ["alice@example.org"] and ident.get("firstName") == ["Alice"] and ident.get("lastName") == ["Liddell"]
              and xml.count("urn:oasis:names:tc:SAML:2.0:attrname-format:basic") == 3,
              json.dumps(ident) + " " + xml[xml.find("AttributeStatement") - 20:][:700])
        check("RelayState comes back", fields.get("RelayState") == "rs-1")
    rid, fields, page = login(client, binding=BINDING_HTTP_POST)
    check("POST binding: a signed request is accepted", fields is not None, page[:300])
    rid, fields, page = login(client, tamper=True)
    check("a Redirect request whose RelayState was changed after signing is refused", fields is None and "idp-error" in page, page[:200])

    # Rollover: two certs in metadata, then sign with the new one.
    idp.begin_rollover()
    check("rollover: metadata publishes two signing certificates",
          requests.get(idp.metadata_url, timeout=10).text.count('use="signing"') == 2)
    idp.sign_with_new()
    client = Saml2Client(sp_conf())
    rid, fields, page = login(client, "bob")
    resp = client.parse_authn_request_response(fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={rid: "/"}) if fields else None
    check("rollover: a response signed with the new key verifies against the refreshed metadata",
          resp is not None and resp.get_subject().text == "bob@example.org")

    # Single logout, IdP-initiated: pysaml2's SP verifies the query signature and answers signed.
    sp_entity = sp_base + "/saml/sp/okta/metadata"
    check("metadata: SingleLogoutService at /app/exk1sigil/slo/saml",
          {e.get("Location") for e in doc.findall(".//md:SingleLogoutService", ns)} == {idp.slo_url})
    index = idp.responses[-1]["session_index"]
    check("the IdP records the SessionIndex it issued", bool(index) and index in idp.responses[-1]["xml"], str(index))
    rid, url = idp.logout_request_url(sp_entity, "bob@example.org", index, relay_state="idp-rs")
    start = requests.get(idp.initiate_url(rid), allow_redirects=False, timeout=10)
    check("IdP-initiated logout starts in the browser at the IdP (302 to the SP's SLO)",
          start.status_code == 302 and start.headers.get("Location") == url and url.startswith(sp_base + "/saml/sp/okta/slo?"), url[:120])
    q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(url).query).items()}
    try:
        lreq = client.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"),
                                           sigalg=q.get("SigAlg"), signature=q.get("Signature"))
    except Exception as error:  # noqa: BLE001
        lreq = None
        check("pysaml2 SP accepts the IdP's signed LogoutRequest", False, repr(error))
    from saml2.sigver import verify_redirect_signature
    check("pysaml2's verify_redirect_signature verifies the IdP's LogoutRequest query signature (RSA-SHA256) with the IdP certificate",
          q.get("SigAlg") == RSA_SHA256 and verify_redirect_signature(q, client.sec.sec_backend, cert=cert_body(idp.cert)))
    tampered = dict(q, RelayState="other")
    check("... and refuses it with the RelayState changed", not verify_redirect_signature(tampered, client.sec.sec_backend,
                                                                                         cert=cert_body(idp.cert)))
    if lreq is not None:
        check("pysaml2 SP parses the IdP's LogoutRequest: NameID and SessionIndex",
              lreq.message.name_id.text == "bob@example.org"
              and [i.text for i in lreq.message.session_index] == [index], str(lreq.message)[:300])
        ans = client.handle_logout_request(q["SAMLRequest"], lreq.message.name_id, BINDING_HTTP_REDIRECT, sign=True,
                                           sign_alg=xmldsig.SIG_RSA_SHA256, relay_state=q.get("RelayState"))
        back = dict(ans["headers"])["Location"]
        page = requests.get(back, timeout=10)
        got = idp.logout_responses[-1] if idp.logout_responses else {}
        check("the SP's signed LogoutResponse is verified and recorded by the IdP",
              page.status_code == 200 and "idp-logged-out" in page.text and got.get("signature_verified") is True
              and got.get("in_response_to") == rid and got.get("relay_state") == "idp-rs"
              and got.get("status") == "urn:oasis:names:tc:SAML:2.0:status:Success", f"{page.status_code} {got}")
    unsigned_rid, unsigned = idp.logout_request_url(sp_entity, "bob@example.org", index, relay_state="x", sign=False)
    check("an unsigned IdP LogoutRequest can be made (no Signature, no SigAlg)", "Signature=" not in unsigned and "SigAlg=" not in unsigned)

    # Single logout, SP-initiated: the IdP checks the SP's signature and answers signed, RelayState echoed.
    rid, fields, page = login(client, "bob")
    resp = client.parse_authn_request_response(fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={rid: "/"}) if fields else None
    before = set(client.state.keys())
    out = client.do_logout(resp.get_subject(), [idp.entity_id], reason="", expire=None, sign=True, expected_binding=BINDING_HTTP_REDIRECT,
                           sign_alg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256)
    req_id = next(iter(set(client.state.keys()) - before), None)
    location = dict(out[idp.entity_id][1]["headers"])["Location"]
    forged = requests.get(location.replace("RelayState=", "RelayState=x"), allow_redirects=False, timeout=10)
    check("the IdP refuses an SP LogoutRequest whose query was changed after signing (400, not answered)",
          forged.status_code == 400 and "answer" not in idp.logout_requests[-1], f"{forged.status_code} {forged.text[:200]}")
    answer = requests.get(location, allow_redirects=False, timeout=10)
    seen = idp.logout_requests[-1] if idp.logout_requests else {}
    check("the IdP verifies the SP's signed LogoutRequest (raw query) and records NameID and SessionIndex",
          seen.get("signature_verified") is True and seen.get("name_id") == "bob@example.org" and seen.get("id") == req_id
          and seen.get("session_indexes") == [idp.responses[-1]["session_index"]], str({k: v for k, v in seen.items() if k != "xml"}))
    back = answer.headers.get("Location", "")
    q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(back).query).items()}
    check("the IdP answers with a LogoutResponse over HTTP-Redirect to the SP's SLO, RelayState echoed",
          answer.status_code == 302 and back.startswith(sp_base + "/saml/sp/okta/slo?") and "SAMLResponse" in q
          and q.get("RelayState") == seen.get("relay_state"), f"{answer.status_code} {back[:160]}")
    check("the IdP's LogoutResponse is signed over the query with its key (RSA-SHA256; pysaml2's verify_redirect_signature)",
          q.get("SigAlg") == RSA_SHA256 and verify_redirect_signature(q, client.sec.sec_backend, cert=cert_body(idp.cert)))
    try:
        lresp = client.parse_logout_request_response(q["SAMLResponse"], BINDING_HTTP_REDIRECT)
        check("pysaml2 SP accepts the LogoutResponse: Success, InResponseTo its request",
              lresp.in_response_to == req_id and lresp.response.status.status_code.value == "urn:oasis:names:tc:SAML:2.0:status:Success",
              str(lresp.response)[:300])
    except Exception as error:  # noqa: BLE001
        check("pysaml2 SP accepts the LogoutResponse: Success, InResponseTo its request", False, repr(error))
    srv.shutdown()
    idp.shutdown()


def self_test_post_and_encryption(check):
    """An IdP whose metadata offers only HTTP-POST (SSO and SLO), against a pysaml2 SP with an
    encryption key: the POST AuthnRequest's enveloped signature required and checked; encrypted
    assertions (AES-CBC, AES-GCM, with and without the Response signature) and EncryptedIDs that
    pysaml2's SP decrypts; single logout over HTTP-POST both ways, every message signed (enveloped)."""
    import re
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    from saml2.metadata import entity_descriptor
    import saml_acs_attacks as crafted
    work = tempfile.mkdtemp(prefix="okta-idp-post-selftest-")
    idp = OktaShapedIdP(work, app="exk1post", sso_bindings=[BINDING_HTTP_POST], slo_bindings=[BINDING_HTTP_POST])
    doc = etree.fromstring(requests.get(idp.metadata_url, timeout=10).content)
    ns = {"md": MD}
    check("POST-only IdP: metadata offers SSO and SLO over HTTP-POST only",
          [e.get("Binding") for e in doc.findall(".//md:SingleSignOnService", ns)] == [BINDING_HTTP_POST]
          and [e.get("Binding") for e in doc.findall(".//md:SingleLogoutService", ns)] == [BINDING_HTTP_POST])
    sp_port = free_port()
    sp_base = f"http://localhost:{sp_port}"
    sp_entity = sp_base + "/saml/sp/post/metadata"
    sp_key, sp_cert = make_keypair(work, "sp")
    enc_key, enc_cert = make_keypair(work, "sp-enc")
    idp_md_file = os.path.join(work, "idp.xml")
    with open(idp_md_file, "w") as f:
        f.write(requests.get(idp.metadata_url, timeout=10).text)
    conf = SPConfig()
    conf.load({"entityid": sp_entity, "key_file": sp_key, "cert_file": sp_cert,
               "encryption_keypairs": [{"key_file": enc_key, "cert_file": enc_cert}],
               "xmlsec_binary": "/usr/bin/xmlsec1", "metadata": {"local": [idp_md_file]}, "allow_unknown_attributes": True,
               "accepted_time_diff": 60,
               "service": {"sp": {"endpoints": {"assertion_consumer_service": [(sp_base + "/acs", BINDING_HTTP_POST)],
                                                "single_logout_service": [(sp_base + "/slo", BINDING_HTTP_POST)]},
                                  "authn_requests_signed": True, "want_response_signed": False, "want_assertions_signed": True}}})
    sp_md = str(entity_descriptor(conf))

    srv = serve_document(sp_port, sp_md.encode(), "application/xml")
    idp.trust_sp(sp_base + "/metadata")
    client = Saml2Client(conf)

    def form_fields(page):
        return {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}

    def login(username="alice", sign=True, tamper=False):
        rid, info = client.prepare_for_authenticate(entityid=idp.entity_id, relay_state="rs-post", binding=BINDING_HTTP_POST,
                                                    sigalg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256, sign=sign)
        fields = form_fields(info["data"])
        if tamper:
            xml = base64.b64decode(fields["SAMLRequest"]).decode()
            fields["SAMLRequest"] = base64.b64encode(xml.replace('ForceAuthn="false"', 'ForceAuthn="true"').replace(
                "<ns0:Issuer", "<ns0:Issuer").replace('Version="2.0"', 'Version="2.0" ProviderName="evil"', 1).encode()).decode()
        s = requests.Session()
        page = s.post(idp.sso_url, data=fields, timeout=10)
        if page.status_code != 200 or "okta-signin-username" not in page.text:
            return rid, None, page.text
        key = re.search(r'name="pending" value="([^"]+)"', page.text).group(1)
        done = s.post(idp.sso_url + "/login", data={"pending": key, "username": username}, timeout=10)
        return rid, form_fields(done.text), done.text

    rid, fields, page = login()
    seen = idp.requests[-1] if idp.requests else {}
    check("POST binding: a signed AuthnRequest is accepted (login page shown)", fields is not None, page[:300])
    check("POST binding: the IdP saw an enveloped ds:Signature whose Reference is the request's ID, verified by xmlsec1",
          seen.get("binding") == BINDING_HTTP_POST and seen.get("enveloped_signature") is True and seen.get("reference_uri") == "#" + rid
          and seen.get("signature_verified_xmlsec1") is True and seen.get("sig_alg") == RSA_SHA256,
          str({k: v for k, v in seen.items() if k != "xml"}))
    _, fields, page = login(sign=False)
    check("POST binding: an unsigned AuthnRequest is refused", fields is None and "idp-error" in page and "no enveloped" in page, page[:200])
    _, fields, page = login(tamper=True)
    check("POST binding: an AuthnRequest changed after signing is refused", fields is None and "idp-error" in page
          and "does not verify" in page, page[:200])

    # Encrypted assertions, for the SP's encryption certificate from its metadata.
    def encrypted_login(label, username="alice", **settings):
        idp.encrypt_for_sp(sp_entity, **settings)
        rid, fields, page = login(username)
        if not fields:
            return check(f"{label}: a response", False, page[:300]) and None
        xml = base64.b64decode(fields["SAMLResponse"])
        sent = idp.responses[-1]
        try:
            resp = client.parse_authn_request_response(fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={rid: "/"})
        except Exception as error:  # noqa: BLE001
            resp = None
            check(f"{label}: pysaml2's SP decrypts and accepts it", False, repr(error)[:300])
        return xml, sent, resp

    for content, transport, signed in (("aes256-cbc", "rsa-oaep-mgf1p", True), ("aes128-gcm", "rsa-oaep-mgf1p", True),
                                       ("aes256-cbc", "rsa-oaep-mgf1p", False), ("aes128-gcm", "rsa-1_5", True)):
        label = f"encrypted assertion ({content}, {transport}, Response {'signed' if signed else 'unsigned'})"
        got = encrypted_login(label, content=content, transport=transport, sign_response=signed)
        if not got:
            continue
        xml, sent, resp = got
        root = etree.fromstring(xml)
        check(f"{label}: an EncryptedAssertion with those algorithms, no plain Assertion, the Response "
              f"{'signed' if signed else 'unsigned'}", root.find(f"{{{A}}}EncryptedAssertion") is not None
              and root.find(f"{{{A}}}Assertion") is None and sent["encryption_methods"] == [crafted.CONTENT_ENCRYPTION[content][0],
                                                                                       crafted.KEY_TRANSPORT[transport]]
              and sent["response_signed"] is signed, f"{sent['encryption_methods']} signed {sent['response_signed']}")
        ok, dec = crafted.decrypt_with_libxmlsec(xml, enc_key)
        if check(f"{label}: libxmlsec1 decrypts it with the SP's encryption key", ok, str(dec)[:200]):
            path = os.path.join(work, "decrypted.xml")
            with open(path, "wb") as f:
                f.write(etree.tostring(dec))
            v = subprocess.run(["/usr/bin/xmlsec1", "--verify", "--pubkey-cert-pem", idp.cert, "--id-attr:ID", f"{A}:Assertion",
                                "--node-xpath", "//*[local-name()='Assertion']/*[local-name()='Signature']", path],
                               capture_output=True, text=True)
            check(f"{label}: the decrypted assertion carries its own signature, valid (xmlsec1)", v.returncode == 0, v.stderr[-200:])
        if resp is not None:
            check(f"{label}: pysaml2's SP decrypts it: NameID alice@example.org", resp.get_subject().text == "alice@example.org")

    idp.users["nid"] = {"email": "nid@example.org", "firstName": "Nid", "lastName": "Crypt", "name_id": "00u-nid-4711",
                        "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"}
    label = "EncryptedID (aes128-cbc) inside an aes256-gcm EncryptedAssertion"
    got = encrypted_login(label, "nid", content="aes256-gcm", name_id=("aes128-cbc", "rsa-oaep-mgf1p"))
    if got:
        xml, sent, resp = got
        ok, outer = crafted.decrypt_with_libxmlsec(xml, enc_key, levels=1)
        inner = [e.get("Algorithm") for e in outer.iterfind(f".//{{{A}}}EncryptedID//{{{crafted.XENC}}}EncryptionMethod")] if ok else []
        check(f"{label}: the assertion is aes256-gcm, the EncryptedID inside aes128-cbc (both rsa-oaep-mgf1p)",
              sent["encryption_methods"] == [crafted.XENC11 + "aes256-gcm", crafted.XENC + "rsa-oaep-mgf1p"]
              and inner == [crafted.XENC + "aes128-cbc", crafted.XENC + "rsa-oaep-mgf1p"], f"{sent['encryption_methods']} {inner}")
        ok, dec = crafted.decrypt_with_libxmlsec(xml, enc_key)
        nid = dec.find(f".//{{{A}}}Subject/{{{A}}}EncryptedID/{{{A}}}NameID") if ok else None
        check(f"{label}: both decrypt (libxmlsec1); the NameID inside the EncryptedID is 00u-nid-4711",
              nid is not None and nid.text == "00u-nid-4711", str(dec)[:200])
        check(f"{label}: the IdP recorded the SessionIndex it issued", bool(sent.get("session_index")))
        if resp is not None:
            check(f"{label}: pysaml2's SP reads the decrypted NameID", resp.get_subject().text == "00u-nid-4711",
                  str(resp.get_subject()))
    idp.encrypt_for_sp(sp_entity, None)

    # Single logout over HTTP-POST, IdP-initiated: an enveloped signature, in an auto-submitting form.
    rid, url = idp.logout_request_url(sp_entity, "alice@example.org", "sess-1", relay_state="idp-post-rs")
    check("POST SLO: the IdP's LogoutRequest goes to the SP's HTTP-POST SingleLogoutService", url == sp_base + "/slo", url)
    start = requests.get(idp.initiate_url(rid), timeout=10)
    fields = form_fields(start.text)
    check("POST SLO: the browser gets an auto-submitting form with SAMLRequest and RelayState",
          start.status_code == 200 and f'action="{sp_base}/slo"' in start.text and "onload" in start.text
          and fields.get("RelayState") == "idp-post-rs", start.text[:200])
    xml = base64.b64decode(fields.get("SAMLRequest", ""))
    with open(os.path.join(work, "lreq.xml"), "wb") as f:
        f.write(xml)
    v = subprocess.run(["/usr/bin/xmlsec1", "--verify", "--pubkey-cert-pem", idp.cert, "--id-attr:ID", f"{P}:LogoutRequest",
                        os.path.join(work, "lreq.xml")], capture_output=True, text=True)
    check("POST SLO: the LogoutRequest's enveloped signature verifies (xmlsec1, IdP certificate), RSA-SHA256",
          v.returncode == 0 and RSA_SHA256.encode() in xml, v.stderr[-200:])
    try:
        lreq = client.parse_logout_request(fields["SAMLRequest"], BINDING_HTTP_POST)
        check("POST SLO: pysaml2's SP parses it: NameID, SessionIndex", lreq.message.name_id.text == "alice@example.org"
              and [i.text for i in lreq.message.session_index] == ["sess-1"])
        ans = client.handle_logout_request(fields["SAMLRequest"], lreq.message.name_id, BINDING_HTTP_POST, sign=True,
                                           sign_alg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256, relay_state="idp-post-rs")
        back = form_fields(ans["data"])
        page = requests.post(idp.slo_url, data=back, timeout=10)
        got = idp.logout_responses[-1] if idp.logout_responses else {}
        check("POST SLO: the SP's LogoutResponse over HTTP-POST is verified (enveloped, xmlsec1) and recorded by the IdP",
              page.status_code == 200 and got.get("binding") == BINDING_HTTP_POST and got.get("signature_verified") is True
              and got.get("in_response_to") == rid and got.get("relay_state") == "idp-post-rs", f"{page.status_code} {got}")
    except Exception as error:  # noqa: BLE001
        check("POST SLO: pysaml2's SP handles the IdP's LogoutRequest", False, repr(error)[:300])

    # SP-initiated over HTTP-POST: the IdP verifies the enveloped signature and answers over HTTP-POST.
    rid, fields, page = login()
    resp = client.parse_authn_request_response(fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={rid: "/"}) if fields else None
    if check("POST SLO: a signed-in SP session to sign out of", resp is not None):
        out = client.do_logout(resp.get_subject(), [idp.entity_id], reason="", expire=None, sign=True, expected_binding=BINDING_HTTP_POST,
                               sign_alg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256)
        posted = form_fields(out[idp.entity_id][1]["data"])
        forged = dict(posted, SAMLRequest=base64.b64encode(base64.b64decode(posted["SAMLRequest"]).replace(
            b"alice@example.org", b"bob@example.org")).decode())
        r = requests.post(idp.slo_url, data=forged, timeout=10)
        check("POST SLO: the IdP refuses an SP LogoutRequest changed after signing (400)", r.status_code == 400
              and idp.logout_requests[-1].get("signature_verified") is False, f"{r.status_code} {r.text[:200]}")
        answer = requests.post(idp.slo_url, data=posted, timeout=10)
        seen = idp.logout_requests[-1] if idp.logout_requests else {}
        check("POST SLO: the IdP verifies the SP's enveloped signature (xmlsec1) and records NameID and SessionIndex",
              seen.get("binding") == BINDING_HTTP_POST and seen.get("signature_verified") is True and seen.get("enveloped_signature")
              and seen.get("name_id") == "alice@example.org" and seen.get("session_indexes") == [idp.responses[-1]["session_index"]],
              str({k: v for k, v in seen.items() if k != "xml"}))
        back = form_fields(answer.text)
        check("POST SLO: the IdP answers with an auto-submitting form to the SP's HTTP-POST SLO (SAMLResponse, RelayState echoed)",
              answer.status_code == 200 and f'action="{sp_base}/slo"' in answer.text and "SAMLResponse" in back
              and back.get("RelayState") == seen.get("relay_state"), answer.text[:200])
        if "SAMLResponse" in back:
            with open(os.path.join(work, "lresp.xml"), "wb") as f:
                f.write(base64.b64decode(back["SAMLResponse"]))
            v = subprocess.run(["/usr/bin/xmlsec1", "--verify", "--pubkey-cert-pem", idp.cert, "--id-attr:ID", f"{P}:LogoutResponse",
                                os.path.join(work, "lresp.xml")], capture_output=True, text=True)
            check("POST SLO: the IdP's LogoutResponse carries a valid enveloped signature (xmlsec1, IdP certificate)", v.returncode == 0,
                  v.stderr[-200:])
            try:
                lresp = client.parse_logout_request_response(back["SAMLResponse"], BINDING_HTTP_POST)
                check("POST SLO: pysaml2's SP accepts the LogoutResponse: Success", lresp.response.status.status_code.value
                      == "urn:oasis:names:tc:SAML:2.0:status:Success")
            except Exception as error:  # noqa: BLE001
                check("POST SLO: pysaml2's SP accepts the LogoutResponse: Success", False, repr(error)[:300])
    srv.shutdown()
    idp.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--port", type=int)
    ap.add_argument("--trust-sp", action="append", default=[], help="an SP metadata URL")
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    if args.self_test:
        from passkey_signin import check, report_and_exit
        self_test(check)
        self_test_post_and_encryption(check)
        report_and_exit()
    work = tempfile.mkdtemp(prefix="okta-idp-")
    idp = OktaShapedIdP(work, port=args.port)
    for url in args.trust_sp:
        idp.trust_sp(url)
    print(json.dumps({"metadata_url": idp.metadata_url, "entity_id": idp.entity_id, "key": idp.key, "cert": idp.cert}), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
