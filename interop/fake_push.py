#!/usr/bin/env python3
"""A local stand-in for APNs and FCM HTTP v1 that checks what the real services check, and more.

One HTTP/1.1 server on 127.0.0.1 (cleartext; real APNs is HTTP/2 over TLS, a documented
difference, docs/push.md) serving:

  POST /3/device/{token}                      APNs provider API (token-based authentication)
  POST /token                                 OAuth 2.0 JWT-bearer grant (RFC 7523), Google-style
  POST /v1/projects/{project}/messages:send   FCM HTTP v1
  GET  /_fake/deliveries                      JSON list of accepted notifications
  GET  /_fake/violations                      JSON list of refused requests and why
  GET  /_fake/requests                        JSON list of every push request and the status answered
  GET  /_fake/token-requests                  {"count": n, "granted": m}

It validates: the APNs provider JWT (ES256 signature with --apns-public-key, kid, iss, iat at most
one hour old and not in the future), the required apns-* headers, the body size (4 KiB), the FCM
assertion (RS256 signature with --fcm-public-key, iss, scope, aud = this server's /token, iat, exp,
lifetime at most one hour), the bearer it issued, and the message shape. Beyond the real services,
it refuses (400, and records a violation) any body with a key other than the documented ones or
containing "@" -- Sigil's pushes carry ids only (docs/authenticator-protocol.md section 4.2).

Behaviour by device-token prefix:
  unregistered-  APNs 410 Unregistered / FCM 404 UNREGISTERED
  badtoken-      APNs 400 BadDeviceToken / FCM 400 INVALID_ARGUMENT
  busy-          (--busy-prefix) one 429 with Retry-After (--retry-after, seconds), then normal
  expire-        (--expire-prefix) one 403 ExpiredProviderToken (APNs; the JWT used is then refused
                 for good) / one 401 UNAUTHENTICATED (FCM; the bearer used is revoked), then normal

    python3 interop/fake_push.py --port 0 --apns-public-key apns.pub.pem --apns-key-id KEYID \\
        --apns-team-id TEAMID --apns-topic org.example.app --fcm-public-key sa.pub.pem \\
        --fcm-client-email push@project.iam.gserviceaccount.com --fcm-project project

With --port 0 the first line on stdout is the chosen port. Needs Python 3 and `cryptography`.
"""
import argparse
import base64
import json
import re
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

APNS_BODY_LIMIT = 4096
FCM_BODY_LIMIT = 4096
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
CLOCK_SKEW = 60


class Refusal(Exception):
    """A request the fake refuses: HTTP status, provider error code, human-readable detail."""

    def __init__(self, status, code, detail, violation=True):
        super().__init__(detail)
        self.status, self.code, self.detail, self.violation = status, code, detail, violation


def b64url_decode(text):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_jwt(token):
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("header or claims not a JSON object")
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), b64url_decode(parts[2])


def exact_keys(obj, keys, where):
    if not isinstance(obj, dict):
        raise Refusal(400, None, f"{where} is not an object")
    if set(obj.keys()) != set(keys):
        raise Refusal(400, None, f"{where} keys {sorted(obj.keys())} != {sorted(keys)}")


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.deliveries = []
        self.violations = []
        self.requests = []
        self.token_requests = 0
        self.tokens_granted = 0
        self.bearers = {}  # access token -> expiry (epoch seconds)
        self.refused_jwts = set()  # APNs provider tokens answered ExpiredProviderToken
        self.busy_done = set()  # device tokens already answered 429
        self.expire_done = set()  # device tokens already answered 403/401
        self.apns_key = load_public_key(args.apns_public_key, ec.EllipticCurvePublicKey) if args.apns_public_key else None
        self.fcm_key = load_public_key(args.fcm_public_key, rsa.RSAPublicKey) if args.fcm_public_key else None
        self.port = None

    def once(self, bucket, token):
        with self.lock:
            if token in bucket:
                return False
            bucket.add(token)
            return True


def load_public_key(path, kind):
    with open(path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    if not isinstance(key, kind):
        sys.exit(f"fake_push: {path} is not the expected key type")
    return key


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_push/1"
    state = None  # set in main

    def log_message(self, fmt, *args):  # quiet; the Swift tests read stdout/stderr
        if self.state.args.verbose:
            sys.stderr.write("fake_push: " + (fmt % args) + "\n")

    # --- plumbing -----------------------------------------------------------------------------

    def read_body(self, limit):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise Refusal(400, None, "chunked request bodies are not expected")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise Refusal(411, None, "Content-Length missing")
        length = int(length)
        body = self.rfile.read(length)
        if length > limit:
            raise Refusal(413, "PayloadTooLarge", f"body is {length} bytes (limit {limit})")
        return body

    def send_json(self, status, obj, extra_headers=()):
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in extra_headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record_violation(self, api, detail, status):
        with self.state.lock:
            self.state.violations.append({"api": api, "path": self.redacted_path(), "status": status, "detail": detail, "time": time.time()})

    def record_request(self, api, token, status):
        with self.state.lock:
            self.state.requests.append({"api": api, "token": token, "status": status, "time": time.time()})

    def redacted_path(self):
        return re.sub(r"^/3/device/.*", "/3/device/{token}", self.path)

    # --- routes -------------------------------------------------------------------------------

    def do_GET(self):
        with self.state.lock:
            routes = {
                "/_fake/deliveries": lambda: list(self.state.deliveries),
                "/_fake/violations": lambda: list(self.state.violations),
                "/_fake/requests": lambda: list(self.state.requests),
                "/_fake/token-requests": lambda: {"count": self.state.token_requests, "granted": self.state.tokens_granted},
            }
            route = routes.get(self.path)
            payload = route() if route else None
        if route is None:
            self.send_json(404, {"error": "not found"})
        else:
            self.send_json(200, payload)

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/3/device/"):
            self.apns(path[len("/3/device/"):])
        elif path == "/token":
            self.token()
        else:
            m = re.fullmatch(r"/v1/projects/([^/]+)/messages:send", path)
            if m:
                self.fcm(urllib.parse.unquote(m.group(1)))
            else:
                self.record_violation("unknown", f"POST {self.redacted_path()}", 404)
                self.send_json(404, {"error": "not found"})

    # --- APNs ---------------------------------------------------------------------------------

    def apns(self, raw_token):
        token = urllib.parse.unquote(raw_token)
        try:
            if self.state.apns_key is None:
                raise Refusal(403, "InvalidProviderToken", "APNs is not configured in the fake")
            body = self.read_body(APNS_BODY_LIMIT)
            jwt = self.apns_check_headers()
            payload = self.apns_check_body(body)
            if self.headers.get("apns-collapse-id") != payload["sigil"]["request"]:
                raise Refusal(400, "BadCollapseId", "apns-collapse-id is not the request id")
            if not token or not re.fullmatch(r"[A-Za-z0-9._~-]+", token):
                raise Refusal(400, "BadDeviceToken", "device token has unexpected characters")
        except Refusal as r:
            if r.violation:
                self.record_violation("apns", r.detail, r.status)
            self.record_request("apns", token, r.status)
            return self.send_json(r.status, {"reason": r.code or "BadPayload"})

        status, reason, extra = 200, None, []
        if jwt in self.state.refused_jwts:
            status, reason = 403, "ExpiredProviderToken"
        elif token.startswith("unregistered-"):
            status, reason = 410, "Unregistered"
        elif token.startswith("badtoken-"):
            status, reason = 400, "BadDeviceToken"
        elif token.startswith(self.state.args.expire_prefix) and self.state.once(self.state.expire_done, token):
            with self.state.lock:
                self.state.refused_jwts.add(jwt)
            status, reason = 403, "ExpiredProviderToken"
        elif token.startswith(self.state.args.busy_prefix) and self.state.once(self.state.busy_done, token):
            status, reason = 429, "TooManyRequests"
            extra = [("Retry-After", str(self.state.args.retry_after))]
        self.record_request("apns", token, status)
        if status == 200:
            apns_id = self.headers.get("apns-id") or str_uuid()
            with self.state.lock:
                self.state.deliveries.append({
                    "api": "apns", "token": token, "body": body.decode(),
                    "headers": {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("apns-")},
                    "jwt": jwt, "time": time.time(),
                })
            return self.send_json(200, None, [("apns-id", apns_id)])
        obj = {"reason": reason}
        if status == 410:
            obj["timestamp"] = int(time.time() * 1000)
        self.send_json(status, obj, extra)

    def apns_check_headers(self):
        h = self.headers
        args = self.state.args
        auth = h.get("authorization") or ""
        if not auth.lower().startswith("bearer "):
            raise Refusal(403, "MissingProviderToken", "no bearer provider token")
        jwt = auth[7:].strip()
        try:
            header, claims, signing_input, signature = parse_jwt(jwt)
        except (ValueError, UnicodeDecodeError) as e:
            raise Refusal(403, "InvalidProviderToken", f"provider token unreadable: {e}")
        if header.get("alg") != "ES256" or header.get("kid") != args.apns_key_id or set(header) - {"alg", "kid", "typ"}:
            raise Refusal(403, "InvalidProviderToken", f"provider token header {header}")
        if set(claims) != {"iss", "iat"} or claims.get("iss") != args.apns_team_id or not is_int(claims.get("iat")):
            raise Refusal(403, "InvalidProviderToken", f"provider token claims {sorted(claims)} iss ok={claims.get('iss') == args.apns_team_id}")
        if len(signature) != 64:
            raise Refusal(403, "InvalidProviderToken", "ES256 signature is not 64 bytes")
        der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            self.state.apns_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise Refusal(403, "InvalidProviderToken", "provider token signature does not verify")
        now = time.time()
        if claims["iat"] > now + CLOCK_SKEW:
            raise Refusal(403, "InvalidProviderToken", "iat in the future")
        if now - claims["iat"] > 3600:
            raise Refusal(403, "ExpiredProviderToken", "iat older than one hour")
        if h.get("apns-topic") != args.apns_topic:
            raise Refusal(400, "BadTopic" if h.get("apns-topic") else "MissingTopic", "apns-topic wrong or missing")
        if h.get("apns-push-type") != "alert":
            raise Refusal(400, "InvalidPushType", "apns-push-type is not alert")
        if h.get("apns-priority") != "10":
            raise Refusal(400, "BadPriority", "apns-priority is not 10")
        expiration = h.get("apns-expiration") or ""
        if not expiration.isdigit() or not (now - 5 <= int(expiration) <= now + 3600):
            raise Refusal(400, "BadExpirationDate", "apns-expiration missing or not within the next hour")
        collapse = h.get("apns-collapse-id") or ""
        if not collapse or len(collapse.encode()) > 64:
            raise Refusal(400, "BadCollapseId", "apns-collapse-id missing or longer than 64 bytes")
        for name, value in h.items():
            if name.lower().startswith("apns-") and "@" in value:
                raise Refusal(400, None, f"header {name} contains @")
        return jwt

    def apns_check_body(self, body):
        if b"@" in body:
            raise Refusal(400, None, "body contains @")
        try:
            payload = json.loads(body)
        except ValueError:
            raise Refusal(400, "PayloadEmpty" if not body else "BadPayload", "body is not JSON")
        exact_keys(payload, ["aps", "sigil"], "payload")
        exact_keys(payload["aps"], ["alert", "sound"], "aps")
        exact_keys(payload["aps"]["alert"], ["title", "body"], "aps.alert")
        if payload["aps"]["alert"] != {"title": "Sign-in request", "body": "Open Sigil to review it"}:
            raise Refusal(400, None, "alert text is not the fixed text")
        if payload["aps"]["sound"] != "default":
            raise Refusal(400, None, "sound is not default")
        exact_keys(payload["sigil"], ["v", "request", "device"], "sigil")
        sigil = payload["sigil"]
        if sigil["v"] != 1 or not is_int(sigil["v"]):
            raise Refusal(400, None, "sigil.v is not 1")
        check_ids(sigil["request"], sigil["device"])
        return payload

    # --- OAuth token (JWT-bearer grant) -------------------------------------------------------

    def token(self):
        with self.state.lock:
            self.state.token_requests += 1
        try:
            if self.state.fcm_key is None:
                raise Refusal(400, "invalid_client", "FCM is not configured in the fake")
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            body = self.read_body(16384)
            if ctype != "application/x-www-form-urlencoded":
                raise Refusal(400, "invalid_request", f"content-type {ctype!r}")
            form = urllib.parse.parse_qs(body.decode(), strict_parsing=True, keep_blank_values=True)
            if set(form) != {"grant_type", "assertion"} or any(len(v) != 1 for v in form.values()):
                raise Refusal(400, "invalid_request", f"form fields {sorted(form)}")
            if form["grant_type"][0] != JWT_BEARER:
                raise Refusal(400, "unsupported_grant_type", "grant_type is not jwt-bearer")
            self.check_assertion(form["assertion"][0])
        except Refusal as r:
            self.record_violation("token", r.detail, r.status)
            return self.send_json(r.status, {"error": r.code or "invalid_request", "error_description": r.detail})
        except ValueError as e:
            self.record_violation("token", f"form unreadable: {e}", 400)
            return self.send_json(400, {"error": "invalid_request"})
        access = "fake-at-" + secrets.token_urlsafe(24)
        lifetime = self.state.args.token_lifetime
        with self.state.lock:
            self.state.bearers[access] = time.time() + lifetime
            self.state.tokens_granted += 1
        self.send_json(200, {"access_token": access, "expires_in": lifetime, "token_type": "Bearer"})

    def check_assertion(self, assertion):
        args = self.state.args
        try:
            header, claims, signing_input, signature = parse_jwt(assertion)
        except (ValueError, UnicodeDecodeError) as e:
            raise Refusal(400, "invalid_grant", f"assertion unreadable: {e}")
        if header.get("alg") != "RS256" or set(header) - {"alg", "typ", "kid"}:
            raise Refusal(400, "invalid_grant", f"assertion header {header}")
        try:
            self.state.fcm_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise Refusal(400, "invalid_grant", "assertion signature does not verify")
        if set(claims) - {"iss", "scope", "aud", "iat", "exp", "sub"}:
            raise Refusal(400, "invalid_grant", f"assertion claims {sorted(claims)}")
        if claims.get("iss") != args.fcm_client_email:
            raise Refusal(400, "invalid_grant", "iss is not the service account")
        if FCM_SCOPE not in str(claims.get("scope", "")).split(" "):
            raise Refusal(400, "invalid_scope", "scope lacks firebase.messaging")
        expected_aud = f"http://127.0.0.1:{self.state.port}/token"
        if claims.get("aud") != expected_aud:
            raise Refusal(400, "invalid_grant", f"aud is not {expected_aud}")
        iat, exp, now = claims.get("iat"), claims.get("exp"), time.time()
        if not is_int(iat) or not is_int(exp):
            raise Refusal(400, "invalid_grant", "iat or exp not integers")
        if iat > now + CLOCK_SKEW or exp <= now or exp - iat > 3600 or exp <= iat:
            raise Refusal(400, "invalid_grant", f"bad iat/exp (now {int(now)}, iat {iat}, exp {exp})")

    # --- FCM HTTP v1 --------------------------------------------------------------------------

    def fcm(self, project):
        token = None
        try:
            auth = self.headers.get("authorization") or ""
            bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
            with self.state.lock:
                expiry = self.state.bearers.get(bearer) if bearer else None
            if expiry is None or expiry < time.time():
                # An expired or revoked bearer is a normal event (the client refreshes), not a violation.
                raise Refusal(401, "UNAUTHENTICATED", "bearer missing, unknown, revoked or expired", violation=bearer is None)
            if project != self.state.args.fcm_project:
                raise Refusal(403, "PERMISSION_DENIED", f"project {project!r} is not the service account's")
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise Refusal(400, "INVALID_ARGUMENT", f"content-type {ctype!r}")
            body = self.read_body(FCM_BODY_LIMIT)
            token = self.fcm_check_body(body)
        except Refusal as r:
            if r.violation:
                self.record_violation("fcm", r.detail, r.status)
            self.record_request("fcm", token, r.status)
            return self.send_json(r.status, google_error(r.status, r.code or "INVALID_ARGUMENT", r.detail))

        status, code, extra = 200, None, []
        if token.startswith("unregistered-"):
            status, code = 404, "UNREGISTERED"
        elif token.startswith("badtoken-"):
            status, code = 400, "INVALID_ARGUMENT"
        elif token.startswith(self.state.args.expire_prefix) and self.state.once(self.state.expire_done, token):
            with self.state.lock:
                self.state.bearers.pop(bearer, None)
            status, code = 401, "UNAUTHENTICATED"
        elif token.startswith(self.state.args.busy_prefix) and self.state.once(self.state.busy_done, token):
            status, code = 429, "QUOTA_EXCEEDED"
            extra = [("Retry-After", str(self.state.args.retry_after))]
        self.record_request("fcm", token, status)
        if status == 200:
            name = f"projects/{project}/messages/{secrets.randbelow(10**16)}"
            with self.state.lock:
                self.state.deliveries.append({"api": "fcm", "token": token, "body": body.decode(), "headers": {}, "time": time.time()})
            return self.send_json(200, {"name": name})
        self.send_json(status, google_error(status, code, "fake"), extra)

    def fcm_check_body(self, body):
        if b"@" in body:
            raise Refusal(400, "INVALID_ARGUMENT", "body contains @")
        try:
            payload = json.loads(body)
        except ValueError:
            raise Refusal(400, "INVALID_ARGUMENT", "body is not JSON")
        exact_keys(payload, ["message"], "payload")
        message = payload["message"]
        exact_keys(message, ["token", "data", "android"], "message")
        if not isinstance(message["token"], str) or not message["token"]:
            raise Refusal(400, "INVALID_ARGUMENT", "message.token is not a string")
        exact_keys(message["data"], ["v", "request", "device"], "message.data")
        data = message["data"]
        if not all(isinstance(v, str) for v in data.values()):
            raise Refusal(400, "INVALID_ARGUMENT", "data values must be strings")
        if data["v"] != "1":
            raise Refusal(400, "INVALID_ARGUMENT", "data.v is not \"1\"")
        check_ids(data["request"], data["device"])
        exact_keys(message["android"], ["priority", "ttl", "collapse_key"], "message.android")
        android = message["android"]
        if android["priority"] != "HIGH":
            raise Refusal(400, "INVALID_ARGUMENT", "android.priority is not HIGH")
        ttl = android["ttl"]
        if not isinstance(ttl, str) or not re.fullmatch(r"\d{1,7}s", ttl) or int(ttl[:-1]) > 3600:
            raise Refusal(400, "INVALID_ARGUMENT", "android.ttl is not '<seconds>s' within an hour")
        if android["collapse_key"] != data["request"]:
            raise Refusal(400, "INVALID_ARGUMENT", "android.collapse_key is not the request id")
        return message["token"]


def check_ids(request, device):
    if not isinstance(request, str) or not re.fullmatch(r"ltx_[A-Za-z0-9_-]{1,64}", request):
        raise Refusal(400, None, "request id is not ltx_…")
    if not isinstance(device, str) or not re.fullmatch(r"dev_[A-Za-z0-9_-]{1,64}", device):
        raise Refusal(400, None, "device id is not dev_…")


def google_error(status, code, message):
    names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
             429: "RESOURCE_EXHAUSTED", 413: "INVALID_ARGUMENT", 411: "INVALID_ARGUMENT"}
    return {"error": {"code": status, "message": message, "status": names.get(status, "UNKNOWN"),
                      "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}}


def str_uuid():
    import uuid
    return str(uuid.uuid4()).upper()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("port_positional", nargs="?", type=int, help="port (same as --port)")
    parser.add_argument("--port", type=int, default=None, help="0 picks a free port and prints it first")
    parser.add_argument("--apns-public-key", help="PEM public key of the APNs .p8 signing key")
    parser.add_argument("--apns-key-id", default="ABC123DEFG")
    parser.add_argument("--apns-team-id", default="DEF123GHIJ")
    parser.add_argument("--apns-topic", default="org.sigil.authenticator")
    parser.add_argument("--fcm-public-key", help="PEM public key of the service account")
    parser.add_argument("--fcm-client-email", default="push@sigil-test.iam.gserviceaccount.com")
    parser.add_argument("--fcm-project", default="sigil-test")
    parser.add_argument("--busy-prefix", default="busy-", help="tokens answered one 429 first")
    parser.add_argument("--expire-prefix", default="expire-", help="tokens answered one 403 ExpiredProviderToken / 401 first")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on the 429")
    parser.add_argument("--token-lifetime", type=int, default=3599, help="expires_in of issued access tokens")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    # A parent may have spawned us with SIGTERM/SIGINT blocked (inherited signal mask): unblock them.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    port = args.port if args.port is not None else (args.port_positional or 0)

    Handler.state = State(args)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    Handler.state.port = server.server_address[1]
    print(Handler.state.port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
