"""A stand-in for Sigil's SAML SP endpoints, on pysaml2's SP role, for the self-test of the attack
battery (interop/saml_acs_attacks.py --self-test): the same HTTP contract as Sigil's upstream
connections (start with a binding cookie, ACS answering a continue form, continue step setting the
session, 400 pages with id="error", audit events with a reason, JIT users), so the battery itself
is shown to pass a correct SP and to catch the flaws it is meant to catch (`flaws`: a set of
"no_binding_check", "no_replay_cache", "accept_sha1", "truncate_comment").
"""
import base64, html, re, secrets, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, xmldsig
from saml2.client import Saml2Client
from saml2.config import SPConfig

SESSION = "sigil_session_default"
BINDING = "sigil_upstream_binding"


class FakeSigilSP:
    def __init__(self, work, idp_metadata_file, port, connections=("okta",), flaws=(), email_domain="example.org"):
        self.base = f"http://localhost:{port}"
        self.flaws = set(flaws)
        self.email_domain = email_domain
        self.users = {}  # email -> id
        self.links = {}  # (connection, nameid) -> email
        self.audit = []
        self.pending = {}  # request id -> {connection, binding, return_to}
        self.flows = {}  # flow -> {key, request id, email, names, return_to}
        self.used_assertions = set()
        self.clients = {}
        for name in connections:
            conf = SPConfig()
            conf.load({"entityid": f"{self.base}/saml/sp/{name}/metadata", "xmlsec_binary": "/usr/bin/xmlsec1",
                       "key_file": f"{work}/idp.key", "cert_file": f"{work}/idp.crt",  # any key: the requests' signer
                       "metadata": {"local": [idp_metadata_file]}, "allow_unknown_attributes": True, "accepted_time_diff": 60,
                       "service": {"sp": {"endpoints": {"assertion_consumer_service": [(f"{self.base}/saml/sp/{name}/acs", BINDING_HTTP_POST)]},
                                          "authn_requests_signed": True, "want_response_signed": True, "want_assertions_signed": True,
                                          "allow_unsolicited": False}}})
            self.clients[name] = Saml2Client(conf)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, status, body="", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body.encode())

            def cookies(self):
                out = {}
                for part in (self.headers.get("Cookie") or "").split(";"):
                    if "=" in part:
                        k, v = part.strip().split("=", 1)
                        out[k] = v
                return out

            def do_GET(self):
                path, _, query = self.path.partition("?")
                m = re.fullmatch(r"/login/upstream/([\w-]+)", path)
                if not m or m.group(1) not in fake.clients:
                    return self.reply(404)
                q = dict(urllib.parse.parse_qsl(query))
                client = fake.clients[m.group(1)]
                relay = secrets.token_urlsafe(12)
                rid, info = client.prepare_for_authenticate(relay_state=relay, binding=BINDING_HTTP_REDIRECT, sigalg=xmldsig.SIG_RSA_SHA256)
                binding = secrets.token_urlsafe(16)
                fake.pending[rid] = {"connection": m.group(1), "binding": binding, "return_to": q.get("return_to", "/account")}
                self.reply(302, headers=[("Location", dict(info["headers"])["Location"]),
                                         ("Set-Cookie", f"{BINDING}={binding}; Path=/; HttpOnly; SameSite=Strict")])

            def do_POST(self):
                path = self.path.split("?")[0]
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()))
                m = re.fullmatch(r"/saml/sp/([\w-]+)/acs(/continue)?", path)
                if not m or m.group(1) not in fake.clients:
                    return self.reply(404)
                if m.group(2):
                    return self.continue_step(m.group(1), form)
                try:
                    flow, key = fake.acs(m.group(1), form)
                except Exception as error:  # noqa: BLE001 - a refusal
                    reason = getattr(error, "reason", type(error).__name__)
                    fake.audit.append({"id": secrets.token_hex(8), "action": "upstream.saml.rejected", "reason": reason})
                    return self.reply(400, f"<html><body><p id=\"error\">Sign-in refused: {html.escape(str(error))[:200]}</p></body></html>")
                self.reply(200, f'<html><body><form id="continue-form" method="post" action="/saml/sp/{m.group(1)}/acs/continue">'
                                f'<input type="hidden" name="flow" value="{flow}"><input type="hidden" name="key" value="{key}">'
                                '</form></body></html>')

            def continue_step(self, connection, form):
                f = fake.flows.pop(form.get("flow", ""), None)
                binding = self.cookies().get(BINDING)
                if f is None or f["key"] != form.get("key") or ("no_binding_check" not in fake.flaws and binding != f["binding"]):
                    fake.audit.append({"id": secrets.token_hex(8), "action": "upstream.saml.rejected", "reason": "binding_mismatch"})
                    return self.reply(400, '<html><body><p id="error">This sign-in was started in another browser.</p></body></html>')
                if f["email"] not in fake.users:
                    fake.users[f["email"]] = secrets.token_hex(8)
                    fake.audit.append({"id": secrets.token_hex(8), "action": "user.created", "reason": None})
                fake.audit.append({"id": secrets.token_hex(8), "action": "upstream.saml.accepted", "reason": None})
                self.reply(303, headers=[("Location", f["return_to"]),
                                         ("Set-Cookie", f"{SESSION}=sigil_ss_{secrets.token_hex(16)}; Path=/; HttpOnly; SameSite=Lax")])

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def acs(self, connection, form):
        class Refused(Exception):
            def __init__(self, reason, text):
                super().__init__(text)
                self.reason = reason
        raw = base64.b64decode(form.get("SAMLResponse", ""))
        if b"<!DOCTYPE" in raw:
            raise Refused("dtd", "document type declarations are not accepted")
        doc = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
        if "accept_sha1" not in self.flaws and b"xmldsig#rsa-sha1" in raw:
            raise Refused("weak_algorithm", "RSA-SHA1")
        if len(doc.findall("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")) > 1:
            raise Refused("multiple_assertions", "more than one assertion")
        outstanding = {rid: "/" for rid, p in self.pending.items() if p["connection"] == connection}
        resp = self.clients[connection].parse_authn_request_response(form["SAMLResponse"], BINDING_HTTP_POST, outstanding=outstanding)
        if resp is None:
            raise Refused("invalid", "invalid response")
        # pysaml2 7.5 does not compare SubjectConfirmationData@Recipient with the ACS; Sigil must.
        acs = f"{self.base}/saml/sp/{connection}/acs"
        for scd in doc.iter("{urn:oasis:names:tc:SAML:2.0:assertion}SubjectConfirmationData"):
            if scd.get("Recipient") != acs:
                raise Refused("recipient_mismatch", "Recipient is not this ACS")
        rid = resp.in_response_to
        if not rid:
            raise Refused("unsolicited", "unsolicited")
        pending = self.pending[rid] if "no_replay_cache" in self.flaws else self.pending.pop(rid)
        aid = resp.assertion.id
        if aid in self.used_assertions and "no_replay_cache" not in self.flaws:
            raise Refused("assertion_replayed", "assertion used before")
        self.used_assertions.add(aid)
        nid = doc.find(".//{urn:oasis:names:tc:SAML:2.0:assertion}NameID")
        email = nid.text if "truncate_comment" in self.flaws else "".join(nid.itertext())
        if email.rsplit("@", 1)[-1] != self.email_domain:
            raise Refused("email_domain", f"{email} is outside {self.email_domain}")
        flow, key = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        self.flows[flow] = {"key": key, "binding": pending["binding"], "email": email, "return_to": pending["return_to"]}
        return flow, key

    def shutdown(self):
        self.server.shutdown()
