"""Plumbing shared by interop/fake_auth0.py and interop/fake_okta.py (issue 14): a threaded
127.0.0.1 HTTP server that validates every vendor-API exchange against the vendor's OpenAPI document
(interop/vendor_openapi.py), records validation failures, appends each exchange to a JSONL log with
secrets redacted, answers 429 on demand, and serves a backdoor under /__fake__/ for tests.

Log line (one JSON object per exchange; read back by interop/vendor_request_validator.py):
  {"seq", "ts", "vendor", "method", "path", "query",
   "request":  {"headers": {...}, "body": <JSON value | form dict | text | null>, "body_kind": "json"|"form"|"text"|"empty"},
   "response": {"status", "headers": {...}, "body": ..., "body_kind": ...},
   "fake": {"request_errors": [...], "response_errors": [...], "rejected_as_invalid": bool, "expect_invalid": bool}}
Redacted as "<redacted>": the Authorization header's credential (its scheme word is kept, e.g.
"Bearer <redacted>", "SSWS <redacted>"), and every value under a key named client_secret, access_token,
id_token, refresh_token, apiKey, password, secret or key (the last only inside signing_key objects).
Backdoor requests (/__fake__/...) are the tests' own channel: neither validated nor logged.

A test that sends a request it knows to be invalid (to see the vendor's 400) marks it with the header
`X-Sigil-Fake-Expect: invalid-request`; the log keeps the mark, and the separate validator accepts an
invalid request only when it carries the mark and the fake answered it with a 4xx.
"""
import base64
import hashlib
import json
import secrets
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

REDACTED = "<redacted>"
SECRET_KEYS = {"client_secret", "access_token", "id_token", "refresh_token", "apikey", "password", "secret"}
EXPECT_HEADER = "X-Sigil-Fake-Expect"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def random_id(prefix, n, alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"):
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


class RS256Signer:
    """An RSA key that signs and verifies compact JWS (RS256) and publishes a JWKS."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = b64url(hashlib.sha256(self.public_der()).digest())[:32]

    def public_der(self):
        return self.key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, claims):
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + b64url(
            json.dumps(claims, separators=(",", ":")).encode())
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)

    def verify(self, token):
        """The claims if the signature is ours, else None (expiry etc. are the caller's)."""
        try:
            h, p, s = token.split(".")
            header = json.loads(b64url_decode(h))
            if header.get("alg") != "RS256" or header.get("kid") != self.kid:
                return None
            self.key.public_key().verify(b64url_decode(s), (h + "." + p).encode(), padding.PKCS1v15(), hashes.SHA256())
            return json.loads(b64url_decode(p))
        except Exception:
            return None

    def jwks(self):
        numbers = self.key.public_key().public_numbers()

        def uint(n):
            return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": uint(numbers.n), "e": uint(numbers.e)}]}


def redact_value(value, parent_key=None):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            lk = str(k).lower()
            if lk in SECRET_KEYS or (parent_key == "signing_key" and lk == "key"):
                out[k] = REDACTED if v not in (None, "") else v
            else:
                out[k] = redact_value(v, lk)
        return out
    if isinstance(value, list):
        return [redact_value(v, parent_key) for v in value]
    return value


def secret_values(headers, body):
    """Every secret string in a request or response (for scrubbing free text such as error messages)."""
    found = set()
    for k, v in headers.items():
        if k.lower() == "authorization" and " " in v:
            found.add(v.split(" ", 1)[1].strip())

    def walk(value, parent=None):
        if isinstance(value, dict):
            for k, v in value.items():
                lk = str(k).lower()
                if (lk in SECRET_KEYS or (parent == "signing_key" and lk == "key")) and isinstance(v, str) and v:
                    found.add(v)
                else:
                    walk(v, lk)
        elif isinstance(value, list):
            for v in value:
                walk(v, parent)

    if body:
        try:
            walk(json.loads(body))
        except ValueError:
            try:
                walk(dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)))
            except UnicodeDecodeError:
                pass
    return {s for s in found if len(s) >= 4}


def scrub(texts, secrets_found):
    out = []
    for t in texts:
        for s in sorted(secrets_found, key=len, reverse=True):
            t = t.replace(s, REDACTED)
        out.append(t)
    return out


def redact_headers(headers):
    out = {}
    for k, v in headers.items():
        if k.lower() in ("authorization", "proxy-authorization"):
            scheme = v.split(" ", 1)[0] if " " in v else ""
            out[k] = (scheme + " " + REDACTED).strip()
        elif k.lower() == "cookie":
            out[k] = REDACTED
        else:
            out[k] = v
    return out


def content_type(headers):
    for k, v in headers.items():
        if k.lower() == "content-type":
            return v.split(";")[0].strip().lower()
    return ""


def body_for_log(headers, body):
    """(kind, value) with secrets redacted."""
    if not body:
        return "empty", None
    ctype = content_type(headers)
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            return "json", redact_value(json.loads(body))
        except ValueError:
            pass
    if ctype == "application/x-www-form-urlencoded":
        try:
            pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
            return "form", redact_value(dict(pairs))
        except UnicodeDecodeError:
            pass
    text = body.decode("utf-8", "replace")
    for key in SECRET_KEYS:
        if key in text.lower():
            return "text", REDACTED  # unparseable body that mentions a secret: keep nothing
    return "text", text


def body_from_log(kind, value):
    """Bytes equivalent (for validation) of a logged body."""
    if kind == "empty" or value is None:
        return b""
    if kind == "json":
        return json.dumps(value).encode()
    if kind == "form":
        return urllib.parse.urlencode(value).encode()
    return str(value).encode()


class Reply:
    def __init__(self, status, body=None, headers=None, raw=None, ctype="application/json"):
        self.status = status
        self.headers = dict(headers or {})
        if raw is not None:
            self.body = raw
        elif body is None:
            self.body = b""
        else:
            self.body = json.dumps(body).encode()
        if self.body and not any(k.lower() == "content-type" for k in self.headers):
            self.headers["Content-Type"] = ctype + ("; charset=utf-8" if ctype == "application/json" else "")


class Exchange:
    """One received request as the routes see it."""

    def __init__(self, method, path, query, headers, body):
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body
        self.request_errors = []

    def header(self, name):
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    @property
    def args(self):
        return dict(urllib.parse.parse_qsl(self.query, keep_blank_values=True))

    def json(self):
        return json.loads(self.body or b"null")

    def form(self):
        return dict(urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True))


class FakeVendorServer:
    """Subclasses set `vendor`, implement route(ex) -> Reply (vendor API and other public routes),
    backdoor(ex) -> Reply, rate_limited(ex) -> Reply, invalid_request(ex) -> Reply, and
    `is_api(path)` (whether a path is validated against the vendor document)."""

    vendor = None

    def __init__(self, port=0, log_path=None, host="127.0.0.1"):
        from vendor_openapi import vendor_api
        self.api = vendor_api(self.vendor)
        self.lock = threading.RLock()
        self.log_path = log_path
        self._log_lock = threading.Lock()
        self.seq = 0
        self.request_failures = []   # [{"seq", "method", "path", "errors"}]: answered 400
        self.response_failures = []  # bugs in the fake: must stay empty
        self.rate_limit = {"count": 0, "retry_after": 1}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _go(self):
                server._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _go

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- the exchange ---

    def _serve(self, h):
        parsed = urllib.parse.urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {k: v for k, v in h.headers.items()}
        ex = Exchange(h.command, parsed.path, parsed.query, headers, body)
        try:
            if parsed.path.startswith("/__fake__/"):
                reply = self.backdoor(ex)
            else:
                reply = self._vendor_exchange(ex)
        except Exception:
            traceback.print_exc()
            reply = Reply(500, {"fake_error": traceback.format_exc()[-2000:]})
        data = reply.body
        h.send_response(reply.status)
        for k, v in reply.headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _vendor_exchange(self, ex):
        validated = self.is_api(ex.path) or self.api.local(ex.method, ex.path) is not None
        if validated:
            ex.request_errors = self.api.validate_request(ex.method, ex.path, ex.query, ex.headers, ex.body)
        with self.lock:
            self.seq += 1
            seq = self.seq
            limited = self.rate_limit["count"] > 0
            if limited:
                self.rate_limit["count"] -= 1
        if limited:
            reply = self.rate_limited(ex)
        else:
            reply = self.route(ex)
        rejected = getattr(reply, "rejected_as_invalid", False)
        if rejected:
            with self.lock:
                self.request_failures.append({"seq": seq, "method": ex.method, "path": ex.path, "errors": ex.request_errors})
        response_errors = []
        if validated:
            response_errors = self.api.validate_response(ex.method, ex.path, ex.query, ex.headers, ex.body,
                                                         reply.status, reply.headers, reply.body)
            if response_errors:
                with self.lock:
                    self.response_failures.append({"seq": seq, "method": ex.method, "path": ex.path,
                                                   "status": reply.status, "errors": response_errors})
                print(f"FAKE BUG ({self.vendor}): response {reply.status} to {ex.method} {ex.path} does not validate:\n  "
                      + "\n  ".join(response_errors), file=sys.stderr, flush=True)
        self._log(seq, ex, reply, validated, rejected, response_errors)
        return reply

    def _log(self, seq, ex, reply, validated, rejected, response_errors):
        if not self.log_path:
            return
        qk, qv = body_for_log({"Content-Type": "application/x-www-form-urlencoded"}, ex.query.encode())
        rk, rv = body_for_log(ex.headers, ex.body)
        sk, sv = body_for_log(reply.headers, reply.body)
        entry = {
            "seq": seq, "ts": time.time(), "vendor": self.vendor, "method": ex.method, "path": ex.path,
            "query": urllib.parse.urlencode(qv) if qk == "form" else ex.query,
            "validated": validated,
            "request": {"headers": redact_headers(ex.headers), "body_kind": rk, "body": rv},
            "response": {"status": reply.status, "headers": reply.headers, "body_kind": sk, "body": sv},
            "fake": {"request_errors": ex.request_errors, "response_errors": response_errors,
                     "rejected_as_invalid": rejected, "expect_invalid": (ex.header(EXPECT_HEADER) or "") == "invalid-request"},
        }
        found = secret_values(ex.headers, ex.body) | secret_values({}, reply.body)
        entry["fake"]["request_errors"] = scrub(ex.request_errors, found)
        entry["fake"]["response_errors"] = scrub(response_errors, found)
        line = json.dumps(entry, sort_keys=True)
        with self._log_lock:
            with open(self.log_path, "a") as f:
                f.write(line + "\n")

    # --- helpers for subclasses ---

    def failures(self):
        with self.lock:
            return {"request_failures": list(self.request_failures), "response_failures": list(self.response_failures)}


class Checks:
    """PASS/FAIL lines and the closing 'N passed, N failed' line."""

    def __init__(self, prefix=""):
        self.passed = self.failed = 0
        self.prefix = prefix

    def __call__(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {self.prefix}{name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {self.prefix}{name}  -- {str(detail)[:800]}", flush=True)
        return ok

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0
