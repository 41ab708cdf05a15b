#!/usr/bin/env python3
"""Interop: the real `sigil serve` and headless Chromium with its WebAuthn virtual authenticator.

Enrols the first administrator from the link `sigil serve` prints, signs out, signs in again with
the passkey, and checks the security properties a browser can observe: one-time enrolment links,
one-time challenges (a replayed assertion is refused), cross-origin POSTs refused, the session
cookie's attributes, and the page's Content-Security-Policy.

    /opt/peers-venv/bin/python interop/passkey_signin.py [--sigil .build/debug/sigil] [--artifacts DIR]

Needs Debian's chromium and chromium-driver and `pip install selenium requests` (scripts/install-interop.sh).
Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if anything failed.
"""
import argparse, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from selenium.webdriver.support import expected_conditions as EC
import requests

RESULTS = {"passed": 0, "failed": 0}


# Sigil refuses to fetch from loopback and private addresses unless the operator allows the host;
# the CLI commands these scripts run (create-saml --metadata URL) inherit this too.
OUTBOUND_ALLOW_HOSTS = "127.0.0.1,localhost"
os.environ.setdefault("SIGIL_OUTBOUND_ALLOW_HOSTS", OUTBOUND_ALLOW_HOSTS)


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else f" -- {detail}"), flush=True)
    return ok


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_sigil(binary, data_dir, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGIL_")}
    # The peers run on loopback: the operator setting that lets Sigil fetch their metadata and keys.
    env["SIGIL_OUTBOUND_ALLOW_HOSTS"] = OUTBOUND_ALLOW_HOSTS
    work = os.path.dirname(data_dir)
    err = open(os.path.join(work, "serve.stderr"), "w+")
    out = open(os.path.join(work, "serve.stdout"), "w")
    proc = subprocess.Popen([binary, "serve", "--port", str(port), "--data-dir", data_dir,
                             "--public-url", f"http://localhost:{port}"], stdout=out, stderr=err, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200:
                break
        except Exception:
            time.sleep(0.3)
    link = None
    while time.time() < deadline and not link:
        err.seek(0)
        m = re.search(r"(http://localhost:\d+/enroll/\S+)", err.read())
        link = m.group(1) if m else None
        if not link:
            time.sleep(0.2)
    return proc, link


def launch(prefix):
    """What every browser interop script starts with: its command line (--sigil, --artifacts), a
    fresh work folder, and `sigil serve` running there on a free port as http://localhost:PORT."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    binary = os.path.abspath(args.sigil)
    work = tempfile.mkdtemp(prefix=prefix)
    artifacts = args.artifacts or work
    os.makedirs(artifacts, exist_ok=True)
    port = free_port()
    proc, link = start_sigil(binary, os.path.join(work, "data"), port)
    return binary, work, artifacts, port, f"http://localhost:{port}", proc, link


def stop_sigil(proc):
    """SIGTERM; a failed check unless sigil exits 0 within 30 s (then it is killed)."""
    proc.send_signal(signal.SIGTERM)
    try:
        check("sigil exits 0 on SIGTERM", proc.wait(timeout=30) == 0)
    except subprocess.TimeoutExpired:
        proc.kill()
        check("sigil exits 0 on SIGTERM", False, "timeout")


def report_and_exit():
    """Prints the tally and exits 1 if any check failed."""
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)


def finish(proc, work, artifacts):
    """The end of every browser script: stop sigil, drop the work folder unless --artifacts kept it,
    print the summary and exit."""
    stop_sigil(proc)
    if artifacts == work:  # no --artifacts: nothing to keep
        shutil.rmtree(work, ignore_errors=True)
    report_and_exit()


def audit_events(base, token, limit=200):
    """The newest audit events, through the admin API."""
    return requests.get(f"{base}/api/admin/v1/audit-events?limit={limit}", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).json()["items"]


def make_driver(logs=False):
    """Headless Chromium with the WebAuthn virtual authenticator; `logs` also keeps the console
    (browser) and network events (performance) so a script can read them afterwards."""
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1024,800"):
        o.add_argument(a)
    if logs:
        o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        o.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    driver.execute_cdp_cmd("WebAuthn.enable", {"enableUI": False})
    auth = driver.execute_cdp_cmd("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return driver, auth["authenticatorId"]


def enrol_first_admin(link, email, given, family):
    """Opens the first-administrator link printed by `sigil serve` in a new headless Chromium with a
    virtual authenticator, registers a passkey for the given person and waits for /account.
    Returns (driver, authenticator id)."""
    driver, authenticator = make_driver()
    driver.get(link)
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "given_name").send_keys(given)
    driver.find_element(By.ID, "family_name").send_keys(family)
    driver.find_element(By.ID, "enroll-button").click()
    wait_path(driver, "/account")
    return driver, authenticator


def wait_path(driver, suffix, timeout=20):
    WebDriverWait(driver, timeout).until(lambda d: d.current_url.split("?")[0].endswith(suffix))


def main():
    binary, work, artifacts, port, base, proc, link = launch("sigil-passkey-")
    driver = None
    try:
        if not check("sigil serve printed an enrolment link", bool(link)):
            return
        driver, authenticator = make_driver()

        # --- enrol the first administrator ---
        driver.get(link)
        check("enrolment page renders", "Set up your sign-in" in driver.page_source)
        driver.save_screenshot(os.path.join(artifacts, "enroll.png"))
        driver.find_element(By.ID, "email").send_keys("ada@example.com")
        driver.find_element(By.ID, "given_name").send_keys("Ada")
        driver.find_element(By.ID, "family_name").send_keys("Lovelace")
        driver.find_element(By.ID, "enroll-button").click()
        try:
            wait_path(driver, "/account")
            check("enrolment with a virtual passkey lands on /account", True)
        except Exception:
            check("enrolment with a virtual passkey lands on /account", False,
                  driver.find_element(By.ID, "status").text if driver.find_elements(By.ID, "status") else driver.current_url)
            return
        check("account page shows the enrolled user", driver.find_element(By.ID, "account-email").text.startswith("ada@example.com"))
        check("the first user is an administrator", "administrator" in driver.find_element(By.ID, "account-email").text)
        creds = driver.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        check("the authenticator holds one resident credential", len(creds) == 1 and creds[0]["isResidentCredential"], str(creds))
        cookie = driver.get_cookie("sigil_session_default")
        check("session cookie is HttpOnly and SameSite=Lax", bool(cookie) and cookie.get("httpOnly") and cookie.get("sameSite") == "Lax", str(cookie))
        driver.save_screenshot(os.path.join(artifacts, "account.png"))

        # --- the enrolment link is single use ---
        r = requests.get(link, timeout=10)
        check("a used enrolment link is refused", r.status_code == 404 and "invalid, used or expired" in r.text, str(r.status_code))

        # --- sign out: the session is revoked server-side ---
        old_cookie = cookie["value"]
        sign_out = driver.find_element(By.ID, "sign-out")
        sign_out.click()
        # Wait for the sign-out POST to be answered: the old /account page goes away first
        # (checking the URL alone would match the page we are still on).
        def signed_out_page_gone(_):
            # Chromium reports a node of the unloaded page either as stale or, mid-navigation, as
            # "does not belong to the document": both mean the old page is gone.
            try:
                sign_out.is_enabled()
                return False
            except Exception:
                return True
        WebDriverWait(driver, 20).until(signed_out_page_gone)
        # /login starts conditional mediation (passkey autofill); the virtual authenticator answers
        # it by itself, so the browser signs straight back in with a new session. Wait for it.
        def autofilled(d):
            c = d.get_cookie("sigil_session_default")
            return c if c is not None and c["value"] != old_cookie else False
        try:
            WebDriverWait(driver, 20).until(autofilled)
        except Exception:
            pass  # reported by the check below
        r = requests.get(base + "/account", cookies={"sigil_session_default": old_cookie}, allow_redirects=False, timeout=10)
        check("the signed-out session no longer opens /account", r.status_code == 303 and "/login" in r.headers.get("Location", ""),
              f"{r.status_code} {r.headers.get('Location')}")
        r = requests.get(base + "/account", allow_redirects=False, timeout=10)
        check("/account without a session redirects to /login", r.status_code == 303, str(r.status_code))
        autofill = driver.get_cookie("sigil_session_default")
        check("conditional mediation (autofill) signed in with the passkey", autofill is not None and autofill["value"] != old_cookie,
              str(autofill))

        # --- sign in with the button (modal passkey request) ---
        driver.delete_all_cookies()
        driver.get(base + "/login?prompt=login")
        driver.save_screenshot(os.path.join(artifacts, "login.png"))
        csp = requests.get(base + "/login", timeout=10).headers.get("Content-Security-Policy", "")
        check("login page has a strict CSP", "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp)
        if driver.current_url.split("?")[0].endswith("/login"):
            try:
                driver.find_element(By.ID, "passkey-button").click()
            except Exception:
                pass  # autofill may already have navigated away
        try:
            wait_path(driver, "/account")
            check("passkey sign-in lands on /account", True)
        except Exception:
            check("passkey sign-in lands on /account", False, driver.find_element(By.ID, "status").text)
            return
        fresh = driver.get_cookie("sigil_session_default")
        check("signing in made a new session", fresh is not None and fresh["value"] not in (old_cookie, autofill and autofill["value"]))
        sign_count = driver.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"][0]["signCount"]
        check("the authenticator's sign count advanced", sign_count >= 1, str(sign_count))

        # --- a replayed assertion is refused (one-time challenge) ---
        replay = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const b = (s) => { const t = s.replace(/-/g,'+').replace(/_/g,'/'); const r = atob(t + '==='.slice((t.length+3)%4));
                               return Uint8Array.from(r, c => c.charCodeAt(0)).buffer; };
            const e = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'');
            const post = (p, body) => fetch(p, {method:'POST', headers:{'Content-Type':'application/json'}, body: JSON.stringify(body)})
                                        .then(async r => ({status: r.status, body: await r.json().catch(() => ({}))}));
            (async () => {
              const start = (await post('/login/passkey/options', {})).body;
              start.publicKey.challenge = b(start.publicKey.challenge);
              const c = await navigator.credentials.get({publicKey: start.publicKey});
              const cred = {id: c.id, rawId: e(c.rawId), type: c.type, response: {clientDataJSON: e(c.response.clientDataJSON),
                            authenticatorData: e(c.response.authenticatorData), signature: e(c.response.signature),
                            userHandle: c.response.userHandle ? e(c.response.userHandle) : undefined}};
              const first = await post('/login/passkey/verify', {transaction: start.transaction, credential: cred});
              const second = await post('/login/passkey/verify', {transaction: start.transaction, credential: cred});
              const other = (await post('/login/passkey/options', {})).body;
              const third = await post('/login/passkey/verify', {transaction: other.transaction, credential: cred});
              done({first: first.status, second: second.status, secondBody: second.body, third: third.status, thirdBody: third.body});
            })().catch(err => done({error: String(err)}));
        """)
        check("a fresh assertion verifies", replay.get("first") == 200, json.dumps(replay))
        check("the same assertion replayed on its transaction is refused", replay.get("second") in (400, 422), json.dumps(replay))
        check("the assertion replayed against another challenge is refused (403 sign-in-failed, no Bearer challenge)",
              replay.get("third") == 403 and (replay.get("thirdBody") or {}).get("type") == "urn:sigil:problem:sign-in-failed",
              json.dumps(replay))

        # --- cross-origin posts are refused ---
        r = requests.post(base + "/login/passkey/options", json={}, headers={"Origin": "https://evil.example"}, timeout=10)
        check("cross-origin POST is refused", r.status_code == 403 and r.headers.get("Content-Type") == "application/problem+json", str(r.status_code))
        r = requests.post(base + "/login/passkey/options", json={}, timeout=10)
        check("POST without Origin is refused", r.status_code == 403, str(r.status_code))
        r = requests.post(base + "/logout", data={"csrf": "forged"}, headers={"Origin": base},
                          cookies={"sigil_session_default": driver.get_cookie("sigil_session_default")["value"]}, timeout=10, allow_redirects=False)
        check("logout with a forged CSRF token is refused", r.status_code == 403, str(r.status_code))
        driver.get(base + "/account")
        check("the session survived the forged logout", driver.current_url.endswith("/account"))

        # --- an invited user enrols with their own link ---
        invite = subprocess.run([binary, "user", "invite", "--tenant", "default", "--email", "grace@example.com",
                                 "--given-name", "Grace", "--family-name", "Hopper", "--public-url", base,
                                 "--data-dir", os.path.join(work, "data")], capture_output=True, text=True)
        invite_link = invite.stdout.strip()
        check("sigil user invite prints only the link on stdout", invite.returncode == 0 and invite_link.startswith(base + "/enroll/sigil_en_"),
              invite.stdout + invite.stderr)
        driver.delete_all_cookies()
        driver.get(invite_link)
        check("the invitation page names the invited user", "grace@example.com" in driver.page_source)
        driver.find_element(By.ID, "enroll-button").click()
        try:
            wait_path(driver, "/account")
            email = driver.find_element(By.ID, "account-email").text
            check("the invited user is signed in and is not an administrator", email == "grace@example.com", email)
        except Exception:
            check("the invited user is signed in and is not an administrator", False, driver.find_element(By.ID, "status").text)

        # --- the audit log saw it all ---
        token = subprocess.run([binary, "admin", "token", "create", "--data-dir", os.path.join(work, "data")],
                               capture_output=True, text=True, check=True).stdout.strip()
        events = audit_events(base, token)
        actions = [e["action"] for e in events]
        for action in ("passkey.registered", "session.started", "session.ended", "passkey.sign_in_failed"):
            check(f"audit log has {action}", action in actions, ",".join(sorted(set(actions))))
    except Exception as error:  # an unexpected failure is a failed check, never a silent pass
        import traceback
        traceback.print_exc()
        check("the flow ran to the end", False, repr(error))
        if driver:
            driver.save_screenshot(os.path.join(artifacts, "failure.png"))
            print("page at failure:", driver.current_url, driver.page_source[:1500])
    finally:
        if driver:
            driver.quit()
        stop_sigil(proc)
        with open(os.path.join(work, "serve.stdout")) as f:
            log = f.read()
        check("no session cookie value in the server log", "sigil_ss_" not in log)
        if artifacts == work:  # no --artifacts: nothing to keep
            shutil.rmtree(work, ignore_errors=True)
        report_and_exit()


if __name__ == "__main__":
    main()
