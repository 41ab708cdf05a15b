#!/usr/bin/env python3
"""Interop: OIDC step-up with RFC 9470 (OAuth 2.0 Step Up Authentication Challenge) against the real
`sigil serve`, headless Chromium and the real `sigil-authenticator` CLI as the phone.

Sigil runs on http://localhost:PORT; a relying party (authlib's OAuth2Session: code + PKCE S256,
client_secret_basic, ID tokens verified against /oauth2/jwks) and a resource server run on
127.0.0.1 (another site, as in the real world). The resource server validates Sigil's JWT access
tokens (RFC 9068: typ at+jwt, RS256, kid in the JWKS, iss, aud, exp, client_id) with authlib.jose
and demands acr `urn:sigil:acr:liveid` with an `auth_time` at most 60 s old; otherwise it answers
401 with `WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description=…,
acr_values="urn:sigil:acr:liveid", max_age="60"` (RFC 9470 §3). The RP's /app page calls the
resource server, parses that challenge (RFC 7235 auth-params) and sends the browser to a new
authorization request with the challenge's `acr_values` and `max_age`.

  6. Discovery lists acr_values_supported phrh, phr, urn:sigil:acr:liveid, urn:sigil:acr:authenticator.
  1. The user (a passkey from the first-administrator link, then the CLI enrolled as a phone from
     /account) signs in at the RP with the passkey (Chromium's WebAuthn virtual authenticator):
     ID and access token acr phrh/phr; the resource server answers 401 with exactly the RFC 9470
     challenge; the RP builds the step-up request from it.
  4. (In a second tab, with that passkey session) prompt=none + acr_values liveid -> login_required
     at the RP (state, iss); prompt=none + acr_values urn:sigil:acr:authenticator -> a code whose
     tokens say acr urn:sigil:acr:authenticator (phrh satisfies it).
  2. The step-up: Chromium is on /login with acr=urn:sigil:acr:liveid: #acr-note names the Sigil
     app and face or fingerprint, no #passkey-button, #username pre-filled with the account, the
     authenticator section (#push-button, #qr-image, #push-number) present. "Send a request to my
     phone", the CLI approves with the number shown and --simulate-user-verification face -> the
     RP's callback -> ID and access tokens acr urn:sigil:acr:liveid, amr swk face user mca mfa,
     fresh auth_time, sid; the resource server answers 200; introspection (RFC 7662) says acr
     liveid and the same auth_time; a refreshed access token keeps acr, amr and auth_time; the
     passkey was not used on that page (sign count unchanged). Then the browser's Back button:
     where it lands is printed (a NOTE).
  5. Sign in twice: acr_values liveid again without max_age -> a code without any Sigil page
     (Chromium's network log has no /login), same auth_time; a liveid session with prompt=none and
     acr_values phr -> login_required (liveid does not satisfy phr), with acr_values
     urn:sigil:acr:authenticator -> a code with that acr; max_age=0 with the essential claims form
     (claims.id_token.acr essential liveid), pushed with PAR -> the liveid login page again; QR code
     read by the CLI from the screenshot, --simulate-user-verification fingerprint -> a code, acr
     liveid, amr fpt, a newer auth_time.
  3. acr_values liveid + max_age=0, approved on the phone with `pin` -> (voluntary) a code whose
     tokens say acr urn:sigil:acr:authenticator and amr pin; the resource server still answers 401
     insufficient_user_authentication (introspection: acr authenticator); the same with `presence`
     (QR); then the essential form (claims.id_token.acr essential liveid) -> the login page, QR
     approved with pin -> error=access_denied at the RP's redirect URI (state, iss,
     error_description, no code); prompt=none + liveid with that session -> login_required.
Also: every authorization response carries iss (RFC 9207), no code, token or secret in the
server's log. A step-up re-authenticates the browser's session in place (the same sid), so after
RP-initiated logout with the last ID token none of the RP's access tokens is active and the first
sign-in's refresh token is refused. Printed as a NOTE (no contract yet): where the Back button
lands after the step-up.

    /opt/peers-venv/bin/python interop/oidc_stepup.py [--sigil .build/debug/sigil]
        [--authenticator .build/debug/sigil-authenticator] [--artifacts DIR]

Needs chromium, chromium-driver and /opt/peers-venv with selenium, requests, authlib
(scripts/install-interop.sh). Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if
anything failed. About 50 seconds (two pushes to one user must be 30 s apart).
"""
import argparse, base64, json, os, re, shutil, subprocess, sys, tempfile, threading, time, traceback, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the test servers speak http
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from passkey_signin import check, make_driver, report_and_exit, start_sigil, stop_sigil, free_port, wait_path  # noqa: E402

import warnings  # noqa: E402
warnings.filterwarnings("ignore")  # authlib.jose's deprecation notice (joserfc); the API still verifies
import requests  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.common.security import generate_token  # noqa: E402
from authlib.jose import JsonWebKey, JsonWebToken  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402

LIVEID = "urn:sigil:acr:liveid"
AUTHENTICATOR = "urn:sigil:acr:authenticator"
MAX_AGE = 60
EMAIL = "ada@example.com"
STEP_UP_ERROR = "insufficient_user_authentication"
STEP_UP_DESCRIPTION = "A different authentication level is required"
FRESHNESS_DESCRIPTION = "More recent authentication is required"
EXPECTED_CHALLENGE = (f'Bearer error="{STEP_UP_ERROR}", error_description="{STEP_UP_DESCRIPTION}", '
                      f'acr_values="{LIVEID}", max_age="{MAX_AGE}"')
NOTES = []  # observations outside the contract, printed at the end
TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"


def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def parse_challenge(value):
    """One RFC 7235 challenge: (scheme, {lower-case auth-param name: value}); quoted-strings unescaped.
    Raises ValueError on anything else."""
    m = re.match(rf"\s*({TOKEN})(?:\s+|$)(.*)$", value or "", re.S)
    if not m:
        raise ValueError(f"not a challenge: {value!r}")
    scheme, rest, params, pos = m.group(1), m.group(2), {}, 0
    pair = re.compile(rf'\s*({TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|{TOKEN})\s*(?:,|$)', re.S)
    while pos < len(rest):
        p = pair.match(rest, pos)
        if not p or p.end() == pos:
            raise ValueError(f"bad auth-param at {rest[pos:]!r}")
        name, raw = p.group(1).lower(), p.group(2)
        if name in params:
            raise ValueError(f"repeated auth-param {name}")
        params[name] = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
        pos = p.end()
    return scheme, params


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlparse(url).query))


def quiet_server(handler_cls):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


class ResourceServer:
    """An API that accepts Sigil's access tokens only with acr LiveID from the last MAX_AGE seconds."""

    def __init__(self, issuer, jwks_uri, client_id=None):
        self.issuer, self.jwks_uri, self.client_id = issuer, jwks_uri, client_id
        self.keys = None
        self.seen = []  # (status, WWW-Authenticate or None, claims or None)
        rs = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                status, challenge, body = rs.decide(self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "no-store")
                if challenge:
                    self.send_header("WWW-Authenticate", challenge)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd, self.base = quiet_server(Handler)
        self.url = self.base + "/api/statement"

    def shutdown(self):
        self.httpd.shutdown()

    def key_set(self, kid):
        if self.keys is None or not any(k.get("kid") == kid for k in self.keys.get("keys", [])):
            self.keys = requests.get(self.jwks_uri, timeout=10).json()  # first use, or a rotation
        return self.keys

    def validate(self, token):
        header = b64json(token.split(".")[0])
        if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
            raise ValueError(f"typ {header.get('typ')!r} is not at+jwt (RFC 9068 §4)")
        if header.get("alg") != "RS256":
            raise ValueError(f"alg {header.get('alg')!r}")
        keys = self.key_set(header.get("kid"))
        if not any(k.get("kid") == header.get("kid") for k in keys.get("keys", [])):
            raise ValueError(f"kid {header.get('kid')} not in the JWKS")
        claims = JsonWebToken(["RS256"]).decode(token, JsonWebKey.import_key_set(keys), claims_options={
            "iss": {"essential": True, "value": self.issuer}, "aud": {"essential": True, "value": self.issuer},
            "exp": {"essential": True}, "sub": {"essential": True}, "client_id": {"essential": True, "value": self.client_id}})
        claims.validate(leeway=5)
        return dict(claims)

    def decide(self, authorization):
        if not authorization.startswith("Bearer "):
            self.seen.append((401, 'Bearer realm="statements"', None))
            return 401, 'Bearer realm="statements"', {"error": "no token"}
        try:
            claims = self.validate(authorization[len("Bearer "):].strip())
        except Exception as error:  # noqa: BLE001 - any invalid token is invalid_token
            text = str(error).replace('"', "'").replace("\\", "")[:120]
            challenge = f'Bearer error="invalid_token", error_description="{text}"'
            self.seen.append((401, challenge, None))
            return 401, challenge, {"error": "invalid_token"}
        auth_time = claims.get("auth_time")
        acr_ok = claims.get("acr") == LIVEID
        fresh = isinstance(auth_time, int) and time.time() - auth_time <= MAX_AGE
        if acr_ok and fresh:
            self.seen.append((200, None, claims))
            return 200, None, {"sub": claims["sub"], "acr": claims["acr"], "auth_time": auth_time, "statement": "OK"}
        # RFC 9470 §3: both requirements, whichever was missed.
        description = STEP_UP_DESCRIPTION if not acr_ok else FRESHNESS_DESCRIPTION
        challenge = (f'Bearer error="{STEP_UP_ERROR}", error_description="{description}", '
                     f'acr_values="{LIVEID}", max_age="{MAX_AGE}"')
        self.seen.append((401, challenge, claims))
        return 401, challenge, {"error": STEP_UP_ERROR}


class Round:
    """One authorization request of the RP and what came back."""

    def __init__(self, kind, params, oauth, state, nonce, verifier, url, par):
        self.kind, self.params, self.oauth, self.state, self.nonce, self.verifier = kind, params, oauth, state, nonce, verifier
        self.url, self.par, self.started = url, par, time.time()
        self.query, self.error, self.token, self.id_claims, self.id_error, self.at_claims = {}, None, None, None, "", None

    @property
    def acr(self):
        return (self.id_claims or {}).get("acr")

    def describe(self):
        if self.error:
            return f"{self.kind}: error {self.error} {self.query.get('error_description', '')}"
        return (f"{self.kind}: id acr={self.acr} amr={(self.id_claims or {}).get('amr')} "
                f"auth_time={(self.id_claims or {}).get('auth_time')}; at acr={(self.at_claims or {}).get('acr')} {self.id_error}")


class RelyingParty:
    """authlib's OAuth2Session as an OIDC client with a page (/app) that needs the resource server.

    /app: without a token, an authorization request; with one, calls the resource server; on 401
    insufficient_user_authentication (RFC 9470) it starts a new authorization request with the
    challenge's acr_values and max_age, unless its token already came from such a step-up (then it
    shows #app-denied instead of looping). /login?…: an authorization request with the given extra
    parameters (`par=1` pushes it first). /cb: state, iss, code exchange with PKCE, ID token
    verification; app and step-up rounds go back to /app."""

    def __init__(self, meta, issuer, resource_url, client_id=None, client_secret=None):
        self.meta, self.issuer, self.client_id, self.client_secret, self.resource_url = meta, issuer, client_id, client_secret, resource_url
        self.lock = threading.Lock()
        self.pending, self.rounds, self.app_visits, self.strays = {}, [], [], []
        self.current = None
        self.secrets = []
        rp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def page(self, status, element, text):
                body = (f"<!doctype html><html><head><title>RP</title></head><body><h1>Statements</h1>"
                        f"<p id='{element}'>{text}</p></body></html>").encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def redirect(self, url):
                self.send_response(302)
                self.send_header("Location", url)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                path = urllib.parse.urlparse(self.path).path
                try:
                    if path == "/app":
                        rp.app(self)
                    elif path == "/login":
                        q = query_of(self.path)
                        par = q.pop("par", None) == "1"
                        self.redirect(rp.start("manual", par=par, **q))
                    elif path == "/cb":
                        rp.callback(self)
                    else:
                        self.page(404, "rp-missing", "not found")
                except Exception as error:  # noqa: BLE001 - shown on the page and recorded
                    traceback.print_exc()
                    rp.strays.append(f"{self.path}: {error!r}")
                    self.page(500, "rp-broken", repr(error))

        self.httpd, self.base = quiet_server(Handler)
        self.redirect_uri = self.base + "/cb"

    def start(self, kind, par=False, **extra):
        verifier, nonce, state = generate_token(64), generate_token(20), generate_token(20)
        oauth = OAuth2Session(self.client_id, self.client_secret, scope="openid email profile", redirect_uri=self.redirect_uri,
                              state=state, code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
        params = {k: str(v) for k, v in extra.items() if v is not None}
        url, _ = oauth.create_authorization_url(self.meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce,
                                                state=state, **params)
        if par:
            pushed = requests.post(self.meta["pushed_authorization_request_endpoint"], auth=(self.client_id, self.client_secret),
                                   data=query_of(url), timeout=10)
            if pushed.status_code != 201:
                raise RuntimeError(f"PAR answered {pushed.status_code} {pushed.text[:200]}")
            url = self.meta["authorization_endpoint"] + "?" + urllib.parse.urlencode(
                {"client_id": self.client_id, "request_uri": pushed.json()["request_uri"]})
        with self.lock:
            self.pending[state] = Round(kind, params, oauth, state, nonce, verifier, url, par)
        return url

    def call_resource(self, access_token):
        """(status, challenge params or None, raw WWW-Authenticate, body)."""
        r = requests.get(self.resource_url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10)
        raw = r.headers.get("WWW-Authenticate")
        parsed = None
        if raw:
            try:
                scheme, parsed = parse_challenge(raw)
                parsed = dict(parsed, scheme=scheme)
            except ValueError as error:
                parsed = {"unparsable": str(error)}
        return r.status_code, parsed, raw, r.text

    def app(self, h):
        if self.current is None or not self.current.token:
            return h.redirect(self.start("app"))
        status, challenge, raw, body = self.call_resource(self.current.token["access_token"])
        visit = {"status": status, "challenge": challenge, "raw": raw, "round": self.current, "at": time.time(), "started": None}
        self.app_visits.append(visit)
        if status == 200:
            return h.page(200, "app-ok", body.replace("<", "&lt;"))
        if (status == 401 and challenge and challenge.get("scheme", "").lower() == "bearer"
                and challenge.get("error") == STEP_UP_ERROR and self.current.kind != "stepup"):
            extra = {"acr_values": challenge.get("acr_values"), "max_age": challenge.get("max_age")}
            visit["started"] = extra
            return h.redirect(self.start("stepup", **extra))
        return h.page(403, "app-denied", f"{status} {raw}")

    def callback(self, h):
        q = query_of(h.path)
        with self.lock:
            r = self.pending.pop(q.get("state", ""), None)
        if r is None:
            self.strays.append(h.path)
            return h.page(400, "rp-error", "unknown state")
        r.query, r.finished = q, time.time()
        if q.get("iss") != self.issuer:
            r.error = f"iss {q.get('iss')!r} (RFC 9207)"
        elif "error" in q:
            r.error = q["error"]
        else:
            self.secrets.append(q.get("code", ""))
            try:
                r.token = r.oauth.fetch_token(self.meta["token_endpoint"], authorization_response=self.base + h.path,
                                              code_verifier=r.verifier)
                self.secrets += [r.token.get("access_token", ""), r.token.get("refresh_token", "")]
                r.id_claims, r.id_error = self.verify_id_token(r)
                r.at_claims = b64json(r.token["access_token"].split(".")[1])
            except Exception as error:  # noqa: BLE001
                r.error = f"exchange: {error!r}"
        with self.lock:
            self.rounds.append(r)
        if r.token:
            self.current = r
        if r.kind in ("app", "stepup") and r.token:
            return h.redirect(self.base + "/app")
        if r.error:
            return h.page(200, "rp-error", r.error)
        return h.page(200, "rp-done", f"acr {r.acr}")

    def verify_id_token(self, r):
        header = b64json(r.token["id_token"].split(".")[0])
        keys = requests.get(self.meta["jwks_uri"], timeout=10).json()
        if not any(k.get("kid") == header.get("kid") for k in keys.get("keys", [])):
            return None, f"kid {header.get('kid')} not in JWKS"
        params = {"nonce": r.nonce, "client_id": self.client_id, "access_token": r.token["access_token"]}
        if "max_age" in r.params:
            params["max_age"] = int(r.params["max_age"])
        try:
            claims = JsonWebToken(["RS256"]).decode(r.token["id_token"], JsonWebKey.import_key_set(keys), claims_cls=CodeIDToken,
                                                    claims_options={"iss": {"essential": True, "value": self.issuer}},
                                                    claims_params=params)
            claims.validate(leeway=5)
            return dict(claims), ""
        except Exception as error:  # noqa: BLE001
            return None, repr(error)

    def wait_round(self, count, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.rounds) > count:
                    return self.rounds[count]
            time.sleep(0.1)
        raise RuntimeError(f"the RP's callback saw no round #{count + 1} within {timeout}s")

    def shutdown(self):
        self.httpd.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--authenticator", default=os.environ.get("SIGIL_AUTHENTICATOR_BIN", ".build/debug/sigil-authenticator"))
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    t0 = time.time()
    binary, phone_binary = os.path.abspath(args.sigil), os.path.abspath(args.authenticator)
    work = tempfile.mkdtemp(prefix="sigil-oidc-stepup-")
    artifacts = args.artifacts
    if artifacts:
        os.makedirs(artifacts, exist_ok=True)
    data = os.path.join(work, "data")
    home = os.path.join(work, "phone")
    port = free_port()
    issuer = f"http://localhost:{port}"
    proc, link = start_sigil(binary, data, port)
    driver = rp = rs = None
    secrets = []
    last_push = [0.0]

    def shot(name):
        if artifacts and driver:
            try:
                driver.save_screenshot(os.path.join(artifacts, f"stepup-{name}.png"))
            except Exception:  # noqa: BLE001
                pass

    def phone(*argv, timeout=60):
        cmd = [phone_binary, argv[0], "--home", home, *argv[1:]]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            r = subprocess.CompletedProcess(cmd, 124, "", f"timed out after {timeout}s")
        print(f"  $ sigil-authenticator {' '.join(argv)} -> {r.returncode}\n"
              + "".join("    " + line + "\n" for line in (r.stdout + r.stderr).splitlines()[:10]), flush=True)
        return r

    def text_of(element_id):
        return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.textContent : '';", element_id) or ""

    def wait_number(element_id, timeout=20):
        WebDriverWait(driver, timeout).until(lambda d: re.fullmatch(r"\d\d", text_of(element_id).strip()))
        return text_of(element_id).strip()

    def go(url):
        """A renderer-initiated navigation, like a link on a page (see oidc_common.browse_until)."""
        driver.get("about:blank")
        driver.execute_script("window.location.href = arguments[0]", url)

    def on_login(acr=None):
        u = driver.current_url
        if not u.startswith(issuer + "/login?") and u != issuer + "/login":
            return False
        return acr is None or query_of(u).get("acr") == acr

    def documents():
        """The document URLs Chromium requested since the last call (each redirect hop included)."""
        urls = []
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent" and message["params"].get("type") == "Document":
                urls.append(message["params"]["request"]["url"])
        return urls

    def sign_count():
        creds = driver.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        return sum(c.get("signCount", 0) for c in creds)

    def wait_push_spacing():
        """Sigil sends one push per user every 30 s (an earlier one is a decoy that never reaches the phone)."""
        left = last_push[0] + 31 - time.time()
        if left > 0:
            print(f"  (waiting {left:.0f} s: 30 s between pushes to one user)", flush=True)
            time.sleep(left)

    def liveid_page(what):
        """Checks the /login page Chromium is on asks for LiveID; returns the email field's value."""
        WebDriverWait(driver, 30).until(lambda d: on_login(LIVEID) and d.find_elements(By.ID, "acr-note")
                                        and d.execute_script("return document.readyState") == "complete")
        page = driver.page_source
        note = text_of("acr-note")
        check(f"{what}: /login asks for acr {LIVEID} (a new sign-in: prompt=login)", query_of(driver.current_url).get("prompt") == "login",
              driver.current_url)
        check(f"{what}: #acr-note asks for a confirmation in the Sigil app with the face or fingerprint",
              all(w in note.lower() for w in ("sigil app", "face", "fingerprint")), note)
        check(f"{what}: no passkey button (#passkey-button absent)", not driver.find_elements(By.ID, "passkey-button"),
              "present")
        check(f"{what}: the authenticator section is offered (#push-button, #qr-image, #push-number)",
              all(driver.find_elements(By.ID, i) for i in ("push-button", "qr-image", "push-number")), page[:300])
        value = driver.find_element(By.ID, "username").get_attribute("value") if driver.find_elements(By.ID, "username") else None
        check(f"{what}: #username is pre-filled with the signed-in account", value == EMAIL, repr(value))
        check(f"{what}: the page does not offer passkey autofill (no 'webauthn' autocomplete token)",
              "webauthn" not in (driver.find_element(By.ID, "username").get_attribute("autocomplete") or ""),
              driver.find_element(By.ID, "username").get_attribute("autocomplete"))
        return value

    def push_and_approve(what, uv):
        """Clicks 'Send a request to my phone', approves on the CLI with the number shown. Returns the click time."""
        wait_push_spacing()
        button = driver.find_element(By.ID, "push-button")
        check(f"{what}: the push button says 'Send a request to my phone'", "send a request to my phone" in button.text.lower(),
              button.text)
        clicked = time.time()
        button.click()
        last_push[0] = time.time()
        number = wait_number("push-number")
        driver.execute_script("document.getElementById('push-number').scrollIntoView({block: 'center'});")
        shot(f"{what.split(':')[0].replace(' ', '-')}-push-number")
        p = phone("pending", "--wait", "15", timeout=40)
        check(f"{what}: the push is pending on the phone", p.returncode == 0 and "ltx_" in p.stdout, p.stdout + p.stderr)
        a = phone("approve", "--number", number, "--simulate-user-verification", uv)
        check(f"{what}: approved on the phone with the number shown ({number}) and user verification {uv}", a.returncode == 0,
              a.stdout + a.stderr)
        return clicked

    def qr_and_approve(what, uv):
        """The QR code, read by the CLI from a screenshot of #qr-image, approved with the number the browser shows."""
        WebDriverWait(driver, 20).until(lambda d: d.execute_script(
            "const i = document.getElementById('qr-image'); return i && !i.hidden && i.complete && i.naturalWidth > 0;"))
        element = driver.find_element(By.ID, "qr-image")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        time.sleep(0.3)
        png = os.path.join(artifacts or work, f"stepup-{what.split(':')[0].replace(' ', '-')}-qr.png")
        element.screenshot(png)
        clicked = time.time()
        s = phone("scan", png)
        check(f"{what}: the CLI read the QR code from the screenshot and claimed the request", s.returncode == 0, s.stdout + s.stderr)
        number = wait_number("qr-number")
        a = phone("approve", "--number", number, "--simulate-user-verification", uv)
        check(f"{what}: approved on the phone with the number shown ({number}) and user verification {uv}", a.returncode == 0,
              a.stdout + a.stderr)
        return clicked

    def introspect(access_token):
        r = requests.post(meta["introspection_endpoint"], auth=(client_id, client_secret), data={"token": access_token}, timeout=10)
        return r.json() if r.status_code == 200 else {"status": r.status_code, "text": r.text[:200]}

    def manual(what, timeout=40, **params):
        """Navigates the browser to the RP's /login with params; returns the round once its callback ran."""
        count = len(rp.rounds)
        documents()
        go(rp.base + "/login?" + urllib.parse.urlencode(params))
        return rp.wait_round(count, timeout)

    try:
        if not check("sigil serve printed an enrolment link", bool(link)):
            return
        if not check(f"the sigil-authenticator CLI exists ({phone_binary})", os.access(phone_binary, os.X_OK)):
            return
        # --- the user: a passkey (first administrator), then the CLI as a phone from /account ---
        driver, authenticator = make_driver(logs=True)
        driver.get(link)
        driver.find_element(By.ID, "email").send_keys(EMAIL)
        driver.find_element(By.ID, "given_name").send_keys("Ada")
        driver.find_element(By.ID, "family_name").send_keys("Lovelace")
        driver.find_element(By.ID, "enroll-button").click()
        wait_path(driver, "/account")
        driver.find_element(By.ID, "add-device").click()
        WebDriverWait(driver, 20).until(lambda d: (d.find_element(By.ID, "device-link").get_attribute("href") or "").startswith("http"))
        enrolment = driver.find_element(By.ID, "device-link").get_attribute("href")
        e = phone("enroll", enrolment, "--name", "Ada's phone", "--yes")
        if not check("the user has a passkey and enrolled the CLI as a phone from /account", e.returncode == 0, e.stdout + e.stderr):
            return

        # --- 6. discovery ---
        meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
        check(f"discovery: acr_values_supported is phrh, phr, {LIVEID}, {AUTHENTICATOR}",
              meta.get("acr_values_supported") == ["phrh", "phr", LIVEID, AUTHENTICATOR], str(meta.get("acr_values_supported")))
        check("discovery: claims_parameter_supported", meta.get("claims_parameter_supported") is True)

        # --- the RP and the resource server (127.0.0.1: another site than localhost) ---
        rs = ResourceServer(issuer, meta["jwks_uri"])
        rp = RelyingParty(meta, issuer, rs.url)
        out = subprocess.run([binary, "app", "create-oidc", "--tenant", "default", "--name", "Statements (step-up RP)",
                              "--redirect-uri", rp.redirect_uri, "--json", "--data-dir", data], capture_output=True, text=True, timeout=60)
        reg = json.loads(out.stdout) if out.returncode == 0 else {}
        if not check("sigil app create-oidc: the RP, its redirect URI on 127.0.0.1", bool(reg.get("client_id")), out.stderr):
            return
        client_id, client_secret = reg["client_id"], reg["client_secret"]
        secrets.append(client_secret)
        rp.client_id, rp.client_secret, rs.client_id = client_id, client_secret, client_id

        # --- 1. a passkey sign-in at the RP; the resource server wants LiveID ---
        what = "1 passkey"
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        go(rp.base + "/app")
        clicked_on, deadline = {}, time.time() + 60
        while time.time() < deadline and not on_login(LIVEID) and not driver.find_elements(By.ID, "app-denied"):
            if on_login():
                u = driver.current_url
                if time.time() - clicked_on.get(u, 0) > 10 and driver.find_elements(By.ID, "passkey-button"):
                    shot("1-login-passkey")
                    try:
                        driver.find_element(By.ID, "passkey-button").click()
                        clicked_on[u] = time.time()
                    except Exception:  # noqa: BLE001 - the page moved on
                        pass
            time.sleep(0.1)
        first = rp.rounds[0] if rp.rounds else None
        if not check(f"{what}: signed in with the passkey through the RP (code, tokens)", bool(first and first.token),
                     first.describe() if first else f"no callback; browser at {driver.current_url}"):
            return
        check(f"{what}: authlib verified the ID token (RS256, kid, iss, aud, nonce, at_hash)", first.id_claims is not None, first.id_error)
        check(f"{what}: ID token acr phrh or phr", first.acr in ("phrh", "phr"), str(first.acr))
        check(f"{what}: access token acr the same, with amr, auth_time, sid", first.at_claims.get("acr") == first.acr
              and all(k in first.at_claims for k in ("amr", "auth_time", "sid")), json.dumps(first.at_claims))
        visit = rp.app_visits[0] if rp.app_visits else {}
        check(f"{what}: the resource server answers 401", visit.get("status") == 401, str(visit.get("status")))
        check(f"{what}: WWW-Authenticate is exactly RFC 9470's challenge", visit.get("raw") == EXPECTED_CHALLENGE, str(visit.get("raw")))
        ch = visit.get("challenge") or {}
        check(f"{what}: the RP parsed it: Bearer, error {STEP_UP_ERROR}, acr_values {LIVEID}, max_age {MAX_AGE}",
              ch.get("scheme") == "Bearer" and ch.get("error") == STEP_UP_ERROR and ch.get("acr_values") == LIVEID
              and ch.get("max_age") == str(MAX_AGE) and bool(ch.get("error_description")), json.dumps(ch))
        check(f"{what}: the RP started a new authorization request with those acr_values and max_age",
              visit.get("started") == {"acr_values": LIVEID, "max_age": str(MAX_AGE)}, str(visit.get("started")))
        if not check("2 step-up: Chromium is on Sigil's /login with acr=urn:sigil:acr:liveid", on_login(LIVEID), driver.current_url):
            return
        stepup_url = driver.current_url
        return_to = query_of(stepup_url).get("return_to", "")
        check("2 step-up: the login page resumes the RP's request (acr_values and max_age in return_to)",
              query_of(return_to).get("acr_values") == LIVEID and query_of(return_to).get("max_age") == str(MAX_AGE), return_to)

        # --- 4. (second tab, the passkey session) prompt=none ---
        main_tab = driver.current_window_handle
        driver.switch_to.new_window("tab")
        r = manual("4", prompt="none", acr_values=LIVEID)
        check("4 prompt=none + acr_values liveid with a passkey session -> login_required at the RP (state, iss)",
              r.error == "login_required" and r.query.get("state") == r.state and "code" not in r.query, r.describe() + str(r.query))
        r = manual("4", prompt="none", acr_values=AUTHENTICATOR)
        check(f"4 prompt=none + acr_values {AUTHENTICATOR} with a passkey session -> a code; ID and access token acr {AUTHENTICATOR}",
              r.token is not None and r.acr == AUTHENTICATOR and (r.at_claims or {}).get("acr") == AUTHENTICATOR, r.describe())
        if r.token:
            status = rp.call_resource(r.token["access_token"])[0]
            check("4 ... and the resource server answers 401 to it", status == 401, str(status))
        driver.close()
        driver.switch_to.window(main_tab)

        # --- 2. the step-up with the phone (face) ---
        what = "2 step-up"
        liveid_page(what)
        shot("2-login-liveid")
        count_before = sign_count()
        rounds_before = len(rp.rounds)
        clicked = push_and_approve(what, "face")
        try:
            WebDriverWait(driver, 40).until(lambda d: d.current_url.startswith(rp.base + "/app") and d.find_elements(By.ID, "app-ok"))
        except Exception:  # noqa: BLE001
            pass
        shot("2-app-ok")
        check(f"{what}: the browser is back on the RP's /app and the resource server answered 200",
              bool(driver.find_elements(By.ID, "app-ok")), f"{driver.current_url} {text_of('auth-status')} {text_of('app-denied')}")
        stepped = rp.rounds[rounds_before] if len(rp.rounds) > rounds_before else None
        if not check(f"{what}: the step-up round got a code and tokens", bool(stepped and stepped.token and stepped.kind == "stepup"),
                     stepped.describe() if stepped else "no callback"):
            return
        idc, atc = stepped.id_claims or {}, stepped.at_claims or {}
        check(f"{what}: authlib verified the ID token (with max_age: auth_time present)", stepped.id_claims is not None, stepped.id_error)
        check(f"{what}: ID token acr {LIVEID}", idc.get("acr") == LIVEID, str(idc.get("acr")))
        check(f"{what}: ID token amr swk face user mca mfa", sorted(idc.get("amr") or []) == sorted(["swk", "face", "user", "mca", "mfa"]),
              str(idc.get("amr")))
        fresh = isinstance(idc.get("auth_time"), int) and int(clicked) - 1 <= idc["auth_time"] <= time.time() + 1
        check(f"{what}: ID token auth_time is the approval's (after the click, not the passkey's)",
              fresh and idc["auth_time"] > (first.id_claims or {}).get("auth_time", 0), f"{idc.get('auth_time')} clicked {int(clicked)}")
        check(f"{what}: access token (at+jwt) acr {LIVEID}, amr with face, the same auth_time, a sid",
              atc.get("acr") == LIVEID and "face" in (atc.get("amr") or []) and atc.get("auth_time") == idc.get("auth_time")
              and bool(atc.get("sid")) and atc.get("sid") == idc.get("sid"), json.dumps(atc))
        visit = rp.app_visits[-1] if rp.app_visits else {}
        check(f"{what}: the resource server answered 200 to the RP", visit.get("status") == 200 and visit.get("round") is stepped,
              str(visit.get("status")))
        check(f"{what}: the resource server saw acr {LIVEID} within {MAX_AGE} s", bool(rs.seen) and rs.seen[-1][0] == 200
              and (rs.seen[-1][2] or {}).get("acr") == LIVEID, str(rs.seen[-1][:2]) if rs.seen else "")
        info = introspect(stepped.token["access_token"])
        check(f"{what}: introspection: active, acr {LIVEID}, the same auth_time", info.get("active") is True
              and info.get("acr") == LIVEID and info.get("auth_time") == idc.get("auth_time"), json.dumps(info))
        if check(f"{what}: the token response has a refresh token", bool(stepped.token.get("refresh_token")), ",".join(stepped.token)):
            refreshed = stepped.oauth.refresh_token(meta["token_endpoint"])
            rp.secrets += [refreshed.get("access_token", ""), refreshed.get("refresh_token", "")]
            ratc = b64json(refreshed["access_token"].split(".")[1]) if refreshed.get("access_token") else {}
            check(f"{what}: a refreshed access token keeps acr {LIVEID} and the original auth_time (RFC 9470 §4)",
                  ratc.get("acr") == LIVEID and ratc.get("auth_time") == idc.get("auth_time") and "face" in (ratc.get("amr") or []),
                  json.dumps(ratc))
            status = rp.call_resource(refreshed["access_token"])[0]
            check(f"{what}: the resource server accepts the refreshed token (within {MAX_AGE} s of the approval)", status == 200, str(status))
        check(f"{what}: the passkey was not used on the LiveID page (sign count unchanged)", sign_count() == count_before,
              f"{count_before} -> {sign_count()}")
        earlier = introspect(first.token["access_token"])
        check(f"{what}: the step-up re-authenticated the browser's session in place (same sid in the passkey and LiveID tokens)",
              bool(atc.get("sid")) and first.at_claims.get("sid") == atc.get("sid"), f"{first.at_claims.get('sid')!r} -> {atc.get('sid')!r}")
        NOTES.append(f"the passkey round's access token after the step-up: introspection active={earlier.get('active')!r} "
                     f"acr={earlier.get('acr')!r}")
        # The Back button after the step-up: where does it land? (no contract; printed)
        driver.back()
        time.sleep(2)
        back_url = driver.current_url
        NOTES.append(f"Back after the step-up lands on {back_url.split('?')[0]} "
                     f"(acr={query_of(back_url).get('acr')!r}, prompt={query_of(back_url).get('prompt')!r}); "
                     f"#acr-note {text_of('acr-note')!r}, #current-account {text_of('current-account')!r}")
        shot("2-back")

        # --- 5. sign in twice ---
        what = "5 again"
        r = manual(what, acr_values=LIVEID)
        seen = documents()
        logins = [u for u in seen if u.startswith(issuer + "/login")]
        check(f"{what}: acr_values liveid (no max_age) with the LiveID session -> a code without any Sigil page",
              r.token is not None and not logins and r.acr == LIVEID, r.describe() + " " + " ".join(logins))
        check(f"{what}: ... the same auth_time", (r.id_claims or {}).get("auth_time") == idc.get("auth_time"),
              f"{(r.id_claims or {}).get('auth_time')} vs {idc.get('auth_time')}")
        r = manual(what, prompt="none", acr_values="phr")
        check(f"{what}: prompt=none + acr_values phr with the LiveID session -> login_required (liveid does not satisfy phr)",
              r.error == "login_required", r.describe())
        r = manual(what, prompt="none", acr_values=AUTHENTICATOR)
        check(f"{what}: prompt=none + acr_values {AUTHENTICATOR} with the LiveID session -> a code, acr {AUTHENTICATOR}",
              r.token is not None and r.acr == AUTHENTICATOR, r.describe())
        what = "5 max_age=0"
        count = len(rp.rounds)
        documents()
        essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [LIVEID]}}})
        go(rp.base + "/login?" + urllib.parse.urlencode({"claims": essential, "max_age": "0", "par": "1"}))
        liveid_page(what + " (PAR, essential liveid)")
        shot("5-login-liveid-again")
        clicked = qr_and_approve(what, "fingerprint")
        r = rp.wait_round(count, 40)
        c = r.id_claims or {}
        check(f"{what}: the essential request gets a code after the new sign-in; ID token acr {LIVEID}, amr with fpt", r.token is not None and c.get("acr") == LIVEID
              and sorted(c.get("amr") or []) == sorted(["swk", "fpt", "user", "mca", "mfa"]), r.describe())
        check(f"{what}: a newer auth_time (the fingerprint approval's)", isinstance(c.get("auth_time"), int)
              and c["auth_time"] >= int(clicked) - 1 and c["auth_time"] > idc.get("auth_time", 0), f"{c.get('auth_time')} vs {idc.get('auth_time')}")
        check(f"{what}: access token acr {LIVEID}, amr with fpt", (r.at_claims or {}).get("acr") == LIVEID
              and "fpt" in (r.at_claims or {}).get("amr", []), json.dumps(r.at_claims))
        if r.token:
            status = rp.call_resource(r.token["access_token"])[0]
            check(f"{what}: the resource server answers 200", status == 200, str(status))

        # --- 3. PIN: not LiveID ---
        what = "3 pin voluntary"
        count = len(rp.rounds)
        documents()
        go(rp.base + "/login?" + urllib.parse.urlencode({"acr_values": LIVEID, "max_age": "0"}))
        liveid_page(what)
        push_and_approve(what, "pin")
        r = rp.wait_round(count, 40)
        shot("3-pin-voluntary")
        c = r.id_claims or {}
        check(f"{what}: the voluntary request still gets a code; ID token acr {AUTHENTICATOR} (the session's), amr with pin",
              r.token is not None and c.get("acr") == AUTHENTICATOR and "pin" in (c.get("amr") or []) and "face" not in (c.get("amr") or []),
              r.describe())
        check(f"{what}: access token acr {AUTHENTICATOR}", (r.at_claims or {}).get("acr") == AUTHENTICATOR, json.dumps(r.at_claims))
        if r.token:
            status, challenge, raw, _ = rp.call_resource(r.token["access_token"])
            check(f"{what}: the resource server still answers 401 {STEP_UP_ERROR} with acr_values {LIVEID}",
                  status == 401 and (challenge or {}).get("error") == STEP_UP_ERROR and (challenge or {}).get("acr_values") == LIVEID,
                  f"{status} {raw}")
            info = introspect(r.token["access_token"])
            check(f"{what}: introspection says acr {AUTHENTICATOR}", info.get("acr") == AUTHENTICATOR, json.dumps(info))
        what = "3 presence voluntary"
        count = len(rp.rounds)
        go(rp.base + "/login?" + urllib.parse.urlencode({"acr_values": LIVEID, "max_age": "0"}))
        liveid_page(what)
        qr_and_approve(what, "presence")
        r = rp.wait_round(count, 40)
        c = r.id_claims or {}
        check(f"{what}: approved with presence only -> a code; ID and access token acr {AUTHENTICATOR}, amr without face/fpt/pin",
              r.token is not None and c.get("acr") == AUTHENTICATOR and (r.at_claims or {}).get("acr") == AUTHENTICATOR
              and not {"face", "fpt", "pin"} & set(c.get("amr") or []), r.describe())
        if r.token:
            status = rp.call_resource(r.token["access_token"])[0]
            check(f"{what}: the resource server answers 401", status == 401, str(status))
        what = "3 pin essential"
        count = len(rp.rounds)
        go(rp.base + "/login?" + urllib.parse.urlencode({"claims": essential}))
        liveid_page(what)
        qr_and_approve(what, "pin")
        r = rp.wait_round(count, 40)
        shot("3-pin-essential")
        check(f"{what}: essential acr {LIVEID} approved with a PIN -> error=access_denied at the RP's redirect URI (state, iss, no code)",
              r.error == "access_denied" and r.query.get("state") == r.state and r.query.get("iss") == issuer and "code" not in r.query,
              r.describe() + " " + json.dumps(r.query))
        check(f"{what}: ... with an error_description naming the acr", "acr" in r.query.get("error_description", ""),
              r.query.get("error_description", ""))
        r = manual(what, prompt="none", acr_values=LIVEID)
        check(f"{what}: prompt=none + acr_values liveid with the PIN session -> login_required", r.error == "login_required", r.describe())

        # Every sign-in above re-authenticated the one browser session: the RP's logout ends them all.
        last = [x for x in rp.rounds if x.token][-1]
        go(meta["end_session_endpoint"] + "?" + urllib.parse.urlencode({"id_token_hint": last.token["id_token"], "client_id": client_id}))
        WebDriverWait(driver, 20).until(lambda d: d.current_url.startswith(issuer) and "/oauth2/logout" in d.current_url
                                        and d.execute_script("return document.readyState") == "complete")
        time.sleep(1)
        shot("logout")
        active = [f"{x.kind}:{x.acr}@{(x.id_claims or {}).get('sid')}" for x in rp.rounds
                  if x.token and introspect(x.token["access_token"]).get("active")]
        refreshed = requests.post(meta["token_endpoint"], auth=(client_id, client_secret), timeout=10,
                                  data={"grant_type": "refresh_token", "refresh_token": first.token.get("refresh_token", "")})
        if refreshed.status_code == 200:
            rp.secrets += [refreshed.json().get("access_token", ""), refreshed.json().get("refresh_token", "")]
        check("after RP-initiated logout no access token the RP holds is active (every sign-in in this browser was one session)",
              not active, f"{len(active)} of {sum(1 for x in rp.rounds if x.token)} active: {', '.join(active)}")
        check("... and the first (passkey) sign-in's refresh token is refused", refreshed.status_code == 400,
              f"{refreshed.status_code} {refreshed.text[:120]}")
        check("the RP saw no response with an unknown state and no broken page", not rp.strays, str(rp.strays[:3]))
        check("every authorization response carried iss (RFC 9207)", all(x.query.get("iss") == issuer for x in rp.rounds),
              str([x.query.get("iss") for x in rp.rounds]))
    except Exception as error:  # noqa: BLE001 - an unexpected failure is a failed check
        traceback.print_exc()
        check("the flow ran to the end", False, repr(error))
        if driver:
            try:
                shot("failure")
                print("page at failure:", driver.current_url, driver.page_source[:1500])
            except Exception:  # noqa: BLE001
                pass
    finally:
        for note in NOTES:
            print("NOTE", note)
        if rp:
            print("  RP rounds:\n" + "".join(f"    {x.describe()}\n" for x in rp.rounds), end="")
        if driver:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001
                pass
        for server in (rp, rs):
            if server:
                server.shutdown()
        stop_sigil(proc)
        log = ""
        for name in ("serve.stdout", "serve.stderr"):
            path = os.path.join(work, name)
            if os.path.exists(path):
                with open(path) as f:
                    log += f.read()
                if artifacts:
                    shutil.copy(path, os.path.join(artifacts, "stepup-" + name))
        leaked = [s[:12] for s in secrets + (rp.secrets if rp else []) if s and s in log]
        check("no code, token or client secret in the server's log", not leaked, ",".join(leaked))
        shutil.rmtree(work, ignore_errors=True)
        print(f"  (the OIDC step-up suite took {time.time() - t0:.0f} s)")
        report_and_exit()


if __name__ == "__main__":
    main()
