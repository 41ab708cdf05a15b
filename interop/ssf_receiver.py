#!/usr/bin/env python3
"""Interop: an OpenID Shared Signals Framework 1.0 receiver, written from the specifications, against a real
`sigil serve` as the transmitter.

Run by scripts/interop-ssf.sh; alone:

    /opt/peers-venv/bin/python interop/ssf_receiver.py --sigil .build/debug/sigil
        [--authenticator .build/debug/sigil-authenticator] [--work DIR] [--artifacts DIR] [--keep]

What the receiver is built from (nothing here comes from Sigil's code):
  SSF 1.0     https://openid.net/specs/openid-sharedsignals-framework-1_0.html — transmitter metadata (§7,
              /.well-known/ssf-configuration inserted before the issuer's path), stream management (§8: 201 on
              create with the configuration, GET with and without stream_id, PATCH / PUT with stream_id in the body,
              DELETE ?stream_id → 204; status enabled / paused (held) / disabled (dropped); add subject → 200, remove
              → 204; verification → 204 and a verification SET with the state and sub_id opaque = stream_id), the
              SET profile (§4: typ secevent+jwt, no sub, no exp, one event in events, top-level sub_id)
  CAEP 1.0    session-revoked, credential-change (credential_type, change_type), event_timestamp in seconds,
              initiating_entity admin|user|policy|system
  RISC 1.0    account-disabled, account-enabled (reason, if any, hijacking | bulk-account)
  RFC 8417    SETs (iss, iat, jti, aud, events); RFC 9493 subject identifiers (email, opaque)
  RFC 8935    push: POST application/secevent+jwt with the configured Authorization header, 202 empty on success,
              400 application/json {"err", "description"} on a bad SET (the receiver here answers that way)
  RFC 8936    poll: POST {"maxEvents", "returnImmediately", "ack", "setErrs"} → {"sets": {jti: SET},
              "moreAvailable"}; acknowledged (and setErrs-reported) SETs are not returned again
  Okta        the SSF receiver of Okta Identity Threat Protection, as documented at
              https://developer.okta.com/docs/guides/configure-ssf-receiver/main and in Okta's management OpenAPI
              document (SSFSecurityEventToken, SecurityEventSubject): POST /security/api/v1/security-events,
              Content-Type application/secevent+jwt, no Authorization, JOSE header kid + typ secevent+jwt + alg
              RS256, iss = the provider's issuer, aud = the Okta org URL, jti unique, events only of Okta's six
              accepted types, each event object with event_timestamp and subject {"user": {"format": "email",
              "email": …}}; 202, or 400 {"err", "description"} (authentication_failed, invalid_audience,
              invalid_issuer, invalid_key, invalid_request). The fake Okta here applies exactly those rules.

Set-up: one `sigil serve` on SQLite (SIGIL_OUTBOUND_ALLOW_HOSTS=127.0.0.1 so it may push to the loopback receivers);
four confidential OIDC clients through the admin API, all client_credentials only: A (ssf.manage and ssf.read), B (ssf.manage,
"another receiver"), R (ssf.read only), N (no ssf scope, only email); access tokens from the token endpoint
(client_secret_basic). Users through the admin API; Ada enrols the real `sigil-authenticator` from her
`sigil user invite` link (the enrolment page's own HTTP calls, no browser), and so also has a signed-in session; so
does Grace for the Okta case. Access tokens live an hour (access_token_lifetime 3600): the run takes about 2 minutes.

Cases (PASS / FAIL / SKIP lines; the driver stops a case whose premise failed and goes on with the next):
  discovery   /.well-known/ssf-configuration (default tenant) and /.well-known/ssf-configuration/t/acme (a path
              tenant): 200 application/json, spec_version 1_0, issuer = the OIDC issuer, every endpoint = issuer +
              its documented path, delivery methods 8935 and 8936, authorization_schemes urn:ietf:rfc:6749,
              default_subjects NONE; jwks_uri serves RSA keys
  streams     A creates a push stream (Authorization header; session-revoked, credential-change,
              assurance-level-change, account-disabled and an unknown type requested) and a poll stream
              (session-revoked, account-disabled, account-enabled): 201, iss, aud = A's client_id, events_delivered =
              requested ∩ supported, no authorization_header echoed, the poll endpoint_url = issuer/ssf/poll/<id>;
              no delivery at all → a poll stream (SSF §8.1.1.1); GET one, GET all (an array of A's streams only);
              PATCH keeps what it is not given; PUT replaces; a different iss in PATCH → 400 (§8.1.1.3); an unknown
              delivery method, a private-address endpoint the operator did not allow, a push stream without
              endpoint_url → 400/422, a body that is not JSON → 400, and none of them creates a stream
  auth        every endpoint (configuration GET/POST/PATCH/PUT/DELETE, status GET/POST, add, remove, verify, poll):
              no token, a made-up token, an admin API token → 401 with WWW-Authenticate: Bearer; N's token (no ssf
              scope) → 403 insufficient_scope; A's own ssf.read token reads configuration and status and polls,
              every change → 403 insufficient_scope; R (only ssf.read, no stream of its own) lists []
  isolation   B sees none of A's streams (GET, PATCH, PUT, DELETE, status, add, remove, verify, poll → 404; B's
              list is empty) and changes nothing
  verify      verification on the push stream and on the poll stream: 204; the verification SET (state echoed,
              sub_id opaque = stream_id) is verified with joserfc (the JOSE library authlib depends on) against
              jwks_uri: typ secevent+jwt, RS256, kid, iss, aud, jti, iat, no sub, no exp, one event; the push
              carries the configured Authorization header and Content-Type application/secevent+jwt
  events      subjects added (email for Ada, Dan and Eve, opaque user id for Carol, never Bob; unknown stream 404,
              no format 400): Ada enrols her authenticator → credential-change create, credential_type, on the
              push stream (not on the poll stream, which did not ask for it); admin signs Ada out everywhere →
              session-revoked, initiating_entity admin, on push and poll; the phone removes itself →
              credential-change delete; admin disables Carol → account-disabled with sub_id her opaque id (push and
              poll); re-enabled → account-enabled on the poll stream only; Bob signed out and disabled → nothing
              about him anywhere (Eve's later event the witness); Ada removed from the push stream (204) → her
              account-disabled reaches the poll stream only
  poll        RFC 8936: the SETs come as {"sets": {jti: SET}}, moreAvailable a boolean, every one verified;
              acknowledged and setErrs-reported SETs are not returned again
  status      pause → Dan's account-disabled held (it reaches the poll stream, not the push stream, for several
              seconds) → enable → delivered; disabled → an event dropped for good (not sent after re-enabling);
              GET status shows each state
  retry       a push receiver answering 503 twice: the SET arrives afterwards, every attempt the same jti, accepted
              exactly once after dedup by jti
  okta        a stream with "profile": "okta" (session-revoked, account-disabled, credential-change requested) to the
              fake Okta org, no Authorization header: events_delivered only session-revoked; Grace (enrolled, so with
              a session) signed out by the admin → a SET Okta accepts: aud = the org URL, subject inside the event
              as {"user": {"format": "email", "email": …}}, no top-level sub_id, event_timestamp, initiating_entity,
              reason_admin or reason_user; nothing of a type Okta does not take is sent
  delete      DELETE the flaky stream → 204; GET, status, verify, add subject, DELETE again → 404, gone from the list;
              the poll stream deleted → its poll URL 404; the deleted stream's receiver gets nothing more
  privacy     serve's stdout and stderr hold no client secret, access token, admin token or receiver
              Authorization value
  assurance-level-change is SKIP: only a VERIFIED identity verification causes it (needs the IDV engine).

Prints "N passed, M failed"; exits 1 on any FAIL. With --work DIR the server's pid is appended to DIR/pids (the
wrapper's trap stops it if this script dies); --artifacts DIR receives the server logs and every SET received.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import requests  # noqa: E402
from joserfc import jws  # noqa: E402
from joserfc.jwk import RSAKey  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

# Event types (CAEP 1.0, RISC 1.0, SSF 1.0)
SR = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
CC = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
ALC = "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change"
AD = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
AE = "https://schemas.openid.net/secevent/risc/event-type/account-enabled"
VERIFY = "https://schemas.openid.net/secevent/ssf/event-type/verification"
STREAM_UPDATED = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
UNKNOWN_TYPE = "urn:example:secevent:events:not-a-real-type"
SIGIL_TYPES = [SR, CC, AD]  # what Sigil must support; assurance-level-change too once the IDV side sends it
PUSH = "urn:ietf:rfc:8935"
POLL = "urn:ietf:rfc:8936"
# Okta's SSF receiver: the event types its SecurityEventTokenRequestJwtEvents schema lists
OKTA_TYPES = {
    "https://schemas.okta.com/secevent/okta/event-type/device-risk-change",
    "https://schemas.okta.com/secevent/okta/event-type/ip-change",
    "https://schemas.okta.com/secevent/okta/event-type/user-risk-change",
    "https://schemas.openid.net/secevent/caep/event-type/device-compliance-change",
    SR,
    "https://schemas.openid.net/secevent/risc/event-type/identifier-changed",
}
OKTA_PATH = "/security/api/v1/security-events"
CAEP_INITIATORS = {"admin", "user", "policy", "system"}

DELIVERY_WAIT = 40  # how long an ordinary SET may take to arrive
QUIET_WAIT = 6  # after a witness arrived: how long to wait before "nothing arrived" counts
RETRY_WAIT = 120  # a SET refused twice with 503 must arrive within this
SERVER_ENV = {
    "SIGIL_OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
    "SIGIL_WEBHOOK_POLL_SECONDS": "1",
    "SIGIL_RATE_LIMIT_SCALE": "10",
}

HTTP = requests.Session()
HTTP.trust_env = False  # everything here is on 127.0.0.1

PASSED = FAILED = 0
WORK = ARTIFACTS = PIDS_FILE = None
SECRETS = {}  # label -> secret value that must never appear in serve's output
RECEIVERS = []


# ------------------------------------------------------------------------------------------------------ reporting

def check(name, ok, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print(f"PASS {name}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL {name}  -- {str(detail)[:2000]}", flush=True)
    return bool(ok)


def skip(name, why):
    print(f"SKIP {name} -- {why}", flush=True)


def log(msg):
    print(f"  · [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class SectionAbort(Exception):
    pass


def need(name, ok, detail=""):
    if not check(name, ok, detail):
        raise SectionAbort(name)


def run_section(title, fn, *args):
    print(f"\n==== {title} ====", flush=True)
    try:
        return fn(*args)
    except SectionAbort as e:
        log(f"section stopped after: {e}")
    except Exception:
        check(f"{title}: ran to the end", False, traceback.format_exc())
    return None


def wait_until(fn, timeout, interval=0.25):
    deadline = time.time() + timeout
    value = None
    while True:
        try:
            value = fn()
        except Exception:  # noqa: BLE001
            value = None
        if value or time.time() >= deadline:
            return value
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def short(r):
    if r is None:
        return "no response"
    return f"{r.request.method} {urlsplit(r.request.url).path} -> HTTP {r.status_code} {r.headers.get('Content-Type', '')} " \
           f"WWW-Authenticate={r.headers.get('WWW-Authenticate')!r}: {r.text[:600]}"


def json_of(r):
    try:
        return r.json()
    except ValueError:
        return None


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ------------------------------------------------------------------------------------------------------ SET checks

class SetRefused(Exception):
    """A SET the receiver refuses: err is an RFC 8935 §2.4 error code. header/claims are set when the signature
    verified but the content was refused (so the report can say what was in it); problems lists every rule it broke."""

    def __init__(self, err, description, header=None, claims=None, problems=None):
        super().__init__(f"{err}: {description}")
        self.err, self.description = err, description
        self.header, self.claims, self.problems = header, claims, problems or [f"{err}: {description}"]


def okta_problems(claims, org):
    """Every rule of Okta's SSF receiver (SSFSecurityEventToken in Okta's management OpenAPI document, and
    https://developer.okta.com/docs/guides/configure-ssf-receiver/main) the SET's claims break: [(err, text)]."""
    p = []
    aud = claims.get("aud")
    if not (isinstance(aud, str) and aud.rstrip("/") == org.rstrip("/")):
        p.append(("invalid_audience", f"aud {aud!r} is not the Okta org URL {org}"))
    events = claims.get("events") if isinstance(claims.get("events"), dict) else {}
    bad = [t for t in events if t not in OKTA_TYPES]
    if bad:
        p.append(("invalid_request", f"event type(s) Okta does not accept: {bad}"))
    for t, ev in events.items():
        if not isinstance(ev, dict):
            p.append(("invalid_request", f"{t}: the event is not an object"))
            continue
        if not isinstance(ev.get("event_timestamp"), int) or isinstance(ev.get("event_timestamp"), bool):
            p.append(("invalid_request", f"{t}: event_timestamp {ev.get('event_timestamp')!r} is not an integer"))
        subj = ev.get("subject")
        if not isinstance(subj, dict) or not (isinstance(subj.get("user"), dict) or isinstance(subj.get("device"), dict)):
            p.append(("invalid_request", f"{t}: subject {subj!r} is not Okta's {{user: {{format, …}}, device: {{…}}}}"))
        elif isinstance(subj.get("user"), dict) and not (subj["user"].get("format") == "email" and isinstance(subj["user"].get("email"), str)):
            p.append(("invalid_request", f"{t}: subject.user {subj['user']!r} is not an email subject identifier"))
        if not (isinstance(ev.get("reason_admin"), dict) or isinstance(ev.get("reason_user"), dict)):
            p.append(("invalid_request", f"{t}: neither reason_admin nor reason_user (Okta: one is required)"))
    return p


class Verifier:
    """Verifies SETs from one transmitter: signature against its jwks_uri (refetched once for an unknown kid),
    typ, alg, iss. The audience is checked by the caller (each stream has its own)."""

    def __init__(self, issuer, jwks_uri):
        self.issuer, self.jwks_uri = issuer, jwks_uri
        self.keys = {}
        self.lock = threading.Lock()
        self.refresh()

    def refresh(self):
        doc = HTTP.get(self.jwks_uri, timeout=10).json()
        with self.lock:
            self.keys = {k.get("kid"): k for k in doc.get("keys", []) if isinstance(k, dict)}
        return doc

    def key_for(self, kid):
        with self.lock:
            k = self.keys.get(kid)
        if k is None:
            self.refresh()
            with self.lock:
                k = self.keys.get(kid)
        return k

    def verify(self, token, aud=None, okta=False):
        """(header, claims) of a SET, or SetRefused. aud: the audience expected (for okta: the org URL)."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise SetRefused("invalid_request", "not a JWS compact serialization")
        try:
            header = json.loads(b64u_decode(token.split(".")[0]))
        except ValueError:
            raise SetRefused("invalid_request", "the JOSE header is not JSON")
        if header.get("typ") != "secevent+jwt":
            raise SetRefused("invalid_request", f"typ is {header.get('typ')!r}, not secevent+jwt")
        if header.get("alg") != "RS256":
            raise SetRefused("invalid_key", f"alg is {header.get('alg')!r}, not RS256")
        jwk = self.key_for(header.get("kid"))
        if jwk is None:
            raise SetRefused("invalid_key", f"kid {header.get('kid')!r} is not in {self.jwks_uri}")
        if jwk.get("kty") != "RSA":
            raise SetRefused("invalid_key", f"kid {header.get('kid')!r} is a {jwk.get('kty')} key")
        try:
            obj = jws.deserialize_compact(token, RSAKey.import_key(jwk), algorithms=["RS256"])
        except Exception as e:  # noqa: BLE001
            raise SetRefused("invalid_key", f"signature does not verify: {type(e).__name__} {e}")
        try:
            claims = json.loads(obj.payload)
        except ValueError:
            raise SetRefused("invalid_request", "the payload is not JSON")
        if not isinstance(claims, dict):
            raise SetRefused("invalid_request", "the payload is not a JSON object")
        problems = []
        if claims.get("iss") != self.issuer:
            problems.append(("invalid_issuer", f"iss {claims.get('iss')!r} is not {self.issuer!r}"))
        for k, kind in (("jti", str), ("iat", int), ("events", dict)):
            if not isinstance(claims.get(k), kind) or isinstance(claims.get(k), bool) or not claims.get(k):
                problems.append(("invalid_request", f"{k} is missing or not a {kind.__name__}: {claims.get(k)!r}"))
        if okta:
            problems += okta_problems(claims, aud)
        elif aud is not None:
            got = claims.get("aud")
            if not (got == aud or (isinstance(got, list) and aud in got)):
                problems.append(("invalid_audience", f"aud {got!r} is not {aud!r}"))
        if problems:
            raise SetRefused(problems[0][0], problems[0][1], header, claims, [f"{e}: {t}" for e, t in problems])
        return header, claims


def set_problems(header, claims, verifier):
    """What an SSF 1.0 §4 SET must be beyond what Verifier.verify refuses: [] when nothing is wrong."""
    p = []
    if header.get("kid") not in verifier.keys:
        p.append("kid not in the JWKS")
    if "sub" in claims:
        p.append("has a sub claim (SSF §4.1.2: MUST NOT)")
    if "exp" in claims:
        p.append("has an exp claim (SSF §4.1.7: MUST NOT)")
    if abs(claims.get("iat", 0) - time.time()) > 600:
        p.append(f"iat {claims.get('iat')} is not near now")
    if len(claims.get("events") or {}) != 1:
        p.append(f"events holds {len(claims.get('events') or {})} events (SSF §4.2.1: only one)")
    return p


def the_event(claims):
    ev = claims.get("events") or {}
    if len(ev) != 1:
        return None, None
    (t, body), = ev.items()
    return t, body


# ------------------------------------------------------------------------------------------------------ receivers

class Delivery:
    def __init__(self, path, headers, body, at):
        self.path, self.headers, self.body, self.at = path, headers, body, at
        self.status = None
        self.verdict = None  # "accepted", "failed-503", "refused:<err>"
        self.header = self.claims = None
        self.error = None

    @property
    def jti(self):
        return (self.claims or {}).get("jti")

    def describe(self):
        t, ev = the_event(self.claims or {})
        return (f"{time.strftime('%H:%M:%S', time.localtime(self.at))} {self.path} -> {self.status} {self.verdict}"
                f" jti={self.jti} type={t} sub_id={(self.claims or {}).get('sub_id')} event={json.dumps(ev)[:300] if ev else None}"
                + (f" error={self.error}" if self.error else ""))


class SetReceiver:
    """An RFC 8935 push endpoint on 127.0.0.1. Records every request; refuses a wrong Authorization header (401
    authentication_failed), answers `fail` requests with 503 first when asked to, verifies every SET (400
    {"err","description"} when it does not verify) and answers 202 to the good ones. okta=True: Okta's receiver
    (its path, no Authorization expected, its rules)."""

    def __init__(self, name, verifier, auth=None, okta=False):
        self.name, self.verifier, self.auth, self.okta = name, verifier, auth, okta
        self.aud = None  # set once the stream exists
        self.deliveries = []
        self.lock = threading.Lock()
        self.fail_left = 0
        self.seen_jti = set()
        rcv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace")
                d = Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                status, answer = rcv.handle(d)
                d.status = status
                with rcv.lock:
                    rcv.deliveries.append(d)
                raw = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                if raw:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.origin + (OKTA_PATH if okta else f"/ssf/push/{name}")
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        RECEIVERS.append(self)

    def handle(self, d):
        if self.okta:
            if d.path != OKTA_PATH:
                d.verdict = "refused:not_found"
                return 404, {"err": "invalid_request", "description": "no such endpoint"}
        elif self.auth is not None and d.headers.get("authorization") != self.auth:
            d.verdict, d.error = "refused:authentication_failed", f"Authorization {d.headers.get('authorization')!r}"
            return 401, {"err": "authentication_failed", "description": "wrong or missing Authorization header"}
        with self.lock:
            if self.fail_left > 0:
                self.fail_left -= 1
                fail = True
            else:
                fail = False
        try:  # parse even the ones answered 503, to know which SET it was
            d.header, d.claims = self.verifier.verify(d.body.strip(), aud=self.aud, okta=self.okta)
        except SetRefused as e:
            d.error = "; ".join(e.problems)
            d.header, d.claims = e.header, e.claims  # None unless the signature verified
            if not fail:
                d.verdict = f"refused:{e.err}"
                return 400, {"err": e.err, "description": e.description}
        if fail:
            d.verdict = "failed-503"
            return 503, None
        ctype = d.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/secevent+jwt":
            d.verdict, d.error = "refused:invalid_request", f"Content-Type {d.headers.get('content-type')!r}"
            return 400, {"err": "invalid_request", "description": "Content-Type must be application/secevent+jwt"}
        with self.lock:
            dup = d.jti in self.seen_jti
            self.seen_jti.add(d.jti)
        d.verdict = "duplicate" if dup else "accepted"
        return 202, None

    def fail_next(self, n):
        with self.lock:
            self.fail_left = n

    def snapshot(self):
        with self.lock:
            return list(self.deliveries)

    def accepted(self, pred=None):
        return [d for d in self.snapshot() if d.verdict == "accepted" and (pred is None or pred(d))]

    def snapshot_of(self, pred):
        """Every request (accepted or not) whose SET matches pred."""
        return [d for d in self.snapshot() if d.claims and pred(d)]

    def refused(self):
        return [d for d in self.snapshot() if (d.verdict or "").startswith("refused")]

    def wait(self, pred, timeout=DELIVERY_WAIT):
        return wait_until(lambda: self.accepted(pred), timeout)

    def describe(self, last=25):
        ds = self.snapshot()
        return f"{self.name} ({self.url}): {len(ds)} request(s)\n" + "\n".join("    " + d.describe() for d in ds[-last:])

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def is_type(t, sub=None):
    """A predicate on Delivery / poll items: the SET's one event is of type t (and about subject sub, if given)."""
    def pred(d):
        et, _ = the_event(d.claims or {})
        return et == t and (sub is None or sub(d.claims))
    return pred


def about_email(email):
    return lambda c: (c.get("sub_id") or {}).get("format") == "email" and (c.get("sub_id") or {}).get("email") == email


def mentions(value):
    return lambda c: value in json.dumps(c)


# ------------------------------------------------------------------------------------------------------ sigil

class Server:
    def __init__(self, binary):
        self.binary = binary
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = os.path.join(WORK, "data")
        self.out = os.path.join(WORK, "serve.stdout")
        self.err = os.path.join(WORK, "serve.stderr")
        self.cli_log = os.path.join(WORK, "cli.log")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SIGIL_")}
        self.env.update(SERVER_ENV)
        self.proc = None

    def start(self):
        argv = [self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", self.data,
                "--public-url", self.base]
        log(f"starting sigil serve on {self.base} with {SERVER_ENV}")
        self.proc = subprocess.Popen(argv, stdout=open(self.out, "ab"), stderr=open(self.err, "ab"), stdin=subprocess.DEVNULL, env=self.env)
        if PIDS_FILE:
            with open(PIDS_FILE, "a") as f:
                f.write(f"{self.proc.pid}\n")
        ok = wait_until(lambda: self.proc.poll() is None and HTTP.get(self.base + "/readyz", timeout=2).status_code == 200, 120, 0.3)
        return bool(ok)

    def cli(self, *args):
        r = subprocess.run([self.binary, *args, "--data-dir", self.data], capture_output=True, text=True, timeout=120, env=self.env)
        with open(self.cli_log, "a") as f:
            f.write(f"$ sigil {' '.join(args)}\n--- rc {r.returncode}\n--- stderr\n{r.stderr}\n")  # stdout may hold a token
        return r

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def tail(self, lines=40):
        out = []
        for path in (self.out, self.err):
            try:
                text = open(path, "rb").read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            out.append(f"---- last {min(lines, len(text))} lines of {os.path.basename(path)} ----")
            out.extend(text[-lines:])
        return "\n".join(out)


class Admin:
    def __init__(self, base, token, prefix=""):
        self.root = f"{base}{prefix}/api/admin/v1"
        self.token = token

    def call(self, method, path, body=None):
        for _ in range(4):
            r = HTTP.request(method, self.root + path, json=body, timeout=30,
                             headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"})
            if r.status_code != 429:
                break
            time.sleep(min(5.0, float(r.headers.get("Retry-After") or 1)))
        return r, json_of(r)


class Client:
    """A confidential OIDC client (client_credentials only) and its access token."""

    def __init__(self, name, client_id, secret, token_endpoint):
        self.name, self.client_id, self.secret, self.token_endpoint = name, client_id, secret, token_endpoint
        self.token = None

    def get_token(self, scope, keep=True):
        r = HTTP.post(self.token_endpoint, data={"grant_type": "client_credentials", "scope": scope}, auth=(self.client_id, self.secret),
                      timeout=30)
        doc = json_of(r) or {}
        tok = doc.get("access_token")
        if isinstance(tok, str):
            if keep:
                self.token = tok
            SECRETS[f"client {self.name}'s access token ({scope})"] = tok
        return r, doc


class SSF:
    """The SSF management API of one transmitter, as one client calls it."""

    def __init__(self, meta, token):
        self.meta, self.token = meta, token

    def req(self, method, endpoint, body=None, params=None, token=None, raw=None):
        tok = self.token if token is None else token
        headers = {"Accept": "application/json"}
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        url = self.meta.get(endpoint, endpoint) if not endpoint.startswith("http") else endpoint
        kwargs = {"headers": headers, "params": params, "timeout": 30}
        if raw is not None:
            headers["Content-Type"] = "application/json"
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        for _ in range(4):
            r = HTTP.request(method, url, **kwargs)
            if r.status_code != 429:
                break
            time.sleep(min(5.0, float(r.headers.get("Retry-After") or 1)))
        return r, json_of(r)

    def create(self, body, token=None):
        return self.req("POST", "configuration_endpoint", body, token=token)

    def get(self, stream_id=None, token=None):
        return self.req("GET", "configuration_endpoint", params={"stream_id": stream_id} if stream_id else None, token=token)

    def status(self, stream_id, token=None):
        return self.req("GET", "status_endpoint", params={"stream_id": stream_id}, token=token)

    def set_status(self, stream_id, status, reason=None, token=None):
        body = {"stream_id": stream_id, "status": status}
        if reason:
            body["reason"] = reason
        return self.req("POST", "status_endpoint", body, token=token)

    def add(self, stream_id, subject, token=None):
        return self.req("POST", "add_subject_endpoint", {"stream_id": stream_id, "subject": subject, "verified": True}, token=token)

    def remove(self, stream_id, subject, token=None):
        return self.req("POST", "remove_subject_endpoint", {"stream_id": stream_id, "subject": subject}, token=token)

    def verify(self, stream_id, state, token=None):
        return self.req("POST", "verification_endpoint", {"stream_id": stream_id, "state": state}, token=token)

    def delete(self, stream_id, token=None):
        return self.req("DELETE", "configuration_endpoint", params={"stream_id": stream_id}, token=token)

    def poll(self, url, ack=(), set_errs=None, max_events=10, token=None):
        body = {"maxEvents": max_events, "returnImmediately": True, "ack": list(ack)}
        if set_errs:
            body["setErrs"] = set_errs
        return self.req("POST", url, body, token=token)


class PollInbox:
    """What one RFC 8936 poll stream has handed out: each SET verified once, by jti."""

    def __init__(self, ssf, url, verifier, aud):
        self.ssf, self.url, self.verifier, self.aud = ssf, url, verifier, aud
        self.items = {}  # jti -> Delivery-like record
        self.unacked = []
        self.problems = []  # answers that were not {"sets": {...}, "moreAvailable": bool} or SETs that did not verify
        self.redelivered = []  # jtis returned again after they were acknowledged
        self.acked = set()

    def poll_once(self, ack=True, set_errs=None):
        acks = list(self.unacked) if ack else []
        r, doc = self.ssf.poll(self.url, ack=acks, set_errs=set_errs)
        if r.status_code != 200 or not isinstance(doc, dict) or not isinstance(doc.get("sets"), dict) \
                or not isinstance(doc.get("moreAvailable"), bool) or not r.headers.get("Content-Type", "").startswith("application/json"):
            self.problems.append(short(r))
            return r, doc
        self.acked.update(acks)
        if set_errs:
            self.acked.update(set_errs)
        self.unacked = [j for j in self.unacked if j not in acks]
        for jti, token in doc["sets"].items():
            if jti in self.acked:
                self.redelivered.append(jti)
            d = Delivery("poll", {}, token, time.time())
            try:
                d.header, d.claims = self.verifier.verify(token, aud=self.aud)
                d.verdict = "accepted"
                if d.claims.get("jti") != jti:
                    self.problems.append(f"key {jti} holds a SET whose jti is {d.claims.get('jti')}")
            except SetRefused as e:
                d.verdict, d.error = f"refused:{e.err}", "; ".join(e.problems)
                d.header, d.claims = e.header, e.claims
                self.problems.append(f"{jti}: {d.error}")
            if jti not in self.items:
                self.items[jti] = d
            if jti not in self.unacked and ack:
                self.unacked.append(jti)
        return r, doc

    def accepted(self, pred=None):
        return [d for d in self.items.values() if d.verdict == "accepted" and (pred is None or pred(d))]

    def wait(self, pred, timeout=DELIVERY_WAIT):
        def step():
            self.poll_once()
            return self.accepted(pred)
        return wait_until(step, timeout, 0.5)

    def describe(self):
        return f"poll inbox {self.url}: {len(self.items)} SET(s)\n" + "\n".join("    " + d.describe() for d in self.items.values()) \
            + (f"\n    problems: {self.problems[:5]}" if self.problems else "")


# ------------------------------------------------------------------------------------------------------ the phone

class Phone:
    """A `sigil-authenticator` home."""

    def __init__(self, binary, home):
        self.binary, self.home = binary, home

    def run(self, *argv):
        r = subprocess.run([self.binary, argv[0], "--home", self.home, *argv[1:]], capture_output=True, text=True, timeout=120)
        log(f"$ sigil-authenticator {argv[0]} … -> {r.returncode} {(r.stdout + r.stderr).strip()[:300]}")
        return r

    def signed_request(self, method, path, body=None):
        """A signed device request (docs/authenticator-protocol.md §1.4) made with the CLI's key, for what the CLI has
        no command for: the app removing itself (DELETE /authenticator/v1/device)."""
        with open(os.path.join(self.home, "state.json")) as f:
            e = json.load(f)["enrolments"][0]
        issuer, device_id = e["issuer"], e["device_id"]
        key = ec.derive_private_key(int.from_bytes(b64u_decode(e["key"]["private_key"]), "big"), ec.SECP256R1())
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        ts, nonce = str(int(time.time())), b64u(secrets.token_bytes(16))
        signed = "\n".join(["sigil-authenticator/v1 request", method, issuer + path, device_id, ts, nonce, b64u(hashlib.sha256(raw).digest())])
        headers = {"Sigil-Device": device_id, "Sigil-Timestamp": ts, "Sigil-Nonce": nonce, "Accept": "application/json",
                   "Sigil-Signature": b64u(key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))}
        if raw:
            headers["Content-Type"] = "application/json"
        return HTTP.request(method, issuer + path, data=raw or None, headers=headers, timeout=15)


# ------------------------------------------------------------------------------------------------------ the suite

class Suite:
    def __init__(self, args):
        self.args = args
        self.server = Server(os.path.abspath(args.sigil))
        self.authenticator = os.path.abspath(args.authenticator) if args.authenticator else None
        self.streams = {}  # label -> stream config
        self.users = {}  # label -> (id, email)

    # --- set-up

    def setup(self):
        need("sigil serve starts and answers /readyz", self.server.start(), self.server.tail(30))
        base = self.server.base
        r = self.server.cli("admin", "token", "create")
        lines = [line.strip() for line in r.stdout.splitlines() if line.strip()]
        need("sigil admin token create", r.returncode == 0 and lines, r.stderr[-300:])
        self.admin_token = lines[-1]
        SECRETS["the admin API token"] = self.admin_token
        self.admin = Admin(base, self.admin_token)
        self.oidc = HTTP.get(base + "/.well-known/openid-configuration", timeout=10).json()
        self.issuer = self.oidc["issuer"]
        clients = {}
        for name, scopes in (("A", ["ssf.manage", "ssf.read"]), ("B", ["ssf.manage"]), ("R", ["ssf.read"]), ("N", ["email"])):
            r, doc = self.admin.call("POST", "/applications", {
                "name": f"SSF receiver {name}", "protocol": "oidc", "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "client_secret_basic", "allowed_scopes": scopes, "access_token_lifetime": 3600})
            cid = ((doc or {}).get("oidc") or {}).get("client_id")
            secret = (doc or {}).get("client_secret")
            need(f"admin API: client {name} (client_credentials, allowed_scopes {scopes}) -> 201 with client_id and secret",
                 r.status_code == 201 and cid and secret, short(r))
            SECRETS[f"client {name}'s secret"] = secret
            clients[name] = Client(name, cid, secret, self.oidc["token_endpoint"])
        for name, scope in (("A", "ssf.manage"), ("B", "ssf.manage"), ("R", "ssf.read"), ("N", "email")):
            r, doc = clients[name].get_token(scope)
            need(f"token endpoint: client {name} client_credentials scope={scope} -> 200 Bearer with that scope",
                 r.status_code == 200 and doc.get("token_type", "").lower() == "bearer" and clients[name].token
                 and scope in (doc.get("scope") or scope).split(), short(r))
        r, doc = clients["A"].get_token("ssf.read", keep=False)
        self.a_read_token = doc.get("access_token")
        need("token endpoint: client A also gets a narrower token, scope=ssf.read -> 200", r.status_code == 200 and self.a_read_token, short(r))
        self.clients = clients

    # --- discovery

    def run_discovery(self):
        r = HTTP.get(self.server.base + "/.well-known/ssf-configuration", timeout=10)
        meta = json_of(r)
        need("GET /.well-known/ssf-configuration -> 200 application/json object", r.status_code == 200
             and r.headers.get("Content-Type", "").startswith("application/json") and isinstance(meta, dict), short(r))
        self.meta = meta
        self.check_metadata("default tenant", meta, self.issuer)
        doc = HTTP.get(meta.get("jwks_uri", ""), timeout=10).json() if meta.get("jwks_uri") else {}
        rsa = [k for k in doc.get("keys", []) if k.get("kty") == "RSA" and k.get("kid")]
        need("jwks_uri serves a JWKS with RSA keys that have kids", rsa, doc)
        self.verifier = Verifier(meta["issuer"], meta["jwks_uri"])
        # a path tenant
        r, doc = self.admin.call("POST", "/tenants", {"name": "acme", "display_name": "Acme"})
        if check("admin API: tenant acme -> 201", r.status_code == 201, short(r)):
            oidc = HTTP.get(self.server.base + "/t/acme/.well-known/openid-configuration", timeout=10).json()
            r = HTTP.get(self.server.base + "/.well-known/ssf-configuration/t/acme", timeout=10)
            acme = json_of(r)
            if not isinstance(acme, dict) or r.status_code != 200:
                alt = HTTP.get(self.server.base + "/t/acme/.well-known/ssf-configuration", timeout=10)
                log(f"for comparison, GET /t/acme/.well-known/ssf-configuration (appended, not inserted) -> {alt.status_code}")
            if check("GET /.well-known/ssf-configuration/t/acme (SSF §7.2: inserted before the issuer's path) -> 200 JSON",
                     r.status_code == 200 and isinstance(acme, dict), short(r)):
                self.check_metadata("path tenant acme", acme, oidc.get("issuer"))
                check("path tenant acme: issuer is the default issuer + /t/acme", acme.get("issuer") == self.issuer + "/t/acme", acme.get("issuer"))

    def check_metadata(self, label, meta, issuer):
        check(f"{label}: spec_version 1_0", meta.get("spec_version") == "1_0", meta.get("spec_version"))
        check(f"{label}: issuer = the tenant's OIDC issuer ({issuer})", meta.get("issuer") == issuer, meta.get("issuer"))
        want = {"configuration_endpoint": "/ssf/streams", "status_endpoint": "/ssf/status", "add_subject_endpoint": "/ssf/subjects/add",
                "remove_subject_endpoint": "/ssf/subjects/remove", "verification_endpoint": "/ssf/verify"}
        wrong = {k: meta.get(k) for k, p in want.items() if meta.get(k) != issuer + p}
        check(f"{label}: configuration, status, add/remove subject and verification endpoints = issuer + /ssf/…", not wrong, wrong)
        check(f"{label}: delivery_methods_supported has urn:ietf:rfc:8935 and urn:ietf:rfc:8936",
              {PUSH, POLL} <= set(meta.get("delivery_methods_supported") or []), meta.get("delivery_methods_supported"))
        check(f"{label}: authorization_schemes [{{spec_urn: urn:ietf:rfc:6749}}]",
              any(isinstance(s, dict) and s.get("spec_urn") == "urn:ietf:rfc:6749" for s in meta.get("authorization_schemes") or []),
              meta.get("authorization_schemes"))
        check(f"{label}: default_subjects NONE", meta.get("default_subjects") == "NONE", meta.get("default_subjects"))
        check(f"{label}: jwks_uri is a URL under the issuer's origin", isinstance(meta.get("jwks_uri"), str)
              and meta["jwks_uri"].startswith(issuer.split("/t/")[0] + "/"), meta.get("jwks_uri"))

    # --- streams

    def config_problems(self, cfg, client, method, url=None, requested=None, description=None):
        p = []
        if not isinstance(cfg, dict):
            return [f"not an object: {cfg!r}"[:300]]
        if not isinstance(cfg.get("stream_id"), str) or not cfg.get("stream_id"):
            p.append(f"stream_id {cfg.get('stream_id')!r}")
        if cfg.get("iss") != self.issuer:
            p.append(f"iss {cfg.get('iss')!r} is not the issuer")
        aud = cfg.get("aud")
        if not (aud == client.client_id or (isinstance(aud, list) and client.client_id in aud)):
            p.append(f"aud {aud!r} is not client {client.name}'s client_id {client.client_id}")
        sup = cfg.get("events_supported")
        if not isinstance(sup, list) or not set(SIGIL_TYPES) <= set(sup):
            p.append(f"events_supported {sup!r} lacks some of {SIGIL_TYPES}")
        if requested is not None:
            if sorted(cfg.get("events_requested") or []) != sorted(requested):
                p.append(f"events_requested {cfg.get('events_requested')!r} is not {requested}")
            want = sorted(set(requested) & set(sup or []))
            if sorted(cfg.get("events_delivered") or []) != want:
                p.append(f"events_delivered {cfg.get('events_delivered')!r} is not requested ∩ supported {want}")
        d = cfg.get("delivery")
        if not isinstance(d, dict) or d.get("method") != method:
            p.append(f"delivery {d!r} has not method {method}")
        elif method == PUSH and url is not None and d.get("endpoint_url") != url:
            p.append(f"delivery.endpoint_url {d.get('endpoint_url')!r} is not {url}")
        elif method == POLL and cfg.get("stream_id") and d.get("endpoint_url") != f"{self.issuer}/ssf/poll/{cfg['stream_id']}":
            p.append(f"poll delivery.endpoint_url {d.get('endpoint_url')!r} is not issuer/ssf/poll/<stream_id>")
        if isinstance(d, dict) and "authorization_header" in d:
            p.append("delivery echoes authorization_header")
        if "min_verification_interval" in cfg and (not isinstance(cfg["min_verification_interval"], int) or cfg["min_verification_interval"] < 0):
            p.append(f"min_verification_interval {cfg['min_verification_interval']!r}")
        if description is not None and cfg.get("description") != description:
            p.append(f"description {cfg.get('description')!r} is not {description!r}")
        return p

    def create_stream(self, label, ssf, client, body, method, url=None):
        r, cfg = ssf.create(body)
        requested = body.get("events_requested")
        problems = self.config_problems(cfg, client, method, url, requested, body.get("description"))
        need(f"{label}: POST configuration_endpoint -> 201 application/json stream configuration (iss, aud = client_id, events_delivered = "
             f"requested ∩ supported, delivery, no authorization_header)", r.status_code == 201
             and r.headers.get("Content-Type", "").startswith("application/json") and not problems, (problems, short(r)))
        self.streams[label] = cfg
        return cfg

    def run_streams(self):
        A = self.clients["A"]
        self.ssf_a = SSF(self.meta, A.token)
        self.ssf_b = SSF(self.meta, self.clients["B"].token)
        self.ssf_r = SSF(self.meta, self.clients["R"].token)
        self.ssf_a_read = SSF(self.meta, self.a_read_token)
        self.ssf_n = SSF(self.meta, self.clients["N"].token)
        self.push_auth = "Bearer " + secrets.token_urlsafe(24)
        SECRETS["the push receiver's Authorization header"] = self.push_auth.split(" ", 1)[1]
        self.push = SetReceiver("push", self.verifier, auth=self.push_auth)
        requested = [SR, CC, ALC, AD, UNKNOWN_TYPE]
        cfg = self.create_stream("push stream", self.ssf_a, A, {
            "delivery": {"method": PUSH, "endpoint_url": self.push.url, "authorization_header": self.push_auth},
            "events_requested": requested, "description": "interop push stream"}, PUSH, self.push.url)
        self.push.aud = A.client_id
        self.push_id = cfg["stream_id"]
        check("push stream: the unknown event type is requested but not delivered", UNKNOWN_TYPE in cfg.get("events_requested", [])
              and UNKNOWN_TYPE not in cfg.get("events_delivered", []), cfg)
        poll_requested = [SR, AD, AE]
        cfg = self.create_stream("poll stream", self.ssf_a, A, {"delivery": {"method": POLL}, "events_requested": poll_requested,
                                                                "description": "interop poll stream"}, POLL)
        self.poll_id = cfg["stream_id"]
        self.poll_url = cfg["delivery"]["endpoint_url"]
        self.inbox = PollInbox(self.ssf_a, self.poll_url, self.verifier, A.client_id)
        # no delivery at all: poll (SSF 1.0 §8.1.1.1)
        r, cfg = self.ssf_a.create({"events_requested": [SR]})
        if check("a create request without delivery -> 201 with delivery method urn:ietf:rfc:8936 and the transmitter's endpoint_url "
                 "(SSF §8.1.1.1: MUST assume poll)", r.status_code == 201 and not self.config_problems(cfg, A, POLL, requested=[SR]),
                 (self.config_problems(cfg, A, POLL, requested=[SR]), short(r))):
            r2, _ = self.ssf_a.delete(cfg["stream_id"])
            check("…and that stream deleted -> 204", r2.status_code == 204, short(r2))
        # refusals
        before = self.ssf_a.get()[1]
        for label, body in (
                ("an unknown delivery method", {"delivery": {"method": "urn:example:carrier-pigeon", "endpoint_url": self.push.url}, "events_requested": [SR]}),
                ("a push endpoint on a private address the operator did not allow (http://10.0.0.5/)",
                 {"delivery": {"method": PUSH, "endpoint_url": "http://10.0.0.5/events"}, "events_requested": [SR]}),
                ("a push stream without endpoint_url", {"delivery": {"method": PUSH}, "events_requested": [SR]})):
            r, _ = self.ssf_a.create(body)
            check(f"create with {label} -> 400 or 422", r.status_code in (400, 422), short(r))
        r, _ = self.ssf_a.req("POST", "configuration_endpoint", raw="{not json")
        check("create with a body that is not JSON -> 400", r.status_code == 400, short(r))
        after = self.ssf_a.get()[1]
        check("…and none of the refused requests created a stream", isinstance(after, list) and isinstance(before, list) and len(after) == len(before),
              (before, after))
        # reading
        r, cfg = self.ssf_a.get(self.push_id)
        check("GET configuration_endpoint?stream_id=<push> -> 200 the same configuration", r.status_code == 200 and isinstance(cfg, dict)
              and cfg.get("stream_id") == self.push_id and not self.config_problems(cfg, A, PUSH, self.push.url, requested),
              (self.config_problems(cfg, A, PUSH, self.push.url, requested) if isinstance(cfg, dict) else None, short(r)))
        r, lst = self.ssf_a.get()
        ids = sorted(c.get("stream_id") for c in lst) if isinstance(lst, list) and all(isinstance(c, dict) for c in lst) else None
        check("GET configuration_endpoint without stream_id -> 200 a JSON array of exactly A's streams (push and poll)",
              r.status_code == 200 and ids == sorted([self.push_id, self.poll_id]), (ids, short(r)))
        # PATCH keeps what it is not given
        r, cfg = self.ssf_a.req("PATCH", "configuration_endpoint", {"stream_id": self.push_id, "description": "patched"})
        check("PATCH {stream_id, description} -> 200, description changed, events_requested and delivery kept",
              r.status_code == 200 and not self.config_problems(cfg, A, PUSH, self.push.url, requested, "patched"),
              (self.config_problems(cfg, A, PUSH, self.push.url, requested, "patched"), short(r)))
        r, cfg = self.ssf_a.req("PATCH", "configuration_endpoint", {"stream_id": self.push_id, "iss": "https://evil.example"})
        check("PATCH with a different iss (a Transmitter-Supplied property that MUST match, SSF §8.1.1.3) -> 400", r.status_code == 400, short(r))
        # PUT replaces
        body = {"stream_id": self.push_id, "delivery": {"method": PUSH, "endpoint_url": self.push.url, "authorization_header": self.push_auth},
                "events_requested": requested, "description": "replaced"}
        r, cfg = self.ssf_a.req("PUT", "configuration_endpoint", body)
        check("PUT the full configuration -> 200 the replaced configuration", r.status_code == 200
              and not self.config_problems(cfg, A, PUSH, self.push.url, requested, "replaced"),
              (self.config_problems(cfg, A, PUSH, self.push.url, requested, "replaced"), short(r)))
        r, cfg = self.ssf_a.get(self.push_id)
        check("…read back: description replaced", isinstance(cfg, dict) and cfg.get("description") == "replaced", short(r))
        r, st = self.ssf_a.status(self.push_id)
        check("GET status_endpoint?stream_id=<push> -> 200 {stream_id, status: enabled}", r.status_code == 200 and isinstance(st, dict)
              and st.get("stream_id") == self.push_id and st.get("status") == "enabled", short(r))

    # --- authorization

    def run_auth(self):
        sid = self.push_id
        calls = [
            ("GET configuration_endpoint", lambda s, **k: s.get(sid, **k), "read"),
            ("GET configuration_endpoint (list)", lambda s, **k: s.get(None, **k), "read"),
            ("POST configuration_endpoint", lambda s, **k: s.create({"delivery": {"method": POLL}, "events_requested": [SR]}, **k), "manage"),
            ("PATCH configuration_endpoint", lambda s, **k: s.req("PATCH", "configuration_endpoint", {"stream_id": sid, "description": "x"}, **k), "manage"),
            ("PUT configuration_endpoint", lambda s, **k: s.req("PUT", "configuration_endpoint", {
                "stream_id": sid, "delivery": {"method": PUSH, "endpoint_url": self.push.url}, "events_requested": [SR]}, **k), "manage"),
            ("DELETE configuration_endpoint", lambda s, **k: s.delete(sid, **k), "manage"),
            ("GET status_endpoint", lambda s, **k: s.status(sid, **k), "read"),
            ("POST status_endpoint", lambda s, **k: s.set_status(sid, "disabled", **k), "manage"),
            ("POST add_subject_endpoint", lambda s, **k: s.add(sid, {"format": "email", "email": "nobody@example.com"}, **k), "manage"),
            ("POST remove_subject_endpoint", lambda s, **k: s.remove(sid, {"format": "email", "email": "nobody@example.com"}, **k), "manage"),
            ("POST verification_endpoint", lambda s, **k: s.verify(sid, "auth-probe", **k), "manage"),
            ("POST poll endpoint", lambda s, **k: s.poll(self.poll_url, max_events=0, **k), "read"),
        ]
        bad = {}
        for label, call, _ in calls:
            for who, tok in (("no token", ""), ("a made-up token", "sigil_" + secrets.token_urlsafe(30)), ("an admin API token", self.admin_token)):
                r, _ = call(self.ssf_a, token=tok)
                www = r.headers.get("WWW-Authenticate", "")
                if r.status_code != 401 or not www.lower().startswith("bearer"):
                    bad[f"{label} with {who}"] = short(r)
        check("every endpoint: no token, a made-up token, or an admin API token -> 401 with WWW-Authenticate: Bearer", not bad, bad)
        bad = {}
        for label, call, _ in calls:
            r, doc = call(self.ssf_n)
            if r.status_code != 403 or "insufficient_scope" not in (r.headers.get("WWW-Authenticate", "") + r.text):
                bad[label] = short(r)
        check("every endpoint: client N's token without ssf.manage/ssf.read -> 403 insufficient_scope", not bad, bad)
        bad = {}
        for label, call, kind in calls:
            r, _ = call(self.ssf_a_read)
            if kind == "read" and r.status_code != 200:
                bad[f"{label} (may read)"] = short(r)
            if kind == "manage" and (r.status_code != 403 or "insufficient_scope" not in (r.headers.get("WWW-Authenticate", "") + r.text)):
                bad[f"{label} (may not change)"] = short(r)
        check("client A's ssf.read token: reading configuration and status and polling answer 200, every change 403 insufficient_scope",
              not bad, bad)
        r, lst = self.ssf_r.get()
        check("client R (only ssf.read allowed, no stream of its own): GET configuration_endpoint -> 200 []", r.status_code == 200 and lst == [], short(r))
        r, st = self.ssf_a.status(self.push_id)
        r2, cfg = self.ssf_a.get(self.push_id)
        check("…and the push stream is still there, enabled, unchanged by the refused calls", st == {"stream_id": self.push_id, "status": "enabled"}
              or (isinstance(st, dict) and st.get("status") == "enabled"), (short(r), short(r2)))

    # --- isolation

    def run_isolation(self):
        sid = self.push_id
        b = self.ssf_b
        attempts = {
            "GET configuration": b.get(sid)[0],
            "PATCH configuration": b.req("PATCH", "configuration_endpoint", {"stream_id": sid, "description": "b was here"})[0],
            "PUT configuration": b.req("PUT", "configuration_endpoint", {"stream_id": sid, "delivery": {"method": POLL}, "events_requested": [SR]})[0],
            "GET status": b.status(sid)[0],
            "POST status": b.set_status(sid, "disabled")[0],
            "add subject": b.add(sid, {"format": "email", "email": "mallory@example.com"})[0],
            "remove subject": b.remove(sid, {"format": "email", "email": "ada@example.com"})[0],
            "verify": b.verify(sid, "b-probe")[0],
            "poll A's poll stream": b.poll(self.poll_url, max_events=10)[0],
            "DELETE configuration": b.delete(sid)[0],
        }
        bad = {k: short(r) for k, r in attempts.items() if r.status_code != 404}
        check("client B (ssf.manage) on client A's streams: every call -> 404", not bad, bad)
        r, lst = b.get()
        check("client B's list is an empty array (none of A's streams)", r.status_code == 200 and lst == [], short(r))
        r, cfg = self.ssf_a.get(sid)
        check("…and A's push stream is unchanged (description, status)", isinstance(cfg, dict) and cfg.get("description") == "replaced"
              and self.ssf_a.status(sid)[1].get("status") == "enabled", short(r))
        time.sleep(2)
        check("…and B's verification request sent nothing to A's push receiver", not self.push.snapshot(), self.push.describe())

    # --- verification

    def run_verify(self):
        state = "push-" + secrets.token_urlsafe(12)
        r, _ = self.ssf_a.verify(self.push_id, state)
        need("POST verification_endpoint {stream_id: push, state} -> 204", r.status_code == 204, short(r))
        got = self.push.wait(is_type(VERIFY))
        need("the push receiver gets a verification SET (verified: signature against jwks_uri, typ secevent+jwt, RS256, kid, iss, aud)",
             got, self.push.describe())
        d = got[0]
        _, ev = the_event(d.claims)
        check("push: the Authorization header configured for the stream came with it", d.headers.get("authorization") == self.push_auth,
              d.headers.get("authorization"))
        check("push: Content-Type application/secevent+jwt, the body is the bare compact SET", d.headers.get("content-type", "").split(";")[0].strip()
              == "application/secevent+jwt" and d.body.strip().count(".") == 2, d.headers.get("content-type"))
        check("push verification SET: state echoed", ev.get("state") == state, ev)
        check("push verification SET: sub_id {format: opaque, id: stream_id}", d.claims.get("sub_id") == {"format": "opaque", "id": self.push_id},
              d.claims.get("sub_id"))
        check("push verification SET: SSF §4 profile (no sub, no exp, iat now, one event)", not set_problems(d.header, d.claims, self.verifier),
              set_problems(d.header, d.claims, self.verifier))
        check("push verification SET: aud = A's client_id, the stream's aud", d.claims.get("aud") in (self.clients["A"].client_id, [self.clients["A"].client_id]),
              d.claims.get("aud"))
        state2 = "poll-" + secrets.token_urlsafe(12)
        r, _ = self.ssf_a.verify(self.poll_id, state2)
        need("POST verification_endpoint {stream_id: poll, state} -> 204", r.status_code == 204, short(r))
        got = self.inbox.wait(is_type(VERIFY))
        need("poll (RFC 8936 {maxEvents, returnImmediately, ack}) -> 200 {sets: {jti: SET}, moreAvailable} with the verification SET, verified",
             got and not self.inbox.problems, self.inbox.describe())
        d = got[0]
        _, ev = the_event(d.claims)
        check("poll verification SET: state echoed and sub_id opaque = the poll stream's id", ev.get("state") == state2
              and d.claims.get("sub_id") == {"format": "opaque", "id": self.poll_id}, d.claims)
        check("poll verification SET: SSF §4 profile", not set_problems(d.header, d.claims, self.verifier), set_problems(d.header, d.claims, self.verifier))
        r, _ = self.ssf_a.verify("no-such-stream-" + secrets.token_hex(4), "x")
        check("verification of an unknown stream_id -> 404", r.status_code == 404, short(r))

    # --- users and subjects

    def make_user(self, label, given):
        email = f"{given.lower()}.{secrets.token_hex(3)}@example.com"
        r, doc = self.admin.call("POST", "/users", {"email": email, "given_name": given, "family_name": "Signal"})
        need(f"admin API: user {given} ({email}) -> 201", r.status_code == 201 and (doc or {}).get("id"), short(r))
        self.users[label] = (doc["id"], email)
        return doc["id"], email

    def enrol_phone(self, who, email):
        """`sigil user invite` for an existing user, the enrolment page's own calls (POST /enroll/<token>/device with
        the page's Origin), `sigil-authenticator enroll <link>`, then the page's completion: the user has an
        authenticator device and a signed-in session. Returns the Phone."""
        base = self.server.base
        r = subprocess.run([self.server.binary, "user", "invite", "--tenant", "default", "--email", email, "--data-dir", self.server.data,
                            "--public-url", base], capture_output=True, text=True, timeout=60, env=self.server.env)
        link = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ""
        need(f"sigil user invite prints {who}'s enrolment link", "/enroll/" in link, r.stderr[-300:])
        browser = requests.Session()
        browser.trust_env = False
        browser.get(link, timeout=15)
        r = browser.post(link + "/device", json={}, headers={"Origin": base, "Accept": "application/json"}, timeout=15)
        started = json_of(r) or {}
        need(f"{who}: the enrolment page's POST /enroll/<token>/device -> 200 with the app link and the transaction", r.status_code == 200
             and started.get("link") and started.get("transaction"), short(r))
        phone = Phone(self.authenticator, os.path.join(WORK, f"phone-{who.lower()}"))
        r = phone.run("enroll", started["link"], "--name", f"{who}'s CLI", "--yes")
        need(f"{who}: sigil-authenticator enroll <link> -> 0", r.returncode == 0, r.stdout + r.stderr)
        status_url = base + (started.get("status") or f"/login/transactions/{started['transaction']}")
        done = wait_until(lambda: (json_of(browser.get(status_url, timeout=10)) or {}).get("state") == "completed", 20)
        need(f"{who}: the enrolment transaction is completed", done, browser.get(status_url, timeout=10).text[:300])
        r = browser.post(f"{base}/login/transactions/{started['transaction']}/complete", json={}, headers={"Origin": base}, timeout=15)
        need(f"{who}: the page completes the sign-in -> 200 and a session cookie", r.status_code == 200
             and any(c.name.startswith("sigil_session") for c in browser.cookies), short(r))
        return phone

    def disable(self, label, uid):
        """Active, then disabled (a fresh account-disabled each time)."""
        self.admin.call("PATCH", f"/users/{uid}", {"status": "active"})
        t0 = time.time()
        r, _ = self.admin.call("PATCH", f"/users/{uid}", {"status": "disabled"})
        need(f"admin API: PATCH /users/{{{label}}} {{status: disabled}} -> 200", r.status_code == 200, short(r))
        return t0, time.time()

    def run_events(self):
        A = self.ssf_a
        ada_id, ada = self.make_user("ada", "Ada")
        bob_id, bob = self.make_user("bob", "Bob")
        carol_id, carol = self.make_user("carol", "Carol")
        dan_id, dan = self.make_user("dan", "Dan")
        eve_id, eve = self.make_user("eve", "Eve")
        adds = [(self.push_id, {"format": "email", "email": ada}), (self.poll_id, {"format": "email", "email": ada}),
                (self.push_id, {"format": "opaque", "id": carol_id}), (self.poll_id, {"format": "opaque", "id": carol_id}),
                (self.push_id, {"format": "email", "email": dan}), (self.poll_id, {"format": "email", "email": dan}),
                (self.push_id, {"format": "email", "email": eve}), (self.poll_id, {"format": "email", "email": eve})]
        bad = {}
        for sid, subj in adds:
            r, _ = A.add(sid, subj)
            if r.status_code != 200:
                bad[f"{sid} {subj}"] = short(r)
        need("add_subject_endpoint {stream_id, subject (email, or opaque user id), verified: true} -> 200 for Ada, Carol, Dan and Eve "
             "on the push and poll streams (never Bob)", not bad, bad)
        r, _ = A.add("no-such-stream", {"format": "email", "email": ada})
        check("add subject to an unknown stream_id -> 404", r.status_code == 404, short(r))
        r, _ = A.req("POST", "add_subject_endpoint", {"stream_id": self.push_id, "subject": {"email": ada}})
        check("add subject without a format -> 400", r.status_code == 400, short(r))

        # credential-change create: Ada enrols the authenticator (and so signs in)
        self.have_phone = bool(self.authenticator and os.access(self.authenticator, os.X_OK))
        phone = None
        if self.have_phone:
            t0 = time.time()
            phone = self.enrol_phone("Ada", ada)
            t1 = time.time()
            got = self.push.wait(is_type(CC, about_email(ada)))
            if check("Ada's authenticator enrolment -> a credential-change SET on the push stream, sub_id {format: email, email: Ada}",
                     got, self.push.describe()):
                _, ev = the_event(got[0].claims)
                check("credential-change (create): change_type create, credential_type a string, event_timestamp (seconds) of the enrolment",
                      ev.get("change_type") == "create" and isinstance(ev.get("credential_type"), str) and ev.get("credential_type")
                      and self.ts_ok(ev, t0, t1), ev)
                log(f"credential_type for an authenticator device: {ev.get('credential_type')!r}")
                check("credential-change SET: SSF §4 profile", not set_problems(got[0].header, got[0].claims, self.verifier),
                      set_problems(got[0].header, got[0].claims, self.verifier))
        else:
            skip("credential-change on enrolment, and a signed-in session for Ada", "no sigil-authenticator binary (--authenticator)")

        # session-revoked: the admin signs Ada out everywhere
        t0 = time.time()
        r, doc = self.admin.call("DELETE", f"/users/{ada_id}/sessions")
        t1 = time.time()
        need("admin API: DELETE /users/{Ada}/sessions -> 200 {revoked}", r.status_code == 200 and isinstance((doc or {}).get("revoked"), int), short(r))
        if self.have_phone:
            check("…it ended Ada's session (revoked ≥ 1)", doc["revoked"] >= 1, doc)
        got = self.push.wait(is_type(SR, about_email(ada)))
        if check("session-revoked SET about Ada arrives on the push stream, verified", got, self.push.describe()):
            _, ev = the_event(got[0].claims)
            check("session-revoked: initiating_entity admin, event_timestamp (seconds) of the sign-out", ev.get("initiating_entity") == "admin"
                  and self.ts_ok(ev, t0, t1), ev)
            check("session-revoked SET: SSF §4 profile, aud = A's client_id", not set_problems(got[0].header, got[0].claims, self.verifier)
                  and got[0].claims.get("aud") in (self.clients["A"].client_id, [self.clients["A"].client_id]), got[0].claims)
        got = self.inbox.wait(is_type(SR, about_email(ada)))
        if check("session-revoked SET about Ada arrives on the poll stream, verified", got, self.inbox.describe()):
            _, ev = the_event(got[0].claims)
            check("poll session-revoked: initiating_entity admin, event_timestamp", ev.get("initiating_entity") == "admin" and self.ts_ok(ev, t0, t1), ev)

        # credential-change delete: the phone removes itself
        if phone is not None:
            t0 = time.time()
            r = phone.signed_request("DELETE", "/authenticator/v1/device")
            t1 = time.time()
            if check("Ada's authenticator removes itself (signed DELETE /authenticator/v1/device) -> 204", r.status_code == 204, short(r)):
                got = self.push.wait(is_type(CC, lambda c: about_email(ada)(c) and (the_event(c)[1] or {}).get("change_type") == "delete"))
                if check("…-> a credential-change SET with change_type delete about Ada on the push stream", got, self.push.describe()):
                    _, ev = the_event(got[0].claims)
                    check("credential-change (delete): credential_type a string, event_timestamp", isinstance(ev.get("credential_type"), str)
                          and self.ts_ok(ev, t0, t1), ev)
            self.inbox.poll_once()
            check("the poll stream (which did not request credential-change) got no credential-change SET",
                  not self.inbox.accepted(is_type(CC)), self.inbox.describe())

        # account-disabled: the admin disables Carol (added by her opaque id)
        t0, t1 = self.disable("Carol", carol_id)
        carol_sub = lambda c: mentions(carol_id)(c) or mentions(carol)(c)  # noqa: E731
        got = self.push.wait(is_type(AD, carol_sub))
        if check("account-disabled (RISC) SET about Carol arrives on the push stream, verified", got, self.push.describe()):
            c = got[0].claims
            _, ev = the_event(c)
            check("account-disabled: sub_id identifies Carol the way she was added ({format: opaque, id: her user id})",
                  c.get("sub_id") == {"format": "opaque", "id": carol_id}, c.get("sub_id"))
            check("account-disabled: event_timestamp of the change; reason, if any, one of RISC's (hijacking, bulk-account)",
                  self.ts_ok(ev, t0, t1) and ev.get("reason") in (None, "hijacking", "bulk-account"), ev)
            check("account-disabled SET: SSF §4 profile", not set_problems(got[0].header, c, self.verifier), set_problems(got[0].header, c, self.verifier))
        got = self.inbox.wait(is_type(AD, carol_sub))
        check("account-disabled SET about Carol arrives on the poll stream", got, self.inbox.describe())
        t0 = time.time()
        r, _ = self.admin.call("PATCH", f"/users/{carol_id}", {"status": "active"})
        t1 = time.time()
        need("admin API: PATCH /users/{Carol} {status: active} -> 200", r.status_code == 200, short(r))
        got = self.inbox.wait(is_type(AE, carol_sub))
        if check("account-enabled (RISC) SET about Carol arrives on the poll stream (which requested it), sub_id opaque = her id", got
                 and got[0].claims.get("sub_id") == {"format": "opaque", "id": carol_id}, self.inbox.describe()):
            check("account-enabled: event_timestamp of the change", self.ts_ok(the_event(got[0].claims)[1], t0, t1), got[0].claims)
        time.sleep(1)
        check("…and not on the push stream, which did not request it", not self.push.snapshot_of(is_type(AE)), self.push.describe())

        # a subject not added: Bob, signed out and disabled; Eve's account-disabled is the witness that comes after
        self.admin.call("DELETE", f"/users/{bob_id}/sessions")
        self.disable("Bob", bob_id)
        self.disable("Eve", eve_id)
        witness = self.push.wait(is_type(AD, about_email(eve))) and self.inbox.wait(is_type(AD, about_email(eve)))
        if check("witness: Eve's account-disabled (after Bob's) arrives on the push and poll streams", witness,
                 self.push.describe() + "\n" + self.inbox.describe()):
            time.sleep(QUIET_WAIT)
            self.inbox.poll_once()
            leaks = [d.describe() for d in self.push.snapshot() + list(self.inbox.items.values())
                     if d.claims and (mentions(bob)(d.claims) or mentions(bob_id)(d.claims))]
            check("nothing about Bob arrived on any stream (default_subjects NONE, he was never added)", not leaks, leaks)

        # removing a subject: Ada off the push stream; disabling her then reaches the poll stream only
        r, _ = A.remove(self.push_id, {"format": "email", "email": ada})
        check("remove_subject_endpoint {stream_id: push, subject: Ada} -> 204", r.status_code == 204, short(r))
        self.disable("Ada", ada_id)
        got = self.inbox.wait(is_type(AD, about_email(ada)))
        if check("witness: Ada's account-disabled reaches the poll stream", got, self.inbox.describe()):
            time.sleep(QUIET_WAIT)
            check("…and not the push stream, from which she was removed", not self.push.snapshot_of(is_type(AD, about_email(ada))),
                  self.push.describe())
        self.dan = (dan_id, dan)
        self.eve = (eve_id, eve)

    def ts_ok(self, ev, t0, t1):
        ts = ev.get("event_timestamp")
        return isinstance(ts, int) and not isinstance(ts, bool) and t0 - 5 <= ts <= t1 + 5

    # --- poll semantics

    def run_poll(self):
        inbox = self.inbox
        check("poll: every answer was 200 application/json {sets: {jti: SET}, moreAvailable: boolean} and every SET verified",
              not inbox.problems, inbox.problems[:5])
        check("poll: no acknowledged SET was returned again", not inbox.redelivered, inbox.redelivered)
        inbox.poll_once()  # acknowledge whatever is still out
        inbox.poll_once()
        # a fresh SET: poll without acknowledging, then report it with setErrs; it must not come back either
        hal_id, hal = self.make_user("hal", "Hal")
        need("add Hal to the poll stream -> 200", self.ssf_a.add(self.poll_id, {"format": "email", "email": hal})[0].status_code == 200)
        self.disable("Hal", hal_id)

        def fresh():
            r, doc = inbox.ssf.poll(inbox.url, max_events=10)
            return [j for j, tok in ((doc or {}).get("sets") or {}).items() if j not in inbox.items and hal in json.dumps(self.claims_of(tok))]
        jtis = wait_until(fresh, DELIVERY_WAIT, 0.5)
        if not check("poll: Hal's account-disabled is returned (not acknowledged)", jtis, inbox.describe()):
            return
        jti = jtis[0]
        r, doc = inbox.ssf.poll(inbox.url, max_events=10)
        check("poll: an unacknowledged SET is returned again on the next poll (RFC 8936 §2.4)", jti in ((doc or {}).get("sets") or {}), short(r))
        errs = {jti: {"err": "invalid_request", "description": "interop: reported with setErrs"}}
        r, doc = inbox.ssf.poll(inbox.url, set_errs=errs, max_events=10)
        check("poll with setErrs for it -> 200", r.status_code == 200, short(r))
        r, doc = inbox.ssf.poll(inbox.url, max_events=10)
        check("poll: the SET reported in setErrs is not returned again", r.status_code == 200 and jti not in ((doc or {}).get("sets") or {}), short(r))
        r, doc = inbox.ssf.poll(inbox.url, ack=list(((doc or {}).get("sets") or {}).keys()), max_events=0)
        check("poll with only ack and maxEvents 0 -> 200 with no sets", r.status_code == 200 and not (doc or {}).get("sets"), short(r))
        r, doc = self.ssf_r.poll(inbox.url, max_events=10)
        check("client R (ssf.read, another client) cannot poll A's stream -> 404", r.status_code == 404, short(r))
        inbox.acked.add(jti)

    def claims_of(self, token):
        try:
            return json.loads(b64u_decode(token.split(".")[1]))
        except Exception:  # noqa: BLE001
            return {}

    # --- status: paused holds, disabled drops

    def run_status(self):
        A = self.ssf_a
        dan_id, dan = self.dan
        eve_id, eve = self.eve
        r, st = A.set_status(self.push_id, "paused", "interop: receiver maintenance")
        need("POST status_endpoint {stream_id, status: paused, reason} -> 200 {stream_id, status: paused}", r.status_code == 200
             and isinstance(st, dict) and st.get("status") == "paused" and st.get("stream_id") == self.push_id, short(r))
        r, st = A.status(self.push_id)
        check("GET status -> paused", isinstance(st, dict) and st.get("status") == "paused", short(r))
        n_before = len(self.push.snapshot())
        self.disable("Dan", dan_id)
        need("witness: Dan's account-disabled reaches the poll stream", self.inbox.wait(is_type(AD, about_email(dan))), self.inbox.describe())
        time.sleep(QUIET_WAIT)
        sent = [d.describe() for d in self.push.snapshot()[n_before:] if not is_type(STREAM_UPDATED)(d)]
        check(f"paused: nothing was pushed in the {QUIET_WAIT} s after (the event is held)", not sent, sent)
        t_enable = time.time()
        r, st = A.set_status(self.push_id, "enabled")
        need("POST status enabled -> 200 {status: enabled}", r.status_code == 200 and (st or {}).get("status") == "enabled", short(r))
        got = self.push.wait(is_type(AD, about_email(dan)))
        check("enabled again: the held account-disabled about Dan is delivered", got and got[0].at >= t_enable, self.push.describe())
        # disabled: dropped
        r, st = A.set_status(self.push_id, "disabled", "interop")
        need("POST status disabled -> 200 {status: disabled}", r.status_code == 200 and (st or {}).get("status") == "disabled", short(r))
        check("GET status -> disabled", (A.status(self.push_id)[1] or {}).get("status") == "disabled")
        n_eve = len(self.push.snapshot_of(is_type(AD, about_email(eve))))
        n_inbox_eve = len(self.inbox.accepted(is_type(AD, about_email(eve))))
        self.disable("Eve", eve_id)
        need("witness: Eve's account-disabled (while the push stream is disabled) reaches the poll stream",
             self.inbox.wait(lambda d: len(self.inbox.accepted(is_type(AD, about_email(eve)))) > n_inbox_eve), self.inbox.describe())
        time.sleep(QUIET_WAIT)
        r, st = A.set_status(self.push_id, "enabled")
        need("POST status enabled -> 200", r.status_code == 200, short(r))
        n_dan = len(self.push.accepted(is_type(AD, about_email(dan))))
        self.disable("Dan", dan_id)
        got = self.push.wait(lambda d: len(self.push.accepted(is_type(AD, about_email(dan)))) > n_dan)
        if check("witness: after re-enabling, Dan's next account-disabled is pushed", got, self.push.describe()):
            time.sleep(QUIET_WAIT)
            check("disabled: Eve's account-disabled was dropped (never pushed, not even after re-enabling)",
                  len(self.push.snapshot_of(is_type(AD, about_email(eve)))) == n_eve, self.push.describe())

    # --- retries

    def run_retry(self):
        A = self.ssf_a
        rcv = SetReceiver("flaky", self.verifier, auth=None)
        cfg = self.create_stream("push stream to a flaky receiver", A, self.clients["A"],
                                 {"delivery": {"method": PUSH, "endpoint_url": rcv.url}, "events_requested": [SR, AD]}, PUSH, rcv.url)
        rcv.aud = self.clients["A"].client_id
        sid = cfg["stream_id"]
        self.streams["flaky"] = cfg
        fid, frank = self.make_user("frank", "Frank")
        need("add Frank to the flaky stream -> 200", A.add(sid, {"format": "email", "email": frank})[0].status_code == 200)
        rcv.fail_next(2)
        t0 = time.time()
        self.disable("Frank", fid)
        got = rcv.wait(is_type(AD, about_email(frank)), RETRY_WAIT)
        attempts = [d for d in rcv.snapshot() if d.claims and is_type(AD, about_email(frank))(d)]
        log(f"flaky receiver: {len(attempts)} attempt(s) at +" + ", +".join(f"{d.at - t0:.1f}s" for d in attempts))
        if not check(f"the receiver answered 503 twice, then the SET was accepted (within {RETRY_WAIT} s)", got
                     and [d.verdict for d in attempts][:2] == ["failed-503", "failed-503"], rcv.describe()):
            return
        time.sleep(QUIET_WAIT)
        attempts = [d for d in rcv.snapshot() if d.claims and is_type(AD, about_email(frank))(d)]
        jtis = {d.jti for d in attempts}
        check("every attempt carried the same SET (one jti)", len(jtis) == 1, [d.describe() for d in attempts])
        check("after dedup by jti, the account-disabled about Frank arrived exactly once (accepted once, not sent again after the 202)",
              len([d for d in attempts if d.verdict == "accepted"]) == 1 and not [d for d in attempts if d.verdict == "duplicate"],
              [d.describe() for d in attempts])

    # --- okta

    def run_okta(self):
        A = self.ssf_a
        okta = SetReceiver("okta", self.verifier, okta=True)
        requested = [SR, AD, CC]
        r, cfg = A.create({"delivery": {"method": PUSH, "endpoint_url": okta.url}, "events_requested": requested,
                           "description": "Okta Identity Threat Protection", "profile": "okta"})
        need("create a push stream with profile okta to the (fake) Okta org's /security/api/v1/security-events, no Authorization header -> 201",
             r.status_code == 201 and isinstance(cfg, dict) and cfg.get("stream_id"), short(r))
        self.streams["okta"] = cfg
        sid = cfg["stream_id"]
        okta.aud = okta.origin  # Okta: "The aud value must be your Okta org"
        log(f"okta stream: aud {cfg.get('aud')!r}, events_delivered {cfg.get('events_delivered')}")
        check("okta stream: events_delivered is only what Okta's receiver accepts (session-revoked, of the three requested)",
              cfg.get("events_delivered") == [SR], cfg.get("events_delivered"))
        gid, grace = self.make_user("grace", "Grace")
        need("add Grace to the okta stream -> 200", A.add(sid, {"format": "email", "email": grace})[0].status_code == 200)
        if self.have_phone:
            self.enrol_phone("Grace", grace)  # a session to revoke (and a credential-change Okta must not be sent)
        t0 = time.time()
        r, doc = self.admin.call("DELETE", f"/users/{gid}/sessions")
        t1 = time.time()
        need("admin API: DELETE /users/{Grace}/sessions -> 200", r.status_code == 200, short(r))
        self.disable("Grace", gid)  # account-disabled: Okta's receiver does not take it
        got = wait_until(lambda: [d for d in okta.snapshot() if d.claims and SR in (d.claims.get("events") or {})], DELIVERY_WAIT)
        need("the okta stream pushed a (signed) session-revoked SET about Grace", got, okta.describe())
        d = got[0]
        ev = d.claims["events"][SR] if isinstance(d.claims["events"][SR], dict) else {}
        check("okta: Okta's receiver accepts the SET (202; its rules: typ secevent+jwt, RS256, kid, iss, aud = the org URL, Okta's event "
              "types only, event_timestamp, subject {user: …}, reason_admin or reason_user)", d.verdict == "accepted", d.describe())
        check("okta: aud is the Okta org URL (Okta: \"The aud value must be your Okta org\"), here the receiver's origin",
              isinstance(d.claims.get("aud"), str) and d.claims["aud"].rstrip("/") == okta.origin, d.claims.get("aud"))
        check("okta: the subject is inside the event as Okta's SecurityEventSubject: subject = {user: {format: email, email: Grace}}",
              ev.get("subject") == {"user": {"format": "email", "email": grace}}, ev.get("subject"))
        check("okta: no top-level sub_id", "sub_id" not in d.claims, d.claims)
        check("okta: event_timestamp in seconds of the sign-out, initiating_entity admin", self.ts_ok(ev, t0, t1) and ev.get("initiating_entity") == "admin", ev)
        check("okta: reason_admin or reason_user ({\"en\": …}) present (Okta's schema: one of them is required)",
              isinstance(ev.get("reason_admin"), dict) or isinstance(ev.get("reason_user"), dict), ev)
        check("okta: no Authorization header sent (none configured)", "authorization" not in d.headers, d.headers.get("authorization"))
        check("okta: Content-Type application/secevent+jwt", d.headers.get("content-type", "").split(";")[0].strip() == "application/secevent+jwt",
              d.headers.get("content-type"))
        time.sleep(QUIET_WAIT)
        wrong = [x.describe() for x in okta.snapshot() if x.claims and any(t not in OKTA_TYPES for t in (x.claims.get("events") or {}))]
        check("okta: no SET of a type Okta's receiver does not take (credential-change, account-disabled, …) was sent", not wrong, wrong)
        check("okta: every SET sent to Okta was accepted", not okta.refused(), okta.describe())

    # --- delete

    def run_delete(self):
        A = self.ssf_a
        sid = self.streams["flaky"]["stream_id"] if "flaky" in self.streams else self.push_id
        r, _ = A.delete(sid)
        need("DELETE configuration_endpoint?stream_id=<a push stream> -> 204", r.status_code == 204, short(r))
        checks = {"GET configuration": A.get(sid)[0], "GET status": A.status(sid)[0], "verify": A.verify(sid, "gone")[0],
                  "add subject": A.add(sid, {"format": "email", "email": "x@example.com"})[0],
                  "DELETE again": A.delete(sid)[0]}
        bad = {k: short(r) for k, r in checks.items() if r.status_code != 404}
        check("after DELETE: GET, status, verify, add subject, DELETE -> 404", not bad, bad)
        r, lst = A.get()
        check("…and it is gone from A's list", isinstance(lst, list) and sid not in [c.get("stream_id") for c in lst if isinstance(c, dict)], short(r))
        r, _ = A.delete(self.poll_id)
        check("DELETE the poll stream -> 204", r.status_code == 204, short(r))
        r, _ = A.poll(self.poll_url, max_events=10)
        check("polling a deleted stream -> 404", r.status_code == 404, short(r))
        if "flaky" in self.streams and "frank" in self.users:
            rcv = [x for x in RECEIVERS if x.name == "flaky"][0]
            n = len(rcv.snapshot())
            fid, _ = self.users["frank"]
            self.disable("Frank", fid)
            time.sleep(QUIET_WAIT)
            check("the deleted stream's receiver got nothing more (Frank disabled again after the delete)", len(rcv.snapshot()) == n, rcv.describe())

    # --- privacy

    def run_privacy(self):
        rc = self.server.stop()
        check("sigil serve exits 0 on SIGTERM", rc == 0, rc)
        texts = {}
        for path in (self.server.out, self.server.err, self.server.cli_log):
            try:
                texts[os.path.basename(path)] = open(path, "rb").read().decode("utf-8", "replace")
            except OSError:
                pass
        found = {f"{label} in {name}" for label, value in SECRETS.items() if value for name, text in texts.items() if value in text}
        check(f"no client secret, access token, admin token or receiver Authorization value in serve's stdout/stderr or the CLI's stderr "
              f"({len(SECRETS)} secrets, {sum(len(t) for t in texts.values())} characters)", not found, sorted(found))

    def run(self):
        try:
            self.setup()
        except SectionAbort as e:
            log(f"set-up failed: {e}")
            return
        if run_section("discovery", self.run_discovery) is None and not hasattr(self, "verifier"):
            return
        run_section("streams", self.run_streams)
        if not hasattr(self, "poll_url"):
            return
        run_section("authorization", self.run_auth)
        run_section("another client", self.run_isolation)
        run_section("verification", self.run_verify)
        run_section("events and subjects", self.run_events)
        if hasattr(self, "dan"):
            run_section("poll semantics (RFC 8936)", self.run_poll)
            run_section("stream status: paused and disabled", self.run_status)
        run_section("retries (RFC 8935, receiver answering 503)", self.run_retry)
        run_section("Okta profile", self.run_okta)
        skip("assurance-level-change", "sent only after a VERIFIED identity verification, which needs the IDV engine and a document; "
             "not exercised here")
        run_section("delete", self.run_delete)
        print("\n==== privacy ====", flush=True)
        self.run_privacy()


def save_artifacts(suite):
    if not ARTIFACTS:
        return
    os.makedirs(ARTIFACTS, exist_ok=True)
    for path in (suite.server.out, suite.server.err, suite.server.cli_log):
        if os.path.exists(path):
            shutil.copy(path, os.path.join(ARTIFACTS, "ssf-" + os.path.basename(path)))
    with open(os.path.join(ARTIFACTS, "ssf-received.txt"), "w") as f:
        for r in RECEIVERS:
            f.write(r.describe(10000) + "\n")
            for d in r.snapshot():
                f.write(f"  {d.path} {d.status} {d.body}\n")
        if hasattr(suite, "inbox"):
            f.write(suite.inbox.describe() + "\n")
            for jti, d in suite.inbox.items.items():
                f.write(f"  {jti} {d.body}\n")


def main():
    global WORK, ARTIFACTS, PIDS_FILE
    ap = argparse.ArgumentParser(description="An SSF 1.0 receiver against Sigil's transmitter")
    ap.add_argument("--sigil", default=os.path.join(HERE, "..", ".build", "debug", "sigil"))
    ap.add_argument("--authenticator", default=os.path.join(HERE, "..", ".build", "debug", "sigil-authenticator"))
    ap.add_argument("--work", help="work directory (the server's pid goes to WORK/pids)")
    ap.add_argument("--artifacts", help="copy the server's logs and every SET received here")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not os.access(args.sigil, os.X_OK):
        print(f"ssf_receiver: no executable at {args.sigil}", file=sys.stderr)
        return 2
    if args.work:
        WORK = os.path.abspath(args.work)
        os.makedirs(WORK, exist_ok=True)
        PIDS_FILE = os.path.join(WORK, "pids")
    else:
        WORK = tempfile.mkdtemp(prefix="sigil-ssf.")
    ARTIFACTS = os.path.abspath(args.artifacts) if args.artifacts else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    log(f"work directory {WORK}; sigil {os.path.abspath(args.sigil)}")
    suite = Suite(args)
    try:
        suite.run()
    except Exception:
        check("the suite ran to the end", False, traceback.format_exc())
    finally:
        suite.server.stop()
        if FAILED:
            print("\n---- for debugging ----", flush=True)
            print(suite.server.tail(40), flush=True)
            for r in RECEIVERS:
                print(r.describe(), flush=True)
            if hasattr(suite, "inbox"):
                print(suite.inbox.describe(), flush=True)
        save_artifacts(suite)
        for r in RECEIVERS:
            try:
                r.stop()
            except Exception:  # noqa: BLE001
                pass
        if not args.work and not args.keep:
            shutil.rmtree(WORK, ignore_errors=True)
    log(f"{time.time() - started:.0f} s")
    print(f"{PASSED} passed, {FAILED} failed", flush=True)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
