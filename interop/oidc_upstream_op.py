#!/usr/bin/env python3
"""An upstream OpenID Provider on idpyoidc's OP (`idpyoidc.server`), for testing Sigil as an OIDC
relying party (issue 12: OIDC upstreams).

idpyoidc does the protocol: discovery, the authorization endpoint (request checks, PKCE S256 as
essential, `iss` in the authorization response per RFC 9207), pushed authorization requests
(RFC 9126), the token endpoint (client_secret_basic, client_secret_post and private_key_jwt
verified against the client's jwks_uri; code_verifier; one use per code), userinfo, and ID tokens
signed RS256 with its keyjar. This file adds only the web server around it (stdlib http.server),
a tiny login page (a username, no password: a test OP) mapping usernames to email / given_name /
family_name, a "Cancel" button that answers `error=access_denied`, a check that each client
authenticates with the method it registered, and:

  * `misbehave(mode)`: the next token responses carry a deliberately wrong ID token (wrong aud,
    wrong iss, expired, bad nonce, unknown key, alg none, HS256 with the RSA public key as secret,
    a bad signature, ...), for the relying party's attack battery;
  * `begin_rollover()` / `finish_rollover()`: a signing-key rollover (JWKS publishes old + new and
    idpyoidc signs with the new key; then the old key leaves the JWKS);
  * logout, by idpyoidc's own Session endpoint (`idpyoidc.server.oidc.session.Session`): discovery
    has `end_session_endpoint`, `backchannel_logout_supported` and `backchannel_logout_session_supported`
    (`UpstreamOP(logout=False)`: an OP without them). The login sets idpyoidc's session cookie
    (single sign-on when `sso` is on: the login page is skipped while the cookie names a live
    session). `/end_session` (RP-Initiated Logout 1.0) verifies id_token_hint as its own ID token,
    that client_id is one of its audiences, post_logout_redirect_uri registered for the client
    (`add_client(post_logout_redirect_uris=...)`) and the session cookie, then shows a "Sign out of
    Acme OP?" page (`#op-logout-confirm`); confirming ends the OP session, POSTs idpyoidc's logout
    tokens (do_back_channel_logout: RS256, sid, jti, the event; no typ, a day's exp) to every
    client of the user with a `backchannel_logout_uri`, clears the cookie and returns to
    post_logout_redirect_uri?state=. `backchannel_logout(username, client_id)` makes the OP end
    one client's session itself (an administrator's sign-out) and returns the relying party's
    answer; `craft_logout_token(client_id, sign=..., **claims)` builds logout tokens with cryptojwt
    for the attack battery (altered claims, attacker keys, alg none, HS256). Every back-channel
    POST the OP makes is in `events("backchannel")` with the answer.

    /opt/peers-venv/bin/python interop/oidc_upstream_op.py --self-test   # against authlib's client (and requests for logout)
    /opt/peers-venv/bin/python interop/oidc_upstream_op.py --serve [--port P] [--client-id ID --redirect-uri U ...]
"""
import argparse, base64, hashlib, hmac, html, json, os, secrets, sys, tempfile, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import logging
import requests
from cryptography.hazmat.primitives import serialization
from cryptojwt.jwk.rsa import new_rsa_key
from cryptojwt.jws.jws import JWS, factory as jws_factory
from cryptojwt.key_bundle import KeyBundle
from cryptojwt.jws.rsa import RSASigner
from idpyoidc.message.oidc import AccessTokenRequest, AuthorizationRequest, verified_claim_name
from idpyoidc.message.oidc.session import BACK_CHANNEL_LOGOUT_EVENT as BACKCHANNEL_LOGOUT_EVENT
from idpyoidc.server import Server
from idpyoidc.server.configure import OPConfiguration
from idpyoidc.server.oauth2.add_on.pkce import CC_METHOD
from idpyoidc.server.oidc.token import Token
from idpyoidc.server.user_authn.user import UserAuthnMethod

logging.getLogger("idpyoidc").setLevel(logging.CRITICAL)
logging.getLogger("cryptojwt").setLevel(logging.CRITICAL)

USERS = {
    "alice": {"email": "alice@example.org", "email_verified": True, "given_name": "Alice", "family_name": "Liddell"},
    "bob": {"email": "bob@example.org", "email_verified": True, "given_name": "Bob", "family_name": "Builder"},
    "carol": {"email": "carol@example.org", "email_verified": True, "given_name": "Carol", "family_name": "Danvers"},
    "dave": {"email": "dave@example.org", "email_verified": True, "given_name": "Dave", "family_name": "Keys"},
    "erin": {"email": "erin@example.org", "email_verified": True, "given_name": "Erin", "family_name": "Par"},
    "frank": {"email": "frank@example.org", "email_verified": True, "given_name": "Frank", "family_name": "Roll"},
    "mallory": {"email": "mallory@example.org", "email_verified": True, "given_name": "Mallory", "family_name": "Attacker"},
    "victor": {"email": "victor@example.org", "email_verified": False, "given_name": "Victor", "family_name": "Unverified"},
    "nomail": {"given_name": "No", "family_name": "Mail"},
}
for _uid, _u in USERS.items():
    _u["sub"] = "op-" + _uid  # a stable subject, as an OP's would be
    _u.setdefault("name", f"{_u['given_name']} {_u['family_name']}")

# The ID token misbehaviours `misbehave(mode)` offers.
MODES = ("wrong_aud", "extra_aud_no_azp", "wrong_azp", "wrong_iss", "expired", "future_iat", "bad_nonce", "no_nonce",
         "unknown_kid", "known_kid_other_key", "bad_signature", "alg_none", "hs256_public_key", "no_sub", "no_id_token",
         "email_unverified_claim", "not_a_jwt", "token_500")


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def duplicated(body):
    names = [k for k, _ in urllib.parse.parse_qsl(body, keep_blank_values=True)]
    return sorted({k for k in names if names.count(k) > 1})


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class UsernameLogin(UserAuthnMethod):
    """idpyoidc's authentication hook: instead of authenticating, returns the login page (idpyoidc
    hands us the request to resume afterwards). The OP below keeps the request under a one-time
    ticket; the page posts the ticket and the username to /login."""

    url_endpoint = "/login"

    def __init__(self, upstream_get=None, **kwargs):
        super().__init__(upstream_get=upstream_get)
        self.tickets = {}

    def __call__(self, **kwargs):
        ticket = secrets.token_urlsafe(16)
        self.tickets[ticket] = kwargs  # query, authn_class_ref, return_uri
        return LOGIN_PAGE.format(ticket=html.escape(ticket))

    def verify(self, *args, **kwargs):
        return kwargs.get("username") in USERS


LOGIN_PAGE = """<!doctype html>
<html><head><title>Acme OP - sign in</title></head><body>
<h1 id="op-title">Acme OP</h1>
<form method="post" action="/login" id="op-login">
  <input type="hidden" name="ticket" value="{ticket}">
  <label>Username <input id="op-username" name="username" autocomplete="username"></label>
  <button id="op-submit" type="submit" name="action" value="login">Sign in</button>
  <button id="op-cancel" type="submit" name="action" value="cancel">Cancel</button>
</form></body></html>"""


def op_config(issuer, work, par=True, logout=True):
    endpoints = {
        "provider_config": {"path": ".well-known/openid-configuration",
                            "class": "idpyoidc.server.oidc.provider_config.ProviderConfiguration", "kwargs": {}},
        "authorization": {"path": "authorization", "class": "idpyoidc.server.oidc.authorization.Authorization",
                          "kwargs": {"response_types_supported": ["code"], "response_modes_supported": ["query"],
                                     "request_uri_parameter_supported": par, "request_parameter_supported": False}},
        "token": {"path": "token", "class": "idpyoidc.server.oidc.token.Token",
                  "kwargs": {"client_authn_method": ["client_secret_basic", "client_secret_post", "private_key_jwt"]}},
        "userinfo": {"path": "userinfo", "class": "idpyoidc.server.oidc.userinfo.UserInfo", "kwargs": {}},
    }
    if logout:
        # OpenID Connect RP-Initiated Logout 1.0 and Back-Channel Logout 1.0, idpyoidc's own
        # endpoint: end_session checks id_token_hint (its own signature), post_logout_redirect_uri
        # (registered for the client) and the OP's session cookie, then sends the browser to the
        # confirmation page (logout_verify_url); the confirmation ends the session and POSTs
        # logout tokens to the clients' backchannel_logout_uri.
        endpoints["session"] = {
            "path": "end_session", "class": "idpyoidc.server.oidc.session.Session",
            "kwargs": {"logout_verify_url": issuer + "/verify_logout", "post_logout_uri_path": "post_logout",
                       "signing_alg": "RS256", "frontchannel_logout_supported": False,
                       "backchannel_logout_supported": True, "backchannel_logout_session_supported": True}}
    if par:
        endpoints["pushed_authorization"] = {
            "path": "par", "class": "idpyoidc.server.oauth2.pushed_authorization.PushedAuthorization",
            "kwargs": {"client_authn_method": ["client_secret_basic", "client_secret_post", "private_key_jwt"]}}
    return {
        "issuer": issuer,
        "httpc_params": {"verify": False, "timeout": 5},
        "keys": {"key_defs": [{"type": "RSA", "use": ["sig"]}, {"type": "EC", "crv": "P-256", "use": ["sig"]},
                              {"type": "OKP", "crv": "Ed25519", "use": ["sig"]}], "uri_path": "jwks"},
        "capabilities": {"subject_types_supported": ["public"], "grant_types_supported": ["authorization_code"],
                         "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
                         "scopes_supported": ["openid", "email", "profile"],
                         "claims_supported": ["sub", "email", "email_verified", "given_name", "family_name", "name"]},
        "add_on": {"pkce": {"function": "idpyoidc.server.oauth2.add_on.pkce.add_support",
                            "kwargs": {"essential": True, "code_challenge_methods": {"S256": CC_METHOD["S256"]}}}},
        "authentication": {"user": {"acr": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                                    "class": UsernameLogin, "kwargs": {}}},
        "authz": {"class": "idpyoidc.server.authz.AuthzHandling",
                  "kwargs": {"grant_config": {"usage_rules": {
                      "authorization_code": {"supports_minting": ["access_token", "id_token"], "max_usage": 1},
                      "access_token": {}}, "expires_in": 43200}}},
        "token_handler_args": {"jwks_def": {"private_path": os.path.join(work, "op-token-jwks.json"),
                                            "key_defs": [{"type": "oct", "bytes": 24, "use": ["enc"], "kid": "code"}],
                                            "read_only": False},
                               "code": {"kwargs": {"lifetime": 600}},
                               "token": {"kwargs": {"lifetime": 3600}},
                               "id_token": {"class": "idpyoidc.server.token.id_token.IDToken",
                                            "kwargs": {"add_claims_by_scope": True, "enable_claims_per_client": True}}},
        "cookie_handler": {"class": "idpyoidc.server.cookie_handler.CookieHandler",
                           "kwargs": {"keys": {"key_defs": [{"type": "OCT", "use": ["enc"], "kid": "enc"},
                                                            {"type": "OCT", "use": ["sig"], "kid": "sig"}]},
                                      "name": {"session": "acme_op_session", "register": "acme_op_rp",
                                               "session_management": "acme_op_sman"}}},
        "userinfo": {"class": "idpyoidc.server.user_info.UserInfo", "kwargs": {"db": USERS}},
        "claims_interface": {"class": "idpyoidc.server.session.claims.ClaimsInterface", "kwargs": {}},
        "endpoint": endpoints,
        "session_params": {"encrypter": {"kwargs": {"keys": {"key_defs": [
            {"type": "OCT", "use": ["enc"], "kid": "password"}, {"type": "OCT", "use": ["enc"], "kid": "salt"}]},
            "iterations": 1}}},
        "template_dir": work,
    }


class UpstreamOP:
    """idpyoidc's OP on http://127.0.0.1:PORT (the issuer has no path)."""

    def __init__(self, work=None, port=None, par=True, claims_in_id_token=True, logout=True):
        self.work = work or tempfile.mkdtemp(prefix="oidc-upstream-op-")
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.par = par
        self.logout = logout       # an end_session_endpoint and back-channel logout (False: an OP without them)
        self.lock = threading.RLock()
        self.server = Server(OPConfiguration(conf=op_config(self.issuer, self.work, par, logout), base_path=self.work,
                                             domain="127.0.0.1", port=self.port), cwd=self.work)
        self.context = self.server.context
        self.keyjar = self.server.keyjar
        self.authn = self.context.authn_broker.get_method_by_id("user")
        if logout:
            # Back-Channel Logout 1.0 §2.1 names the OP's metadata backchannel_logout_session_supported;
            # idpyoidc 5.0.0 advertises backchannel_logout_session_required instead (and reads the
            # former when it decides to put sid in ID tokens). Both, so discovery says the standard one.
            self.context.provider_info["backchannel_logout_session_supported"] = True
            for k in ("frontchannel_logout_supported", "frontchannel_logout_session_required"):
                self.context.provider_info.pop(k, None)  # no front-channel logout here
        # idpyoidc POSTs its logout tokens through context.httpc: recorded (what was sent, what came back).
        self.context.httpc = self._outbound
        if logout:
            # A browser's end-session request carries no client authentication. idpyoidc 5.0.0's
            # Session.parse_request runs its client authentication anyway, the "none" method answers,
            # and it then fails on the missing token (KeyError 'token'): switched off for this endpoint.
            self.endpoint("session").client_authentication = lambda *args, **kwargs: {}
        self.sso = False           # honour the OP's session cookie at the authorization endpoint (single sign-on)
        # private_key_jwt audiences: the token endpoint accepts its URL or the issuer (OIDC Core §9,
        # RFC 7523); the PAR endpoint also its own URL (RFC 9126 §2). idpyoidc's default is the
        # endpoint's own URL only.
        self.endpoint("token").allowed_targets = ["", "token"]
        if par:
            self.endpoint("pushed_authorization").allowed_targets = ["", "token", "pushed_authorization"]
        self.claims_in_id_token = claims_in_id_token
        self.mode = None           # an ID token misbehaviour for the next token responses
        self.refuse_par = False    # the PAR endpoint answers 400 invalid_request
        self.discovery_patch = {}  # members replaced in (None: removed from) the discovery document
        self.userinfo_patch = {}   # members replaced in userinfo responses
        self.signing_override = None  # a key (cryptojwt RSAKey) that signs the ID tokens instead, e.g. a retired one
        self.mode_key = new_rsa_key(key_size=2048, kid="attacker-1")
        self.retired = []          # public JWKs still published during a rollover
        self.registered_auth = {}  # client_id -> token_endpoint_auth_method
        self.log = []              # what happened, in order: dicts with "event"
        self.errors = []
        op = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send(self, status, body, ctype="application/json", headers=()):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def http_info(self):
                jar = []
                for part in (self.headers.get("Cookie") or "").split(";"):
                    if "=" in part:
                        k, v = part.strip().split("=", 1)
                        jar.append({"name": k, "value": v})
                # "cookie" stays empty: idpyoidc sees the OP's session cookie only where dispatch() hands it over
                return {"headers": {k.lower(): v for k, v in self.headers.items() if k.lower() not in ("cookie", "user-agent")},
                        "method": self.command, "url": op.issuer + self.path, "cookie": [], "op_cookies": jar}

            def do_GET(self):
                self.handle_any()

            def do_POST(self):
                self.handle_any()

            def handle_any(self):
                url = urllib.parse.urlparse(self.path)
                if self.command == "POST":
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0)).decode()
                else:
                    body = url.query
                form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
                try:
                    if url.path in ("/jwks", "/.well-known/openid-configuration"):
                        # read-only, and without the lock: the OP may be waiting (holding it) on a relying
                        # party's back-channel endpoint that fetches the JWKS to verify the logout token
                        status, out, ctype, headers = op.dispatch(url.path, self.command, form, body, self.http_info())
                    else:
                        with op.lock:
                            status, out, ctype, headers = op.dispatch(url.path, self.command, form, body, self.http_info())
                except Exception as error:  # noqa: BLE001 - an OP bug is a 500 the test shows
                    import traceback
                    op.errors.append(traceback.format_exc())
                    status, out, ctype, headers = 500, json.dumps({"error": "server_error", "error_description": repr(error)}), \
                        "application/json", []
                self.send(status, out, ctype, headers)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    # --- endpoints -------------------------------------------------------------------------------

    def endpoint(self, name):
        return self.server.get_endpoint(name)

    def dispatch(self, path, method, form, body, http_info):
        if path == "/.well-known/openid-configuration":
            self.log.append({"event": "discovery"})
            ep = self.endpoint("provider_config")
            args = ep.process_request(ep.parse_request({}, http_info=http_info), http_info=http_info)
            ra = args["response_args"]
            doc = dict(ra.to_dict() if hasattr(ra, "to_dict") else ra)
            doc["authorization_response_iss_parameter_supported"] = True
            doc["code_challenge_methods_supported"] = ["S256"]
            if self.par:
                doc["require_pushed_authorization_requests"] = False
            for k, v in self.discovery_patch.items():  # a misconfigured or hostile discovery document
                if v is None:
                    doc.pop(k, None)
                else:
                    doc[k] = v
            return 200, json.dumps(doc), "application/json", []
        if path == "/jwks":
            self.log.append({"event": "jwks", "kids": [k.get("kid") for k in self.jwks()["keys"]], "at": time.time()})
            return 200, json.dumps(self.jwks()), "application/json", []
        if path == "/authorization":
            return self.authorization(form, http_info)
        if path == "/end_session" and self.logout:
            return self.end_session(form, http_info)
        if path == "/verify_logout" and self.logout:
            return self.verify_logout(method, form, http_info)
        if path == "/post_logout":
            return 200, "<html><body><h1 id='op-logged-out'>Signed out of Acme OP</h1></body></html>", "text/html", []
        if path == "/login" and method == "POST":
            return self.login(form)
        if path == "/par" and method == "POST":
            return self.pushed(form, body, http_info)
        if path == "/token" and method == "POST":
            return self.token(form, body, http_info)
        if path == "/userinfo":
            ep = self.endpoint("userinfo")
            req = ep.parse_request(form, http_info=http_info)
            if "error" in req:
                return 401, req.to_json(), "application/json", []
            args = ep.process_request(req, http_info=http_info)
            if "error" in args:
                return 401, json.dumps(args if isinstance(args, dict) else args.to_dict()), "application/json", []
            info = args["response_args"]
            out = info.to_dict() if hasattr(info, "to_dict") else dict(info)
            out.update(self.userinfo_patch)  # e.g. another subject's claims
            self.log.append({"event": "userinfo", "sub": out.get("sub")})
            return 200, json.dumps(out), "application/json", []
        self.log.append({"event": "not_found", "path": path, "method": method})
        return 404, json.dumps({"error": "not_found"}), "application/json", []

    def authorization(self, form, http_info):
        ep = self.endpoint("authorization")
        self.log.append({"event": "authorization", "params": dict(form)})
        uri = form.get("request_uri", "")
        if uri:
            # RFC 9126 §4: client_id and request_uri are all the authorization request needs.
            # idpyoidc 5.0.0's parser wants response_type (and the rest) before it looks at
            # request_uri, so the pushed request it stored is restored here (one use; same client).
            pushed = self.context.par_db.pop(uri, None)
            if pushed is None or pushed.get("client_id") != form.get("client_id"):
                self.log[-1]["error"] = "unknown, used or another client's request_uri"
                return 400, "<html><body><p id='op-error'>invalid_request_uri</p></body></html>", "text/html", []
            form = {k: (" ".join(v) if isinstance(v, list) else v) for k, v in pushed.to_dict().items()}
            self.log[-1]["pushed"] = True
        req = ep.parse_request(dict(form), http_info=http_info)
        if "error" in req:
            self.log[-1]["error"] = req.to_dict()
            return 400, f"<html><body><p id='op-error'>{html.escape(req.to_json())}</p></body></html>", "text/html", []
        self.log[-1]["resolved"] = req.to_dict()
        if self.sso:  # idpyoidc looks for its session cookie and skips the login page when it is valid
            http_info = dict(http_info, cookie=http_info["op_cookies"])
        args = ep.process_request(req, http_info=http_info)
        if "error" in args:
            return 400, f"<html><body><p id='op-error'>{html.escape(json.dumps(args, default=str))}</p></body></html>", "text/html", []
        if "http_response" in args:
            return 200, args["http_response"], "text/html; charset=utf-8", []
        self.log.append({"event": "sso", "client_id": req["client_id"]})  # signed in already: no login page
        return self.finish_authorization(ep, req, args)

    def finish_authorization(self, ep, req, args):
        info = ep.do_response(request=req, **args)
        headers = [("Location", info["response"])]
        for c in args.get("cookie") or []:  # idpyoidc's session cookie: single sign-on, and what end_session reads
            headers.append(("Set-Cookie", f"{c['name']}={c['value']}; Path=/; HttpOnly; SameSite=Lax"))
        return 303, "", "text/plain", headers

    def login(self, form):
        ticket = self.authn.tickets.pop(form.get("ticket", ""), None)
        if ticket is None:
            return 400, "<p id='op-error'>unknown or used login ticket</p>", "text/html", []
        req = AuthorizationRequest().from_urlencoded(ticket["query"])
        if form.get("action") == "cancel":
            params = {"error": "access_denied", "error_description": "The user cancelled the sign-in", "iss": self.issuer}
            if "state" in req:
                params["state"] = req["state"]
            self.log.append({"event": "access_denied", "client_id": req["client_id"]})
            return 303, "", "text/plain", [("Location", req["redirect_uri"] + "?" + urllib.parse.urlencode(params))]
        username = form.get("username", "").strip()
        if not self.authn.verify(username=username):
            return 403, "<p id='op-error'>no such user</p>", "text/html", []
        ep = self.endpoint("authorization")
        session_id = ep.create_session(req, username, ticket["authn_class_ref"], int(time.time()), self.authn)
        args = ep.authz_part2(request=req, session_id=session_id)
        if "error" in args:
            return 400, json.dumps(args, default=str), "application/json", []
        self.log.append({"event": "login", "username": username, "client_id": req["client_id"]})
        return self.finish_authorization(ep, req, args)

    def client_auth_used(self, form, http_info):
        if form.get("client_assertion"):
            return "private_key_jwt"
        if http_info["headers"].get("authorization", "").lower().startswith("basic "):
            return "client_secret_basic"
        if form.get("client_secret"):
            return "client_secret_post"
        return "none"

    def pushed(self, form, body, http_info):
        used = self.client_auth_used(form, http_info)
        ep = self.endpoint("pushed_authorization")
        entry = {"event": "par", "params": {k: v for k, v in form.items() if k not in ("client_secret", "client_assertion")},
                 "auth": used, "names": [k for k, _ in urllib.parse.parse_qsl(body, keep_blank_values=True)]}
        self.log.append(entry)
        cid = form.get("client_id") or self.basic_client_id(http_info)
        if self.refuse_par:
            entry["error"] = "refused on purpose"
            return 400, json.dumps({"error": "invalid_request", "error_description": "refused on purpose"}), "application/json", []
        if cid in self.registered_auth and used != self.registered_auth[cid]:
            entry["error"] = f"registered {self.registered_auth[cid]}, used {used}"
            return 401, json.dumps({"error": "invalid_client", "error_description": entry["error"]}), "application/json", []
        dup = duplicated(body)
        if dup:  # RFC 6749 §3.2: parameters MUST NOT be included more than once (idpyoidc raises TooManyValues)
            entry["error"] = f"repeated parameters {dup}"
            return 400, json.dumps({"error": "invalid_request", "error_description": entry["error"]}), "application/json", []
        req = ep.parse_request(body, http_info=http_info)
        if "error" in req:
            entry["error"] = req.to_dict()
            return 400, req.to_json(), "application/json", []
        # PKCE is checked when the pushed request is used (parse_request of the authorization endpoint).
        args = ep.process_request(req, http_info=http_info)
        entry["request_uri"] = args["http_response"]["request_uri"]
        return 201, json.dumps(args["http_response"]), "application/json", []

    @staticmethod
    def basic_client_id(http_info):
        h = http_info["headers"].get("authorization", "")
        if h.lower().startswith("basic "):
            try:
                return urllib.parse.unquote(base64.b64decode(h[6:]).decode().split(":", 1)[0])
            except Exception:  # noqa: BLE001
                return None
        return None

    def token(self, form, body, http_info):
        used = self.client_auth_used(form, http_info)
        cid = form.get("client_id") or self.basic_client_id(http_info)
        if not cid and form.get("client_assertion"):
            try:
                cid = json.loads(b64u_decode(form["client_assertion"].split(".")[1])).get("iss")
            except Exception:  # noqa: BLE001
                cid = None
        entry = {"event": "token", "client_id": cid, "auth": used, "code_verifier": bool(form.get("code_verifier")),
                 "grant_type": form.get("grant_type"), "mode": self.mode,
                 "names": [k for k, _ in urllib.parse.parse_qsl(body, keep_blank_values=True)]}
        if form.get("client_assertion"):
            try:
                entry["client_assertion"] = json.loads(b64u_decode(form["client_assertion"].split(".")[1]))
                entry["client_assertion_header"] = json.loads(b64u_decode(form["client_assertion"].split(".")[0]))
            except Exception:  # noqa: BLE001
                pass
        self.log.append(entry)
        if self.mode == "token_500":
            entry["error"] = "answered 500 on purpose"
            return 500, "<html><body>Internal Server Error</body></html>", "text/html", []
        if cid in self.registered_auth and used != self.registered_auth[cid]:
            entry["error"] = f"registered {self.registered_auth[cid]}, used {used}"
            return 401, json.dumps({"error": "invalid_client", "error_description": entry["error"]}), "application/json", []
        dup = duplicated(body)
        if dup:
            entry["error"] = f"repeated parameters {dup}"
            return 400, json.dumps({"error": "invalid_request", "error_description": entry["error"]}), "application/json", []
        ep = self.endpoint("token")
        req = ep.parse_request(body, http_info=http_info)
        if "error" in req:
            entry["error"] = req.to_dict()
            status = 401 if req.get("error") in ("invalid_client", "unauthorized_client") else 400
            return status, req.to_json(), "application/json", []
        args = ep.process_request(AccessTokenRequest(**req.to_dict()) if isinstance(ep, Token) else req, http_info=http_info)
        if "error" in args:
            entry["error"] = args if isinstance(args, dict) else args.to_dict()
            out = args.to_json() if hasattr(args, "to_json") else json.dumps(args, default=str)
            return 400, out, "application/json", []
        ra = args["response_args"]
        resp = dict(ra.to_dict() if hasattr(ra, "to_dict") else ra)
        entry["ok"] = True
        if self.mode and "id_token" in resp:
            resp = self.apply_mode(resp, cid)
        elif self.signing_override is not None and "id_token" in resp:
            claims = json.loads(b64u_decode(resp["id_token"].split(".")[1]))
            resp["id_token"] = self._sign_rs256({"kid": self.signing_override.kid}, claims, self.signing_override)
        entry["id_token"] = resp.get("id_token")
        try:
            idc = json.loads(b64u_decode(resp["id_token"].split(".")[1]))
            entry["sub"], entry["sid"] = idc.get("sub"), idc.get("sid")
            entry["user"] = self.context.session_manager.decrypt_session_id(idc["sid"])[0] if idc.get("sid") else None
        except Exception:  # noqa: BLE001 - none, or not a JWT on purpose
            pass
        return 200, json.dumps(resp), "application/json", []

    # --- logout ----------------------------------------------------------------------------------

    def end_session(self, form, http_info):
        """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2) by idpyoidc's Session
        endpoint: id_token_hint verified as an ID token this OP signed, post_logout_redirect_uri
        registered for the client, the session named by the OP's cookie; then the browser goes to
        the confirmation page. Added here: client_id, when sent, must be an audience of the hint (§2)."""
        ep = self.endpoint("session")
        entry = {"event": "end_session", "params": dict(form), "cookie": bool(http_info["op_cookies"])}
        self.log.append(entry)
        try:
            req = ep.parse_request(dict(form), http_info=dict(http_info, cookie=http_info["op_cookies"]))
            if "error" in req:
                raise ValueError(req.to_json())
            hint = req.get(verified_claim_name("id_token_hint"))
            if hint is not None:
                entry["hint"] = hint.to_dict()
                aud = hint["aud"] if isinstance(hint["aud"], list) else [hint["aud"]]
                if form.get("client_id") and form["client_id"] not in aud:
                    raise ValueError(f"client_id {form['client_id']} is not an audience of id_token_hint ({aud})")
            out = ep.process_request(req, http_info=dict(http_info, cookie=http_info["op_cookies"]))
        except Exception as error:  # noqa: BLE001 - idpyoidc raises for each refusal
            entry["error"] = f"{type(error).__name__}: {error}"
            return 400, f"<html><body><p id='op-error'>{html.escape(entry['error'])}</p></body></html>", "text/html", []
        entry["ok"] = True
        entry["hint_verified"] = hint is not None
        return 303, "", "text/plain", [("Location", out["redirect_location"])]

    def verify_logout(self, method, form, http_info):
        """The OP's "Sign out of Acme OP?" page (idpyoidc's logout_verify_url); its Yes ends the OP
        session (do_verified_logout: a logout token to each of the user's clients with a
        backchannel_logout_uri), clears the OP's cookies and returns to the relying party's
        post_logout_redirect_uri with its state. idpyoidc 5.0.0 (logout_all_clients) names, per
        client, the sid of the user's first grant with an ID token, which after an earlier logout
        is that old, already ended session rather than the current one: the tests use a fresh user
        where the sid matters."""
        ep = self.endpoint("session")
        try:
            info = ep.unpack_signed_jwt(form.get("sjwt", ""))
        except Exception as error:  # noqa: BLE001
            return 400, f"<html><body><p id='op-error'>bad sjwt: {html.escape(repr(error))}</p></body></html>", "text/html", []
        if method == "GET":
            return 200, ("<!doctype html><html><head><title>Acme OP - sign out</title></head><body><h1>Sign out of Acme OP?</h1>"
                         "<form method='post' action='/verify_logout' id='op-logout'>"
                         f"<input type='hidden' name='sjwt' value='{html.escape(form['sjwt'])}'>"
                         "<button id='op-logout-confirm' type='submit' name='logout' value='yes'>Sign out</button></form>"
                         "</body></html>"), "text/html; charset=utf-8", []
        n = len(self.events("backchannel"))
        ep.do_verified_logout(info["sid"], alla=True)
        self.log.append({"event": "logged_out", "sid": info["sid"], "redirect_uri": info["redirect_uri"],
                         "backchannel": self.events("backchannel")[n:]})
        headers = [("Location", info["redirect_uri"])]
        for c in ep.kill_cookies():
            headers.append(("Set-Cookie", f"{c['name']}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"))
        return 303, "", "text/plain", headers

    def _outbound(self, method, url, **kwargs):
        """idpyoidc's HTTP client (context.httpc): its logout token POSTs, recorded with the answer."""
        token = dict(urllib.parse.parse_qsl(kwargs.get("data") or "")).get("logout_token")
        entry = {"event": "backchannel", "url": url, "token": token, "at": time.time()}
        try:
            r = requests.request(method, url, timeout=10, allow_redirects=False,
                                 **{k: v for k, v in kwargs.items() if k not in ("timeout", "verify")})
            entry.update(status=r.status_code, body=r.text[:2000], headers={k.lower(): v for k, v in r.headers.items()})
        except requests.RequestException as error:
            entry.update(status=None, error=repr(error), body="", headers={})
            self.log.append(entry)
            raise
        self.log.append(entry)
        return r

    def last_id_token(self, username, client_id):
        """The token-endpoint log entry of the newest ID token issued to client_id for username
        (its "sid", "sub", "id_token"), or {}."""
        for e in reversed(self.events("token")):
            if e.get("client_id") == client_id and e.get("user") == username and e.get("sid"):
                return e
        return {}

    def last_sid(self, username, client_id):
        return self.last_id_token(username, client_id).get("sid")

    def subject(self, username, client_id):
        """The sub idpyoidc gives username towards client_id (a hash, not USERS' "sub")."""
        return self.last_id_token(username, client_id).get("sub")

    def session_active(self, sid):
        """Whether idpyoidc still has the session (grant) that issued the ID token with this sid."""
        with self.lock:
            # The grant, not the client session: idpyoidc files a sign-in after a logout under the
            # (revoked) client-session node of the one before, with a grant of its own.
            try:
                grant = self.context.session_manager.get_grant(sid)
                return not grant.revoked and bool(grant.is_active())
            except Exception:  # noqa: BLE001 - unknown
                return False

    def backchannel_logout(self, username=None, client_id=None, sid=None):
        """The OP ends one session of one client itself (an administrator's or the user's sign-out
        at the OP): idpyoidc's Session endpoint mints its logout token (do_back_channel_logout)
        and POSTs it to the client's registered backchannel_logout_uri (do_verified_logout).
        Returns what came back: {"status", "body", "headers", "token", "url"} (None if nothing was sent)."""
        with self.lock:
            sid = sid or self.last_sid(username, client_id)
            if sid is None:
                raise RuntimeError(f"no ID token was issued to {client_id} for {username}")
            n = len(self.events("backchannel"))
            self.endpoint("session").do_verified_logout(sid, alla=False)
            sent = self.events("backchannel")[n:]
        return sent[-1] if sent else None

    def craft_logout_token(self, client_id, sign="op", header=None, **claims):
        """A logout token (Back-Channel Logout 1.0 §2.4) built here with cryptojwt, for the attack
        battery: by default valid (iss, aud, iat, exp, jti, the event; pass sid= and/or sub=),
        signed RS256 by the OP's current key with typ logout+jwt. A claim or header member given
        as None is left out. sign: "op" | "attacker" (a key the JWKS does not have, its own kid) |
        "op_kid_other_key" (another key under the OP's kid) | "flipped" (the OP's signature with a bit
        flipped) | "none" (alg none, no signature) | "hs256_secret" (HMAC keyed with the client's
        secret) | "hs256_public_key" (HMAC keyed with the OP's RSA public key, PEM)."""
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": client_id, "iat": now, "exp": now + 120, "jti": secrets.token_urlsafe(18),
                   "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        key = self.signing_key()
        alg = {"none": "none", "hs256_secret": "HS256", "hs256_public_key": "HS256"}.get(sign, "RS256")
        hdr = {"alg": alg, "typ": "logout+jwt", "kid": self.mode_key.kid if sign == "attacker" else key.kid}
        if sign == "none":
            hdr.pop("kid")
        hdr.update(header or {})
        hdr = {k: v for k, v in hdr.items() if v is not None}
        signing_input = (b64u(json.dumps(hdr)) + "." + b64u(json.dumps(payload))).encode()
        if sign == "none":
            return signing_input.decode() + "."
        if sign in ("hs256_secret", "hs256_public_key"):
            secret = self.context.cdb[client_id]["client_secret"].encode() if sign == "hs256_secret" else \
                key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            return signing_input.decode() + "." + b64u(hmac.new(secret, signing_input, hashlib.sha256).digest())
        signer = {"attacker": self.mode_key, "op_kid_other_key": new_rsa_key(key_size=2048, kid=key.kid)}.get(sign, key)
        sig = bytearray(RSASigner("RS256").sign(signing_input, signer.private_key()))
        if sign == "flipped":
            sig[10] ^= 0x01
        return signing_input.decode() + "." + b64u(bytes(sig))

    # --- keys ------------------------------------------------------------------------------------

    def jwks(self):
        doc = self.keyjar.export_jwks(issuer_id="")
        return {"keys": doc["keys"] + list(self.retired)}

    def signing_key(self):
        """idpyoidc's current RSA signing key (a cryptojwt RSAKey)."""
        return self.keyjar.get_signing_key(key_type="RSA", issuer_id="")[0]

    def begin_rollover(self):
        """A new RSA key signs from now on; the old one's public key stays in the JWKS."""
        old = self.signing_key()
        new = new_rsa_key(key_size=2048, kid=f"rollover-{secrets.token_hex(4)}")
        self.retired.append(old.serialize(private=False))
        # idpyoidc keeps its own keys under "" and under the issuer ID (and signs with the latter's first).
        for owner in self.keyjar.owners():
            if owner not in ("", self.issuer):
                continue
            issuer = self.keyjar._get_issuer(owner)  # noqa: SLF001 - replace the OP's own signing key
            for kb in list(issuer):
                for k in list(kb.keys()):
                    if k.kty == "RSA":
                        kb.remove(k)
            kb = KeyBundle(keytype="RSA")
            kb.append(new)
            issuer.add_kb(kb)
        self.log.append({"event": "rollover", "old": old.kid, "new": new.kid})
        return old.kid, new.kid

    def finish_rollover(self):
        """The old key leaves the JWKS."""
        self.retired = []

    # --- deliberate misbehaviour -----------------------------------------------------------------

    def misbehave(self, mode):
        assert mode is None or mode in MODES, mode
        self.mode = mode

    def _sign_rs256(self, header, claims, key):
        jws = JWS(json.dumps(claims), alg="RS256", **{k: v for k, v in header.items() if k not in ("alg", "typ")})
        return jws.sign_compact([key])

    def apply_mode(self, resp, client_id):
        token = resp["id_token"]
        header = json.loads(b64u_decode(token.split(".")[0]))
        claims = json.loads(b64u_decode(token.split(".")[1]))
        now, mode, key = int(time.time()), self.mode, self.signing_key()
        if mode == "no_id_token":
            del resp["id_token"]
            return resp
        if mode == "not_a_jwt":
            resp["id_token"] = "not-a-jwt." + b64u(json.dumps(claims)) + ".x"
            return resp
        if mode == "wrong_aud":
            claims["aud"] = "someone-else"
            claims.pop("azp", None)
        elif mode == "extra_aud_no_azp":
            claims["aud"] = [client_id, "someone-else"]
            claims.pop("azp", None)
        elif mode == "wrong_azp":
            claims["aud"] = [client_id, "someone-else"]
            claims["azp"] = "someone-else"
        elif mode == "wrong_iss":
            claims["iss"] = "http://127.0.0.1:1/other-op"
        elif mode == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
            if "auth_time" in claims:
                claims["auth_time"] = now - 7200
        elif mode == "future_iat":
            claims["iat"], claims["exp"] = now + 3600, now + 7200
        elif mode == "bad_nonce":
            claims["nonce"] = "not-the-nonce-" + secrets.token_hex(4)
        elif mode == "no_nonce":
            claims.pop("nonce", None)
        elif mode == "no_sub":
            claims.pop("sub", None)
        elif mode == "email_unverified_claim":
            claims["email_verified"] = False
        if mode == "unknown_kid":
            resp["id_token"] = self._sign_rs256({"kid": "attacker-1"}, claims, self.mode_key)
        elif mode == "known_kid_other_key":
            other = new_rsa_key(key_size=2048, kid=key.kid)
            resp["id_token"] = self._sign_rs256({"kid": key.kid}, claims, other)
        elif mode == "bad_signature":
            t = self._sign_rs256({"kid": key.kid}, claims, key).split(".")
            sig = bytearray(b64u_decode(t[2]))
            sig[10] ^= 0x01
            resp["id_token"] = ".".join([t[0], t[1], b64u(bytes(sig))])
        elif mode == "alg_none":
            resp["id_token"] = b64u(json.dumps({"alg": "none", "typ": "JWT"})) + "." + b64u(json.dumps(claims)) + "."
        elif mode == "hs256_public_key":
            # The classic confusion: HMAC keyed with the RSA public key an RP has from the JWKS (PEM).
            pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            signing_input = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid})) + "." + b64u(json.dumps(claims))
            resp["id_token"] = signing_input + "." + b64u(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
        else:
            resp["id_token"] = self._sign_rs256({"kid": header.get("kid", key.kid)}, claims, key)
        return resp

    # --- clients ---------------------------------------------------------------------------------

    def add_user(self, username, email, given_name, family_name, email_verified=True):
        """A user of the OP's directory (the attack battery gives every attempt a fresh identity, so
        anything accepted would provision a new Sigil user)."""
        with self.lock:
            user = {"email": email, "email_verified": email_verified, "given_name": given_name, "family_name": family_name,
                    "name": f"{given_name} {family_name}", "sub": "op-" + username}
            USERS[username] = user
            self.context.userinfo.db[username] = user
        return user

    def add_client(self, client_id, redirect_uris, secret=None, auth_method="client_secret_basic", jwks_uri=None,
                   claims_in_id_token=None, id_token_alg="RS256", post_logout_redirect_uris=(), backchannel_logout_uri=None):
        """Registers a client as an OP administrator would (no dynamic registration); with
        post_logout_redirect_uris (RP-Initiated Logout) and a backchannel_logout_uri (with
        backchannel_logout_session_required: logout tokens carry sid)."""
        if isinstance(redirect_uris, str):
            redirect_uris = [redirect_uris]
        with self.lock:
            cinfo = {"client_id": client_id, "client_secret": secret or secrets.token_urlsafe(24),
                     "redirect_uris": [(u, {}) for u in redirect_uris], "response_types_supported": ["code"],
                     "token_endpoint_auth_method": auth_method, "client_salt": secrets.token_hex(8),
                     "id_token_signed_response_alg": id_token_alg, "allowed_scopes": ["openid", "email", "profile"],
                     "pkce_essential": True, "client_id_issued_at": int(time.time()), "client_secret_expires_at": 0}
            # The scope's claims (email, profile) in the ID token too, or only in userinfo.
            in_id_token = self.claims_in_id_token if claims_in_id_token is None else claims_in_id_token
            cinfo["add_claims"] = {"by_scope": {"id_token": bool(in_id_token)}}
            if post_logout_redirect_uris:
                cinfo["post_logout_redirect_uris"] = list(post_logout_redirect_uris)
                cinfo["post_logout_redirect_uri"] = [(u, {}) for u in post_logout_redirect_uris]  # what idpyoidc reads
            if backchannel_logout_uri:
                cinfo["backchannel_logout_uri"] = backchannel_logout_uri
                cinfo["backchannel_logout_session_required"] = True
            if jwks_uri:
                cinfo["jwks_uri"] = jwks_uri
                self.keyjar.add_url(client_id, jwks_uri)
            self.context.cdb[client_id] = cinfo
            if secret:  # client_secret_basic/post: the secret is also the key for client_secret_jwt
                self.keyjar.add_symmetric(client_id, secret)
            self.registered_auth[client_id] = auth_method
        return cinfo

    def events(self, kind=None):
        return [e for e in self.log if kind is None or e["event"] == kind]

    def shutdown(self):
        self.httpd.shutdown()


# --- self test: authlib's client against this OP ------------------------------------------------------

def self_test():
    """authlib's OAuth2Session (code + PKCE, each client auth method, PAR) against the OP, the ID
    token verified with authlib's jose against the JWKS; each misbehaviour rejected by authlib's
    ID-token validation; the rollover; PKCE and code one-time use enforced by idpyoidc; single sign-on,
    RP-initiated and back-channel logout (logout_self_test)."""
    import warnings
    warnings.filterwarnings("ignore")
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.common.security import generate_token
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.oauth2.rfc7523 import PrivateKeyJWT

    results = {"passed": 0, "failed": 0}

    def check(name, ok, detail=""):
        results["passed" if ok else "failed"] += 1
        print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else f" -- {detail}"), flush=True)
        return ok

    work = tempfile.mkdtemp(prefix="oidc-op-selftest-")
    op = UpstreamOP(work)
    try:
        meta = requests.get(op.issuer + "/.well-known/openid-configuration", timeout=5).json()
        check("discovery: issuer, endpoints, PAR, S256, RFC 9207", meta.get("issuer") == op.issuer
              and meta.get("authorization_endpoint", "").startswith(op.issuer) and meta.get("token_endpoint")
              and meta.get("userinfo_endpoint") and meta.get("jwks_uri") == op.issuer + "/jwks"
              and meta.get("pushed_authorization_request_endpoint") == op.issuer + "/par"
              and meta.get("code_challenge_methods_supported") == ["S256"]
              and meta.get("authorization_response_iss_parameter_supported") is True, json.dumps(meta)[:800])
        check("discovery: token endpoint auth methods", {"client_secret_basic", "client_secret_post", "private_key_jwt"}
              <= set(meta.get("token_endpoint_auth_methods_supported", [])), str(meta.get("token_endpoint_auth_methods_supported")))
        redirect = "http://localhost:9/cb"

        # private_key_jwt: the client's JWKS served by a tiny server
        client_key = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "rp-1"})
        client_jwks = {"keys": [client_key.as_dict(is_private=False)]}

        received = []  # logout tokens POSTed to the back-channel receiver below

        class J(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # a relying party's back-channel logout endpoint
                body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0)).decode()
                received.append((self.path, self.headers.get("Content-Type", ""), dict(urllib.parse.parse_qsl(body))))
                self.send_response(200)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                data = json.dumps(client_jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
        jport = free_port()
        jsrv = ThreadingHTTPServer(("127.0.0.1", jport), J)
        threading.Thread(target=jsrv.serve_forever, daemon=True).start()

        op.add_client("rp-basic", redirect, "secret-basic-0123456789", "client_secret_basic")
        op.add_client("rp-post", redirect, "secret-post-0123456789", "client_secret_post")
        op.add_client("rp-pkjwt", redirect, None, "private_key_jwt", jwks_uri=f"http://127.0.0.1:{jport}/jwks")
        secrets_ = {"rp-basic": "secret-basic-0123456789", "rp-post": "secret-post-0123456789", "rp-pkjwt": None}

        def login(auth_url, username="alice", cancel=False, jar=None):
            s = jar or requests.Session()
            r = s.get(auth_url, allow_redirects=False, timeout=5)
            if jar is not None and r.status_code in (302, 303):  # signed in at the OP already (single sign-on)
                return r.headers.get("Location"), r
            if r.status_code != 200 or "op-username" not in r.text:
                return None, r
            import re
            ticket = re.search(r'name="ticket" value="([^"]+)"', r.text).group(1)
            r = s.post(op.issuer + "/login", data={"ticket": ticket, "username": username, "action": "cancel" if cancel else "login"},
                       allow_redirects=False, timeout=5)
            return r.headers.get("Location"), r

        def session_for(cid, method):
            if method == "private_key_jwt":
                sess = OAuth2Session(cid, client_key.as_pem(is_private=True), scope="openid email profile", redirect_uri=redirect,
                                     code_challenge_method="S256", token_endpoint_auth_method=PrivateKeyJWT(meta["token_endpoint"]))
            else:
                sess = OAuth2Session(cid, secrets_[cid], scope="openid email profile", redirect_uri=redirect,
                                     code_challenge_method="S256", token_endpoint_auth_method=method)
            return sess

        def flow(cid, method, par=False, username="alice", verify=True, jar=None):
            sess = session_for(cid, method)
            verifier, nonce = generate_token(64), generate_token(20)
            url, state = sess.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
            if par:
                params = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(url).query))
                auth = (cid, secrets_[cid]) if method == "client_secret_basic" else None
                data = dict(params)
                if method == "client_secret_post":
                    data["client_secret"] = secrets_[cid]
                if method == "private_key_jwt":  # aud: the issuer, as RFC 9126 §2 allows
                    from authlib.oauth2.rfc7523 import private_key_jwt_sign
                    data["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                    data["client_assertion"] = private_key_jwt_sign(client_key.as_pem(is_private=True), cid, op.issuer)
                    data["client_assertion"] = data["client_assertion"].decode() if isinstance(data["client_assertion"], bytes) \
                        else data["client_assertion"]
                r = requests.post(meta["pushed_authorization_request_endpoint"], data=data, auth=auth, timeout=5)
                check(f"PAR ({method}): 201 with a request_uri", r.status_code == 201 and "request_uri" in r.json(), r.text[:300])
                url = meta["authorization_endpoint"] + "?" + urllib.parse.urlencode({"client_id": cid, "request_uri": r.json()["request_uri"]})
            loc, r = login(url, username, jar=jar)
            if not loc:
                return None, (r.status_code, r.text[:300])
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(loc).query))
            if q.get("state") != state or q.get("iss") != op.issuer:
                return None, ("callback", loc)
            token = sess.fetch_token(meta["token_endpoint"], authorization_response=loc, code_verifier=verifier)
            claims = None
            if verify:
                jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
                claims = JsonWebToken(["RS256"]).decode(token["id_token"], jwks, claims_options={
                    "iss": {"essential": True, "value": op.issuer}, "aud": {"essential": True, "value": cid},
                    "nonce": {"essential": True, "value": nonce}})
                claims.validate(leeway=5)
            return (sess, token, claims, loc, verifier, nonce), None

        for cid, method in (("rp-basic", "client_secret_basic"), ("rp-post", "client_secret_post"), ("rp-pkjwt", "private_key_jwt")):
            out, err = flow(cid, method)
            ok = out is not None
            check(f"authlib code + PKCE with {method}: ID token verified (iss, aud, nonce, RS256 by the JWKS)", ok, str(err))
            if ok:
                sess, token, claims, loc, verifier, nonce = out
                check(f"{method}: the OP saw that method", op.events("token")[-1]["auth"] == method, str(op.events("token")[-1]))
                check(f"{method}: ID token has email/given/family name", claims.get("email") == "alice@example.org"
                      and claims.get("given_name") == "Alice" and claims.get("family_name") == "Liddell", json.dumps(dict(claims)))
                info = sess.get(meta["userinfo_endpoint"], timeout=5).json()
                check(f"{method}: userinfo", info.get("email") == "alice@example.org" and info.get("sub") == claims["sub"], json.dumps(info))
                # the code again
                code = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(loc).query))["code"]
                try:
                    session_for(cid, method).fetch_token(meta["token_endpoint"], code=code, code_verifier=verifier)
                    check(f"{method}: a replayed code is refused by the OP", False)
                except Exception as error:  # noqa: BLE001
                    check(f"{method}: a replayed code is refused by the OP", True, repr(error))
        for alg in ("ES256", "EdDSA"):
            op.add_client(f"rp-{alg}", redirect, "secret-alg-0123456789", "client_secret_basic", id_token_alg=alg)
            secrets_[f"rp-{alg}"] = "secret-alg-0123456789"
            try:
                out, err = flow(f"rp-{alg}", "client_secret_basic", verify=False)
                hdr = json.loads(b64u_decode(out[1]["id_token"].split(".")[0])) if out else {}
                from joserfc import jwt as jjwt
                from joserfc.jwk import KeySet
                tok = jjwt.decode(out[1]["id_token"], KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json()),
                                  algorithms=[alg])
                check(f"{alg}: idpyoidc signs the ID token with {alg}, joserfc verifies it by the JWKS", hdr.get("alg") == alg
                      and tok.claims.get("email") == "alice@example.org", f"{hdr} {err}")
            except Exception as error:  # noqa: BLE001
                check(f"{alg}: idpyoidc signs the ID token with {alg}, joserfc verifies it by the JWKS", False, repr(error))
        out, err = flow("rp-basic", "client_secret_basic", par=True, username="erin")
        check("PAR: authlib with a pushed request (client_secret_basic), login by request_uri", out is not None
              and out[2]["email"] == "erin@example.org", str(err))
        out, err = flow("rp-pkjwt", "private_key_jwt", par=True, username="erin")
        check("PAR: with private_key_jwt (aud = issuer) at the PAR endpoint", out is not None
              and out[2]["email"] == "erin@example.org", str(err))
        par = op.events("authorization")[-1]
        check("PAR: the authorization request carried only client_id and request_uri",
              set(par["params"]) == {"client_id", "request_uri"}, str(par["params"]))

        # The registered method is enforced.
        sess = OAuth2Session("rp-basic", secrets_["rp-basic"], scope="openid", redirect_uri=redirect, code_challenge_method="S256",
                             token_endpoint_auth_method="client_secret_post")
        verifier = generate_token(64)
        url, state = sess.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce="n")
        loc, _ = login(url)
        try:
            sess.fetch_token(meta["token_endpoint"], authorization_response=loc, code_verifier=verifier)
            check("a client registered for client_secret_basic cannot use client_secret_post", False)
        except Exception as error:  # noqa: BLE001
            check("a client registered for client_secret_basic cannot use client_secret_post", True, repr(error))

        # PKCE: no challenge -> refused; wrong verifier -> refused; plain -> refused.
        r = requests.get(meta["authorization_endpoint"], params={"response_type": "code", "client_id": "rp-basic", "redirect_uri": redirect,
                                                                 "scope": "openid", "state": "s", "nonce": "n"}, allow_redirects=False, timeout=5)
        check("PKCE is essential: an authorization request without code_challenge is refused",
              r.status_code in (302, 303, 400) and ("op-username" not in r.text), f"{r.status_code} {r.headers.get('Location')} {r.text[:200]}")
        r = requests.get(meta["authorization_endpoint"], params={"response_type": "code", "client_id": "rp-basic", "redirect_uri": redirect,
                                                                 "scope": "openid", "state": "s", "nonce": "n", "code_challenge": "x" * 43,
                                                                 "code_challenge_method": "plain"}, allow_redirects=False, timeout=5)
        check("PKCE: code_challenge_method=plain is refused", "op-username" not in r.text, f"{r.status_code} {r.text[:200]}")
        sess = session_for("rp-basic", "client_secret_basic")
        verifier = generate_token(64)
        url, state = sess.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce="n")
        loc, _ = login(url)
        try:
            sess.fetch_token(meta["token_endpoint"], authorization_response=loc, code_verifier=generate_token(64))
            check("PKCE: a wrong code_verifier is refused", False)
        except Exception as error:  # noqa: BLE001
            check("PKCE: a wrong code_verifier is refused", True, repr(error))
        r = requests.get(meta["authorization_endpoint"], params={"response_type": "code", "client_id": "rp-basic",
                                                                 "redirect_uri": "http://evil.example/cb", "scope": "openid",
                                                                 "state": "s", "nonce": "n", "code_challenge": "x" * 43,
                                                                 "code_challenge_method": "S256"}, allow_redirects=False, timeout=5)
        check("an unregistered redirect_uri is refused (no redirect to it)", "evil.example" not in r.headers.get("Location", ""),
              f"{r.status_code} {r.headers.get('Location')}")

        # Cancel -> error=access_denied with state and iss.
        sess = session_for("rp-basic", "client_secret_basic")
        url, state = sess.create_authorization_url(meta["authorization_endpoint"], code_verifier=generate_token(64), nonce="n")
        loc, _ = login(url, cancel=True)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(loc or "").query))
        check("Cancel answers error=access_denied with state and iss", q.get("error") == "access_denied" and q.get("state") == state
              and q.get("iss") == op.issuer, str(loc))

        # Each misbehaviour is caught by authlib's ID-token validation (a reference RP).
        for mode in MODES:
            if mode in ("no_id_token", "email_unverified_claim", "extra_aud_no_azp", "wrong_azp", "no_sub", "token_500"):
                continue  # not what authlib's ID-token validation checks: see below
            op.misbehave(mode)
            try:
                out, err = flow("rp-basic", "client_secret_basic")
                check(f"misbehave {mode}: authlib refuses the ID token", False, str(err or "accepted"))
            except Exception as error:  # noqa: BLE001
                check(f"misbehave {mode}: authlib refuses the ID token", True, repr(error)[:160])
            finally:
                op.misbehave(None)
        for mode, test in (("wrong_azp", lambda c, cid: c.get("azp") == "someone-else" and cid in c["aud"]),
                           ("extra_aud_no_azp", lambda c, cid: len(c["aud"]) == 2 and "azp" not in c),
                           ("no_sub", lambda c, cid: "sub" not in c),
                           ("email_unverified_claim", lambda c, cid: c.get("email_verified") is False)):
            op.misbehave(mode)
            out, err = flow("rp-basic", "client_secret_basic", verify=False)
            op.misbehave(None)
            c = json.loads(b64u_decode(out[1]["id_token"].split(".")[1])) if out else {}
            check(f"misbehave {mode}: the ID token says so (validly signed)", bool(c) and test(c, "rp-basic"), json.dumps(c)[:300])
        op.misbehave("no_id_token")
        out, err = flow("rp-basic", "client_secret_basic", verify=False)
        op.misbehave(None)
        check("misbehave no_id_token: token response without id_token", out is not None and "id_token" not in out[1], str(err))

        logout_self_test(op, meta, flow, check, received, f"http://127.0.0.1:{jport}/backchannel", redirect, secrets_)

        # Rollover.
        old_kid, new_kid = op.begin_rollover()
        kids = [k["kid"] for k in op.jwks()["keys"]]
        check("rollover: JWKS publishes old and new", old_kid in kids and new_kid in kids, str(kids))
        out, err = flow("rp-basic", "client_secret_basic")
        hdr = json.loads(b64u_decode(out[1]["id_token"].split(".")[0])) if out else {}
        check("rollover: ID tokens are signed with the new key and verify", out is not None and hdr.get("kid") == new_kid, f"{hdr} {err}")
        op.finish_rollover()
        kids = [k["kid"] for k in op.jwks()["keys"] if k["kty"] == "RSA"]
        check("rollover finished: only the new RSA key is published", kids == [new_kid], str(kids))
        check("no OP errors", not op.errors, "\n".join(op.errors[-2:]))
        jsrv.shutdown()
    except Exception:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        check("self-test ran to the end", False, "\n".join(op.errors[-2:]))
    finally:
        op.shutdown()
    print(f"{results['passed']} passed, {results['failed']} failed")
    return results["failed"] == 0


def logout_self_test(op, meta, flow, check, received, bc_uri, redirect, secrets_):
    """RP-initiated and back-channel logout of this OP against authlib (and plain requests): single
    sign-on by idpyoidc's session cookie; end_session (id_token_hint verified, client_id among its
    audiences, the registered post_logout_redirect_uri, state back); the confirmation; idpyoidc's
    logout token to the client's backchannel_logout_uri, verified with authlib against the JWKS; the
    OP session gone afterwards; end_session refusals; backchannel_logout(); craft_logout_token()."""
    from authlib.jose import JsonWebKey, JsonWebToken
    import re
    bye = "http://localhost:9/bye"
    check("discovery: end_session_endpoint, backchannel_logout_supported, backchannel_logout_session_supported",
          meta.get("end_session_endpoint") == op.issuer + "/end_session" and meta.get("backchannel_logout_supported") is True
          and meta.get("backchannel_logout_session_supported") is True, str({k: v for k, v in meta.items() if "logout" in k or "session" in k}))
    secret = secrets_["rp-logout"] = "secret-logout-0123456789"
    op.add_user("lena", "lena@example.org", "Lena", "Logout")
    op.add_client("rp-logout", redirect, secret, "client_secret_basic", post_logout_redirect_uris=[bye], backchannel_logout_uri=bc_uri)
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())

    def claims_of(token):
        return json.loads(b64u_decode(token.split(".")[1]))

    def verify_logout_token(token, client_id):
        lt = JsonWebToken(["RS256"]).decode(token, jwks, claims_options={
            "iss": {"essential": True, "value": op.issuer}, "aud": {"essential": True, "value": client_id},
            "iat": {"essential": True}, "jti": {"essential": True}})
        lt.validate(leeway=5)
        return lt

    op.sso = True
    try:
        jar = requests.Session()
        out, err = flow("rp-logout", "client_secret_basic", username="lena", jar=jar)
        if not check("logout: authlib signs lena in (the OP sets its session cookie)", out is not None
                     and "acme_op_session" in jar.cookies, str(err)):
            return
        first = claims_of(out[1]["id_token"])
        check("logout: the ID token carries sid", bool(first.get("sid")), json.dumps(first)[:200])
        n_sso = len(op.events("sso"))
        out, err = flow("rp-logout", "client_secret_basic", username="lena", jar=jar)
        check("single sign-on: a second authorization in the same browser skips the login page (idpyoidc's cookie)",
              out is not None and len(op.events("sso")) == n_sso + 1 and out[2]["sub"] == first["sub"], str(err))
        hint = out[1]["id_token"] if out else ""
        second = claims_of(hint) if hint else {}

        def end_session(params, jar_=None):
            return (jar_ or jar).get(meta["end_session_endpoint"], params=params, allow_redirects=False, timeout=5)

        base = {"id_token_hint": hint, "client_id": "rp-logout", "post_logout_redirect_uri": bye, "state": "st-1"}
        for what, params in (("an unregistered post_logout_redirect_uri", dict(base, post_logout_redirect_uri="http://evil.example/bye")),
                             ("a client_id that is not an audience of the hint", dict(base, client_id="rp-basic")),
                             ("an id_token_hint signed by another key", dict(base, id_token_hint=op._sign_rs256(  # noqa: SLF001
                                 {"kid": op.mode_key.kid}, second, op.mode_key))),
                             ("post_logout_redirect_uri without id_token_hint", {k: v for k, v in base.items() if k != "id_token_hint"})):
            r = end_session(params)
            check(f"end_session refuses {what} (no redirect)", r.status_code == 400 and "evil.example" not in r.headers.get("Location", ""),
                  f"{r.status_code} {r.headers.get('Location')} {op.events('end_session')[-1].get('error')}")
        check("end_session refusals left the OP session alone", op.session_active(second.get("sid", "")))
        r = end_session(base)
        entry = op.events("end_session")[-1]
        check("end_session: id_token_hint verified (idpyoidc), 303 to the confirmation page", r.status_code == 303
              and r.headers.get("Location", "").startswith(op.issuer + "/verify_logout?") and entry.get("hint_verified")
              and entry["hint"].get("sub") == first["sub"], f"{r.status_code} {r.headers.get('Location')} {entry.get('error')}")
        page = jar.get(r.headers.get("Location", op.issuer), timeout=5)
        m = re.search(r"name='sjwt' value='([^']+)'", page.text)
        check("the confirmation page has a Sign out button (id=op-logout-confirm)", page.status_code == 200 and bool(m)
              and "op-logout-confirm" in page.text, page.text[:200])
        n_recv = len(received)
        r = jar.post(op.issuer + "/verify_logout", data={"sjwt": m.group(1) if m else "", "logout": "yes"}, allow_redirects=False, timeout=15)
        check("confirmed: 303 to the registered post_logout_redirect_uri with the state", r.headers.get("Location") == bye + "?state=st-1",
              f"{r.status_code} {r.headers.get('Location')}")
        check("confirmed: the OP's session cookie is cleared", "acme_op_session" not in jar.cookies, str(jar.cookies.keys()))
        got = received[n_recv:]
        check("confirmed: idpyoidc POSTed a logout token (form, logout_token) to the client's backchannel_logout_uri",
              len(got) == 1 and got[0][0] == "/backchannel" and got[0][1].startswith("application/x-www-form-urlencoded")
              and "logout_token" in got[0][2], str(got)[:300])
        if got and "logout_token" in got[0][2]:
            try:
                lt = verify_logout_token(got[0][2]["logout_token"], "rp-logout")
                check("logout token: authlib verifies it against the JWKS (RS256, iss, aud, iat, jti)", True)
                check("logout token: the back-channel event (an object), sid of a session of lena, no nonce",
                      lt.get("events") == {BACKCHANNEL_LOGOUT_EVENT: {}} and lt.get("sid") in (first["sid"], second["sid"])
                      and "nonce" not in lt, json.dumps(dict(lt))[:300])
            except Exception as error:  # noqa: BLE001
                check("logout token: authlib verifies it against the JWKS (RS256, iss, aud, iat, jti)", False, repr(error))
        check("confirmed: both OP sessions of lena are gone", not op.session_active(first["sid"]) and not op.session_active(second["sid"]))
        out, err = flow("rp-logout", "client_secret_basic", username="lena", jar=jar)
        check("after the logout the OP asks to sign in again (no single sign-on)", out is not None and len(op.events("sso")) == n_sso + 1,
              str(err))

        # The OP's own sign-out of one client's session: backchannel_logout().
        sid = op.last_sid("lena", "rp-logout")
        n_recv = len(received)
        sent = op.backchannel_logout("lena", "rp-logout")
        got = received[n_recv:]
        check("backchannel_logout(): idpyoidc's token reached the receiver, answered 200, the session ended",
              sent is not None and sent["status"] == 200 and len(got) == 1 and claims_of(got[0][2]["logout_token"]).get("sid") == sid
              and not op.session_active(sid), f"{sent} {got}")

        # craft_logout_token(): valid by default; each forgery fails a standard verification.
        t = op.craft_logout_token("rp-logout", sid="some-sid", sub="op-lena")
        try:
            lt = verify_logout_token(t, "rp-logout")
            check("craft_logout_token(): a default token verifies (typ logout+jwt, the event, sid, sub)",
                  json.loads(b64u_decode(t.split(".")[0])).get("typ") == "logout+jwt" and lt.get("events") == {BACKCHANNEL_LOGOUT_EVENT: {}}
                  and lt.get("sid") == "some-sid", t[:80])
        except Exception as error:  # noqa: BLE001
            check("craft_logout_token(): a default token verifies", False, repr(error))
        for sign in ("attacker", "op_kid_other_key", "flipped", "none", "hs256_secret", "hs256_public_key"):
            try:
                verify_logout_token(op.craft_logout_token("rp-logout", sign=sign, sid="x"), "rp-logout")
                check(f"craft_logout_token(sign={sign}): authlib refuses it", False)
            except Exception:  # noqa: BLE001
                check(f"craft_logout_token(sign={sign}): authlib refuses it", True)
        t = op.craft_logout_token("rp-logout", sid=None, sub="op-lena", jti=None, header={"typ": None})
        c, h = claims_of(t), json.loads(b64u_decode(t.split(".")[0]))
        check("craft_logout_token(): None leaves a claim or header member out", "sid" not in c and "jti" not in c and "typ" not in h
              and c.get("sub") == "op-lena", f"{h} {c}")
    finally:
        op.sso = False
    plain = UpstreamOP(logout=False)
    try:
        m = requests.get(plain.issuer + "/.well-known/openid-configuration", timeout=5).json()
        check("UpstreamOP(logout=False): discovery has no end_session_endpoint and no back-channel logout",
              "end_session_endpoint" not in m and not m.get("backchannel_logout_supported"), str(sorted(m)))
    finally:
        plain.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--port", type=int)
    ap.add_argument("--client-id")
    ap.add_argument("--client-secret")
    ap.add_argument("--auth-method", default="client_secret_basic")
    ap.add_argument("--redirect-uri", action="append", default=[])
    ap.add_argument("--jwks-uri")
    args = ap.parse_args()
    if args.self_test:
        sys.exit(0 if self_test() else 1)
    if args.serve:
        op = UpstreamOP(port=args.port)
        if args.client_id:
            op.add_client(args.client_id, args.redirect_uri, args.client_secret, args.auth_method, args.jwks_uri)
        print(f"issuer {op.issuer}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            op.shutdown()
        return
    ap.print_help()


if __name__ == "__main__":
    main()
