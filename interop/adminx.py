#!/usr/bin/env python3
"""Interop: AdminX (issue 16) walked in headless Chromium as a seed's steps are written, then used.

Starts the real `sigil serve`, enrols the first administrator with a passkey (WebAuthn virtual
authenticator) from the link it prints and opens /adminx/. Then, only through AdminX pages:

  * Applications → Add Application → OIDC with a placeholder redirect URI; the client ID and secret
    copied with the Copy buttons (and read from the page); Settings → Authorization Server: the
    Metadata URI, issuer and endpoints, each equal to the discovery document's; the placeholder
    replaced by the real callback of an authlib relying party on 127.0.0.1 through the
    application's settings form, and a real code + PKCE sign-in through it (ID token verified
    against the JWKS; the client authenticates with the secret copied from the page); secret
    rotation with a grace period;
  * Federation → SAMLv2: the certificate PEM downloaded, checked with `openssl x509` and against
    /saml/metadata; every key's certificate; key rotation (the certificate that was "next" signs);
  * a SAML application added by the metadata URL of a pysaml2 SP on 127.0.0.1, then an SP-initiated
    sign-in that pysaml2 validates (xmlsec1);
  * Upstream IdPs (when the binary has them): a SAML upstream imported by a pysaml2 IdP's metadata
    URL, and the SP values its page shows;
  * users: invite (the one-time link), the invitee enrols in a second browser, is refused (403) on
    every AdminX page and POST, then is found by email, disabled (their session ends), enabled,
    made an administrator (and then reaches AdminX); the audit log lists it all with the admin
    as actor, filters, paginates, and its JSON-lines export parses; tenants, and a global
    administrator's session on /t/<slug>/adminx/;
  * attacks: a cross-site page auto-submitting forms to AdminX, POSTs with absent, forged and
    another session's CSRF tokens and with a wrong or no Origin, framing from another site, and
    the headers of every page (CSP with frame-ancestors 'none' and no unsafe-inline, no-store);
    the client secret never shown again (application page, back button, lists, audit, logs);
  * accessibility: axe-core (axe-selenium-python's axe.min.js) on every page visited, at desktop
    size and at a 390 px wide viewport: no serious or critical violations, no sideways scrolling.

    /opt/peers-venv/bin/python interop/adminx.py [--sigil .build/debug/sigil] [--screenshots DIR]

With --screenshots DIR, a PNG of each page walked is saved there under a stable name
(adminx-dashboard.png, …; secrets masked), optimised with optipng when it is installed; docs/adminx.md
shows the set in docs/images/adminx/ (`SIGIL_ARTIFACTS=docs/images/adminx scripts/interop-adminx.sh`).
Needs chromium, chromium-driver, xmlsec1, openssl and the venv of scripts/install-interop.sh
(selenium, requests, authlib, pysaml2, axe-selenium-python). Prints PASS/FAIL (and SKIP) per check
and "N passed, M failed"; exits 1 if anything failed.
"""
import argparse, base64, glob, json, os, re, shutil, subprocess, sys, tempfile, threading, time, traceback, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the test server is http://localhost
import warnings  # noqa: E402
warnings.filterwarnings("ignore")  # authlib.jose's and pysaml2's deprecation notices; the APIs still verify
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from passkey_signin import RESULTS, check, free_port, make_driver, report_and_exit, start_sigil, stop_sigil, wait_path  # noqa: E402
from saml_sp import sp_client  # noqa: E402
from saml_upstream_idp import OktaShapedIdP  # noqa: E402

import requests  # noqa: E402
import axe_selenium_python  # noqa: E402
from lxml import etree  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.common.security import generate_token  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402
warnings.filterwarnings("ignore")  # again: importing authlib turned its deprecation notices back on
from authlib.jose import JsonWebKey, JsonWebToken  # noqa: E402
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT  # noqa: E402
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS  # noqa: E402

AXE_JS_PATH = os.path.join(os.path.dirname(axe_selenium_python.__file__), "node_modules", "axe-core", "axe.min.js")
COOKIE = "sigil_session_default"
ADMIN = ("ada@example.com", "Ada", "Lovelace")
INVITEE = ("grace@example.com", "Grace", "Hopper")
DESKTOP = (1280, 800)  # the screenshots' size too
PHONE = 390
SKIPPED = []
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"


def skip(name, why):
    SKIPPED.append(name)
    print(f"SKIP {name} -- {why}", flush=True)


class Peer:
    """Every other site, on 127.0.0.1 (cross-site to Sigil at http://localhost:PORT): the authlib
    RP's redirect URI, the pysaml2 SP's metadata and ACS, and an attacker's pages."""

    def __init__(self):
        self.pages = {}  # path -> (content type, body)
        self.posts = []  # (path, form)
        self.gets = []  # path with query
        self.cond = threading.Condition()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def send(self, status, ctype, body):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                with peer.cond:
                    peer.gets.append(self.path)
                    peer.cond.notify_all()
                page = peer.pages.get(self.path.split("?")[0])
                if page:
                    return self.send(200, *page)
                if self.path.startswith("/cb"):
                    return self.send(200, "text/html; charset=utf-8", "<!doctype html><title>RP</title><h1 id='rp-callback'>rp callback</h1>")
                self.send(404, "text/plain", "not found")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
                with peer.cond:
                    peer.posts.append((self.path, form))
                    peer.cond.notify_all()
                self.send(200, "text/html; charset=utf-8", "<!doctype html><title>SP</title><h1 id='acs-done'>SP received the response</h1>")

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, path, body, ctype="text/html; charset=utf-8"):
        self.pages[path] = (ctype, body)

    def wait_post(self, path, count, timeout=20):
        with self.cond:
            self.cond.wait_for(lambda: len([p for p in self.posts if p[0].split("?")[0] == path]) >= count, timeout=timeout)
            got = [p for p in self.posts if p[0].split("?")[0] == path]
        return got[count - 1] if len(got) >= count else None


def auto_post_page(action, fields):
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    return (f'<!doctype html><html><body><form id="f" method="post" action="{action}">{inputs}</form>'
            '<script>document.getElementById("f").submit()</script></body></html>')


class Walk:
    """The administrator's browser on AdminX: page checks, accessibility scans, screenshots and
    the network log (Chromium's performance log: the status and headers of what it loaded)."""

    def __init__(self, driver, base, shots):
        self.driver = driver
        self.base = base
        self.shots = shots
        self.axe_js = open(AXE_JS_PATH, encoding="utf8").read()
        self.network = []  # dicts: url, method, status, headers (lowercase names)
        self.pending = {}  # requestId -> (url, method, request headers)
        self.console = []  # CSP reports seen on AdminX pages
        self.scanned = []
        self.visited = set()  # paths

    # --- the browser's network and console logs ---
    def drain(self):
        for entry in self.driver.get_log("performance"):
            try:
                m = json.loads(entry["message"])["message"]
            except Exception:
                continue
            p = m.get("params", {})
            if m.get("method") == "Network.requestWillBeSent":
                r = p.get("request", {})
                self.pending[p.get("requestId")] = (r.get("url"), r.get("method"), {k.lower(): v for k, v in r.get("headers", {}).items()})
            elif m.get("method") == "Network.responseReceived":
                r = p.get("response", {})
                url, method, req_headers = self.pending.get(p.get("requestId"), (r.get("url"), None, {}))
                self.network.append({"url": r.get("url"), "method": method, "status": r.get("status"),
                                     "headers": {k.lower(): v for k, v in r.get("headers", {}).items()}, "request": req_headers})
        for entry in self.driver.get_log("browser"):
            if "Content Security Policy" in entry.get("message", "") or "Refused to" in entry.get("message", ""):
                self.console.append(entry["message"])

    def responses(self, path, method=None):
        self.drain()
        return [r for r in self.network if urllib.parse.urlparse(r["url"] or "").path == path and (method is None or r["method"] == method)]

    def reset_logs(self):
        self.drain()
        self.network.clear()
        self.console.clear()

    # --- pages ---
    def el(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def els(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, element_id):
        found = self.driver.find_elements(By.ID, element_id)
        return found[0].text.strip() if found else None

    def path(self):
        return urllib.parse.urlparse(self.driver.current_url).path

    def nav(self, label):
        """Clicks a section in the AdminX navigation (from the dashboard when not on an AdminX page)."""
        if not self.els('nav[aria-label="AdminX sections"]'):
            self.driver.get(self.base + "/adminx/")
        old = self.el("main#content")
        self.el('nav[aria-label="AdminX sections"]').find_element(By.LINK_TEXT, label).click()
        WebDriverWait(self.driver, 20).until(lambda d: self.stale(old))

    def click(self, css):
        """Clicks and waits for the next page."""
        old = self.el("main#content")
        self.el(css).click()
        WebDriverWait(self.driver, 30).until(lambda d: self.stale(old) and d.find_elements(By.CSS_SELECTOR, "body"))

    @staticmethod
    def stale(element):
        try:
            element.is_enabled()
            return False
        except Exception:
            return True

    def fill(self, element_id, value):
        e = self.driver.find_element(By.ID, element_id)
        e.clear()
        e.send_keys(value)

    def csrf(self):
        found = self.els('input[name="csrf"]')
        return found[0].get_attribute("value") if found else None

    def session(self):
        c = self.driver.get_cookie(COOKIE)
        return c["value"] if c else None

    # --- what every AdminX page must have ---
    def contract(self, label, prefix="", is_global=True):
        """main#content, one h1, and the sections of issue 16 in order in the navigation (sections
        added since, such as Upstream IdPs, may stand between them, under the same /adminx/)."""
        names = ["Dashboard", "Applications", "Authorization Server", "Federation", "Users", "Audit log"] + (["Tenants"] if is_global else [])
        paths = ["/", "/applications", "/settings/authorization-server", "/federation/saml", "/users", "/audit"] + (["/tenants"] if is_global else [])
        root = f"{self.base}{prefix}/adminx"
        want = [(n, root + p) for n, p in zip(names, paths)]
        navs = self.els('nav[aria-label="AdminX sections"]')
        got = [(a.text.strip(), a.get_attribute("href")) for a in navs[0].find_elements(By.TAG_NAME, "a")] if navs else []
        h1 = self.els("h1")
        problems = []
        if not self.els("main#content"):
            problems.append("no main#content")
        if len(h1) != 1 or not h1[0].text.strip():
            problems.append(f"{len(h1)} h1")
        if [g for g in got if g in want] != want:
            problems.append(f"nav {got}")
        if any(not href.startswith(root + "/") for _, href in got):
            problems.append(f"a section outside {root}/: {got}")
        if not is_global and any(n == "Tenants" for n, _ in got):
            problems.append("Tenants shown to a tenant administrator")
        # Every POST form carries the session's CSRF token (the same one everywhere on the page).
        tokens = {f.get_attribute("id") or f.get_attribute("action"): [i.get_attribute("value") for i in f.find_elements(By.CSS_SELECTOR, 'input[name="csrf"]')]
                  for f in self.els('form[method="post"]')}
        values = {v for vs in tokens.values() for v in vs}
        if any(len(vs) != 1 or not vs[0] for vs in tokens.values()) or len(values) > 1:
            problems.append(f"POST forms without one CSRF token: {tokens}")
        return check(f"{label}: main#content, one h1, the AdminX sections", not problems, "; ".join(problems))

    def axe(self, driver=None):
        driver = driver or self.driver
        if not driver.execute_script("return typeof window.axe === 'object'"):
            driver.execute_script(self.axe_js)
        result = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations)).catch(e => done({error: String(e)}));")
        if isinstance(result, dict):
            raise RuntimeError(result.get("error"))
        return [v for v in result if v.get("impact") in ("serious", "critical")]

    @staticmethod
    def describe(violations):
        out = []
        for v in violations:
            nodes = "; ".join(" ".join(n.get("target", [])) + (" (" + n.get("failureSummary", "").replace("\n", " ")[:160] + ")")
                              for n in v.get("nodes", [])[:5])
            out.append(f"{v['id']} [{v['impact']}] {len(v.get('nodes', []))} node(s): {nodes}")
        return " | ".join(out)

    def phone(self, on, driver=None):
        driver = driver or self.driver
        if on:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": PHONE, "height": 800, "deviceScaleFactor": 1, "mobile": True})
        else:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def scan(self, label, driver=None):
        """axe-core at desktop size and at a 390 px wide viewport."""
        driver = driver or self.driver
        self.scanned.append(label)
        bad = self.axe(driver)
        check(f"a11y {label} (desktop): no serious or critical axe violations", not bad, self.describe(bad))
        self.phone(True, driver)
        try:
            time.sleep(0.1)
            bad = self.axe(driver)
            check(f"a11y {label} ({PHONE} px): no serious or critical axe violations", not bad, self.describe(bad))
            width = driver.execute_script("return document.documentElement.scrollWidth")
            check(f"a11y {label} ({PHONE} px): no sideways scrolling", width <= PHONE, f"the page is {width} px wide")
        finally:
            self.phone(False, driver)

    def shot(self, name, mask=(), phone=False):
        """A PNG of the page, each element of `mask` (ids) replaced by dots first."""
        if not self.shots:
            return
        for element_id in mask:
            self.driver.execute_script(
                "const e = document.getElementById(arguments[0]); if (e) e.textContent = '••••••••••••••••••••••••  (masked in this screenshot)';",
                element_id)
        if phone:
            self.phone(True)
            time.sleep(0.2)
        self.driver.execute_script("window.scrollTo(0, 0)")
        try:
            self.driver.save_screenshot(os.path.join(self.shots, name))
        finally:
            if phone:
                self.phone(False)

    def visit(self, label, shot=None, mask=(), prefix="", is_global=True):
        """The current page: its contract, a screenshot, the accessibility scans."""
        self.visited.add(self.path())
        self.contract(label, prefix, is_global)
        if shot:
            self.shot(shot, mask)
        self.scan(label)
        self.drain()

    def copy(self, field_id):
        """Clicks the Copy button of a displayed value; returns (it worked, the value on the page)."""
        value = self.text(field_id)
        button = self.el(f'button[data-copy="{field_id}"]')
        button.click()
        outcome = None
        deadline = time.time() + 3
        while time.time() < deadline and not outcome:
            if button.text.strip() == "Copied":
                outcome = "copied"
            elif (self.driver.execute_script("return window.getSelection().toString()") or "").strip() == value:
                outcome = "selected"
            else:
                time.sleep(0.05)
        if outcome == "copied":
            pasted = self.driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "navigator.clipboard.readText().then(done).catch(e => done('unreadable: ' + e));")
            ok = pasted == value
            detail = f"clipboard holds {pasted[:40]!r}"
        else:
            ok = outcome == "selected"
            detail = f"button says {button.text!r}, nothing selected"
        check(f"Copy button of #{field_id} works ({outcome or 'no effect'})", ok and bool(value), detail)
        return value


def openssl_x509(pem_path):
    r = subprocess.run(["openssl", "x509", "-noout", "-subject", "-issuer", "-dates", "-fingerprint", "-sha256", "-checkend", "0",
                        "-in", pem_path], capture_output=True, text=True)
    return r.returncode == 0 and "subject=" in r.stdout and "notAfter=" in r.stdout, r.stdout.strip() + r.stderr.strip()


def app_count(list_page):
    """The applications an AdminX list page links to."""
    return len(set(re.findall(r'href="/adminx/applications/(?!new")([^"/?]+)"', list_page)))


def pem_der(pem):
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


def run(binary, base, link, work, shots, peer, drivers, state):
    """The walk, section by section; a section that breaks is one failed check and the rest go on."""
    def section(name, fn):
        try:
            fn()
        except Exception as error:  # an unexpected failure is a failed check, never a silent pass
            traceback.print_exc()
            check(f"{name}: ran to the end", False, repr(error)[:300])
            d = state.get("driver")
            if d:
                try:
                    d.save_screenshot(os.path.join(work, f"failure-{len(RESULTS)}-{re.sub('[^a-z]+', '-', name.lower())}.png"))
                    print("page at failure:", d.current_url, re.sub(r"\s+", " ", d.find_element(By.TAG_NAME, "body").text)[:600])
                except Exception:
                    pass

    # ---------------------------------------------------------------- the gate, signed out
    def gate():
        r = requests.get(base + "/adminx/users?x=1", allow_redirects=False, timeout=10)
        loc = r.headers.get("Location", "")
        back = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query).get("return_to", [""])[0]
        check("signed out: /adminx/users is 303 to /login?return_to=/adminx/users?x=1",
              r.status_code == 303 and loc.startswith("/login?") and back == "/adminx/users?x=1", f"{r.status_code} {loc}")
        r = requests.post(base + "/adminx/users/invite", data={"email": "x@example.com"}, headers={"Origin": base}, allow_redirects=False, timeout=10)
        check("signed out: a POST to AdminX changes nothing (sent to sign in)", r.status_code in (303, 403), str(r.status_code))

    # ---------------------------------------------------------------- the first administrator
    def enrol():
        driver, _ = make_driver(logs=True)
        drivers.append(driver)
        state["driver"] = driver
        driver.set_window_size(*DESKTOP)
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        driver.set_window_size(2 * DESKTOP[0] - inner[0], 2 * DESKTOP[1] - inner[1])  # the viewport (and screenshots) 1280×800
        driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
        w = Walk(driver, base, shots)
        state["w"] = w
        driver.get(link)
        driver.find_element(By.ID, "email").send_keys(ADMIN[0])
        driver.find_element(By.ID, "given_name").send_keys(ADMIN[1])
        driver.find_element(By.ID, "family_name").send_keys(ADMIN[2])
        driver.find_element(By.ID, "enroll-button").click()
        wait_path(driver, "/account")
        check("the first administrator enrolled with a passkey from the printed link", True)
        driver.get(base + "/adminx/")
        check("/adminx/ opens the dashboard for the first administrator", w.path() == "/adminx/" and w.text("content").startswith("Dashboard"),
              driver.current_url)
        who = w.text("signed-in-as") or ""
        check("the header names the administrator, a global administrator", ADMIN[0] in who and "global administrator" in who, who)

        check("an empty tenant's dashboard offers to add an application", bool(w.els("#get-started")))
        w.visit("dashboard", shot="adminx-dashboard.png")
        w.shot("adminx-phone-dashboard.png", phone=True)

    # ---------------------------------------------------------------- OIDC application, the seed's steps
    def oidc_app():
        w = state["w"]
        w.nav("Applications")
        check("Applications: the list page", w.path() == "/adminx/applications" and bool(w.els("table#applications")), w.driver.current_url)
        check("Applications: the empty state says what to do", bool(w.els("#applications-empty")))
        w.visit("applications (empty)", shot="adminx-applications-empty.png")
        w.click("#add-application")
        check("Add Application: offers OIDC and SAML", w.path() == "/adminx/applications/new" and bool(w.els("#add-oidc")) and bool(w.els("#add-saml")))
        w.visit("add application", shot="adminx-add-application.png")
        w.click("#add-oidc")
        check("Add Application → OIDC: the form", w.path() == "/adminx/applications/new/oidc" and bool(w.els("form#oidc-form")))
        for fid in ("f-name", "f-client_type-0", "f-client_type-1", "f-token_endpoint_auth_method", "f-grant_types-0", "f-redirect_uris",
                    "f-post_logout_redirect_uris", "f-allowed_scopes-0", "f-id_token_signed_response_alg", "f-require_pkce-0", "f-require_par-0",
                    "f-consent-0", "oidc-form-submit"):
            if not w.els("#" + fid):
                check(f"OIDC form has #{fid}", False)
        labels_missing = [e.get_attribute("id") for e in w.els("#oidc-form input:not([type=hidden]), #oidc-form select, #oidc-form textarea")
                          if not w.els(f'label[for="{e.get_attribute("id")}"]')]
        check("OIDC form: every control has a label", not labels_missing, str(labels_missing))
        w.visit("add OIDC form", shot="adminx-add-oidc.png")

        # Refused: no name. The placeholder redirect URI typed stays.
        w.fill("f-redirect_uris", "https://example.com/callback")
        w.reset_logs()
        w.click("#oidc-form-submit")
        refused = w.responses("/adminx/applications/new/oidc", "POST")
        check("a form without a name is refused (4xx)", bool(refused) and 400 <= refused[-1]["status"] < 500, str([r["status"] for r in refused]))
        check("the refused form: error summary #problem and #f-name-error next to the field",
              bool(w.els("#problem")) and bool(w.text("f-name-error")), w.text("problem"))
        check("the refused form: focus moves to the summary", w.driver.execute_script("return document.activeElement.id") == "problem")
        name = w.el("#f-name")
        check("the refused field is aria-invalid and described by its error", name.get_attribute("aria-invalid") == "true"
              and "f-name-error" in (name.get_attribute("aria-describedby") or ""), name.get_attribute("aria-describedby"))
        check("the refused form keeps what was typed", w.el("#f-redirect_uris").get_attribute("value").strip() == "https://example.com/callback")
        summary_links = [a.get_attribute("href") for a in w.els("#problem a")]
        check("the summary links to the invalid field", any(h.endswith("#f-name") for h in summary_links), str(summary_links))
        w.visit("refused OIDC form", shot="adminx-refused-form.png")

        # The seed's values: a confidential client, client_secret_basic, the placeholder redirect URI.
        w.fill("f-name", "Auth0 (Sigil)")
        w.el("#f-client_type-0").click()
        Select(w.el("#f-token_endpoint_auth_method")).select_by_value("client_secret_basic")
        Select(w.el("#f-id_token_signed_response_alg")).select_by_value("RS256")
        w.reset_logs()
        w.click("#oidc-form-submit")
        created = w.responses("/adminx/applications/new/oidc", "POST")
        check("Create application: the page with the client credentials", bool(w.els("section.block.secret #client-secret")),
              w.text("problem") or w.driver.current_url)
        cc = (created[-1]["headers"].get("cache-control", "") if created else "")
        check("the creation response (it holds the secret) is Cache-Control: no-store", "no-store" in cc, cc or "no response seen")
        check("the creation page says the secret is shown once", "shown once" in (w.text("credentials") or ""))
        client_id = w.copy("client-id")
        client_secret = w.copy("client-secret")
        state["client_id"], state["client_secret"] = client_id, client_secret
        state["secrets"].append(client_secret)
        check("client ID and secret read from the page", bool(client_id) and bool(client_secret) and client_id != client_secret)
        check("the application page shows the issuer and the Metadata URI",
              w.text("issuer") == base and w.text("metadata-uri") == base + "/.well-known/openid-configuration", f"{w.text('issuer')} {w.text('metadata-uri')}")
        app_url = w.el("#app-form").get_attribute("action")
        state["app_url"] = app_url
        w.visit("application created (credentials)", shot="adminx-application-created.png", mask=("client-secret",))

        # The secret never again: the application page, the back button, the list.
        w.driver.get(app_url)
        check("the application page (GET) does not show the secret again", client_secret not in w.driver.page_source and not w.els("#client-secret"))
        check("the application page shows the client ID", w.text("client-id-value") == client_id, w.text("client-id-value"))
        check("the settings form carries the placeholder redirect URI",
              w.el("#f-redirect_uris").get_attribute("value").strip() == "https://example.com/callback")
        w.visit("application page", shot="adminx-application.png")
        w.driver.back()
        time.sleep(1)
        check("back button to the creation page does not show the secret (no-store)", client_secret not in w.driver.page_source,
              w.driver.current_url)
        w.driver.get(base + "/adminx/applications")
        rows = [r.text for r in w.els("#applications tbody tr")]
        check("the list shows the application with its client ID", any("Auth0 (Sigil)" in r and client_id in r for r in rows), str(rows))
        check("the list does not show the secret", client_secret not in w.driver.page_source)
        w.visit("applications", shot="adminx-applications.png")

    # ---------------------------------------------------------------- Settings → Authorization Server
    def authorization_server():
        w = state["w"]
        w.nav("Authorization Server")
        check("Settings → Authorization Server", w.path() == "/adminx/settings/authorization-server", w.driver.current_url)
        metadata_uri = w.copy("metadata-uri")
        w.copy("issuer")
        values = {k: w.text(k) for k in ("issuer", "authorization-endpoint", "token-endpoint", "par-endpoint", "userinfo-endpoint",
                                         "jwks-uri", "end-session-endpoint")}
        meta = requests.get(metadata_uri, timeout=10).json()
        state["meta"] = meta
        check("the Metadata URI serves the discovery document", meta.get("issuer") == base, str(meta.get("issuer")))
        for fid, key in (("issuer", "issuer"), ("authorization-endpoint", "authorization_endpoint"), ("token-endpoint", "token_endpoint"),
                         ("par-endpoint", "pushed_authorization_request_endpoint"), ("userinfo-endpoint", "userinfo_endpoint"),
                         ("jwks-uri", "jwks_uri"), ("end-session-endpoint", "end_session_endpoint")):
            check(f"Authorization Server: #{fid} equals discovery's {key}", values[fid] == meta.get(key) and bool(values[fid]),
                  f"{values[fid]} vs {meta.get(key)}")
        state["page_jwks"], state["page_token"], state["page_authz"] = values["jwks-uri"], values["token-endpoint"], values["authorization-endpoint"]
        w.visit("authorization server", shot="adminx-authorization-server.png")

    # ---------------------------------------------------------------- the real callback, a real sign-in
    def oidc_signin():
        w = state["w"]
        cb = peer.base + "/cb"
        client_id, client_secret = state["client_id"], state["client_secret"]
        # Before: the placeholder is the only redirect URI, so the RP's callback is refused.
        probe = OAuth2Session(client_id, client_secret, scope="openid", redirect_uri=cb, code_challenge_method="S256")
        url, _ = probe.create_authorization_url(state["page_authz"], code_verifier=generate_token(48))
        r = requests.get(url, cookies={COOKIE: w.session()}, allow_redirects=False, timeout=10)
        check("with the placeholder redirect URI, the RP's callback is refused", r.status_code == 400
              and not r.headers.get("Location", "").startswith(peer.base), f"{r.status_code} {r.headers.get('Location')}")
        w.driver.get(state["app_url"])
        w.fill("f-redirect_uris", cb)
        w.click("#app-form-submit")
        check("Save changes: saved", "Changes saved" in (w.text("flash") or ""), w.text("problem") or w.text("flash"))
        check("the settings form now carries the RP's callback", w.el("#f-redirect_uris").get_attribute("value").strip() == cb)
        check("the saved page does not show the secret", client_secret not in w.driver.page_source)

        verifier, nonce = generate_token(64), generate_token(20)
        rp = OAuth2Session(client_id, client_secret, scope="openid email profile", redirect_uri=cb, code_challenge_method="S256",
                           token_endpoint_auth_method="client_secret_basic")
        url, rp_state = rp.create_authorization_url(state["page_authz"], code_verifier=verifier, nonce=nonce)
        w.driver.get(url)
        WebDriverWait(w.driver, 20).until(lambda d: d.current_url.startswith(cb))
        callback = w.driver.current_url
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(callback).query))
        check("authlib RP: the browser comes back to the callback on 127.0.0.1 with a code, state and iss",
              bool(q.get("code")) and q.get("state") == rp_state and q.get("iss") == base, callback)
        token = rp.fetch_token(state["page_token"], authorization_response=callback, code_verifier=verifier)
        check("authlib RP: code exchanged with PKCE and the secret copied from the page (client_secret_basic)",
              "id_token" in token and "access_token" in token, ",".join(token.keys()))
        state["secrets"] += [token.get("access_token", ""), token.get("refresh_token", ""), q.get("code", "")]
        jwks = JsonWebKey.import_key_set(requests.get(state["page_jwks"], timeout=10).json())
        claims = JsonWebToken(["RS256"]).decode(token["id_token"], jwks, claims_cls=CodeIDToken,
                                                claims_options={"iss": {"essential": True, "value": base}},
                                                claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]})
        try:
            claims.validate(leeway=5)
            check("authlib RP: ID token verified against the JWKS URL from the page (iss, aud, nonce, at_hash)", True)
        except Exception as error:
            check("authlib RP: ID token verified against the JWKS URL from the page (iss, aud, nonce, at_hash)", False, repr(error))
        check("authlib RP: the ID token names the administrator", claims.get("email") == ADMIN[0], str(claims.get("email")))

        # Secret rotation: a new secret once, the old one kept for the grace period.
        w.driver.get(state["app_url"])
        check("rotation offers a grace period (default 1 hour)", Select(w.el("#f-grace_period")).first_selected_option.get_attribute("value") == "3600")
        w.click("#rotate-form-submit")
        new_secret = w.text("client-secret")
        check("Rotate secret: a new secret shown once", bool(new_secret) and new_secret != client_secret and "rotated" in (w.text("flash") or ""),
              w.text("flash"))
        state["secrets"].append(new_secret or "")
        intro = state["meta"]["introspection_endpoint"]
        old = requests.post(intro, auth=(client_id, client_secret), data={"token": token["access_token"]}, timeout=10)
        new = requests.post(intro, auth=(client_id, new_secret), data={"token": token["access_token"]}, timeout=10)
        bad = requests.post(intro, auth=(client_id, "not-the-secret"), data={"token": token["access_token"]}, timeout=10)
        check("after rotation the old secret works during the grace period and the new one works", old.status_code == 200 and new.status_code == 200,
              f"old {old.status_code} new {new.status_code}")
        check("a wrong secret is still refused (401)", bad.status_code == 401, str(bad.status_code))
        state["client_secret_new"] = new_secret
        w.driver.get(state["app_url"])
        check("after rotation the application page shows neither secret", client_secret not in w.driver.page_source
              and (new_secret or "x") not in w.driver.page_source)

    # ---------------------------------------------------------------- Federation → SAMLv2
    def federation():
        w = state["w"]
        w.nav("Federation")
        check("Federation → SAMLv2", w.path() == "/adminx/federation/saml", w.driver.current_url)
        md = requests.get(base + "/saml/metadata", timeout=10)
        doc = etree.fromstring(md.content)
        ns = {"md": MD, "ds": DS}
        sso = [e.get("Location") for e in doc.iterfind(".//md:IDPSSODescriptor/md:SingleSignOnService", ns)]
        slo = [e.get("Location") for e in doc.iterfind(".//md:IDPSSODescriptor/md:SingleLogoutService", ns)]
        check("SAMLv2: #entity-id is the metadata's entityID", w.copy("entity-id") == doc.get("entityID"), f"{w.text('entity-id')} vs {doc.get('entityID')}")
        check("SAMLv2: #sso-url is the metadata's SingleSignOnService", w.text("sso-url") in sso, f"{w.text('sso-url')} vs {sso}")
        check("SAMLv2: #slo-url is the metadata's SingleLogoutService", w.text("slo-url") in slo, f"{w.text('slo-url')} vs {slo}")
        check("SAMLv2: #metadata-url serves that metadata", requests.get(w.text("metadata-url"), timeout=10).content == md.content)
        link = w.el("a#certificate")
        href = link.get_attribute("href")
        check("SAMLv2: the certificate link downloads a .pem", (link.get_attribute("download") or "").endswith(".pem"), link.get_attribute("download"))
        r = requests.get(href, cookies={COOKIE: w.session()}, timeout=10)
        pem = r.text
        path = os.path.join(work, "idp-signing.pem")
        with open(path, "w") as f:
            f.write(pem)
        ok, out = openssl_x509(path)
        check("SAMLv2: the downloaded PEM is an X.509 certificate openssl reads (subject, dates, not expired)", r.status_code == 200 and ok, out[:300])
        print("   " + out.replace("\n", "\n   "))
        signing = [base64.b64decode("".join(c.text.split())) for kd in doc.iterfind(".//md:IDPSSODescriptor/md:KeyDescriptor", ns)
                   if kd.get("use") in (None, "signing") for c in kd.iterfind(".//ds:X509Certificate", ns)]
        check("SAMLv2: the PEM equals the signing certificate in /saml/metadata", bool(signing) and pem_der(pem) == signing[0],
              f"{len(signing)} signing certificate(s) in metadata")
        rows = w.els("#keys-table tbody tr")
        keys = []
        for row in rows:
            cells = row.find_elements(By.TAG_NAME, "td")
            a = cells[4].find_elements(By.TAG_NAME, "a") if len(cells) > 4 else []
            keys.append({"alg": cells[0].text, "state": cells[1].text, "kid": cells[2].text, "href": a[0].get_attribute("href") if a else None})
        check("SAMLv2: the keys table lists current and next keys", {"current", "next"} <= {k["state"] for k in keys}, str(keys))
        certs = {}
        for k in keys:
            if not k["href"]:
                continue
            r = requests.get(k["href"], cookies={COOKIE: w.session()}, timeout=10)
            p = os.path.join(work, f"key-{k['kid'][:12]}.pem")
            with open(p, "w") as f:
                f.write(r.text)
            certs[(k["alg"], k["state"])] = (r.status_code == 200 and openssl_x509(p)[0], r.text, r.headers.get("Cache-Control", ""))
        check("SAMLv2: every key's certificate link gives a PEM openssl reads", bool(certs) and all(v[0] for v in certs.values()),
              str({k: v[0] for k, v in certs.items()}))
        current = [v[1] for (alg, st), v in certs.items() if st == "current"]
        check("SAMLv2: the current key's certificate is the one /saml/certificate.pem serves", any(pem_der(c) == pem_der(pem) for c in current))
        nxt = [v[1] for (alg, st), v in certs.items() if st == "next" and alg == "RS256"]
        state["next_cert"] = nxt[0] if nxt else None
        w.visit("SAMLv2", shot="adminx-saml.png")
        w.click("#rotate-keys")
        check("Rotate keys… asks for confirmation first", bool(w.els("form#rotate-form")) and "Rotate" in (w.text("content") or ""))
        w.visit("key rotation confirmation")

    # ---------------------------------------------------------------- a SAML application by metadata URL
    def saml_app():
        w = state["w"]
        idp_md = os.path.join(work, "idp.xml")
        with open(idp_md, "wb") as f:
            f.write(requests.get(base + "/saml/metadata", timeout=10).content)
        from saml2.metadata import entity_descriptor
        entity, acs = peer.base + "/sp/metadata", peer.base + "/acs"
        client, conf, _ = sp_client(work, idp_md, entity, acs, name="adminx-sp", name_id_format=NAMEID_FORMAT_EMAILADDRESS)
        peer.page("/sp/metadata", str(entity_descriptor(conf)), "application/samlmetadata+xml")
        w.driver.get(base + "/adminx/applications")
        w.click("#add-application")
        w.click("#add-saml")
        check("Add Application → SAML: the form", w.path() == "/adminx/applications/new/saml" and bool(w.els("form#saml-form")))
        check("the SAML form imports a metadata URL by default", w.el("#f-source-0").get_attribute("value") == "metadata_url"
              and w.el("#f-source-0").is_selected())
        w.visit("add SAML form", shot="adminx-add-saml.png")
        w.fill("f-name", "pysaml2 SP")
        w.fill("f-metadata_url", entity)
        fetched_before = len([g for g in peer.gets if g.startswith("/sp/metadata")])
        w.click("#saml-form-submit")
        check("the SAML application is created from the SP's metadata URL", "created" in (w.text("flash") or ""), w.text("problem") or w.text("flash"))
        check("Sigil fetched the SP's metadata URL", len([g for g in peer.gets if g.startswith("/sp/metadata")]) > fetched_before)
        check("the application page shows the SP's entity ID from its metadata", w.text("sp-entity-id") == entity, str(w.text("sp-entity-id")))
        check("the application's settings carry the SP's ACS from its metadata", acs in w.el("#f-acs").get_attribute("value"),
              w.el("#f-acs").get_attribute("value"))
        check("the SAML application page gives the IdP's entity ID, SSO URL and metadata URL",
              w.text("idp-entity-id") == base + "/saml/metadata" and w.text("idp-sso-url") == base + "/saml/sso"
              and w.text("idp-metadata-url") == base + "/saml/metadata", f"{w.text('idp-entity-id')} {w.text('idp-sso-url')}")
        state["saml_app_url"] = w.el("#app-form").get_attribute("action")
        w.visit("SAML application page")
        reqid, info = client.prepare_for_authenticate(entityid=base + "/saml/metadata", relay_state="adminx", binding=BINDING_HTTP_REDIRECT)
        w.driver.get(dict(info["headers"])["Location"])
        got = peer.wait_post("/acs", 1)
        if not check("SP-initiated SSO: the browser posts a SAMLResponse to the SP's ACS on 127.0.0.1", bool(got) and "SAMLResponse" in got[1],
                     w.driver.current_url):
            return
        try:
            resp = client.parse_authn_request_response(got[1]["SAMLResponse"], BINDING_HTTP_POST, outstanding={reqid: "/"})
            check("pysaml2 accepts the signed response (xmlsec1 signature, audience, InResponseTo)", resp is not None)
            check("SAML: NameID is the administrator's email", resp.get_subject().text == ADMIN[0], resp.get_subject().text)
            ident = resp.get_identity()
            check("SAML: the default attribute mapping (email, firstName, lastName)",
                  ident.get("email") == [ADMIN[0]] and ident.get("firstName") == [ADMIN[1]] and ident.get("lastName") == [ADMIN[2]], json.dumps(ident))
            check("SAML: RelayState comes back", got[1].get("RelayState") == "adminx", str(got[1].get("RelayState")))
        except Exception as error:
            check("pysaml2 accepts the signed response (xmlsec1 signature, audience, InResponseTo)", False, repr(error)[:300])

    # ---------------------------------------------------------------- Upstream IdPs
    def upstreams():
        w = state["w"]
        r = requests.get(base + "/adminx/upstreams", cookies={COOKIE: w.session()}, allow_redirects=False, timeout=10)
        if r.status_code == 404:
            skip("Upstream IdPs: add a SAML upstream by metadata URL and read its SP values", "GET /adminx/upstreams is 404 in this binary")
            return
        idp = OktaShapedIdP(work)
        state["idp"] = idp
        w.driver.get(base + "/adminx/upstreams")
        check("Upstream IdPs: the list page", bool(w.els("table#upstreams")) and bool(w.els("#add-upstream")), w.driver.current_url)
        w.visit("upstream IdPs", shot="adminx-upstreams.png")
        w.click("#add-upstream")
        check("Add upstream: the form", bool(w.els("form#upstream-form")), w.driver.current_url)
        w.visit("add upstream form", shot="adminx-add-upstream.png")
        w.fill("f-name", "okta")
        w.fill("f-display_name", "Okta")
        w.el('input[name="protocol"][value="saml"]').click()
        w.fill("f-metadata_url", idp.metadata_url)
        w.fill("f-email_domains", "example.org")
        provision = w.els('input[name="provision_users"]')
        if provision and not provision[0].is_selected():
            provision[0].click()
        w.click("#upstream-form-submit")
        if not w.path().endswith("/adminx/upstreams/okta"):
            w.driver.get(base + "/adminx/upstreams/okta")
        sp = {k: w.text(k) for k in ("sp-entity-id", "acs-url", "sp-metadata-url")}
        check("the upstream's page shows Sigil's SP entity ID, ACS URL and SP metadata URL",
              sp == {"sp-entity-id": f"{base}/saml/sp/okta/metadata", "acs-url": f"{base}/saml/sp/okta/acs",
                     "sp-metadata-url": f"{base}/saml/sp/okta/metadata"}, str(sp) + " " + (w.text("problem") or ""))
        md = requests.get(sp["sp-metadata-url"] or base, timeout=10)
        check("the SP metadata URL serves Sigil's SP metadata", md.status_code == 200 and f'entityID="{base}/saml/sp/okta/metadata"' in md.text,
              f"{md.status_code} {md.text[:200]}")
        w.visit("upstream page", shot="adminx-upstream.png")

    # ---------------------------------------------------------------- invite, the invitee's own browser
    def invite():
        w = state["w"]
        w.nav("Users")
        check("Users: the list with the search form", bool(w.els("form#user-search #f-q")) and bool(w.els("table#users")))
        w.visit("users", shot="adminx-users.png")
        w.click("#invite-user")
        check("Invite a user: the form", bool(w.els("form#invite-form")))
        w.visit("invite form", shot="adminx-invite.png")
        w.fill("f-email", INVITEE[0])
        w.fill("f-given_name", INVITEE[1])
        w.fill("f-family_name", INVITEE[2])
        w.click("#invite-form-submit")
        invite_link = w.copy("enrolment-link")
        check("the invitation shows a one-time enrolment link", (invite_link or "").startswith(base + "/enroll/"), str(invite_link))
        state["secrets"].append(invite_link or "")
        state["grace_id"] = w.text("user-id")
        state["grace_url"] = w.driver.current_url if "/users/" in w.driver.current_url else base + "/adminx/users/" + state["grace_id"]
        w.visit("user page (invited, enrolment link)", shot="adminx-user-invited.png", mask=("enrolment-link",))
        w.driver.get(base + "/adminx/users/" + state["grace_id"])
        check("the enrolment link is not shown again", (invite_link or "x") not in w.driver.page_source)

        d2, _ = make_driver()
        drivers.append(d2)
        state["d2"] = d2
        d2.get(invite_link)
        d2.find_element(By.ID, "enroll-button").click()
        wait_path(d2, "/account")
        check("the invitee enrolled a passkey in a second browser", d2.find_element(By.ID, "account-email").text == INVITEE[0])
        state["grace_cookie"] = d2.get_cookie(COOKIE)["value"]
        state["grace_csrf"] = d2.find_element(By.CSS_SELECTOR, 'input[name="csrf"]').get_attribute("value")

    # ---------------------------------------------------------------- a signed-in non-administrator
    def non_admin():
        w, d2 = state["w"], state["d2"]
        app_id = state["app_url"].rsplit("/", 1)[1]
        gid = state["grace_id"]
        admin_id = state["admin_id"]
        d2.get(base + "/adminx/")
        check("a non-administrator's browser gets the 'not an administrator' page", "not an administrator" in d2.find_element(By.TAG_NAME, "h1").text,
              d2.find_element(By.TAG_NAME, "h1").text)
        w.scan("403 page (non-administrator)", driver=d2)
        jar = {COOKIE: state["grace_cookie"]}
        kid = state.get("kids", [""])[0]
        gets = ["/adminx/", "/adminx/applications", "/adminx/applications/new", "/adminx/applications/new/oidc", "/adminx/applications/new/saml",
                f"/adminx/applications/{app_id}", f"/adminx/applications/{app_id}/delete", "/adminx/settings/authorization-server",
                "/adminx/federation/saml", f"/adminx/federation/saml/certificates/{kid}", "/adminx/federation/keys/rotate", "/adminx/users",
                f"/adminx/users?q={urllib.parse.quote(ADMIN[0])}", "/adminx/users/invite", f"/adminx/users/{admin_id}", f"/adminx/users/{gid}/delete",
                "/adminx/audit", "/adminx/audit/export", "/adminx/tenants", "/adminx/upstreams", "/adminx/upstreams/new"]
        wrong = []
        for p in gets:
            r = requests.get(base + p, cookies=jar, allow_redirects=False, timeout=10)
            if r.status_code != 403 and not (p.startswith("/adminx/upstreams") and r.status_code == 404):
                wrong.append(f"{p}: {r.status_code}")
            elif "Client credentials" in r.text or ADMIN[0] in r.text:
                wrong.append(f"{p}: leaks")
        check(f"a signed-in non-administrator gets 403 on every AdminX page ({len(gets)} GETs)", not wrong, "; ".join(wrong))
        csrf = state["grace_csrf"]
        posts = [("/adminx/applications/new/oidc", {"name": "Grace's app", "client_type": "confidential", "redirect_uris": "https://example.com/cb",
                                                   "grant_types.authorization_code": "on", "allowed_scopes.openid": "on"}),
                 (f"/adminx/applications/{app_id}", {"name": "renamed", "redirect_uris": "https://evil.example/cb"}),
                 (f"/adminx/applications/{app_id}/secret", {"grace_period": "0"}),
                 (f"/adminx/applications/{app_id}/delete", {}),
                 ("/adminx/applications/new/saml", {"name": "x", "source": "manual", "entity_id": "urn:x", "acs": "https://example.com/acs"}),
                 ("/adminx/federation/keys/rotate", {}),
                 ("/adminx/users/invite", {"email": "mallory@example.com"}),
                 (f"/adminx/users/{gid}/roles", {"admin": "on"}),
                 (f"/adminx/users/{admin_id}/status", {"status": "disabled"}),
                 (f"/adminx/users/{admin_id}/sessions/revoke", {}),
                 (f"/adminx/users/{admin_id}/invite", {}),
                 (f"/adminx/users/{admin_id}/delete", {}),
                 ("/adminx/tenants", {"name": "mallory"}),
                 ("/adminx/upstreams/new", {"name": "evil", "protocol": "saml", "metadata_url": "http://127.0.0.1:9/md"})]
        wrong = []
        for p, form in posts:
            r = requests.post(base + p, data=dict(form, csrf=csrf), cookies=jar, headers={"Origin": base}, allow_redirects=False, timeout=10)
            if r.status_code != 403 and not (p.startswith("/adminx/upstreams") and r.status_code == 404):
                wrong.append(f"{p}: {r.status_code}")
        check(f"a non-administrator's POSTs (own session, own CSRF token, Sigil's Origin) are 403 ({len(posts)} forms)", not wrong, "; ".join(wrong))
        unchanged(w, "after the non-administrator's POSTs")

    def unchanged(w, when):
        """Nothing the refused requests aimed at changed."""
        jar = {COOKIE: w.session()}
        page = requests.get(f"{base}/adminx/users/{state['grace_id']}", cookies=jar, timeout=10).text
        check(f"{when}: the invitee is still not an administrator", 'id="user-role">User<' in page, re.findall(r'id="user-role">[^<]*<', page))
        page = requests.get(f"{base}/adminx/users/{state['admin_id']}", cookies=jar, timeout=10).text
        check(f"{when}: the administrator is still active", 'id="user-status">active<' in page, re.findall(r'id="user-status">[^<]*<', page))
        apps = requests.get(base + "/adminx/applications", cookies=jar, timeout=10).text
        check(f"{when}: no application was added, renamed or deleted", app_count(apps) == state["app_count"]
              and "Auth0 (Sigil)" in apps and "renamed" not in apps and "Evil" not in apps, f"{app_count(apps)} vs {state['app_count']}")
        kids = sorted(k["kid"] for k in requests.get(base + "/oauth2/jwks", timeout=10).json()["keys"])
        check(f"{when}: the signing keys were not rotated", kids == state["jwks_kids"])
        tenants = requests.get(base + "/adminx/tenants", cookies=jar, timeout=10).text
        check(f"{when}: no tenant was created", "mallory" not in tenants and "evil" not in tenants)
        users = requests.get(base + "/adminx/users?q=mallory%40example.com", cookies=jar, timeout=10).text
        check(f"{when}: no user was invited", 'id="users-empty"' in users)

    # ---------------------------------------------------------------- attacks
    def attacks():
        w = state["w"]
        gid = state["grace_id"]
        admin_csrf = None
        w.driver.get(base + f"/adminx/users/{gid}")
        admin_csrf = w.csrf()
        version = w.el('#role-form input[name="version"]').get_attribute("value")
        # A cross-site page that auto-submits forms to AdminX, even knowing the CSRF token.
        peer.page("/attack-role", auto_post_page(f"{base}/adminx/users/{gid}/roles", {"csrf": admin_csrf, "admin": "on", "version": version}))
        peer.page("/attack-app", auto_post_page(f"{base}/adminx/applications/new/oidc", {
            "csrf": admin_csrf, "name": "Evil app", "client_type": "confidential", "redirect_uris": "https://evil.example/cb",
            "grant_types.authorization_code": "on", "allowed_scopes.openid": "on"}))
        for page, target in (("/attack-role", f"/adminx/users/{gid}/roles"), ("/attack-app", "/adminx/applications/new/oidc")):
            w.reset_logs()
            w.driver.get(peer.base + page)
            WebDriverWait(w.driver, 15).until(lambda d: d.current_url.startswith(base))
            time.sleep(0.3)
            seen = w.responses(target, "POST")
            origin = seen[-1]["request"].get("origin") if seen else None
            check(f"cross-site auto-submitting form to {target}: Chromium sent Origin {peer.base} and Sigil answered 403",
                  bool(seen) and seen[-1]["status"] == 403 and origin == peer.base, str([(s["status"], s["request"].get("origin")) for s in seen]))
        jar = {COOKIE: w.session()}
        target = f"{base}/adminx/users/{gid}/roles"
        form = {"admin": "on", "version": version}
        cases = [("no CSRF token", form, {"Origin": base}),
                 ("a forged CSRF token", dict(form, csrf="forged-" + admin_csrf[7:]), {"Origin": base}),
                 ("another session's CSRF token (the invitee's)", dict(form, csrf=state["grace_csrf"]), {"Origin": base}),
                 ("the right token but another site's Origin", dict(form, csrf=admin_csrf), {"Origin": peer.base}),
                 ("the right token but Origin null", dict(form, csrf=admin_csrf), {"Origin": "null"}),
                 ("the right token and no Origin", dict(form, csrf=admin_csrf), {})]
        for what, data, headers in cases:
            r = requests.post(target, data=data, cookies=jar, headers=headers, allow_redirects=False, timeout=10)
            check(f"an AdminX POST with the admin's session and {what} is refused (403)", r.status_code == 403, str(r.status_code))
        r = requests.post(f"{base}/adminx/applications/new/oidc", data={"csrf": admin_csrf, "name": ""}, cookies=jar, headers={"Origin": base},
                          allow_redirects=False, timeout=10)
        check("control: the same session's token with Sigil's Origin reaches the form (422 with field errors, not 403)",
              r.status_code in (400, 422) and 'id="f-name-error"' in r.text, str(r.status_code))
        unchanged(w, "after the forged requests")

        # Framing from another site.
        peer.page("/frame", f'<!doctype html><title>frame</title><iframe id="x" src="{base}/adminx/" width="900" height="600"></iframe>'
                            f'<iframe id="y" src="{base}/adminx/applications" width="900" height="600"></iframe>')
        w.driver.get(peer.base + "/frame")
        time.sleep(1.5)
        rendered = []
        for fid in ("x", "y"):
            w.driver.switch_to.frame(w.driver.find_element(By.ID, fid))
            try:
                # Blocked, Chromium shows its own error page (chrome-error://) in the frame.
                if w.driver.find_elements(By.CSS_SELECTOR, 'main#content, nav[aria-label="AdminX sections"], form[action*="/adminx/"], '
                                                           'input[name="csrf"]') or "AdminX" in w.driver.title:
                    rendered.append(fid + ": " + w.driver.execute_script("return location.href"))
            finally:
                w.driver.switch_to.default_content()
        check("a page on 127.0.0.1 that iframes /adminx/ does not render it", not rendered, "; ".join(rendered))
        w.drain()
        w.console.clear()  # the attacks' own refusals are not the pages' CSP reports

        # Headers of every AdminX page.
        app_id = state["app_url"].rsplit("/", 1)[1]
        pages = ["/adminx/", "/adminx/applications", "/adminx/applications/new", "/adminx/applications/new/oidc", "/adminx/applications/new/saml",
                 f"/adminx/applications/{app_id}", f"/adminx/applications/{app_id}/delete", "/adminx/settings/authorization-server",
                 "/adminx/federation/saml", "/adminx/federation/keys/rotate", "/adminx/users", "/adminx/users/invite", f"/adminx/users/{gid}",
                 f"/adminx/users/{gid}/delete", "/adminx/audit", "/adminx/tenants", "/adminx/audit/export"]
        bad_csp, bad_cache, bad_status = [], [], []
        for p in pages:
            r = requests.get(base + p, cookies=jar, allow_redirects=False, timeout=10)
            csp = r.headers.get("Content-Security-Policy", "")
            if r.status_code != 200:
                bad_status.append(f"{p}: {r.status_code} {r.text[-200:]!r}")
            # HTML pages allow our own script; a download (the audit export) runs none: default-src 'none' and no script-src.
            scripts_ok = "script-src 'self'" in csp if "text/html" in r.headers.get("Content-Type", "") else (
                "default-src 'none'" in csp and "script-src" not in csp)
            if "frame-ancestors 'none'" not in csp or "unsafe-inline" in csp or "unsafe-eval" in csp or not scripts_ok:
                bad_csp.append(f"{p}: {csp!r}")
            if "no-store" not in r.headers.get("Cache-Control", ""):
                bad_cache.append(f"{p}: {r.headers.get('Cache-Control')}")
        check(f"every AdminX page ({len(pages)}) sends a CSP with frame-ancestors 'none', no unsafe-inline/eval, script only from 'self' (none in the export)",
              not bad_csp, "; ".join(bad_csp))
        check("every AdminX page is Cache-Control: no-store", not bad_cache, "; ".join(bad_cache))
        check(f"every AdminX page ({len(pages)}) answers its administrator 200", not bad_status, "; ".join(bad_status))
        for asset in ("/assets/adminx.js", "/assets/adminx.css"):
            r = requests.get(base + asset, timeout=10)
            check(f"{asset} is served by Sigil (the pages' only script and style)", r.status_code == 200, str(r.status_code))
        html_pages = [requests.get(base + p, cookies=jar, timeout=10).text for p in pages[:-1]]
        inline = [p for p, t in zip(pages, html_pages) if re.search(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=\"|style=\"", t)]
        check("no AdminX page has inline script, event handler or style attribute", not inline, str(inline))

    # ---------------------------------------------------------------- a user's life
    def user_lifecycle():
        w = state["w"]
        gid = state["grace_id"]
        w.nav("Users")
        w.fill("f-q", INVITEE[0])
        w.click("#user-search-submit")
        rows = w.els("#users tbody tr")
        check("search by exact email finds the invitee", len(rows) == 1 and INVITEE[0] in rows[0].text, str([r.text for r in rows]))
        w.visit("user search results")
        w.fill("f-q", "nobody@example.com")
        w.click("#user-search-submit")
        check("search for an unknown email says so", bool(w.els("#users-empty")))
        w.fill("f-q", gid)
        w.click("#user-search-submit")
        rows = w.els("#users tbody tr")
        check("search by usr_ id finds the invitee", len(rows) == 1 and INVITEE[0] in rows[0].text, str([r.text for r in rows]))
        w.click("#users tbody tr a")
        check("the user's page", w.text("user-id") == gid and w.text("user-status") == "active", w.driver.current_url)
        check("the user's page lists their passkey and session", len(w.els("#passkeys-table tbody tr")) == 1 and len(w.els("#sessions-table tbody tr")) >= 1)
        jar = {COOKIE: state["grace_cookie"]}
        check("before: the invitee's session opens /account", requests.get(base + "/account", cookies=jar, allow_redirects=False, timeout=10).status_code == 200)
        w.click("#status-form-submit")
        check("Disable user: done", w.text("user-status") == "disabled" and "disabled" in (w.text("flash") or ""), w.text("flash") or w.text("problem"))
        r = requests.get(base + "/account", cookies=jar, allow_redirects=False, timeout=10)
        check("disabling ended the invitee's session (/account sends them to sign in)", r.status_code == 303 and "/login" in r.headers.get("Location", ""),
              f"{r.status_code} {r.headers.get('Location')}")
        w.click("#status-form-submit")
        check("Enable user: done", w.text("user-status") == "active" and "enabled" in (w.text("flash") or ""), w.text("flash") or w.text("problem"))
        w.click("#role-form-submit")
        check("Make administrator: done", w.text("user-role") == "Administrator", w.text("flash") or w.text("problem"))
        # The new administrator signs in again with their passkey and reaches AdminX (return_to).
        d2 = state["d2"]
        d2.get(base + "/adminx/users")
        deadline = time.time() + 30
        while time.time() < deadline and urllib.parse.urlparse(d2.current_url).path != "/adminx/users":
            if urllib.parse.urlparse(d2.current_url).path == "/login":
                try:
                    d2.find_element(By.ID, "passkey-button").click()
                except Exception:
                    pass
            time.sleep(0.5)
        check("the new administrator signs in with their passkey and lands back on /adminx/users",
              urllib.parse.urlparse(d2.current_url).path == "/adminx/users" and d2.find_element(By.TAG_NAME, "h1").text == "Users", d2.current_url)
        state["grace_cookie2"] = (d2.get_cookie(COOKIE) or {}).get("value")
        w.driver.get(base + f"/adminx/users/{gid}")
        w.click("#sign-out-everywhere")
        r = requests.get(base + "/adminx/", cookies={COOKIE: state["grace_cookie2"] or ""}, allow_redirects=False, timeout=10)
        check("Sign out everywhere ended the user's session", "Signed out everywhere" in (w.text("flash") or "") and r.status_code == 303,
              f"{w.text('flash')} {r.status_code}")
        w.click("#new-enrolment-link")
        fresh = w.text("enrolment-link")
        check("New enrolment link: a fresh one-time link", (fresh or "").startswith(base + "/enroll/"), str(fresh))
        state["secrets"].append(fresh or "")
        w.driver.get(base + f"/adminx/users/{gid}")
        w.visit("user page", shot="adminx-user.png")
        w.click("#delete-user")
        check("Delete user… asks for confirmation first", bool(w.els("form#delete-form")) and w.path().endswith("/delete"))
        w.visit("delete user confirmation")
        w.click("#delete-form a.cancel")
        check("Cancel goes back to the user", w.text("user-id") == gid)

    # ---------------------------------------------------------------- tenants
    def tenants():
        w = state["w"]
        w.driver.get(base + "/adminx/")
        w.nav("Tenants")
        check("Tenants: the table lists default", bool(w.els("table#tenants-table")) and "default" in w.el("#tenants-table").text)
        w.fill("f-name", "Not A Slug!")
        w.click("#tenant-form-submit")
        check("Add a tenant with a bad name: refused next to the field", bool(w.els("#problem")) and bool(w.text("f-name-error")), w.text("problem"))
        w.visit("refused tenant form")
        w.fill("f-name", "acme")
        w.fill("f-display_name", "Acme Corp")
        w.click("#tenant-form-submit")
        check("Add a tenant: created", "acme" in (w.text("flash") or "") and "acme" in w.el("#tenants-table").text, w.text("flash") or w.text("problem"))
        w.visit("tenants", shot="adminx-tenants.png")
        w.el("#tenants-table").find_element(By.XPATH, ".//tr[td[1]//text()[contains(., 'acme')]]//a").click()
        WebDriverWait(w.driver, 20).until(lambda d: urllib.parse.urlparse(d.current_url).path == "/t/acme/adminx/")
        check("a global administrator's session opens /t/acme/adminx/", w.text("tenant-name") == "Acme Corp" and w.el("h1").text == "Dashboard",
              f"{w.driver.current_url} {w.text('tenant-name')}")
        w.visit("acme dashboard (/t/acme/adminx/)", prefix="/t/acme")
        w.nav("Applications")
        check("the acme tenant's applications are its own (none)", bool(w.els("#applications-empty")), w.driver.current_url)

        # A tenant administrator (acme's own, invited as administrator there) is not a global one.
        w.driver.get(base + "/t/acme/adminx/users/invite")
        w.fill("f-email", "tess@acme.example")
        w.fill("f-given_name", "Tess")
        w.fill("f-family_name", "Tenant")
        w.el("#f-admin-0").click()
        w.click("#invite-form-submit")
        acme_link = w.text("enrolment-link") or ""
        state["secrets"].append(acme_link)
        check("acme: an administrator invited from /t/acme/adminx/", acme_link.startswith(base + "/t/acme/enroll/") and w.text("user-role") == "Administrator",
              f"{acme_link[:40]} {w.text('user-role')}")
        d3, _ = make_driver()
        drivers.append(d3)
        d3.get(acme_link)
        d3.find_element(By.ID, "enroll-button").click()
        wait_path(d3, "/t/acme/account")
        d3.get(base + "/t/acme/adminx/")
        who = (d3.find_elements(By.ID, "signed-in-as") or [None])[0]
        check("acme's administrator opens /t/acme/adminx/, not as a global administrator",
              who is not None and "tess@acme.example" in who.text and "global" not in who.text, d3.current_url)
        t = Walk(d3, base, None)
        t.contract("acme administrator's dashboard (no Tenants section)", prefix="/t/acme", is_global=False)
        t.scan("tenant administrator's dashboard", driver=d3)
        jar = {"sigil_session_acme": d3.get_cookie("sigil_session_acme")["value"]}
        csrf = t.csrf()
        r = requests.get(base + "/t/acme/adminx/tenants", cookies=jar, allow_redirects=False, timeout=10)
        check("acme's administrator gets 403 on Tenants (global administrators only)", r.status_code == 403, str(r.status_code))
        r = requests.post(base + "/t/acme/adminx/tenants", data={"csrf": csrf, "name": "tess"}, cookies=jar, headers={"Origin": base},
                          allow_redirects=False, timeout=10)
        check("acme's administrator cannot create a tenant (403)", r.status_code == 403, str(r.status_code))
        r = requests.get(base + "/adminx/users", cookies=jar, allow_redirects=False, timeout=10)
        check("acme's administrator does not open the default tenant's AdminX", r.status_code in (303, 403) and "tess@acme.example" not in r.text,
              str(r.status_code))
        d3.get(base + "/adminx/users")
        check("… nor in the browser (sent to sign in, no AdminX page)", not d3.find_elements(By.CSS_SELECTOR, 'nav[aria-label="AdminX sections"]'),
              d3.current_url)

    # ---------------------------------------------------------------- audit
    def audit():
        w = state["w"]
        admin_actor = "user:" + state["admin_id"]
        w.driver.get(base + "/adminx/")
        w.nav("Audit log")
        check("Audit log: the events table", bool(w.els("table#audit-events tbody tr")))
        w.visit("audit", shot="adminx-audit.png")
        jar = {COOKIE: w.session()}
        everything = requests.get(w.el("#export-audit").get_attribute("href"), cookies=jar, timeout=30)
        lines = [line for line in everything.text.splitlines() if line.strip()]
        parsed = []
        try:
            parsed = [json.loads(line) for line in lines]
            ok = True
        except ValueError as error:
            ok = False
            print("unparsable export line:", error)
        check("Export as JSON lines: every line parses, no-store, ndjson", everything.status_code == 200 and ok and len(parsed) > 0
              and "no-store" in everything.headers.get("Cache-Control", "") and "ndjson" in everything.headers.get("Content-Type", ""),
              f"{everything.status_code} {everything.headers.get('Content-Type')} {len(lines)} lines")
        first_page = [r.text for r in w.els("#audit-events tbody tr")]
        nxt = w.els("#audit-events-next")
        if len(first_page) == 50:
            if check("a full page of 50 events links to the next page (#audit-events-next)", bool(nxt)):
                w.click("#audit-events-next")
                second = [r.text for r in w.els("#audit-events tbody tr")]
                check("the next page continues with older events", bool(second) and not set(second) & set(first_page), str(len(second)))
                w.visit("audit, next page")
        else:
            check(f"a page of {len(first_page)} events (under 50) has no next link", not nxt)
        w.driver.get(base + "/adminx/audit")
        w.fill("f-actor", admin_actor)
        w.click("#audit-filter-submit")
        rows = [[c.text for c in r.find_elements(By.TAG_NAME, "td")] for r in w.els("#audit-events tbody tr")]
        actions = {r[1] for r in rows}
        want = {"application.created", "application.updated", "application.secret_rotated", "user.created", "enrolment.link_created", "user.updated"}
        check("Audit filtered by the administrator: their AdminX changes are listed", want <= actions, f"missing {sorted(want - actions)}")
        check("Audit filtered by actor: every row's actor is the administrator", rows and all(r[3] == admin_actor for r in rows),
              str({r[3] for r in rows}))
        updates = [r for r in rows if r[1] == "user.updated" and state["grace_id"] in r[4]]
        check("the invitee's disable, enable and role change are three user.updated events", len(updates) >= 3, str(len(updates)))
        w.visit("audit filtered")
        export = requests.get(w.el("#export-audit").get_attribute("href"), cookies=jar, timeout=30)
        mine = [json.loads(line) for line in export.text.splitlines() if line.strip()]
        check("the filtered export has the same events, all by the administrator",
              len(mine) >= len(rows) and all(e.get("actor") == admin_actor for e in mine) and want <= {e.get("action") for e in mine},
              f"{len(mine)} lines vs {len(rows)} rows")
        w.driver.get(base + "/adminx/audit")
        w.fill("f-action", "adminx.access_denied")
        Select(w.el("#f-outcome")).select_by_value("failure")
        w.click("#audit-filter-submit")
        rows = [[c.text for c in r.find_elements(By.TAG_NAME, "td")] for r in w.els("#audit-events tbody tr")]
        check("Audit: the non-administrator's refusals are logged (adminx.access_denied, failure, their user id)",
              rows and all(r[1] == "adminx.access_denied" and r[2] == "failure" for r in rows)
              and any(r[3] == "user:" + state["grace_id"] for r in rows), str(rows[:3]))
        # A tenant's creation is in the new tenant's own log, by the global administrator.
        w.driver.get(base + "/t/acme/adminx/audit?action=tenant.created")
        rows = [[c.text for c in r.find_elements(By.TAG_NAME, "td")] for r in w.els("#audit-events tbody tr")]
        check("the acme tenant's audit log has tenant.created by the global administrator", any(r[3] == admin_actor for r in rows), str(rows))
        for s in state["secrets"]:
            if s and s in everything.text + export.text:
                check("no secret in the audit export", False, s[:10])
                break
        else:
            check("no client secret, code, token or enrolment link in the audit export", True)

    # ---------------------------------------------------------------- key rotation and deletion
    def finish_up():
        w = state["w"]
        w.driver.get(base + "/adminx/federation/keys/rotate")
        w.click("#rotate-form-submit")
        check("Rotate keys: done, the overlap explained", "previous key stays published" in (w.text("flash") or ""), w.text("flash") or w.text("problem"))
        states = [r.find_elements(By.TAG_NAME, "td")[1].text for r in w.els("#keys-table tbody tr")]
        check("after rotation the keys table shows previous keys", "previous" in states, str(states))
        pem = requests.get(base + "/saml/certificate.pem", timeout=10).text
        if state.get("next_cert"):
            check("the certificate that was 'next' before the rotation now signs", pem_der(pem) == pem_der(state["next_cert"]))
        else:
            check("the keys table offered the next RS256 certificate before the rotation", False)
        w.driver.get(state["app_url"])
        w.click("#delete-application")
        check("Delete application… asks for confirmation first", bool(w.els("form#delete-form")) and w.path().endswith("/delete"))
        w.visit("delete application confirmation")
        w.click("#delete-form-submit")
        check("Delete application: back to the list, deleted", w.path() == "/adminx/applications" and "deleted" in (w.text("flash") or "")
              and "Auth0 (Sigil)" not in w.el("#applications").text, w.text("flash") or w.text("problem"))
        r = requests.post(state["meta"]["introspection_endpoint"], auth=(state["client_id"], state["client_secret_new"]), data={"token": "x"}, timeout=10)
        check("the deleted application's client is refused at the token endpoints (401)", r.status_code == 401, str(r.status_code))
        w.drain()
        check("no CSP violation reported by Chromium on any AdminX page", not w.console, " | ".join(w.console[:3]))

    def other_sections():
        """Every other section in the navigation (those later capabilities add) opens and passes the same checks."""
        w = state["w"]
        w.driver.get(base + "/adminx/")
        links = [(a.text.strip(), a.get_attribute("href")) for a in w.els('nav[aria-label="AdminX sections"] a')]
        for label, href in links:
            path = urllib.parse.urlparse(href).path
            if path in w.visited:
                continue
            r = requests.get(href, cookies={COOKIE: w.session()}, allow_redirects=False, timeout=10)
            check(f"section {label} ({path}) answers 200", r.status_code == 200, str(r.status_code))
            w.driver.get(href)
            w.visit(f"section {label}")

    def ids():
        """The administrator's user id and the signing keys, for later checks."""
        w = state["w"]
        w.driver.get(base + "/adminx/users?q=" + urllib.parse.quote(ADMIN[0]))
        w.click("#users tbody tr a")
        state["admin_id"] = w.text("user-id")
        state["jwks_kids"] = sorted(k["kid"] for k in requests.get(base + "/oauth2/jwks", timeout=10).json()["keys"])
        w.driver.get(base + "/adminx/federation/saml")
        state["kids"] = [r.find_elements(By.TAG_NAME, "td")[2].text for r in w.els("#keys-table tbody tr")]
        state["app_count"] = app_count(requests.get(base + "/adminx/applications", cookies={COOKIE: w.session()}, timeout=10).text)

    section("the gate", gate)
    section("first administrator", enrol)
    if "w" not in state:
        return
    section("OIDC application", oidc_app)
    section("Settings → Authorization Server", authorization_server)
    if "client_secret" in state and "meta" in state:
        section("OIDC sign-in through the configured application", oidc_signin)
    section("Federation → SAMLv2", federation)
    section("SAML application by metadata URL", saml_app)
    section("Upstream IdPs", upstreams)
    section("ids", ids)
    section("invite", invite)
    if "grace_csrf" in state:
        section("non-administrator", non_admin)
        section("attacks", attacks)
        section("a user's life", user_lifecycle)
    section("tenants", tenants)
    section("audit", audit)
    section("other sections", other_sections)
    section("key rotation and deletion", finish_up)
    print(f"(accessibility scanned on {len(state['w'].scanned)} pages: {', '.join(state['w'].scanned)})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--screenshots", default=None, help="save a PNG of each page walked here")
    args = ap.parse_args()
    started = time.time()
    binary = os.path.abspath(args.sigil)
    work = tempfile.mkdtemp(prefix="sigil-adminx-")
    shots = os.path.abspath(args.screenshots) if args.screenshots else None
    if shots:
        os.makedirs(shots, exist_ok=True)
    port = free_port()
    base = f"http://localhost:{port}"
    peer = Peer()
    drivers = []
    state = {"secrets": []}
    proc, link = start_sigil(binary, os.path.join(work, "data"), port)
    try:
        if check("sigil serve printed an enrolment link", bool(link)):
            run(binary, base, link, work, shots, peer, drivers, state)
    except Exception as error:
        traceback.print_exc()
        check("the walk ran to the end", False, repr(error))
    finally:
        for d in drivers:
            try:
                d.quit()
            except Exception:
                pass
        peer.server.shutdown()
        if state.get("idp"):
            state["idp"].shutdown()
        stop_sigil(proc)
        log = ""
        for name in ("serve.stdout", "serve.stderr"):
            with open(os.path.join(work, name)) as f:
                log += f.read()
        leaked = [s[:10] for s in state["secrets"] if s and s in log]
        check("no client secret, code, token or enrolment link in the server log", not leaked, ",".join(leaked))
        if shots:
            pngs = sorted(glob.glob(os.path.join(shots, "adminx-*.png")))
            if shutil.which("optipng") and pngs:
                subprocess.run(["optipng", "-quiet", "-o2", *pngs], capture_output=True)
            total = sum(os.path.getsize(p) for p in pngs)
            print(f"({len(pngs)} screenshots in {shots}, {total // 1024} KiB)")
        failures = sorted(glob.glob(os.path.join(work, "failure-*.png")))
        if failures:
            print("failure screenshots kept in", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        if SKIPPED:
            print(f"{len(SKIPPED)} skipped: " + "; ".join(SKIPPED))
        print(f"(run time {time.time() - started:.0f} s)")
        report_and_exit()


if __name__ == "__main__":
    main()
