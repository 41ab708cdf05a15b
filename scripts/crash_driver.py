#!/usr/bin/env python3
"""Crash consistency: real `sigil serve` nodes killed with SIGKILL while they serve.

Driven by scripts/crash-check.sh (which starts PostgreSQL when asked for); usable alone:

    python3 scripts/crash_driver.py --backend sqlite --sigil .build/debug/sigil
    python3 scripts/crash_driver.py --backend postgres --database-url postgres://… \
        --pg-restart 'pg_ctl -D … -m immediate -w restart'

Workers sign in with a software passkey (P-256, attestation "none", the WebAuthn JSON a browser
posts), get authorization codes (plain and through PAR) and exchange them for tokens, answer SAML
AuthnRequests with the session, and write through the admin API (users, key rotations). A killer
SIGKILLs a random node at seeded random moments and starts it again at once (and, on PostgreSQL,
restarts the database once). A response the client received with success is "committed": after
the run every committed thing must still be there (HTTP and the database), nothing may be
half-written (rows without their audit events or owners), and every one-time value used
(authorization codes, PAR request URIs, passkey challenges, SAML request IDs) must still be
refused, both right after each recovery and at the end.

Prints PASS/FAIL lines, a "crash numbers:" line and "N passed, M failed"; exit 1 on any failure.
"""

import argparse
import base64
import hashlib
import json
import os
import random
import re
import secrets
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timezone

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

PASSED = 0
FAILED = 0


def check(name, ok, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print(f"PASS {name}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL {name}" + (f" -- {detail}" if detail else ""), flush=True)
    return ok


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


# --- a minimal CBOR encoder (RFC 8949): what attestation objects and COSE keys need -------------

def cbor(value):
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for size, code in ((1, 24), (2, 25), (4, 26), (8, 27)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | code]) + n.to_bytes(size, "big")
        raise ValueError("too large")

    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(type(value))


class SoftwarePasskey:
    """A discoverable P-256 credential with user verification, counter always 0 (allowed by
    WebAuthn when the stored counter is 0 too), so concurrent sign-ins never look like clones."""

    def __init__(self, origin, rp_id):
        self.origin = origin
        self.rp_id = rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.user_handle = b""

    def client_data(self, kind, challenge):
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False},
                          separators=(",", ":")).encode()

    def rp_hash(self):
        return hashlib.sha256(self.rp_id.encode()).digest()

    def register(self, options):
        self.user_handle = unb64u(options["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose = cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        auth_data = (self.rp_hash() + bytes([0x45]) + (0).to_bytes(4, "big") + bytes(16)
                     + len(self.credential_id).to_bytes(2, "big") + self.credential_id + cose)
        attestation = cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        cid = b64u(self.credential_id)
        return {"id": cid, "rawId": cid, "type": "public-key",
                "response": {"clientDataJSON": b64u(self.client_data("webauthn.create", options["challenge"])),
                             "attestationObject": b64u(attestation), "transports": ["internal"]}}

    def assert_(self, options):
        auth_data = self.rp_hash() + bytes([0x05]) + (0).to_bytes(4, "big")
        client_data = self.client_data("webauthn.get", options["challenge"])
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        cid = b64u(self.credential_id)
        return {"id": cid, "rawId": cid, "type": "public-key",
                "response": {"clientDataJSON": b64u(client_data), "authenticatorData": b64u(auth_data),
                             "signature": b64u(signature), "userHandle": b64u(self.user_handle)}}


# --- nodes ----------------------------------------------------------------------------------

class Node:
    def __init__(self, name, binary, port, public_url, data_dir, database_url, env, work):
        self.name, self.binary, self.port = name, binary, port
        self.url = f"http://127.0.0.1:{port}"
        self.public_url, self.data_dir, self.database_url = public_url, data_dir, database_url
        self.env, self.work = env, work
        self.proc = None
        self.starts = 0
        self.up = threading.Event()

    def start(self):
        args = [self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--public-url", self.public_url,
                "--data-dir", self.data_dir]
        if self.database_url:
            args += ["--database-url", self.database_url]
        self.starts += 1
        out = open(os.path.join(self.work, f"{self.name}.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=self.env)
        out.close()

    def wait_ready(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    self.up.set()
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
        return False

    def kill(self):
        self.up.clear()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- the database, read directly for the checks ---------------------------------------------

class DB:
    def __init__(self, backend, sqlite_path, database_url, psql):
        self.backend, self.sqlite_path, self.database_url, self.psql = backend, sqlite_path, database_url, psql

    def rows(self, sql):
        if self.backend == "sqlite":
            con = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=30)
            try:
                return [tuple("" if v is None else str(v) for v in r) for r in con.execute(sql).fetchall()]
            finally:
                con.close()
        out = subprocess.run([self.psql, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", self.database_url, "-c", sql],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip())
        return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line != ""]

    def count(self, sql):
        return int(self.rows(sql)[0][0])


# --- the workload ---------------------------------------------------------------------------

class Run:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ops = {}            # kind -> attempts
        self.ok = {}             # kind -> committed
        self.unknown = {}        # kind -> no answer / 5xx (not committed; may or may not have happened)
        self.refused = {}        # kind -> a 4xx we did not expect
        self.sessions = []       # session cookies the client received
        self.grants = []         # dicts: grant id, access token, refresh token, code, verifier
        self.pars = []           # request URIs that produced a code
        self.assertions = []     # (transaction, credential) that produced a session
        self.saml = []           # (request id, SAMLRequest, session cookie)
        self.users = []          # user ids created through the admin API
        self.rotations = []      # kids named by acknowledged rotations
        self.replay_failures = []
        self.kills = 0
        self.pg_restarts = 0
        self.recovery = []       # seconds from restart to ready
        self.not_recovered = 0

    def count(self, table, kind):
        with self.lock:
            table[kind] = table.get(kind, 0) + 1


def front(run):
    """A node that is up (random), or None."""
    up = [n for n in run.nodes if n.up.is_set()]
    return random.choice(up) if up else None


def expect(response, *statuses):
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise requests.RequestException(f"status {response.status_code}")
    if response.status_code not in statuses:
        raise Refused(f"{response.request.method} {response.request.path_url.split('?')[0]} -> {response.status_code}: {response.text[:200]}")
    return response


class Refused(Exception):
    pass


def op_signin(run, node):
    h = {"Origin": run.origin}
    r = expect(requests.post(node.url + "/login/passkey/options", json={}, headers=h, timeout=10), 200)
    start = r.json()
    credential = run.passkey.assert_(start["publicKey"])
    body = {"transaction": start["transaction"], "credential": credential}
    r = expect(requests.post(node.url + "/login/passkey/verify", json=body, headers=h, timeout=10, allow_redirects=False), 200, 303)
    cookie = r.cookies.get(run.cookie_name)
    if not cookie:
        raise Refused("no session cookie")
    with run.lock:
        run.sessions.append(cookie)
        run.assertions.append(body)


def pkce():
    verifier = b64u(secrets.token_bytes(32))
    return verifier, b64u(hashlib.sha256(verifier.encode()).digest())


def op_grant(run, node, use_par):
    with run.lock:
        if not run.sessions:
            return
        cookie = random.choice(run.sessions)
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": run.client_id, "redirect_uri": run.redirect_uri, "scope": "openid email",
              "state": secrets.token_hex(8), "nonce": secrets.token_hex(8), "code_challenge": challenge, "code_challenge_method": "S256"}
    request_uri = None
    if use_par:
        r = expect(requests.post(node.url + "/oauth2/par", data=params, auth=(run.client_id, run.client_secret), timeout=10), 201)
        request_uri = r.json()["request_uri"]
        query = {"client_id": run.client_id, "request_uri": request_uri}
    else:
        query = params
    node = front(run) or node  # the next step may land on another node
    r = expect(requests.get(node.url + "/oauth2/authorize?" + urllib.parse.urlencode(query), cookies={run.cookie_name: cookie},
                            allow_redirects=False, timeout=10), 302, 303)
    location = r.headers.get("Location", "")
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    if "code" not in q:
        raise Refused(f"no code: {location[:200]}")
    code = q["code"]
    if request_uri:
        with run.lock:
            run.pars.append(request_uri)
    node = front(run) or node
    r = expect(requests.post(node.url + "/oauth2/token", data={"grant_type": "authorization_code", "code": code,
                                                              "redirect_uri": run.redirect_uri, "code_verifier": verifier},
                             auth=(run.client_id, run.client_secret), timeout=10), 200)
    tokens = r.json()
    access = tokens["access_token"]
    claims = json.loads(unb64u(access.split(".")[1]))
    grant_id = claims["jti"].split(".")[0]
    with run.lock:
        run.grants.append({"grant": grant_id, "access": access, "refresh": tokens.get("refresh_token"), "code": code,
                           "verifier": verifier, "replayed": False})


def op_refresh(run, node):
    """Rotates a committed grant's refresh token; a client whose request got no answer retries
    the same token once, as real clients do."""
    with run.lock:
        candidates = [g for g in run.grants if g["refresh"] and not g["replayed"] and not g.get("busy") and not g.get("uncertain")]
        if not candidates:
            return
        g = random.choice(candidates)
        g["busy"] = True
    try:
        for attempt in (1, 2):
            target = node if attempt == 1 else (front(run) or node)
            try:
                r = requests.post(target.url + "/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": g["refresh"]},
                                  auth=(run.client_id, run.client_secret), timeout=10)
            except requests.RequestException:
                if attempt == 1:
                    time.sleep(1.5)  # the node is being restarted: retry elsewhere or after it
                    continue
                raise
            if r.status_code >= 500 and attempt == 1:
                time.sleep(1.5)
                continue
            if r.status_code == 200:
                with run.lock:
                    g["refresh"] = r.json()["refresh_token"]
                return
            # Refused on the retry: the first attempt committed and its answer was lost, so the
            # retry was a reuse (the grant is revoked, as RFC 9700 wants). Not a loss.
            with run.lock:
                g["uncertain"] = True
            raise Refused(f"refresh attempt {attempt} -> {r.status_code}: {r.text[:120]}")
        with run.lock:
            g["uncertain"] = True
        raise requests.RequestException("no answer to the refresh, twice")
    finally:
        with run.lock:
            g["busy"] = False


def authn_request(run, request_id):
    instant = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
           f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{request_id}" Version="2.0" IssueInstant="{instant}" '
           f'Destination="{run.origin}/saml/sso" AssertionConsumerServiceURL="{run.acs_url}" '
           f'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
           f'<saml:Issuer>{run.sp_entity_id}</saml:Issuer></samlp:AuthnRequest>')
    return base64.b64encode(xml.encode()).decode()


def saml_outcome(html):
    """'success', 'refused' (an error Response or an error page)."""
    m = re.search(r'name="SAMLResponse"\s+value="([^"]+)"', html)
    if not m:
        return "refused"
    xml = base64.b64decode(m.group(1).replace("&#x2B;", "+").replace("&#43;", "+").replace("&#x3D;", "=").replace("&#61;", "=")
                           .replace("&#x2F;", "/").replace("&#47;", "/")).decode(errors="replace")
    return "success" if 'StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"' in xml else "refused"


def op_saml(run, node):
    with run.lock:
        if not run.sessions:
            return
        cookie = random.choice(run.sessions)
    request_id = "_" + uuid.uuid4().hex
    encoded = authn_request(run, request_id)
    r = expect(requests.post(node.url + "/saml/sso", data={"SAMLRequest": encoded, "RelayState": "crash"},
                             cookies={run.cookie_name: cookie}, headers={"Origin": "null"}, allow_redirects=False, timeout=15), 200)
    if saml_outcome(r.text) != "success":
        raise Refused(f"SAML SSO without a successful Response: {r.text[:300]}")
    with run.lock:
        run.saml.append((request_id, encoded, cookie))


def op_admin(run, node):
    h = {"Authorization": "Bearer " + run.admin_token}
    if random.random() < 0.03:
        r = expect(requests.post(node.url + "/api/admin/v1/keys/rotate", headers=h, timeout=15), 200)
        kids = [k["kid"] for k in r.json()["items"] if k.get("state") in ("current", "next")]
        with run.lock:
            run.rotations.append(kids)
        return
    n = uuid.uuid4().hex[:12]
    r = expect(requests.post(node.url + "/api/admin/v1/users", headers=h, timeout=10,
                             json={"email": f"crash-{n}@example.com", "given_name": "Crash", "family_name": n}), 201)
    with run.lock:
        run.users.append(r.json()["id"])


def worker(run, index):
    rng = random.Random(f"{run.a.seed}-{index}")
    kinds = ["signin", "grant", "grant-par", "refresh", "saml", "admin"]
    weights = [2, 3, 2, 2, 2, 2]
    while not run.stop.is_set():
        node = front(run)
        if node is None:
            time.sleep(0.05)
            continue
        kind = rng.choices(kinds, weights)[0]
        run.count(run.ops, kind)
        try:
            if kind == "signin":
                op_signin(run, node)
            elif kind == "grant":
                op_grant(run, node, False)
            elif kind == "grant-par":
                op_grant(run, node, True)
            elif kind == "refresh":
                op_refresh(run, node)
            elif kind == "saml":
                op_saml(run, node)
            else:
                op_admin(run, node)
            run.count(run.ok, kind)
        except Refused as error:
            # A 4xx answer is a refusal; during a kill a request can also meet a half-started
            # step (say a code whose node died before the exchange). Counted, shown, not a loss.
            run.count(run.refused, kind)
            if run.a.verbose:
                log(f"{kind} refused: {error}")
        except (requests.RequestException, KeyError, ValueError, json.JSONDecodeError):
            run.count(run.unknown, kind)
            time.sleep(0.02)


# --- one-time values, replayed --------------------------------------------------------------

def replay_checks(run, node, sample):
    """Replays used one-time values; returns a list of violations (descriptions)."""
    bad = []
    h = {"Origin": run.origin}
    with run.lock:
        # Not one a refresh is using right now: its refresh after the replay's revocation would
        # spend a token without successor (correct behaviour, but not the half-write we look for).
        grants = [g for g in run.grants if not g["replayed"] and not g.get("busy")]
        grants = grants[-sample:] if sample else grants
        pars = run.pars[-sample:] if sample else list(run.pars)
        assertions = run.assertions[-sample:] if sample else list(run.assertions)
        saml = run.saml[-sample:] if sample else list(run.saml)
        for g in grants:
            g["replayed"] = True
    for g in grants:
        r = requests.post(node.url + "/oauth2/token", data={"grant_type": "authorization_code", "code": g["code"],
                                                           "redirect_uri": run.redirect_uri, "code_verifier": g["verifier"]},
                          auth=(run.client_id, run.client_secret), timeout=10)
        if r.status_code == 200 or (r.status_code == 400 and r.json().get("error") != "invalid_grant"):
            bad.append(f"authorization code accepted or oddly refused on replay: {r.status_code} {r.text[:120]}")
        elif r.status_code != 400:
            raise requests.RequestException(f"code replay status {r.status_code}")
    with run.lock:
        cookie = run.sessions[0] if run.sessions else ""
    for uri in pars:
        r = requests.get(node.url + "/oauth2/authorize?" + urllib.parse.urlencode({"client_id": run.client_id, "request_uri": uri}),
                         cookies={run.cookie_name: cookie}, allow_redirects=False, timeout=10)
        if r.status_code >= 500:
            raise requests.RequestException(f"PAR replay status {r.status_code}")
        if "code=" in urllib.parse.urlsplit(r.headers.get("Location", "")).query:
            bad.append("a used PAR request_uri produced another code")
    for body in assertions:
        r = requests.post(node.url + "/login/passkey/verify", json=body, headers=h, timeout=10, allow_redirects=False)
        if r.status_code >= 500:
            raise requests.RequestException(f"assertion replay status {r.status_code}")
        if r.status_code < 400 or r.cookies.get(run.cookie_name):
            bad.append(f"a used passkey challenge signed in again: {r.status_code}")
    for request_id, encoded, cookie in saml:
        r = requests.post(node.url + "/saml/sso", data={"SAMLRequest": encoded, "RelayState": "crash"},
                          cookies={run.cookie_name: cookie}, headers={"Origin": "null"}, allow_redirects=False, timeout=15)
        if r.status_code >= 500:
            raise requests.RequestException(f"SAML replay status {r.status_code}")
        if r.status_code == 200 and saml_outcome(r.text) == "success":
            bad.append(f"SAML request {request_id} answered twice")
    return bad, len(grants) + len(pars) + len(assertions) + len(saml)


# --- the killer -----------------------------------------------------------------------------

def killer(run, schedule, pg_restart_at):
    rng = random.Random(f"{run.a.seed}-killer")
    started = time.time()
    events = sorted([(t, "kill") for t in schedule] + ([(pg_restart_at, "pg")] if pg_restart_at is not None else []))
    for at, what in events:
        while time.time() - started < at:
            if run.stop.is_set():
                return
            time.sleep(0.05)
        if what == "pg":
            log("restarting PostgreSQL (immediate shutdown: its crash recovery runs)")
            out = subprocess.run(run.a.pg_restart, shell=True, capture_output=True, text=True, timeout=120)
            run.pg_restarts += 1
            if out.returncode != 0:
                check("PostgreSQL restarts", False, out.stderr[-300:])
                continue
            t0 = time.time()
            ok = all(n.wait_ready(90) for n in run.nodes)
            run.recovery.append(time.time() - t0)
            if not ok:
                run.not_recovered += 1
            continue
        node = rng.choice(run.nodes)
        time.sleep(rng.random() * 0.2)
        log(f"SIGKILL {node.name} (pid {node.proc.pid})")
        node.kill()
        run.kills += 1
        time.sleep(rng.random() * 0.5)
        t0 = time.time()
        node.start()
        if node.wait_ready(120):
            run.recovery.append(time.time() - t0)
            try:
                bad, n = replay_checks(run, node, 3)
                run.replay_failures.extend(bad)
                run.replays_after_restart = getattr(run, "replays_after_restart", 0) + n
            except (requests.RequestException, ValueError) as error:
                log(f"replay after restart interrupted: {error}")
        else:
            run.not_recovered += 1
            log(f"{node.name} did not come back")
            node.start()
            node.wait_ready(120)


# --- setup ----------------------------------------------------------------------------------

def cli(run, *args):
    argv = [run.a.sigil, *args, "--data-dir", run.nodes[0].data_dir]
    if run.a.database_url:
        argv += ["--database-url", run.a.database_url]
    out = subprocess.run(argv, capture_output=True, text=True, env=run.env, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"sigil {args[0]} {args[1] if len(args) > 1 else ''} failed: {out.stderr.strip()[-400:]}")
    return out.stdout


def setup(run):
    run.client_id_reg = json.loads(cli(run, "app", "create-oidc", "--tenant", "default", "--name", "crash-rp",
                                       "--redirect-uri", "https://rp.example/cb", "--json"))
    run.client_id, run.client_secret = run.client_id_reg["client_id"], run.client_id_reg["client_secret"]
    run.redirect_uri = "https://rp.example/cb"
    run.sp_entity_id, run.acs_url = "https://sp.example/saml", "https://sp.example/acs"
    cli(run, "app", "create-saml", "--tenant", "default", "--entity-id", run.sp_entity_id, "--acs-url", run.acs_url, "--json")
    run.admin_token = cli(run, "admin", "token", "create", "--name", "crash").strip().splitlines()[-1]
    link = cli(run, "user", "invite", "--tenant", "default", "--email", "crash-user@example.com", "--given-name", "Crash",
               "--family-name", "Test", "--public-url", run.origin).strip().splitlines()[-1]
    token = link.rsplit("/", 1)[-1]
    node = run.nodes[0]
    h = {"Origin": run.origin}
    r = requests.post(node.url + f"/enroll/{token}/options", json={}, headers=h, timeout=10)
    r.raise_for_status()
    start = r.json()
    body = {"transaction": start["transaction"], "name": "crash", "credential": run.passkey.register(start["publicKey"])}
    r = requests.post(node.url + f"/enroll/{token}/verify", json=body, headers=h, timeout=10, allow_redirects=False)
    if r.status_code not in (200, 303) or not r.cookies.get(run.cookie_name):
        raise RuntimeError(f"passkey enrolment failed: {r.status_code} {r.text[:300]}")
    run.sessions.append(r.cookies.get(run.cookie_name))


# --- final checks ---------------------------------------------------------------------------

def final_checks(run, db):
    node = front(run)
    # Audit summaries are JSON; joins on their values are done here (a LIKE over every event is
    # quadratic in SQL).
    def summary_values(action, key):
        values = set()
        for (text,) in db.rows(f"SELECT after_summary FROM audit_events WHERE action = '{action}'"):
            try:
                values.add(json.loads(text).get(key))
            except (ValueError, AttributeError):
                pass
        return values

    lost = {}

    def lose(kind, n):
        lost[kind] = lost.get(kind, 0) + n

    # Sessions: every cookie still opens /account, and its row has its user and audit event.
    missing = [c for c in run.sessions
               if requests.get(node.url + "/account", cookies={run.cookie_name: c}, allow_redirects=False, timeout=10).status_code != 200]
    lose("sessions", len(missing))
    check(f"every committed session is still signed in ({len(run.sessions)} sessions)", not missing, f"{len(missing)} lost")

    # Users created through the admin API.
    h = {"Authorization": "Bearer " + run.admin_token}
    missing = [u for u in run.users if requests.get(node.url + f"/api/admin/v1/users/{u}", headers=h, timeout=10).status_code != 200]
    lose("users", len(missing))
    check(f"every committed user is still there ({len(run.users)} users)", not missing, f"{len(missing)} lost: {missing[:3]}")

    # Keys named by acknowledged rotations.
    kids = {r[0] for r in db.rows("SELECT kid FROM signing_keys")}
    named = {k for rot in run.rotations for k in rot}
    missing = named - kids
    lose("keys", len(missing))
    check(f"every key an acknowledged rotation returned is stored ({len(run.rotations)} rotations, {len(named)} keys)", not missing,
          f"{len(missing)} lost")
    bad = db.rows("SELECT tenant_id, algorithm, state, COUNT(*) FROM signing_keys WHERE state IN ('current', 'next') "
                  "GROUP BY tenant_id, algorithm, state HAVING COUNT(*) <> 1")
    check("exactly one current and one next key per tenant and algorithm", not bad, str(bad[:4]))
    jwks = requests.get(node.url + "/oauth2/jwks", timeout=10)
    check("JWKS answers after recovery", jwks.status_code == 200 and len(jwks.json().get("keys", [])) >= 6, str(jwks.status_code))

    # Grants: the row and its refresh token; the refresh token still introspects as active (unless
    # its code was replayed after a restart: then the grant must be revoked).
    grant_rows = {r[0]: r[1] for r in db.rows("SELECT id, COALESCE(revoked_at, 0) FROM oauth_grants")}
    refresh_rows = {r[0] for r in db.rows("SELECT token_hash FROM oauth_refresh_tokens")}
    missing_grants = [g for g in run.grants if g["grant"] not in grant_rows]
    missing_refresh = [g for g in run.grants if g["refresh"] and not g.get("uncertain") and token_hash(g["refresh"]) not in refresh_rows]
    lose("grants", len(missing_grants))
    lose("refresh tokens", len(missing_refresh))
    check(f"every committed grant is stored ({len(run.grants)} grants)", not missing_grants, f"{len(missing_grants)} lost")
    check(f"every committed refresh token (the latest of each rotation) is stored ({run.ok.get('refresh', 0)} rotations)",
          not missing_refresh, f"{len(missing_refresh)} lost")
    inactive = []
    for g in run.grants:
        if g["replayed"] or g.get("uncertain") or not g["refresh"]:
            continue
        r = requests.post(node.url + "/oauth2/introspect", data={"token": g["refresh"]}, auth=(run.client_id, run.client_secret), timeout=10)
        if r.status_code != 200 or not r.json().get("active"):
            inactive.append(g["grant"])
    lose("grants (inactive)", len(inactive))
    check("every committed grant whose code was not replayed still has an active refresh token (introspection)", not inactive,
          f"{len(inactive)} inactive")
    unrevoked = [g["grant"] for g in run.grants if g["replayed"] and grant_rows.get(g["grant"], "0") in ("0", "")]
    check("every grant whose code was replayed after a crash is revoked (reuse detection survived)", not unrevoked,
          f"{len(unrevoked)} still active")

    # SAML: the answered request's audit event and the session's participant row.
    answered = summary_values("saml.sso.responded", "in_response_to")
    missing = [rid for rid, _, _ in run.saml if rid not in answered]
    lose("saml", len(missing))
    check(f"every committed SAML response is recorded ({len(run.saml)} responses)", not missing, f"{len(missing)} lost")
    participants = {r[0] for r in db.rows(
        "SELECT s.token_hash FROM session_participants p JOIN sessions s ON s.id = p.session_id WHERE p.protocol = 'saml'")}
    missing = {c for _, _, c in run.saml if token_hash(c) not in participants}
    check("every session that got a SAML response has its participant row (for single logout)", not missing, f"{len(missing)} missing")

    # Nothing half-written.
    half = {
        "sessions without their user": "SELECT COUNT(*) FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL",
        "refresh tokens without their grant": "SELECT COUNT(*) FROM oauth_refresh_tokens t LEFT JOIN oauth_grants g ON g.id = t.grant_id "
                                              "WHERE g.id IS NULL",
        "passkeys without their user": "SELECT COUNT(*) FROM passkeys k LEFT JOIN users u ON u.id = k.user_id WHERE u.id IS NULL",
    }
    half_total = 0
    for name, sql in half.items():
        n = db.count(sql)
        half_total += n
        check(f"no {name}", n == 0, f"{n} rows")
    # Spent one-time values without what they bought (joined here: no index on grant_id).
    tokens_by_grant = {}
    for grant_id, hash_, created, used in db.rows("SELECT grant_id, token_hash, created_at, COALESCE(used_at, -1) FROM oauth_refresh_tokens"):
        tokens_by_grant.setdefault(grant_id, []).append((hash_, int(created), int(used) if int(used) >= 0 else None))
    n = sum(1 for (g,) in db.rows("SELECT grant_id FROM oauth_codes WHERE consumed_at IS NOT NULL") if g not in tokens_by_grant)
    half_total += n
    check("no spent authorization codes without the tokens they bought", n == 0, f"{n} rows")
    n = 0
    for tokens in tokens_by_grant.values():
        for hash_, _, used in tokens:
            if used is not None and not any(h != hash_ and created >= used for h, created, _ in tokens):
                n += 1
    half_total += n
    check("no spent refresh tokens without their successor", n == 0, f"{n} rows")
    # Events that name their row inside the summary. (Codes themselves are swept 60 s after
    # issue, so a grant is checked against its event, which is in the same commit.)
    def targets(action):
        return {r[0] for r in db.rows(f"SELECT DISTINCT target_id FROM audit_events WHERE action = '{action}'")}

    for name, rows_sql, action in [
        ("sessions without a session.started event", "SELECT id FROM sessions", "session.started"),
        ("users without a user.created event", "SELECT id FROM users", "user.created"),
        ("refresh tokens without an oauth.token_issued event", "SELECT grant_id FROM oauth_refresh_tokens", "oauth.token_issued"),
    ]:
        have = targets(action)
        n = sum(1 for (row,) in db.rows(rows_sql) if row not in have)
        half_total += n
        check(f"no {name}", n == 0, f"{n} rows")
    issued = summary_values("oauth.code_issued", "grant")
    n = sum(1 for (g,) in db.rows("SELECT id FROM oauth_grants WHERE user_id IS NOT NULL") if g not in issued)
    half_total += n
    check("no user grants without their oauth.code_issued event", n == 0, f"{n} rows")
    responded = summary_values("saml.sso.responded", "session")
    n = sum(1 for (sid,) in db.rows("SELECT session_id FROM session_participants WHERE protocol = 'saml'") if sid not in responded)
    half_total += n
    check("no SAML participants without a saml.sso.responded event", n == 0, f"{n} rows")
    if db.backend == "sqlite":
        integrity = db.rows("PRAGMA integrity_check")
        check("SQLite integrity_check ok", integrity == [("ok",)], str(integrity[:3]))
        fk = db.rows("PRAGMA foreign_key_check")
        check("SQLite foreign_key_check clean", not fk, str(fk[:3]))

    # One-time values: every one used, replayed now (codes last: a replay revokes its grant).
    bad, n = replay_checks(run, node, 0)
    bad += run.replay_failures
    check(f"one-time values still one-time after recovery ({n} replayed at the end, "
          f"{getattr(run, 'replays_after_restart', 0)} right after restarts)", not bad, "; ".join(bad[:5]))

    return lost, half_total, len(bad)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--database-url", default="")
    ap.add_argument("--pg-restart", default="", help="shell command that restarts PostgreSQL (once, mid-run)")
    ap.add_argument("--psql", default="psql")
    ap.add_argument("--nodes", type=int, default=0, help="default: 1 on SQLite, 2 on PostgreSQL")
    ap.add_argument("--ports", default="", help="comma-separated node ports (default: free ports)")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--work", default="")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    # SIGTERM (a CI time limit) unwinds like an error, so the nodes are stopped below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    a.sigil = os.path.abspath(a.sigil)
    random.seed(f"{a.seed}-main")
    run = Run(a)
    work = a.work or os.path.abspath(f"sigil-crash-{a.backend}")
    os.makedirs(work, exist_ok=True)
    n_nodes = a.nodes or (2 if a.backend == "postgres" else 1)
    ports = [int(p) for p in a.ports.split(",") if p] or []
    while len(ports) < n_nodes:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        ports.append(s.getsockname()[1])
        s.close()
    # One public URL for every node (what a load balancer in front of them would be): issuer,
    # WebAuthn origin and SAML destination are the same whichever node answers.
    run.origin = f"http://127.0.0.1:{ports[0]}" if n_nodes == 1 else "http://127.0.0.1:1"
    run.cookie_name = "sigil_session_default"
    run.env = dict(os.environ)
    for k in ("SIGIL_DATABASE_URL", "SIGIL_HOST", "SIGIL_PORT", "SIGIL_DATA_DIR", "SIGIL_PUBLIC_URL"):
        run.env.pop(k, None)
    run.env.setdefault("SIGIL_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    run.env["SIGIL_RATE_LIMIT_SCALE"] = "1000"
    run.env["SIGIL_LOG_LEVEL"] = "warning"
    run.nodes = [Node(f"node-{chr(97 + i)}", a.sigil, ports[i], run.origin, os.path.join(work, f"data-{chr(97 + i)}"),
                      a.database_url or None, run.env, work) for i in range(n_nodes)]
    run.passkey = SoftwarePasskey(run.origin, "127.0.0.1")
    db = DB(a.backend, os.path.join(run.nodes[0].data_dir, "sigil.sqlite"), a.database_url, a.psql)
    threads = []
    t_start = time.time()
    try:
        for n in run.nodes:
            n.start()
        ready = all(n.wait_ready(180) for n in run.nodes)
        if not check(f"{a.backend}: {n_nodes} node(s) ready", ready):
            raise SystemExit(1)
        setup(run)
        check(f"{a.backend}: setup (client, SAML SP, admin token, passkey user) done", True)
        rng = random.Random(f"{a.seed}-schedule")
        window = max(a.duration - 8, 4)
        schedule = sorted(3 + rng.random() * window for _ in range(a.kills))
        pg_at = (3 + rng.random() * window) if (a.backend == "postgres" and a.pg_restart) else None
        log(f"{a.backend}: {a.duration:.0f} s, {a.kills} kills at {[round(t, 1) for t in schedule]}"
            + (f", PostgreSQL restart at {pg_at:.1f} s" if pg_at is not None else "") + f", seed {a.seed}")
        t_workload = time.time()
        threads = [threading.Thread(target=worker, args=(run, i), daemon=True) for i in range(a.workers)]
        for t in threads:
            t.start()
        k = threading.Thread(target=killer, args=(run, schedule, pg_at), daemon=True)
        k.start()
        t_end = time.time() + a.duration
        while time.time() < t_end:
            time.sleep(0.2)
        k.join(timeout=240)
        run.stop.set()
        for t in threads:
            t.join(timeout=30)
        # Every node up again, without anyone's help.
        for n in run.nodes:
            if not n.up.is_set():
                n.wait_ready(120)
        check(f"{a.backend}: every node came back after every kill without manual steps "
              f"({run.kills} kills, {run.pg_restarts} PostgreSQL restarts)", run.not_recovered == 0 and all(n.up.is_set() for n in run.nodes),
              f"{run.not_recovered} did not recover")
        committed = sum(run.ok.values())
        check(f"{a.backend}: the workload committed operations across the kills ({committed})", committed > 0)
        t_checks = time.time()
        lost, half, replays = final_checks(run, db)
        t_done = time.time()
        total_lost = sum(lost.values())
        ops = sum(run.ops.values())
        worst = max(run.recovery) if run.recovery else 0
        print(f"crash numbers: backend={a.backend} nodes={n_nodes} seed={a.seed} duration={a.duration:.0f}s "
              f"operations={ops} committed={committed} unknown={sum(run.unknown.values())} refused={sum(run.refused.values())} "
              f"kills={run.kills} pg_restarts={run.pg_restarts} losses={total_lost} half_written={half} "
              f"one_time_violations={replays} slowest_recovery={worst:.1f}s", flush=True)
        print("  by kind: " + ", ".join(f"{k} {run.ok.get(k, 0)}/{run.ops.get(k, 0)} (unknown {run.unknown.get(k, 0)}, refused {run.refused.get(k, 0)})"
                                        for k in sorted(run.ops)), flush=True)
        print(f"  time: setup {t_workload - t_start:.0f} s, workload and recovery {t_checks - t_workload:.0f} s, "
              f"checks {t_done - t_checks:.0f} s", flush=True)
        if lost:
            print("  lost: " + ", ".join(f"{k} {v}" for k, v in lost.items()), flush=True)
    except Exception as error:  # an unexpected error is a failure, never a silent pass
        check(f"{a.backend}: the run completed", False, f"{type(error).__name__}: {error}")
        for n in run.nodes:
            path = os.path.join(work, f"{n.name}.log")
            if os.path.exists(path):
                print(f"---- last lines of {n.name}.log ----")
                print("".join(open(path, errors="replace").readlines()[-15:]))
    finally:
        run.stop.set()
        for n in run.nodes:
            n.stop()
    print(f"{PASSED} passed, {FAILED} failed", flush=True)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
