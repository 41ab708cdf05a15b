#!/usr/bin/env python3
"""A reference relying party with the shape of Sigil's OIDC upstream contract, built from authlib
(code + PKCE, token request) and joserfc (ID-token signature and claims), so the callback attack
battery of interop/oidc_upstream.py can be checked before it meets Sigil: the baseline must be
accepted, every attack refused with the reason the contract names.

It is a test double, not a model of Sigil's code: start (`/login/upstream/{name}`, a SameSite=Strict
binding cookie), callback (`/oidc/rp/{name}/callback`: error, RFC 9207 `iss`, state, code
redemption, the ID token), the same-site continue step (`/callback/continue`: the binding cookie),
sessions (the OP's `sub` and `sid`; `/account` answers 200 while one is alive), back-channel
logout (`/oidc/rp/{name}/backchannel-logout`, Back-Channel Logout 1.0 §2.4-2.8 as Sigil's contract
states it: 200 and the matching sessions ended, or 400 `invalid_request` JSON), a users list and
the audit events in the admin API's shape.

    /opt/peers-venv/bin/python interop/oidc_upstream.py --self-test
"""
import base64, binascii, html, json, os, secrets, threading, time, urllib.parse
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
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Refused(Exception):
    pass


class ReferenceRP:
    def __init__(self, op, name, client_id, secret, port):
        self.op, self.name, self.client_id, self.secret = op, name, client_id, secret
        self.base = f"http://localhost:{port}"
        self.meta = requests.get(op.issuer + "/.well-known/openid-configuration", timeout=5).json()
        self.flows, self.users, self.events, self.lock = {}, {}, [], threading.Lock()
        self.sessions, self.seen_jti = {}, set()  # cookie value -> {"sub", "sid", "alive"}
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

            def send(self, status, body="", headers=(), ctype="text/html; charset=utf-8"):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
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
                    alive = rp.sessions.get(self.cookies().get(SESSION, ""), {}).get("alive")
                    return self.send(200 if alive else 303, "account")
                return self.send(404, "not found")

            def do_POST(self):
                url = urllib.parse.urlparse(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                if url.path == f"/oidc/rp/{rp.name}/backchannel-logout":
                    try:
                        ended = rp.backchannel_logout(body)
                    except Refused as r:
                        rp.audit("upstream.oidc.logout_rejected", reason=str(r))
                        return self.send(400, json.dumps({"error": "invalid_request", "error_description": str(r)}),
                                         [("Cache-Control", "no-store")], "application/json")
                    rp.audit("upstream.oidc.logout_received", after={"sessions_ended": str(ended)})
                    return self.send(200, "", [("Cache-Control", "no-store")], "text/plain")
                form = dict(urllib.parse.parse_qsl(body))
                if url.path == f"/oidc/rp/{rp.name}/callback/continue":
                    try:
                        return_to, claims = rp.finish(form, self.cookies().get(BINDING))
                    except Refused as r:
                        return self.send(400, rp.refusal(str(r)))
                    cookie = secrets.token_urlsafe(16)
                    with rp.lock:
                        rp.sessions[cookie] = {"sub": claims["sub"], "sid": claims.get("sid"), "alive": True}
                    return self.send(200, f"<script>location.replace({json.dumps(return_to)})</script>",
                                     [("Set-Cookie", f"{SESSION}={cookie}; Path=/; HttpOnly; SameSite=Lax")])
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
        return flow["return_to"], c

    def backchannel_logout(self, body):
        """Validates a logout token as the contract says and ends the sessions it names; returns how many."""
        if len(body) > 8192:
            raise Refused("bodyTooLarge")
        token = dict(urllib.parse.parse_qsl(body)).get("logout_token")
        if not token:
            raise Refused("noLogoutToken")
        part = token.split(".")[0]
        try:
            header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            if not isinstance(header, dict) or token.count(".") != 2:
                raise ValueError("not a compact JWS")
        except (ValueError, binascii.Error):
            raise Refused("notAJWS") from None
        if "typ" in header and str(header["typ"]).lower() not in ("logout+jwt", "application/logout+jwt", "jwt"):
            raise Refused("wrongType")
        keys = KeySet.import_key_set(requests.get(self.meta["jwks_uri"], timeout=5).json())
        try:
            c = jwt.decode(token, keys, algorithms=["RS256", "ES256", "EdDSA"]).claims
        except (JoseError, ValueError) as error:
            raise Refused(f"signatureInvalid: {error!r}") from None
        now = time.time()
        aud = c.get("aud") if isinstance(c.get("aud"), list) else [c.get("aud")]
        events = c.get("events")
        checks = (("wrongIssuer", c.get("iss") == self.meta["issuer"]), ("wrongAudience", self.client_id in aud),
                  ("badIssuedAt", isinstance(c.get("iat"), int) and now - 600 <= c["iat"] <= now + 120),
                  ("expired", "exp" not in c or (isinstance(c["exp"], int) and c["exp"] > now - 120)),
                  ("noJti", isinstance(c.get("jti"), str) and c["jti"] != ""),
                  ("noEvent", isinstance(events, dict) and isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict)),
                  ("nonce", "nonce" not in c), ("noSubject", bool(c.get("sub") or c.get("sid"))))
        for reason, ok in checks:
            if not ok:
                raise Refused(reason)
        with self.lock:
            if c["jti"] in self.seen_jti:
                raise Refused("replayed")
            self.seen_jti.add(c["jti"])
            ended = 0
            for sess in self.sessions.values():
                match = sess["sid"] == c["sid"] and c.get("sub", sess["sub"]) == sess["sub"] if c.get("sid") else sess["sub"] == c["sub"]
                if sess["alive"] and match:
                    sess["alive"] = False
                    ended += 1
        return ended

    def user_keys(self):
        with self.lock:
            return sorted((u["email"], u["id"]) for u in self.users.values())

    def shutdown(self):
        self.httpd.shutdown()


__all__ = ["ReferenceRP", "generate_token"]
