#!/usr/bin/env python3
"""A scripted flow builder: a small local service acting as Descope in front of Sigil's connector API
(docs/connectors.md), for interop/connectors.py (scripts/interop-connectors.sh).

It does what a Descope flow configured as docs/connectors.md "Descope" says does, and nothing Sigil-specific
beyond that page:

  connector step   `start_run()`: `POST /api/v1/connectors/idv/sessions` with `Authorization: Bearer sck_…`, an
                   `Idempotency-Key` (one per flow run: `flow-run-<run>-<random>`, kept on the run so a retry sends
                   the same one), `user_identifier`, `expected`, optional `document_types` / `liveness_mode`, and
                   `redirect_url` = its own `http://127.0.0.1:PORT/resume?exec=<run>` (the run id in the query, as
                   Descope's `exec=`; Sigil adds `session_id`). The key's `redirect_origins` must hold `origin`.
  redirect step    `GET /flow/<run>/go` answers 302 to the run's `session_url` (the person's browser goes there;
                   the URL is a bearer link: it is kept in memory only, never logged or shown).
  resume           `GET /resume?exec=<run>&session_id=<id>`: records that the person came back (the query, the
                   User-Agent, the Referer), then calls `GET /api/v1/connectors/idv/sessions/{id}` and answers a page
                   with `<h1 id="flow-result" data-status="…">` (the flow's branch: VERIFIED continues) and the
                   session id; never the person's data.
  webhooks         `POST /sigil-events` (any POST path, in fact): a WebhookReceiver of interop/webhook_receiver.py
                   on the same port verifies every message with the Standard Webhooks reference library from PyPI
                   (`Webhook(secret).verify(body, headers)`); `events()` reads the verified ones.
  inbound hooks    `hook_sender(name, secret, signature)`: Descope's side of Sigil's inbound hooks (`POST
                   /api/v1/hooks/<name>`, docs/connectors.md "Inbound hooks"), a HookSender. With `rfc9421` it signs
                   each delivery with pyauth's http-message-signatures from PyPI (RFC 9421: `HTTPMessageSigner`,
                   `algorithms.HMAC_SHA256`, the secret's UTF-8 bytes as the key; covered components `@method`,
                   `@target-uri` and `content-digest`; `created`, a random `nonce`, `keyid`, `alg`; label `sig1`) over a
                   `requests.PreparedRequest` whose `Content-Digest` (RFC 9530, sha-256) it computes; Sigil's
                   verifier is thereby checked against software written elsewhere. With `descope_hmac` it sends
                   `x-descope-webhook-s256: base64(HMAC-SHA256(secret, body))` (plain `hmac`), the event's `time`
                   giving freshness. `prepare()` builds a signed request without sending it (so a test can send the
                   very same bytes twice, or alter them), `send()` sends one; `hook_run()` registers a FlowRun whose
                   /resume reads a hook-started step-up with the hook source's key.

Everything listens on 127.0.0.1 (port 0 by default: the kernel picks one). Sigil is reached at `sigil_base`
(the suite uses http://localhost:PORT, so the flow builder and Sigil are different sites).

By hand (a running Sigil, a connector key whose redirect_origins hold http://127.0.0.1:PORT, and a webhook endpoint
pointing at http://127.0.0.1:PORT/sigil-events subscribed to idv.decided):

    /opt/peers-venv/bin/python interop/flow_builder.py --sigil http://localhost:8080 --key sck_… \\
        --webhook-secret whsec_… --port 8765
    then open http://127.0.0.1:8765/flow/start?user_identifier=U1&given_name=Anna&family_name=Eriksson
    (the connector step and the redirect step in one go); one line per event is printed, never a secret.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import html
import itertools
import json
import inspect
import os
import secrets
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import requests  # noqa: E402
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms  # noqa: E402

from webhook_receiver import WebhookReceiver  # noqa: E402

START_PATH = "/api/v1/connectors/idv/sessions"
STEPUP_PATH = "/api/v1/connectors/stepup/challenges"
HOOKS_PATH = "/api/v1/hooks/"
HOOK_COMPONENTS = ("@method", "@target-uri", "content-digest")


class FlowRun:
    """One execution of the flow for one person."""

    def __init__(self, run_id, body, idempotency_key, key=None):
        self.run_id = run_id
        self.key = key  # the key /resume reads the result with (None: the flow builder's own)
        self.body = body  # the JSON body of the connector step (what a retry sends again)
        self.idempotency_key = idempotency_key
        self.start_status = None  # HTTP status of the connector step
        self.start_headers = {}
        self.started = None  # its JSON answer (session_id, session_url, handoff_url, subject, status, expires_at)
        self.problem = None  # its problem+json when refused
        self.resumes = []  # one dict per GET /resume of this run: query, user_agent, referer, at
        self.results = []  # (HTTP status, JSON) of every result call the flow made on resume

    @property
    def session_id(self):
        return (self.started or {}).get("session_id")

    @property
    def challenge_id(self):
        return (self.started or {}).get("challenge_id")

    @property
    def result(self):
        """The JSON of the last result call (made when the person came back), or None."""
        return self.results[-1][1] if self.results else None


class FlowBuilder:
    """See the module documentation. `key` may be set after construction (the key's redirect origin names this
    service's port, so the port comes first)."""

    def __init__(self, sigil_base, key=None, webhook_secrets=(), port=0, log=None):
        self.sigil = sigil_base.rstrip("/")
        self.key = key
        self.log = log
        self.http = requests.Session()
        self.http.trust_env = False  # Sigil on localhost: no proxy from the environment
        self.runs = {}
        self.resumes = []  # every GET /resume, whatever its run
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self.receiver = WebhookReceiver(webhook_secrets, name="flow-builder", port=port, on_get=self._get,
                                        log=(lambda line: log(line)) if log else None)
        self.port = self.receiver.port
        self.origin = f"http://127.0.0.1:{self.port}"
        self.webhook_url = self.origin + "/sigil-events"

    # --- life cycle ---

    def start(self):
        self.receiver.start()
        return self

    def stop(self):
        self.receiver.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def set_webhook_secrets(self, secrets_):
        self.receiver.set_secrets(secrets_)

    # --- the connector API (what Descope's Generic HTTP connector sends) ---

    def call(self, method, path, body=None, key=None, headers=None, raw=None):
        """(response, parsed JSON or None). key: the bearer (default self.key; False: no Authorization header)."""
        h = {"Accept": "application/json"}
        key = self.key if key is None else key
        if key is not False:
            h["Authorization"] = f"Bearer {key}"
        h.update(headers or {})
        kwargs = {"headers": h, "timeout": 60, "allow_redirects": False}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        r = self.http.request(method, self.sigil + path, **kwargs)
        try:
            doc = r.json()
        except ValueError:
            doc = None
        return r, doc

    def resume_url(self, run_id):
        return f"{self.origin}/resume?" + urllib.parse.urlencode({"exec": run_id})

    def go_url(self, run_id):
        return f"{self.origin}/flow/{run_id}/go"

    def new_run_id(self):
        return f"{next(self._counter)}{secrets.token_hex(2)}"

    def start_run(self, user_identifier=None, expected=None, document_types=None, liveness_mode=None, run_id=None,
                  idempotency_key=None, redirect_url=None, key=None):
        """The connector step of a new flow run. Returns the FlowRun (start_status, started or problem)."""
        run_id = run_id or self.new_run_id()
        body = {}
        if user_identifier is not None:
            body["user_identifier"] = user_identifier
        if document_types is not None:
            body["document_types"] = document_types
        if liveness_mode is not None:
            body["liveness_mode"] = liveness_mode
        body["redirect_url"] = redirect_url or self.resume_url(run_id)
        if expected is not None:
            body["expected"] = expected
        run = FlowRun(run_id, body, idempotency_key or f"flow-run-{run_id}-{secrets.token_hex(8)}")
        with self._lock:
            self.runs[run_id] = run
        self.send_start(run, key=key)
        return run

    def send_start(self, run, body=None, key=None):
        """Sends (or re-sends: a retry) the run's connector step with its Idempotency-Key; body overrides the run's
        own body for this one call. The first success is kept on the run; every call's (response, JSON) is returned."""
        return self._send(run, START_PATH, body if body is not None else run.body, key)

    def _send(self, run, path, body, key):
        """POSTs a connector step with the run's Idempotency-Key; the first answer is kept on the run."""
        r, doc = self.call("POST", path, body, key=key, headers={"Idempotency-Key": run.idempotency_key})
        if run.start_status is None:
            run.start_status, run.start_headers = r.status_code, dict(r.headers)
            if r.status_code in (200, 201) and isinstance(doc, dict):
                run.started = doc
            else:
                run.problem = doc if isinstance(doc, dict) else {"text": r.text[:500]}
        self._say(f"run {run.run_id}: POST {path} -> {r.status_code}")
        return r, doc

    def start_stepup(self, user_identifier, binding_message=None, reason=None, user_verification=None, run_id=None, key=None):
        """The LiveID step-up node's connector step (redirect_url back to /resume?exec=<run>). Returns the FlowRun."""
        run_id = run_id or self.new_run_id()
        body = {"user_identifier": user_identifier, "redirect_url": self.resume_url(run_id)}
        for k, v in (("binding_message", binding_message), ("reason", reason), ("user_verification", user_verification)):
            if v is not None:
                body[k] = v
        run = FlowRun(run_id, body, f"flow-run-{run_id}-{secrets.token_hex(8)}")
        with self._lock:
            self.runs[run_id] = run
        self._send(run, STEPUP_PATH, body, key)
        return run

    def stepup_result(self, challenge_id, key=None):
        """The step-up result call: (response, JSON)."""
        return self.call("GET", f"{STEPUP_PATH}/{urllib.parse.quote(challenge_id, safe='')}", key=key)

    def result(self, session_id, key=None):
        """The result call: (response, JSON)."""
        return self.call("GET", f"{START_PATH}/{urllib.parse.quote(session_id, safe='')}", key=key)

    # --- inbound hooks (Descope posting its events to Sigil) ---

    def hook_sender(self, name, secret, signature="rfc9421", key_id=None):
        """A HookSender for the hook source `name` (its URL is Sigil's base + /api/v1/hooks/<name>)."""
        return HookSender(self.sigil, name, secret, signature=signature, key_id=key_id, session=self.http, log=self._say)

    def hook_run(self, run_id=None, key=None):
        """A FlowRun with no connector step of its own, for a hook source's redirect_url (`resume_url(run_id)`):
        the person comes back to /resume?exec=<run>&challenge_id=… (or session_id=…) and the result is read with `key`
        (the hook source's connector key)."""
        run_id = run_id or self.new_run_id()
        run = FlowRun(run_id, None, None, key=key)
        with self._lock:
            self.runs[run_id] = run
        return run

    # --- webhooks (verified by the library in WebhookReceiver) ---

    def events(self, event_type=None, target=None):
        """The verified messages, deduplicated by webhook-id (the first arrival of each), in arrival order."""
        out = self.receiver.unique(lambda a: (event_type is None or a.type == event_type) and (target is None or a.target_id == target))
        return sorted(out.values(), key=lambda a: a.index)

    def wait_event(self, event_type, target, timeout=30):
        """The first verified `event_type` message about `target` within timeout, else None."""
        self.receiver.wait(lambda r: bool(self.events(event_type, target)), timeout)
        got = self.events(event_type, target)
        return got[0] if got else None

    # --- the pages (GET) ---

    def _get(self, h):
        u = urllib.parse.urlsplit(h.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        try:
            if u.path == "/resume":
                return self._resume(h, u, q)
            parts = u.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "flow" and parts[2] == "go":
                run = self.runs.get(parts[1])
                if not run or not run.started:
                    return self._page(h, 404, "<h1 id='flow-error'>No such flow run</h1>")
                return self._redirect(h, run.started["session_url"])
            if u.path == "/flow/start":  # by hand: the connector step and the redirect step in one go
                expected = {k: q[k] for k in ("given_name", "family_name", "birthdate") if q.get(k)}
                run = self.start_run(user_identifier=q.get("user_identifier") or None, expected=expected or None,
                                     document_types=q["document_types"].split(",") if q.get("document_types") else None,
                                     liveness_mode=q.get("liveness_mode") or None)
                if not run.started:
                    return self._page(h, 502, "<h1 id='flow-error'>Sigil refused the connector step</h1><pre>"
                                      + html.escape(json.dumps(run.problem)[:2000]) + "</pre>")
                return self._redirect(h, run.started["session_url"])
            return self._page(h, 404, "<h1 id='flow-error'>Not found</h1>")
        except Exception as error:  # noqa: BLE001 - a page error must not kill the server thread
            self._say(f"GET {u.path}: {type(error).__name__}: {error}")
            return self._page(h, 500, "<h1 id='flow-error'>Flow error</h1>")

    def _resume(self, h, u, q):
        hit = {"at": time.time(), "path": u.path, "query": q, "user_agent": h.headers.get("User-Agent", ""),
               "referer": h.headers.get("Referer")}
        run = self.runs.get(q.get("exec", ""))
        with self._lock:
            self.resumes.append(hit)
            if run:
                run.resumes.append(hit)
        cid = q.get("challenge_id", "")
        if run and cid:  # back from a LiveID step-up
            r, doc = self.stepup_result(cid, key=run.key)
            run.results.append((r.status_code, doc))
            match = doc.get("match_result") if isinstance(doc, dict) else f"HTTP {r.status_code}"
            self._say(f"run {run.run_id}: resumed with {cid}; step-up result {r.status_code} {match}")
            branch = "continue" if match == "match" else "stop"
            return self._page(h, 200, f"<h1 id='flow-result' data-status='{html.escape(str(match))}' data-branch='{branch}'>Step-up: "
                                      f"{html.escape(str(match))}</h1><p id='flow-run'>{html.escape(run.run_id)}</p>")
        sid = q.get("session_id", "")
        if not run or not sid:
            self._say(f"resume without a known run or a session_id: exec={q.get('exec')!r}")
            return self._page(h, 400, "<h1 id='flow-result' data-status='unknown'>Unknown flow run</h1>")
        r, doc = self.result(sid, key=run.key)
        run.results.append((r.status_code, doc))
        status = doc.get("status") if isinstance(doc, dict) else f"HTTP {r.status_code}"
        self._say(f"run {run.run_id}: resumed with {sid}; result {r.status_code} {status}")
        branch = "continue" if status == "VERIFIED" else "stop"
        body = (f"<h1 id='flow-result' data-status='{html.escape(str(status))}' data-branch='{branch}'>Identity verification: "
                f"{html.escape(str(status))}</h1><p id='flow-session'>{html.escape(sid)}</p><p id='flow-run'>{html.escape(run.run_id)}</p>")
        return self._page(h, 200, body)

    @staticmethod
    def _redirect(h, location):
        h.send_response(302)
        h.send_header("Location", location)
        h.send_header("Referrer-Policy", "no-referrer")
        h.send_header("Content-Length", "0")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True

    @staticmethod
    def _page(h, status, body):
        data = ("<!doctype html><html><head><meta charset='utf-8'><title>Flow builder</title></head><body>" + body
                + "</body></html>").encode()
        h.send_response(status)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Cache-Control", "no-store")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(data)
        h.close_connection = True

    def _say(self, line):
        if self.log:
            self.log(f"[flow-builder] {line}")


class _SecretResolver(HTTPSignatureKeyResolver):
    """The hook source's shared secret for every keyid: its UTF-8 bytes, as Sigil shows it (not base64-decoded)."""

    def __init__(self, secret):
        self.secret = secret.encode()

    def resolve_private_key(self, key_id):
        return self.secret

    def resolve_public_key(self, key_id):
        return self.secret


def content_digest(body):
    """RFC 9530 Content-Digest of `body` (bytes) with sha-256: `sha-256=:<base64>:`."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def descope_mac(secret, body):
    """x-descope-webhook-s256: base64(HMAC-SHA256(secret, body)), the secret's UTF-8 bytes as the key."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class HookSender:
    """Descope posting its events to one Sigil hook source (`POST <sigil>/api/v1/hooks/<name>`).

    signature `rfc9421`: the http-message-signatures library signs (see the module documentation); `descope_hmac`:
    the x-descope-webhook-s256 header. Nothing here is Sigil's code: the body is bytes of our choosing, the digest
    and the signature are made by the library (and the standard library's hmac)."""

    def __init__(self, sigil_base, name, secret, signature="rfc9421", key_id=None, session=None, log=None):
        self.url = sigil_base.rstrip("/") + HOOKS_PATH + name
        self.name = name
        self.secret = secret
        self.signature = signature
        self.key_id = key_id or f"descope-{name}"
        self.http = session or requests.Session()
        self.log = log
        self.signer = HTTPMessageSigner(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_SecretResolver(secret))

    @staticmethod
    def event(event_type, user=None, risk=None, event_id=None, time_=None, extra=None):
        """A Descope-like event: {id, type, time?, user?, risk?}; time_ True means now (RFC 3339, UTC)."""
        ev = {"id": event_id or f"evt-{secrets.token_hex(8)}", "type": event_type}
        if time_ is True:
            time_ = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if time_ is not None:
            ev["time"] = time_
        if user is not None:
            ev["user"] = user
        if risk is not None:
            ev["risk"] = risk
        ev.update(extra or {})
        return ev

    def body_of(self, event):
        """The bytes a JSON event goes out as (json.dumps with its default separators: ", " and ": ")."""
        return event if isinstance(event, (bytes, bytearray)) else json.dumps(event).encode()

    def prepare(self, event, created=None, expires=None, nonce=None, secret=None, label="sig1", components=HOOK_COMPONENTS,
                mac_over=None):
        """A signed requests.PreparedRequest, not sent. event: a dict (serialised by body_of) or bytes.
        rfc9421: created (a datetime; default now), expires, nonce (default 16 random bytes, base64url), secret (default
        the source's: another one signs a delivery Sigil must refuse). descope_hmac: the MAC of `mac_over` (default
        the body itself) with `secret`."""
        body = self.body_of(event)
        req = requests.Request("POST", self.url, data=body, headers={"Content-Type": "application/json", "Accept": "application/json"})
        prepared = self.http.prepare_request(req)
        if self.signature == "rfc9421":
            prepared.headers["Content-Digest"] = content_digest(body)
            signer = self.signer if secret is None else HTTPMessageSigner(signature_algorithm=algorithms.HMAC_SHA256,
                                                                           key_resolver=_SecretResolver(secret))
            # http-message-signatures 3 refuses to sign over a Content-Digest it did not compute unless told to
            # reuse it (then it checks it); earlier versions have no such parameter.
            reuse = {"use_existing_digest": True} if "use_existing_digest" in inspect.signature(signer.sign).parameters else {}
            signer.sign(prepared, key_id=self.key_id, created=created or datetime.datetime.now(), expires=expires,
                        nonce=nonce or base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="), label=label, include_alg=True,
                        covered_component_ids=components, **reuse)
        else:
            prepared.headers["x-descope-webhook-s256"] = descope_mac(secret or self.secret, mac_over if mac_over is not None else body)
        return prepared

    def send(self, prepared):
        """Sends a prepared (signed) request as it is: (response, parsed JSON or None)."""
        r = self.http.send(prepared, timeout=60, allow_redirects=False)
        try:
            doc = r.json()
        except ValueError:
            doc = None
        if self.log:
            self.log(f"hook {self.name}: POST {urllib.parse.urlsplit(self.url).path} -> {r.status_code}"
                     + (f" action {doc.get('action')}" if isinstance(doc, dict) and "action" in doc else ""))
        return r, doc

    def post(self, event, **sign):
        """prepare() and send() in one: (response, JSON, the prepared request)."""
        prepared = self.prepare(event, **sign)
        r, doc = self.send(prepared)
        return r, doc, prepared


def main():
    ap = argparse.ArgumentParser(description="A scripted flow builder acting as Descope in front of Sigil's connector API")
    ap.add_argument("--sigil", required=True, help="Sigil's base URL (plus /t/<tenant> for a path tenant)")
    ap.add_argument("--key", default=os.environ.get("SIGIL_CONNECTOR_KEY"), help="the sck_ key (or $SIGIL_CONNECTOR_KEY)")
    ap.add_argument("--webhook-secret", action="append", default=[], help="whsec_ secret of the webhook endpoint (repeatable)")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    if not args.key:
        ap.error("--key or $SIGIL_CONNECTOR_KEY is required")
    fb = FlowBuilder(args.sigil, args.key, args.webhook_secret, port=args.port, log=lambda line: print(line, flush=True))
    fb.start()
    print(f"flow builder on {fb.origin}: redirect origin {fb.origin}, webhook URL {fb.webhook_url}; "
          f"start a run at {fb.origin}/flow/start?user_identifier=U1&given_name=…&family_name=… (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
