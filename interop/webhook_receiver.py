#!/usr/bin/env python3
"""A Standard Webhooks receiver for the webhook interop suite (interop/webhooks.py, scripts/interop-webhooks.sh).

Every message is verified by the Standard Webhooks reference library from PyPI (`standardwebhooks`:
`Webhook(secret).verify(body, headers)`), not by code of ours. The receiver:

  * listens on 127.0.0.1 (port 0 by default: the kernel picks one; `url` names it) in a thread, one thread per
    request (http.server.ThreadingHTTPServer), and accepts POSTs on any path;
  * verifies each request with every configured secret (a list: during a secret rotation it is given only the old
    or only the new one); verified → 200 and recorded as accepted; not verified → 400 and recorded as rejected;
  * deduplicates by `webhook-id` the way a real receiver must: the first accepted message of an id is the one that
    counts (`unique()`), later accepted ones are counted as duplicates (`duplicates()`);
  * can be told to fail: answer 500 or 503, or close the connection without an answer, for the next N requests
    (`fail(mode, count)`) or until `recover()` (`fail(mode)`); failed requests are recorded too (verdict
    "failed:500" and so on), with their verification result, so a test can see every attempt's webhook-id;
  * answers GET with 405, unless it is given `on_get` (a function taking the request handler, called for every GET):
    then it is also a small web service on the same port (interop/flow_builder.py serves its pages that way);
  * can delay its answer by S seconds for the next N requests (`delay(S, N)`): the request is "in hand"
    (`in_hand()`) meanwhile, which lets a test kill the sending node while a delivery is in flight. A delayed
    message is recorded (accepted or rejected) when the delay ends, just before the answer is written, as a
    receiver that processes and then answers would; if the sender is gone by then the write fails, which is
    recorded in `answer_error` and changes nothing else.

Every request, whatever happened to it, is an `Arrival` in `arrivals` (in order of arrival).

Alone:
    /opt/peers-venv/bin/python interop/webhook_receiver.py --self-test
        signs sample messages with `Webhook(secret).sign(msg_id, timestamp, payload)`, posts them, and checks the
        verdicts (valid, wrong secret, tampered body, stale timestamp, missing headers, replayed id, two secrets,
        fail/delay modes, a chunked body); prints PASS/FAIL lines and "N passed, M failed"; exit 1 on a failure.
    /opt/peers-venv/bin/python interop/webhook_receiver.py --serve --secret whsec_... [--port P] [--fail 500:2]
                                                           [--delay 20:1]
        runs a receiver in the foreground and prints one line per request (for trying Sigil by hand).
"""
import argparse
import base64
import json
import os
import socket
import sys
import threading
import time
import traceback
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

FAIL_MODES = ("500", "503", "close")


class Arrival:
    """One HTTP request as received, and what the receiver did with it."""

    def __init__(self, index, path, headers, body):
        self.index = index
        self.received_at = time.time()
        self.path = path
        self.headers = headers  # lower-cased names → first value
        self.body = body  # the raw bytes, exactly as received (what the signature covers)
        self.msg_id = headers.get("webhook-id")
        self.verified = False  # the library verified it with one of the configured secrets
        self.secret_index = None  # which of them
        self.error = None  # the library's error when none verified it
        self.payload = None  # the parsed JSON body (None when it is not JSON)
        self.verdict = "in-hand"  # then: accepted | rejected | failed:500 | failed:503 | failed:close
        self.status = None  # the status answered (None for "close")
        self.answered_at = None
        self.answer_error = None  # the sender was gone when the answer was written
        try:
            self.payload = json.loads(body)
        except ValueError:
            pass

    @property
    def type(self):
        return self.payload.get("type") if isinstance(self.payload, dict) else None

    @property
    def data(self):
        d = self.payload.get("data") if isinstance(self.payload, dict) else None
        return d if isinstance(d, dict) else {}

    @property
    def target_id(self):
        t = self.data.get("target")
        return t.get("id") if isinstance(t, dict) else None

    @property
    def signatures(self):
        return (self.headers.get("webhook-signature") or "").split()

    def describe(self):
        t = time.strftime("%H:%M:%S", time.localtime(self.received_at)) + f".{int(self.received_at % 1 * 1000):03d}"
        extra = f" ({self.error})" if self.error and not self.verified else ""
        late = f" answer-error={self.answer_error}" if self.answer_error else ""
        return f"#{self.index} {t} id={self.msg_id} type={self.type} target={self.target_id} {self.verdict}{extra}{late}"


class WebhookReceiver:
    """A receiver on 127.0.0.1; see the module documentation."""

    def __init__(self, secrets=(), name="receiver", port=0, log=None, on_get=None):
        self.name = name
        self._on_get = on_get  # a function taking the handler, for GET requests (None: 405)
        self._lock = threading.Condition()
        self._secrets = list(secrets)
        self._fail_queue = []  # modes for the next requests, one each
        self._fail_forever = None  # a mode while fail(mode) without a count is on
        self._delays = []  # seconds for the next requests, one each
        self._in_hand = 0
        self.arrivals = []
        self._log = log  # a function taking a line, or None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 60  # a sender that stalls mid-request does not hold a thread for ever

            def do_POST(self):
                receiver._handle(self)

            def do_GET(self):  # not part of the protocol: a 405 tells a confused caller so
                if receiver._on_get:
                    receiver._on_get(self)
                    return
                self._plain(405, b"POST only\n")

            def _plain(self, status, text):
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(text)
                self.close_connection = True

            def log_message(self, fmt, *args):  # quiet: arrivals are recorded instead
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = None

    # --- life cycle -------------------------------------------------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"{self.name}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- what the test tells it ------------------------------------------------------------------------------------

    def set_secrets(self, secrets):
        """Verify with these secrets from now on (any one verifying is enough)."""
        with self._lock:
            self._secrets = list(secrets)

    def fail(self, mode, count=None):
        """Answer 500 or 503, or close the connection ("close"), for the next `count` requests, or until recover()
        when count is None. Counts add up: fail("500", 1); fail("close", 1) fails the next two requests in turn."""
        if mode not in FAIL_MODES:
            raise ValueError(f"fail mode is one of {FAIL_MODES}")
        with self._lock:
            if count is None:
                self._fail_forever = mode
            else:
                self._fail_queue.extend([mode] * count)

    def recover(self):
        """Stop failing (both the counted failures still queued and fail(mode) without a count)."""
        with self._lock:
            self._fail_queue.clear()
            self._fail_forever = None

    def delay(self, seconds, count=1):
        """Hold the answer to each of the next `count` requests for `seconds`."""
        with self._lock:
            self._delays.extend([float(seconds)] * count)

    # --- what the test reads ---------------------------------------------------------------------------------------

    def snapshot(self):
        with self._lock:
            return list(self.arrivals)

    def accepted(self, pred=None):
        return [a for a in self.snapshot() if a.verdict == "accepted" and (pred is None or pred(a))]

    def rejected(self, pred=None):
        return [a for a in self.snapshot() if a.verdict == "rejected" and (pred is None or pred(a))]

    def arrivals_for(self, msg_id):
        return [a for a in self.snapshot() if a.msg_id == msg_id]

    def unique(self, pred=None):
        """The accepted messages after deduplication by webhook-id: id → the first accepted arrival."""
        out = {}
        for a in self.accepted(pred):
            out.setdefault(a.msg_id, a)
        return out

    def duplicates(self, pred=None):
        """webhook-id → how many accepted arrivals came after the first (only ids with at least one)."""
        counts = {}
        for a in self.accepted(pred):
            counts[a.msg_id] = counts.get(a.msg_id, 0) + 1
        return {k: n - 1 for k, n in counts.items() if n > 1}

    def in_hand(self):
        """Requests received and not yet answered (held by delay(), or being verified)."""
        with self._lock:
            return self._in_hand

    def wait(self, pred, timeout):
        """Waits until pred(self) is true (re-checked at every arrival or answer, and every 0.2 s); returns it."""
        deadline = time.time() + timeout
        with self._lock:
            while True:
                self._lock.release()
                try:
                    ok = pred(self)
                finally:
                    self._lock.acquire()
                if ok or time.time() >= deadline:
                    return ok
                self._lock.wait(min(0.2, max(0.0, deadline - time.time())))

    def describe(self, last=15):
        arr = self.snapshot()
        lines = [f"{self.name} {self.url}: {len(arr)} requests"]
        lines += ["  " + a.describe() for a in arr[-last:]]
        return "\n".join(lines)

    # --- verification (the library) ---------------------------------------------------------------------------------

    @staticmethod
    def verify_with(secrets, body, headers):
        """(index of the secret that verified, None) or (None, the last error). Uses only the library."""
        error = "no secret configured"
        for i, secret in enumerate(secrets):
            try:
                Webhook(secret).verify(body, headers)
                return i, None
            except WebhookVerificationError as e:
                error = f"{type(e).__name__}: {e}"
            except Exception as e:  # noqa: BLE001 - a bad secret or header must not kill the handler
                error = f"{type(e).__name__}: {e}"
        return None, error

    # --- one request ---------------------------------------------------------------------------------------------------

    def _handle(self, h):
        body = self._read_body(h)
        if body is None:
            h._plain(400, b"unreadable body\n")
            return
        headers = {k.lower(): v for k, v in reversed(list(h.headers.items()))}  # the first of repeated names wins
        with self._lock:
            arrival = Arrival(len(self.arrivals) + 1, h.path, headers, body)
            self.arrivals.append(arrival)
            self._in_hand += 1
            secrets = list(self._secrets)
            mode = self._fail_queue.pop(0) if self._fail_queue else self._fail_forever
            hold = self._delays.pop(0) if self._delays else 0.0
            self._lock.notify_all()
        try:
            index, error = self.verify_with(secrets, body, headers)
            arrival.verified, arrival.secret_index, arrival.error = index is not None, index, error
            if hold:
                time.sleep(hold)
            if mode == "close":
                # No answer at all: shut the socket down under the sender.
                self._finish(arrival, "failed:close", None)
                h.close_connection = True
                try:
                    h.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if mode in ("500", "503"):
                self._finish(arrival, f"failed:{mode}", int(mode))
                self._answer(h, arrival, int(mode), {"error": f"injected {mode}"})
                return
            if arrival.verified:
                self._finish(arrival, "accepted", 200)
                self._answer(h, arrival, 200, {"ok": True})
            else:
                self._finish(arrival, "rejected", 400)
                self._answer(h, arrival, 400, {"error": "signature not verified", "detail": error})
        finally:
            with self._lock:
                self._in_hand -= 1
                arrival.answered_at = time.time()
                self._lock.notify_all()
            if self._log:
                self._log(f"[{self.name}] {arrival.describe()}")

    def _finish(self, arrival, verdict, status):
        with self._lock:
            arrival.verdict, arrival.status = verdict, status
            self._lock.notify_all()

    @staticmethod
    def _answer(h, arrival, status, doc):
        data = json.dumps(doc).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except OSError as e:  # the sender is gone (killed while we held the answer)
            arrival.answer_error = f"{type(e).__name__}: {e}"
        h.close_connection = True

    @staticmethod
    def _read_body(h):
        """The request body: Content-Length, or chunked transfer coding; None when it cannot be read."""
        try:
            if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(h.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while h.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                            pass
                        return b"".join(chunks)
                    chunks.append(h.rfile.read(size))
                    h.rfile.readline()  # the CRLF after each chunk
            length = int(h.headers.get("Content-Length") or 0)
            return h.rfile.read(length) if length > 0 else b""
        except (ValueError, OSError):
            return None


def new_secret():
    """A secret in the Standard Webhooks format (whsec_ and base64 of 32 random bytes)."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


# ------------------------------------------------------------------------------------------------------ self-test

def _post(url, body, headers, timeout=10):
    """POSTs with http.client (stdlib): (status, elapsed seconds) or ("no answer", elapsed) when the connection is
    closed without a response."""
    import http.client
    from urllib.parse import urlsplit
    u = urlsplit(url)
    started = time.time()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", u.path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.time() - started
    except (http.client.RemoteDisconnected, ConnectionError, TimeoutError):
        return "no answer", time.time() - started
    finally:
        conn.close()


def _signed(secret, msg_id, payload, when=None, extra_secrets=()):
    """(body bytes, headers) of a message signed by the library with `secret` (and `extra_secrets`, space-separated
    in webhook-signature as a sender does during a rotation)."""
    when = when or datetime.now(tz=timezone.utc)
    body = json.dumps(payload).encode()
    sigs = [Webhook(s).sign(msg_id, when, body) for s in (secret, *extra_secrets)]
    return body, {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())), "webhook-signature": " ".join(sigs),
                  "content-type": "application/json"}


def self_test():
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"PASS {name}", flush=True)
        else:
            failed += 1
            print(f"FAIL {name}  -- {detail}", flush=True)

    def sample(msg_id, kind="user.created"):
        return {"type": kind, "timestamp": datetime.now(tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "data": {"id": msg_id, "tenant_id": "ten_x", "actor": "cli", "outcome": "success", "target": {"type": "user", "id": "usr_1"}}}

    old, new, other = new_secret(), new_secret(), new_secret()
    try:
        with WebhookReceiver([old], name="self-test") as r:
            check("receiver listens on 127.0.0.1 with a kernel-chosen port", r.port > 0 and r.url.startswith("http://127.0.0.1:"), r.url)

            body, hdr = _signed(old, "evt_1", sample("evt_1"))
            st, _ = _post(r.url, body, hdr)
            a = r.arrivals[-1]
            check("a message signed by the library with the secret → 200, accepted, verified", st == 200 and a.verdict == "accepted"
                  and a.verified and a.secret_index == 0, (st, a.describe()))
            check("the arrival keeps the raw body, the headers and the parsed payload",
                  a.body == body and a.msg_id == "evt_1" and a.type == "user.created" and a.target_id == "usr_1"
                  and a.headers.get("webhook-signature") == hdr["webhook-signature"], a.describe())

            body2, hdr2 = _signed(other, "evt_2", sample("evt_2"))
            st, _ = _post(r.url, body2, hdr2)
            a = r.arrivals[-1]
            check("signed with another secret → 400, rejected, with the library's error", st == 400 and a.verdict == "rejected"
                  and not a.verified and "No matching signature" in (a.error or ""), (st, a.describe()))

            tampered = body.replace(b"usr_1", b"usr_2")
            st, _ = _post(r.url, tampered, dict(hdr, **{"webhook-id": "evt_3"}))
            check("a tampered body (and id) → 400, rejected", st == 400 and r.arrivals[-1].verdict == "rejected", (st, r.arrivals[-1].describe()))
            st, _ = _post(r.url, tampered, hdr)
            check("a tampered body under the original signature → 400", st == 400 and r.arrivals[-1].verdict == "rejected", st)
            bad_sig = dict(hdr, **{"webhook-signature": "v1," + base64.b64encode(os.urandom(32)).decode()})
            st, _ = _post(r.url, body, bad_sig)
            check("a random signature → 400", st == 400, st)

            stale_when = datetime.now(tz=timezone.utc) - timedelta(minutes=10)
            body4, hdr4 = _signed(old, "evt_4", sample("evt_4"), when=stale_when)
            st, _ = _post(r.url, body4, hdr4)
            check("a correctly signed message 10 minutes old → 400 (the library's 5-minute tolerance)",
                  st == 400 and "too old" in (r.arrivals[-1].error or ""), (st, r.arrivals[-1].describe()))

            st, _ = _post(r.url, body, {"content-type": "application/json"})
            check("no webhook-* headers → 400", st == 400 and "Missing required headers" in (r.arrivals[-1].error or ""), r.arrivals[-1].describe())

            # the same webhook-id again (a retry, or a replay): accepted again, counted as a duplicate
            body5, hdr5 = _signed(old, "evt_1", sample("evt_1"))
            st, _ = _post(r.url, body5, hdr5)
            check("the same webhook-id again → 200; dedup keeps one, counts one duplicate",
                  st == 200 and list(r.unique()) == ["evt_1"] and r.duplicates() == {"evt_1": 1}, (st, r.unique().keys(), r.duplicates()))

            # rotation: two signatures in one header; either secret alone verifies
            body6, hdr6 = _signed(new, "evt_6", sample("evt_6"), extra_secrets=[old])
            check("a rotation message carries two space-separated v1 signatures", len(hdr6["webhook-signature"].split(" ")) == 2, hdr6)
            r.set_secrets([old])
            st_old, _ = _post(r.url, body6, hdr6)
            r.set_secrets([new])
            st_new, _ = _post(r.url, body6, hdr6)
            r.set_secrets([other])
            st_other, _ = _post(r.url, body6, hdr6)
            check("two signatures: a receiver knowing only the old secret verifies", st_old == 200, st_old)
            check("two signatures: a receiver knowing only the new secret verifies", st_new == 200, st_new)
            check("two signatures: a receiver knowing neither rejects", st_other == 400, st_other)
            r.set_secrets([other, new])
            st, _ = _post(r.url, body6, hdr6)
            check("a receiver given a list of secrets tries each", st == 200 and r.arrivals[-1].secret_index == 1, r.arrivals[-1].describe())
            r.set_secrets([old])

            # failures on demand
            r.fail("500", 2)
            sts = [_post(r.url, *_signed(old, "evt_7", sample("evt_7")))[0] for _ in range(3)]
            check("fail('500', 2): 500, 500, then 200", sts == [500, 500, 200], sts)
            verdicts = [a.verdict for a in r.arrivals_for("evt_7")]
            check("the failed attempts are recorded with their verification",
                  verdicts == ["failed:500", "failed:500", "accepted"] and all(a.verified for a in r.arrivals_for("evt_7")), verdicts)
            r.fail("503", 1)
            r.fail("close", 1)
            sts = [_post(r.url, *_signed(old, "evt_8", sample("evt_8")))[0] for _ in range(3)]
            check("fail('503', 1) then fail('close', 1): 503, no answer, then 200", sts == [503, "no answer", 200], sts)
            r.fail("503")
            sts = [_post(r.url, *_signed(old, "evt_9", sample("evt_9")))[0] for _ in range(3)]
            r.recover()
            sts.append(_post(r.url, *_signed(old, "evt_9", sample("evt_9")))[0])
            check("fail('503') without a count lasts until recover()", sts == [503, 503, 503, 200], sts)

            # delay: the request is in hand meanwhile; a sender that gives up does not stop the recording
            r.delay(1.5, 1)
            result = {}
            t = threading.Thread(target=lambda: result.update(out=_post(r.url, *_signed(old, "evt_10", sample("evt_10")))))
            t.start()
            held = r.wait(lambda x: x.in_hand() == 1, 3)
            t.join()
            st, took = result["out"]
            check("delay(1.5): the request is in hand while held, then answered 200 after ≥ 1.5 s",
                  held and st == 200 and took >= 1.4 and r.in_hand() == 0, (held, st, took))
            r.delay(1.0, 1)
            st, took = _post(r.url, *_signed(old, "evt_11", sample("evt_11")), timeout=0.3)
            r.wait(lambda x: x.in_hand() == 0, 3)
            a = r.arrivals_for("evt_11")[-1]
            check("a sender that gives up while the answer is held: still recorded once answered (accepted)",
                  st != 200 and a.verdict == "accepted", (st, a.describe()))

            # chunked transfer coding
            body12, hdr12 = _signed(old, "evt_12", sample("evt_12"))

            def chunks():
                yield body12[:10]
                yield body12[10:]
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=10)
            conn.request("POST", "/hook", body=chunks(), headers=hdr12, encode_chunked=True)
            st = conn.getresponse().status
            conn.close()
            check("a chunked body is read whole and verified", st == 200 and r.arrivals[-1].body == body12, (st, r.arrivals[-1].describe()))

            check("wait() returns at once when the condition already holds", r.wait(lambda x: len(x.arrivals) > 0, 0.1))
            check("wait() gives up after its timeout", r.wait(lambda x: False, 0.3) is False)
    except Exception:
        check("self-test ran to the end", False, traceback.format_exc())
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def serve(args):
    r = WebhookReceiver(args.secret, name="receiver", port=args.port, log=lambda line: print(line, flush=True))
    for spec in args.fail or ():
        mode, _, count = spec.partition(":")
        r.fail(mode, int(count) if count else None)
    for spec in args.delay or ():
        secs, _, count = spec.partition(":")
        r.delay(float(secs), int(count) if count else 1)
    r.start()
    print(f"listening on {r.url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        r.stop()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--self-test", action="store_true", help="check the receiver against messages the library signs")
    ap.add_argument("--serve", action="store_true", help="run a receiver in the foreground")
    ap.add_argument("--secret", action="append", default=[], help="a whsec_ secret (repeatable)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fail", action="append", help="MODE[:COUNT], MODE one of 500, 503, close")
    ap.add_argument("--delay", action="append", help="SECONDS[:COUNT]")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if args.serve:
        return serve(args)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
