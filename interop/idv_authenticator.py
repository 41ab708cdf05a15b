#!/usr/bin/env python3
"""Interop: identity verification finished on the phone, i.e. the real `sigil-authenticator verify` CLI as the
Sigil app, with headless Chromium as the desktop and the real `sigil serve` (SIGIL_IDV_ENGINE as given).

Set-up: `sigil serve`; the first administrator (Anna Maria Eriksson, the names in the synthetic passport's DG1)
enrols a passkey in Chromium (virtual authenticator) and enrols the CLI from the account page's "Add a phone";
a second user (Grace Hopper, `sigil user invite`) enrols a second CLI home from her invitation page; the IDV
policy (require_chip true, require_liveness false except in the liveness cases) and the synthetic brainpool CSCA
go in through the admin API (interop/idv_passport.py makes the chip: DG1, DG2 with the portrait obama__a.jpg, SOD).

Cases (PASS / FAIL / SKIP lines):
  account     /account's #verify-identity -> the capture page; #handoff-qr (an <img> data:image/svg+xml;base64 URL,
              rendered with rsvg-convert, read with zbarimg) equals #handoff-link; `sigil-authenticator verify
              <PNG of the QR> --sod --dg1 --dg2 --selfie obama__b.jpg --json` -> VERIFIED; the desktop page goes back
              to /account by itself; #identity-status says "Verified on ..."
  OIDC        a public client (PKCE S256) allowed identity_assurance, in the same browser session: the ID token has
              verified_claims (trust_framework nist_800_63A, the verified names; valid under interop/ida_rules.py);
              a confidential client not allowed identity_assurance, asking for verified_claims through `claims`,
              gets none
  refusals    the second user's device cannot claim the first user's verification (not-this-device); evidence and
              submit from a device that has not claimed (not-this-device, a signed device request made here with the
              CLI's key); the hand-off a second time (refused); DG1 altered after signing -> FAILED dg1_hash_mismatch;
              selfie biden__a.jpg -> FAILED face_mismatch (sent with --no-submit, then the desktop's #submit);
              an expired hand-off (a second server with SIGIL_INSECURE_IDV_SESSION_LIFETIME_SECONDS=4)
  Okta        an Okta-shaped session (interop/okta_idv.py's OktaIDVClient; an IDV client app) finished by the CLI
              from #handoff-link: the desktop Chromium reaches the fake Okta callback with a code; the ID token's
              verified_claims say VERIFIED (Okta's own evaluation)
  licence     US driving licences (interop/idv_cards.py: a front with the photo obama__a, a back with its AAMVA PDF417),
              each an admin-API session finished by `verify --document-type driving_permit --document-front F
              --document-back B --selfie obama__b.jpg`, under a policy that allows driving_permit and USA (no chip;
              the suite's policy is put back afterwards): (a) front and barcode agree -> VERIFIED, verified_claims with
              the barcode's names and birthdate, document type driving_permit; (b) the front printed with another family
              name -> FAILED, check front_matches_barcode failed with front_family_name_differs (and no other front_*
              reason); (c) a front with only the photo (nothing to read) -> VERIFIED, front_matches_barcode absent or
              passed. Case (b) is SKIP when the engine has no `text` op.
  liveness    `sigil-authenticator verify … --liveness DIR` (the CLI fetches a challenge over the signed device
              protocol and sends DIR/<step name>/*.jpg|png, in file-name order, as the frames of each step i,
              timestamps spread inside the step's slot; it prints the challenge's steps). The frames are SYNTHESISED
              from one photo by interop/idv_liveness_frames.py and measured by the real engine: a rendered injection
              of the actions (the attack docs/idv.md says liveness does not stop), testing the protocol path, not
              liveness strength. With the policy's require_liveness true: (a) chip + selfie obama__b + turns and a
              blink rendered from obama__a -> VERIFIED, the session's liveness check passed, the ID token's evidence
              check methods include vri; (b) obama__a unmodified in every step (a photo held still) -> FAILED with
              liveness_<action>_not_seen for each action of the challenge; (c) frames rendered from biden__b ->
              FAILED liveness_not_the_selfie (or liveness_identity_changed); (d) require_liveness back to false.
              Needs the engine and the fixtures (SKIP otherwise)
  privacy     the servers' stdout/stderr hold no name, no document number, no base64 of the images (the liveness
              frames included)

Without the engine (no --engine, or a path that is not there) the server is given a path that does not exist:
the face-dependent outcomes must then carry `engine_unavailable` and are SKIP lines. Without ../shared/fixtures
($SIGIL_FIXTURES_DIR overrides) the face cases are skipped with a message (the portrait is a JPEG skeleton).

    /opt/peers-venv/bin/python interop/idv_authenticator.py --sigil PATH --authenticator PATH [--engine PATH]
        [--artifacts DIR]

Ends with "N passed, M failed"; exits 1 on any FAIL.
"""
import argparse, base64, dataclasses, datetime, json, os, re, shutil, subprocess, sys, tempfile, time, traceback, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
try:  # the licence cases draw cards with Pillow, numpy and pdf417gen (scripts/install-idv-engines.sh puts them in the venv)
    import idv_cards  # noqa: E402
except ImportError as missing:
    idv_cards, IDV_CARDS_MISSING = None, str(missing)
import idv_e2e as E  # noqa: E402
import idv_liveness_frames  # noqa: E402
import idv_passport  # noqa: E402
from idv_e2e import AdminAPI, OktaCallback, admin_token, browser, check, decode_qr_svg, skip, start_serve, stop_serve, wait_for  # noqa: E402
from okta_idv import OKTA_USER_ID, OktaIDVClient, load_ida_schemas  # noqa: E402
import ida_rules  # noqa: E402
from passkey_signin import enrol_first_admin, wait_path  # noqa: E402
from authenticator_signin import element_png  # noqa: E402
from upstream_stepup_authenticator import DeviceKey  # noqa: E402

import requests  # noqa: E402
from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.jose import JsonWebKey, JsonWebToken  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

FACES = idv_passport.FIXTURE_FACES
GIVEN, FAMILY, EMAIL = "Anna Maria", "Eriksson", "first-admin@example.com"
GIVEN2, FAMILY2, EMAIL2 = "Grace", "Hopper", "second-user@example.com"
LIFETIME_ENV = "SIGIL_INSECURE_IDV_SESSION_LIFETIME_SECONDS"
DEVICE_IDV = "/authenticator/v1/idv/{sid}/{what}"


def note(text):
    print(f"  note: {text}", flush=True)


def enrol_link_from(err_path, timeout=30):
    def find():
        m = re.search(r"(http://localhost:\d+/enroll/\S+)", open(err_path).read())
        return m.group(1) if m else None
    return wait_for(find, timeout, 0.3)


def enrol_phone_as_first_admin(err_path, phone, png_path, email, given, family, device_name):
    """A server's first administrator enrols a phone instead of a passkey: the enrolment link `sigil serve` printed on
    stderr (err_path) in a fresh headless Chromium, the person's details, #enroll-device, and `sigil-authenticator
    enroll` of a PNG of #enroll-device-qr. Returns the CLI's result (Phone.run; returncode 0 when enrolled).
    interop/connectors.py enrols its phone this way too."""
    link = enrol_link_from(err_path)
    b = browser()
    try:
        b.get(link)
        b.find_element(By.ID, "email").send_keys(email)
        b.find_element(By.ID, "given_name").send_keys(given)
        b.find_element(By.ID, "family_name").send_keys(family)
        b.find_element(By.ID, "enroll-device").click()
        png = element_png(b, "enroll-device-qr", png_path)
        return phone.run("enroll", png, "--name", device_name, "--yes")
    finally:
        b.quit()


def handoff_of(driver, workdir):
    """(link, qr text, PNG path, detail) of the capture page's #handoff-link / #handoff-qr."""
    wait_for(lambda: driver.find_elements(By.ID, "handoff-qr"), 15)
    link_el, qr = driver.find_elements(By.ID, "handoff-link"), driver.find_elements(By.ID, "handoff-qr")
    link = link_el[0].get_attribute("href") if link_el else None
    src = qr[0].get_attribute("src") or "" if qr else ""
    if not src.startswith("data:image/svg+xml;base64,"):
        return link, None, None, f"#handoff-qr src is not a data:image/svg+xml;base64 URL: {src[:80]!r}"
    svg = base64.b64decode(src.split(",", 1)[1]).decode()
    os.makedirs(workdir, exist_ok=True)
    text, why = decode_qr_svg(svg, workdir)
    pngs = sorted(f for f in os.listdir(workdir) if re.fullmatch(r"handoff-\d+\.png", f))
    return link, text, os.path.join(workdir, pngs[-1]) if text and pngs else None, why


class Phone:
    """One `sigil-authenticator` home (a phone)."""

    def __init__(self, binary, home, who):
        self.binary, self.home, self.who = binary, home, who

    def run(self, *argv, timeout=180):
        r = subprocess.run([self.binary, argv[0], "--home", self.home, *argv[1:]], capture_output=True, text=True, timeout=timeout)
        shown = [os.path.basename(a) if os.path.isabs(a) else (a[:60] + "…" if len(a) > 60 else a) for a in argv]
        print(f"  $ [{self.who}] sigil-authenticator {' '.join(shown)} -> {r.returncode}\n"
              + "".join("    " + line[:300] + "\n" for line in (r.stdout + r.stderr).splitlines()[:8]), flush=True)
        r.all = r.stdout + r.stderr
        return r

    def answer(self, r):
        for line in reversed(r.stdout.splitlines()):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
        return {}


class Suite:
    def __init__(self, args):
        self.args = args
        self.binary = os.path.abspath(args.sigil)
        self.cli_binary = os.path.abspath(args.authenticator)
        self.work = tempfile.mkdtemp(prefix="sigil-idv-app-")
        self.artifacts = os.path.abspath(args.artifacts) if args.artifacts else self.work
        os.makedirs(self.artifacts, exist_ok=True)
        self.engine = os.path.abspath(args.engine) if args.engine else None
        self.engine_present = bool(self.engine) and os.path.isfile(self.engine) and os.access(self.engine, os.X_OK)
        self.fixtures = os.path.isdir(FACES) and all(os.path.isfile(os.path.join(FACES, n)) for n in ("obama__a.jpg", "obama__b.jpg", "biden__a.jpg"))
        self.drivers, self.procs, self.logs, self.callbacks = [], [], [], []
        self.images = []
        self.verified = False
        self.n = 0

    def face(self, name):
        return os.path.join(FACES, name)

    def engine_env(self):
        return {"SIGIL_IDV_ENGINE": self.engine if self.engine_present else os.path.join(self.work, "no-engine", "sigil-idv-engine")}

    def new_dir(self, label):
        self.n += 1
        d = os.path.join(self.work, f"{self.n:02d}-{label}")
        os.makedirs(d, exist_ok=True)
        return d

    def shot(self, driver, name):
        try:
            driver.save_screenshot(os.path.join(self.artifacts, name + ".png"))
        except WebDriverException:
            pass

    def serve(self, tag, extra=None):
        port = E.free_port()
        proc, data, out, err = start_serve(self.binary, self.work, port, {**self.engine_env(), **(extra or {})}, tag=tag)
        self.procs.append((proc, tag))
        self.logs += [out, err]
        return f"http://localhost:{port}", proc, data, err

    def session_json(self, admin, sid):
        r, got = admin.call("GET", f"/idv/sessions/{sid}")
        return got if r.status_code == 200 and isinstance(got, dict) else {"_status": r.status_code, "_body": r.text[:300]}

    # --- set-up ---

    def make_passports(self):
        pki = idv_passport.make_pki(os.path.join(self.work, "pki"))
        portrait = open(self.face("obama__a.jpg"), "rb").read() if self.fixtures else idv_passport.TINY_JPEG
        self.passports = {case: idv_passport.make_passport(os.path.join(self.work, "passport-" + case), pki, portrait, surname=FAMILY.upper(),
                                                           given=GIVEN.upper(), forge=forge)
                          for case, forge in (("good", None), ("altered", "altered-dg1"))}
        self.pki = pki
        self.images.append(portrait)
        self.selfie_ok = self.face("obama__b.jpg") if self.fixtures else os.path.join(self.work, "placeholder.jpg")
        if not self.fixtures:
            with open(self.selfie_ok, "wb") as f:
                f.write(idv_passport.TINY_JPEG)
        else:
            self.images += [open(self.face(n), "rb").read() for n in ("obama__b.jpg", "biden__a.jpg")]

    def chip_args(self, case="good"):
        f = self.passports[case]["files"]
        return ["--sod", f["sod"], "--dg1", f["dg1"], "--dg2", f["dg2"]]

    def policy(self, admin, label=""):
        policy = {"document_types": ["passport"], "countries": ["UTO"], "require_chip": True, "require_face_match": True,
                  "require_liveness": False, "weakest_name_match": "fuzzy", "review_reasons": [], "face_match_threshold": 0.6,
                  "retention_days": 30}
        r, _ = admin.call("PUT", "/idv/policy", policy)
        r2, got = admin.call("GET", "/idv/policy")
        check(f"{label}admin API: IDV policy require_chip true, require_liveness false (PUT, read back)", r.status_code == 200 and isinstance(got, dict)
              and all(got.get(k) == v for k, v in policy.items()), f"{r.status_code} {r.text[:200]} / {r2.text[:300]}")
        r, got = admin.call("POST", "/idv/cscas", {"pem": open(self.pki["csca"][0]).read()})
        check(f"{label}admin API: the synthetic brainpoolP256r1 CSCA imported", r.status_code == 201 and (got or {}).get("imported") == 1,
              f"{r.status_code} {r.text[:200]}")

    def setup(self):
        self.base, self.proc, self.data, err = self.serve("serve")
        link = enrol_link_from(err)
        if not check("sigil serve printed the first administrator's enrolment link", bool(link)):
            raise RuntimeError("no enrolment link")
        self.desk, _ = enrol_first_admin(link, EMAIL, GIVEN, FAMILY)
        self.drivers.append(self.desk)
        check(f"the first administrator ({GIVEN} {FAMILY}, the passport's names) enrolled a passkey in Chromium and is on /account",
              self.desk.current_url.split("?")[0].endswith("/account"), self.desk.current_url)
        self.phone = Phone(self.cli_binary, os.path.join(self.work, "phone-anna"), "Anna's phone")
        self.desk.find_element(By.ID, "add-device").click()
        png = element_png(self.desk, "device-qr", os.path.join(self.artifacts, "device-qr.png"))
        r = self.phone.run("enroll", png, "--name", "Anna's CLI", "--yes")
        check("sigil-authenticator enrolled from the account page's 'Add a phone' QR code", r.returncode == 0, r.all[-300:])
        listed = wait_for(lambda: "Anna's CLI" in (self.desk.find_element(By.ID, "devices").text or ""), 20)
        check("... the account page lists the phone", bool(listed))

        self.admin = AdminAPI(self.base, admin_token(self.binary, self.data))
        self.policy(self.admin)
        note("require_liveness is false for every case but the liveness ones (run_liveness switches it on, then off again)")

        # A second user with her own phone: `sigil user invite`, the invitation page's "Use the Sigil app".
        inv = subprocess.run([self.binary, "user", "invite", "--tenant", "default", "--email", EMAIL2, "--given-name", GIVEN2, "--family-name", FAMILY2,
                              "--data-dir", self.data, "--public-url", self.base], capture_output=True, text=True, timeout=60)
        self.phone2 = Phone(self.cli_binary, os.path.join(self.work, "phone-grace"), "Grace's phone")
        b = browser()
        self.drivers.append(b)
        ok = False
        if inv.returncode == 0 and "/enroll/" in inv.stdout:
            b.get(inv.stdout.strip().splitlines()[-1])
            b.find_element(By.ID, "enroll-device").click()
            png = element_png(b, "enroll-device-qr", os.path.join(self.artifacts, "invite-device-qr.png"))
            r = self.phone2.run("enroll", png, "--name", "Grace's CLI", "--yes")
            ok = r.returncode == 0 and bool(wait_for(lambda: b.current_url.split("?")[0].endswith("/account"), 20))
        check(f"a second user ({GIVEN2} {FAMILY2}, `sigil user invite`) enrolled her own CLI home from the invitation page", ok,
              f"{inv.returncode} {inv.stderr[-200:]} {b.current_url}")
        b.quit()
        self.drivers.remove(b)
        self.key_anna = DeviceKey(self.phone.home)
        self.key_grace = DeviceKey(self.phone2.home) if ok else None

    # --- helpers for an account-started verification ---

    def start_account_verification(self, label):
        d = self.desk
        d.get(self.base + "/account")
        d.find_element(By.ID, "verify-identity").click()
        sid = wait_for(lambda: E.sid_of(d.current_url) if "/idv/" in d.current_url else None, 20)
        if not check(f"{label}: #verify-identity on /account opens a capture page (/idv/{{sid}})", bool(sid), d.current_url):
            return None, None
        link, text, png, why = handoff_of(d, self.new_dir(label.split()[0]))
        return sid, {"link": link, "text": text, "png": png, "why": why}

    def face_dependent(self, name, sid, expect_status, expect_reason=None):
        """PASS/FAIL with the engine; SKIP without it when the server says engine_unavailable."""
        s = self.session_json(self.admin, sid)
        reasons = E.Suite.reasons_of(s)
        if not self.fixtures:
            skip(name, f"{FACES} absent (or $SIGIL_FIXTURES_DIR elsewhere): no photographs; the server said {s.get('status')} {reasons}")
            return None
        if not self.engine_present:
            if E.ENGINE_REASON in reasons:
                skip(name, f"face match needs the engine: the server reports {E.ENGINE_REASON} ({self.engine or '--engine not given'} absent)")
                return None
            return check(name + f" (no engine: the server must report {E.ENGINE_REASON})", False, f"{s.get('status')} {reasons}")
        return check(name, s.get("status") == expect_status and (expect_reason is None or expect_reason in reasons), f"{s.get('status')} {reasons}")

    def device_call(self, key, sid, what, body):
        return key.request("POST", DEVICE_IDV.format(sid=sid, what=what), body)

    # --- 2. the account page, the phone ---

    def run_account(self):
        label = "account verification"
        sid, h = self.start_account_verification(label)
        if not sid:
            return
        self.shot(self.desk, "account-capture-page")
        check(f"{label}: #handoff-link is this session's absolute hand-off URL", bool(h["link"]) and h["link"].startswith(f"{self.base}/idv/{sid}/handoff?k="),
              str(h["link"]))
        check(f"{label}: #handoff-qr (data:image/svg+xml;base64, rsvg-convert, zbarimg) decodes to exactly #handoff-link",
              bool(h["text"]) and h["text"] == h["link"], f"{h['text']!r} vs {h['link']!r} {h['why']}")

        # Refusals before the owner claims (the owner check comes before the hand-off is spent).
        if self.key_grace:
            r = self.phone2.run("verify", h["link"], *self.chip_args(), "--selfie", self.selfie_ok, "--json")
            check(f"{label}: the second user's enrolled CLI cannot claim the first user's verification (not-this-device)",
                  r.returncode != 0 and "not-this-device" in r.all, r.all[-300:])
        else:
            skip(f"{label}: the second user's device refused", "the second user could not enrol a phone (see above)")
        selfie = open(self.selfie_ok, "rb").read()
        r = self.device_call(self.key_anna, sid, "evidence", {"kind": "selfie", "data": E.b64u(selfie)})
        check(f"{label}: evidence from the owner's device before it claimed (a signed device request) -> 403 not-this-device",
              r.status_code == 403 and "not-this-device" in r.text, f"{r.status_code} {r.text[:200]}")
        r = self.device_call(self.key_anna, sid, "submit", {"document_type": "passport"})
        check(f"{label}: submit from the device before it claimed -> 403 not-this-device", r.status_code == 403 and "not-this-device" in r.text,
              f"{r.status_code} {r.text[:200]}")

        if not h["png"]:
            check(f"{label}: a PNG of the hand-off QR for the CLI", False, h["why"])
            return
        shutil.copy(h["png"], os.path.join(self.artifacts, "handoff-qr.png"))
        r = self.phone.run("verify", h["png"], *self.chip_args(), "--selfie", self.selfie_ok, "--json")
        a = self.phone.answer(r)
        check(f"{label}: `sigil-authenticator verify <PNG of the QR> --sod --dg1 --dg2 --selfie --json` claims, sends and submits (exit 0, a status)",
              r.returncode == 0 and a.get("session_id") == sid and a.get("status") in ("VERIFIED", "FAILED", "REVIEW"), r.all[-300:])
        s = self.session_json(self.admin, sid)
        if self.fixtures and self.engine_present:
            self.verified = check(f"{label}: the CLI prints status VERIFIED (chip obama__a, selfie obama__b)", a.get("status") == "VERIFIED",
                                  f"{a} server {s.get('status')} {E.Suite.reasons_of(s)}")
        else:
            self.face_dependent(f"{label}: VERIFIED", sid, "VERIFIED")
        checks = {c.get("name"): c.get("passed") for c in s.get("checks") or []}
        check(f"{label}: the server's checks: passive authentication and both names passed", checks.get("passive_authentication") is True
              and checks.get("name_given_name") is True and checks.get("name_family_name") is True, json.dumps(s)[:400])
        left = wait_for(lambda: self.desk.current_url.split("?")[0].endswith("/account"), 60, 0.3)
        self.shot(self.desk, "account-after")
        check(f"{label}: the desktop capture page leaves by itself (polling /status, /continue) to /account", bool(left), self.desk.current_url)
        status = wait_for(lambda: self.desk.find_element(By.ID, "identity-status").text, 5) or ""
        if self.verified:
            check(f"{label}: #identity-status says 'Verified on …'", status.startswith("Verified on"), status)
        else:
            check(f"{label}: #identity-status shows the decision ({a.get('status')})", status.startswith("Not verified on") or status.startswith("Verified on"),
                  status)

        # The same hand-off a second time (the owner's own CLI).
        r = self.phone.run("verify", h["link"], *self.chip_args(), "--selfie", self.selfie_ok, "--json")
        check(f"{label}: the same hand-off link a second time by the CLI is refused", r.returncode != 0 and self.phone.answer(r).get("status") is None,
              r.all[-300:])
        if self.key_grace:
            r = self.device_call(self.key_grace, sid, "evidence", {"kind": "selfie", "data": E.b64u(selfie)})
            check(f"{label}: the second user's device sending evidence to it -> 403 not-this-device", r.status_code == 403 and "not-this-device" in r.text,
                  f"{r.status_code} {r.text[:200]}")

    # --- 3. OIDC clients ---

    def oidc_run(self, client_id, secret, scope, claims=None, auth_method="none"):
        rp = self.rp
        verifier, nonce, state = generate_token(64), generate_token(20), generate_token(20)
        oauth = OAuth2Session(client_id, secret, scope=scope, redirect_uri=rp.url, state=state, code_challenge_method="S256",
                              token_endpoint_auth_method=auth_method)
        extra = {"claims": json.dumps(claims)} if claims else {}
        url, _ = oauth.create_authorization_url(self.meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, state=state, **extra)
        self.desk.get(url)
        back = wait_for(lambda: self.desk.current_url if self.desk.current_url.startswith(rp.url) else None, 30, 0.3)
        if not back:
            self.shot(self.desk, "oidc-stuck")
            return {"error": f"never reached the client: {self.desk.current_url}"}
        q = urllib.parse.parse_qs(urllib.parse.urlparse(back).query)
        if "code" not in q:
            return {"error": f"no code: {back}"}
        tok = oauth.fetch_token(self.meta["token_endpoint"], code=q["code"][0], code_verifier=verifier)
        jwks = JsonWebKey.import_key_set(requests.get(self.meta["jwks_uri"], timeout=10).json())
        claims_out = JsonWebToken(["RS256", "ES256", "EdDSA"]).decode(tok["id_token"], jwks)
        claims_out.validate(leeway=5)
        out = dict(claims_out)
        if out.get("nonce") != nonce:
            return {"error": f"nonce {out.get('nonce')} != {nonce}"}
        return out

    def run_oidc(self):
        self.meta = requests.get(self.base + "/.well-known/openid-configuration", timeout=10).json()
        self.rp = OktaCallback()  # any page at the redirect URI; the code stays in the URL
        self.callbacks.append(self.rp)
        r, app = self.admin.call("POST", "/applications", {
            "name": "IA client", "protocol": "oidc", "redirect_uris": [self.rp.url], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"], "allowed_scopes": ["openid", "profile", "identity_assurance"], "require_pkce": True})
        cid = ((app or {}).get("oidc") or {}).get("client_id")
        r2, app2 = self.admin.call("POST", "/applications", {
            "name": "Plain client", "protocol": "oidc", "redirect_uris": [self.rp.url], "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"], "allowed_scopes": ["openid", "profile", "email"], "require_pkce": True})
        cid2, secret2 = ((app2 or {}).get("oidc") or {}).get("client_id"), (app2 or {}).get("client_secret")
        if not check("admin API: a public client allowed identity_assurance and a confidential one not allowed it -> 201", r.status_code == 201
                     and r2.status_code == 201 and bool(cid) and bool(cid2 and secret2), f"{r.status_code} {r.text[:200]} {r2.status_code} {r2.text[:200]}"):
            return
        label = "OIDC"
        got = self.oidc_run(cid, None, "openid profile identity_assurance")
        vc = got.get("verified_claims")
        if not check(f"{label}: the allowed client's code flow (public, PKCE S256) in the same browser session -> an ID token", "error" not in got,
                     got.get("error", "")):
            return
        if self.verified:
            names = (vc or {}).get("claims") or {}
            check(f"{label}: its ID token has verified_claims, trust_framework nist_800_63A, the verified names", isinstance(vc, dict)
                  and (vc.get("verification") or {}).get("trust_framework") == "nist_800_63A"
                  and str(names.get("given_name", "")).upper() == GIVEN.upper() and str(names.get("family_name", "")).upper() == FAMILY.upper(),
                  json.dumps(vc)[:400])
            check(f"{label}: ... sub is the user, verification has assurance_level and time", bool(got.get("sub")) and
                  all(k in (vc or {}).get("verification", {}) for k in ("assurance_level", "time")), json.dumps(vc)[:300])
            errors = ida_rules.validate_verified_claims(vc)
            check(f"{label}: ... verified_claims valid under the OIDC4IDA rules (ida_rules.py, written from the spec)", vc is not None and not errors,
                  "; ".join(errors[:4]))
        else:
            check(f"{label}: not verified: the allowed client's ID token has no verified_claims", vc is None, json.dumps(vc)[:300])
        ask = {"id_token": {"verified_claims": {"verification": {"trust_framework": None}, "claims": {"given_name": None, "family_name": None}}}}
        got2 = self.oidc_run(cid2, secret2, "openid profile", claims=ask, auth_method="client_secret_basic")
        if "error" in got2:
            check(f"{label}: the client NOT allowed identity_assurance (asking for verified_claims in `claims`) gets no verified_claims",
                  "code" not in got2.get("error", "") or "error=" in got2.get("error", ""), got2["error"])
        else:
            check(f"{label}: the client NOT allowed identity_assurance (asking for verified_claims in `claims`) gets an ID token without verified_claims",
                  "verified_claims" not in got2, json.dumps(got2.get("verified_claims"))[:300])
        r = requests.get(self.meta["authorization_endpoint"], params={"client_id": cid2, "response_type": "code", "redirect_uri": self.rp.url,
                                                                      "scope": "openid identity_assurance", "state": "s", "code_challenge": "x" * 43,
                                                                      "code_challenge_method": "S256"}, allow_redirects=False, timeout=10)
        note(f"the not-allowed client asking for scope identity_assurance: {r.status_code} {r.headers.get('Location', '')[:160]}")

    # --- 4. FAILED cases and the page's own submit ---

    def run_failed(self):
        label = "FAILED altered DG1"
        sid, h = self.start_account_verification(label)
        if sid and h["link"]:
            r = self.phone.run("verify", h["link"], *self.chip_args("altered"), "--selfie", self.selfie_ok, "--json")
            a = self.phone.answer(r)
            s = self.session_json(self.admin, sid)
            reasons = E.Suite.reasons_of(s)
            check(f"{label}: the CLI (hand-off link) -> FAILED; the server's reason dg1_hash_mismatch", r.returncode == 0 and a.get("status") == "FAILED"
                  and "dg1_hash_mismatch" in reasons, f"{r.all[-200:]} server {s.get('status')} {reasons}")
            left = wait_for(lambda: self.desk.current_url.split("?")[0].endswith("/account"), 60, 0.3)
            status = self.desk.find_element(By.ID, "identity-status").text if left else ""
            check(f"{label}: the desktop returns to /account by itself", bool(left), self.desk.current_url)
            note(f"#identity-status after this FAILED verification (the account verification before it: {'VERIFIED' if self.verified else 'not VERIFIED'}): {status!r}")

        label = "FAILED wrong face"
        if not self.fixtures:
            skip(label, f"{FACES} absent (or $SIGIL_FIXTURES_DIR elsewhere): no photographs")
            return
        sid, h = self.start_account_verification(label)
        if not (sid and h["link"]):
            return
        r = self.phone.run("verify", h["png"] or h["link"], *self.chip_args(), "--selfie", self.face("biden__a.jpg"), "--no-submit", "--json")
        a = self.phone.answer(r)
        check(f"{label}: `verify --no-submit` sends the chip and the selfie, no decision", r.returncode == 0 and {"chip", "selfie"} <= set(a.get("evidence") or [])
              and a.get("status") is None, r.all[-300:])
        r = self.phone.run("verify", h["link"], "--selfie", self.face("obama__b.jpg"), "--no-submit", "--json")
        check(f"{label}: the hand-off a second time while the session is still collecting (the owner's CLI again) is refused as handoff-used",
              r.returncode != 0 and not self.phone.answer(r).get("evidence") and "handoff-used" in r.all and "already finished" not in r.all,
              r.all[-300:])
        b = requests.get(h["link"], allow_redirects=False, timeout=10)
        check(f"{label}: ... and a browser opening the spent hand-off link gets no capture page and no cookie",
              not (b.status_code in (302, 303) and f"/idv/{sid}" in b.headers.get("Location", "")) and E.COOKIE not in b.cookies,
              f"{b.status_code} {b.headers.get('Location')}")
        if self.key_grace:
            r2 = self.device_call(self.key_grace, sid, "submit", {"document_type": "passport"})
            check(f"{label}: submit from the second user's device after the owner claimed -> 403 not-this-device",
                  r2.status_code == 403 and "not-this-device" in r2.text, f"{r2.status_code} {r2.text[:200]}")
        self.desk.find_element(By.ID, "submit").click()
        left = wait_for(lambda: self.desk.current_url.split("?")[0].endswith("/account"), 90, 0.3)
        check(f"{label}: the desktop's #submit decides what the phone sent and returns to /account", bool(left),
              f"{self.desk.current_url} {E.page_state(self.desk)}")
        self.face_dependent(f"{label}: chip obama__a, selfie biden__a -> FAILED face_mismatch", sid, "FAILED", "face_mismatch")

    # --- 4. an expired hand-off on a second server ---

    def run_expired(self):
        label = f"expired hand-off ({LIFETIME_ENV}=4, a second server)"
        base, proc, data, err = self.serve("expiry", {LIFETIME_ENV: "4"})
        try:
            phone = Phone(self.cli_binary, os.path.join(self.work, "phone-expiry"), "expiry phone")
            r = enrol_phone_as_first_admin(err, phone, os.path.join(self.artifacts, "expiry-device-qr.png"), "expiry@example.com", "Exp", "Iry",
                                           "Expiry CLI")
            if not check(f"{label}: a phone enrolled as that server's first administrator", r.returncode == 0, r.all[-200:]):
                return
            admin = AdminAPI(base, admin_token(self.binary, data))
            r, s = admin.call("POST", "/idv/sessions", {"expected": {"given_name": GIVEN, "family_name": FAMILY}})
            hand = (s or {}).get("handoff_url")
            if not check(f"{label}: admin API POST /idv/sessions -> 201 with a handoff_url", r.status_code == 201 and bool(hand), f"{r.status_code} {r.text[:200]}"):
                return
            time.sleep(6)
            r = phone.run("verify", urllib.parse.urljoin(base, hand), *self.chip_args(), "--selfie", self.selfie_ok, "--json")
            check(f"{label}: after 6 s the CLI's claim is refused (session-expired)", r.returncode != 0 and "expired" in r.all, r.all[-300:])
        finally:
            stop_serve(proc, "the expiry server")
            self.procs = [p for p in self.procs if p[0] is not proc]

    # --- 5. Okta ---

    def run_okta(self):
        label = "Okta"
        okta = OktaCallback()
        self.callbacks.append(okta)
        r, app = self.admin.call("POST", "/applications", {
            "name": "Okta IDV", "protocol": "oidc", "redirect_uris": [okta.url], "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["authorization_code"], "allowed_scopes": ["openid", "profile", "identity_assurance"], "require_pkce": True,
            "identity_verification": True})
        oidc = (app or {}).get("oidc") or {}
        if not check(f"{label}: admin API: an IDV client app (identity_verification true, client_secret_post) -> 201", r.status_code == 201
                     and bool(oidc.get("client_id")), f"{r.status_code} {r.text[:200]}"):
            return
        schemas, _ = load_ida_schemas()
        client = OktaIDVClient(self.base, self.base + "/oauth2/par", self.base + "/oauth2/idv-authorize", self.base + "/oauth2/token",
                               self.meta.get("jwks_uri") if hasattr(self, "meta") else self.base + "/oauth2/jwks", oidc["client_id"], app["client_secret"],
                               schemas=schemas)
        client.callback_url = okta.url
        p = client.par("Anna", "Eriksson", OKTA_USER_ID)
        if not check(f"{label}: PAR as Okta -> request_uri", p.ok, f"{p.reasons} {p.problems}"):
            return
        d = browser()
        self.drivers.append(d)
        d.get(client.authorize_url(p))
        sid = wait_for(lambda: E.sid_of(d.current_url), 20)
        if not check(f"{label}: the desktop Chromium is on the capture page", bool(sid), d.current_url):
            return
        link, text, png, why = handoff_of(d, self.new_dir("okta"))
        check(f"{label}: #handoff-qr decodes to #handoff-link", bool(text) and text == link, f"{text!r} {link!r} {why}")
        r = self.phone.run("verify", link or "", *self.chip_args(), "--selfie", self.selfie_ok)
        check(f"{label}: the enrolled CLI (any user's device: the session is about no Sigil user) claims with #handoff-link, sends, submits",
              r.returncode == 0 and ("Verified" in r.stdout or "Not verified" in r.stdout), r.all[-300:])
        url = wait_for(lambda: d.current_url if d.current_url.startswith(okta.url) else None, 60, 0.3)
        self.shot(d, "okta-desktop")
        cb = client.callback(url, p) if url else {}
        if not check(f"{label}: the desktop page reaches the fake Okta callback with a code and Okta's state", bool(cb.get("code"))
                     and cb.get("state") == p.state, str(url or d.current_url)):
            return
        v = client.token(cb["code"], p)
        vc = (v.get("id_token_claims") or {}).get("verified_claims")
        level = (vc[0].get("verification") or {}).get("assurance_level") if isinstance(vc, list) and vc and isinstance(vc[0], dict) else None
        if self.fixtures and self.engine_present:
            check(f"{label}: the ID token's verified_claims say VERIFIED (Okta's evaluation VERIFIED)", v.get("result") == "VERIFIED" and level == "VERIFIED",
                  f"{v.get('result')} {v.get('reasons')} {level} {v.get('details', [])[:3]}")
        else:
            check(f"{label}: the ID token is accepted by Okta's checks (assurance {level})", E.Suite.plumbing_ok(v), f"{v.get('reasons')} {v.get('details', [])[:3]}")
            self.face_dependent(f"{label}: VERIFIED", sid, "VERIFIED")

    # --- 6. driving licences (the front's printed text against the barcode) ---

    LICENCE_POLICY = {"document_types": ["passport", "driving_permit"], "countries": ["UTO", "USA"], "require_chip": False,
                      "require_face_match": True, "require_liveness": False, "weakest_name_match": "fuzzy", "review_reasons": [],
                      "face_match_threshold": 0.6, "retention_days": 30}
    FRONT_REASONS = ("front_family_name_differs", "front_given_name_differs", "front_birth_date_differs", "front_document_number_differs")

    def run_licence_cases(self):
        """The driving-licence cases, each on its own; the suite's policy is put back afterwards."""
        if idv_cards is None:
            skip("licence cases", f"interop/idv_cards.py cannot be imported ({IDV_CARDS_MISSING}): run scripts/install-idv-engines.sh")
            return
        if not self.fixtures:
            for name in ("licence (a) VERIFIED", "licence (b) front differs", "licence (c) front unreadable"):
                skip(name, f"{FACES} absent (or $SIGIL_FIXTURES_DIR elsewhere): no photograph for the card and the selfie")
            return
        r, before = self.admin.call("GET", "/idv/policy")
        r2, _ = self.admin.call("PUT", "/idv/policy", self.LICENCE_POLICY)
        r3, got = self.admin.call("GET", "/idv/policy")
        if not check("licence: admin API: IDV policy allows driving_permit and USA, no chip (PUT, read back)", r2.status_code == 200
                     and isinstance(got, dict) and all(sorted(got.get(k)) == sorted(v) if isinstance(v, list) else got.get(k) == v
                                                for k, v in self.LICENCE_POLICY.items()),
                     f"{r2.status_code} {r2.text[:200]} / {r3.text[:300]}"):
            return
        try:
            for step in (self.run_licence_verified, self.run_licence_front_differs, self.run_licence_front_unreadable):
                try:
                    step()
                except Exception as error:
                    check(f"{step.__name__} ran to its end", False, "".join(traceback.format_exception(error))[-1200:])
        finally:
            if r.status_code == 200 and isinstance(before, dict):
                r4, _ = self.admin.call("PUT", "/idv/policy", before)
                check("licence: the suite's IDV policy put back", r4.status_code == 200, f"{r4.status_code} {r4.text[:200]}")

    def licence(self, seed):
        """A licence valid for four more years (the holder's names are the barcode's: DCS, DAC)."""
        today = datetime.date.today()
        lic = idv_cards.sample_licence(seed, jurisdiction="CA")
        lic = dataclasses.replace(lic, middle_name="", issue=today - datetime.timedelta(days=400),
                                  expiry=datetime.date(today.year + 4, lic.birth.month, min(lic.birth.day, 28)))
        self.licence_texts = set(getattr(self, "licence_texts", ())) | {lic.family_name, lic.number}
        return lic

    def licence_files(self, label, lic, printed=None, blank=False):
        """(front PNG, back PNG) written to this case's folder; the images join the privacy scan."""
        d = self.new_dir(label.split()[0] + "-licence")
        front = idv_cards.encode(idv_cards.render_front(lic, self.face("obama__a.jpg"), printed=printed, blank=blank, seed=1))
        back = idv_cards.encode(idv_cards.render_back(lic, seed=1))
        paths = os.path.join(d, "front.png"), os.path.join(d, "back.png")
        for path, data in zip(paths, (front, back)):
            with open(path, "wb") as f:
                f.write(data)
        self.images += [front, back]
        return paths

    def licence_session(self, label, lic, front, back):
        """An admin-API session expecting the barcode's names and birthdate, finished by the CLI; (sid, session JSON, CLI answer)."""
        expected = {"given_name": lic.given_name.title(), "family_name": lic.family_name.title(), "birthdate": lic.birth.isoformat()}
        r, s = self.admin.call("POST", "/idv/sessions", {"expected": expected})
        hand = (s or {}).get("handoff_url")
        if not check(f"{label}: admin API POST /idv/sessions (expected: the barcode's names and birthdate) -> 201 with a handoff_url",
                     r.status_code == 201 and bool(hand), f"{r.status_code} {r.text[:200]}"):
            return None, {}, {}
        sid = s.get("id")
        r = self.phone.run("verify", urllib.parse.urljoin(self.base, hand), "--document-type", "driving_permit", "--document-front", front,
                           "--document-back", back, "--selfie", self.face("obama__b.jpg"), "--json")
        a = self.phone.answer(r)
        check(f"{label}: `sigil-authenticator verify --document-type driving_permit --document-front --document-back --selfie --json` "
              "claims, sends and submits (exit 0, a status)", r.returncode == 0 and a.get("status") in ("VERIFIED", "FAILED", "REVIEW"), r.all[-300:])
        return sid, self.session_json(self.admin, sid), a

    def licence_engine_gate(self, name, s):
        """True when the outcome can be judged; SKIP (engine_unavailable reported) or FAIL without the engine."""
        if self.engine_present:
            return True
        reasons = E.Suite.reasons_of(s)
        if E.ENGINE_REASON in reasons:
            skip(name, f"the barcode and the face need the engine: the server reports {E.ENGINE_REASON} ({self.engine or '--engine not given'} absent)")
        else:
            check(name + f" (no engine: the server must report {E.ENGINE_REASON})", False, f"{s.get('status')} {reasons}")
        return False

    def engine_reads_text(self):
        if not hasattr(self, "_engine_text"):
            self._engine_text = False
            if self.engine_present:
                try:
                    p = subprocess.run([self.engine], input=b'{"op":"capabilities"}', capture_output=True, timeout=60)
                    self._engine_text = json.loads(p.stdout).get("text") is True
                except (OSError, ValueError, subprocess.TimeoutExpired):
                    pass
        return self._engine_text

    @staticmethod
    def document_type_of(vc):
        """The document type in an IDA verified_claims (evidence[].document_details.type, or the older document.type)."""
        for ev in ((vc or {}).get("verification") or {}).get("evidence") or []:
            if isinstance(ev, dict):
                for key in ("document_details", "document"):
                    t = (ev.get(key) or {}).get("type") if isinstance(ev.get(key), dict) else None
                    if t:
                        return t
        return None

    @staticmethod
    def front_check(s):
        """The session's front_matches_barcode check (a dict), or None when there is none."""
        return next((c for c in s.get("checks") or [] if c.get("name") == "front_matches_barcode"), None)

    def run_licence_verified(self):
        label = "licence (a) front and barcode agree"
        lic = self.licence(11)
        front, back = self.licence_files(label, lic)
        sid, s, a = self.licence_session(label, lic, front, back)
        if not sid:
            return
        name = f"{label}: VERIFIED, verified_claims with the barcode's names and birthdate, document type driving_permit"
        if not self.licence_engine_gate(name, s):
            return
        vc = s.get("verified_claims") or {}
        claims = vc.get("claims") or {}
        fc = self.front_check(s)
        check(name, s.get("status") == "VERIFIED" and a.get("status") == "VERIFIED"
              and str(claims.get("family_name", "")).upper() == lic.family_name and str(claims.get("given_name", "")).upper() == lic.given_name
              and claims.get("birthdate") == lic.birth.isoformat() and self.document_type_of(vc) == "driving_permit",
              f"{s.get('status')} {E.Suite.reasons_of(s)} {json.dumps(vc)[:400]}")
        if self.engine_reads_text():
            check(f"{label}: the check front_matches_barcode is there and passed (the engine reads the front)", fc is not None and fc.get("passed") is True,
                  json.dumps(s.get("checks"))[:500])
        else:
            note(f"the engine has no text op: front_matches_barcode is {json.dumps(fc)}")

    def run_licence_front_differs(self):
        label = "licence (b) front printed with another family name"
        lic = self.licence(12)
        other = "ZIMMERMANN" if lic.family_name != "ZIMMERMANN" else "ABERCROMBIE"
        self.licence_texts.add(other)
        front, back = self.licence_files(label, lic, printed={"family_name": other})
        sid, s, a = self.licence_session(label, lic, front, back)
        if not sid:
            return
        name = f"{label}: FAILED, check front_matches_barcode failed with front_family_name_differs (and no other front_* reason)"
        if not self.licence_engine_gate(name, s):
            return
        if not self.engine_reads_text():
            skip(name, f"the engine {self.engine} has no `text` op (capabilities): the front cannot be read; the server said {s.get('status')}")
            return
        fc = self.front_check(s) or {}
        reasons = E.Suite.reasons_of(s)
        front_reasons = [x for x in fc.get("reasons") or [] if x in self.FRONT_REASONS]
        check(name, s.get("status") == "FAILED" and a.get("status") == "FAILED" and fc.get("passed") is False
              and front_reasons == ["front_family_name_differs"] and "front_family_name_differs" in reasons,
              f"{s.get('status')} {reasons} front_matches_barcode {json.dumps(fc)}")
        check(f"{label}: FAILED gives no verified_claims", not s.get("verified_claims"), json.dumps(s.get("verified_claims"))[:200])

    def run_licence_front_unreadable(self):
        label = "licence (c) front with only the photo"
        lic = self.licence(13)
        front, back = self.licence_files(label, lic, blank=True)
        sid, s, a = self.licence_session(label, lic, front, back)
        if not sid:
            return
        name = f"{label}: nothing to read is not held against it: VERIFIED, front_matches_barcode absent or passed"
        if not self.licence_engine_gate(name, s):
            return
        fc = self.front_check(s)
        check(name, s.get("status") == "VERIFIED" and (fc is None or fc.get("passed") is True)
              and not any(x in E.Suite.reasons_of(s) for x in self.FRONT_REASONS),
              f"{s.get('status')} {E.Suite.reasons_of(s)} front_matches_barcode {json.dumps(fc)}")
    # --- 5b. liveness (the `--liveness DIR` of `sigil-authenticator verify`) ---
    # Frames synthesised from one photo by interop/idv_liveness_frames.py and measured by the real engine: a
    # rendered injection of the requested actions (the attack docs/idv.md says liveness does not stop), used to
    # drive the protocol path, not evidence of liveness strength.

    LIVENESS_FRAMES = {"live": ("obama__a.jpg", "live"), "still": ("obama__a.jpg", "still"), "other": ("biden__b.jpg", "live")}
    LIVENESS_ACTIONS = ("turn_left", "turn_right", "blink")

    def liveness_policy(self, on, label):
        """The current IDV policy with require_liveness `on` (PUT, read back); everything else as it was."""
        r, got = self.admin.call("GET", "/idv/policy")
        policy = dict(got) if r.status_code == 200 and isinstance(got, dict) else {}
        policy["require_liveness"] = on
        r, _ = self.admin.call("PUT", "/idv/policy", policy)
        r2, back = self.admin.call("GET", "/idv/policy")
        return check(f"{label}: admin API: IDV policy require_liveness {str(on).lower()} (PUT, read back)", r.status_code == 200
                     and isinstance(back, dict) and back.get("require_liveness") is on and all(back.get(k) == v for k, v in policy.items()),
                     f"{r.status_code} {r.text[:200]} / {r2.text[:300]}")

    def liveness_frame_dirs(self):
        """{kind: DIR} for LIVENESS_FRAMES, made with the engine; None (and a SKIP or FAIL line) when impossible."""
        label = "liveness frames"
        if not self.fixtures:
            skip(label, f"{FACES} absent (or $SIGIL_FIXTURES_DIR elsewhere): no photographs to animate")
            return None
        if not self.engine_present:
            skip(label, f"the frames are synthesised and the server measures them with the engine ({self.engine or '--engine not given'} absent)")
            return None
        engine = idv_liveness_frames.Engine(self.engine)
        dirs = {}
        try:
            for kind, (photo, mode) in self.LIVENESS_FRAMES.items():
                out = os.path.join(self.work, f"liveness-{kind}")
                try:
                    rep = idv_liveness_frames.synthesise(self.face(photo), out, engine, mode)
                except idv_liveness_frames.FrameError as error:
                    check(f"{label}: {mode} frames from {photo} measure as intended", False, str(error))
                    return None
                note(f"{kind} frames ({mode}, {photo}): " + idv_liveness_frames.summary(rep))
                dirs[kind] = out
                for step in idv_liveness_frames.STEPS:
                    for name in sorted(os.listdir(os.path.join(out, step))):
                        self.images.append(open(os.path.join(out, step, name), "rb").read())
        finally:
            engine.close()
        check(f"{label}: synthesised from {', '.join(sorted({p for p, _ in self.LIVENESS_FRAMES.values()}))} (live: turns >= "
              f"{idv_liveness_frames.TARGET_TURN:.0f} degrees, eyes shut < {idv_liveness_frames.TARGET_BLINK} x; still: the photo as is)", True)
        return dirs

    def liveness_steps_of(self, r, answer):
        """The challenge's steps as the CLI printed them: a list of step names beginning with neutral anywhere in
        its JSON answer, else the first line of its output naming neutral and then actions; None when not found."""
        names = set(idv_liveness_frames.STEPS)

        def walk(v):
            if isinstance(v, list) and len(v) >= 2 and all(isinstance(x, str) and x in names for x in v) and v[0] == "neutral":
                return list(v)
            for x in (v.values() if isinstance(v, dict) else v if isinstance(v, list) else []):
                found = walk(x)
                if found:
                    return found
            return None

        found = walk(answer)
        if found:
            return found
        for line in r.all.splitlines():
            words = re.findall(r"\b(neutral|turn_left|turn_right|blink)\b", line)
            if len(words) >= 2 and words[0] == "neutral":
                return words
        return None

    def liveness_verify(self, label, frames):
        """An account verification finished by the CLI with `--liveness DIR`: (sid, CLI answer, session, steps, CLI result)."""
        sid, h = self.start_account_verification(label)
        if not (sid and h["link"]):
            return None
        r = self.phone.run("verify", h["link"], *self.chip_args(), "--selfie", self.selfie_ok, "--liveness", frames, "--json")
        a = self.phone.answer(r)
        if "--liveness" in r.all and re.search(r"unknown option|unrecognized|unexpected argument", r.all, re.I):
            check(f"{label}: `sigil-authenticator verify … --liveness DIR` is accepted", False, "the CLI does not know --liveness yet: " + r.all[-200:])
            return None
        check(f"{label}: `verify … --selfie obama__b --liveness DIR --json` claims, sends and submits (exit 0, a status)",
              r.returncode == 0 and a.get("session_id") == sid and a.get("status") in ("VERIFIED", "FAILED", "REVIEW"), r.all[-300:])
        s = self.session_json(self.admin, sid)
        steps = self.liveness_steps_of(r, a)
        note(f"{label}: the challenge as the CLI printed it: {steps}")
        left = wait_for(lambda: self.desk.current_url.split("?")[0].endswith("/account"), 60, 0.3)
        check(f"{label}: the desktop returns to /account by itself", bool(left), self.desk.current_url)
        return sid, a, s, steps, r

    def liveness_verified(self, frames):
        label = "liveness VERIFIED (synthesised turns and blink of obama__a, selfie obama__b)"
        got = self.liveness_verify(label, frames)
        if not got:
            return
        sid, a, s, steps, r = got
        checks = {c.get("name"): c for c in s.get("checks") or []}
        live = checks.get("liveness") or {}
        check(f"{label}: the CLI prints VERIFIED and the server's session is VERIFIED", a.get("status") == "VERIFIED" and s.get("status") == "VERIFIED",
              f"{a.get('status')} server {s.get('status')} {E.Suite.reasons_of(s)}")
        check(f"{label}: the session's checks hold liveness, passed", live.get("passed") is True, json.dumps(s.get("checks"))[:500])
        check(f"{label}: the challenge printed by the CLI is neutral then 3 actions with a turn and a blink", bool(steps) and len(steps) == 4
              and steps[0] == "neutral" and "blink" in steps and ("turn_left" in steps or "turn_right" in steps), f"{steps} {r.all[-200:]}")
        # OIDC4IDA: the evidence's check methods now include vri (liveness), beside vpip, vdig, pvp.
        rp = getattr(self, "rp", None)
        if rp is None:
            rp = self.rp = OktaCallback()
            self.callbacks.append(rp)
        if not hasattr(self, "meta"):
            self.meta = requests.get(self.base + "/.well-known/openid-configuration", timeout=10).json()
        r2, app = self.admin.call("POST", "/applications", {
            "name": "IA client (liveness)", "protocol": "oidc", "redirect_uris": [rp.url], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"], "allowed_scopes": ["openid", "profile", "identity_assurance"], "require_pkce": True})
        cid = ((app or {}).get("oidc") or {}).get("client_id")
        if not check(f"{label}: admin API: a public client allowed identity_assurance -> 201", r2.status_code == 201 and bool(cid), r2.text[:200]):
            return
        tok = self.oidc_run(cid, None, "openid profile identity_assurance")
        vc = tok.get("verified_claims") if isinstance(tok, dict) else None
        vc = vc[0] if isinstance(vc, list) and vc else vc
        evidence = ((vc or {}).get("verification") or {}).get("evidence") or []
        methods = [d.get("check_method") for e in evidence if isinstance(e, dict) for d in e.get("check_details") or [] if isinstance(d, dict)]
        check(f"{label}: the ID token's verified_claims evidence check methods include vri (and pvp, vpip)", "error" not in tok
              and {"vri", "pvp", "vpip"} <= set(methods), f"{methods} {tok.get('error', '')} {json.dumps(vc)[:300]}")
        note(f"{label}: assurance_level {((vc or {}).get('verification') or {}).get('assurance_level')}, check methods {methods}")

    def liveness_still(self, frames):
        label = "liveness FAILED (the photo held still: obama__a unmodified in every step)"
        got = self.liveness_verify(label, frames)
        if not got:
            return
        sid, a, s, steps, r = got
        reasons = [x for x in E.Suite.reasons_of(s) if x.startswith("liveness")]
        expected = {f"liveness_{x}_not_seen" for x in (steps or [])[1:]}
        if steps:
            ok = set(reasons) == expected
        else:  # the CLI did not print the steps: every reason one of the actions' not_seen, a turn and the blink among them
            ok = bool(reasons) and set(reasons) <= {f"liveness_{x}_not_seen" for x in self.LIVENESS_ACTIONS} and "liveness_blink_not_seen" in reasons \
                and any(x.startswith("liveness_turn_") for x in reasons)
        check(f"{label}: FAILED, with liveness_<action>_not_seen for each action of the challenge {steps} and no other liveness reason",
              a.get("status") == "FAILED" and s.get("status") == "FAILED" and ok,
              f"{a.get('status')} server {s.get('status')} liveness reasons {reasons}, expected {sorted(expected) or '(steps unknown)'}")
        live = {c.get("name"): c for c in s.get("checks") or []}.get("liveness") or {}
        check(f"{label}: the session's liveness check failed; face match still passed (the selfie is the chip's person)",
              live.get("passed") is False and {c.get("name"): c.get("passed") for c in s.get("checks") or []}.get("face_match") is not False,
              json.dumps(s.get("checks"))[:500])

    def liveness_other_person(self, frames):
        label = "liveness FAILED (synthesised frames of biden__b, selfie obama__b)"
        got = self.liveness_verify(label, frames)
        if not got:
            return
        sid, a, s, steps, r = got
        reasons = E.Suite.reasons_of(s)
        check(f"{label}: FAILED with liveness_not_the_selfie or liveness_identity_changed", a.get("status") == "FAILED" and s.get("status") == "FAILED"
              and bool({"liveness_not_the_selfie", "liveness_identity_changed"} & set(reasons)), f"{a.get('status')} server {s.get('status')} {reasons}")

    def run_liveness(self):
        """(a) VERIFIED with synthesised frames, (b) a still photo refused, (c) another person's frames refused,
        (d) the policy back to require_liveness false for the cases after these."""
        frames = self.liveness_frame_dirs()
        if not frames:
            return
        if not self.liveness_policy(True, "liveness"):
            return
        try:
            for case, kind in ((self.liveness_verified, "live"), (self.liveness_still, "still"), (self.liveness_other_person, "other")):
                try:
                    case(frames[kind])
                except Exception as error:
                    check(f"{case.__name__} ran to its end", False, "".join(traceback.format_exception(error))[-1200:])
        finally:
            self.liveness_policy(False, "liveness, afterwards")

    # --- 6. privacy ---

    def privacy(self):
        texts = {GIVEN, FAMILY, GIVEN.upper(), FAMILY.upper(), "ANNA<MARIA", GIVEN2 + " " + FAMILY2, FAMILY2}
        texts |= {pp["document_number"] for pp in self.passports.values()}
        texts |= set(getattr(self, "licence_texts", ()))
        pieces = {}
        for i, blob in enumerate(self.images):
            mid = (len(blob) // 2 // 3) * 3
            chunk = blob[mid:mid + 48]
            pieces[f"image {i} base64"] = [base64.b64encode(chunk), base64.urlsafe_b64encode(chunk), E.b64u(chunk).encode()]
            enc = [base64.b64encode(blob), base64.urlsafe_b64encode(blob)]
            start = (len(enc[0]) // 2 // 4) * 4
            pieces[f"image {i} base64 (whole)"] = [e[start:start + 64] for e in enc]
        logs = b"".join(open(p, "rb").read() for p in self.logs if os.path.exists(p))
        found = [t for t in texts if t.lower().encode() in logs.lower()]
        found += [k for k, needles in pieces.items() if any(n in logs for n in needles)]
        check(f"privacy: the servers' stdout/stderr ({len(logs)} bytes) hold no name, document number or base64 of an image",
              not found and len(logs) > 0, f"found {found}")

    def run(self):
        print(f"engine: {self.engine or '(none)'} {'present' if self.engine_present else 'ABSENT: face cases are SKIP when the server reports engine_unavailable'}")
        if not self.fixtures:
            print(f"SKIP photographs: {FACES} absent; the face cases are skipped (the chip's portrait is a JPEG skeleton)")
        self.make_passports()
        try:
            self.setup()
            for step in (self.run_account, self.run_oidc, self.run_okta, self.run_failed, self.run_liveness, self.run_expired):
                try:
                    step()
                except Exception as error:
                    check(f"{step.__name__} ran to its end", False, "".join(traceback.format_exception(error))[-1200:])
                    for i, d in enumerate(self.drivers):
                        self.shot(d, f"failure-{step.__name__}-{i}")
            self.run_licence_cases()
        except Exception as error:
            check("set-up", False, "".join(traceback.format_exception(error))[-1200:])
        finally:
            for d in self.drivers:
                try:
                    d.quit()
                except WebDriverException:
                    pass
            for c in self.callbacks:
                c.stop()
            for proc, tag in self.procs:
                stop_serve(proc, f"sigil ({tag})")
        self.privacy()


def main():
    ap = argparse.ArgumentParser(description="IDV finished by the sigil-authenticator CLI against sigil serve, with headless Chromium")
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--authenticator", default=os.environ.get("SIGIL_AUTHENTICATOR_BIN", ".build/debug/sigil-authenticator"))
    ap.add_argument("--engine", default=os.environ.get("SIGIL_IDV_ENGINE"), help="sigil-idv-engine, given to sigil serve as SIGIL_IDV_ENGINE")
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    suite = Suite(args)
    try:
        suite.run()
    except Exception as error:
        check("the suite ran", False, "".join(traceback.format_exception(error))[-1500:])
    if args.artifacts is None:
        shutil.rmtree(suite.work, ignore_errors=True)
    else:
        print(f"work folder (logs, passports, CLI homes): {suite.work}")
    if E.RESULTS["skipped"]:
        print(f"({E.RESULTS['skipped']} skipped)")
    print(f"{E.RESULTS['passed']} passed, {E.RESULTS['failed']} failed")
    return 1 if E.RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
