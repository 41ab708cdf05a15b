#!/usr/bin/env python3
"""Interop: step-up with the Sigil authenticator after an upstream OIDC sign-in.

The real `sigil serve`, idpyoidc's OP (interop/oidc_upstream_op.py) as the upstream, headless
Chromium, a downstream OIDC client (authlib) and the real `sigil-authenticator` CLI as the phone.
A connection `opsu` is made without step-up; its users sign in once (JIT) and enrol the CLI from
/account (POST /account/devices/enroll, the link given to `sigil-authenticator enroll`); paula also
adds a passkey (Chromium's virtual authenticator); nora enrols nothing. Then PATCH step_up true:

  1. stella (device, no passkey) from the downstream client: the step-up page offers only
     "Approve on my phone" (#step-up-push); clicking it shows the number; the push reaches only her
     phone (wendy's phone neither sees nor can approve it); `approve --number N` lands the browser at
     the client, whose ID token has amr fed + swk + mca + mfa (and no `user`: `--yes` reports no
     user verification) and acr urn:sigil:acr:authenticator.
  2. wendy types a wrong number, dennis declines: the page says so, no session.
  3. rita, driven with `requests`: the push refused to another browser and another origin; the
     push answer {transaction, number, events, status}; approved on her phone with a confirmation
     typed on a terminal (a pty: user verification `presence`, so amr also has `user`); the approved
     push cannot be redeemed by the sign-in route (/login/transactions/{tx}/complete, with her own
     cookies), nor by a browser without her cookies, nor by another browser with its own binding
     cookie (403 problem+json step-up-refused); her browser redeems it once (a session, /account
     says swk/user/mca), a second redeem is refused, and the sign-in route still refuses it.
  4. paula (passkey and device) sees both buttons.
  5. nora (neither) gets stepUpUnavailable ("passkey or authenticator") at the continue step.
Audit: upstream.signed_in with step_up authenticator for stella and rita; upstream.oidc.rejected
for the refused redeem. Also `create-oidc --step-up` shows step_up true.

    /opt/peers-venv/bin/python interop/upstream_stepup_authenticator.py [--sigil .build/debug/sigil]
        [--authenticator .build/debug/sigil-authenticator] [--artifacts DIR]

Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if anything failed.
"""
import argparse, base64, hashlib, html, json, os, pty, re, secrets, shutil, subprocess, sys, tempfile, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from passkey_signin import check, free_port, make_driver, report_and_exit, start_sigil, stop_sigil  # noqa: E402
from oidc_upstream import SESSION, SigilRP, cli, error_code, error_text, json_of, page_error, register, wait_until  # noqa: E402
from oidc_upstream_op import UpstreamOP  # noqa: E402

import requests  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.common.security import generate_token  # noqa: E402
from authlib.jose import JsonWebKey, JsonWebToken  # noqa: E402

CONNECTION = "opsu"
DISPLAY = "Acme OP step-up"
BINDING = "sigil_login_default"
STEP_UP_PAGE = "body[data-page='step-up']"
AUTHENTICATOR_ACR = "urn:sigil:acr:authenticator"
NOTES = []  # observations outside the contract, printed at the end


class ClientPages:
    """The downstream client's redirect URI: any GET answers a small page (the code stays in the URL)."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                body = b"<html><body><h1 id='rp-callback'>rp callback</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def shutdown(self):
        self.httpd.shutdown()


class Phone:
    """One `sigil-authenticator` state directory (a phone of one user)."""

    def __init__(self, binary, home, who):
        self.binary, self.home, self.who = binary, home, who

    def run(self, *argv, timeout=60, terminal_answer=None):
        cmd = [self.binary, argv[0], "--home", self.home, *argv[1:]]
        if terminal_answer is None:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            rc, out, err = r.returncode, r.stdout, r.stderr
        else:
            # stdin is a terminal (a pty): the CLI asks "Approve …? [y/N]" and reports `presence`.
            master, slave = pty.openpty()
            p = subprocess.Popen(cmd, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            os.close(slave)
            os.write(master, (terminal_answer + "\n").encode())
            try:
                out, err = p.communicate(timeout=timeout)
            finally:
                os.close(master)
            rc = p.returncode
        print(f"  $ [{self.who}'s phone] sigil-authenticator {' '.join(argv)} -> {rc}\n"
              + "".join("    " + line + "\n" for line in (out + err).splitlines()[:12]), flush=True)
        return subprocess.CompletedProcess(cmd, rc, out, err)


class DeviceKey:
    """A phone's enrolment read from the CLI's state file, signing like a device (docs/authenticator-protocol.md
    §1.2 approvals, §1.4 signed requests) with Python's `cryptography`: to send what Sigil's own CLI never would
    (another user's device answering a push)."""

    def __init__(self, home):
        with open(os.path.join(home, "state.json")) as f:
            e = json.load(f)["enrolments"][0]
        self.issuer, self.device_id = e["issuer"], e["device_id"]
        scalar = int.from_bytes(b64u_decode(e["key"]["private_key"]), "big")
        self.key = ec.derive_private_key(scalar, ec.SECP256R1())

    def sign(self, message):
        return b64u(self.key.sign(message.encode(), ec.ECDSA(hashes.SHA256())))

    def request(self, method, path, body=None):
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        ts, nonce = str(int(time.time())), b64u(secrets.token_bytes(16))
        body_hash = b64u(hashlib.sha256(raw).digest())
        signed = "\n".join(["sigil-authenticator/v1 request", method, self.issuer + path, self.device_id, ts, nonce, body_hash])
        headers = {"Sigil-Device": self.device_id, "Sigil-Timestamp": ts, "Sigil-Nonce": nonce, "Sigil-Signature": self.sign(signed),
                   "Accept": "application/json"}
        if raw:
            headers["Content-Type"] = "application/json"
        return requests.request(method, self.issuer + path, data=raw or None, headers=headers, timeout=15)

    def approval(self, view, number, decision="approve", uv="none"):
        return self.sign("\n".join(["sigil-authenticator/v1 approval", self.issuer, view["transaction"], view["challenge"], view["origin"],
                                     number, decision, uv]))


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def loads(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def flow_of(page):
    m = re.search(r'id="step-up-form"[^>]*data-flow="([^"]+)"', page or "")
    return html.unescape(m.group(1)) if m else ""


def number_shown(driver):
    els = driver.find_elements(By.ID, "step-up-number")
    t = els[0].text.strip() if els else ""
    return t if re.fullmatch(r"\d\d", t) else None


def status_text(driver):
    els = driver.find_elements(By.ID, "status")
    return els[0].text if els else ""


def transactions_in(text):
    return sorted(set(re.findall(r"ltx_[A-Za-z0-9_-]+", text or "")))


def claims_of(id_token, smeta):
    jwks = JsonWebKey.import_key_set(requests.get(smeta["jwks_uri"], timeout=10).json())
    claims = JsonWebToken(["RS256", "ES256", "EdDSA"]).decode(id_token, jwks)
    claims.validate(leeway=5)
    return dict(claims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--authenticator", default=os.environ.get("SIGIL_AUTHENTICATOR_BIN", ".build/debug/sigil-authenticator"))
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    binary, phone_binary = os.path.abspath(args.sigil), os.path.abspath(args.authenticator)
    work = tempfile.mkdtemp(prefix="sigil-stepup-authenticator-")
    artifacts = args.artifacts or work
    os.makedirs(artifacts, exist_ok=True)
    data = os.path.join(work, "data")
    port = free_port()
    base = f"http://localhost:{port}"
    t0 = time.time()
    proc, _ = start_sigil(binary, data, port)
    op = UpstreamOP(os.path.join(work, "op"))
    client_pages = ClientPages()
    driver = None
    label = "step-up (authenticator)"
    try:
        if not check(f"{label}: the sigil-authenticator CLI exists ({phone_binary})", os.access(phone_binary, os.X_OK)):
            return
        ready = False
        try:
            ready = requests.get(base + "/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            pass
        if not check(f"{label}: sigil serve is ready", ready):
            return
        token = cli(binary, data, "admin", "token", "create").stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        api = f"{base}/api/admin/v1"
        phones = {}

        def phone(who):
            if who not in phones:
                phones[who] = Phone(phone_binary, os.path.join(work, f"phone-{who}"), who)
            return phones[who]

        # `create-oidc --step-up` says so (then goes).
        made = register(binary, data, base, op, "opsu-cli", "sigil-opsu-cli", "Step-up CLI", "--step-up")
        check(f"{label}: sigil upstream create-oidc --step-up --json shows step_up true", made.get("step_up") is True, str(made)[:300])
        cli(binary, data, "upstream", "delete", "--tenant", "default", "--name", "opsu-cli")

        made = register(binary, data, base, op, CONNECTION, "sigil-" + CONNECTION, DISPLAY)
        if not check(f"{label}: connection {CONNECTION} without --step-up (step_up false)", bool(made) and made.get("step_up") is False,
                     str(made)[:300]):
            return
        rp = SigilRP(binary, data, base, op, CONNECTION, token)
        redirect_uri = client_pages.base + "/cb"
        r = cli(binary, data, "app", "create-oidc", "--tenant", "default", "--name", "step-up client", "--redirect-uri", redirect_uri, "--json")
        reg = json.loads(r.stdout or "{}") if r.returncode == 0 else {}
        if not check(f"{label}: a downstream OIDC client is registered", bool(reg.get("client_id")), r.stdout + r.stderr):
            return
        smeta = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()

        def authorize():
            verifier, nonce, state = generate_token(64), generate_token(20), generate_token(20)
            oauth = OAuth2Session(reg["client_id"], reg["client_secret"], scope="openid email profile", redirect_uri=redirect_uri,
                                  state=state, code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
            url, _ = oauth.create_authorization_url(smeta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, state=state)
            return oauth, url, verifier, nonce

        # --- the users sign in once (step-up off: JIT) and enrol the CLI from /account ---
        people = {"stella": "Stella", "wendy": "Wendy", "dennis": "Dennis", "rita": "Rita", "nora": "Nora", "paula": "Paula"}
        for who, given in people.items():
            op.add_user(who, f"{who}@example.org", given, "Stepup")

        def enrol_phone(who, b):
            """POST /account/devices/enroll (the account page's 'Add a phone') and `sigil-authenticator enroll LINK`."""
            r = b.post(base + "/account/devices/enroll", json={}, headers={"Origin": base}, timeout=10)
            link = (json_of(r) or {}).get("link")
            if not check(f"{label}: {who}'s /account starts a phone enrolment (a link)", r.status_code == 200 and bool(link),
                         f"{r.status_code} {r.text[:200]}"):
                return False
            e = phone(who).run("enroll", link, "--name", f"{who}'s CLI", "--yes")
            return check(f"{label}: {who}'s sigil-authenticator enrolled from the link", e.returncode == 0, e.stdout + e.stderr)

        for who in ("stella", "wendy", "dennis", "rita", "nora"):
            b = rp.browser()
            out = rp.deliver(b, rp.op_login(rp.start(b), who))
            if not check(f"{label} off: {who} signs in through {CONNECTION} (JIT, no step-up page)", out.accepted, out.describe()):
                return
            if who != "nora":
                page = b.get(base + "/account", timeout=10).text
                if enrol_phone(who, b):
                    page = b.get(base + "/account", timeout=10).text
                    check(f"{label}: {who}'s /account lists the phone", f"{who}&#39;s CLI" in page or f"{who}'s CLI" in page
                          or f"{who}&#x27;s CLI" in page, re.sub(r"\s+", " ", page)[:300])

        # paula, in Chromium: a passkey (virtual authenticator) and a phone.
        driver, auth = make_driver()
        driver.get(f"{base}/login/upstream/{CONNECTION}?return_to=/account")
        wait_until(driver, lambda d: d.find_elements(By.ID, "op-username"))
        driver.find_element(By.ID, "op-username").send_keys("paula")
        driver.find_element(By.ID, "op-submit").click()
        wait_until(driver, lambda d: d.find_elements(By.ID, "add-passkey") or d.find_elements(By.ID, "error"), 30)
        if driver.find_elements(By.ID, "add-passkey"):
            driver.find_element(By.ID, "add-passkey").click()
            wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#passkeys li"), 20)
        creds = driver.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": auth})["credentials"]
        check(f"{label}: paula signed in through {CONNECTION} and added a passkey on /account", len(creds) == 1,
              f"{driver.current_url} {page_error(driver)} {len(creds)} credentials")
        paula = requests.Session()
        for c in driver.get_cookies():
            paula.cookies.set(c["name"], c["value"])
        enrol_phone("paula", paula)
        for c in creds:  # so that no page of Sigil's signs in with it by itself later
            driver.execute_cdp_cmd("WebAuthn.removeCredential", {"authenticatorId": auth, "credentialId": c["credentialId"]})

        # --- the admin turns step-up on ---
        r = requests.patch(f"{api}/upstreams/{CONNECTION}", headers=headers, json={"step_up": True}, timeout=10)
        if not check(f"{label}: PATCH /api/admin/v1/upstreams/{CONNECTION} {{step_up: true}}: 200, step_up true",
                     r.status_code == 200 and (json_of(r) or {}).get("step_up") is True, f"{r.status_code} {r.text[:300]}"):
            return
        print(f"  (set-up took {time.time() - t0:.0f} s)", flush=True)

        # --- 1. stella from the downstream client: push, number, approve ---
        what = f"{label}, stella from the OIDC client"
        driver.get(base + "/healthz")
        driver.delete_all_cookies()
        oauth, url, verifier, nonce = authorize()
        driver.get(url)
        wait_until(driver, lambda d: d.find_elements(By.ID, f"upstream-{CONNECTION}"))
        driver.find_element(By.ID, f"upstream-{CONNECTION}").click()
        wait_until(driver, lambda d: d.find_elements(By.ID, "op-username"))
        driver.find_element(By.ID, "op-username").send_keys("stella")
        driver.find_element(By.ID, "op-submit").click()
        wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, STEP_UP_PAGE) or d.find_elements(By.ID, "error")
                   or d.current_url.startswith(redirect_uri), 30)
        driver.save_screenshot(os.path.join(artifacts, "step-up-authenticator-page.png"))
        if not check(f"{what}: after the OP and the browser step, the step-up page (data-page=step-up)",
                     bool(driver.find_elements(By.CSS_SELECTOR, STEP_UP_PAGE)), f"{driver.current_url} {page_error(driver)}"):
            return
        flow = driver.find_element(By.ID, "step-up-form").get_attribute("data-flow") or ""
        push_btn = driver.find_elements(By.ID, "step-up-push")
        check(f"{what}: only #step-up-push ('Approve on my phone'), no #step-up-button (she has no passkey); a flow upoidc_…",
              bool(push_btn) and "Approve on my phone" in push_btn[0].text and not driver.find_elements(By.ID, "step-up-button")
              and flow.startswith("upoidc_"), f"push {[b.text for b in push_btn]} passkey button "
              f"{bool(driver.find_elements(By.ID, 'step-up-button'))} flow {flow!r}")
        intro = driver.find_element(By.TAG_NAME, "main").text if driver.find_elements(By.TAG_NAME, "main") else driver.page_source
        check(f"{what}: the page names the connection and asks for the Sigil authenticator (not the passkey)",
              DISPLAY in intro and "Sigil authenticator" in intro and "passkey" not in intro.split("Approve")[0], intro[:300])
        check(f"{what}: no number and no session before the click", number_shown(driver) is None and session_of_page(driver) is None)
        driver.find_element(By.ID, "step-up-push").click()
        wait_until(driver, lambda d: number_shown(d) or "error" in (d.find_element(By.ID, "status").get_attribute("class") or ""), 15)
        number = number_shown(driver)
        if not check(f"{what}: the click shows a two-digit number (#step-up-number) and tells her to enter it",
                     bool(number) and number in status_text(driver), f"number {number!r} status {status_text(driver)!r}"):
            return
        p = phone("stella").run("pending", "--wait", "10")
        txs = transactions_in(p.stdout)
        check(f"{what}: the push is pending on stella's phone", p.returncode == 0 and len(txs) == 1, p.stdout + p.stderr)
        check(f"{what}: the phone's request names the connection's sign-in", DISPLAY in p.stdout, p.stdout[:300])
        check(f"{what}: the phone is not told the number", not re.search(rf"(?<![\d:.-]){number}(?![\d:.-])",
              re.sub(r"ltx_\S+|\d{4}-\d\d-\d\dT[\d:.]+Z?|\d+\.\d+\.\d+\.\d+", "", p.stdout)), p.stdout[:300])
        q = phone("wendy").run("pending")
        check(f"{what}: another user's phone (wendy's) has nothing pending", q.returncode == 3 and not transactions_in(q.stdout), q.stdout)
        if txs:
            q = phone("wendy").run("approve", "--transaction", txs[0], "--number", number, "--yes")
            check(f"{what}: wendy's CLI will not approve it (approve --transaction TX: not one of her requests)",
                  q.returncode != 0, q.stdout + q.stderr)
            # The same, at the protocol level: wendy's device key signs a correct approval of stella's push.
            mine, hers = DeviceKey(phone("stella").home), DeviceKey(phone("wendy").home)
            r = mine.request("GET", f"/authenticator/v1/transactions/{txs[0]}")
            view = json_of(r) or {}
            check(f"{what}: (a device client in Python) stella's device reads the push's request view (signed §1.4 GET)",
                  r.status_code == 200 and view.get("transaction") == txs[0] and bool(view.get("challenge")), f"{r.status_code} {r.text[:200]}")
            r = hers.request("GET", f"/authenticator/v1/transactions/{txs[0]}")
            check(f"{what}: wendy's device (signed) cannot read stella's push: 404", r.status_code == 404, f"{r.status_code} {r.text[:200]}")
            if view.get("challenge"):
                r = hers.request("POST", f"/authenticator/v1/transactions/{txs[0]}/approve",
                                 {"number": number, "user_verification": "none", "signature": hers.approval(view, number)})
                check(f"{what}: wendy's device posting a well-signed approval of stella's push with the right number: 404, not approved",
                      r.status_code == 404, f"{r.status_code} {r.text[:200]}")
                print(f"    (wendy's approve: {r.status_code} {r.text[:160]})")
                st = loads(driver.execute_async_script(
                    "const done = arguments[arguments.length - 1];"
                    "fetch(arguments[0], {credentials: 'same-origin', cache: 'no-store'}).then(r => r.text()).then(done).catch(e => done(String(e)));",
                    f"{base}/login/transactions/{txs[0]}"))
                check(f"{what}: the push is still waiting for stella (her browser's status) and the page still shows the number",
                      (st or {}).get("state") == "waiting" and number_shown(driver) == number, f"{st} {number_shown(driver)!r}")
        a = phone("stella").run("approve", "--number", number, "--yes")
        check(f"{what}: approve --number N on stella's phone succeeds", a.returncode == 0, a.stdout + a.stderr)
        reached = wait_until(driver, lambda d: d.current_url.startswith(redirect_uri), 30)
        driver.save_screenshot(os.path.join(artifacts, "step-up-authenticator-done.png"))
        if check(f"{what}: the browser lands at the downstream client with a code", reached and "code=" in driver.current_url,
                 f"{driver.current_url} status {status_text(driver)!r}"):
            tok = oauth.fetch_token(smeta["token_endpoint"], authorization_response=driver.current_url, code_verifier=verifier)
            claims = claims_of(tok["id_token"], smeta)
            amr = claims.get("amr") or []
            check(f"{what}: the ID token is stella's (email, nonce)", claims.get("email") == "stella@example.org"
                  and claims.get("nonce") == nonce, json.dumps(claims)[:300])
            check(f"{what}: amr has fed, swk, mca and mfa (the upstream's and the authenticator's methods)",
                  all(m in amr for m in ("fed", "swk", "mca", "mfa")), f"amr {amr}")
            check(f"{what}: amr has no user/face/fpt/pin (`approve --yes` reports user verification none)",
                  not any(m in amr for m in ("user", "face", "fpt", "pin")), f"amr {amr}")
            check(f"{what}: acr is {AUTHENTICATOR_ACR}", claims.get("acr") == AUTHENTICATOR_ACR, f"acr {claims.get('acr')}")
        driver.get(base + "/account")
        check(f"{what}: signed in to Sigil as stella", "stella@example.org" in driver.page_source, driver.current_url)
        again = phone("stella").run("approve", "--number", number, "--yes")
        check(f"{what}: approving the finished push again is refused", again.returncode != 0, again.stdout + again.stderr)

        # --- 2. a wrong number (wendy) and a declined push (dennis): the page says so, no session ---
        def stopped_at_step_up(who):
            driver.get(base + "/healthz")
            driver.delete_all_cookies()
            driver.get(f"{base}/login/upstream/{CONNECTION}?return_to=/account")
            wait_until(driver, lambda d: d.find_elements(By.ID, "op-username"))
            driver.find_element(By.ID, "op-username").send_keys(who)
            driver.find_element(By.ID, "op-submit").click()
            wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, STEP_UP_PAGE) or d.find_elements(By.ID, "error"), 30)
            return bool(driver.find_elements(By.CSS_SELECTOR, STEP_UP_PAGE))

        for who, how, said in (("wendy", "a wrong number", "did not match"), ("dennis", "declined on the phone", "declined")):
            what = f"{label}, {who}: {how}"
            if not check(f"{what}: the step-up page", stopped_at_step_up(who), f"{driver.current_url} {page_error(driver)}"):
                continue
            driver.find_element(By.ID, "step-up-push").click()
            wait_until(driver, lambda d: number_shown(d), 15)
            number = number_shown(driver)
            p = phone(who).run("pending", "--wait", "10")
            if not check(f"{what}: the push is pending on {who}'s phone", p.returncode == 0 and bool(transactions_in(p.stdout)), p.stdout):
                continue
            if who == "wendy":
                wrong = "10" if number != "10" else "11"
                a = phone(who).run("approve", "--number", wrong, "--yes")
                check(f"{what}: the phone's approve is refused (wrong-number)", a.returncode == 1 and "wrong-number" in a.stdout + a.stderr,
                      a.stdout + a.stderr)
            else:
                a = phone(who).run("deny")
                check(f"{what}: the phone's deny succeeds", a.returncode == 0, a.stdout + a.stderr)
            shown = wait_until(driver, lambda d: said in status_text(d), 15)
            driver.save_screenshot(os.path.join(artifacts, f"step-up-authenticator-{who}.png"))
            check(f"{what}: the step-up page says so ('{said}'), the number is gone", shown and number_shown(driver) is None,
                  f"status {status_text(driver)!r}")
            check(f"{what}: still on the step-up page, no session", bool(driver.find_elements(By.CSS_SELECTOR, STEP_UP_PAGE))
                  and session_of_page(driver) is None, f"{driver.current_url} {driver.get_cookie(SESSION)}")
            if who == "wendy":
                # Not in the contract, recorded: the page offers the button again at once, but Sigil sends a user at most
                # one push every 30 s and answers a suppressed one like a sent one (the identifier-first decoy).
                again = driver.find_element(By.ID, "step-up-push")
                enabled = again.is_enabled()
                if enabled:
                    again.click()
                    wait_until(driver, lambda d: number_shown(d), 10)
                    retry_number, retry_status = number_shown(driver), status_text(driver)
                    p = phone(who).run("pending", "--wait", "4")
                    if retry_number and p.returncode == 3:
                        NOTES.append(f"after a wrong number the step-up page re-enables 'Approve on my phone' at once; clicking it "
                                     f"within 30 s shows a number ({retry_number}) and says {retry_status!r}, but nothing reaches the "
                                     "phone (Sigil's 30 s push spacing; the push stays a decoy until it expires, see the audit's "
                                     "authenticator.push_suppressed below); the login page's push button stays disabled for 30 s")
                    else:
                        print(f"  (retry after a wrong number: number {retry_number!r}, phone rc {p.returncode})")
            driver.get(base + "/account")
            check(f"{what}: /account asks to sign in", urllib.parse.urlparse(driver.current_url).path == "/login", driver.current_url)

        # --- 3. rita, without a browser: binding, the sign-in route, other browsers, replay ---
        what = f"{label}, rita (requests)"
        b = rp.browser()
        out = rp.deliver(b, rp.op_login(rp.start(b), "rita"))
        flow = flow_of(out.continue_body)
        if not check(f"{what}: the continue step answers the step-up page with only the push button, no session",
                     out.continue_status == 200 and flow.startswith("upoidc_") and 'id="step-up-push"' in out.continue_body
                     and 'id="step-up-button"' not in out.continue_body and not out.accepted, out.describe()):
            return
        push_url, redeem_url = base + "/login/upstream/step-up/push", base + "/login/upstream/step-up/authenticator"
        stranger = requests.Session()
        r = stranger.post(push_url, json={"flow": flow}, headers={"Origin": base}, timeout=10)
        check(f"{what}: POST /login/upstream/step-up/push from a browser without her cookies: 403 problem+json step-up-refused",
              r.status_code == 403 and (r.headers.get("Content-Type") or "").startswith("application/problem+json")
              and (json_of(r) or {}).get("type", "").endswith("step-up-refused"), f"{r.status_code} {r.text[:200]}")
        r = requests.post(push_url, json={"flow": flow}, cookies={BINDING: b.cookies.get(BINDING)}, headers={"Origin": "https://evil.example"},
                          timeout=10)
        check(f"{what}: the push from another origin (with her binding cookie): 403", r.status_code == 403, f"{r.status_code} {r.text[:200]}")
        q = phone("rita").run("pending")
        check(f"{what}: those refused starts sent nothing to her phone", q.returncode == 3, q.stdout)
        r = b.post(push_url, json={"flow": flow}, headers={"Origin": base}, timeout=10)
        started = json_of(r) or {}
        tx, number = started.get("transaction", ""), started.get("number", "")
        check(f"{what}: her push: 200 {{transaction, number, events, status}}, Cache-Control no-store",
              r.status_code == 200 and tx.startswith("ltx_") and re.fullmatch(r"\d\d", number or "") is not None
              and started.get("events", "").endswith(f"/login/transactions/{tx}/events")
              and started.get("status", "").endswith(f"/login/transactions/{tx}") and "no-store" in (r.headers.get("Cache-Control") or ""),
              f"{r.status_code} {r.text[:300]} {r.headers.get('Cache-Control')}")
        if r.status_code != 200:
            return
        snap = json_of(b.get(f"{base}/login/transactions/{tx}", timeout=10)) or {}
        check(f"{what}: its status for her browser: waiting, with the same number", snap.get("state") == "waiting"
              and snap.get("number") == number, str(snap)[:200])
        r = stranger.get(f"{base}/login/transactions/{tx}", timeout=10)
        check(f"{what}: its status for another browser: 4xx", 400 <= r.status_code < 500, f"{r.status_code} {r.text[:200]}")
        p = phone("rita").run("pending", "--wait", "10")
        check(f"{what}: the push is pending on her phone", tx in p.stdout, p.stdout)
        a = phone("rita").run("approve", "--number", number, terminal_answer="y")
        check(f"{what}: approved on her phone, confirmed on a terminal (user verification presence)", a.returncode == 0, a.stdout + a.stderr)
        snap = json_of(b.get(f"{base}/login/transactions/{tx}", timeout=10)) or {}
        check(f"{what}: its status: approved", snap.get("state") == "approved", str(snap)[:200])

        def no_session(resp):
            return SESSION not in (resp.headers.get("Set-Cookie") or "")

        r = b.post(f"{base}/login/transactions/{tx}/complete", json={}, headers={"Origin": base}, timeout=10)
        print(f"    (the sign-in route's answer: {r.status_code} {r.text[:200]})")
        check(f"{what}: the approved push at the sign-in route (/login/transactions/{{tx}}/complete, her own cookies): 4xx, no session",
              400 <= r.status_code < 500 and no_session(r) and b.cookies.get(SESSION) is None, f"{r.status_code} {r.text[:200]}")
        r = stranger.post(redeem_url, json={"flow": flow, "transaction": tx}, headers={"Origin": base}, timeout=10)
        check(f"{what}: redeemed by a browser without her cookies: 403 problem+json step-up-refused, no session",
              r.status_code == 403 and (r.headers.get("Content-Type") or "").startswith("application/problem+json")
              and (json_of(r) or {}).get("type", "").endswith("step-up-refused") and no_session(r), f"{r.status_code} {r.text[:200]}")
        other = rp.browser()
        rp.start(other)  # its own binding cookie
        r = other.post(redeem_url, json={"flow": flow, "transaction": tx}, headers={"Origin": base}, timeout=10)
        check(f"{what}: redeemed by another browser with its own binding cookie: 403 step-up-refused, no session",
              r.status_code == 403 and (json_of(r) or {}).get("type", "").endswith("step-up-refused") and no_session(r),
              f"{r.status_code} {r.text[:200]}")
        r = requests.post(redeem_url, json={"flow": flow, "transaction": tx}, cookies={BINDING: b.cookies.get(BINDING)},
                          headers={"Origin": "https://evil.example"}, timeout=10)
        check(f"{what}: redeemed from another origin (with her binding cookie): 403, no session", r.status_code == 403 and no_session(r),
              f"{r.status_code} {r.text[:200]}")
        # The approval is bound to this one flow: not to another sign-in of the same browser (hers, or stella's).
        for who in ("rita", "stella"):
            out2 = rp.deliver(b, rp.op_login(rp.start(b), who))
            flow2 = flow_of(out2.continue_body)
            if check(f"{what}: the same browser starts another sign-in ({who}) that stops on the step-up page",
                     flow2.startswith("upoidc_") and flow2 != flow and not out2.accepted, out2.describe()):
                r = b.post(redeem_url, json={"flow": flow2, "transaction": tx}, headers={"Origin": base}, timeout=10)
                check(f"{what}: her approved push redeemed for that other flow ({who}'s) in her own browser: 403 step-up-refused, no session",
                      r.status_code == 403 and (json_of(r) or {}).get("type", "").endswith("step-up-refused") and no_session(r)
                      and b.cookies.get(SESSION) is None, f"{r.status_code} {r.text[:200]}")
        r = b.post(redeem_url, json={"flow": flow, "transaction": tx}, headers={"Origin": base}, timeout=10)
        redirect = (json_of(r) or {}).get("redirect", "")
        check(f"{what}: her browser redeems it: 200 {{redirect: /account}} and a session cookie",
              r.status_code == 200 and redirect.endswith("/account") and bool(b.cookies.get(SESSION)), f"{r.status_code} {r.text[:200]}")
        cookie = b.cookies.get(SESSION)
        page = b.get(base + "/account", allow_redirects=False, timeout=10)
        meta = re.search(r'class="meta">([^<]*)<', page.text or "")
        methods = html.unescape(meta.group(1)) if meta else ""
        check(f"{what}: /account is rita's; 'Signed in with' lists fed, swk, user, mca, mfa (presence adds user)",
              page.status_code == 200 and "rita@example.org" in page.text
              and all(re.search(rf"\b{m}\b", methods) for m in ("fed", "swk", "user", "mca", "mfa")), f"{page.status_code} {methods!r}")
        r = b.post(redeem_url, json={"flow": flow, "transaction": tx}, headers={"Origin": base}, timeout=10)
        print(f"    (the second redeem: {r.status_code} {r.text[:200]})")
        check(f"{what}: a second redeem by her browser: 4xx, no new session",
              400 <= r.status_code < 500 and no_session(r) and b.cookies.get(SESSION) == cookie, f"{r.status_code} {r.text[:200]}")
        r = b.post(f"{base}/login/transactions/{tx}/complete", json={}, headers={"Origin": base}, timeout=10)
        check(f"{what}: after the step-up, the sign-in route still refuses the push: 4xx, no new session",
              400 <= r.status_code < 500 and no_session(r), f"{r.status_code} {r.text[:200]}")
        r = b.post(push_url, json={"flow": flow}, headers={"Origin": base}, timeout=10)
        check(f"{what}: the finished flow cannot start another push: 403", r.status_code == 403, f"{r.status_code} {r.text[:200]}")

        # --- 4. paula: a passkey and a phone, both offered ---
        what = f"{label}, paula (passkey and phone)"
        if check(f"{what}: the step-up page", stopped_at_step_up("paula"), f"{driver.current_url} {page_error(driver)}"):
            driver.save_screenshot(os.path.join(artifacts, "step-up-both.png"))
            intro = driver.find_element(By.TAG_NAME, "main").text if driver.find_elements(By.TAG_NAME, "main") else driver.page_source
            check(f"{what}: both #step-up-button ('Continue with my passkey') and #step-up-push ('Approve on my phone')",
                  "Continue with my passkey" in " ".join(e.text for e in driver.find_elements(By.ID, "step-up-button"))
                  and "Approve on my phone" in " ".join(e.text for e in driver.find_elements(By.ID, "step-up-push")), intro[:300])
            check(f"{what}: the page asks for the 'passkey or Sigil authenticator'", "passkey or Sigil authenticator" in intro, intro[:300])

        # --- 5. nora: neither ---
        what = f"{label}, nora (neither passkey nor phone)"
        b = rp.browser()
        out = rp.deliver(b, rp.op_login(rp.start(b), "nora"))
        check(f"{what}: refused at the continue step (400, reason stepUpUnavailable), no session",
              not out.accepted and out.continue_status == 400 and out.code == "stepUpUnavailable", out.describe())
        check(f"{what}: the page says 'passkey or authenticator'", "passkey or authenticator" in (out.error or ""), str(out.error))

        # --- the audit log ---
        events = rp.audit(500)
        signed = [e for e in events if e["action"] == "upstream.signed_in" and (e.get("after") or {}).get("connection") == CONNECTION]
        by = [(e.get("after") or {}).get("step_up") for e in signed]
        check(f"{label}: audit upstream.signed_in for {CONNECTION} with step_up authenticator (stella, rita)", by.count("authenticator") == 2,
              str(by))
        check(f"{label}: audit upstream.signed_in before step-up was on say step_up no (six users)", by.count("no") == 6, str(by))
        rejected = [SigilRP.reason(e) or "" for e in events if e["action"] == "upstream.oidc.rejected"]
        check(f"{label}: audit upstream.oidc.rejected for the refused redeems and nora's stepUpUnavailable",
              any("step-up" in x for x in rejected) and any(x.startswith("stepUpUnavailable") for x in rejected), str(rejected[:8]))
        actions = {e["action"] for e in events}
        suppressed = [SigilRP.reason(e) or (e.get("after") or {}).get("reason") for e in events if e["action"] == "authenticator.push_suppressed"]
        print(f"  audit authenticator.push_suppressed reasons: {suppressed}")
        for action in ("authenticator.device_registered", "authenticator.push_sent", "authenticator.approved", "authenticator.wrong_number"):
            check(f"{label}: audit log has {action}", action in actions, ",".join(sorted(actions)))
        check(f"{label}: the OP saw no server errors", not op.errors, "\n".join(op.errors[-2:])[-600:])
    except Exception as error:  # noqa: BLE001 - an unexpected failure is a failed check
        import traceback
        traceback.print_exc()
        check(f"{label}: the flow ran to the end", False, repr(error))
        if driver:
            driver.save_screenshot(os.path.join(artifacts, "step-up-authenticator-failure.png"))
            print("page at failure:", driver.current_url, driver.page_source[:1500])
    finally:
        for note in NOTES:
            print("NOTE", note)
        if driver:
            driver.quit()
        op.shutdown()
        client_pages.shutdown()
        stop_sigil(proc)
        if artifacts == work:
            shutil.rmtree(work, ignore_errors=True)
        print(f"  (the step-up authenticator suite took {time.time() - t0:.0f} s)")
        report_and_exit()


def session_of_page(driver):
    """The session cookie as the current page (a Sigil page) sees it, without navigating away."""
    return (driver.get_cookie(SESSION) or {}).get("value")


if __name__ == "__main__":
    main()
