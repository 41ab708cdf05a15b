#!/usr/bin/env python3
"""A reference relying party with the shape of Sigil's OIDC upstream contract, built from authlib
(code + PKCE, token request) and joserfc (ID-token signature and claims), so the callback attack
battery of interop/oidc_upstream.py can be checked before it meets Sigil: the baseline must be
accepted, every attack refused with the reason the contract names.

It is a test double, not a model of Sigil's code: start (`/login/upstream/{name}`, a SameSite=Strict
binding cookie), callback (`/oidc/rp/{name}/callback`: error, RFC 9207 `iss`, state, code
redemption, the ID token), the same-site continue step (`/callback/continue`: the binding cookie),
a users list and the audit events in the admin API's shape.

    /opt/peers-venv/bin/python interop/oidc_upstream.py --self-test
"""
import html, json, os, secrets, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.common.security import generate_token
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

SESSION = "sigil_session_default"
BINDING = "sigil_upstream_binding"


class Refused(Exception):
    pass


class ReferenceRP:
    def __init__(self, op, name, client_id, secret, port):
        self.op, self.name, self.client_id, self.secret = op, name, client_id, secret
        self.base = f"http://localhost:{port}"
        self.meta = requests.get(op.issuer + "/.well-known/openid-configuration", timeout=5).json()
        self.flows, self.users, self.events, self.lock = {}, {}, [], threading.Lock()
        rp = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def cookies(self):
                out = {}
                for part in (self.headers.get("Cookie") or "").split(";"):
                    if "=" in part:
                        k, v = part.strip().split("=", 1)
                        out[k] = v
                return out

            def send(self, status, body="", headers=()):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if url.path == f"/login/upstream/{rp.name}":
                    loc, binding = rp.start(q.get("return_to", "/account"))
                    return self.send(303, "", [("Location", loc),
                                               ("Set-Cookie", f"{BINDING}={binding}; Path=/; HttpOnly; SameSite=Strict")])
                if url.path == f"/oidc/rp/{rp.name}/callback":
                    try:
                        flow, key = rp.callback(q)
                    except Refused as r:
                        return self.send(400, rp.refusal(str(r)))
                    return self.send(200, f'<html><body><form id="continue-form" method="post" action="/oidc/rp/{rp.name}/callback/continue">'
                                          f'<input type="hidden" name="flow" value="{flow}"><input type="hidden" name="key" value="{key}">'
                                          '</form></body></html>')
                if url.path == "/api/admin/v1/audit-events":
                    with rp.lock:
                        return self.send(200, json.dumps({"items": list(reversed(rp.events))}))
                if url.path == "/account":
                    return self.send(200 if SESSION in self.cookies() else 303, "account")
                return self.send(404, "not found")

            def do_POST(self):
                url = urllib.parse.urlparse(self.path)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()))
                if url.path == f"/oidc/rp/{rp.name}/callback/continue":
                    try:
                        return_to = rp.finish(form, self.cookies().get(BINDING))
                    except Refused as r:
                        return self.send(400, rp.refusal(str(r)))
                    return self.send(200, f"<script>location.replace({json.dumps(return_to)})</script>",
                                     [("Set-Cookie", f"{SESSION}={secrets.token_urlsafe(16)}; Path=/; HttpOnly; SameSite=Lax")])
                return self.send(404, "not found")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def audit(self, action, **details):
        with self.lock:
            self.events.append({"id": secrets.token_hex(8), "action": action, **details})

    def refusal(self, reason):
        self.audit("upstream.oidc.rejected", reason=reason)
        return f'<html><body><h1>Sign-in refused</h1><p id="error">Reason: <code>{html.escape(reason.split(":")[0])}</code></p></body></html>'

    def start(self, return_to):
        state, nonce, verifier, binding = (secrets.token_urlsafe(24) for _ in range(4))
        self.flows[state] = {"nonce": nonce, "verifier": verifier, "binding": binding, "return_to": return_to if return_to.startswith("/")
                             and not return_to.startswith("//") else "/account", "status": "started"}
        sess = OAuth2Session(self.client_id, self.secret, scope="openid email profile",
                             redirect_uri=f"{self.base}/oidc/rp/{self.name}/callback", code_challenge_method="S256")
        url, _ = sess.create_authorization_url(self.meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier)
        return url, binding

    def callback(self, q):
        state = q.get("state")
        flow = self.flows.get(state or "")
        if flow is None:
            raise Refused("invalidState")
        if flow["status"] != "started":
            raise Refused("replayed")
        flow["status"] = "called back"
        if q.get("iss") != self.meta["issuer"]:
            raise Refused("mixUp")
        if "error" in q:
            raise Refused("accessDenied" if q["error"] == "access_denied" else "providerError")
        if not q.get("code"):
            raise Refused("noCode")
        sess = OAuth2Session(self.client_id, self.secret, redirect_uri=f"{self.base}/oidc/rp/{self.name}/callback",
                             token_endpoint_auth_method="client_secret_basic")
        try:
            tok = sess.fetch_token(self.meta["token_endpoint"], code=q["code"], code_verifier=flow["verifier"])
        except Exception as error:  # noqa: BLE001
            raise Refused(f"tokenRequestFailed: {error}")
        if "id_token" not in tok:
            raise Refused("noIdToken")
        keys = KeySet.import_key_set(requests.get(self.meta["jwks_uri"], timeout=5).json())
        try:
            t = jwt.decode(tok["id_token"], keys, algorithms=["RS256", "ES256", "EdDSA"])
        except (JoseError, ValueError) as error:
            raise Refused(f"signatureInvalid: {error!r}")
        c = t.claims
        if c.get("iss") != self.meta["issuer"]:
            raise Refused("wrongIssuer")
        aud = c.get("aud") if isinstance(c.get("aud"), list) else [c.get("aud")]
        if aud != [self.client_id] or c.get("azp", self.client_id) != self.client_id:
            raise Refused("wrongAudience")
        now = time.time()
        if not isinstance(c.get("exp"), int) or c["exp"] < now - 60 or not isinstance(c.get("iat"), int) or c["iat"] > now + 60:
            raise Refused("expired")
        if c.get("nonce") != flow["nonce"]:
            raise Refused("badNonce")
        if not c.get("sub"):
            raise Refused("noSubject")
        if not c.get("email"):
            raise Refused("noEmail")
        if c.get("email_verified") is False:
            raise Refused("emailUnverified")
        flow.update(status="validated", claims=c, key=secrets.token_urlsafe(16))
        return state, flow["key"]

    def finish(self, form, binding):
        flow = self.flows.get(form.get("flow", ""))
        if flow is None or flow.get("key") != form.get("key"):
            raise Refused("invalidState")
        if flow["status"] != "validated":
            raise Refused("replayed")
        if binding != flow["binding"]:
            flow["status"] = "refused"
            raise Refused("otherBrowser")
        flow["status"] = "done"
        c = flow["claims"]
        with self.lock:
            if c["sub"] not in self.users:
                self.users[c["sub"]] = {"id": secrets.token_hex(8), "email": c["email"]}
                self.events.append({"id": secrets.token_hex(8), "action": "user.created"})
        self.audit("upstream.oidc.accepted")
        return flow["return_to"]

    def user_keys(self):
        with self.lock:
            return sorted((u["email"], u["id"]) for u in self.users.values())

    def shutdown(self):
        self.httpd.shutdown()


__all__ = ["ReferenceRP", "generate_token"]
