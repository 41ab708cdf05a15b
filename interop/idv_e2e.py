#!/usr/bin/env python3
"""Interop: identity verification end to end, Okta "Bring your own IDV" style (issue 13), against the
real `sigil serve`, with real third-party software on each side: Python requests as Okta (the
OktaIDVClient of interop/okta_idv.py: PAR with client_secret_post and S256, the `claims` object with
fuzzy names, Okta's checks on the ID token, the OIDC4IDA schema) and headless Chromium (selenium) as
the person being verified, with a synthetic ePassport chip from interop/idv_passport.py.

The HTTP contract is /work/idv-contract/CONTRACT.md (the lead's); protocols.md §1 is Okta's side.

Set-up: `sigil serve` on http://localhost:PORT (SQLite in a temp folder), an admin token from
`sigil admin token create`, the fake Okta's callback on http://127.0.0.1:P/idp/identity-verification/callback
(cross-site: Sigil on localhost, the peers on 127.0.0.1), an OIDC application with
`"identity_verification": true` and client_secret_post (admin API), the tenant's IDV policy with
`require_liveness: false` (a camera fed from a file cannot blink: this run does not test liveness,
and says so), the synthetic CSCA imported.

Cases (each prints PASS / FAIL / SKIP lines):
  success        chip DG1/DG2/SOD (portrait ../shared/fixtures/faces/obama__a.jpg) through the page's file
                 inputs, selfie obama__b.jpg through #file-selfie, #submit → Okta's callback → token →
                 Okta's evaluation VERIFIED; verified_claims' verification element under the OIDC4IDA
                 rules (interop/ida_rules.py, always) and against the OIDC4IDA schema when the schemas
                 are there ($SIGIL_IDA_SCHEMA_DIR, see okta_idv.py); the admin API's verified_claims
                 (standard dialect) under the rules
  camera         the same with the selfie from Chromium's fake camera (--use-file-for-fake-video-capture
                 with an MJPEG made from obama__c.jpg) through #camera-start / #camera-capture-selfie
  FAILED         wrong face (biden__a.jpg), expired document, DG1 altered after signing, a DS from another
                 CSCA, expected names that do not match: a code is still issued, Okta's evaluation is FAILED,
                 assurance_level FAILED, and the admin API names the reason
  cancel         #cancel → error=access_denied with Okta's state (and iss) at the callback
  replays        the request_uri twice, the continue URL twice, the code twice (invalid_grant), Okta's PAR
                 body POSTed again byte for byte (a new request_uri; the old one stays used)
  refusals       the capture page and the JSON endpoints without the cookie, another session's cookie,
                 without or with a wrong X-Sigil-CSRF; unknown evidence kind; more than 10 MiB; submit
                 without evidence (missing_evidence)
  deadline       a session past its deadline: only with --session-lifetime-env NAME (a test-only server
                 setting that shortens IDV sessions); otherwise SKIP with a message
  hand-off       #handoff-link equals the QR in #handoff-qr (rendered with rsvg-convert, decoded with
                 zbarimg); a second browser profile (the phone) opens it, uploads and submits; the desktop's
                 #status reaches `decided` and goes on to Okta; the hand-off link a second time is refused
  admin API      policy GET/PUT, CSCA import/list/delete, POST /idv/sessions then GET shows the state, and
                 after a run the decision and the checks
  privacy        after the runs: the server's output has no document number, name, or base64 of an uploaded
                 image; the SQLite database and every file in the data folder have none of them in clear

Face matching needs the engine (`--engine PATH`, given to `sigil serve` as $SIGIL_IDV_ENGINE). Without it the
face-dependent outcomes must carry the server's `engine_unavailable` reason and are reported as SKIP with that
message (a FAIL if the server does not say so). Without ../shared/fixtures ($SIGIL_FIXTURES_DIR overrides) the
photo cases are skipped with a message.

    /opt/peers-venv/bin/python interop/idv_e2e.py --sigil .build/debug/sigil [--engine PATH] [--artifacts DIR]
        [--session-lifetime-env NAME]

Ends with "N passed, M failed" (SKIPs are counted apart); exits 1 on any FAIL.
"""
import argparse, base64, hashlib, json, os, re, shutil, signal, sqlite3, subprocess, sys, tempfile, threading, time, traceback, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from passkey_signin import OUTBOUND_ALLOW_HOSTS, free_port  # noqa: E402
from okta_idv import CALLBACK_PATH, OKTA_USER_ID, OktaIDVClient, load_ida_schemas  # noqa: E402
import ida_rules  # noqa: E402
import idv_passport  # noqa: E402

import requests  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

RESULTS = {"passed": 0, "failed": 0, "skipped": 0}
FACES = idv_passport.FIXTURE_FACES
OTHER_USER_ID = "00ub0oNGTSWTBKOLGOTH"
COOKIE = "sigil_idv"
CSRF_HEADER = "X-Sigil-CSRF"
STATES = ("ready", "uploading", "uploaded", "checking", "decided", "cancelled", "error")
ENGINE_REASON = "engine_unavailable"
DOC_TYPE_REPORTED = []


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else f": {detail}"), flush=True)
    return ok


def skip(name, why):
    RESULTS["skipped"] += 1
    print(f"SKIP {name}: {why}", flush=True)


def note(text):
    print(f"  note: {text}", flush=True)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def wait_for(fn, timeout=30, interval=0.2):
    """fn()'s first truthy value within timeout, else None (exceptions count as falsy)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = fn()
            if value:
                return value
        except Exception:
            pass
        time.sleep(interval)
    return None


# ---------------------------------------------------------------------------------------------------
# The server, Okta's callback, the browsers
# ---------------------------------------------------------------------------------------------------

def start_serve(binary, work, port, extra_env=None, tag="serve"):
    """`sigil serve` as the other browser suites start it (passkey_signin.start_sigil), plus extra_env
    (SIGIL_IDV_ENGINE). Returns (process, data dir, stdout path, stderr path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGIL_")}
    env["SIGIL_OUTBOUND_ALLOW_HOSTS"] = OUTBOUND_ALLOW_HOSTS
    env.update(extra_env or {})
    data = os.path.join(work, tag + "-data")
    out_path, err_path = os.path.join(work, tag + ".stdout"), os.path.join(work, tag + ".stderr")
    proc = subprocess.Popen([binary, "serve", "--port", str(port), "--data-dir", data, "--public-url", f"http://localhost:{port}"],
                            stdout=open(out_path, "w"), stderr=open(err_path, "w"), env=env)
    ok = wait_for(lambda: proc.poll() is None and requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200, 60, 0.3)
    if not ok:
        raise RuntimeError(f"sigil serve did not get ready (exit {proc.poll()}): {open(err_path).read()[-600:]}")
    return proc, data, out_path, err_path


def stop_serve(proc, label="sigil"):
    proc.send_signal(signal.SIGTERM)
    try:
        check(f"{label} exits 0 on SIGTERM", proc.wait(timeout=30) == 0)
    except subprocess.TimeoutExpired:
        proc.kill()
        check(f"{label} exits 0 on SIGTERM", False, "timeout")


def admin_token(binary, data):
    r = subprocess.run([binary, "admin", "token", "create", "--data-dir", data], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or not r.stdout.strip():
        raise RuntimeError(f"sigil admin token create failed: {r.stderr[-400:]}")
    return r.stdout.strip().splitlines()[-1]


class OktaCallback:
    """Okta's /idp/identity-verification/callback on 127.0.0.1: records each hit, answers a small page."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                hits.append(self.path)
                body = b"<html><body><h1 id='okta-callback'>Okta callback</h1></body></html>"
                self.send_response(200 if self.path.startswith(CALLBACK_PATH) else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.base + CALLBACK_PATH
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


def browser(extra_args=()):
    """Headless Chromium, each in its own fresh profile (chromedriver's temporary user data dir)."""
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1024,900", *extra_args):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


class AdminAPI:
    def __init__(self, base, token):
        self.base, self.h = base, {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def call(self, method, path, body=None):
        r = requests.request(method, self.base + "/api/admin/v1" + path, json=body, headers=self.h, timeout=30)
        try:
            data = r.json()
        except ValueError:
            data = None
        return r, data


# ---------------------------------------------------------------------------------------------------
# The capture page in a browser
# ---------------------------------------------------------------------------------------------------

def page_state(driver):
    els = driver.find_elements(By.ID, "status")
    return (els[0].get_attribute("data-state") or "", els[0].text) if els else ("", "")


def sid_of(url):
    m = re.search(r"/idv/([A-Za-z0-9_-]+)", urllib.parse.urlparse(url).path)
    return m.group(1) if m else None


def set_file(driver, element_id, path):
    el = driver.find_element(By.ID, element_id)
    if not el.is_displayed():
        driver.execute_script("arguments[0].hidden=false; arguments[0].style.display='block'; arguments[0].style.visibility='visible';", el)
    el.send_keys(path)


def wait_uploaded(driver, before_text, timeout=30):
    """After a file was chosen: until #status is `error`, or `uploaded` with a new text (or `uploaded` for 3 s
    when the page says the same words twice)."""
    start = time.time()

    def settled():
        state, text = page_state(driver)
        if state == "error":
            return (state, text)
        if state == "uploaded" and (text != before_text or time.time() - start > 3):
            return (state, text)
        return None
    time.sleep(0.3)
    got = wait_for(settled, timeout)
    return got or page_state(driver)


def fill_capture(driver, chip, selfie=None, camera=False):
    """Chooses passport, the three chip files, then the selfie (a file, or the camera). Returns (ok, detail)."""
    sel = driver.find_elements(By.ID, "document-type")
    if sel:
        values = [o.get_attribute("value") for o in Select(sel[0]).options]
        if "passport" not in values:
            if not DOC_TYPE_REPORTED:
                DOC_TYPE_REPORTED.append(True)
                check("the capture page's #document-type offers passport (the policy allows it)", False,
                      f"options {values}; the harness adds the option itself to go on with the other cases")
            driver.execute_script("const o=document.createElement('option'); o.value='passport'; o.text='Passport'; arguments[0].appendChild(o);", sel[0])
        elif not DOC_TYPE_REPORTED:
            DOC_TYPE_REPORTED.append(True)
            check("the capture page's #document-type offers passport (the policy allows it)", True)
        Select(sel[0]).select_by_value("passport")
    _, text = page_state(driver)
    set_file(driver, "file-chip-dg1", chip["files"]["dg1"])
    set_file(driver, "file-chip-dg2", chip["files"]["dg2"])
    set_file(driver, "file-chip-sod", chip["files"]["sod"])
    state, text = wait_uploaded(driver, text)
    if state == "error":
        return False, f"chip upload: #status error: {text}"
    if camera:
        driver.find_element(By.ID, "camera-start").click()
        playing = wait_for(lambda: driver.execute_script(
            "const v=document.getElementById('camera-video'); return v && v.readyState >= 2 && v.videoWidth > 0 ? [v.videoWidth, v.videoHeight] : null;"), 20)
        if not playing:
            return False, f"the camera video never played; #status: {page_state(driver)}"
        time.sleep(0.5)
        driver.find_element(By.ID, "camera-capture-selfie").click()
    elif selfie:
        set_file(driver, "file-selfie", selfie)
    if camera or selfie:
        state, text = wait_uploaded(driver, text)
        if state == "error":
            return False, f"selfie upload: #status error: {text}"
    return True, ""


def wait_callback(driver, okta, timeout=60):
    return wait_for(lambda: driver.current_url if driver.current_url.startswith(okta.url) else None, timeout, 0.3)


# ---------------------------------------------------------------------------------------------------
# The JSON endpoints as a script (requests), for the refusals
# ---------------------------------------------------------------------------------------------------

class CaptureSession:
    """One IDV session held by a requests.Session: the authorize redirect, the cookie, the CSRF token."""

    def __init__(self, base, client, p):
        self.base, self.http = base, requests.Session()
        self.origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlparse(base))
        self.p = p
        self.authorize = self.http.get(client.authorize_url(p), allow_redirects=False, timeout=15)
        loc = urllib.parse.urljoin(base, self.authorize.headers.get("Location", ""))
        self.sid = sid_of(loc) if self.authorize.status_code in (302, 303) else None
        self.page_url = loc
        self.csrf, self.page = None, None
        if self.sid:
            self.page = self.http.get(loc, timeout=15)
            m = re.search(r'<meta[^>]+name="sigil-idv-csrf"[^>]+content="([^"]+)"', self.page.text) or \
                re.search(r'<meta[^>]+content="([^"]+)"[^>]+name="sigil-idv-csrf"', self.page.text)
            self.csrf = m.group(1) if m else None

    def url(self, suffix=""):
        return f"{self.base}/idv/{self.sid}{suffix}"

    def post(self, suffix, body=None, ctype="application/json", csrf=True, cookies=True, origin=True):
        headers = {"Content-Type": ctype, "Accept": "application/json"}
        if origin:  # what a browser's fetch sends; Sigil refuses a POST without its own Origin
            headers["Origin"] = origin if isinstance(origin, str) else self.origin
        if csrf is True and self.csrf:
            headers[CSRF_HEADER] = self.csrf
        elif isinstance(csrf, str):
            headers[CSRF_HEADER] = csrf
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        if cookies:
            return self.http.post(self.url(suffix), data=data, headers=headers, timeout=60, allow_redirects=False)
        return requests.post(self.url(suffix), data=data, headers=headers, timeout=60, allow_redirects=False)

    def chip(self, passport, **kw):
        return self.post("/evidence/chip", {"dg1": b64u(passport["dg1_bytes"]), "dg2": b64u(passport["dg2_bytes"]),
                                            "sod": b64u(passport["sod_bytes"])}, **kw)

    def selfie(self, data, **kw):
        return self.post("/evidence/selfie", data, ctype="image/jpeg", **kw)


def jbody(r):
    try:
        return r.json()
    except ValueError:
        return None


def csca_list(body):
    """The CSCAs of an import or list answer: `cscas` (CONTRACT.md) or `items` (what the server answers; FINDINGS.md)."""
    if isinstance(body, list):
        return body
    body = body or {}
    return body.get("cscas") or body.get("items") or []


def refused(r):
    return r is not None and 400 <= r.status_code < 500


# ---------------------------------------------------------------------------------------------------
# The QR code
# ---------------------------------------------------------------------------------------------------

def decode_qr_svg(svg, workdir):
    """(text or None, detail): rsvg-convert the inline SVG (given an xmlns if it has none, and a white quiet zone)
    to PNG, then zbarimg."""
    if not shutil.which("rsvg-convert") or not shutil.which("zbarimg"):
        return None, "rsvg-convert or zbarimg missing (scripts/install-interop.sh installs librsvg2-bin and zbar-tools)"
    if "xmlns=" not in svg.split(">", 1)[0]:
        svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    attempts = [svg]
    vb = re.search(r'viewBox="\s*([-\d.]+)[ ,]+([-\d.]+)[ ,]+([-\d.]+)[ ,]+([-\d.]+)\s*"', svg)
    if vb:
        x, y, w, h = (float(v) for v in vb.groups())
        m = max(w, h) * 0.15
        inner = re.sub(r'\s(width|height)="[^"]*"', "", svg.split(">", 1)[0], count=2) + ">" + svg.split(">", 1)[1]
        inner = inner.replace("<svg", f'<svg x="{m}" y="{m}" width="{w}" height="{h}"', 1)
        attempts.append(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w + 2 * m} {h + 2 * m}" width="{w + 2 * m}" height="{h + 2 * m}">'
                        f'<rect width="100%" height="100%" fill="#fff"/>{inner}</svg>')
    detail = ""
    for i, text in enumerate(attempts):
        src, png = os.path.join(workdir, f"handoff-{i}.svg"), os.path.join(workdir, f"handoff-{i}.png")
        with open(src, "w") as f:
            f.write(text)
        r = subprocess.run(["rsvg-convert", "--background-color=white", "-w", "600", "-o", png, src], capture_output=True, text=True)
        if r.returncode != 0:
            detail += f"rsvg-convert: {r.stderr.strip()[:200]}; "
            continue
        z = subprocess.run(["zbarimg", "--raw", "-q", png], capture_output=True, text=True)
        if z.returncode == 0 and z.stdout.strip():
            return z.stdout.strip(), ""
        detail += f"zbarimg found nothing in attempt {i}; "
    return None, detail


# ---------------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------------

class Suite:
    def __init__(self, args):
        self.args = args
        self.binary = os.path.abspath(args.sigil)
        self.work = tempfile.mkdtemp(prefix="sigil-idv-e2e-")
        self.artifacts = args.artifacts or self.work
        os.makedirs(self.artifacts, exist_ok=True)
        self.engine = os.path.abspath(args.engine) if args.engine else None
        self.engine_present = bool(self.engine) and os.path.isfile(self.engine) and os.access(self.engine, os.X_OK)
        self.fixtures = os.path.isdir(FACES) and all(os.path.isfile(os.path.join(FACES, n)) for n in
                                                       ("obama__a.jpg", "obama__b.jpg", "obama__c.jpg", "biden__a.jpg"))
        self.drivers = []
        self.proc = self.okta = None
        self.sessions = {}  # case -> sid
        self.passports = {}
        self.uploaded_images = []  # bytes of every image sent
        self.serve_logs = []
        self.data_dirs = []

    def face(self, name):
        return os.path.join(FACES, name)

    # --- set-up ---

    def make_passports(self):
        pki = idv_passport.make_pki(os.path.join(self.work, "pki"))
        portrait = open(self.face("obama__a.jpg"), "rb").read() if self.fixtures else idv_passport.TINY_JPEG
        for case, forge in (("good", None), ("expired", "expired"), ("altered", "altered-dg1"), ("other_csca", "other-csca")):
            self.passports[case] = idv_passport.make_passport(os.path.join(self.work, "passport-" + case), pki, portrait, forge=forge)
        self.pki = pki
        self.uploaded_images.append(portrait)
        # Without the photographs a selfie is still needed for the flow to reach a decision: a JPEG skeleton (no face).
        self.placeholder = os.path.join(self.work, "placeholder.jpg")
        with open(self.placeholder, "wb") as f:
            f.write(idv_passport.TINY_JPEG)

    def start(self):
        self.port = free_port()
        self.base = f"http://localhost:{self.port}"
        # Without --engine the server is pointed at a path that does not exist: it would otherwise look in its
        # default place (/usr/local/lib/sigil/sigil-idv-engine) and the run would not be the engine-less one asked for.
        env = {"SIGIL_IDV_ENGINE": self.engine or os.path.join(self.work, "no-engine", "sigil-idv-engine")}
        self.proc, self.data, out, err = start_serve(self.binary, self.work, self.port, env)
        self.serve_logs += [out, err]
        self.data_dirs.append(self.data)
        self.admin = AdminAPI(self.base, admin_token(self.binary, self.data))
        self.okta = OktaCallback()

    def setup_app(self):
        body = {"name": "Okta IDV", "protocol": "oidc", "redirect_uris": [self.okta.url], "token_endpoint_auth_method": "client_secret_post",
                "grant_types": ["authorization_code"], "allowed_scopes": ["openid", "profile", "identity_assurance"], "require_pkce": True,
                "identity_verification": True}
        r, app = self.admin.call("POST", "/applications", body)
        oidc = (app or {}).get("oidc") or {}
        if not check("admin API: an OIDC application with identity_verification true, client_secret_post -> 201 with a secret",
                     r.status_code == 201 and bool(oidc.get("client_id")) and bool((app or {}).get("client_secret")), f"{r.status_code} {r.text[:300]}"):
            raise RuntimeError("no application")
        check("... the application reads back with identity_verification true",
              oidc.get("identity_verification") is True or (app or {}).get("identity_verification") is True, json.dumps(app)[:300])
        disco = requests.get(self.base + "/.well-known/openid-configuration", timeout=10).json()
        par, token, jwks = disco.get("pushed_authorization_request_endpoint"), disco.get("token_endpoint"), disco.get("jwks_uri")
        check("discovery names the PAR, token and JWKS endpoints Okta is configured with",
              par == self.base + "/oauth2/par" and token == self.base + "/oauth2/token" and bool(jwks), f"{par} {token} {jwks}")
        schemas, why = load_ida_schemas()
        self.schemas_why = why
        self.client = OktaIDVClient(self.base, self.base + "/oauth2/par", self.base + "/oauth2/idv-authorize", self.base + "/oauth2/token",
                                    jwks or self.base + "/oauth2/jwks", oidc["client_id"], app["client_secret"], schemas=schemas)
        self.client.callback_url = self.okta.url

        # The admin API takes no explicit null (an absent field is the way to say "none").
        r, _ = self.admin.call("PUT", "/idv/policy", {"minimum_age": None})
        check("admin API: PUT /idv/policy with minimum_age null -> 400 naming the field", r.status_code == 400 and "minimum_age" in r.text,
              f"{r.status_code} {r.text[:300]}")
        policy = {"document_types": ["passport"], "countries": ["UTO"], "require_chip": True,
                  "require_face_match": True, "require_liveness": False, "weakest_name_match": "fuzzy", "review_reasons": [],
                  "face_match_threshold": 0.6, "retention_days": 30}
        r, got = self.admin.call("PUT", "/idv/policy", policy)
        check("admin API: PUT /idv/policy (require_liveness false, no minimum age) -> 200", r.status_code == 200, f"{r.status_code} {r.text[:300]}")
        r, got = self.admin.call("GET", "/idv/policy")
        check("... GET /idv/policy reads it back", r.status_code == 200 and isinstance(got, dict)
              and all(got.get(k) == v for k, v in policy.items()), f"{r.status_code} {r.text[:400]}")
        print("  note: LIVENESS IS NOT TESTED: the policy sets require_liveness false (a camera fed from a file cannot blink)", flush=True)

        pem = open(self.pki["csca"][0]).read()
        der = subprocess.run(["openssl", "x509", "-in", self.pki["csca"][0], "-outform", "DER"], capture_output=True).stdout
        r, got = self.admin.call("POST", "/idv/cscas", {"pem": pem})
        ids = [c.get("id") for c in csca_list(got)]
        check("admin API: POST /idv/cscas imports the synthetic brainpool CSCA -> 201, imported 1, id = SHA-256 of its DER",
              r.status_code == 201 and (got or {}).get("imported") == 1 and ids == [hashlib.sha256(der).hexdigest()], f"{r.status_code} {r.text[:300]}")
        other = open(self.pki["other_csca"][0]).read()
        r2, got2 = self.admin.call("POST", "/idv/cscas", {"pem": other})
        other_id = (csca_list(got2) or [{}])[0].get("id")
        r3, listed = self.admin.call("GET", "/idv/cscas")
        listed_ids = [c.get("id") for c in csca_list(listed)]
        r4, _ = self.admin.call("DELETE", f"/idv/cscas/{other_id}")
        r5, listed2 = self.admin.call("GET", "/idv/cscas")
        listed2_ids = [c.get("id") for c in csca_list(listed2)]
        check("admin API: a second CSCA imported, listed, DELETEd, gone from the list (the first stays)",
              r2.status_code == 201 and other_id in listed_ids and r4.status_code in (200, 204) and other_id not in listed2_ids
              and ids and ids[0] in listed2_ids, f"{r2.status_code} {listed_ids} {r4.status_code} {listed2_ids}")

    # --- one Okta run in a browser ---

    def okta_run(self, driver, case, chip, selfie=None, camera=False, names=("Anna", "Eriksson"), login_hint=OKTA_USER_ID,
                 extra_claims=None, action="submit"):
        """PAR → the capture page → evidence → submit (or cancel) → Okta's callback → token. Returns a dict."""
        out = {"case": case, "ok": False}
        p = self.client.par(names[0], names[1], login_hint, extra_claims=extra_claims)
        out["p"] = p
        if not p.ok:
            out["detail"] = f"PAR: {p.reasons} {p.problems}"
            return out
        driver.get(self.client.authorize_url(p))
        sid = wait_for(lambda: sid_of(driver.current_url), 20)
        out["sid"] = sid
        if not sid:
            out["detail"] = f"not on a capture page: {driver.current_url} {driver.page_source[:200]}"
            return out
        self.sessions[case] = sid
        if action == "submit":
            ok, detail = fill_capture(driver, chip, selfie, camera)
            if not ok:
                out["detail"] = detail
                driver.save_screenshot(os.path.join(self.artifacts, f"{case}-upload.png"))
                return out
            driver.find_element(By.ID, "submit").click()
        else:
            driver.find_element(By.ID, "cancel").click()
        url = wait_callback(driver, self.okta)
        if not url:
            driver.save_screenshot(os.path.join(self.artifacts, f"{case}-stuck.png"))
            out["detail"] = f"never reached Okta's callback; at {driver.current_url}, #status {page_state(driver)}"
            return out
        out["callback_url"] = url
        cb = self.client.callback(url, p)
        out["cb"] = cb
        out["ok"] = True
        if cb.get("code"):
            out["verdict"] = self.client.token(cb["code"], p)
        return out

    def session_json(self, sid):
        r, got = self.admin.call("GET", f"/idv/sessions/{sid}")
        return got if r.status_code == 200 and isinstance(got, dict) else {"_status": r.status_code, "_body": r.text[:300]}

    @staticmethod
    def reasons_of(sess):
        out = list(sess.get("reasons") or [])
        for c in sess.get("checks") or []:
            out += list(c.get("reasons") or [])
        return out

    @staticmethod
    def assurance(verdict):
        vc = ((verdict or {}).get("id_token_claims") or {}).get("verified_claims")
        if isinstance(vc, list) and vc and isinstance(vc[0], dict):
            return (vc[0].get("verification") or {}).get("assurance_level", "<absent>")
        return "<no verified_claims>"

    @staticmethod
    def plumbing_ok(verdict):
        """The OIDC plumbing Okta checks (signature, iss, aud, exp, iat, nonce, sub, shape) passed, whatever the decision."""
        allowed = {"CLAIMS_VERIFIED", "CLAIMS_NOT_VERIFIED"}
        return bool(verdict) and all(r in allowed or re.fullmatch(r"CLAIM_[A-Z_]+_NOT_VERIFIED", r) for r in verdict.get("reasons", []))

    def face_case(self, name, run, expect_result, expect_reason=None):
        """A face-dependent outcome: PASS/FAIL with the engine; without it SKIP when the server says engine_unavailable."""
        if not run.get("ok"):
            return check(name, False, run.get("detail", ""))
        sess = self.session_json(run["sid"])
        reasons = self.reasons_of(sess)
        v = run.get("verdict") or {}
        if not self.engine_present:
            if ENGINE_REASON in reasons:
                skip(name, f"face match needs the engine: the server reports {ENGINE_REASON} "
                           f"({'--engine not given' if not self.engine else self.engine + ' absent'}); Okta's evaluation {v.get('result')}")
                return None
            return check(name + f" (no engine: the server must report {ENGINE_REASON})", False, f"reasons {reasons}; {sess.get('_body', '')}")
        if ENGINE_REASON in reasons:
            return check(name, False, f"the engine {self.engine} is there but the server reports {ENGINE_REASON}")
        if not self.fixtures:
            # Without the photographs the chip's portrait is a 1x1 skeleton: no face to match.
            skip(name, f"{FACES} absent: the portrait is a placeholder, the server says {reasons}")
            return None
        ok = v.get("result") == expect_result and (expect_reason is None or expect_reason in reasons)
        return check(name, ok, f"Okta {v.get('result')} {v.get('reasons')} {v.get('details', [])[:3]}; server {sess.get('status')} {reasons}")

    # --- the cases ---

    def run_browser_cases(self):
        d = browser()
        self.drivers.append(d)
        good = self.passports["good"]
        photos = self.fixtures
        selfie_ok = self.face("obama__b.jpg") if photos else self.placeholder
        if photos:
            self.uploaded_images += [open(self.face("obama__b.jpg"), "rb").read(), open(self.face("biden__a.jpg"), "rb").read()]

        # success
        if not photos:
            skip("success with the photographs", f"{FACES} absent (the photo cases need ../shared/fixtures)")
            run = self.okta_run(d, "success", good, self.placeholder)
        else:
            run = self.okta_run(d, "success", good, selfie_ok, extra_claims={"birthdate": "1974-08-12"})
        self.success = run
        if check("success: PAR, the capture page, the chip files and the selfie through the file inputs, #submit, Okta's callback",
                 run.get("ok") and bool((run.get("cb") or {}).get("code")), run.get("detail", str(run.get("cb"))[:300])):
            cb, p = run["cb"], run["p"]
            check("... the callback carries Okta's state and iss = the issuer", cb["state"] == p.state and
                  urllib.parse.parse_qs(urllib.parse.urlparse(run["callback_url"]).query).get("iss") == [self.base], run["callback_url"])
            v = run.get("verdict") or {}
            check("... the code exchanges (client_secret_post, PKCE) for an ID token Okta accepts: RS256 kid in JWKS, iss, aud, exp, iat, nonce, sub",
                  self.plumbing_ok(v), f"{v.get('reasons')} {v.get('details', [])[:4]}")
            # Okta's dialect: only the verification element is held to the IDA rules (okta_idv.py says why).
            check("... verified_claims valid under the OIDC4IDA rules (ida_rules.py, written from the spec): the verification element of Okta's dialect",
                  (v.get("rules") or {}).get("verification_errors") == [], str((v.get("rules") or {}).get("verification_errors", "no verified_claims")))
            sess = self.session_json(run["sid"])
            pa = [c for c in sess.get("checks") or [] if c.get("name") == "passive_authentication"]
            check("... the admin API shows passive_authentication passed (SOD, DS chained to the imported CSCA, DG hashes)",
                  len(pa) == 1 and pa[0].get("passed") is True, str(sess)[:500])
            if photos:
                if self.face_case("success: Okta's evaluation VERIFIED (face match obama__a / obama__b)", run, "VERIFIED"):
                    vc = v.get("verified_claims") or []
                    claims = (vc[0] if vc else {}).get("claims", {})
                    check("... verified_claims answers given_name and family_name as {value, fuzzy: true}, assurance VERIFIED, trust_framework IDV-DELEGATED",
                          all(isinstance(claims.get(k), dict) and claims[k].get("fuzzy") is True and claims[k].get("value") for k in ("given_name", "family_name"))
                          and self.assurance(v) == "VERIFIED", json.dumps(vc)[:400])
                    bd = claims.get("birthdate")
                    check("... birthdate (expected 1974-08-12, the chip's 740812) comes back verified", isinstance(bd, dict) and bd.get("value") in ("1974-08-12", "MATCHED"), str(bd))
                    sch = v.get("schema") or {}
                    if sch.get("checked"):
                        check("... the verification element is valid against the OIDC4IDA schema (openid/eKYC-IDA)", sch.get("verification_errors") == [],
                              str(sch.get("verification_errors")))
                    else:
                        skip("verified_claims against the OIDC4IDA schema", f"schemas not available: {self.schemas_why}")
                    s2 = self.session_json(run["sid"])
                    check("... the admin API shows the decision VERIFIED with its checks and verified_claims", s2.get("state") == "decided"
                          and s2.get("status") == "VERIFIED" and s2.get("verified_claims") and all({"name", "passed"} <= set(c) for c in s2.get("checks", [])),
                          str(s2)[:400])
                    errors = ida_rules.validate_verified_claims(s2.get("verified_claims"))
                    check("... the admin API's verified_claims (standard dialect) valid under the OIDC4IDA rules (ida_rules.py, written from the spec)",
                          not errors, "; ".join(errors[:4]))

            # replays on the success run
            r = requests.get(self.client.authorize_url(p), allow_redirects=False, timeout=10)
            check("replay: the same request_uri a second time is refused (no capture page, no cookie)",
                  not (r.status_code in (302, 303) and "/idv/" in r.headers.get("Location", "")) and COOKIE not in r.cookies
                  and (refused(r) or "error=" in r.headers.get("Location", "")), f"{r.status_code} {r.headers.get('Location')}")
            d.get(f"{self.base}/idv/{run['sid']}/continue")
            time.sleep(1)
            again = d.current_url
            check("replay: the continue URL a second time (same browser, same cookie) does not reach Okta with a code",
                  not (again.startswith(self.okta.url) and "code=" in again), again)
            v2 = self.client.token(cb["code"], p)
            check("replay: the code a second time -> invalid_grant", v2["result"] == "FAILED" and v2["reasons"] == ["ERROR_RESPONSE_TOKEN"]
                  and "invalid_grant" in " ".join(v2.get("details", [])), f"{v2['reasons']} {v2.get('details')}")
            r = requests.post(self.client.par_url, data=p.body, headers={"Content-Type": p.content_type, "Accept": "application/json"}, timeout=10)
            new_uri = (jbody(r) or {}).get("request_uri")
            check("replay: Okta's PAR body POSTed again byte for byte -> 201 with a NEW request_uri", r.status_code == 201 and new_uri and new_uri != p.request_uri,
                  f"{r.status_code} {r.text[:200]}")
            r = requests.get(self.client.authorize_url(p), allow_redirects=False, timeout=10)
            check("... and the old request_uri stays used", not (r.status_code in (302, 303) and "/idv/" in r.headers.get("Location", "")),
                  f"{r.status_code} {r.headers.get('Location')}")

        # FAILED: documents (engine-independent reasons)
        selfie = selfie_ok or None
        for case, names, reason, label in (
                ("expired", ("Anna", "Eriksson"), "document_expired", "an expired document"),
                ("altered", ("Anna", "Eriksson"), "dg1_hash_mismatch", "DG1 altered after signing"),
                ("other_csca", ("Anna", "Eriksson"), "ds_not_from_trusted_csca", "a DS issued by another CSCA"),
                ("names", ("Bob", "Smith"), "given_name_mismatch", "expected names that do not match (Bob Smith)")):
            passport = self.passports["good" if case == "names" else case]
            run = self.okta_run(d, case, passport, selfie, names=names)
            if not check(f"FAILED, {label}: the flow still ends at Okta's callback with a code", run.get("ok") and bool((run.get("cb") or {}).get("code")),
                         run.get("detail", str(run.get("cb"))[:300])):
                continue
            v = run.get("verdict") or {}
            check(f"... Okta's evaluation FAILED (CLAIMS_NOT_VERIFIED), assurance_level FAILED, the ID token otherwise accepted",
                  v.get("result") == "FAILED" and "CLAIMS_NOT_VERIFIED" in v.get("reasons", []) and self.assurance(v) == "FAILED" and self.plumbing_ok(v),
                  f"{v.get('reasons')} assurance {self.assurance(v)} {v.get('details', [])[:3]}")
            sess = self.session_json(run["sid"])
            reasons = self.reasons_of(sess)
            check(f"... the admin API shows FAILED with the reason {reason}", sess.get("status") == "FAILED" and reason in reasons,
                  f"{sess.get('status')} {reasons} {sess.get('_body', '')}")
            if case == "names":
                check("... family_name_mismatch too, and Okta reads both names as not verified",
                      "family_name_mismatch" in reasons and {"CLAIM_GIVEN_NAME_NOT_VERIFIED", "CLAIM_FAMILY_NAME_NOT_VERIFIED"} <= set(v.get("reasons", [])),
                      f"{reasons} {v.get('reasons')}")
                s1 = ((self.success.get("verdict") or {}).get("id_token_claims") or {}).get("sub")
                s2 = (v.get("id_token_claims") or {}).get("sub")
                check("sub is stable for (client, login_hint): the same Okta user in two sessions has the same sub", s1 and s1 == s2, f"{s1} {s2}")

        # a different Okta user: another sub
        run = self.okta_run(d, "other_user", self.passports["good"], selfie, login_hint=OTHER_USER_ID)
        s1 = ((self.success.get("verdict") or {}).get("id_token_claims") or {}).get("sub")
        s3 = ((run.get("verdict") or {}).get("id_token_claims") or {}).get("sub")
        check("another login_hint (Okta user) gets another sub", bool(s1) and bool(s3) and s1 != s3, f"{s1} {s3} {run.get('detail', '')}")

        # FAILED: the wrong face (engine-dependent)
        if photos:
            run = self.okta_run(d, "wrong_face", good, self.face("biden__a.jpg"))
            self.face_case("FAILED, wrong face (chip obama__a, selfie biden__a): Okta FAILED, server face_mismatch", run, "FAILED", "face_mismatch")
        else:
            skip("FAILED, wrong face", f"{FACES} absent")

        # cancel
        run = self.okta_run(d, "cancel", good, action="cancel")
        cb = run.get("cb") or {}
        q = urllib.parse.parse_qs(urllib.parse.urlparse(run.get("callback_url", "")).query)
        check("cancel: #cancel -> Okta's callback with error=access_denied, Okta's state and iss, no code",
              run.get("ok") and cb.get("error") == "access_denied" and cb.get("state") == run["p"].state and "code" not in q
              and q.get("iss") == [self.base], run.get("detail", run.get("callback_url", "")))
        if run.get("sid"):
            sess = self.session_json(run["sid"])
            check("... the admin API shows the session cancelled", sess.get("state") == "cancelled", str(sess)[:300])

    def run_camera_case(self):
        if not self.fixtures:
            skip("camera selfie", f"{FACES} absent")
            return
        mjpeg = os.path.join(self.work, "camera.mjpeg")
        frame = open(self.face("obama__c.jpg"), "rb").read()
        with open(mjpeg, "wb") as f:
            f.write(frame * 2)  # Chromium's file capture reads concatenated JPEG frames and loops
        d = browser(("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={mjpeg}"))
        self.drivers.append(d)
        run = self.okta_run(d, "camera", self.passports["good"], camera=True)
        if check("camera: the selfie from Chromium's fake camera (an MJPEG of obama__c.jpg) through #camera-start and #camera-capture-selfie, "
                 "then Okta's callback with a code", run.get("ok") and bool((run.get("cb") or {}).get("code")), run.get("detail", "")):
            self.face_case("camera: Okta's evaluation VERIFIED (chip obama__a, camera obama__c)", run, "VERIFIED")
        d.quit()
        self.drivers.remove(d)

    def run_handoff_case(self):
        desk = self.drivers[0] if self.drivers else browser()
        p = self.client.par("Anna", "Eriksson", OKTA_USER_ID)
        desk.get(self.client.authorize_url(p))
        sid = wait_for(lambda: sid_of(desk.current_url), 20)
        if not check("hand-off: the desktop is on the capture page", bool(sid), desk.current_url):
            return
        link_el = desk.find_elements(By.ID, "handoff-link")
        link = link_el[0].get_attribute("href") if link_el else None
        qr = desk.find_elements(By.ID, "handoff-qr")
        svg = ""
        if qr:  # an <img> with a data:image/svg+xml;base64 URL (the contract's change of 15:45), or an inline <svg>
            src = qr[0].get_attribute("src") or ""
            if src.startswith("data:image/svg+xml;base64,"):
                svg = base64.b64decode(src.split(",", 1)[1]).decode()
            elif src.startswith("data:image/svg+xml,"):
                svg = urllib.parse.unquote(src.split(",", 1)[1])
            else:
                svg = qr[0].get_attribute("outerHTML")
                if not svg.lstrip().startswith("<svg"):
                    inner = qr[0].find_elements(By.TAG_NAME, "svg")
                    svg = inner[0].get_attribute("outerHTML") if inner else svg
            if "<svg" in svg:
                svg = svg[svg.index("<svg"):]
        check("hand-off: #handoff-link is an absolute URL of this session's hand-off", bool(link) and link.startswith(f"{self.base}/idv/{sid}/handoff?k="), str(link))
        text, why = decode_qr_svg(svg, self.work) if svg else (None, "no #handoff-qr")
        check("hand-off: the QR in #handoff-qr (rsvg-convert, zbarimg) decodes to exactly #handoff-link", bool(text) and text == link, f"{text!r} vs {link!r} {why}")
        if not link:
            return
        phone = browser()
        self.drivers.append(phone)
        phone.get(link)
        on_page = wait_for(lambda: sid_of(phone.current_url) == sid and "/handoff" not in phone.current_url, 20)
        check("hand-off: the phone (a second browser profile) opens the link and lands on the same session's capture page", bool(on_page), phone.current_url)
        r = requests.get(link, allow_redirects=False, timeout=10)
        to_page = r.status_code in (302, 303) and f"/idv/{sid}" in r.headers.get("Location", "") and "/handoff" not in r.headers.get("Location", "")
        check("hand-off: the link a second time is refused (no redirect to the capture page, no cookie)",
              not to_page and COOKIE not in r.cookies, f"{r.status_code} {r.headers.get('Location')}")
        if not on_page:
            return
        selfie = self.face("obama__b.jpg") if self.fixtures else self.placeholder
        ok, detail = fill_capture(phone, self.passports["good"], selfie)
        check("hand-off: the phone uploads the chip and the selfie", ok, detail)
        if not ok:
            return
        phone.find_element(By.ID, "submit").click()
        decided = wait_for(lambda: page_state(desk)[0] == "decided" or desk.current_url.startswith(self.okta.url), 90, 0.1)
        check("hand-off: the desktop's #status reaches `decided` (or it already went on)", bool(decided), str(page_state(desk)))
        url = wait_callback(desk, self.okta, 60)
        check("hand-off: the desktop page goes on to Okta's callback with a code and Okta's state",
              bool(url) and self.client.callback(url, p).get("code") and self.client.callback(url, p).get("state") == p.state, str(url or desk.current_url))
        phone_url = phone.current_url
        check("hand-off: the phone does not receive Okta's code", not phone_url.startswith(self.okta.url), phone_url)
        if url:
            v = self.client.token(self.client.callback(url, p)["code"], p)
            check("hand-off: the code exchanges for an ID token Okta accepts", self.plumbing_ok(v), f"{v.get('reasons')} {v.get('details', [])[:3]}")
            self.face_case("hand-off: Okta's evaluation VERIFIED", {"ok": True, "sid": sid, "verdict": v}, "VERIFIED")

    def run_api_cases(self):
        """The JSON endpoints driven by a script: cookie, CSRF, sizes, missing evidence, a full run, continue twice."""
        good = self.passports["good"]
        selfie = open(self.face("obama__b.jpg"), "rb").read() if self.fixtures else idv_passport.TINY_JPEG
        a = CaptureSession(self.base, self.client, self.client.par("Anna", "Eriksson", OKTA_USER_ID))
        if not check("API: idv-authorize -> 303 to /idv/{sid}, sets sigil_idv", bool(a.sid) and COOKIE in a.http.cookies,
                     f"{a.authorize.status_code} {a.authorize.headers.get('Location')} {a.authorize.headers.get('Set-Cookie')}"):
            return
        raw = a.authorize.headers.get("Set-Cookie", "")
        attrs = [x.strip().lower() for x in raw.split(";")]
        check("... the cookie is HttpOnly, SameSite=Lax, Path=/idv/{sid}", "httponly" in attrs and "samesite=lax" in attrs and f"path=/idv/{a.sid}" in attrs, raw)
        check("... the capture page has the CSRF meta tag and every element of the contract",
              bool(a.csrf) and all(f'id="{i}"' in a.page.text for i in ("document-type", "file-chip-dg1", "file-chip-dg2", "file-chip-sod", "file-selfie",
                                                                       "file-document_front", "camera-start", "submit", "cancel", "status", "handoff-qr", "handoff-link")),
              a.page.text[:200])
        r = requests.get(a.url(), timeout=10)
        check("refusal: the capture page without the cookie -> 403", r.status_code == 403, f"{r.status_code}")
        r = a.selfie(selfie, cookies=False)
        check("refusal: POST evidence/selfie without the cookie (CSRF header present) -> 4xx", refused(r), f"{r.status_code} {r.text[:200]}")
        r = a.selfie(selfie, csrf=False)
        check("refusal: POST evidence/selfie with the cookie, without X-Sigil-CSRF -> 4xx", refused(r), f"{r.status_code} {r.text[:200]}")
        r = a.selfie(selfie, csrf="x" + (a.csrf or ""))
        check("refusal: ... with a wrong X-Sigil-CSRF -> 4xx", refused(r), f"{r.status_code} {r.text[:200]}")
        r = a.selfie(selfie, origin=False)
        check("refusal: POST evidence/selfie with cookie and CSRF but no Origin -> 403", r.status_code == 403, f"{r.status_code} {r.text[:200]}")
        r = a.selfie(selfie, origin=self.okta.base)
        check("refusal: ... with a foreign Origin (the peers' 127.0.0.1) -> 403", r.status_code == 403, f"{r.status_code} {r.text[:200]}")
        r = a.post("/submit", {"document_type": "passport"}, csrf=False)
        check("refusal: POST submit without X-Sigil-CSRF -> 4xx", refused(r), f"{r.status_code} {r.text[:200]}")
        r = a.post("/cancel", {}, csrf=False)
        check("refusal: POST cancel without X-Sigil-CSRF -> 4xx", refused(r), f"{r.status_code} {r.text[:200]}")
        r = requests.get(a.url("/status"), timeout=10)
        check("refusal: GET status without the cookie -> 4xx", refused(r), f"{r.status_code} {r.text[:200]}")
        r = a.post("/submit", {"document_type": "passport"})
        body = jbody(r) or {}
        check("submit with no evidence -> 400 missing_evidence naming chip and selfie", r.status_code == 400 and body.get("error") == "missing_evidence"
              and {"chip", "selfie"} <= set(body.get("missing") or []), f"{r.status_code} {r.text[:200]}")
        r = a.post("/evidence/passport_scan", selfie, ctype="image/jpeg")
        check("refusal: an unknown evidence kind -> 4xx", refused(r), f"{r.status_code} {r.text[:200]}")
        r = a.post("/evidence/selfie", b"\xff\xd8" + b"\0" * (10 * 1024 * 1024 + 1), ctype="image/jpeg")
        check("refusal: an image over 10 MiB -> 413 (or 4xx)", refused(r), f"{r.status_code} {r.text[:200]}")

        b = CaptureSession(self.base, self.client, self.client.par("Anna", "Eriksson", OKTA_USER_ID))
        if b.sid:
            stolen = requests.post(b.url("/evidence/selfie"), data=selfie, timeout=10,
                                   headers={"Content-Type": "image/jpeg", CSRF_HEADER: a.csrf or "", "Origin": a.origin,
                                            "Cookie": f"{COOKIE}={a.http.cookies.get(COOKIE)}"})
            check("refusal: session A's cookie and CSRF token on session B's endpoint -> 4xx", refused(stolen), f"{stolen.status_code} {stolen.text[:200]}")
            r = requests.get(b.url(), headers={"Cookie": f"{COOKIE}={a.http.cookies.get(COOKIE)}"}, timeout=10)
            check("refusal: session A's cookie on session B's capture page -> 403", r.status_code == 403, f"{r.status_code}")

        r = a.chip(good)
        body = jbody(r) or {}
        check("API: POST evidence/chip (JSON dg1/dg2/sod base64url) with cookie and CSRF -> stored", r.status_code == 200 and body.get("stored") == "chip",
              f"{r.status_code} {r.text[:200]}")
        r = a.selfie(selfie)
        body = jbody(r) or {}
        check("API: POST evidence/selfie (image/jpeg) -> stored, evidence lists chip and selfie", r.status_code == 200 and body.get("stored") == "selfie"
              and {"chip", "selfie"} <= set(body.get("evidence") or []), f"{r.status_code} {r.text[:200]}")
        st = jbody(a.http.get(a.url("/status"), timeout=10)) or {}
        check("API: GET status while collecting -> state collecting, no decision", st.get("state") == "collecting" and st.get("status") is None, str(st))
        r = a.post("/submit", {"document_type": "passport"})
        body = jbody(r) or {}
        check("API: submit -> 200 {status, next}", r.status_code == 200 and body.get("status") in ("VERIFIED", "FAILED", "REVIEW") and bool(body.get("next")),
              f"{r.status_code} {r.text[:200]}")
        st = jbody(a.http.get(a.url("/status"), timeout=10)) or {}
        check("API: GET status after submit -> decided, the same decision, next", st.get("state") == "decided" and st.get("status") == body.get("status")
              and bool(st.get("next")), str(st))
        r = a.selfie(selfie)
        check("API: evidence after the decision is refused", refused(r), f"{r.status_code} {r.text[:200]}")
        nxt = urllib.parse.urljoin(self.base, body.get("next") or "/idv/x/continue")
        c1 = a.http.get(nxt, allow_redirects=False, timeout=10)
        loc = c1.headers.get("Location", "")
        cb = self.client.callback(loc, a.p) if loc.startswith(self.okta.url) else {}
        check("API: continue -> 303 to Okta's callback with code, state and iss", c1.status_code == 303 and bool(cb.get("code")) and cb.get("state") == a.p.state
              and urllib.parse.parse_qs(urllib.parse.urlparse(loc).query).get("iss") == [self.base], f"{c1.status_code} {loc}")
        c2 = a.http.get(nxt, allow_redirects=False, timeout=10)
        check("replay: continue a second time does not hand out a code", "code=" not in c2.headers.get("Location", ""), f"{c2.status_code} {c2.headers.get('Location')}")
        if cb.get("code"):
            v = self.client.token(cb["code"], a.p)
            check("API: the code exchanges for an ID token Okta accepts", self.plumbing_ok(v), f"{v.get('reasons')} {v.get('details', [])[:3]}")
            v2 = self.client.token(cb["code"], a.p)
            check("replay: that code a second time -> invalid_grant", "invalid_grant" in " ".join(v2.get("details", [])), str(v2.get("details")))
        if self.fixtures:
            self.uploaded_images.append(selfie)

    def run_admin_session_case(self):
        r, s = self.admin.call("POST", "/idv/sessions", {"expected": {"given_name": "Anna", "family_name": "Eriksson", "birthdate": "1974-08-12"}})
        s = s or {}
        if not check("admin API: POST /idv/sessions -> 201 {id, session_url, handoff_url, expires_at}", r.status_code == 201
                     and all(s.get(k) for k in ("id", "session_url", "handoff_url", "expires_at")), f"{r.status_code} {r.text[:300]}"):
            return
        g = self.session_json(s["id"])
        check("admin API: GET /idv/sessions/{id} -> state created, no decision yet", g.get("state") == "created" and g.get("status") in (None, ""), str(g)[:300])
        h = requests.Session()
        r = h.get(urllib.parse.urljoin(self.base, s["session_url"]), allow_redirects=False, timeout=10)
        page = h.get(urllib.parse.urljoin(self.base, r.headers.get("Location", "/")), timeout=10) if r.status_code in (302, 303) else None
        m = re.search(r'name="sigil-idv-csrf"\s+content="([^"]+)"', page.text if page is not None else "") or \
            re.search(r'content="([^"]+)"\s+name="sigil-idv-csrf"', page.text if page is not None else "")
        if not check("admin session: session_url (/idv/{sid}/open?k=) sets the cookie and shows the capture page", bool(m) and COOKIE in h.cookies,
                     f"{r.status_code} {r.headers.get('Location')}"):
            return
        hdr = {CSRF_HEADER: m.group(1), "Accept": "application/json", "Origin": self.base}
        url = urllib.parse.urljoin(self.base, f"/idv/{s['id']}")
        good = self.passports["good"]
        selfie = open(self.face("obama__b.jpg"), "rb").read() if self.fixtures else idv_passport.TINY_JPEG
        r1 = h.post(url + "/evidence/chip", json={"dg1": b64u(good["dg1_bytes"]), "dg2": b64u(good["dg2_bytes"]), "sod": b64u(good["sod_bytes"])}, headers=hdr, timeout=30)
        r2 = h.post(url + "/evidence/selfie", data=selfie, headers={**hdr, "Content-Type": "image/jpeg"}, timeout=30)
        r3 = h.post(url + "/submit", json={"document_type": "passport"}, headers=hdr, timeout=120)
        check("admin session: chip, selfie, submit -> 200", (r1.status_code, r2.status_code, r3.status_code) == (200, 200, 200),
              f"{r1.status_code} {r2.status_code} {r3.status_code} {r3.text[:200]}")
        g = self.session_json(s["id"])
        names = {c.get("name") for c in g.get("checks") or []}
        check("admin API: GET after the run -> decided, the decision, assurance_level, checks with passive_authentication, face_match, names",
              g.get("state") == "decided" and g.get("status") in ("VERIFIED", "FAILED", "REVIEW") and "assurance_level" in g
              and {"passive_authentication", "face_match", "name_given_name", "name_family_name"} <= names
              and all(isinstance(c.get("passed"), bool) and isinstance(c.get("reasons", []), list) for c in g.get("checks") or []),
              json.dumps(g)[:600])
        self.face_case("admin session: VERIFIED with a matching face", {"ok": True, "sid": s["id"], "verdict": {"result": g.get("status")}}, "VERIFIED")

    def run_deadline_case(self):
        name = self.args.session_lifetime_env
        if not name:
            skip("a session past its deadline", "the server has no test clock option in the contract (pass --session-lifetime-env NAME, "
                                                 "a test-only setting that shortens IDV sessions, when it has one); the deadline logic is "
                                                 "covered by IDVSessionStateMachineTests")
            return
        port = free_port()
        proc, data, out, err = start_serve(self.binary, self.work, port, {name: "4", **({"SIGIL_IDV_ENGINE": self.engine} if self.engine else {})}, tag="deadline")
        self.serve_logs += [out, err]
        self.data_dirs.append(data)
        try:
            base = f"http://localhost:{port}"
            admin = AdminAPI(base, admin_token(self.binary, data))
            r, s = admin.call("POST", "/idv/sessions", {"expected": {"given_name": "Anna", "family_name": "Eriksson"}})
            h = requests.Session()
            hr = h.get(urllib.parse.urljoin(base, (s or {}).get("session_url", "/")), allow_redirects=False, timeout=10)
            time.sleep(6)
            st = jbody(h.get(f"{base}/idv/{(s or {}).get('id')}/status", timeout=10)) or {}
            r2, g = admin.call("GET", f"/idv/sessions/{(s or {}).get('id')}")
            check(f"deadline ({name}=4): after 6 s the session is expired (status endpoint and admin API)",
                  hr.status_code in (302, 303) and (st.get("state") == "expired" or (g or {}).get("state") == "expired"), f"{st} {g}")
        finally:
            stop_serve(proc, "the deadline server")

    # --- privacy ---

    def privacy(self):
        secrets_text = set()
        for pp in self.passports.values():
            secrets_text.add(pp["document_number"])
        secrets_text |= {"ERIKSSON", "Eriksson", "ANNA<MARIA", "ANNA MARIA"}
        pieces = {}  # label -> list of byte strings to look for
        for i, img in enumerate(self.uploaded_images):
            for blob, what in ((img, "image"),):
                mid = len(blob) // 2
                raw = blob[mid:mid + 48]
                pieces[f"{what}{i} raw bytes"] = [raw]
                pieces[f"{what}{i} hex"] = [raw.hex().encode(), raw.hex().upper().encode()]
                enc = [base64.b64encode(blob), base64.urlsafe_b64encode(blob)]
                start = (mid // 4) * 4
                pieces[f"{what}{i} base64"] = [e[start:start + 64] for e in enc]
        dg2 = self.passports["good"]["dg2_bytes"]
        start = (len(dg2) // 2 // 3) * 4
        pieces["DG2 base64url (as uploaded)"] = [b64u(dg2).encode()[start:start + 64], base64.b64encode(dg2)[start:start + 64]]

        def scan(blob):
            found = [t for t in secrets_text if t.lower().encode() in blob.lower()]
            found += [label for label, needles in pieces.items() if any(n and n in blob for n in needles)]
            return found

        logs = b"".join(open(p, "rb").read() for p in self.serve_logs if os.path.exists(p))
        found = scan(logs)
        check(f"privacy: the server's output ({len(logs)} bytes) has no document number, name, or base64/raw of an uploaded image",
              not found and len(logs) > 0, f"found {found}")
        dbs, leaks, blobs_checked = [], [], 0
        for data in self.data_dirs:
            for root, _, files in os.walk(data):
                for fn in files:
                    path = os.path.join(root, fn)
                    with open(path, "rb") as f:
                        content = f.read()
                    blobs_checked += 1
                    if content[:16] == b"SQLite format 3\x00":
                        dbs.append(path)
                    hit = scan(content)
                    if hit:
                        leaks.append(f"{os.path.relpath(path, self.work)}: {hit}")
        check(f"privacy: no file in the data folder ({blobs_checked} files, WAL included) holds them in clear", not leaks and blobs_checked > 0, "; ".join(leaks)[:800])
        if not check("privacy: the data folder has a SQLite database", bool(dbs), str(dbs)):
            return
        where = []
        dump_size = 0
        for db in dbs:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                dump = "\n".join(con.iterdump()).encode()
                dump_size += len(dump)
                if scan(dump):
                    for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
                        cols = [c[1] for c in con.execute(f'PRAGMA table_info("{table}")')]
                        for col in cols:
                            for (value,) in con.execute(f'SELECT "{col}" FROM "{table}"'):
                                blob = value if isinstance(value, bytes) else str(value).encode()
                                hit = scan(blob)
                                if hit:
                                    where.append(f"{os.path.basename(db)} {table}.{col}: {hit}")
                                    break
            finally:
                con.close()
        check(f"privacy: the SQLite dump ({dump_size} bytes) holds no name, document number or portrait bytes in clear", not where and dump_size > 0,
              "; ".join(sorted(set(where)))[:800])

    # --- all ---

    def run(self):
        print(f"engine: {self.engine or '(none)'} {'present' if self.engine_present else 'ABSENT: face-dependent cases will be SKIP if the server says engine_unavailable'}")
        if not self.fixtures:
            print(f"SKIP photographs: {FACES} absent; the photo cases are skipped (the chip's portrait is a JPEG skeleton)")
        self.make_passports()
        try:
            self.start()
            self.setup_app()
            for step in (self.run_browser_cases, self.run_camera_case, self.run_handoff_case, self.run_api_cases, self.run_admin_session_case,
                         self.run_deadline_case):
                try:
                    step()
                except Exception as error:  # one broken step must not hide the others
                    check(f"{step.__name__} ran to its end", False, "".join(traceback.format_exception(error))[-1200:])
        except Exception as error:
            check("set-up", False, "".join(traceback.format_exception(error))[-1200:])
        finally:
            for d in self.drivers:
                try:
                    d.quit()
                except WebDriverException:
                    pass
            if self.okta:
                self.okta.stop()
            if self.proc:
                stop_serve(self.proc)
        self.privacy()


def main():
    ap = argparse.ArgumentParser(description="Okta BYO IDV end to end against sigil serve, with headless Chromium")
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--engine", default=os.environ.get("SIGIL_IDV_ENGINE"), help="sigil-idv-engine, passed to sigil serve as SIGIL_IDV_ENGINE")
    ap.add_argument("--artifacts", default=None)
    ap.add_argument("--session-lifetime-env", default=None,
                    help="the server's test-only environment variable shortening an IDV session's life (seconds); without it the deadline case is skipped")
    args = ap.parse_args()
    suite = Suite(args)
    try:
        suite.run()
    except Exception as error:
        check("the suite ran", False, "".join(traceback.format_exception(error))[-1500:])
    if args.artifacts is None:
        shutil.rmtree(suite.work, ignore_errors=True)
    if RESULTS["skipped"]:
        print(f"({RESULTS['skipped']} skipped)")
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
