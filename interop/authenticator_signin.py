#!/usr/bin/env python3
"""Interop: the real `sigil serve`, headless Chromium and the `sigil-authenticator` CLI.

The CLI reads QR codes from Chromium's own screenshots (its PNG reader and QR decoder are ours;
`zbarimg`, which nobody here wrote, must read the same screenshot to the same text). Flows:
enrol a phone from the account page, QR sign-in with number matching, push sign-in (wrong number,
right number, "this wasn't me" and the block after it), decoys for unknown users, expiry, and the
push delivery to a local APNs fake (interop/fake_push.py) carrying ids only.

    /opt/peers-venv/bin/python interop/authenticator_signin.py [--sigil .build/debug/sigil]
        [--authenticator .build/debug/sigil-authenticator] [--artifacts DIR]

Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if anything failed.
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile, time, urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from passkey_signin import RESULTS, check, free_port, make_driver, wait_path, stop_sigil, report_and_exit, audit_events  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

LIFETIME = 30  # SIGIL_INSECURE_AUTHENTICATOR_LIFETIME_SECONDS for this run


def start_sigil(binary, work, port, extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGIL_")}
    env.update(extra_env)
    data_dir = os.path.join(work, "data")
    err = open(os.path.join(work, "serve.stderr"), "w+")
    out = open(os.path.join(work, "serve.stdout"), "w")
    proc = subprocess.Popen([binary, "serve", "--port", str(port), "--data-dir", data_dir,
                             "--public-url", f"http://localhost:{port}"], stdout=out, stderr=err, env=env)
    deadline = time.time() + 60
    link = None
    while time.time() < deadline and not link:
        err.seek(0)
        m = re.search(r"(http://localhost:\d+/enroll/\S+)", err.read())
        link = m.group(1) if m else None
        if not link:
            if proc.poll() is not None:
                break
            time.sleep(0.3)
    return proc, link


def plain_driver():
    """A browser without any passkey, so /login's autofill cannot sign it in by itself."""
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1024,900"):
        o.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def element_png(driver, element_id, path, timeout=20):
    """Waits for the image to be shown and loaded, then screenshots just that element."""
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(
        "const i = document.getElementById(arguments[0]); return i && !i.hidden && i.complete && i.naturalWidth > 0;", element_id))
    element = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    time.sleep(0.3)
    element.screenshot(path)
    return path


def zbar(path):
    r = subprocess.run(["zbarimg", "--raw", "-q", path], capture_output=True, text=True)
    return r.stdout.strip()


def text_of(driver, element_id):
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.textContent : '';", element_id)


def wait_text(driver, element_id, predicate, timeout=20):
    WebDriverWait(driver, timeout).until(lambda d: predicate(text_of(d, element_id)))
    return text_of(driver, element_id)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--authenticator", default=os.environ.get("SIGIL_AUTHENTICATOR_BIN", ".build/debug/sigil-authenticator"))
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    binary = os.path.abspath(args.sigil)
    cli_binary = os.path.abspath(args.authenticator)
    work = tempfile.mkdtemp(prefix="sigil-authenticator-")
    artifacts = args.artifacts or work
    os.makedirs(artifacts, exist_ok=True)
    home = os.path.join(work, "phone")
    port = free_port()
    base = f"http://localhost:{port}"

    def cli(*argv, timeout=60, at=None):
        r = subprocess.run([cli_binary, argv[0], "--home", at or home, *argv[1:]], capture_output=True, text=True, timeout=timeout)
        print(f"  $ sigil-authenticator {' '.join(argv)} -> {r.returncode}\n" + "".join("    " + l + "\n" for l in (r.stdout + r.stderr).splitlines()), flush=True)
        return r

    # The APNs fake (interop/fake_push.py): Sigil delivers pushes to it with a provider JWT signed
    # by a .p8 key made here, exactly as it would to Apple.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    apns_key = ec.generate_private_key(ec.SECP256R1())
    p8, pub = os.path.join(work, "apns.p8"), os.path.join(work, "apns.pub.pem")
    with open(p8, "wb") as f:
        f.write(apns_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(pub, "wb") as f:
        f.write(apns_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    fake = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_push.py"), "--port", "0",
                             "--apns-public-key", pub, "--apns-key-id", "KEY1234567", "--apns-team-id", "TEAM123456",
                             "--apns-topic", "org.sigil.authenticator"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    fake_port = int(fake.stdout.readline().strip())
    extra_env = {
        "SIGIL_INSECURE_AUTHENTICATOR_LIFETIME_SECONDS": str(LIFETIME),
        "SIGIL_APNS_KEY_FILE": p8, "SIGIL_APNS_KEY_ID": "KEY1234567", "SIGIL_APNS_TEAM_ID": "TEAM123456",
        "SIGIL_APNS_TOPIC": "org.sigil.authenticator", "SIGIL_APNS_URL": f"http://127.0.0.1:{fake_port}",
    }
    proc, link = start_sigil(binary, work, port, extra_env)
    driver = browser = None
    try:
        if not check("sigil serve printed an enrolment link", bool(link)):
            return
        # --- the first administrator enrols a passkey, then adds a phone ---
        driver, _ = make_driver()
        driver.get(link)
        driver.find_element(By.ID, "email").send_keys("ada@example.com")
        driver.find_element(By.ID, "given_name").send_keys("Ada")
        driver.find_element(By.ID, "family_name").send_keys("Lovelace")
        driver.find_element(By.ID, "enroll-button").click()
        wait_path(driver, "/account")
        driver.find_element(By.ID, "add-device").click()
        shot = element_png(driver, "device-qr", os.path.join(artifacts, "device-qr.png"))
        enrol_link = driver.find_element(By.ID, "device-link").get_attribute("href")
        check("zbarimg reads the enrolment QR as the page's link", zbar(shot) == enrol_link, f"{zbar(shot)!r} vs {enrol_link!r}")
        r = cli("enroll", shot, "--name", "CLI phone", "--push-token", "apns:fake-token-1", "--yes")
        check("sigil-authenticator enrolled from the screenshot", r.returncode == 0, r.stderr)
        mode = os.stat(os.path.join(home, "state.json")).st_mode & 0o777 if os.path.exists(os.path.join(home, "state.json")) else None
        check("the CLI state file is 0600", mode == 0o600, oct(mode) if mode else "missing")
        try:
            WebDriverWait(driver, 20).until(lambda d: "CLI phone" in text_of(d, "devices"))
            check("the account page lists the phone", True)
        except Exception:
            check("the account page lists the phone", False, text_of(driver, "device-status"))
        r = cli("enroll", shot, "--name", "again", "--yes")
        check("the enrolment code is single use", r.returncode == 1 and "enrolment-link-invalid" in (r.stdout + r.stderr))
        r = cli("list")
        check("sigil-authenticator list shows the enrolment", r.returncode == 0 and "ada@example.com" in r.stdout)

        # --- QR sign-in in a browser without passkeys ---
        browser = plain_driver()
        browser.get(base + "/login")
        qr = element_png(browser, "qr-image", os.path.join(artifacts, "login-qr.png"))
        deep_link = browser.find_element(By.ID, "qr-link").get_attribute("href")
        decoded = zbar(qr)
        check("zbarimg reads the login QR", decoded.startswith(base + "/login/qr#ltx_"), decoded)
        check("the deep link carries the same payload", deep_link.startswith("sigil://login?u=") and
              urllib.request.unquote(deep_link.split("u=", 1)[1]) == decoded, deep_link)
        check("the QR image is not readable without the browser's binding cookie",
              requests.get(base + browser.find_element(By.ID, "qr-image").get_attribute("src").replace(base, ""), timeout=10).status_code == 404)
        r = cli("scan", qr)
        check("sigil-authenticator scan reads the screenshot and claims the request", r.returncode == 0, r.stderr)
        check("the request shows the browser and address", "Chrome" in r.stdout and "127.0.0.1" in r.stdout, r.stdout)
        number = wait_text(browser, "qr-number", lambda t: re.fullmatch(r"\d\d", t.strip()) is not None).strip()
        check("the browser shows the number once the phone scanned", True)
        r = cli("approve", "--number", number, "--yes")
        check("approve with the right number succeeds", r.returncode == 0, r.stderr)
        try:
            wait_path(browser, "/account")
            check("QR sign-in lands on /account", True)
            meta = browser.page_source
            check("the session records amr swk and mca (no biometric claimed by --yes)", "swk, mca" in meta)
        except Exception:
            check("QR sign-in lands on /account", False, text_of(browser, "auth-status"))
        browser.save_screenshot(os.path.join(artifacts, "qr-signed-in.png"))
        r = cli("approve", "--number", number, "--yes")
        check("approving the finished request again is refused", r.returncode != 0)

        # --- push: wrong number ends it ---
        browser.delete_all_cookies()
        browser.get(base + "/login")
        browser.find_element(By.ID, "username").send_keys("ada@example.com")
        browser.find_element(By.ID, "push-button").click()
        push_number = wait_text(browser, "push-number", lambda t: re.fullmatch(r"\d\d", t.strip()) is not None).strip()
        r = cli("pending", "--wait", "10")
        check("the push request is pending on the phone", r.returncode == 0 and "ltx_" in r.stdout, r.stdout)
        check("the phone is not told the number", push_number not in re.sub(r"ltx_\w+|\d{4}-\d\d-\d\dT[\d:]+Z|127\.0\.0\.1", "", r.stdout))
        wrong = "10" if push_number != "10" else "11"
        r = cli("approve", "--number", wrong, "--yes")
        check("a wrong number is refused (wrong-number)", r.returncode == 1 and "wrong-number" in (r.stdout + r.stderr))
        try:
            wait_text(browser, "auth-status", lambda t: "did not match" in t)
            check("the browser says the sign-in failed", True)
        except Exception:
            check("the browser says the sign-in failed", False, text_of(browser, "auth-status"))

        # --- push: the right number, after the 30 s spacing ---
        time.sleep(31)
        browser.find_element(By.ID, "push-button").click()
        push_number = wait_text(browser, "push-number", lambda t: re.fullmatch(r"\d\d", t.strip()) is not None).strip()
        r = cli("pending", "--wait", "10")
        check("a new push is pending", r.returncode == 0 and "ltx_" in r.stdout)
        r = cli("approve", "--number", push_number, "--yes")
        check("push approved with the number shown", r.returncode == 0, r.stderr)
        try:
            wait_path(browser, "/account")
            check("push sign-in lands on /account", True)
        except Exception:
            check("push sign-in lands on /account", False, text_of(browser, "auth-status"))

        # --- push: "this wasn't me" blocks the next ones ---
        time.sleep(31)
        browser.delete_all_cookies()
        browser.get(base + "/login")
        browser.find_element(By.ID, "username").send_keys("ada@example.com")
        browser.find_element(By.ID, "push-button").click()
        wait_text(browser, "push-number", lambda t: re.fullmatch(r"\d\d", t.strip()) is not None)
        r = cli("pending", "--wait", "10")
        r = cli("deny", "--not-me")
        check("deny --not-me reports the request", r.returncode == 0, r.stderr)
        try:
            wait_text(browser, "auth-status", lambda t: "declined" in t)
            check("the browser says it was declined", True)
        except Exception:
            check("the browser says it was declined", False, text_of(browser, "auth-status"))
        s = requests.Session()
        answer = s.post(base + "/login/push/start", json={"email": "ada@example.com"}, headers={"Origin": base}, timeout=10)
        decoy = s.post(base + "/login/push/start", json={"email": "nobody@example.com"}, headers={"Origin": base}, timeout=10)
        check("a blocked user and an unknown email get the same answer",
              answer.status_code == decoy.status_code == 200 and sorted(answer.json()) == sorted(decoy.json()), f"{answer.text} {decoy.text}")
        time.sleep(1)
        r = cli("pending")
        check("nothing reaches the phone while blocked", r.returncode == 3, r.stdout)

        # --- expiry ---
        browser.delete_all_cookies()
        browser.get(base + "/login")
        qr = element_png(browser, "qr-image", os.path.join(artifacts, "expiring-qr.png"))
        first_src = browser.find_element(By.ID, "qr-image").get_attribute("src")
        time.sleep(LIFETIME + 2)
        r = cli("scan", qr)
        check("scanning an expired code is refused (login-transaction-expired)", r.returncode == 1 and "login-transaction-expired" in (r.stdout + r.stderr))
        try:
            WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "qr-image").get_attribute("src") != first_src)
            check("the page shows a fresh code after expiry", True)
        except Exception:
            check("the page shows a fresh code after expiry", False)

        # --- the push went to the APNs fake with ids only ---
        if True:
            deliveries = requests.get(f"http://127.0.0.1:{fake_port}/_fake/deliveries", timeout=10).json()
            violations = requests.get(f"http://127.0.0.1:{fake_port}/_fake/violations", timeout=10).json()
            check("pushes reached the APNs fake", len(deliveries) >= 2, json.dumps(deliveries)[:300])
            check("the fake saw no protocol violations (ids only, no email)", not violations, json.dumps(violations)[:300])
            check("no push body names the user", "ada@example.com" not in json.dumps(deliveries))

        # --- an invited user's first sign-in method is a phone (no passkey at all) ---
        invite = subprocess.run([binary, "user", "invite", "--tenant", "default", "--email", "grace@example.com", "--given-name", "Grace",
                                 "--family-name", "Hopper", "--data-dir", os.path.join(work, "data"), "--public-url", base],
                                capture_output=True, text=True)
        invite_link = invite.stdout.strip()
        check("sigil user invite printed a link", invite.returncode == 0 and "/enroll/" in invite_link, invite.stderr)
        browser.delete_all_cookies()
        browser.get(invite_link)
        browser.find_element(By.ID, "enroll-device").click()
        shot = element_png(browser, "enroll-device-qr", os.path.join(artifacts, "invite-device-qr.png"))
        r = cli("enroll", shot, "--name", "Grace's CLI", "--yes", at=os.path.join(work, "phone-grace"))
        check("the invited user's phone enrolled from the enrolment page's code", r.returncode == 0, r.stderr)
        try:
            wait_path(browser, "/account")
            check("the invited user is signed in by the phone's enrolment", "grace@example.com" in text_of(browser, "account-email"))
        except Exception:
            check("the invited user is signed in by the phone's enrolment", False, text_of(browser, "enroll-device-status"))
        check("the invitation is used up", requests.get(invite_link, timeout=10).status_code == 404)

        # --- the audit log ---
        token = subprocess.run([binary, "admin", "token", "create", "--data-dir", os.path.join(work, "data")],
                               capture_output=True, text=True, check=True).stdout.strip()
        events = audit_events(base, token)
        actions = [e["action"] for e in events]
        for action in ("authenticator.device_registered", "authenticator.approved", "authenticator.wrong_number",
                       "authenticator.reported", "authenticator.push_sent", "authenticator.push_suppressed"):
            check(f"audit log has {action}", action in actions, ",".join(sorted(set(actions))))
        check("no audit event carries the unknown email", "nobody@example.com" not in json.dumps(events))
    except Exception as error:
        import traceback
        traceback.print_exc()
        check("the flow ran to the end", False, repr(error))
        for d, name in ((driver, "account"), (browser, "browser")):
            if d:
                d.save_screenshot(os.path.join(artifacts, f"failure-{name}.png"))
                print(f"{name} at failure:", d.current_url, d.page_source[:1500])
    finally:
        for d in (driver, browser):
            if d:
                d.quit()
        stop_sigil(proc)
        fake.kill()
        with open(os.path.join(work, "serve.stdout")) as f:
            log = f.read()
        check("no binding or session cookie and no QR secret in the server log",
              "sigil_lb_" not in log and "sigil_ss_" not in log and "/login/qr#" not in log)
        if not args.artifacts:
            shutil.rmtree(work, ignore_errors=True)
        report_and_exit()


if __name__ == "__main__":
    main()
