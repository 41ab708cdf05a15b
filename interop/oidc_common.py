"""Shared set-up for the OpenID Connect interop scripts (oidc_battery.py, oidc_okta.py,
oidc_idpyoidc.py, oidc_mod_auth_openidc.py): start `sigil serve`, enrol the first administrator
with the browser's virtual passkey, register clients with the CLI, drive the browser through an
authorization until it reaches a redirect URI, verify ID tokens, and stop everything at the end.
"""
import base64, json, os, shutil, signal, subprocess, sys, tempfile, threading, time, traceback, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from passkey_signin import check, free_port, start_sigil, make_driver, wait_path, enrol_first_admin, RESULTS, stop_sigil, report_and_exit  # noqa: E402, F401

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


class Callback(BaseHTTPRequestHandler):
    """A local RP redirect target: records what arrived, answers a small page."""
    hits = []

    def do_GET(self):
        Callback.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body>rp callback</body></html>")

    def log_message(self, *args):
        pass


def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Sigil:
    """A running `sigil serve` with an enrolled passkey administrator and a browser signed in."""

    def __init__(self, binary, prefix="sigil-oidc-", artifacts=None):
        self.binary = os.path.abspath(binary)
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.keep = bool(artifacts)
        self.artifacts = artifacts or self.work
        os.makedirs(self.artifacts, exist_ok=True)
        self.data_dir = os.path.join(self.work, "data")
        self.port = free_port()
        self.issuer = f"http://localhost:{self.port}"
        self.rp_port = free_port()
        self.rp = HTTPServer(("127.0.0.1", self.rp_port), Callback)
        threading.Thread(target=self.rp.serve_forever, daemon=True).start()
        self.redirect_uri = f"http://127.0.0.1:{self.rp_port}/cb"
        self.proc, self.link = start_sigil(self.binary, self.data_dir, self.port)
        self.driver = None
        self.meta = {}
        self.secrets = []

    def enrol(self, email="ada@example.com", given="Ada", family="Lovelace"):
        if not check("sigil serve printed an enrolment link", bool(self.link)):
            raise RuntimeError("no enrolment link")
        self.driver, self.authenticator = enrol_first_admin(self.link, email, given, family)
        check("enrolled a passkey user (browser signed in)", True)
        self.meta = requests.get(self.issuer + "/.well-known/openid-configuration", timeout=10).json()
        return self.meta

    def cli(self, *args):
        return subprocess.run([self.binary, *args, "--data-dir", self.data_dir], capture_output=True, text=True)

    def create_client(self, name, *extra):
        out = self.cli("app", "create-oidc", "--tenant", "default", "--name", name, *extra, "--json")
        if out.returncode != 0:
            raise RuntimeError(f"create-oidc failed: {out.stderr}")
        reg = json.loads(out.stdout)
        if reg.get("client_secret"):
            self.secrets.append(reg["client_secret"])
        return reg

    def session_cookie(self):
        self.driver.get(self.issuer + "/healthz")  # cookies are read per site
        return (self.driver.get_cookie("sigil_session_default") or {}).get("value", "")

    def sign_out_browser(self):
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})

    def browse_until(self, url, prefix, timeout=40, consent="allow"):
        """Opens url in the browser, clicks through the hosted login when it appears, and returns
        (final URL, whether /login was shown) once the browser's URL starts with prefix. When the
        consent page appears, clicks `consent` ("allow" or "deny"); afterwards self.saw_consent
        says whether it appeared, self.login_pages holds the /login pages' HTML as read in the
        browser (when it was read before the passkey finished) and self.login_urls their URLs."""
        self.saw_consent = False
        self.login_pages = []
        self.login_urls = []
        d = self.driver
        d.get("about:blank")
        # A renderer-initiated navigation, like a link on an RP's page. Observed with WebDriver's get
        # (browser-initiated) from a page whose navigation had been blocked (Network.setBlockedURLs):
        # Chromium requested the authorize URL twice, spending a single-use request_uri.
        d.execute_script("window.location.href = arguments[0]", url)
        saw_login = False
        deadline = time.time() + timeout
        while time.time() < deadline:
            current = d.current_url
            if current.startswith(prefix):
                return current, saw_login
            path = urllib.parse.urlparse(current).path
            if path.endswith("/login"):
                saw_login = True
                if current not in self.login_urls:
                    self.login_urls.append(current)
                try:
                    # Kept before the click: the page may leave as soon as the passkey is used.
                    # Read in the page itself, so the HTML is the /login document's and not the
                    # one it is replacing.
                    html = d.execute_script(
                        "return location.pathname.endsWith('/login') ? document.documentElement.outerHTML : null")
                    if html and html not in self.login_pages:
                        self.login_pages.append(html)
                    d.find_element(By.ID, "passkey-button").click()
                except Exception:
                    pass
            elif path.endswith("/oauth2/authorize") or path.endswith("/oauth2/consent"):
                try:
                    button = d.find_element(By.ID, f"consent-{consent}")
                    self.saw_consent = True
                    button.click()
                    # One click per page: wait for the answer's navigation to replace it.
                    WebDriverWait(d, 10).until(EC.staleness_of(button))
                except Exception:
                    pass
            time.sleep(0.05)
        d.save_screenshot(os.path.join(self.artifacts, f"stuck-{int(time.time())}.png"))
        raise RuntimeError(f"browser never reached {prefix}: at {d.current_url}")

    def jwks(self):
        return requests.get(self.meta["jwks_uri"], timeout=10).json()

    def verify_id_token(self, id_token, client_id, nonce=None, access_token=None):
        """Verifies with authlib: RS256 signature by a key of /oauth2/jwks (kid matched), iss, aud,
        exp, iat, nonce, at_hash. Returns (claims or None, error text)."""
        import warnings
        warnings.filterwarnings("ignore")
        from authlib.jose import JsonWebKey, JsonWebToken
        from authlib.oidc.core import CodeIDToken
        header = b64json(id_token.split(".")[0])
        keys = self.jwks()
        if not any(k.get("kid") == header.get("kid") for k in keys.get("keys", [])):
            return None, f"kid {header.get('kid')} not in JWKS"
        try:
            claims = JsonWebToken(["RS256"]).decode(
                id_token, JsonWebKey.import_key_set(keys), claims_cls=CodeIDToken,
                claims_options={"iss": {"essential": True, "value": self.issuer}},
                claims_params={"nonce": nonce, "client_id": client_id, "access_token": access_token})
            claims.validate(leeway=5)
            return claims, ""
        except Exception as error:
            return None, repr(error)

    def finish(self):
        """Stops the browser and the server (a failed check if it does not exit 0), checks the
        log for leaked secrets, prints the tally and exits."""
        if self.driver:
            try:
                self.driver.quit()
            except Exception:
                pass
        self.rp.shutdown()
        stop_sigil(self.proc)
        log = ""
        for name in ("serve.stdout", "serve.stderr"):
            with open(os.path.join(self.work, name)) as f:
                log += f.read()
        leaked = [s[:12] for s in self.secrets if s and s in log]
        check("no code, token or client secret in the server log", not leaked, ",".join(leaked))
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        report_and_exit()

    def failed(self, error):
        traceback.print_exc()
        check("the flow ran to the end", False, repr(error))
        if self.driver:
            try:
                self.driver.save_screenshot(os.path.join(self.artifacts, "failure.png"))
                print("page at failure:", self.driver.current_url, self.driver.page_source[:1500])
            except Exception:
                pass
