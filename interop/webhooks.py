#!/usr/bin/env python3
"""Interop: Sigil's outbound webhooks (Standard Webhooks) received and verified by the reference library from PyPI
(`standardwebhooks`), through interop/webhook_receiver.py, against a real `sigil serve`.

Run by scripts/interop-webhooks.sh; alone:

    /opt/peers-venv/bin/python interop/webhooks.py --sigil .build/debug/sigil [--postgres-url URL] [--work DIR] [--keep]
                                                   [--only sqlite|postgres]

About 65 s on SQLite, 35 s more for the two nodes.

Every server gets SIGIL_OUTBOUND_ALLOW_HOSTS=127.0.0.1 (so it may post to the loopback receivers over http),
SIGIL_WEBHOOK_POLL_SECONDS=1, SIGIL_WEBHOOK_LEASE_SECONDS=5 and SIGIL_RATE_LIMIT_SCALE=10; nothing else of the
caller's SIGIL_* environment. Each endpoint has its own receiver (its own port), so each check sees only what its
endpoint was sent.

One node on SQLite:
  endpoints    POST /webhooks → 201, whk_ id, a whsec_ secret (Standard Webhooks format, 32 bytes) shown only there:
               never in GET, the list, PATCH, the delivery log, the audit events or any message; invalid input
               (ftp URL, a private or loopback address not in SIGIL_OUTBOUND_ALLOW_HOSTS, a link-local https URL,
               no event types, "Not An Event", a 201-character description; PATCH with a bad URL or no event types;
               rotate-secret with an out-of-range overlap; an unknown delivery state) → 400/422 problem+json naming
               the field, nothing created or changed; unknown ids → 404 problem+json; no token → 401
  first event  a user created through the admin API arrives, verified by the library, shaped as documented
               (type, RFC 3339 timestamp with fraction close to the request, data.id = webhook-id = an audit event
               id, tenant, actor, outcome, target, the user's summary), at the endpoint subscribed to user.created
               and at a "*" endpoint; user.updated, user.deleted and webhook.* events reach "*" only; the subscribed
               endpoint gets nothing it did not subscribe to
  tampering    the library refuses a recorded message with a changed body, signature, id or timestamp, and the
               receiver answers such a message 400
  disabled     an endpoint created disabled gets nothing while events happen (its delivery log shows them pending),
               and everything queued arrives once it is enabled, with the webhook-ids "*" saw; deleted → 204, then
               404, gone from the list, and it gets nothing more
  retries      a receiver answering 500 twice gets the message on the third attempt (about 5 s, then about 20 s
               later), every attempt signed afresh with the same webhook-id; another answering 503 and then closing
               the connection likewise; the delivery log shows pending with last_status 500 (then no status and an
               error for the closed connection), and in the end delivered, attempts ≥ 3, last_status 2xx
  replay       POST …/replay → 200, the same webhook-id arrives again: one duplicate, still one message after dedup
  rotation     rotate-secret with overlap_seconds 3600: the next messages carry two signatures, and a receiver knowing
               only the old secret and one knowing only the new one both verify them; with overlap_seconds 0: one
               signature, the receiver with the previous secret rejects the message (and the first secret too), the
               new secret verifies it, and Sigil's retry reaches the receiver once it has the new secret
  delivery log paging through GET …/deliveries (limit, next_cursor), newest first, covering every message received
  tenants      a second tenant's token cannot see or change the first tenant's endpoints (404, 403 on the first
               tenant's path); each tenant's endpoints get only that tenant's events
  secrets      serve's stdout and stderr and the CLI output hold no whsec_ secret and no secret material (base64,
               unpadded, URL-safe, hex); the database files hold neither (the secrets are sealed)

Two nodes on one PostgreSQL database (only with --postgres-url, a fresh database; SIGIL_MASTER_KEY shared):
  node A only; the receiver holds its answer to the first delivery 20 s; once it has that request in hand, four
  more users are created and node A is SIGKILLed; node B starts and five more users are created through it. Node B
  sends the held message again after the 5 s lease (same webhook-id), and after deduplication by webhook-id each of
  the ten user.created events arrived exactly once, none missing; the delivery log on B shows all ten delivered.
  Then node A restarts beside B and ten more users are created through both: each arrives exactly once, with no
  duplicate at all (two live nodes never both send one delivery). Both nodes exit 0 on SIGTERM; no secret in their
  logs.

Prints PASS/FAIL/SKIP lines and "N passed, M failed"; exits 1 on any FAIL. On failure it prints the tails of the
servers' logs and what each receiver saw. With --work DIR, pids of started servers are appended to DIR/pids (the
wrapper's trap stops any left over).
"""
import argparse
import base64
import binascii
import glob
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
import time
import traceback
import types
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import requests  # noqa: E402
from standardwebhooks import Webhook, WebhookVerificationError  # noqa: E402

from webhook_receiver import WebhookReceiver  # noqa: E402

POLL_SECONDS = 1  # SIGIL_WEBHOOK_POLL_SECONDS for every node
LEASE_SECONDS = 5  # SIGIL_WEBHOOK_LEASE_SECONDS (its minimum): keeps the crash test short
HOLD_SECONDS = 20  # how long the receiver holds its answer while node A is killed
DELIVERY_WAIT = 15 + 3 * POLL_SECONDS  # how long an ordinary delivery may take to arrive
QUIET_WAIT = 3 * POLL_SECONDS + 1  # after a witness arrived: how long to wait before "nothing arrived" counts
# The delivery log's page parameter. Sigil's OpenAPI document (and every other admin list) calls it `cursor`.
CURSOR_PARAM = "cursor"

# Everything here talks to 127.0.0.1: no proxy from the environment.
HTTP = requests.Session()
HTTP.trust_env = False

PASSED = FAILED = 0
SECRETS = []  # every webhook secret Sigil handed out: the scans look for each
RESPONSES = []  # (label, body text) of every admin API answer that must not hold a secret
NODES = []  # every Node started, for the log tails and the clean-up
RECEIVERS = []  # every receiver, for the report on failure and the scan of message bodies
WORK = None  # the work directory
PIDS_FILE = None


# ------------------------------------------------------------------------------------------------------ reporting

def check(name, ok, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print(f"PASS {name}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL {name}  -- {str(detail)[:1500]}", flush=True)
    return bool(ok)


def skip(name, why):
    print(f"SKIP {name} -- {why}", flush=True)


def log(msg):
    print(f"  · [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def section(title):
    print(f"\n==== {title} ====", flush=True)


class SectionAbort(Exception):
    """A check the rest of a section depends on failed (it was reported): go on with the next section."""


def need(name, ok, detail=""):
    if not check(name, ok, detail):
        raise SectionAbort(name)


def run_section(title, fn, *args):
    section(title)
    try:
        return fn(*args)
    except SectionAbort as e:
        log(f"section stopped after: {e}")
    except Exception:
        check(f"{title}: ran to the end", False, traceback.format_exc())
    return None


def wait_until(fn, timeout, interval=0.2):
    """fn()'s first truthy value within timeout, else its last value (exceptions count as falsy)."""
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


# ------------------------------------------------------------------------------------------------------ time

RFC3339_FRACTION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_time(text):
    """An RFC 3339 date-time as a POSIX timestamp, or None."""
    if not isinstance(text, str) or not RFC3339.match(text):
        return None
    t = text.replace("Z", "+00:00")
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", t)
    frac = (m.group(2) or ".0")[1:7].ljust(6, "0")  # fromisoformat wants at most 6 digits
    try:
        return datetime.fromisoformat(f"{m.group(1)}.{frac}{m.group(3)}").timestamp()
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------------------ sigil

def base_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGIL_")}
    env.update({
        "SIGIL_OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
        "SIGIL_WEBHOOK_POLL_SECONDS": str(POLL_SECONDS),
        "SIGIL_WEBHOOK_LEASE_SECONDS": str(LEASE_SECONDS),
        # Many admin writes in a short time; the admin-write bucket is 100, then 2 per second.
        "SIGIL_RATE_LIMIT_SCALE": "10",
    })
    return env


class Node:
    """One `sigil serve` process; stdout and stderr go to WORK/NAME.stdout and WORK/NAME.stderr."""

    def __init__(self, binary, name, data_dir, env, database_url=None):
        self.binary, self.name, self.data, self.env, self.database_url = binary, name, data_dir, env, database_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.out = os.path.join(WORK, f"{name}.stdout")
        self.err = os.path.join(WORK, f"{name}.stderr")
        self.proc = None

    def start(self, timeout=120):
        argv = [self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", self.data,
                "--public-url", self.base]
        if self.database_url:
            argv += ["--database-url", self.database_url]
        log(f"starting {self.name} on {self.base}")
        self.proc = subprocess.Popen(argv, stdout=open(self.out, "ab"), stderr=open(self.err, "ab"), stdin=subprocess.DEVNULL,
                                     env=self.env)
        NODES.append(self)
        if PIDS_FILE:
            with open(PIDS_FILE, "a") as f:
                f.write(f"{self.proc.pid}\n")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if HTTP.get(self.base + "/readyz", timeout=2).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.2)
        log(f"{self.name} did not get ready (exit status {self.proc.poll()})")
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: no shutdown, no chance to record anything."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self):
        """SIGTERM; the exit status, or None when it had to be killed after 30 s."""
        if not self.alive():
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
            if text:
                out.append(f"---- last {min(lines, len(text))} lines of {os.path.basename(path)} ----")
                out.extend(text[-lines:])
        return "\n".join(out)


def cli(binary, env, data_dir, *args, database_url=None):
    """Runs the sigil CLI; its output goes to WORK/cli.log as well (the secrets scan reads it)."""
    argv = [binary, *args, "--data-dir", data_dir] + (["--database-url", database_url] if database_url else [])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    with open(os.path.join(WORK, "cli.log"), "a") as f:
        f.write(f"$ sigil {' '.join(args)}\n--- rc {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}\n")
    return r


def admin_token(binary, env, data_dir, *extra, database_url=None):
    r = cli(binary, env, data_dir, "admin", "token", "create", *extra, database_url=database_url)
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    return (lines[-1].strip() if r.returncode == 0 and lines else None), r


class Api:
    """The admin API of one tenant (prefix "" for the default tenant's paths, "/t/NAME" for another's)."""

    def __init__(self, base, token, prefix=""):
        self.root = f"{base}{prefix}/api/admin/v1"
        self.token = token

    def call(self, method, path, body=None, params=None, token=None, secret_ok=False):
        """(response, parsed JSON or None). Every answer but the two that carry a secret (secret_ok) joins the
        secrets scan. A 429 is waited out (Retry-After) up to three times."""
        headers = {"Accept": "application/json"}
        if token is not False:
            headers["Authorization"] = f"Bearer {token or self.token}"
        kwargs = {"headers": headers, "params": params, "timeout": 30}
        if body is not None:
            kwargs["json"] = body
        for _ in range(4):
            resp = HTTP.request(method, self.root + path, **kwargs)
            if resp.status_code != 429:
                break
            time.sleep(min(5.0, float(resp.headers.get("Retry-After") or 1)))
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        if not secret_ok:
            RESPONSES.append((f"{method} {path} → {resp.status_code}", resp.text))
        return resp, doc


def is_problem(resp, doc, *statuses):
    return (resp.status_code in statuses and resp.headers.get("Content-Type", "").startswith("application/problem+json")
            and isinstance(doc, dict))


def field_errors(doc):
    errs = doc.get("errors") if isinstance(doc, dict) else None
    return {e.get("field") for e in errs if isinstance(e, dict)} if isinstance(errs, list) else set()


def short(resp, doc=None):
    return f"HTTP {resp.status_code} {resp.headers.get('Content-Type', '')}: {resp.text[:500]}"


# ------------------------------------------------------------------------------------------------------ shapes

ENDPOINT_ID = re.compile(r"^whk_[0-9a-z]{26}$")
EVENT_ID = re.compile(r"^evt_[0-9a-z]{26}$")
SIGNATURE = re.compile(r"^v1,[A-Za-z0-9+/]+={0,2}$")


def secret_material(secret):
    """The ways a secret could show up in a log or a file: ({form: text} for whole, base64, unpadded, URL-safe
    and hex, the raw bytes)."""
    b64 = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    raw = base64.b64decode(b64 + "==")
    forms = {"whole": secret, "base64": b64, "base64 unpadded": b64.rstrip("="),
             "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="), "hex": binascii.hexlify(raw).decode()}
    return forms, raw


def secret_format_ok(secret):
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        return False
    try:
        raw = base64.b64decode(secret[len("whsec_"):], validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) >= 24  # Standard Webhooks: 24 to 64 bytes; Sigil makes 32


def endpoint_problems(ep, url=None, types=None, enabled=None, description=None):
    """What is wrong with an Endpoint object (an empty list when nothing)."""
    if not isinstance(ep, dict):
        return [f"not an object: {ep!r}"[:200]]
    p = []
    if not ENDPOINT_ID.match(str(ep.get("id"))):
        p.append(f"id {ep.get('id')!r} is not whk_ and 26 characters")
    for k in ("created_at", "updated_at"):
        if parse_time(ep.get(k)) is None:
            p.append(f"{k} {ep.get(k)!r} is not RFC 3339")
    if ep.get("previous_secret_expires_at") is not None and parse_time(ep["previous_secret_expires_at"]) is None:
        p.append("previous_secret_expires_at is not RFC 3339")
    secretish = [k for k in ep if "secret" in k.lower() and k != "previous_secret_expires_at"]
    if secretish:
        p.append(f"secret-like fields {secretish}")
    if "whsec_" in json.dumps(ep):
        p.append("holds whsec_")
    if url is not None and ep.get("url") != url:
        p.append(f"url {ep.get('url')!r} ≠ {url!r}")
    if types is not None and sorted(ep.get("event_types") or []) != sorted(types):
        p.append(f"event_types {ep.get('event_types')!r} ≠ {sorted(types)!r}")
    if enabled is not None and ep.get("enabled") is not enabled:
        p.append(f"enabled {ep.get('enabled')!r} ≠ {enabled!r}")
    if description is not None and ep.get("description") != description:
        p.append(f"description {ep.get('description')!r} ≠ {description!r}")
    return p


DELIVERY_REQUIRED = ("webhook_id", "event_type", "state", "attempts", "next_attempt_at", "created_at")


def delivery_problems(d):
    if not isinstance(d, dict):
        return [f"not an object: {d!r}"[:200]]
    p = [f"no {k}" for k in DELIVERY_REQUIRED if k not in d]
    if d.get("state") not in ("pending", "delivered", "failed"):
        p.append(f"state {d.get('state')!r}")
    if not isinstance(d.get("attempts"), int):
        p.append(f"attempts {d.get('attempts')!r}")
    for k in ("next_attempt_at", "created_at", "last_attempt_at", "delivered_at"):
        if d.get(k) is not None and parse_time(d[k]) is None:
            p.append(f"{k} {d.get(k)!r} is not RFC 3339")
    if d.get("state") == "delivered" and d.get("delivered_at") is None:
        p.append("delivered without delivered_at")
    return p


def message_problems(a, type_, target=None, t_from=None, t_to=None):
    """What is wrong with a received message (an Arrival) against the documented shape."""
    p = []
    if not a.verified:
        p.append(f"not verified by the library: {a.error}")
    if not (a.headers.get("content-type") or "").lower().startswith("application/json"):
        p.append(f"content-type {a.headers.get('content-type')!r}")
    sigs = a.signatures
    if not sigs or not all(SIGNATURE.match(s) and len(base64.b64decode(s[3:])) == 32 for s in sigs):
        p.append(f"webhook-signature {a.headers.get('webhook-signature')!r} is not a list of v1,<base64 HMAC-SHA256>")
    ts = a.headers.get("webhook-timestamp") or ""
    if not ts.isdigit() or not (a.received_at - 10 <= int(ts) <= a.received_at + 2):
        p.append(f"webhook-timestamp {ts!r} is not the sending time (received {int(a.received_at)})")
    body = a.payload
    if not isinstance(body, dict):
        return p + ["body is not a JSON object"]
    if set(body) != {"type", "timestamp", "data"}:
        p.append(f"body keys {sorted(body)} ≠ [data, timestamp, type]")
    if body.get("type") != type_:
        p.append(f"type {body.get('type')!r} ≠ {type_!r}")
    stamp = body.get("timestamp")
    when = parse_time(stamp)
    if not isinstance(stamp, str) or not RFC3339_FRACTION.match(stamp) or when is None:
        p.append(f"timestamp {stamp!r} is not RFC 3339 with a fraction")
    elif t_from is not None and not (t_from - 2 <= when <= t_to + 2):
        p.append(f"timestamp {stamp} is not within 2 s of the request ({t_from:.3f}..{t_to:.3f})")
    data = body.get("data")
    if not isinstance(data, dict):
        return p + ["data is not an object"]
    allowed = {"id", "tenant_id", "actor", "outcome", "target", "before", "after", "reason"}
    if set(data) - allowed:
        p.append(f"unexpected data keys {sorted(set(data) - allowed)}")
    if data.get("id") != a.msg_id:
        p.append(f"data.id {data.get('id')!r} ≠ webhook-id {a.msg_id!r}")
    if not EVENT_ID.match(str(a.msg_id)):
        p.append(f"webhook-id {a.msg_id!r} is not an evt_ id")
    if not isinstance(data.get("tenant_id"), str) or not data.get("tenant_id"):
        p.append(f"tenant_id {data.get('tenant_id')!r}")
    if not isinstance(data.get("actor"), str) or not data.get("actor"):
        p.append(f"actor {data.get('actor')!r}")
    if data.get("outcome") not in ("success", "failure"):
        p.append(f"outcome {data.get('outcome')!r}")
    for k in ("before", "after"):
        if k in data and data[k] is not None and not isinstance(data[k], dict):
            p.append(f"{k} is not an object")
    if target is not None:
        t = data.get("target")
        if not isinstance(t, dict) or t.get("type") != target[0] or t.get("id") != target[1]:
            p.append(f"target {t!r} ≠ {{type: {target[0]}, id: {target[1]}}}")
    return p


def about(uid, type_="user.created"):
    """A predicate on arrivals: a message of this type about this target."""
    return lambda a: a.type == type_ and a.target_id == uid


def receiver(name, secrets_=()):
    r = WebhookReceiver(secrets_, name=name).start()
    RECEIVERS.append(r)
    return r


def forward(arrival, target):
    """Posts a recorded message (its exact body and webhook headers) to another receiver: (status, its arrival)."""
    headers = {k: arrival.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")
               if k in arrival.headers}
    resp = HTTP.post(target.url, data=arrival.body, headers=headers, timeout=10)
    return resp.status_code, target.arrivals[-1] if target.arrivals else None


# ------------------------------------------------------------------------------------------------------ the suite

class Ctx:
    """What the SQLite sections share."""

    def __init__(self, binary, node, api, env):
        self.binary, self.node, self.api, self.env = binary, node, api, env
        self.users = {}  # tag → (id, email)
        self.tenant_id = None

    def create_user(self, tag, api=None):
        """A user through the admin API: (id, email, time before, time after). A failure stops the section."""
        api = api or self.api
        email = f"wh.{tag}.{secrets.token_hex(3)}@example.com"
        t0 = time.time()
        resp, doc = api.call("POST", "/users", {"email": email, "given_name": "Web", "family_name": "Hook"})
        t1 = time.time()
        uid = doc.get("id") if isinstance(doc, dict) else None
        if resp.status_code != 201 or not uid:
            need(f"POST /users ({tag}) → 201 with an id", False, short(resp))
        return uid, email, t0, t1

    def create_endpoint(self, label, url, types, enabled=None, description=None, api=None):
        api = api or self.api
        body = {"url": url, "event_types": types, "description": description or f"interop {label}"}
        if enabled is not None:
            body["enabled"] = enabled
        resp, doc = api.call("POST", "/webhooks", body, secret_ok=True)
        ep = doc.get("endpoint") if isinstance(doc, dict) else None
        secret = doc.get("secret") if isinstance(doc, dict) else None
        if isinstance(secret, str):
            SECRETS.append(secret)
        need(f"{label}: POST /webhooks → 201 with the endpoint and its secret", resp.status_code == 201 and isinstance(ep, dict)
             and isinstance(secret, str), short(resp))
        return ep, secret, resp


def wait_accepted(r, pred, timeout=DELIVERY_WAIT, count=1):
    """The accepted arrivals matching pred, once there are `count` of them (or whatever there is at the timeout)."""
    r.wait(lambda x: len(x.accepted(pred)) >= count, timeout)
    return r.accepted(pred)


def wait_any(r, pred, timeout=DELIVERY_WAIT, count=1):
    """Arrivals matching pred, whatever their verdict, once `count` of them have been answered."""
    r.wait(lambda x: len([a for a in x.snapshot() if pred(a) and a.answered_at]) >= count, timeout)
    return [a for a in r.snapshot() if pred(a) and a.answered_at]


def deliveries(api, endpoint_id, state=None, limit=50):
    params = {"limit": limit}
    if state:
        params["state"] = state
    resp, doc = api.call("GET", f"/webhooks/{endpoint_id}/deliveries", params=params)
    items = doc.get("items") if isinstance(doc, dict) and isinstance(doc.get("items"), list) else None
    return resp, doc, items


def delivery_of(api, endpoint_id, msg_id, state=None):
    _, _, items = deliveries(api, endpoint_id, state)
    return next((d for d in items or [] if isinstance(d, dict) and d.get("webhook_id") == msg_id), None)


# --- endpoints ---------------------------------------------------------------------------------------------------

def s_endpoints(ctx):
    api = ctx.api
    resp, doc = api.call("GET", "/webhooks", token=False)
    check("GET /webhooks without a token → 401 problem+json", is_problem(resp, doc, 401), short(resp))
    resp, doc = api.call("GET", "/webhooks")
    check("GET /webhooks on a new tenant → 200 {items: []}", resp.status_code == 200 and isinstance(doc, dict) and doc.get("items") == [],
          short(resp))

    ctx.r1 = receiver("subscribed")  # user.created and idv.decided
    t0 = time.time()
    ep, secret, resp = ctx.create_endpoint("subscribed endpoint", ctx.r1.url, ["user.created", "idv.decided"], description="user.created and idv.decided")
    ctx.e1, ctx.s1 = ep["id"], secret
    ctx.r1.set_secrets([secret])
    check("POST /webhooks answers application/json", resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers.get("Content-Type"))
    check("the secret is whsec_ and base64 of at least 24 bytes (Standard Webhooks format; the library accepts it)",
          secret_format_ok(secret) and Webhook(secret) is not None, secret[:8] + "…")
    check("the created endpoint: whk_ id, url, event types, description, enabled by default, RFC 3339 times, no secret",
          not endpoint_problems(ep, ctx.r1.url, ["user.created", "idv.decided"], True, "user.created and idv.decided"),
          endpoint_problems(ep, ctx.r1.url, ["user.created", "idv.decided"], True, "user.created and idv.decided"))
    created = parse_time(ep.get("created_at"))
    check("created_at is the time of the request", created is not None and t0 - 2 <= created <= time.time() + 2, ep.get("created_at"))
    check("a new endpoint has no previous secret", ep.get("previous_secret_expires_at") is None, ep.get("previous_secret_expires_at"))
    forms, _ = secret_material(secret)
    check("the endpoint object in the 201 does not hold the secret",
          not any(v in json.dumps(ep) for v in forms.values()), "secret material in the endpoint object")

    ctx.r_all = receiver("everything")
    ep_all, s_all, _ = ctx.create_endpoint("\"*\" endpoint", ctx.r_all.url, ["*"])
    ctx.e_all = ep_all["id"]
    ctx.r_all.set_secrets([s_all])
    check("an endpoint for [\"*\"]", not endpoint_problems(ep_all, ctx.r_all.url, ["*"], True), endpoint_problems(ep_all, ctx.r_all.url, ["*"], True))
    check("two endpoints have different secrets", s_all != secret)

    resp, doc = api.call("GET", f"/webhooks/{ctx.e1}")
    check("GET /webhooks/{id} → 200, the endpoint, no secret", resp.status_code == 200
          and not endpoint_problems(doc, ctx.r1.url, ["user.created", "idv.decided"], True) and doc.get("id") == ctx.e1,
          short(resp))
    resp, doc = api.call("GET", "/webhooks")
    items = doc.get("items") if isinstance(doc, dict) else None
    ids = [e.get("id") for e in items or [] if isinstance(e, dict)]
    check("GET /webhooks lists both endpoints, none with a secret", resp.status_code == 200 and sorted(ids) == sorted([ctx.e1, ctx.e_all])
          and all(not endpoint_problems(e) for e in items), short(resp))
    check("neither GET answer holds whsec_ or a secret's material",
          not any(v in text for _, text in RESPONSES[-2:] for s in (secret, s_all) for v in secret_material(s)[0].values())
          and not any("whsec_" in text for _, text in RESPONSES[-2:]), "secret in a GET answer")

    # ---- invalid input: refused with the field named, nothing created
    bad = [
        ("url ftp://x", {"url": "ftp://x", "event_types": ["user.created"]}, "url"),
        ("url http://10.0.0.1/ (a private address not in SIGIL_OUTBOUND_ALLOW_HOSTS)", {"url": "http://10.0.0.1/hook", "event_types": ["user.created"]}, "url"),
        ("url http://localhost/ (loopback, not in SIGIL_OUTBOUND_ALLOW_HOSTS)", {"url": f"http://localhost:{ctx.r1.port}/hook", "event_types": ["user.created"]}, "url"),
        ("url https://169.254.169.254/ (link-local: cloud metadata)", {"url": "https://169.254.169.254/latest", "event_types": ["user.created"]}, "url"),
        ("url that is not a URL", {"url": "not a url", "event_types": ["user.created"]}, "url"),
        ("event_types []", {"url": ctx.r1.url, "event_types": []}, "event_types"),
        ("event_types [\"Not An Event\"]", {"url": ctx.r1.url, "event_types": ["Not An Event"]}, "event_types"),
        ("a description of 201 characters", {"url": ctx.r1.url, "event_types": ["user.created"], "description": "x" * 201}, "description"),
    ]
    for label, body, field in bad:
        resp, doc = api.call("POST", "/webhooks", body, secret_ok=True)
        check(f"POST /webhooks with {label} → 400/422 problem+json, errors name {field}",
              is_problem(resp, doc, 400, 422) and field in field_errors(doc), short(resp))
        if isinstance(doc, dict) and isinstance(doc.get("secret"), str):
            SECRETS.append(doc["secret"])
    resp, doc = api.call("GET", "/webhooks")
    check("the refused requests created nothing", resp.status_code == 200 and len((doc or {}).get("items") or []) == 2, short(resp))

    for label, body, field in [("url ftp://x", {"url": "ftp://x"}, "url"), ("event_types []", {"event_types": []}, "event_types"),
                               ("url http://10.0.0.1/", {"url": "http://10.0.0.1/hook"}, "url")]:
        resp, doc = api.call("PATCH", f"/webhooks/{ctx.e1}", body)
        check(f"PATCH with {label} → 400/422 problem+json, errors name {field}", is_problem(resp, doc, 400, 422) and field in field_errors(doc),
              short(resp))
    resp, doc = api.call("GET", f"/webhooks/{ctx.e1}")
    check("the refused PATCHes changed nothing", resp.status_code == 200
          and not endpoint_problems(doc, ctx.r1.url, ["user.created", "idv.decided"], True, "user.created and idv.decided"), short(resp))
    for overlap in (-1, 604801):
        resp, doc = api.call("POST", f"/webhooks/{ctx.e1}/rotate-secret", {"overlap_seconds": overlap}, secret_ok=True)
        if isinstance(doc, dict) and isinstance(doc.get("secret"), str):
            SECRETS.append(doc["secret"])
        check(f"rotate-secret with overlap_seconds {overlap} → 400/422 problem+json", is_problem(resp, doc, 400, 422), short(resp))
    resp, doc = api.call("GET", f"/webhooks/{ctx.e1}/deliveries", params={"state": "bogus"})
    check("GET …/deliveries?state=bogus → 400 problem+json", is_problem(resp, doc, 400), short(resp))

    # ---- unknown ids
    unknown, unknown_evt = "whk_" + "0" * 26, "evt_" + "0" * 26
    for method, path, body in [("GET", f"/webhooks/{unknown}", None), ("PATCH", f"/webhooks/{unknown}", {"enabled": False}),
                               ("DELETE", f"/webhooks/{unknown}", None),
                               ("POST", f"/webhooks/{unknown}/rotate-secret", {"overlap_seconds": 0}),
                               ("GET", f"/webhooks/{unknown}/deliveries", None),
                               ("POST", f"/webhooks/{unknown}/deliveries/{unknown_evt}/replay", None),
                               ("POST", f"/webhooks/{ctx.e1}/deliveries/{unknown_evt}/replay", None)]:
        resp, doc = api.call(method, path, body, secret_ok=("rotate" in path))
        shown = path.replace(unknown, "whk_<unknown>").replace(unknown_evt, "evt_<unknown>").replace(ctx.e1, "whk_<endpoint>")
        check(f"{method} {shown} → 404 problem+json",
              is_problem(resp, doc, 404), short(resp))


# --- the first events --------------------------------------------------------------------------------------------

def s_first_event(ctx):
    uid, email, t0, t1 = ctx.create_user("first")
    got = wait_accepted(ctx.r1, about(uid))
    need("user.created arrives at the endpoint subscribed to it, verified by standardwebhooks", got, ctx.r1.describe())
    a = ctx.first = got[0]
    check("the message has the documented shape (headers, type, timestamp, data.id = webhook-id, target the user)",
          not message_problems(a, "user.created", ("user", uid), t0, t1), message_problems(a, "user.created", ("user", uid), t0, t1))
    ctx.tenant_id = a.data.get("tenant_id")
    after = a.data.get("after") or {}
    check("data.after is the user's summary (its email)", isinstance(after, dict) and str(after.get("email", "")).lower() == email.lower(), after)
    check("data.actor is the admin token that made the change", str(a.data.get("actor", "")).startswith("admin_token:"), a.data.get("actor"))
    check("one signature while the endpoint has one secret", len(a.signatures) == 1, a.headers.get("webhook-signature"))
    found = None
    cursor = None
    for _ in range(20):
        params = {"limit": 200}
        if cursor:
            params[CURSOR_PARAM] = cursor
        resp, doc = ctx.api.call("GET", "/audit-events", params=params)
        if resp.status_code != 200 or not isinstance(doc, dict):
            break
        found = next((e for e in doc.get("items") or [] if isinstance(e, dict) and e.get("id") == a.msg_id), None)
        cursor = doc.get("next_cursor")
        if found or not cursor:
            break
    check("the webhook-id is the audit event's id (GET /audit-events has it, action user.created)",
          found is not None and found.get("action") == "user.created", found)

    got_all = wait_accepted(ctx.r_all, about(uid))
    check("the \"*\" endpoint gets the same event with the same webhook-id", got_all and got_all[0].msg_id == a.msg_id
          and not message_problems(got_all[0], "user.created", ("user", uid), t0, t1), ctx.r_all.describe())

    # user.updated: "*" only
    resp, _ = ctx.api.call("PATCH", f"/users/{uid}", {"given_name": "Patched"})
    need("PATCH /users/{id} → 200", resp.status_code == 200, short(resp))
    upd = wait_accepted(ctx.r_all, about(uid, "user.updated"))
    check("user.updated reaches \"*\", with before and after", upd and (upd[0].data.get("before") or {}).get("given_name") == "Web"
          and (upd[0].data.get("after") or {}).get("given_name") == "Patched" and not message_problems(upd[0], "user.updated", ("user", uid)),
          ctx.r_all.describe())
    # webhook.endpoint_updated: "*" only
    resp, doc = ctx.api.call("PATCH", f"/webhooks/{ctx.e1}", {"description": "patched description"})
    check("PATCH /webhooks/{id} {description} → 200, the endpoint with the new description, updated_at moved on",
          resp.status_code == 200 and not endpoint_problems(doc, ctx.r1.url, ["user.created", "idv.decided"], True, "patched description")
          and (parse_time(doc.get("updated_at")) or 0) >= (parse_time(doc.get("created_at")) or float("inf")), short(resp))
    wh = wait_accepted(ctx.r_all, about(ctx.e1, "webhook.endpoint_updated"))
    check("webhook.endpoint_updated reaches \"*\" (target the endpoint, no secret in it)",
          wh and not message_problems(wh[0], "webhook.endpoint_updated", ("webhook_endpoint", ctx.e1)), ctx.r_all.describe())
    # user.deleted: "*" only
    resp, _ = ctx.api.call("DELETE", f"/users/{uid}")
    need("DELETE /users/{id} → 200/204", resp.status_code in (200, 204), short(resp))
    dele = wait_accepted(ctx.r_all, about(uid, "user.deleted"))
    check("user.deleted reaches \"*\"", dele and not message_problems(dele[0], "user.deleted", ("user", uid)), ctx.r_all.describe())
    time.sleep(QUIET_WAIT)
    types = sorted({x.type for x in ctx.r1.snapshot()})
    check("the user.created-only endpoint got nothing else (no user.updated, user.deleted, webhook.*)", types == ["user.created"], types)
    check("every message so far verified (nothing rejected at either receiver)", not ctx.r1.rejected() and not ctx.r_all.rejected(),
          ctx.r1.describe() + "\n" + ctx.r_all.describe())
    check("each message arrived once (no duplicates without a failure)", not ctx.r1.duplicates() and not ctx.r_all.duplicates(),
          (ctx.r1.duplicates(), ctx.r_all.duplicates()))


# --- tampering ----------------------------------------------------------------------------------------------------

def s_tamper(ctx):
    a = getattr(ctx, "first", None)
    need("a recorded message to tamper with", a is not None, "the first event did not arrive")
    hook = Webhook(ctx.s1)

    def refuses(body, headers):
        try:
            hook.verify(body, headers)
            return False
        except WebhookVerificationError:
            return True

    hdr = {k: a.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    check("sanity: the recorded message verifies again with the endpoint's secret", not refuses(a.body, hdr))
    i = a.body.index(b'"type"')
    check("the library refuses the body with one byte changed", refuses(a.body[:i + 2] + b"X" + a.body[i + 3:], hdr))
    check("the library refuses the body with a space added", refuses(a.body + b" ", hdr))
    sig = hdr["webhook-signature"]
    flipped = sig[:5] + ("A" if sig[5] != "A" else "B") + sig[6:]
    check("the library refuses a changed signature", refuses(a.body, dict(hdr, **{"webhook-signature": flipped})))
    check("the library refuses another webhook-id", refuses(a.body, dict(hdr, **{"webhook-id": "evt_" + "1" * 26})))
    check("the library refuses another webhook-timestamp", refuses(a.body, dict(hdr, **{"webhook-timestamp": str(int(hdr["webhook-timestamp"]) + 1)})))
    before = len(ctx.r1.unique())
    tampered = types.SimpleNamespace(headers=dict(hdr, **{"content-type": "application/json"}), body=a.body.replace(b"success", b"failure"))
    status, arr = forward(tampered, ctx.r1)
    check("the receiver answers a tampered message 400 and records it as rejected", status == 400 and arr.verdict == "rejected", (status, arr and arr.describe()))
    check("the rejected message did not count as received", len(ctx.r1.unique()) == before)


# --- disabled, enabled, deleted ---------------------------------------------------------------------------------

def s_disabled(ctx):
    ctx.r_dis = receiver("disabled")
    ep, secret, _ = ctx.create_endpoint("disabled endpoint", ctx.r_dis.url, ["user.created"], enabled=False)
    ctx.e_dis = ep["id"]
    ctx.r_dis.set_secrets([secret])
    check("an endpoint created with enabled false says so", ep.get("enabled") is False, ep)
    made = wait_accepted(ctx.r_all, about(ctx.e_dis, "webhook.endpoint_created"))
    check("webhook.endpoint_created reaches \"*\" (target the new endpoint; the body holds no secret)",
          made and not message_problems(made[0], "webhook.endpoint_created", ("webhook_endpoint", ctx.e_dis))
          and secret_material(secret)[0]["base64"] not in made[0].body.decode("utf-8", "replace") and b"whsec_" not in made[0].body,
          ctx.r_all.describe())
    users = [ctx.create_user(f"while-disabled-{i}") for i in (1, 2)]
    seen = [wait_accepted(ctx.r_all, about(u[0])) for u in users]
    need("the \"*\" endpoint got both user.created events (the witness)", all(seen), ctx.r_all.describe())
    time.sleep(QUIET_WAIT)
    check("the disabled endpoint got nothing", not ctx.r_dis.snapshot(), ctx.r_dis.describe())
    ids = [s[0].msg_id for s in seen]
    resp, doc, items = deliveries(ctx.api, ctx.e_dis, "pending")
    pending = {d.get("webhook_id") for d in items or [] if isinstance(d, dict)}
    check("its delivery log (state=pending) holds both events", resp.status_code == 200 and set(ids) <= pending, short(resp))
    check("…not attempted while disabled (attempts 0)", all(d.get("attempts") == 0 for d in items or [] if d.get("webhook_id") in ids),
          [d for d in items or [] if d.get("webhook_id") in ids])
    resp, doc = ctx.api.call("PATCH", f"/webhooks/{ctx.e_dis}", {"enabled": True})
    check("PATCH {enabled: true} → 200, enabled", resp.status_code == 200 and isinstance(doc, dict) and doc.get("enabled") is True, short(resp))
    got = [wait_accepted(ctx.r_dis, about(u[0])) for u in users]
    check("once enabled, both queued events arrive, verified, with the webhook-ids \"*\" got (nothing lost)",
          all(got) and [g[0].msg_id for g in got] == ids and all(not message_problems(g[0], "user.created", ("user", u[0])) for g, u in zip(got, users)),
          ctx.r_dis.describe())
    wait_until(lambda: all((delivery_of(ctx.api, ctx.e_dis, i) or {}).get("state") == "delivered" for i in ids), 10)
    resp, doc, items = deliveries(ctx.api, ctx.e_dis, "delivered")
    check("the delivery log shows both delivered (one attempt, last_status 2xx), each well formed",
          resp.status_code == 200 and {d.get("webhook_id") for d in items or []} >= set(ids)
          and all(d.get("attempts") == 1 and 200 <= (d.get("last_status") or 0) < 300 and not delivery_problems(d)
                  for d in items or [] if d.get("webhook_id") in ids),
          short(resp))

    # delete
    resp, _ = ctx.api.call("DELETE", f"/webhooks/{ctx.e_dis}")
    check("DELETE /webhooks/{id} → 204", resp.status_code == 204, short(resp))
    resp, doc = ctx.api.call("GET", f"/webhooks/{ctx.e_dis}")
    check("GET the deleted endpoint → 404 problem+json", is_problem(resp, doc, 404), short(resp))
    resp, doc = ctx.api.call("DELETE", f"/webhooks/{ctx.e_dis}")
    check("DELETE it again → 404 problem+json", is_problem(resp, doc, 404), short(resp))
    resp, doc = ctx.api.call("GET", "/webhooks")
    check("the list no longer has it", resp.status_code == 200 and ctx.e_dis not in [e.get("id") for e in (doc or {}).get("items") or []], short(resp))
    gone = wait_accepted(ctx.r_all, about(ctx.e_dis, "webhook.endpoint_deleted"))
    check("webhook.endpoint_deleted reaches \"*\"", bool(gone), ctx.r_all.describe())
    ctx.dis_count = len(ctx.r_dis.snapshot())  # s_final checks that it stays so


# --- retries -----------------------------------------------------------------------------------------------------

def s_retries(ctx):
    r500 = receiver("500-twice")
    r503 = receiver("503-then-close")
    ep_a, s_a, _ = ctx.create_endpoint("retry endpoint (500, 500)", r500.url, ["user.created"])
    ep_b, s_b, _ = ctx.create_endpoint("retry endpoint (503, close)", r503.url, ["user.created"])
    r500.set_secrets([s_a])
    r503.set_secrets([s_b])
    r500.fail("500", 2)
    r503.fail("503", 1)
    r503.fail("close", 1)
    uid, _, t0, t1 = ctx.create_user("retried")
    mine = about(uid)

    # after the first failed attempt: pending, 500 recorded, the next attempt about 5 s away
    first = wait_any(r500, mine, DELIVERY_WAIT)
    need("the first attempt reaches the failing receiver", first, r500.describe())
    d = wait_until(lambda: (lambda x: x if x and x.get("attempts", 0) >= 1 else None)(delivery_of(ctx.api, ep_a["id"], first[0].msg_id)), 5)
    nxt = parse_time((d or {}).get("next_attempt_at"))
    check("after a 500: the delivery log shows pending, attempts 1, last_status 500, last_attempt_at, the next attempt 2–8 s away",
          d and d.get("state") == "pending" and d.get("attempts") == 1 and d.get("last_status") == 500 and d.get("last_attempt_at")
          and nxt is not None and time.time() + 1 <= nxt <= time.time() + 8 and not delivery_problems(d), d)
    two = wait_any(r503, mine, 15, count=2)
    need("the 503 and the closed connection were both tried", len(two) >= 2, r503.describe())
    d = wait_until(lambda: (lambda x: x if x and x.get("attempts", 0) >= 2 else None)(delivery_of(ctx.api, ep_b["id"], two[0].msg_id)), 5)
    check("after a connection closed without an answer: pending, attempts 2, no last_status, a last_error",
          d and d.get("state") == "pending" and d.get("attempts") == 2 and d.get("last_status") is None and d.get("last_error"), d)

    ok_a = wait_accepted(r500, mine, 60)
    ok_b = wait_accepted(r503, mine, 60)
    arr_a = [a for a in r500.snapshot() if a.msg_id == (ok_a[0].msg_id if ok_a else None)]
    arr_b = [a for a in r503.snapshot() if a.msg_id == (ok_b[0].msg_id if ok_b else None)]
    check("500, 500: the message arrives on the third attempt, verified", ok_a and [a.verdict for a in arr_a] == ["failed:500", "failed:500", "accepted"],
          r500.describe())
    check("503, closed connection: the message arrives on the third attempt, verified",
          ok_b and [a.verdict for a in arr_b] == ["failed:503", "failed:close", "accepted"], r503.describe())
    for label, rcv, arr in (("500", r500, arr_a), ("503/close", r503, arr_b)):
        if len(arr) < 3:
            continue
        check(f"{label}: the receiver saw three requests, all with the same webhook-id and body",
              len(rcv.snapshot()) == 3 and len({a.msg_id for a in rcv.snapshot()}) == 1 and len({a.body for a in arr}) == 1,
              rcv.describe())
        check(f"{label}: every attempt is signed afresh (the library verifies each; webhook-timestamp is its sending time)",
              all(a.verified and not message_problems(a, "user.created", ("user", uid), t0, t1) for a in arr),
              [message_problems(a, "user.created", ("user", uid), t0, t1) for a in arr])
        # 5 s and 20 s ±20 %, plus up to one poll interval before the due delivery is picked up, plus slack for a
        # loaded machine; never earlier than 4 s and 16 s (a little less for clock granularity).
        g1, g2 = arr[1].received_at - arr[0].received_at, arr[2].received_at - arr[1].received_at
        hi1, hi2 = 6 + POLL_SECONDS + 2, 24 + POLL_SECONDS + 2
        check(f"{label}: backoff: the first retry about 5 s later (4–{hi1} s), the second about 20 s after it (16–{hi2} s)",
              3.7 <= g1 <= hi1 and 15.5 <= g2 <= hi2, f"gaps {g1:.1f} s, {g2:.1f} s")
    if ok_a:
        x = ok_a[0].msg_id
        wait_until(lambda: (delivery_of(ctx.api, ep_a["id"], x) or {}).get("state") == "delivered", 10)
        d = delivery_of(ctx.api, ep_a["id"], x, "delivered")
        check("the delivery log (state=delivered): attempts ≥ 3, last_status 2xx, delivered_at, the event type",
              d and d.get("attempts", 0) >= 3 and 200 <= (d.get("last_status") or 0) < 300 and d.get("delivered_at")
              and d.get("event_type") == "user.created" and not delivery_problems(d), d)
        check("…and it is in neither state=pending nor state=failed",
              delivery_of(ctx.api, ep_a["id"], x, "pending") is None and delivery_of(ctx.api, ep_a["id"], x, "failed") is None)
    if ok_b:
        d = wait_until(lambda: (lambda v: v if v and v.get("state") == "delivered" else None)(delivery_of(ctx.api, ep_b["id"], ok_b[0].msg_id)), 10)
        check("503/close: delivered in the log, attempts ≥ 3, last_status 2xx", d and d.get("attempts", 0) >= 3
              and 200 <= (d.get("last_status") or 0) < 300, d)
    check("after dedup, the retried message counts once at each receiver", len(r500.unique(mine)) == 1 and len(r503.unique(mine)) == 1
          and not r500.duplicates() and not r503.duplicates(), (r500.describe(), r503.describe()))
    for ep in (ep_a, ep_b):
        ctx.api.call("DELETE", f"/webhooks/{ep['id']}")


# --- replay ------------------------------------------------------------------------------------------------------

def s_replay(ctx):
    a = getattr(ctx, "first", None)
    need("a delivered message to replay", a is not None, "the first event did not arrive")
    before = len(ctx.r1.accepted(lambda x: x.msg_id == a.msg_id))
    t_replay = time.time()
    resp, doc = ctx.api.call("POST", f"/webhooks/{ctx.e1}/deliveries/{a.msg_id}/replay")
    check("POST …/deliveries/{event_id}/replay → 200, the delivery (same webhook_id, event type)",
          resp.status_code == 200 and isinstance(doc, dict) and doc.get("webhook_id") == a.msg_id and doc.get("event_type") == "user.created"
          and not delivery_problems(doc), short(resp))
    again = wait_accepted(ctx.r1, lambda x: x.msg_id == a.msg_id, DELIVERY_WAIT, count=before + 1)
    check("the same webhook-id arrives again, verified, the same body", len(again) == before + 1 and again[-1].body == a.body
          and again[-1].verified, ctx.r1.describe())
    check("the receiver counts it as a duplicate; after dedup the event is still there exactly once",
          ctx.r1.duplicates().get(a.msg_id) == before and list(ctx.r1.unique(lambda x: x.msg_id == a.msg_id)) == [a.msg_id],
          ctx.r1.duplicates())
    d = wait_until(lambda: (lambda v: v if v and v.get("state") == "delivered" and (parse_time(v.get("last_attempt_at")) or 0) >= t_replay - 1
                            else None)(delivery_of(ctx.api, ctx.e1, a.msg_id)), 10)
    check("the delivery log shows it delivered again (state delivered, last_attempt_at after the replay)", d is not None,
          delivery_of(ctx.api, ctx.e1, a.msg_id))
    replayed = wait_accepted(ctx.r_all, about(ctx.e1, "webhook.delivery_replayed"))
    check("the replay is itself an event at \"*\" (webhook.delivery_replayed)", bool(replayed), ctx.r_all.describe())


# --- rotation ----------------------------------------------------------------------------------------------------

def s_rotation(ctx):
    r = receiver("rotation")
    ep, s1, _ = ctx.create_endpoint("rotation endpoint", r.url, ["user.created"])
    eid = ep["id"]
    r.set_secrets([s1])
    uid, *_ = ctx.create_user("before-rotation")
    got = wait_accepted(r, about(uid))
    need("before the rotation: the message verifies with the first secret", got and len(got[0].signatures) == 1, r.describe())

    t0 = time.time()
    resp, doc = ctx.api.call("POST", f"/webhooks/{eid}/rotate-secret", {"overlap_seconds": 3600}, secret_ok=True)
    s2 = doc.get("secret") if isinstance(doc, dict) else None
    if isinstance(s2, str):
        SECRETS.append(s2)
    rep = (doc or {}).get("endpoint") if isinstance(doc, dict) else None
    need("rotate-secret {overlap_seconds: 3600} → 200 with the endpoint and a new whsec_ secret",
         resp.status_code == 200 and secret_format_ok(s2) and s2 != s1 and isinstance(rep, dict), short(resp))
    until = parse_time(rep.get("previous_secret_expires_at"))
    check("previous_secret_expires_at is about an hour away; the endpoint holds no secret",
          until is not None and t0 + 3600 - 60 <= until <= time.time() + 3600 + 60 and not endpoint_problems(rep, r.url, ["user.created"]),
          rep)
    resp, doc = ctx.api.call("GET", f"/webhooks/{eid}")
    check("GET shows previous_secret_expires_at, no secret", resp.status_code == 200 and parse_time((doc or {}).get("previous_secret_expires_at"))
          and not endpoint_problems(doc), short(resp))

    old_only = receiver("rotation-old-secret-only", [s1])
    new_only = receiver("rotation-new-secret-only", [s2])
    # the receiver knows only the old secret
    r.set_secrets([s1])
    uid, *_ = ctx.create_user("overlap-1")
    m = wait_any(r, about(uid))
    check("during the overlap: two space-separated signatures", m and len(m[0].signatures) == 2, m and m[0].headers.get("webhook-signature"))
    check("during the overlap: a receiver knowing only the old secret verifies the message", m and m[0].verdict == "accepted", r.describe())
    if m:
        status, arr = forward(m[0], new_only)
        check("…and a receiver knowing only the new secret verifies the same message", status == 200 and arr.verdict == "accepted",
              (status, arr and arr.describe()))
    # the receiver knows only the new secret
    r.set_secrets([s2])
    uid, *_ = ctx.create_user("overlap-2")
    m = wait_any(r, about(uid))
    check("during the overlap: a receiver knowing only the new secret verifies the next message", m and m[0].verdict == "accepted"
          and len(m[0].signatures) == 2, r.describe())
    if m:
        status, arr = forward(m[0], old_only)
        check("…and one knowing only the old secret verifies it too", status == 200 and arr.verdict == "accepted", (status, arr and arr.describe()))

    resp, doc = ctx.api.call("POST", f"/webhooks/{eid}/rotate-secret", {"overlap_seconds": 0}, secret_ok=True)
    s3 = doc.get("secret") if isinstance(doc, dict) else None
    if isinstance(s3, str):
        SECRETS.append(s3)
    rep = (doc or {}).get("endpoint") if isinstance(doc, dict) else None
    need("rotate-secret {overlap_seconds: 0} → 200 with another new secret", resp.status_code == 200 and secret_format_ok(s3)
         and s3 not in (s1, s2) and isinstance(rep, dict), short(resp))
    check("with no overlap, previous_secret_expires_at is absent or null", rep.get("previous_secret_expires_at") is None, rep)
    r.set_secrets([s2])  # only the secret that was just replaced
    uid, *_ = ctx.create_user("no-overlap")
    m = wait_any(r, about(uid))
    need("after a rotation without overlap the message still comes", m, r.describe())
    check("after a rotation without overlap: one signature", len(m[0].signatures) == 1, m[0].headers.get("webhook-signature"))
    check("…and the receiver with the previous secret rejects it (400)", m[0].verdict == "rejected" and m[0].status == 400, m[0].describe())
    newest = receiver("rotation-newest-secret-only", [s3])
    status, arr = forward(m[0], newest)
    check("…the new secret verifies it", status == 200 and arr.verdict == "accepted", (status, arr and arr.describe()))
    status, arr = forward(m[0], old_only)
    check("…the first secret does not", status == 400, status)
    r.set_secrets([s3])
    retried = wait_accepted(r, about(uid), 30)
    check("Sigil retries the rejected message; with the new secret the receiver accepts it, same webhook-id",
          retried and retried[0].msg_id == m[0].msg_id and not message_problems(retried[0], "user.created", ("user", uid)), r.describe())
    rot = wait_accepted(ctx.r_all, about(eid, "webhook.secret_rotated"), count=2)
    check("webhook.secret_rotated reaches \"*\" twice, holding no secret", len(rot) == 2
          and not any(v.encode() in a.body for a in rot for s in (s1, s2, s3) for v in secret_material(s)[0].values()), ctx.r_all.describe())
    ctx.api.call("DELETE", f"/webhooks/{eid}")


# --- the delivery log --------------------------------------------------------------------------------------------

def s_delivery_log(ctx):
    pages, items, cursor = 0, [], None
    while pages < 100:
        params = {"limit": 3}
        if cursor:
            params[CURSOR_PARAM] = cursor
        resp, doc = ctx.api.call("GET", f"/webhooks/{ctx.e_all}/deliveries", params=params)
        if not (resp.status_code == 200 and isinstance(doc, dict) and isinstance(doc.get("items"), list) and len(doc["items"]) <= 3):
            need(f"GET …/deliveries?limit=3 page {pages + 1} → 200 {{items (at most 3), next_cursor}}", False, short(resp))
        pages += 1
        items += doc["items"]
        cursor = doc.get("next_cursor")
        if not cursor:
            break
    ids = [d.get("webhook_id") for d in items]
    received = set(ctx.r_all.unique())
    check(f"paging ({pages} pages of at most 3) lists each delivery once", pages > 1 and len(ids) == len(set(ids)), ids)
    check("every message \"*\" received is in its delivery log", received <= set(ids), sorted(received - set(ids)))
    created = [parse_time(d.get("created_at")) for d in items]
    check("newest first (created_at never increases)", all(c is not None for c in created) and all(a >= b for a, b in zip(created, created[1:])),
          [d.get("created_at") for d in items])
    check("every delivery is well formed", all(not delivery_problems(d) for d in items), [delivery_problems(d) for d in items if delivery_problems(d)][:3])
    resp, doc, got = deliveries(ctx.api, ctx.e_all, "delivered", limit=200)
    check("state=delivered lists only delivered ones", resp.status_code == 200 and got and all(d.get("state") == "delivered" for d in got), short(resp))


# --- tenants -----------------------------------------------------------------------------------------------------

def s_tenants(ctx):
    r = cli(ctx.binary, ctx.env, ctx.node.data, "tenant", "create", "acme", "--host", "acme.localtest")
    need("sigil tenant create acme", r.returncode == 0, r.stderr[-400:])
    token, r = admin_token(ctx.binary, ctx.env, ctx.node.data, "--tenant", "acme")
    need("sigil admin token create --tenant acme", bool(token), r.stderr[-400:])
    acme = Api(ctx.node.base, token, "/t/acme")
    resp, doc = acme.call("GET", "/webhooks")
    check("acme's token lists acme's endpoints: none of default's", resp.status_code == 200 and (doc or {}).get("items") == [], short(resp))
    for method, body in (("GET", None), ("PATCH", {"enabled": False}), ("DELETE", None)):
        resp, doc = acme.call(method, f"/webhooks/{ctx.e1}", body)
        check(f"{method} default's endpoint through acme → 404", is_problem(resp, doc, 404), short(resp))
    resp, doc = ctx.api.call("GET", f"/webhooks/{ctx.e1}")
    check("default's endpoint is unchanged", resp.status_code == 200 and (doc or {}).get("enabled") is True, short(resp))
    resp, doc = ctx.api.call("GET", "/webhooks", token=token)
    check("acme's token on default's /webhooks → 403 problem+json", is_problem(resp, doc, 403), short(resp))

    ra = receiver("acme-everything")
    ep, s, _ = ctx.create_endpoint("acme's \"*\" endpoint", ra.url, ["*"], api=acme)
    ra.set_secrets([s])
    auid, *_ = ctx.create_user("acme", api=acme)
    got = wait_accepted(ra, about(auid))
    check("acme's user.created reaches acme's endpoint, with acme's tenant id", got and not message_problems(got[0], "user.created", ("user", auid))
          and got[0].data.get("tenant_id") != ctx.tenant_id, ra.describe())
    duid, *_ = ctx.create_user("default-after-acme")
    wait_accepted(ctx.r_all, about(duid))
    time.sleep(QUIET_WAIT)
    check("default's \"*\" endpoint got nothing of acme's", not ctx.r_all.snapshot() or all(
        a.data.get("tenant_id") == ctx.tenant_id and a.target_id != auid for a in ctx.r_all.snapshot()), ctx.r_all.describe())
    check("acme's endpoint got nothing of default's", all(a.data.get("tenant_id") != ctx.tenant_id for a in ra.snapshot()), ra.describe())


# --- the end of the SQLite node ---------------------------------------------------------------------------------

def s_final(ctx):
    if hasattr(ctx, "dis_count"):
        check("the deleted endpoint got nothing after its deletion", len(ctx.r_dis.snapshot()) == ctx.dis_count, ctx.r_dis.describe())
    everything = [a for r in RECEIVERS for a in r.snapshot()]
    check(f"all {len(everything)} requests to all receivers carried the documented webhook headers",
          all(a.msg_id and a.headers.get("webhook-timestamp") and a.headers.get("webhook-signature") for a in everything),
          [a.describe() for a in everything if not a.msg_id][:3])


def scan_for_secrets(label, paths, extra_texts=()):
    """No secret Sigil handed out, in any form, in these files or texts; no whsec_-looking string at all."""
    haystacks = {}
    for p in paths:
        if os.path.isfile(p):
            haystacks[os.path.relpath(p, WORK)] = open(p, "rb").read()
    for name, text in extra_texts:
        haystacks[name] = text.encode("utf-8", "replace") if isinstance(text, str) else text
    check(f"{label}: there are secrets to look for and places to look", SECRETS and haystacks, (len(SECRETS), sorted(haystacks)))
    hits = []
    for i, s in enumerate(SECRETS):
        forms, raw = secret_material(s)
        for form, value in list(forms.items()) + [("raw bytes", raw)]:
            needle = value if isinstance(value, bytes) else value.encode()
            hits += [f"secret #{i + 1} ({form}) in {name}" for name, data in haystacks.items() if needle in data]
    shaped = [name for name, data in haystacks.items() if re.search(rb"whsec_[A-Za-z0-9+/=]{8,}", data)]
    check(f"{label}: no webhook secret ({len(SECRETS)} of them; whole, base64, unpadded, URL-safe, hex, raw)", not hits, hits[:10])
    check(f"{label}: nothing shaped like whsec_<base64>", not shaped, shaped)


def sqlite_suite(binary):
    env = base_env()
    data = os.path.join(WORK, "sqlite-data")
    node = Node(binary, "sqlite-node", data, env)
    section(f"one node on SQLite ({data})")
    if not check("sigil serve becomes ready (SQLite)", node.start(), node.tail(20)):
        return
    token, r = admin_token(binary, env, data)
    if not check("sigil admin token create", bool(token), r.stderr[-400:]):
        node.stop()
        return
    ctx = Ctx(binary, node, Api(node.base, token), env)
    run_section("endpoints: create, read, refuse, 404", s_endpoints, ctx)
    if hasattr(ctx, "r1") and hasattr(ctx, "r_all"):
        run_section("the first events", s_first_event, ctx)
        run_section("tampered messages", s_tamper, ctx)
        run_section("disabled, enabled, deleted", s_disabled, ctx)
        run_section("retries with backoff", s_retries, ctx)
        run_section("replay", s_replay, ctx)
        run_section("secret rotation", s_rotation, ctx)
        run_section("the delivery log", s_delivery_log, ctx)
        run_section("tenants", s_tenants, ctx)
        run_section("every receiver", s_final, ctx)
    section("shutdown and secrets (SQLite)")
    rc = node.stop()
    check("sigil serve exits 0 on SIGTERM", rc == 0, rc)
    scan_for_secrets("serve's stdout and stderr, the CLI output", [node.out, node.err, os.path.join(WORK, "cli.log")])
    scan_for_secrets("admin API answers other than create and rotate (GET, list, PATCH, deliveries, replay, audit events)", [],
                     [(label, text) for label, text in RESPONSES])
    scan_for_secrets("message bodies and headers at every receiver", [],
                     [(f"{r.name} #{a.index}", a.body + json.dumps(a.headers).encode()) for r in RECEIVERS for a in r.snapshot()])
    files = sorted(p for p in glob.glob(os.path.join(data, "**", "*"), recursive=True) if os.path.isfile(p) and "sqlite" in os.path.basename(p))
    scan_for_secrets("the SQLite database files (secrets sealed)", files)


# ------------------------------------------------------------------------------------------------------ two nodes

def postgres_suite(binary, database_url):
    env = base_env()
    env["SIGIL_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()  # both nodes and the CLI open the same secrets
    section("two nodes on one PostgreSQL database")
    a = Node(binary, "pg-node-a", os.path.join(WORK, "pg-a"), env, database_url)
    if not check("node A becomes ready (PostgreSQL)", a.start(), a.tail(20)):
        return
    cli_data = os.path.join(WORK, "pg-cli")
    token, r = admin_token(binary, env, cli_data, database_url=database_url)
    if not check("sigil admin token create --database-url", bool(token), r.stderr[-400:]):
        a.stop()
        return
    api_a = Api(a.base, token)
    rcv = receiver("two-nodes")
    ctx = Ctx(binary, a, api_a, env)
    b = a2 = None
    try:
        ep, secret, _ = ctx.create_endpoint("endpoint on node A", rcv.url, ["user.created"])
        eid = ep["id"]
        rcv.set_secrets([secret])
        rcv.delay(HOLD_SECONDS, 1)  # the first delivery is held; the rest are answered at once
        users = [ctx.create_user("crash-1")]
        held = rcv.wait(lambda x: x.in_hand() >= 1, DELIVERY_WAIT)
        need(f"node A's first delivery is in the receiver's hand (held {HOLD_SECONDS} s)", held, rcv.describe())
        first = rcv.snapshot()[0]
        users += [ctx.create_user(f"crash-{i}") for i in range(2, 6)]
        t_kill = time.time()
        a.kill()
        log(f"node A SIGKILLed with {rcv.in_hand()} request(s) in hand")
        check("node A died by SIGKILL while the receiver held its request", a.proc.returncode == -signal.SIGKILL and first.answered_at is None,
              (a.proc.returncode, first.describe()))

        b = Node(binary, "pg-node-b", os.path.join(WORK, "pg-b"), env, database_url)
        need("node B becomes ready", b.start(), b.tail(20))
        api_b = Api(b.base, token)
        users += [ctx.create_user(f"crash-{i}", api=api_b) for i in range(6, 11)]
        uids = [u[0] for u in users]

        def settled(x):
            return (all(x.accepted(about(u)) for u in uids) and first.answered_at is not None
                    and len(x.accepted(lambda m: m.msg_id == first.msg_id)) >= 2)
        rcv.wait(settled, HOLD_SECONDS + 40)
        again = [m for m in rcv.snapshot() if m.msg_id == first.msg_id]
        check("the held message was sent again (same webhook-id) and accepted", len(again) >= 2 and any(m.verdict == "accepted" for m in again[1:]),
              rcv.describe(30))
        if len(again) >= 2:
            gap = again[1].received_at - first.received_at
            check(f"…only after node A's lease ran out ({LEASE_SECONDS} s after the claim; it came {gap:.1f} s after the first send)",
                  gap >= LEASE_SECONDS - 1 and again[1].received_at > t_kill, gap)
        check("the held request was answered only after node A was gone (its answer went nowhere)",
              first.answered_at is not None and first.answered_at > t_kill, first.describe())
        per_user = {u: sorted(rcv.unique(about(u))) for u in uids}
        missing = [u for u, ids in per_user.items() if not ids]
        doubled = {u: ids for u, ids in per_user.items() if len(ids) > 1}
        check("every one of the 10 user.created events arrived (none missing)", not missing, (missing, rcv.describe(30)))
        check("after dedup by webhook-id each arrived exactly once (one webhook-id per user, 10 in all)",
              not doubled and len(rcv.unique()) == 10, (doubled, sorted(rcv.unique())))
        check("every message verified with the library (nothing rejected)", not rcv.rejected(), rcv.describe(30))
        check("every message has the documented shape", all(not message_problems(m, "user.created", ("user", m.target_id)) for m in rcv.accepted()),
              [message_problems(m, "user.created", ("user", m.target_id)) for m in rcv.accepted()][:3])
        log(f"duplicates after the crash (ids sent again): {rcv.duplicates()}")
        ids = set(rcv.unique())
        ok = wait_until(lambda: (lambda it: it is not None and ids <= {d.get("webhook_id") for d in it if d.get("state") == "delivered"})(
            deliveries(api_b, eid, limit=50)[2]), 15)
        check("node B's delivery log shows all 10 delivered", ok, deliveries(api_b, eid, limit=50)[2])

        # both nodes alive: no delivery is sent twice
        a2 = Node(binary, "pg-node-a-restarted", os.path.join(WORK, "pg-a"), env, database_url)
        need("node A restarts beside node B", a2.start(), a2.tail(20))
        api_a2 = Api(a2.base, token)
        dup_before = dict(rcv.duplicates())
        more = [ctx.create_user(f"both-{i}", api=api_a2 if i % 2 else api_b) for i in range(1, 11)]
        more_ids = [u[0] for u in more]
        rcv.wait(lambda x: all(x.accepted(about(u)) for u in more_ids), DELIVERY_WAIT + 10)
        time.sleep(QUIET_WAIT)
        got = {u: len(rcv.accepted(about(u))) for u in more_ids}
        check("two live nodes: each of 10 more events arrived exactly once, no duplicate at all",
              all(n == 1 for n in got.values()) and rcv.duplicates() == dup_before, (got, rcv.describe(30)))
    except SectionAbort as e:
        log(f"section stopped after: {e}")
    except Exception:
        check("two nodes: ran to the end", False, traceback.format_exc())
    finally:
        for n in (a2, b):
            if n is not None:
                rc = n.stop()
                check(f"{n.name} exits 0 on SIGTERM", rc == 0, rc)
        if a.alive():
            a.stop()
    scan_for_secrets("the nodes' stdout and stderr", [n.out for n in (a, b, a2) if n] + [n.err for n in (a, b, a2) if n]
                     + [os.path.join(WORK, "cli.log")])


# ------------------------------------------------------------------------------------------------------ main

def main():
    global WORK, PIDS_FILE
    ap = argparse.ArgumentParser(description="Sigil's outbound webhooks against the standardwebhooks library")
    ap.add_argument("--sigil", default=os.path.join(HERE, "..", ".build", "debug", "sigil"))
    ap.add_argument("--postgres-url", help="a fresh PostgreSQL database for the two-node part (skipped without)")
    ap.add_argument("--work", help="work directory (kept; pids of started servers go to WORK/pids)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--only", choices=("sqlite", "postgres"), help="run one part (debugging)")
    args = ap.parse_args()
    binary = os.path.abspath(args.sigil)
    if not os.access(binary, os.X_OK):
        print(f"webhooks: no executable at {binary}", file=sys.stderr)
        return 2
    if args.work:
        WORK = os.path.abspath(args.work)
        os.makedirs(WORK, exist_ok=True)
        PIDS_FILE = os.path.join(WORK, "pids")
    else:
        WORK = tempfile.mkdtemp(prefix="sigil-webhooks.")
    # SIGTERM (the CI step's time limit) ends the run through the finally below, which stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    log(f"work directory {WORK}; sigil {binary}")
    try:
        if args.only != "postgres":
            sqlite_suite(binary)
        if args.only == "sqlite":
            pass
        elif args.postgres_url:
            postgres_suite(binary, args.postgres_url)
        else:
            skip("two nodes on one PostgreSQL database", "no PostgreSQL URL (scripts/interop-webhooks.sh passes one when SIGIL_TEST_POSTGRES_URL is set)")
    except Exception:
        check("the suite ran to the end", False, traceback.format_exc())
    finally:
        for n in NODES:
            if n.alive():
                n.stop()
        if FAILED:
            print("\n---- for debugging: the servers' logs ----", flush=True)
            for n in NODES:
                print(f"== {n.name} ({n.base}) ==")
                print(n.tail(40), flush=True)
            print("\n---- for debugging: what each receiver saw ----", flush=True)
            for r in RECEIVERS:
                print(r.describe(), flush=True)
        for r in RECEIVERS:
            try:
                r.stop()
            except Exception:  # noqa: BLE001
                pass
        if args.keep:
            print(f"  work directory kept: {WORK}", flush=True)
        elif not args.work:  # a --work directory belongs to the caller
            shutil.rmtree(WORK, ignore_errors=True)
    print(f"{PASSED} passed, {FAILED} failed", flush=True)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
