#!/usr/bin/env python3
"""A signed-in browser session for scripts/bench/flows.sh, without a browser.

Plays the browser's half of two authenticator ceremonies over HTTP (the same requests the login
and enrolment pages' script sends, docs/sign-in.md) and drives the `sigil-authenticator` CLI as the
phone:

  1. the first administrator's one-time link (printed by `sigil serve`): POST /enroll/{token}/device
     with the new user's email and name, `sigil-authenticator enroll LINK`, wait for `completed`,
     POST …/complete (the enrolment signs that browser in; this session is not used further);
  2. a fresh browser signs in with a QR code: POST /login/qr/start, `sigil-authenticator scan` of the
     code's deep link, wait for `scanned` and read the number, `sigil-authenticator approve
     --number N --yes`, wait for `approved`, POST …/complete.

Prints the session cookie of step 2 as `name=value` on stdout (nothing else); progress and errors
go to stderr. Exits 1 when a step fails. Standard library only.

    flows_session.py --base http://127.0.0.1:PORT --enrol-link URL --authenticator BIN --home DIR
"""
import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class Failure(Exception):
    pass


class Browser:
    """Just enough of a browser: a cookie jar keyed by name (one host), the page's Origin on POSTs."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        self.cookies = {}
        # Redirects are answers to read, not to follow.
        self.opener = urllib.request.build_opener(NoRedirect)

    def request(self, method, path, body=None):
        headers = {"Accept": "application/json", "User-Agent": "sigil-bench-flows/1 (Linux)"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method != "GET":
            headers["Origin"] = self.base
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            response = self.opener.open(req, timeout=15)
            status, text, header_list = response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as error:
            status, text, header_list = error.code, error.read().decode(errors="replace"), error.headers
        for value in header_list.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            name, _, cookie = pair.partition("=")
            attributes = value.lower()
            if cookie == "" or "max-age=0" in attributes:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = cookie.strip()
        return status, text

    def json(self, method, path, body=None, expect=200):
        status, text = self.request(method, path, body)
        if status != expect:
            raise Failure(f"{method} {path}: expected {expect}, got {status}: {text[:300]}")
        return json.loads(text) if text else {}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def log(message):
    print(f"flows_session: {message}", file=sys.stderr, flush=True)


def cli(binary, home, command, *argv):
    r = subprocess.run([binary, command, "--home", home, *argv], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Failure(f"sigil-authenticator {command} exited {r.returncode}: {(r.stdout + r.stderr).strip()[:500]}")
    return r.stdout


def wait_state(browser, started, wanted, timeout=30.0):
    """Polls the transaction's snapshot (the page's fallback to server-sent events) until `wanted`."""
    deadline = time.monotonic() + timeout
    snapshot = {}
    while time.monotonic() < deadline:
        snapshot = browser.json("GET", started["status"])
        if snapshot.get("state") == wanted:
            return snapshot
        if snapshot.get("state") in ("denied", "expired"):
            raise Failure(f"transaction {started['transaction']} ended {snapshot.get('state')} ({snapshot.get('reason')})")
        time.sleep(0.1)
    raise Failure(f"transaction {started['transaction']} did not reach {wanted}: {snapshot}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--enrol-link", required=True, help="the first administrator's link printed by sigil serve")
    ap.add_argument("--authenticator", required=True, help="the sigil-authenticator binary")
    ap.add_argument("--home", required=True, help="a fresh state directory for the CLI")
    ap.add_argument("--email", default="bench@example.com")
    args = ap.parse_args()
    base = args.base.rstrip("/")
    link_path = urllib.parse.urlsplit(args.enrol_link).path
    token = link_path.rsplit("/", 1)[-1]

    # 1. The phone becomes the first administrator's first sign-in method.
    enrolling = Browser(base)
    started = enrolling.json("POST", f"/enroll/{token}/device",
                             {"email": args.email, "given_name": "Bench", "family_name": "Flows"})
    if not started.get("link"):
        raise Failure(f"the enrolment answer has no link: {started}")
    cli(args.authenticator, args.home, "enroll", started["link"], "--name", "bench CLI", "--yes")
    wait_state(enrolling, started, "completed")
    enrolling.json("POST", f"/login/transactions/{started['transaction']}/complete", {})
    log(f"enrolled {args.email} with the CLI")

    # 2. A new browser signs in with a QR code approved on the CLI.
    browser = Browser(base)
    started = browser.json("POST", "/login/qr/start", {})
    if not started.get("deep_link"):
        raise Failure(f"the QR start answer has no deep link: {started}")
    cli(args.authenticator, args.home, "scan", started["deep_link"])
    scanned = wait_state(browser, started, "scanned")
    number = scanned.get("number")
    if not number:
        raise Failure(f"no number shown after the scan: {scanned}")
    cli(args.authenticator, args.home, "approve", "--number", str(number), "--yes")
    wait_state(browser, started, "approved")
    done = browser.json("POST", f"/login/transactions/{started['transaction']}/complete", {})
    sessions = {k: v for k, v in browser.cookies.items() if k.endswith("sigil_session_default")}
    if len(sessions) != 1:
        raise Failure(f"expected one session cookie after completing, have {sorted(browser.cookies)}")
    # The session works: /account answers 200 instead of sending us to /login.
    check = Browser(base)
    check.cookies = dict(sessions)
    status, text = check.request("GET", "/account")
    if status != 200:
        raise Failure(f"GET /account with the new session: {status} {text[:200]}")
    log(f"signed in by QR code (redirect {done.get('redirect')})")
    name, value = next(iter(sessions.items()))
    print(f"{name}={value}")


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        log(f"FAILED: {failure}")
        sys.exit(1)
