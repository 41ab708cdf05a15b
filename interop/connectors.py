#!/usr/bin/env python3
"""Interop: Sigil's connector API (docs/connectors.md, issue 15) driven by a scripted flow builder acting as Descope
(interop/flow_builder.py), against the real `sigil serve` with the real IDV engine and the fixture photographs.

The flow builder holds a connector key, starts verifications with `POST /api/v1/connectors/idv/sessions`
(Idempotency-Key, user_identifier, expected, redirect_url = its own http://127.0.0.1:PORT/resume?exec=<run>), sends
the person's browser to session_url (a 302 from its /flow/<run>/go: Descope's redirect step), reads the result on
/resume, and receives `idv.session_started` and `idv.decided` at a webhook endpoint made through the admin API,
verifying each message with the Standard Webhooks reference library from PyPI (interop/webhook_receiver.py). Sigil
runs on http://localhost:PORT, the flow builder on http://127.0.0.1:PORT: every redirect between them is cross-site.
As Descope's side of Sigil's inbound hooks, the flow builder also posts signed events to /api/v1/hooks/<name>
(flow_builder.HookSender): RFC 9421 signatures made by pyauth's http-message-signatures from PyPI, so that Sigil's
verifier is checked against software written elsewhere, or Descope's x-descope-webhook-s256 HMAC.

The capture is the IDV suites', imported, not copied: the synthetic ePassport chip of interop/idv_passport.py (DG1
ERIKSSON / ANNA MARIA, born 1974-08-12; DG2 portrait ../shared/fixtures/faces/obama__a.jpg; SOD under a synthetic
brainpool CSCA imported through the admin API), the selfie obama__b.jpg, uploaded through the capture page's file
inputs by interop/idv_e2e.py's fill_capture in headless Chromium, with the tenant policy idv_e2e.py uses
(require_chip, face match, fuzzy names, require_liveness false) plus driving_permit among the document types so that
a connector's narrowing to it means something. The phone is the real `sigil-authenticator verify` CLI
(interop/idv_authenticator.py's Phone, enrolled as the server's first administrator), with liveness frames
synthesised from obama__a by interop/idv_liveness_frames.py (a rendered injection: it drives the protocol path with
the real engine, it is not evidence of liveness strength); the same frames also feed the capture page's own liveness
run in Chromium, through a test camera (see "narrowing"), and frames synthesised from obama__b and lin__a are the live
face re-matches of a step-up (see "face").

Cases (PASS / FAIL / SKIP lines):
  keys         POST /connector-keys -> 201, the sck_ key shown once (prefix = its first 10 characters, scopes,
               origins); GET /connector-keys lists it without the key; an idv:read-only key; an origin that is not
               https (nor http to a loopback host) -> 422; the served OpenAPI document
  refusals     no Authorization, an unknown sck_ key, a non-sck bearer, a revoked key -> 401 problem+json; the
               read-only key starting a session -> 403 problem+json; redirect_url on another origin (another host,
               another port on 127.0.0.1, localhost instead of 127.0.0.1) -> 422 naming redirect_url; liveness_mode
               off, document_types empty or unknown, a bad expected.birthdate -> 422 naming the field; an
               Idempotency-Key of 256 characters or with a space -> 422; the result of an unknown session and of a
               session started through the admin API (not a connector's) -> 404. Tenants: a path tenant (sigil
               tenant create acme) issues its own key, which starts sessions on /t/acme/…; acme's key on the default
               tenant's API and the default key on acme's -> 401; acme's session id read with the default key -> 404
  VERIFIED     (Chromium) the connector step for a person (expected given/family/birthdate of the document) -> 201
               {session_id, session_url, handoff_url, subject, status pending, expires_at}; the result before the
               capture is pending; idv.session_started arrives (verified, target the session, actor the key); the
               browser follows the flow builder's 302 to session_url, lands on the capture page (the k= secret gone
               from the address bar), sends the chip and the selfie, submits, and lands back on the flow builder's
               /resume?exec=<run>&session_id=<id> (cross-site, no Referer carrying a secret); the result call made
               there says VERIFIED, state decided, ial_level, no reasons, the subject, verified_claims whose claims are
               the document's (ANNA MARIA, ERIKSSON, 1974-08-12) and valid under interop/ida_rules.py; the idv.decided
               webhook arrived, verified by the library, data.target.id = the session, data.after.decision VERIFIED,
               data.after.assurance_level = ial_level, webhook-id = data.id, and no personal data in the body; the
               read-only key reads the same result; the same user_identifier is the same subject, another is not
  authenticator  (sigil-authenticator verify) a run with liveness_mode active: the capture page asks for liveness,
               its #handoff-link is the connector's handoff_url and its QR decodes to it; the CLI sends the chip, the
               selfie and synthesised liveness frames from a PNG of the QR -> VERIFIED; the desktop page follows and
               lands on /resume; the result is VERIFIED with a passed liveness check (admin API) and check method vri
               in verified_claims; idv.decided VERIFIED. A second run is finished by the CLI from the connector
               answer's handoff_url alone (no browser): the result call and the webhook say VERIFIED
  FAILED       (Chromium) expected Bob Smith against the document: back on /resume, the result FAILED with
               given_name_mismatch and family_name_mismatch, no verified_claims; idv.decided FAILED, outcome failure,
               no personal data (neither the document's nor the expected names)
  idempotency  the VERIFIED run's connector step sent again (same key, same body) -> 200, Idempotent-Replayed: true,
               the same session_id and session_url, and no new idv.session_started; the same key with another body
               -> 422 problem+json naming Idempotency-Key; the same body with a new key -> 201, a new session;
               five concurrent sends with one new key -> one session_id in every answer, exactly one 201
  narrowing    document_types ["driving_permit"] (the tenant allows passport and driving_permit): the capture page
               offers driving_permit only; a passport presented anyway (the option added to the page, chip and
               selfie, submit) -> back on /resume, FAILED with document_type_not_allowed, no verified_claims, webhook
               FAILED. document_types ["passport", "residence_permit"] (the tenant does not allow residence_permit):
               201, the page offers passport only (never widened); cancelled on the page -> /resume, status
               cancelled. liveness_mode active with a policy that does not ask for liveness: the page asks for it
               (#liveness-start) and a submit without it is refused naming liveness (the session stays pending);
               then the page's own liveness run in Chromium: getUserMedia replaced by a canvas stream that shows the
               synthesised frame of the step #camera-instruction asks for, #camera-start, #liveness-start (the page
               fetches the challenge, grabs and uploads its frames), #submit -> /resume, VERIFIED, the liveness check
               passed; idv.decided VERIFIED. With the policy requiring liveness, liveness_mode policy: the page still
               asks for it
  stepup       (runs without the engine and the fixtures) the LiveID step-up: Chromium follows challenge_url, the phone
               (`sigil-authenticator approve --number N --simulate-user-verification face`) -> match, acr
               urn:sigil:acr:liveid; wrong number, declined, PIN where biometric was asked, unanswered until the server
               expires it; stepup.decided webhooks; a sixth push in 15 minutes -> 429, an unknown user -> 422
  hooks        (runs without the engine and the fixtures) inbound hooks, Descope posting signed events to
               /api/v1/hooks/<name>: a second user (`sigil user invite`) enrols her own phone (the step-up cases fill
               the first's push window); POST /hook-sources with a key lacking stepup:write -> 422 naming
               connector_key_id; source `descope` (rfc9421, stepup options with redirect_url to the flow builder,
               minimum_risk_score 50) and `descope-hmac` (descope_hmac, the idv-only key, login.risk ignore, idv
               options) -> 201 {hook_source (url, effective actions), secret}; GET lists them without a secret.
               rfc9421, each delivery signed by pyauth's http-message-signatures (RFC 9421, hmac-sha256 over @method,
               @target-uri, content-digest; created, nonce, keyid, alg) with an RFC 9530 Content-Digest: login.risk
               (risk 80) for the user -> 200 require_stepup {challenge_id, challenge_url, number, expires_at}; the very
               same request again -> 409; a fresh signature -> 200 replayed true, the same challenge; Chromium follows
               challenge_url, the phone approves with the number after a face check, the page goes on to the flow
               builder's /resume, whose result call with the source's key says match, acr urn:sigil:acr:liveid;
               a key without stepup:read cannot read it; stepup.decided arrives; resent after the decision -> replayed,
               the same challenge; a tampered body (with
               the original or a recomputed Content-Digest), created 400 s ago or 120 s ahead, expires passed, another
               secret, content-digest not covered, no signature -> 401 problem+json; risk 20 -> action none; an
               unmapped type -> none; over 64 KiB -> 413; an unknown source -> 404. descope_hmac
               (x-descope-webhook-s256): user.registered with time -> 200 start_idv {session_id, session_url}; the
               source's key reads the session pending, its subject is a connector step's for the same login_id;
               idv.session_started arrives, its actor the source's key; the same event id again -> 409; no time -> 422
               naming time; time 400 s ago, another secret, no header -> 401; the MAC over the compact JSON of an
               indented body, time in epoch seconds -> start_idv; login.risk (ignored here) -> none; DELETE the source
               -> 204, its URL then 404. The audit trail: hook_source.created/deleted, hook.received (none,
               require_stepup, start_idv), hook.refused with reasons, no hook secret
  face         the LiveID step-up's live face re-match against a verified portrait: a third user (`sigil user invite`,
               her own phone; the first administrator's push window is full after stepup) is verified through the
               connector with user_identifier = her email (liveness_mode active): the first administrator's phone taking
               its hand-off -> refused (about another account), her phone (`sigil-authenticator verify <handoff_url>`,
               chip, selfie obama__b, obama__a frames) -> VERIFIED, face match and liveness passed (admin API),
               idv.decided. A step-up for her without face_match -> 201 face_match required; the result pending with
               face_match required; `pending --json` shows face_match required; `approve --number N
               --simulate-user-verification face` without --liveness -> exit 2 (the Face line, --liveness asked for),
               still pending; with --liveness <frames synthesised from obama__b, another photograph than the chip's
               obama__a> -> 0, "Face matched your verified identity." -> match, face_match match, verification_process =
               the IDV session, face in amr, acr urn:sigil:acr:liveid; stepup.decided with data.after.face_match match;
               one stepup.face_rematch audit event (success, distance within the policy's 0.6, no image). A second
               step-up, approved with frames of another person (lin__a) three times -> exit 1 "face_mismatch … try
               again" twice (still pending), then "the request was stopped" -> no_match, reason face_not_matched,
               face_match no_match, no verification_process; stepup.decided face_match no_match; three failed
               stepup.face_rematch (face_mismatch, distance over 0.6, no image). face_match off -> 201 face_match off,
               a plain approve -> match without face_match. face_match required for a user without a verified identity
               (the first administrator), face_match sometimes -> 422 naming face_match. OpenID Connect (an OIDC client made
               through the admin API with the CIBA grant, interop/oidc_stepup.py's authlib RP on 127.0.0.1; sign-in pushes 30 s
               apart): CIBA, POST /oauth2/bc-authorize (client_secret_basic, login_hint her email, acr_values
               urn:sigil:acr:liveid, a binding_message) -> auth_req_id, the token endpoint authorization_pending; `pending
               --json` shows user_verification biometric, face_match required, the binding message, number_matching false
               and no number (no browser shows one); `approve` without --liveness -> exit 2, still authorization_pending;
               `approve --simulate-user-verification fingerprint --liveness <obama__b frames>` (no --number) -> "Face
               matched…", the token endpoint -> 200 with an ID token carrying urn:sigil:claims:verification_process = her
               IDV session, acr liveid, amr with face. The code flow (PKCE, acr_values
               urn:sigil:acr:liveid, prompt=login) in Chromium: /login offers the Sigil app only, her email, #push-button,
               `pending --json` face_match required and biometric, `approve --number N --simulate-user-verification
               fingerprint --liveness <obama__b frames>` -> "Face matched…"; the ID token (verified against the JWKS by
               authlib) and the JWT access token (RFC 9068) carry urn:sigil:claims:verification_process = her IDV session,
               acr urn:sigil:acr:liveid, amr with face (and fpt in the ID token)
  expired      a second server with SIGIL_INSECURE_IDV_SESSION_LIFETIME_SECONDS=4 (a test-only knob): a session
               left untouched 6 s -> the result status expired, state expired; through its session_url the
               session takes nothing more (/status expired, an upload -> 410 session_expired)
  privacy      after the servers stopped: its stdout/stderr hold no sck_ key (nor anything shaped like one), no whsec_
               secret (whole or its base64), no hook source secret (as shown, in base64 or hex), no k= value of any
               session_url, handoff_url or challenge_url, no name, birthdate or document number; no file of the data
               folder holds a key, a webhook or hook secret or a link secret in clear

Without the engine or ../shared/fixtures ($SIGIL_FIXTURES_DIR overrides) there is nothing to decide a verification
with: the identity verification cases (face among them) are one SKIP line, and keys, stepup, hooks and privacy run.

    /opt/peers-venv/bin/python interop/connectors.py --sigil PATH --authenticator PATH --engine PATH [--work DIR]
        [--artifacts DIR] [--only narrowing,failed,face,stepup,hooks,…]

With --work DIR, the pid of every `sigil serve` and chromedriver started is appended to DIR/pids (the wrapper's trap
stops what is left). Ends with "N passed, M failed"; exits 1 on any FAIL.
"""
import argparse, base64, datetime, json, os, re, secrets, shutil, signal, subprocess, sys, tempfile, threading, time, traceback, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import idv_e2e as E  # noqa: E402
from idv_e2e import AdminAPI, admin_token, check, fill_capture, note, page_state, sid_of, skip, start_serve, stop_serve, wait_for  # noqa: E402
import idv_passport  # noqa: E402
import idv_liveness_frames  # noqa: E402
import ida_rules  # noqa: E402
from idv_authenticator import Phone, enrol_phone_as_first_admin, handoff_of  # noqa: E402
from flow_builder import STEPUP_PATH, FlowBuilder, FlowRun, HookSender, content_digest  # noqa: E402
from authenticator_signin import element_png  # noqa: E402
from oidc_stepup import RelyingParty, ResourceServer  # noqa: E402  (the authlib RP of the OIDC step-up suite)

import requests  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

FACES = idv_passport.FIXTURE_FACES
# The synthetic passport's person (idv_passport.make_passport's defaults).
DOC_GIVEN, DOC_FAMILY, DOC_BIRTH, DOC_BIRTH_MRZ = "ANNA MARIA", "ERIKSSON", "1974-08-12", "740812"
EXPECTED = {"given_name": "Anna Maria", "family_name": "Eriksson", "birthdate": DOC_BIRTH}
WRONG = {"given_name": "Bob", "family_name": "Smith"}
# idv_e2e.py's policy, with driving_permit beside passport (so a connector's narrowing to it is a narrowing).
POLICY = {"document_types": ["driving_permit", "passport"], "countries": ["UTO"], "require_chip": True, "require_face_match": True,
          "require_liveness": False, "weakest_name_match": "fuzzy", "review_reasons": [], "face_match_threshold": 0.6, "retention_days": 30}
EVENTS = ["idv.decided", "idv.session_started", "stepup.decided"]
PHONE_USER = "operator@example.com"  # the first administrator, who enrols the phone (setup_phone)
# The inbound hooks' user: a second person with her own phone (setup_hook_phone), since the step-up cases fill the first
# administrator's push window (5 pushes in 15 minutes).
HOOK_USER, HOOK_GIVEN, HOOK_FAMILY = "hooks-user@example.com", "Grace", "Hopper"
HOOK_BINDING = "Descope: risky sign-in"
# The face re-match's user: a third person with her own phone (the first administrator's push window is full after the
# step-up cases), verified through the connector with user_identifier = her email (setup in run_face).
FACE_USER, FACE_GIVEN, FACE_FAMILY = "face-user@example.com", "Rosalind", "Franklin"
LIVEID = "urn:sigil:acr:liveid"
CIBA_GRANT = "urn:openid:params:grant-type:ciba"
VERIFICATION_CLAIM = "urn:sigil:claims:verification_process"  # the IDV session whose portrait matched (ID and access token)
PUSH_SPACING = 32  # seconds between two sign-in (OIDC, CIBA) pushes to one user (Sigil: 30; connector step-ups skip the gap)
LIFETIME_ENV = "SIGIL_INSECURE_IDV_SESSION_LIFETIME_SECONDS"  # the servers' test-only knob (interop/idv_authenticator.py uses it too)
DELIVERY = 30  # seconds a webhook may take (SIGIL_WEBHOOK_POLL_SECONDS=1, first attempt)
STEPUP_LIFETIME = 45  # seconds a step-up's push may be answered (SIGIL_INSECURE_AUTHENTICATOR_LIFETIME_SECONDS)
KEY_SHAPE = re.compile(rb"sck_[A-Za-z0-9_-]{16,}")
WHSEC_SHAPE = re.compile(rb"whsec_[A-Za-z0-9+/=]{8,}")


def is_problem(r, doc, status):
    return r.status_code == status and r.headers.get("Content-Type", "").startswith("application/problem+json") and isinstance(doc, dict)


def fields(doc):
    errs = doc.get("errors") if isinstance(doc, dict) else None
    return {e.get("field") for e in errs if isinstance(e, dict)} if isinstance(errs, list) else set()


def short(r):
    return f"HTTP {r.status_code} {r.headers.get('Content-Type', '')}: {r.text[:400]}"


def link_secret(url):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url or "").query)
    return (q.get("k") or [None])[0]


class Suite:
    def __init__(self, args):
        self.args = args
        self.binary = os.path.abspath(args.sigil)
        self.cli_binary = os.path.abspath(args.authenticator)
        self.engine = os.path.abspath(args.engine) if args.engine else None
        self.work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="sigil-connectors-")
        os.makedirs(self.work, exist_ok=True)
        self.run_dir = tempfile.mkdtemp(prefix="run-", dir=self.work)
        self.artifacts = os.path.abspath(args.artifacts) if args.artifacts else self.run_dir
        os.makedirs(self.artifacts, exist_ok=True)
        self.pids = os.path.join(self.work, "pids") if args.work else None
        self.drivers, self.logs, self.procs, self.data_dirs = [], [], [], []
        self.keys, self.webhook_secrets, self.link_secrets = [], [], []
        self.hook_secrets = []  # the inbound hook sources' signing secrets (shown once by the admin API)
        self.doc_numbers = []
        self.fb = None
        self.fb_lines = []  # the flow builder's log lines not printed yet (list.append is atomic)
        self.n = 0

    def drain(self):
        """Prints the flow builder's log lines so far (what it did, which webhooks it verified; never a secret)."""
        while self.fb_lines:
            print("  " + self.fb_lines.pop(0), flush=True)

    # --- bookkeeping ---

    def track(self, pid):
        if self.pids and pid:
            with open(self.pids, "a") as f:
                f.write(f"{pid}\n")

    def browser(self):
        d = E.browser()
        self.drivers.append(d)
        try:
            self.track(d.service.process.pid)
        except AttributeError:
            pass
        return d

    def quit(self, d):
        try:
            d.quit()
        except WebDriverException:
            pass
        if d in self.drivers:
            self.drivers.remove(d)

    def shot(self, d, name):
        try:
            d.save_screenshot(os.path.join(self.artifacts, name + ".png"))
        except WebDriverException:
            pass

    def new_dir(self, label):
        self.n += 1
        d = os.path.join(self.run_dir, f"{self.n:02d}-{label}")
        os.makedirs(d, exist_ok=True)
        return d

    def face(self, name):
        return os.path.join(FACES, name)

    def remember(self, run):
        """The link secrets of a started run, for the log scan."""
        for k in ("session_url", "handoff_url"):
            s = link_secret((run.started or {}).get(k))
            if s and s not in self.link_secrets:
                self.link_secrets.append(s)

    # --- set-up ---

    def make_passports(self):
        pki = idv_passport.make_pki(os.path.join(self.run_dir, "pki"))
        portrait = open(self.face("obama__a.jpg"), "rb").read()
        self.passport = idv_passport.make_passport(os.path.join(self.run_dir, "passport"), pki, portrait)
        self.doc_numbers.append(self.passport["document_number"])
        self.pki = pki
        self.selfie = self.face("obama__b.jpg")

    def start(self):
        self.port = E.free_port()
        self.base = f"http://localhost:{self.port}"
        env = {"SIGIL_WEBHOOK_POLL_SECONDS": "1", "SIGIL_INSECURE_AUTHENTICATOR_LIFETIME_SECONDS": str(STEPUP_LIFETIME)}
        if self.idv_ok:
            env["SIGIL_IDV_ENGINE"] = self.engine
        self.proc, self.data, out, err = start_serve(self.binary, self.run_dir, self.port, env)
        self.data_dirs.append(self.data)
        self.track(self.proc.pid)
        self.procs.append(self.proc)
        self.logs += [out, err]
        self.err = err
        self.admin = AdminAPI(self.base, admin_token(self.binary, self.data))
        if self.idv_ok:
            r, _ = self.admin.call("PUT", "/idv/policy", POLICY)
            r2, got = self.admin.call("GET", "/idv/policy")
            check("admin API: the IDV policy (passport and driving_permit, chip, face match, require_liveness false) PUT and read back",
                  r.status_code == 200 and isinstance(got, dict) and all(got.get(k) == v for k, v in POLICY.items()), f"{r.status_code} {r.text[:200]} / {r2.text[:300]}")
            note("liveness is waived by the tenant policy as in interop/idv_e2e.py, except where a connector asks for it (liveness_mode active)")
            r, got = self.admin.call("POST", "/idv/cscas", {"pem": open(self.pki["csca"][0]).read()})
            check("admin API: the synthetic brainpoolP256r1 CSCA imported", r.status_code == 201 and (got or {}).get("imported") == 1, short(r))

        # The flow builder's lines come from its server threads: kept here, printed by this thread (drain), so they
        # never split a PASS/FAIL line.
        self.fb = FlowBuilder(self.base, log=self.fb_lines.append).start()
        note(f"sigil on {self.base}, the flow builder (Descope) on {self.fb.origin}")
        r, doc = self.admin.call("POST", "/webhooks", {"url": self.fb.webhook_url, "event_types": EVENTS, "description": "flow builder"})
        secret = (doc or {}).get("secret")
        if isinstance(secret, str):
            self.webhook_secrets.append(secret)
            self.fb.set_webhook_secrets([secret])
        if not check(f"admin API: a webhook endpoint for the flow builder ({self.fb.webhook_url}) subscribed to {EVENTS} -> 201 with its whsec_ secret",
                     r.status_code == 201 and isinstance(secret, str) and secret.startswith("whsec_")
                     and sorted(((doc or {}).get("endpoint") or {}).get("event_types") or []) == EVENTS, short(r)):
            raise RuntimeError("no webhook endpoint")

    # --- keys ---

    def issue_key(self, name, scopes, origins):
        r, doc = self.admin.call("POST", "/connector-keys", {"name": name, "scopes": scopes, "redirect_origins": origins})
        key = (doc or {}).get("key")
        if isinstance(key, str):
            self.keys.append(key)
        return r, doc, key

    def run_keys(self):
        r, doc, key = self.issue_key("descope", ["idv:write", "idv:read"], [self.fb.origin])
        ck = (doc or {}).get("connector_key") or {}
        if not check("keys: POST /connector-keys {descope, idv:write idv:read, the flow builder's origin} -> 201 with an sck_ key",
                     r.status_code == 201 and isinstance(key, str) and key.startswith("sck_") and len(key) >= 40, short(r)):
            raise RuntimeError("no connector key")
        self.key_id = ck.get("id")
        check("keys: ... the answer describes it: id, prefix = the key's first 10 characters, the scopes, the origin, created_at",
              bool(self.key_id) and ck.get("prefix") == key[:10] and sorted(ck.get("scopes") or []) == ["idv:read", "idv:write"]
              and ck.get("redirect_origins") == [self.fb.origin] and bool(ck.get("created_at")), json.dumps(ck)[:400])
        self.fb.key = key
        r, doc = self.admin.call("GET", "/connector-keys")
        items = (doc or {}).get("items") or []
        mine = [k for k in items if k.get("id") == self.key_id]
        check("keys: GET /connector-keys lists it (prefix, scopes, origins) and never the key",
              r.status_code == 200 and len(mine) == 1 and mine[0].get("prefix") == key[:10] and key not in r.text
              and key[10:] not in r.text and not any("key" in k for k in items), short(r))
        r, doc, ro = self.issue_key("descope read-only", ["idv:read"], [self.fb.origin])
        self.read_key = ro
        check("keys: a second key with idv:read only -> 201", r.status_code == 201 and isinstance(ro, str) and ro.startswith("sck_"), short(r))
        r, doc, _ = self.issue_key("bad origin", ["idv:write"], ["http://flows.example.com"])
        check("keys: a redirect origin on http to a non-loopback host -> 422 naming redirect_origins[0]",
              is_problem(r, doc, 422) and "redirect_origins[0]" in fields(doc), short(r))
        r, doc, dup = self.issue_key("descope", ["idv:write"], [self.fb.origin])
        check("keys: a second live key named descope -> refused (names are unique among live keys)", 400 <= r.status_code < 500 and not dup, short(r))
        r = E.requests.get(self.base + "/api/v1/connectors/openapi.json", timeout=10)
        doc = E.jbody(r) or {}
        check("the connector OpenAPI document is served at /api/v1/connectors/openapi.json (both operations)",
              r.status_code == 200 and {"/api/v1/connectors/idv/sessions", "/api/v1/connectors/idv/sessions/{session_id}"} <= set(doc.get("paths") or {}),
              short(r))

    def run_refusals(self):
        fb = self.fb
        body = {"user_identifier": "refusal-user", "redirect_url": fb.resume_url("refusal")}
        path = "/api/v1/connectors/idv/sessions"
        for label, key in (("no Authorization", False), ("an unknown sck_ key", "sck_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")),
                           ("a bearer that is not an sck_ key", "not-a-connector-key")):
            r, doc = fb.call("POST", path, body, key=key)
            check(f"refusal: start with {label} -> 401 problem+json", is_problem(r, doc, 401) and doc.get("status") == 401, short(r))
        r, doc = fb.call("GET", path + "/idv_00000000000000000000000000", key=False)
        check("refusal: the result call without a key -> 401 problem+json", is_problem(r, doc, 401), short(r))
        r, doc = fb.call("POST", path, body, key=self.read_key)
        check("refusal: the idv:read-only key starting a session -> 403 problem+json", is_problem(r, doc, 403) and doc.get("status") == 403, short(r))
        r1, _, revoked = self.issue_key("to revoke", ["idv:write", "idv:read"], [fb.origin])
        rid = ((E.jbody(r1) or {}).get("connector_key") or {}).get("id")
        r2, _ = self.admin.call("DELETE", f"/connector-keys/{rid}")
        r, doc = fb.call("POST", path, body, key=revoked)
        check("refusal: a revoked key (DELETE /connector-keys/{id} -> 204) -> 401 problem+json", r2.status_code == 204 and is_problem(r, doc, 401),
              f"revoke {r2.status_code}; {short(r)}")

        other_port = E.free_port()
        for label, url in (("another host", "https://evil.example.com/resume"),
                           ("another port on 127.0.0.1", f"http://127.0.0.1:{other_port}/resume"),
                           ("localhost instead of 127.0.0.1", f"http://localhost:{fb.port}/resume"),
                           ("https instead of http", f"https://127.0.0.1:{fb.port}/resume")):
            r, doc = fb.call("POST", path, {**body, "redirect_url": url})
            check(f"refusal: redirect_url on {label} ({url}) -> 422 problem+json naming redirect_url", is_problem(r, doc, 422) and "redirect_url" in fields(doc),
                  short(r))
        for label, extra, field in (("liveness_mode off", {"liveness_mode": "off"}, "liveness_mode"),
                                    ("document_types []", {"document_types": []}, "document_types"),
                                    ("document_types [visa]", {"document_types": ["visa"]}, "document_types"),
                                    ("expected.birthdate 10/12/1815", {"expected": {"birthdate": "10/12/1815"}}, "expected.birthdate")):
            r, doc = fb.call("POST", path, {**body, **extra})
            check(f"refusal: {label} -> 422 problem+json naming {field}", is_problem(r, doc, 422) and field in fields(doc), short(r))
        for label, ik in (("256 characters", "k" * 256), ("a space", "flow run 1")):
            r, doc = fb.call("POST", path, body, headers={"Idempotency-Key": ik})
            check(f"refusal: an Idempotency-Key with {label} -> 422 problem+json", is_problem(r, doc, 422), short(r))
        r, doc = fb.result("idv_" + "0" * 26)
        check("refusal: the result of an unknown session -> 404 problem+json", is_problem(r, doc, 404), short(r))
        self.run_tenants()
        r, s = self.admin.call("POST", "/idv/sessions", {"expected": {"given_name": "Anna"}})
        if (s or {}).get("session_url"):
            self.link_secrets += [x for x in (link_secret(s.get("session_url")), link_secret(s.get("handoff_url"))) if x]
        r2, doc = fb.result((s or {}).get("id", "idv_x"))
        check("refusal: the result of a session started through the admin API (not a connector's) -> 404", r.status_code == 201 and is_problem(r2, doc, 404),
              f"admin {r.status_code}; {short(r2)}")

    def run_tenants(self):
        """Another tenant (a path tenant, /t/acme): its key is not this tenant's, and this tenant's is not its."""
        fb = self.fb
        r = subprocess.run([self.binary, "tenant", "create", "acme", "--host", "acme.localtest", "--data-dir", self.data], capture_output=True, text=True,
                             timeout=60)
        if not check("tenants: sigil tenant create acme", r.returncode == 0, r.stderr[-300:]):
            return
        acme_admin = AdminAPI(self.base + "/t/acme", self.acme_token())
        r, doc = acme_admin.call("POST", "/connector-keys", {"name": "descope", "scopes": ["idv:write", "idv:read"], "redirect_origins": [fb.origin]})
        acme_key = (doc or {}).get("key")
        if isinstance(acme_key, str):
            self.keys.append(acme_key)
        if not check("tenants: acme's admin API issues acme's own key (POST /t/acme/api/admin/v1/connector-keys -> 201; the name descope is free there)",
                     r.status_code == 201 and isinstance(acme_key, str), short(r)):
            return
        acme = FlowBuilder(self.base + "/t/acme", acme_key)
        body = {"user_identifier": "acme-user", "redirect_url": fb.resume_url("acme")}
        r, doc = acme.call("POST", "/api/v1/connectors/idv/sessions", body)
        acme_sid = (doc or {}).get("session_id")
        for k in ("session_url", "handoff_url"):
            if link_secret((doc or {}).get(k)):
                self.link_secrets.append(link_secret(doc[k]))
        check("tenants: acme's key starts a session on acme's path (/t/acme/api/v1/connectors/idv/sessions) -> 201",
              r.status_code == 201 and bool(acme_sid), short(r))
        r, doc = fb.call("POST", "/api/v1/connectors/idv/sessions", body, key=acme_key)
        check("tenants: acme's key on the default tenant's connector API -> 401 problem+json (another tenant's key)", is_problem(r, doc, 401), short(r))
        r, doc = acme.call("POST", "/api/v1/connectors/idv/sessions", body, key=fb.key)
        check("tenants: the default tenant's key on acme's connector API -> 401 problem+json", is_problem(r, doc, 401), short(r))
        if acme_sid:
            r, doc = fb.result(acme_sid)
            check("tenants: the default tenant's key reading acme's session id on its own path -> 404", is_problem(r, doc, 404), short(r))

    def acme_token(self):
        r = subprocess.run([self.binary, "admin", "token", "create", "--tenant", "acme", "--data-dir", self.data], capture_output=True, text=True, timeout=60)
        return r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else "none"

    # --- a run in Chromium ---

    def browse_to_capture(self, d, run, label):
        """The flow builder's redirect step in the browser: /flow/<run>/go -> 302 session_url -> /idv/{sid}."""
        sid = run.session_id
        d.get(self.fb.go_url(run.run_id))
        on = wait_for(lambda: sid_of(d.current_url) == sid and d.current_url.split("?")[0].rstrip("/").endswith(sid) and
                      d.find_elements(By.ID, "status"), 20)
        ok = check(f"{label}: Chromium follows the flow builder's 302 to session_url and lands on the capture page /idv/{{session_id}}, the k= secret "
                   "out of the address bar", bool(on) and "k=" not in d.current_url and d.current_url.startswith(self.base), d.current_url)
        if not ok:
            self.shot(d, f"{label.split()[0]}-not-on-capture")
        return ok

    def options(self, d):
        sel = d.find_elements(By.ID, "document-type")
        return [o.get_attribute("value") for o in Select(sel[0]).options] if sel else None

    def wait_resume(self, d, run, timeout=90):
        prefix = self.fb.origin + "/resume"
        url = wait_for(lambda: d.current_url if d.current_url.startswith(prefix) and d.find_elements(By.ID, "flow-result") else None, timeout, 0.3)
        return url

    def check_resume(self, d, run, label):
        url = self.wait_resume(d, run)
        self.drain()
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url or "").query)
        ok = check(f"{label}: the browser lands back on the flow builder's /resume?exec={run.run_id}&session_id={{id}} (redirect_url kept its query, "
                   "session_id added)", bool(url) and q.get("exec") == [run.run_id] and q.get("session_id") == [run.session_id],
                   f"{url or d.current_url} {page_state(d)}")
        if not ok:
            self.shot(d, f"{label.split()[0]}-not-resumed")
            return None
        hit = run.resumes[-1] if run.resumes else {}
        check(f"{label}: ... the flow builder recorded the person coming back from Chromium (HeadlessChrome), cross-site (Sigil on localhost, "
              "the flow builder on 127.0.0.1), with no Referer carrying a secret",
              "HeadlessChrome" in hit.get("user_agent", "") and urllib.parse.urlsplit(self.base).hostname == "localhost"
              and "k=" not in (hit.get("referer") or ""), json.dumps(hit)[:300])
        note(f"{label}: Referer at /resume: {hit.get('referer')!r}")
        return url

    def run_capture(self, d, run, label, passport=None, selfie=None, pick_passport_anyway=False):
        """The capture exactly as idv_e2e.py does it: passport, the chip files, the selfie file, #submit."""
        if pick_passport_anyway:
            E.DOC_TYPE_REPORTED.append(True)  # the option is added by fill_capture without a check of its own
        ok, detail = fill_capture(d, passport or self.passport, selfie or self.selfie)
        if not check(f"{label}: the chip files (DG1, DG2, SOD) and the selfie go in through the capture page's file inputs", ok, detail):
            self.shot(d, f"{label.split()[0]}-upload")
            return False
        d.find_element(By.ID, "submit").click()
        return True

    def decided_event(self, sid, label, decision):
        ev = self.fb.wait_event("idv.decided", sid, DELIVERY)
        self.drain()
        if not check(f"{label}: the idv.decided webhook arrived at the flow builder, verified by the Standard Webhooks library, about this session",
                     ev is not None, self.fb.receiver.describe()):
            return None
        data = ev.data
        after = data.get("after") or {}
        check(f"{label}: ... type idv.decided, webhook-id = data.id, data.target {{type idv_session, id session_id}}, data.after.decision {decision}",
              ev.type == "idv.decided" and ev.msg_id == data.get("id") and (data.get("target") or {}) == {"type": "idv_session", "id": sid}
              and after.get("decision") == decision, ev.body[:600])
        return ev

    def no_personal_data(self, label, body, extra=()):
        needles = [DOC_GIVEN, "ANNA", "MARIA", DOC_FAMILY, DOC_BIRTH, DOC_BIRTH_MRZ, "1974", *self.doc_numbers, *extra]
        found = [n for n in needles if n.lower().encode() in body.lower()]
        check(f"{label}: ... the message carries no personal data (no name, birthdate or document number anywhere in the body)", not found,
              f"found {found} in {body[:600]!r}")

    def run_verified_browser(self):
        label = "VERIFIED (Chromium)"
        fb = self.fb
        run = fb.start_run(user_identifier="descope-U2abc", expected=EXPECTED)
        self.verified_run = run
        self.remember(run)
        st = run.started or {}
        sid = run.session_id or ""
        if not check(f"{label}: the connector step POST /api/v1/connectors/idv/sessions (Idempotency-Key, user_identifier, expected, redirect_url) -> 201 "
                     "{session_id, session_url, handoff_url, subject, status pending, expires_at}",
                     run.start_status == 201 and sid.startswith("idv_") and st.get("status") == "pending" and bool(st.get("subject"))
                     and bool(st.get("expires_at")) and st.get("session_url", "").startswith(f"{self.base}/idv/{sid}/open?k=")
                     and st.get("handoff_url", "").startswith(f"{self.base}/idv/{sid}/handoff?k="),
                     f"{run.start_status} {json.dumps(run.problem or {k: v for k, v in st.items() if k not in ('session_url', 'handoff_url')})[:400]}"):
            return
        check(f"{label}: ... no Idempotent-Replayed header on the first answer", "Idempotent-Replayed" not in run.start_headers, str(run.start_headers))
        r, doc = fb.result(sid)
        check(f"{label}: the result before the capture -> 200 status pending, no verified_claims, the same subject",
              r.status_code == 200 and (doc or {}).get("status") == "pending" and "verified_claims" not in (doc or {})
              and (doc or {}).get("subject") == st["subject"] and (doc or {}).get("session_id") == sid, short(r))
        ev = fb.wait_event("idv.session_started", sid, DELIVERY)
        self.drain()
        if check(f"{label}: the idv.session_started webhook arrived, verified by the library, target the session", ev is not None, fb.receiver.describe()):
            check(f"{label}: ... its actor is the connector key (client:connector:{self.key_id})", ev.data.get("actor") == f"client:connector:{self.key_id}",
                  ev.body[:400])
            self.no_personal_data(f"{label} session_started", ev.body)
        d = self.browser()
        try:
            if not self.browse_to_capture(d, run, label):
                return
            check(f"{label}: the capture page offers the tenant's document types (no narrowing asked)", sorted(self.options(d) or []) == POLICY["document_types"],
                  str(self.options(d)))
            if not self.run_capture(d, run, label):
                return
            if not self.check_resume(d, run, label):
                return
            flow_status = d.find_element(By.ID, "flow-result").get_attribute("data-status")
            self.shot(d, "verified-resume")
        finally:
            self.quit(d)
        code, res = run.results[-1] if run.results else (None, {})
        res = res or {}
        check(f"{label}: the flow builder's result call on /resume -> 200 status VERIFIED, state decided, no reasons, the subject; its page branches on it",
              code == 200 and res.get("status") == "VERIFIED" and res.get("state") == "decided" and res.get("reasons") == []
              and res.get("subject") == st["subject"] and res.get("session_id") == sid and flow_status == "VERIFIED",
              f"{code} {json.dumps(res)[:600]} page {flow_status}")
        check(f"{label}: ... ial_level present ({res.get('ial_level')})", isinstance(res.get("ial_level"), str) and bool(res.get("ial_level")), json.dumps(res)[:300])
        vc = res.get("verified_claims") or {}
        claims = vc.get("claims") or {}
        note(f"{label}: verified_claims.claims = {json.dumps(claims)}; verification = {json.dumps(vc.get('verification'))[:400]}")
        check(f"{label}: ... verified_claims.claims are the document's: given_name {DOC_GIVEN}, family_name {DOC_FAMILY}, birthdate {DOC_BIRTH}",
              str(claims.get("given_name", "")).upper() == DOC_GIVEN and str(claims.get("family_name", "")).upper() == DOC_FAMILY
              and claims.get("birthdate") == DOC_BIRTH, json.dumps(claims))
        errors = ida_rules.validate_verified_claims(vc) if vc else ["no verified_claims"]
        check(f"{label}: ... verified_claims valid under the OIDC4IDA rules (interop/ida_rules.py), with a trust_framework and evidence",
              not errors and bool((vc.get("verification") or {}).get("trust_framework")) and bool((vc.get("verification") or {}).get("evidence")),
              "; ".join(errors[:4]))
        ev = self.decided_event(sid, label, "VERIFIED")
        if ev:
            after = ev.data.get("after") or {}
            check(f"{label}: ... data.after.assurance_level = the result's ial_level ({res.get('ial_level')}), outcome success",
                  after.get("assurance_level") == res.get("ial_level") and ev.data.get("outcome") == "success", json.dumps(ev.data)[:500])
            self.no_personal_data(label, ev.body, extra=[])
            check(f"{label}: ... nor verified_claims", b"verified_claims" not in ev.body, ev.body[:300])
        r, doc = fb.result(sid, key=self.read_key)
        check(f"{label}: the idv:read-only key reads the same result (VERIFIED)", r.status_code == 200 and (doc or {}).get("status") == "VERIFIED", short(r))
        again = fb.start_run(user_identifier="descope-U2abc", expected=EXPECTED)
        other = fb.start_run(user_identifier="descope-someone-else", expected=EXPECTED)
        self.remember(again)
        self.remember(other)
        s1, s2, s3 = st.get("subject"), (again.started or {}).get("subject"), (other.started or {}).get("subject")
        check("subject: the same user_identifier in another session is the same subject; another user_identifier is another subject",
              bool(s1) and s1 == s2 and bool(s3) and s3 != s1 and again.session_id != run.session_id, f"{s1} {s2} {s3}")

    # --- LiveID step-up ---

    def stepup_event(self, cid, label, match):
        ev = self.fb.wait_event("stepup.decided", cid, DELIVERY)
        self.drain()
        if not check(f"{label}: the stepup.decided webhook arrived at the flow builder, verified by the Standard Webhooks library",
                     ev is not None, self.fb.receiver.describe()):
            return None
        after = ev.data.get("after") or {}
        check(f"{label}: ... data.target {{type step_up_challenge, id challenge_id}}, data.after.match_result {match}",
              ev.type == "stepup.decided" and (ev.data.get("target") or {}) == {"type": "step_up_challenge", "id": cid}
              and after.get("match_result") == match, ev.body[:600])
        return ev

    def stepup_started(self, run, label):
        st = run.started or {}
        ok = check(f"{label}: the step-up node's connector step -> 201 with challenge_id, challenge_url, number, match_result pending",
                   run.start_status == 201 and str(st.get("challenge_id", "")).startswith("stu_") and re.fullmatch(r"\d{2}", st.get("number", "") or "")
                   and st.get("match_result") == "pending", json.dumps(run.problem or st)[:400])
        s = link_secret(st.get("challenge_url"))
        if s and s not in self.link_secrets:
            self.link_secrets.append(s)
        return ok

    def phone_pending(self, label):
        r = self.phone.run("pending", "--wait", "15", "--json")
        return check(f"{label}: `sigil-authenticator pending` shows the push (the step-up's request, with the binding message)",
                     r.returncode == 0 and "push" in r.all, r.all[-300:])

    def run_stepup(self):
        if not self.setup_phone():
            return
        fb = self.fb
        r, doc, key = self.issue_key("descope-stepup", ["stepup:write", "stepup:read"], [fb.origin])
        if not check("step-up: a connector key with stepup:write and stepup:read -> 201", r.status_code == 201 and isinstance(key, str), short(r)):
            return
        _, _, idv_only = self.issue_key("descope-idv-only", ["idv:write", "idv:read"], [fb.origin])
        fb.key = key

        # 1. Chromium follows challenge_url, the phone approves with the number the page shows, after its face check.
        label = "step-up match (Chromium + sigil-authenticator, face)"
        run = fb.start_stepup(PHONE_USER, binding_message="Pay 40 EUR to Bob", reason="risk: new device")
        if not self.stepup_started(run, label):
            return
        cid, number = run.challenge_id, run.started["number"]
        d = self.browser()
        try:
            d.get(run.started["challenge_url"])
            shown = wait_for(lambda: d.find_elements(By.ID, "liveid-number") and d.find_element(By.ID, "liveid-number").text.strip(), 15)
            check(f"{label}: Chromium lands on Sigil's challenge page /stepup/{{id}} (the k= secret out of the address bar) showing the API's number",
                  shown == number and d.current_url.endswith(f"/stepup/{cid}") and "k=" not in d.current_url, f"{d.current_url} shown={shown!r}")
            self.phone_pending(label)
            a = self.phone.run("approve", "--number", number, "--simulate-user-verification", "face", "--json")
            check(f"{label}: `sigil-authenticator approve --number N --simulate-user-verification face` -> 0", a.returncode == 0, a.all[-300:])
            url = self.wait_resume(d, run, timeout=30)
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(url or "").query)
            check(f"{label}: the page went on by itself (meta refresh, no script) to the flow builder's /resume?exec=…&challenge_id=…, cross-site",
                  bool(url) and q.get("challenge_id") == [cid] and q.get("exec") == [run.run_id], url or d.current_url)
            hit = run.resumes[-1] if run.resumes else {}
            check(f"{label}: ... from HeadlessChrome, with no Referer carrying the link secret", "HeadlessChrome" in hit.get("user_agent", "")
                  and "k=" not in (hit.get("referer") or ""), json.dumps(hit)[:300])
        finally:
            self.quit(d)
        res = run.result or {}
        check(f"{label}: the result call on /resume -> match_result match, confidence high, amr with face and mfa, acr urn:sigil:acr:liveid, decided_at",
              res.get("match_result") == "match" and res.get("confidence") == "high" and "face" in (res.get("amr") or [])
              and "mfa" in (res.get("amr") or []) and res.get("acr") == "urn:sigil:acr:liveid" and bool(res.get("decided_at")), json.dumps(res)[:400])
        self.stepup_event(cid, label, "match")

        # 2. A wrong number: the phone is told, the flow reads no_match.
        label = "step-up wrong number"
        run = fb.start_stepup(PHONE_USER)
        if self.stepup_started(run, label):
            wrong = f"{(int(run.started['number']) + 1) % 100:02d}"
            self.phone_pending(label)
            a = self.phone.run("approve", "--number", wrong, "--simulate-user-verification", "face", "--json")
            check(f"{label}: the phone's approval with another number is refused (non-zero exit)", a.returncode != 0, a.all[-300:])
            r, res = fb.stepup_result(run.challenge_id)
            check(f"{label}: the result -> no_match, reason wrong_number, no acr", r.status_code == 200 and (res or {}).get("match_result") == "no_match"
                  and res.get("reason") == "wrong_number" and "acr" not in res, short(r))
            self.stepup_event(run.challenge_id, label, "no_match")

        # 3. Declined on the phone.
        label = "step-up declined"
        run = fb.start_stepup(PHONE_USER)
        if self.stepup_started(run, label):
            self.phone_pending(label)
            a = self.phone.run("deny", "--json")
            r, res = fb.stepup_result(run.challenge_id)
            check(f"{label}: `sigil-authenticator deny` -> 0; the result -> no_match, reason declined", a.returncode == 0 and r.status_code == 200
                  and (res or {}).get("match_result") == "no_match" and res.get("reason") == "declined", a.all[-200:] + " " + short(r))
            self.stepup_event(run.challenge_id, label, "no_match")

        # 4. A PIN where the node asked for a biometric check (user_verification any, where a PIN is a match, is in
        #    ConnectorStepUpTests: the user's push window holds 5 pushes in 15 minutes).
        label = "step-up PIN"
        run = fb.start_stepup(PHONE_USER)
        if self.stepup_started(run, label):
            self.phone_pending(label)
            self.phone.run("approve", "--number", run.started["number"], "--simulate-user-verification", "pin", "--json")
            r, res = fb.stepup_result(run.challenge_id)
            check(f"{label}: biometric asked, PIN given -> no_match, reason user_verification_too_weak, confidence medium",
                  (res or {}).get("match_result") == "no_match" and res.get("reason") == "user_verification_too_weak" and res.get("confidence") == "medium",
                  short(r))
        # 5. Nobody answers: expired by the server on its own, webhook included.
        label = "step-up unanswered"
        run = fb.start_stepup(PHONE_USER)
        if self.stepup_started(run, label):
            ev = self.stepup_event(run.challenge_id, label, "expired") if self._wait_expiry(run) else None
            r, res = fb.stepup_result(run.challenge_id)
            check(f"{label}: the result -> expired (nobody polled before the webhook)", (res or {}).get("match_result") == "expired", short(r))
            if ev is None:
                note(f"{label}: no webhook within the push lifetime + {DELIVERY}s")

        # 6. Refusals. That was the user's fifth push in 15 minutes: the flow is told at once.
        r, doc = fb.call("POST", "/api/v1/connectors/stepup/challenges", {"user_identifier": PHONE_USER})
        check("step-up refusals: a sixth step-up for the user within 15 minutes -> 429 push-rate-limited (sign-in push limits apply)",
              is_problem(r, doc, 429) and str((doc or {}).get("type", "")).endswith("push-rate-limited"), short(r))
        r, doc = fb.call("POST", "/api/v1/connectors/stepup/challenges", {"user_identifier": "nobody@example.com"})
        check("step-up refusals: an unknown user -> 422 naming user_identifier (the flow falls back)",
              is_problem(r, doc, 422) and "user_identifier" in fields(doc), short(r))
        r, doc = fb.call("POST", "/api/v1/connectors/stepup/challenges", {"user_identifier": PHONE_USER, "redirect_url": "https://evil.example/x",
                                                                           "binding_message": "x" * 41})
        check("step-up refusals: a redirect_url off the key's origins and a 41-character binding_message -> 422 naming both",
              is_problem(r, doc, 422) and {"redirect_url", "binding_message"} <= set(fields(doc)), short(r))
        if idv_only:
            r, doc = fb.call("POST", "/api/v1/connectors/stepup/challenges", {"user_identifier": PHONE_USER}, key=idv_only)
            check("step-up refusals: a key with only idv scopes -> 403", is_problem(r, doc, 403), short(r))

    # --- inbound hooks: Descope posts signed events, Sigil acts as the source's connector key ---

    def invite_phone(self, email, given, family, home, who, device_name, qr_name):
        """A user invited with `sigil user invite` enrols her own sigil-authenticator home from the invitation page's
        QR code. Returns (Phone, ok, detail)."""
        inv = subprocess.run([self.binary, "user", "invite", "--tenant", "default", "--email", email, "--given-name", given,
                              "--family-name", family, "--data-dir", self.data, "--public-url", self.base], capture_output=True, text=True,
                             timeout=60)
        phone = Phone(self.cli_binary, os.path.join(self.run_dir, home), who)
        ok, r = False, None
        if inv.returncode == 0 and "/enroll/" in inv.stdout:
            d = self.browser()
            try:
                d.get(inv.stdout.strip().splitlines()[-1])
                d.find_element(By.ID, "enroll-device").click()
                png = element_png(d, "enroll-device-qr", os.path.join(self.artifacts, qr_name))
                r = phone.run("enroll", png, "--name", device_name, "--yes")
                ok = r.returncode == 0
            finally:
                self.quit(d)
        return phone, ok, f"invite {inv.returncode} {inv.stderr[-200:]} {(r.all[-200:] if r else '')}"

    def setup_hook_phone(self):
        """A second user (`sigil user invite`) enrols her own sigil-authenticator home from the invitation page's QR code."""
        self.hook_phone, ok, detail = self.invite_phone(HOOK_USER, HOOK_GIVEN, HOOK_FAMILY, "phone-hooks", "hooks phone", "Grace's CLI",
                                                        "hooks-invite-device-qr.png")
        return check(f"hooks: a second user ({HOOK_USER}, `sigil user invite`) enrols her own sigil-authenticator from the invitation page",
                     ok, detail)

    def hook_source(self, body):
        r, doc = self.admin.call("POST", "/hook-sources", body)
        secret = (doc or {}).get("secret")
        if isinstance(secret, str):
            self.hook_secrets.append(secret)
        return r, doc, secret

    def hook_answer(self, label, r, doc, action, ev):
        ok = check(f"{label} -> 200 {{event_id, action {action}}}", r.status_code == 200 and isinstance(doc, dict) and doc.get("action") == action
                   and doc.get("event_id") == ev["id"], short(r))
        for k in ("challenge_url", "session_url"):
            s = link_secret((doc or {}).get(k))
            if s and s not in self.link_secrets:
                self.link_secrets.append(s)
        return ok

    def run_hooks(self):
        fb = self.fb
        if not self.setup_hook_phone():
            return
        r, doc, key_all = self.issue_key("descope-hooks", ["stepup:write", "stepup:read", "idv:write", "idv:read"], [fb.origin])
        kid_all = ((doc or {}).get("connector_key") or {}).get("id")
        r2, doc2, key_idv = self.issue_key("descope-hooks-idv", ["idv:write", "idv:read"], [fb.origin])
        kid_idv = ((doc2 or {}).get("connector_key") or {}).get("id")
        if not check("hooks: connector keys for the hook sources (stepup and idv scopes; idv scopes only) -> 201", bool(kid_all and kid_idv), f"{short(r)} {short(r2)}"):
            return
        stepup_run = fb.hook_run(key=key_all)  # where a hook-started step-up's person comes back (the source's redirect_url)
        idv_run = fb.hook_run(key=key_idv)

        # --- the sources (admin API) ---
        r, doc, bad = self.hook_source({"name": "descope-noscope", "connector_key_id": kid_idv, "signature": "rfc9421"})
        check("hooks: a source whose key lacks stepup:write with login.risk -> require_stepup (the default) -> 422 naming connector_key_id, no secret",
              is_problem(r, doc, 422) and "connector_key_id" in fields(doc) and not bad, short(r))
        src = {"name": "descope", "connector_key_id": kid_all, "signature": "rfc9421", "minimum_risk_score": 50,
               "stepup": {"binding_message": HOOK_BINDING, "redirect_url": fb.resume_url(stepup_run.run_id), "user_verification": "biometric"}}
        r, doc, secret = self.hook_source(src)
        hs = (doc or {}).get("hook_source") or {}
        if not check("hooks: POST /hook-sources {descope, rfc9421, stepup options, minimum_risk_score 50} -> 201 {hook_source, secret}: url "
                     "<issuer>/api/v1/hooks/descope, the default actions, the secret base64url of 32 bytes",
                     r.status_code == 201 and isinstance(secret, str) and re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
                     and hs.get("url") == f"{self.base}/api/v1/hooks/descope" and hs.get("connector_key_id") == kid_all and hs.get("signature") == "rfc9421"
                     and hs.get("actions") == {"user.registered": "start_idv", "login.risk": "require_stepup"} and hs.get("minimum_risk_score") == 50
                     and bool(hs.get("created_at")), short(r)):
            return
        src2 = {"name": "descope-hmac", "connector_key_id": kid_idv, "signature": "descope_hmac", "actions": {"login.risk": "ignore"},
                "idv": {"document_types": ["passport"], "liveness_mode": "policy", "redirect_url": fb.resume_url(idv_run.run_id)}}
        r, doc, secret2 = self.hook_source(src2)
        hs2 = (doc or {}).get("hook_source") or {}
        check("hooks: POST /hook-sources {descope-hmac, descope_hmac, the idv-only key, actions login.risk ignore, idv options} -> 201 (the override "
              "makes the key's scopes enough)", r.status_code == 201 and isinstance(secret2, str)
              and hs2.get("actions") == {"user.registered": "start_idv", "login.risk": "ignore"} and hs2.get("signature") == "descope_hmac", short(r))
        r, doc = self.admin.call("GET", "/hook-sources")
        names = sorted(x.get("name") for x in (doc or {}).get("items") or [])
        r3, doc3 = self.admin.call("GET", "/hook-sources/descope")
        check("hooks: GET /hook-sources lists both (never a secret); GET /hook-sources/descope reads it", r.status_code == 200
              and names == ["descope", "descope-hmac"] and secret not in r.text and str(secret2) not in r.text and "secret" not in r.text
              and r3.status_code == 200 and (doc3 or {}).get("id") == hs.get("id") and secret not in r3.text, f"{short(r)} {short(r3)}")

        # --- rfc9421: login.risk -> a LiveID step-up, signed by http-message-signatures ---
        label = "hooks rfc9421 login.risk"
        sender = fb.hook_sender("descope", secret)
        ev = HookSender.event("login.risk", user={"email": HOOK_USER, "login_id": "descope-U-hooks"}, risk={"score": 80, "reasons": ["new_device"]})
        r, out, prepared = sender.post(ev)
        note(f"{label}: Signature-Input {prepared.headers.get('Signature-Input')}")
        if not self.hook_answer(f"{label} for the enrolled user, risk 80 (signed with pyauth's http-message-signatures: @method @target-uri "
                                "content-digest, created, nonce, keyid, alg hmac-sha256)", r, out, "require_stepup", ev):
            return
        cid, number, curl = out.get("challenge_id", ""), out.get("number", ""), out.get("challenge_url", "")
        check(f"{label}: ... challenge_id stu_…, challenge_url <issuer>/stepup/{{id}}/open?k=…, a 2-digit number, expires_at, not replayed",
              cid.startswith("stu_") and curl.startswith(f"{self.base}/stepup/{cid}/open?k=") and re.fullmatch(r"\d{2}", number or "")
              and bool(out.get("expires_at")) and "replayed" not in out, json.dumps({k: v for k, v in out.items() if k != "challenge_url"}))
        r, doc = sender.send(prepared)
        check(f"{label}: the very same signed request again (same nonce) -> 409 problem+json", is_problem(r, doc, 409), short(r))
        r, again, _ = sender.post(ev)
        check(f"{label}: the same event resent with a fresh signature (new created and nonce) -> 200 replayed true, the same challenge and number",
              r.status_code == 200 and (again or {}).get("replayed") is True and again.get("challenge_id") == cid and again.get("number") == number
              and again.get("challenge_url") == curl and again.get("action") == "require_stepup", short(r))
        d = self.browser()
        try:
            d.get(curl)
            shown = wait_for(lambda: d.find_elements(By.ID, "liveid-number") and d.find_element(By.ID, "liveid-number").text.strip(), 15)
            check(f"{label}: Chromium follows challenge_url to Sigil's challenge page /stepup/{{id}} (k= out of the address bar), the number shown",
                  shown == number and d.current_url.endswith(f"/stepup/{cid}") and "k=" not in d.current_url, f"{d.current_url} shown={shown!r}")
            p = self.hook_phone.run("pending", "--wait", "15", "--json")
            check(f"{label}: `sigil-authenticator pending` on the user's phone shows the push", p.returncode == 0 and "push" in p.all, p.all[-300:])
            note(f"{label}: the binding message {HOOK_BINDING!r} {'is' if HOOK_BINDING in p.all else 'is not'} in the pending push's output")
            a = self.hook_phone.run("approve", "--number", number, "--simulate-user-verification", "face", "--json")
            check(f"{label}: `sigil-authenticator approve --number N --simulate-user-verification face` -> 0", a.returncode == 0, a.all[-300:])
            url = self.wait_resume(d, stepup_run, timeout=30)
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(url or "").query)
            check(f"{label}: the page goes on to the source's stepup.redirect_url, the flow builder's /resume?exec=…&challenge_id=…",
                  bool(url) and q.get("challenge_id") == [cid] and q.get("exec") == [stepup_run.run_id], url or d.current_url)
        finally:
            self.quit(d)
        self.drain()
        res = stepup_run.result or {}
        check(f"{label}: the result read on /resume with the source's key -> match_result match, acr urn:sigil:acr:liveid, face and mfa in amr",
              res.get("match_result") == "match" and res.get("acr") == "urn:sigil:acr:liveid" and "face" in (res.get("amr") or [])
              and "mfa" in (res.get("amr") or []), json.dumps(res)[:400])
        r, res2 = fb.stepup_result(cid, key=key_all)
        check(f"{label}: GET /api/v1/connectors/stepup/challenges/{{id}} with the source's key -> 200 match", r.status_code == 200
              and (res2 or {}).get("match_result") == "match", short(r))
        r, res3 = fb.stepup_result(cid, key=key_idv)
        check(f"{label}: ... another key of the tenant without stepup:read cannot read it (403 or 404)", r.status_code in (403, 404), short(r))
        ev_d = self.stepup_event(cid, label, "match")
        if ev_d:
            note(f"{label}: stepup.decided actor {ev_d.data.get('actor')} (the person who decided, as for a connector's own step-up)")
        r, late, _ = sender.post(ev)
        check(f"{label}: the event resent once more after the decision -> 200 replayed true, the same challenge (no new push)",
              r.status_code == 200 and (late or {}).get("replayed") is True and late.get("challenge_id") == cid, short(r))

        # refusals (each a 401 problem+json, nothing acted on)
        tampered = sender.prepare(ev)
        body = tampered.body.replace(HOOK_USER.encode(), PHONE_USER.encode())
        tampered.body = body
        tampered.headers["Content-Length"] = str(len(body))
        r, doc = sender.send(tampered)
        check(f"{label}: a tampered body (another user's email) with the original signature and Content-Digest -> 401 problem+json",
              is_problem(r, doc, 401), short(r))
        tampered = sender.prepare(ev)
        tampered.body = body
        tampered.headers["Content-Length"] = str(len(body))
        tampered.headers["Content-Digest"] = content_digest(body)
        r, doc = sender.send(tampered)
        check(f"{label}: the same tampering with a recomputed Content-Digest (the signature no longer covers it) -> 401 problem+json",
              is_problem(r, doc, 401), short(r))
        stale = HookSender.event("login.risk", user={"email": HOOK_USER}, risk={"score": 90})
        r, doc, _ = sender.post(stale, created=datetime.datetime.now() - datetime.timedelta(seconds=400))
        check(f"{label}: created 400 s ago (the window is 300 s) -> 401 problem+json", is_problem(r, doc, 401), short(r))
        r, doc, _ = sender.post(stale, created=datetime.datetime.now() + datetime.timedelta(seconds=120))
        check(f"{label}: created 120 s in the future (30 s of skew allowed) -> 401 problem+json", is_problem(r, doc, 401), short(r))
        r, doc, _ = sender.post(stale, created=datetime.datetime.now() - datetime.timedelta(seconds=20),
                                expires=datetime.datetime.now() - datetime.timedelta(seconds=5))
        check(f"{label}: expires 5 s ago -> 401 problem+json", is_problem(r, doc, 401), short(r))
        r, doc, _ = sender.post(stale, secret=base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))
        check(f"{label}: signed with another secret -> 401 problem+json", is_problem(r, doc, 401), short(r))
        r, doc, _ = sender.post(stale, components=("@method", "@target-uri"))
        check(f"{label}: a signature that does not cover content-digest -> 401 problem+json", is_problem(r, doc, 401), short(r))
        r = fb.http.post(sender.url, data=json.dumps(stale).encode(), headers={"Content-Type": "application/json"}, timeout=30)
        check(f"{label}: no signature at all -> 401 problem+json", is_problem(r, E.jbody(r), 401), short(r))
        low = HookSender.event("login.risk", user={"email": HOOK_USER}, risk={"score": 20, "reasons": ["new_ip"]})
        r, doc, _ = sender.post(low)
        self.hook_answer(f"{label}: risk 20 below minimum_risk_score 50", r, doc, "none", low)
        check(f"{label}: ... no challenge", not any(k in (doc or {}) for k in ("challenge_id", "challenge_url", "number")), short(r))
        other = HookSender.event("user.updated", user={"email": HOOK_USER})
        r, doc, _ = sender.post(other)
        self.hook_answer(f"{label}: an event type with no action (user.updated)", r, doc, "none", other)
        big = HookSender.event("login.risk", user={"email": HOOK_USER}, risk={"score": 90}, extra={"padding": "x" * (70 * 1024)})
        try:
            r, doc, _ = sender.post(big)
            check(f"{label}: a signed body over 64 KiB -> 413", r.status_code == 413, short(r))
        except E.requests.RequestException as error:
            check(f"{label}: a signed body over 64 KiB -> 413", False, f"{type(error).__name__}: {error}")
        r, doc, _ = fb.hook_sender("nobody", secret).post(HookSender.event("login.risk", user={"email": HOOK_USER}, risk={"score": 90}))
        check("hooks: a source that does not exist (/api/v1/hooks/nobody, validly signed with another source's secret) -> 404 problem+json",
              is_problem(r, doc, 404), short(r))

        # --- descope_hmac: user.registered -> an identity verification ---
        label = "hooks descope_hmac user.registered"
        if not secret2:
            return
        hsender = fb.hook_sender("descope-hmac", secret2, signature="descope_hmac")
        ev = HookSender.event("user.registered", user={"email": "new-person@example.com", "login_id": "descope-U-new"}, time_=True)
        r, out, prepared = hsender.post(ev)
        if self.hook_answer(f"{label} with time (x-descope-webhook-s256 = base64 HMAC-SHA256 of the body)", r, out, "start_idv", ev):
            sid = out.get("session_id", "")
            check(f"{label}: ... session_id idv_…, session_url <issuer>/idv/{{id}}/open?k=…, expires_at",
                  sid.startswith("idv_") and str(out.get("session_url", "")).startswith(f"{self.base}/idv/{sid}/open?k=") and bool(out.get("expires_at")),
                  json.dumps({k: v for k, v in out.items() if k != "session_url"}))
            r, res = fb.result(sid, key=key_idv)
            check(f"{label}: the source's key reads the session (GET /api/v1/connectors/idv/sessions/{{id}}) -> 200 pending",
                  r.status_code == 200 and (res or {}).get("status") == "pending" and (res or {}).get("session_id") == sid, short(r))
            same = fb.start_run(user_identifier="descope-U-new", key=key_idv, redirect_url=fb.resume_url(idv_run.run_id))
            self.remember(same)
            check(f"{label}: ... its subject is the one a connector step for the same login_id gets (user_identifier = login_id)",
                  bool((res or {}).get("subject")) and (same.started or {}).get("subject") == res.get("subject"),
                  f"{(res or {}).get('subject')} {json.dumps(same.started or same.problem)[:200]}")
            started = fb.wait_event("idv.session_started", sid, DELIVERY)
            self.drain()
            check(f"{label}: the idv.session_started webhook arrives, its actor the source's key (client:connector:{kid_idv})",
                  started is not None and started.data.get("actor") == f"client:connector:{kid_idv}",
                  started.body[:300] if started else fb.receiver.describe())
        r, doc = hsender.send(prepared)
        check(f"{label}: the same event id again -> 409 problem+json", is_problem(r, doc, 409), short(r))
        notime = HookSender.event("user.registered", user={"login_id": "descope-U-notime"})
        r, doc, _ = hsender.post(notime)
        check(f"{label}: no time -> 422 problem+json naming time (docs/connectors.md)", is_problem(r, doc, 422) and "time" in fields(doc), short(r))
        old_time = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
        r, doc, _ = hsender.post(HookSender.event("user.registered", user={"login_id": "descope-U-old"}, time_=old_time))
        check(f"{label}: time 400 s ago -> 401 problem+json", is_problem(r, doc, 401), short(r))
        r, doc, _ = hsender.post(HookSender.event("user.registered", user={"login_id": "descope-U-wrong"}, time_=True), secret=secret)
        check(f"{label}: the MAC made with another secret (the rfc9421 source's) -> 401 problem+json", is_problem(r, doc, 401), short(r))
        r = fb.http.post(hsender.url, data=json.dumps(notime).encode(), headers={"Content-Type": "application/json"}, timeout=30)
        check(f"{label}: no x-descope-webhook-s256 -> 401 problem+json", is_problem(r, E.jbody(r), 401), short(r))
        compact = HookSender.event("user.registered", user={"login_id": "descope-U-compact"}, time_=int(time.time()))
        pretty = json.dumps(compact, indent=2).encode()
        r, doc, _ = hsender.post(pretty, mac_over=json.dumps(compact, separators=(",", ":")).encode())
        self.hook_answer(f"{label}: the body sent indented, the MAC over its compact JSON, time in epoch seconds", r, doc, "start_idv", compact)
        risk = HookSender.event("login.risk", user={"email": HOOK_USER}, risk={"score": 99}, time_=True)
        r, doc, _ = hsender.post(risk)
        self.hook_answer(f"{label}: login.risk on this source (actions login.risk ignore)", r, doc, "none", risk)
        r, _ = self.admin.call("DELETE", "/hook-sources/descope-hmac")
        r2, doc2, _ = hsender.post(HookSender.event("user.registered", user={"login_id": "descope-U-gone"}, time_=True))
        r3, doc3 = self.admin.call("GET", "/hook-sources/descope-hmac")
        check("hooks: DELETE /hook-sources/descope-hmac -> 204; then its URL -> 404 and GET /hook-sources/descope-hmac -> 404",
              r.status_code == 204 and is_problem(r2, doc2, 404) and r3.status_code == 404, f"{r.status_code} {short(r2)} {r3.status_code}")

        # --- the audit trail ---
        r, doc = self.admin.call("GET", "/audit-events?limit=200")
        items = (doc or {}).get("items") or []
        acts = [x.get("action") for x in items]
        received = sorted({(x.get("after") or {}).get("action") for x in items if x.get("action") == "hook.received"} - {None})
        refused = [x.get("reason") or "" for x in items if x.get("action") == "hook.refused"]
        check("hooks: the audit trail holds hook_source.created (2), hook_source.deleted, hook.received (actions none, require_stepup, start_idv) "
              "and hook.refused with reasons", r.status_code == 200 and acts.count("hook_source.created") >= 2 and "hook_source.deleted" in acts
              and received == ["none", "require_stepup", "start_idv"] and len(refused) >= 8 and all(refused),
              f"{r.status_code} created {acts.count('hook_source.created')} received {received} refused {refused[:12]}")
        note(f"hooks: hook.refused reasons: {refused[:14]}")
        check("hooks: ... no hook secret anywhere in the audit trail", not any(s in r.text for s in self.hook_secrets if s), "")

    def _wait_expiry(self, run):
        """Waits past the push's deadline (SIGIL_INSECURE_AUTHENTICATOR_LIFETIME_SECONDS) without answering."""
        deadline = time.time() + STEPUP_LIFETIME + 2
        while time.time() < deadline:
            time.sleep(1)
        return True

    # --- the authenticator ---

    def setup_phone(self):
        if hasattr(self, "phone_ok"):
            return self.phone_ok
        self.phone_ok = self._setup_phone()
        return self.phone_ok

    def _setup_phone(self):
        self.phone = Phone(self.cli_binary, os.path.join(self.run_dir, "phone"), "phone")
        r = enrol_phone_as_first_admin(self.err, self.phone, os.path.join(self.artifacts, "enroll-device-qr.png"), PHONE_USER, "Flow", "Operator",
                                       "Connector CLI")
        return check("authenticator: sigil-authenticator enrolled as the server's first administrator (the enrolment page's QR code)",
                     r.returncode == 0, r.all[-300:])

    def liveness_frames(self, photo="obama__a"):
        """DIR/<step>/NN-*.jpg synthesised from the fixture photo (once per run and photo), or None after a FAIL or
        SKIP line. obama__a's are also self.frames (the capture page's test camera)."""
        self.synthesised = getattr(self, "synthesised", {})
        if photo not in self.synthesised:
            self.synthesised[photo] = None
            names = [n for n in sorted(os.listdir(FACES)) if os.path.splitext(n)[0] == photo]
            if not names:
                skip(f"liveness frames from {photo}", f"no {photo}.* in {FACES}")
                return None
            engine = idv_liveness_frames.Engine(self.engine)
            out = os.path.join(self.run_dir, "liveness-live" if photo == "obama__a" else f"liveness-{photo}")
            try:
                rep = idv_liveness_frames.synthesise(self.face(names[0]), out, engine, "live")
                note(f"liveness frames (live, {photo}): " + idv_liveness_frames.summary(rep))
                self.synthesised[photo] = out
            except idv_liveness_frames.FrameError as error:
                check(f"liveness frames synthesised from {photo} measure as intended", False, str(error))
            finally:
                engine.close()
        if photo == "obama__a":
            self.frames = self.synthesised[photo]
        return self.synthesised[photo]

    # The capture page's own liveness run (#liveness-start) in Chromium, fed by a camera the test renders: the page's
    # getUserMedia is replaced (before #camera-start) by a canvas's captureStream, and the canvas shows the synthesised
    # frame of the step the page is asking for (read from #camera-instruction): the first frame of the step for the
    # first half of the step's slot, the second after (the blink: shut, then open again). The page itself fetches the
    # challenge, grabs its frames from the video every 250 ms and uploads them; the server measures them with the
    # engine. A rendered injection, like the CLI's frames: the protocol path in a real browser, not liveness strength.
    INJECT_CAMERA = """
        const [frames, slotSeconds, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
        const steps = {"Look straight at the camera": "neutral", "Turn your head to your left": "turn_left",
                       "Turn your head to your right": "turn_right", "Blink slowly": "blink"};
        const images = {};
        const load = (src) => new Promise((ok, bad) => { const i = new Image(); i.onload = () => ok(i); i.onerror = bad; i.src = src; });
        Promise.all(Object.entries(frames).map(async ([step, list]) => { images[step] = await Promise.all(list.map(load)); })).then(() => {
          const first = images.neutral[0];
          const canvas = document.createElement("canvas");
          canvas.width = first.naturalWidth; canvas.height = first.naturalHeight;
          const g = canvas.getContext("2d");
          let step = "neutral", since = performance.now(), text = null;
          window.__sigilTestCamera = [];
          const paint = () => {
            const now = (document.getElementById("camera-instruction") || {}).textContent || "";
            if (now !== text) { text = now; since = performance.now(); if (steps[now]) { step = steps[now]; window.__sigilTestCamera.push(step); } }
            const list = images[step];
            const k = performance.now() - since < slotSeconds * 500 ? 0 : list.length - 1;
            g.drawImage(list[k], 0, 0, canvas.width, canvas.height);
          };
          paint();
          setInterval(paint, 40);
          const stream = canvas.captureStream(25);
          navigator.mediaDevices.getUserMedia = async () => stream;
          done(true);
        }, (e) => done("could not load the frames: " + e));
    """

    def inject_camera(self, d, frames_dir):
        frames = {}
        for step in idv_liveness_frames.STEPS:
            names = sorted(os.listdir(os.path.join(frames_dir, step)))
            frames[step] = ["data:image/jpeg;base64," + base64.b64encode(open(os.path.join(frames_dir, step, n), "rb").read()).decode() for n in names]
        d.set_script_timeout(30)
        return d.execute_async_script(self.INJECT_CAMERA, frames, idv_liveness_frames.STEP_SECONDS)

    def page_liveness(self, d, run, label):
        """After the chip and the selfie are in: the injected camera, #camera-start, #liveness-start, the upload."""
        ok = self.inject_camera(d, self.frames)
        if not check(f"{label}: the test camera (a canvas stream showing the synthesised frames of the step asked for) replaces getUserMedia",
                     ok is True, str(ok)):
            return False
        d.find_element(By.ID, "camera-start").click()
        playing = wait_for(lambda: d.execute_script(
            "const v=document.getElementById('camera-video'); return v && v.readyState >= 2 && v.videoWidth > 0;"), 20)
        start = d.find_elements(By.ID, "liveness-start")
        if not check(f"{label}: #camera-start plays the camera in #camera-video and shows #liveness-start", bool(playing) and bool(start)
                     and start[0].is_displayed(), str(page_state(d))):
            return False
        _, before = page_state(d)
        start[0].click()
        # neutral + 3 actions of STEP_SECONDS each, then the upload
        got = wait_for(lambda: page_state(d) if page_state(d)[0] == "error" or (page_state(d)[0] == "uploaded" and "liveness" in page_state(d)[1])
                       else None, 4 * idv_liveness_frames.STEP_SECONDS + 40, 0.3)
        shown = d.execute_script("return window.__sigilTestCamera || []")
        note(f"{label}: the steps the page asked for (#camera-instruction), as the test camera followed them: {shown}")
        return check(f"{label}: the page ran the challenge with the camera and uploaded its frames (#status: received … liveness)",
                     bool(got) and got[0] == "uploaded" and len(shown) == 4 and shown[0] == "neutral", f"{got or page_state(d)} steps {shown}")

    def chip_args(self):
        f = self.passport["files"]
        return ["--sod", f["sod"], "--dg1", f["dg1"], "--dg2", f["dg2"]]

    def run_authenticator(self):
        if not self.setup_phone():
            return
        frames = self.liveness_frames()
        label = "VERIFIED (sigil-authenticator, liveness_mode active)"
        fb = self.fb
        run = fb.start_run(user_identifier="descope-phone-user", expected=EXPECTED, liveness_mode="active" if frames else None)
        self.remember(run)
        st = run.started or {}
        if not check(f"{label}: the connector step -> 201", run.start_status == 201 and bool(run.session_id), json.dumps(run.problem)[:300]):
            return
        sid = run.session_id
        d = self.browser()
        try:
            if not self.browse_to_capture(d, run, label):
                return
            live = (d.find_element(By.ID, "idv").get_attribute("data-liveness") if d.find_elements(By.ID, "idv") else None)
            if frames:
                check(f"{label}: the capture page asks for liveness (data-liveness true, #liveness-start) though the policy does not",
                      live == "true" and bool(d.find_elements(By.ID, "liveness-start")), f"data-liveness {live!r}")
            link, text, png, why = handoff_of(d, self.new_dir("handoff"))
            check(f"{label}: the page's #handoff-link is the connector answer's handoff_url, and its QR (rsvg-convert, zbarimg) decodes to it",
                  bool(link) and link == st.get("handoff_url") and text == link, f"link==handoff_url {link == st.get('handoff_url')} qr==link {text == link} {why}")
            if not png:
                check(f"{label}: a PNG of the hand-off QR for the CLI", False, why)
                return
            argv = ["verify", png, *self.chip_args(), "--selfie", self.selfie, "--json"] + (["--liveness", frames] if frames else [])
            r = self.phone.run(*argv)
            a = self.phone.answer(r)
            check(f"{label}: `sigil-authenticator verify <PNG of the QR> --sod --dg1 --dg2 --selfie obama__b{' --liveness DIR' if frames else ''} --json` -> "
                  "exit 0, VERIFIED", r.returncode == 0 and a.get("session_id") == sid and a.get("status") == "VERIFIED", r.all[-400:])
            if not self.check_resume(d, run, label + ", the desktop page"):
                return
        finally:
            self.quit(d)
        code, res = run.results[-1] if run.results else (None, {})
        res = res or {}
        claims = (res.get("verified_claims") or {}).get("claims") or {}
        check(f"{label}: the result call on /resume -> VERIFIED, ial_level, verified_claims with the document's names",
              code == 200 and res.get("status") == "VERIFIED" and bool(res.get("ial_level")) and str(claims.get("family_name", "")).upper() == DOC_FAMILY,
              f"{code} {json.dumps(res)[:500]}")
        if frames:
            r, s = self.admin.call("GET", f"/idv/sessions/{sid}")
            live = {c.get("name"): c for c in (s or {}).get("checks") or []}.get("liveness") or {}
            check(f"{label}: the session's liveness check ran and passed (admin API), as the connector asked", live.get("passed") is True,
                  json.dumps((s or {}).get("checks"))[:500])
            evidence = ((res.get("verified_claims") or {}).get("verification") or {}).get("evidence") or []
            methods = [x.get("check_method") for e in evidence if isinstance(e, dict) for x in e.get("check_details") or [] if isinstance(x, dict)]
            check(f"{label}: verified_claims' evidence check methods include vri (liveness)", "vri" in methods, str(methods))
        ev = self.decided_event(sid, label, "VERIFIED")
        if ev:
            self.no_personal_data(label, ev.body)

        label = "VERIFIED (sigil-authenticator from handoff_url alone)"
        run = fb.start_run(user_identifier="descope-phone-only", expected=EXPECTED)
        self.remember(run)
        if not check(f"{label}: the connector step -> 201 with a handoff_url", run.start_status == 201 and bool((run.started or {}).get("handoff_url")),
                     json.dumps(run.problem)[:300]):
            return
        r = self.phone.run("verify", run.started["handoff_url"], *self.chip_args(), "--selfie", self.selfie, "--json")
        a = self.phone.answer(r)
        check(f"{label}: `sigil-authenticator verify <handoff_url> …` (no browser at all) -> exit 0, VERIFIED",
              r.returncode == 0 and a.get("session_id") == run.session_id and a.get("status") == "VERIFIED", r.all[-400:])
        ev = self.decided_event(run.session_id, label, "VERIFIED")
        rr, res = fb.result(run.session_id)
        check(f"{label}: the flow builder, told by the webhook, reads VERIFIED with verified_claims (nobody came back to /resume)",
              rr.status_code == 200 and (res or {}).get("status") == "VERIFIED" and bool((res or {}).get("verified_claims")) and not run.resumes, short(rr))

    # --- the LiveID step-up's live face re-match against the verified portrait ---

    def start_face_stepup(self, user_identifier, face_match=None, key=None):
        """The step-up node's connector step with face_match (flow_builder's start_stepup has no such option): a FlowRun."""
        fb = self.fb
        run_id = fb.new_run_id()
        body = {"user_identifier": user_identifier, "redirect_url": fb.resume_url(run_id)}
        if face_match is not None:
            body["face_match"] = face_match
        run = FlowRun(run_id, body, f"flow-run-{run_id}-{secrets.token_hex(8)}")
        with fb._lock:
            fb.runs[run_id] = run
        fb._send(run, STEPUP_PATH, body, key)
        self.face_last_push = time.time()
        return run

    def audit_events(self, pages=10):
        """The tenant's audit trail, newest first, up to pages x 200 events (admin API, following next_cursor)."""
        items, cursor = [], None
        for _ in range(pages):
            r, doc = self.admin.call("GET", "/audit-events?limit=200" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""))
            if r.status_code != 200 or not isinstance(doc, dict):
                break
            items += doc.get("items") or []
            cursor = doc.get("next_cursor") or doc.get("nextCursor")
            if not cursor:
                break
        return items

    def face_attempts(self, cid):
        """(push id, the stepup.face_rematch events of the challenge's push, oldest first) from the audit trail."""
        items = self.audit_events()
        target = lambda x: x.get("target_id") or x.get("targetId")  # noqa: E731
        started = [x for x in items if x.get("action") == "stepup.started" and target(x) == cid]
        push = ((started[0].get("after") or {}).get("push") if started else None)
        attempts = [x for x in items if x.get("action") == "stepup.face_rematch" and push and target(x) == push]
        return push, list(reversed(attempts))

    def no_images(self, label, events):
        text = json.dumps(events)
        check(f"{label}: ... no image in those audit events (no frames, no base64 JPEG/PNG, a few hundred bytes each)",
              all(len(json.dumps(e)) < 2000 for e in events) and "/9j/" not in text and "iVBOR" not in text and '"frames"' not in text, text[:600])

    def run_face(self):
        fb = self.fb
        # The first administrator: a Sigil user with a phone and no verified identity (the hand-off of another account's
        # session, face_match required refused); the face user: her own phone, verified through the connector.
        if not self.setup_phone():
            return
        self.face_phone, ok, detail = self.invite_phone(FACE_USER, FACE_GIVEN, FACE_FAMILY, "phone-face", "face phone", "Rosalind's CLI",
                                                        "face-invite-device-qr.png")
        if not check(f"face: a third user ({FACE_USER}, `sigil user invite`) enrols her own sigil-authenticator from the invitation page", ok, detail):
            return
        r, doc, key = self.issue_key("descope-face", ["idv:write", "idv:read", "stepup:write", "stepup:read"], [fb.origin])
        if not check("face: a connector key with idv and stepup scopes -> 201", r.status_code == 201 and isinstance(key, str), short(r)):
            return
        # Frames for the IDV's liveness (obama__a, as the authenticator case), the same person in another photograph than
        # the chip portrait (obama__b: descriptor distance about 0.35 from obama__a) and another person (lin__a: about 0.71;
        # not biden__a, 0.84, whose 970x2204 frames take the server 12-14 s an attempt: three would fill the 45 s push).
        live, same, other = self.liveness_frames("obama__a"), self.liveness_frames("obama__b"), self.liveness_frames("lin__a")
        if not (live and same and other):
            skip("face: the IDV and the re-match", "no synthesised frames (see above)")
            return
        saved, fb.key = fb.key, key
        try:
            self._run_face(fb, live, same, other)
        finally:
            fb.key = saved

    def _run_face(self, fb, live, same, other):
        # 1. The user verified through the connector: user_identifier = her email verifies HER (her IDV subject).
        label = "face: IDV of a Sigil user (user_identifier = her email)"
        run = fb.start_run(user_identifier=FACE_USER, expected=EXPECTED, liveness_mode="active")
        self.remember(run)
        handoff = (run.started or {}).get("handoff_url")
        if not check(f"{label}: the connector step -> 201 with a handoff_url", run.start_status == 201 and bool(handoff), json.dumps(run.problem)[:300]):
            return
        sid = run.session_id
        argv = ["verify", handoff, *self.chip_args(), "--selfie", self.selfie, "--liveness", live, "--json"]
        r = self.phone.run(*argv)
        check(f"{label}: another account's phone ({PHONE_USER}'s) taking the hand-off -> refused, 'about another account' (non-zero exit)",
              r.returncode != 0 and "another account" in r.all, r.all[-300:])
        r = self.face_phone.run(*argv)
        a = self.face_phone.answer(r)
        check(f"{label}: her own phone: `sigil-authenticator verify <handoff_url> --sod --dg1 --dg2 --selfie obama__b --liveness DIR --json` -> "
              "exit 0, VERIFIED (the hand-off was not spent by the refused phone)",
              r.returncode == 0 and a.get("session_id") == sid and a.get("status") == "VERIFIED", r.all[-400:])
        rr, res = fb.result(sid)
        res = res or {}
        process = ((res.get("verified_claims") or {}).get("verification") or {}).get("verification_process")
        check(f"{label}: the result -> VERIFIED with verified_claims (verification_process {process})",
              rr.status_code == 200 and res.get("status") == "VERIFIED" and bool(res.get("verified_claims")), short(rr))
        r2, s2 = self.admin.call("GET", f"/idv/sessions/{sid}")
        checks = {c.get("name"): c for c in (s2 or {}).get("checks") or []}
        check(f"{label}: the session's face match and liveness checks passed (admin API): its portrait is kept as her step-up template",
              (checks.get("face_match") or {}).get("passed") is True and (checks.get("liveness") or {}).get("passed") is True,
              json.dumps((s2 or {}).get("checks"))[:600])
        self.decided_event(sid, label, "VERIFIED")

        # 2. A step-up for her (face_match not given: auto): the approval needs her face first.
        label = "face re-match (obama__b frames against the obama__a chip portrait)"
        run = self.start_face_stepup(FACE_USER)
        if not self.stepup_started(run, label):
            return
        cid, number = run.challenge_id, run.started["number"]
        check(f"{label}: ... face_match required (auto: she has a verified portrait)", run.started.get("face_match") == "required",
              json.dumps(run.started)[:300])
        r, res = fb.stepup_result(cid)
        check(f"{label}: the result while pending -> match_result pending, face_match required",
              r.status_code == 200 and (res or {}).get("match_result") == "pending" and (res or {}).get("face_match") == "required", short(r))
        p = self.face_phone.run("pending", "--wait", "15", "--json")
        check(f"{label}: `sigil-authenticator pending --json` shows the push with face_match required",
              p.returncode == 0 and re.search(r'"face_match"\s*:\s*"required"', p.all) is not None, p.all[-400:])
        a = self.face_phone.run("approve", "--number", number, "--simulate-user-verification", "face")
        check(f"{label}: `approve --number N --simulate-user-verification face` without --liveness -> exit 2 (usage) asking for --liveness; the request's "
              "description has the Face line", a.returncode == 2 and "--liveness" in a.all and "Face:" in a.all, a.all[-400:])
        r, res = fb.stepup_result(cid)
        check(f"{label}: ... the challenge is still pending", (res or {}).get("match_result") == "pending", short(r))

        # 3. The same person, live: matched, then approved.
        a = self.face_phone.run("approve", "--number", number, "--simulate-user-verification", "face", "--liveness", same)
        check(f"{label}: `approve … --liveness <obama__b frames>` -> exit 0, 'Face matched your verified identity.'",
              a.returncode == 0 and "Face matched your verified identity" in a.all, a.all[-400:])
        r, res = fb.stepup_result(cid)
        res = res or {}
        check(f"{label}: the result -> match, face_match match, verification_process = the IDV session of step 1 ({sid}), face in amr, "
              "acr urn:sigil:acr:liveid", r.status_code == 200 and res.get("match_result") == "match" and res.get("face_match") == "match"
              and res.get("verification_process") == sid and "face" in (res.get("amr") or []) and res.get("acr") == "urn:sigil:acr:liveid",
              json.dumps(res)[:500])
        ev = self.stepup_event(cid, label, "match")
        if ev:
            check(f"{label}: ... the webhook's data.after.face_match is match", (ev.data.get("after") or {}).get("face_match") == "match", ev.body[:600])
        push, attempts = self.face_attempts(cid)
        after = (attempts[0].get("after") or {}) if attempts else {}
        note(f"{label}: stepup.face_rematch: {json.dumps(after)}")
        try:
            threshold = float(after.get("threshold"))
            dist_ok = float(after.get("distance")) <= threshold and abs(threshold - POLICY["face_match_threshold"]) < 1e-9
        except (TypeError, ValueError):
            dist_ok = False
        check(f"{label}: the audit trail has one stepup.face_rematch for the push ({push}): outcome success, result match, distance within the "
              f"threshold {POLICY['face_match_threshold']} (the tenant policy's face_match_threshold), the verification {sid}",
              len(attempts) == 1 and attempts[0].get("outcome") == "success" and after.get("result") == "match" and dist_ok
              and after.get("verification") == sid, json.dumps(attempts)[:600])
        self.no_images(label, attempts)

        # 4. Another person, three times: refused twice with a retry, the third ends the push.
        label = "face re-match (lin__a frames: another person)"
        run = self.start_face_stepup(FACE_USER)
        if self.stepup_started(run, label):
            cid, number = run.challenge_id, run.started["number"]
            check(f"{label}: ... face_match required", run.started.get("face_match") == "required", json.dumps(run.started)[:300])
            self.face_phone.run("pending", "--wait", "15", "--json")
            for attempt in (1, 2, 3):
                a = self.face_phone.run("approve", "--number", number, "--simulate-user-verification", "face", "--liveness", other)
                tail = "the request was stopped" if attempt == 3 else "try again"
                check(f"{label}: attempt {attempt}: exit 1, 'the face did not match your verified identity (face_mismatch); {tail}'",
                      a.returncode == 1 and "did not match your verified identity" in a.all and "face_mismatch" in a.all and tail in a.all, a.all[-400:])
                if attempt == 2:
                    r, res = fb.stepup_result(cid)
                    check(f"{label}: ... after two failed attempts the challenge is still pending", (res or {}).get("match_result") == "pending", short(r))
            r, res = fb.stepup_result(cid)
            res = res or {}
            check(f"{label}: the result -> no_match, reason face_not_matched, face_match no_match, no verification_process, no acr",
                  r.status_code == 200 and res.get("match_result") == "no_match" and res.get("reason") == "face_not_matched"
                  and res.get("face_match") == "no_match" and "verification_process" not in res and "acr" not in res, json.dumps(res)[:500])
            ev = self.stepup_event(cid, label, "no_match")
            if ev:
                check(f"{label}: ... the webhook's data.after.face_match is no_match", (ev.data.get("after") or {}).get("face_match") == "no_match",
                      ev.body[:600])
            push, attempts = self.face_attempts(cid)
            note(f"{label}: stepup.face_rematch: {[x.get('after') for x in attempts]}")

            def far(x):
                try:
                    return float(x["distance"]) > float(x["threshold"])
                except (KeyError, TypeError, ValueError):
                    return False
            check(f"{label}: the audit trail has three stepup.face_rematch for the push ({push}): outcome failure, reason face_mismatch, result "
                  "no_match, distance over the threshold", len(attempts) == 3 and all(x.get("outcome") == "failure" and x.get("reason") == "face_mismatch"
                                                                                     and (x.get("after") or {}).get("result") == "no_match"
                                                                                     and far(x.get("after") or {}) for x in attempts),
                  json.dumps(attempts)[:800])
            self.no_images(label, attempts)

        # 5. face_match off: the plain LiveID step-up.
        label = "face re-match off"
        run = self.start_face_stepup(FACE_USER, "off")
        if self.stepup_started(run, label):
            check(f"{label}: ... face_match off", run.started.get("face_match") == "off", json.dumps(run.started)[:300])
            self.face_phone.run("pending", "--wait", "15", "--json")
            a = self.face_phone.run("approve", "--number", run.started["number"], "--simulate-user-verification", "face", "--json")
            r, res = fb.stepup_result(run.challenge_id)
            res = res or {}
            check(f"{label}: a plain `approve --number N --simulate-user-verification face` -> 0; the result -> match, acr urn:sigil:acr:liveid, "
                  "no face_match, no verification_process", a.returncode == 0 and res.get("match_result") == "match"
                  and res.get("acr") == "urn:sigil:acr:liveid" and "face_match" not in res and "verification_process" not in res,
                  a.all[-200:] + " " + json.dumps(res)[:400])

        # 6. Refusals (no push sent).
        r, doc = fb.call("POST", STEPUP_PATH, {"user_identifier": PHONE_USER, "face_match": "required"})
        check(f"face re-match refusals: face_match required for a Sigil user with a phone and no verified identity ({PHONE_USER}) -> 422 naming "
              "face_match", is_problem(r, doc, 422) and "face_match" in fields(doc), short(r))
        r, doc = fb.call("POST", STEPUP_PATH, {"user_identifier": FACE_USER, "face_match": "sometimes"})
        check("face re-match refusals: face_match sometimes -> 422 naming face_match", is_problem(r, doc, 422) and "face_match" in fields(doc), short(r))

        # 7. OpenID Connect: CIBA and the login page's LiveID sign-in re-match her face too. Her fourth and fifth pushes in
        #    15 minutes (the window holds 5): any further push for her would be refused.
        self._face_oidc(sid, same)

    def _face_push_spacing(self):
        left = getattr(self, "face_last_push", 0) + PUSH_SPACING - time.time()
        if left > 0:
            note(f"waiting {left:.0f} s: 30 s between sign-in pushes to one user")
            time.sleep(left)
        self.face_last_push = time.time()

    def _face_oidc(self, sid, same):
        """CIBA with acr_values LiveID (the request view, the CLI's refusal without --liveness, declined -> access_denied), then
        the authorization code flow's LiveID sign-in in Chromium approved with --liveness: the tokens name the IDV session."""
        meta = requests.get(self.base + "/.well-known/openid-configuration", timeout=10).json()
        rp = RelyingParty(meta, self.base, None)
        try:
            body = {"protocol": "oidc", "name": "Face LiveID RP", "redirect_uris": [rp.redirect_uri],
                    "grant_types": ["authorization_code", "refresh_token", CIBA_GRANT]}
            r, app = self.admin.call("POST", "/applications", body)
            app = app or {}
            oidc = app.get("oidc") or {}
            if not check("face OIDC: admin API POST /applications (OIDC, grants authorization_code, refresh_token and CIBA, redirect URI on "
                         "127.0.0.1) -> 201 with oidc.client_id and the client_secret", r.status_code == 201 and bool(oidc.get("client_id"))
                         and bool(app.get("client_secret")) and CIBA_GRANT in (oidc.get("grant_types") or []),
                         f"HTTP {r.status_code} {json.dumps(dict(app, client_secret='…'))[:400]}"):
                return
            rp.client_id, rp.client_secret = oidc["client_id"], app["client_secret"]
            auth = (rp.client_id, rp.client_secret)
            self._face_ciba(meta, auth, sid, same)
            self._face_code_flow(meta, rp, sid, same)
        finally:
            rp.shutdown()

    def _face_ciba(self, meta, auth, sid, same):
        label = "face OIDC CIBA (acr_values liveid)"
        endpoint = meta.get("backchannel_authentication_endpoint")
        if not check(f"{label}: discovery names the backchannel_authentication_endpoint and the CIBA grant",
                     bool(endpoint) and CIBA_GRANT in (meta.get("grant_types_supported") or []), json.dumps(meta)[:400]):
            return
        self._face_push_spacing()
        r = requests.post(endpoint, auth=auth, timeout=10, data={"scope": "openid", "login_hint": FACE_USER, "acr_values": LIVEID,
                                                                 "binding_message": "Face check"})
        doc = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
        auth_req_id = doc.get("auth_req_id")
        if not check(f"{label}: POST /oauth2/bc-authorize (client_secret_basic, login_hint {FACE_USER}) -> 200 auth_req_id, expires_in, interval 5",
                     r.status_code == 200 and bool(auth_req_id) and doc.get("interval") == 5 and (doc.get("expires_in") or 0) > 0, short(r)):
            return
        poll = {"grant_type": CIBA_GRANT, "auth_req_id": auth_req_id}

        def token_error():
            t = requests.post(meta["token_endpoint"], auth=auth, data=poll, timeout=10)
            try:
                return t, t.json().get("error")
            except ValueError:
                return t, None
        t, err = token_error()
        check(f"{label}: the token endpoint -> 400 authorization_pending", t.status_code == 400 and err == "authorization_pending", short(t))
        p = self.face_phone.run("pending", "--wait", "15", "--json")
        check(f"{label}: `pending --json` shows the push with user_verification biometric, face_match required and the binding message",
              p.returncode == 0 and re.search(r'"face_match"\s*:\s*"required"', p.all) is not None
              and re.search(r'"user_verification"\s*:\s*"biometric"', p.all) is not None and "Face check" in p.all, p.all[-500:])
        check(f"{label}: ... with number_matching false (no browser shows a number) and no number", re.search(r'"number_matching"\s*:\s*false', p.all)
              is not None and re.search(r'"number"', p.all) is None and "number" not in doc, p.all[-300:] + json.dumps(doc))
        a = self.face_phone.run("approve", "--simulate-user-verification", "fingerprint")
        check(f"{label}: `approve --simulate-user-verification fingerprint` without --liveness -> exit 2 asking for --liveness (nothing sent)",
              a.returncode == 2 and "--liveness" in a.all, a.all[-400:])
        t, err = token_error()
        check(f"{label}: ... still authorization_pending", t.status_code == 400 and err == "authorization_pending", short(t))
        a = self.face_phone.run("approve", "--simulate-user-verification", "fingerprint", "--liveness", same)
        check(f"{label}: `approve --simulate-user-verification fingerprint --liveness <obama__b frames>` (no --number) -> exit 0, "
              "'Face matched your verified identity.'", a.returncode == 0 and "Face matched your verified identity" in a.all, a.all[-400:])
        t = requests.post(meta["token_endpoint"], auth=auth, data=poll, timeout=10)
        body = t.json() if t.headers.get("Content-Type", "").startswith("application/json") else {}
        idc = {}
        try:
            idc = json.loads(base64.urlsafe_b64decode(body.get("id_token", "..").split(".")[1] + "=="))
        except (ValueError, IndexError):
            pass
        check(f"{label}: the token endpoint -> 200; the ID token carries {VERIFICATION_CLAIM} = the face user's IDV session, acr {LIVEID}, "
              "amr with face", t.status_code == 200 and idc.get(VERIFICATION_CLAIM) == sid and idc.get("acr") == LIVEID
              and "face" in (idc.get("amr") or []), short(t) + " " + json.dumps(idc)[:400])

    def _face_code_flow(self, meta, rp, sid, same):
        label = "face OIDC LiveID sign-in (code + PKCE, acr_values liveid, prompt=login)"
        d = self.browser()
        try:
            d.get(rp.start("manual", acr_values=LIVEID, prompt="login"))
            on_login = wait_for(lambda: urllib.parse.urlsplit(d.current_url).path == "/login" and d.find_elements(By.ID, "acr-note")
                                and d.find_elements(By.ID, "push-button"), 20)
            if not check(f"{label}: Chromium lands on Sigil's /login asking for the Sigil app (#acr-note, #push-button, no #passkey-button)",
                         bool(on_login) and not d.find_elements(By.ID, "passkey-button"), d.current_url):
                self.shot(d, "face-oidc-login")
                return
            d.find_element(By.ID, "username").send_keys(FACE_USER)
            self._face_push_spacing()
            d.find_element(By.ID, "push-button").click()
            number = wait_for(lambda: re.fullmatch(r"\d\d", d.find_element(By.ID, "push-number").text.strip() or "")
                              and d.find_element(By.ID, "push-number").text.strip(), 20)
            if not check(f"{label}: {FACE_USER} typed, 'Send a request to my phone' -> #push-number shows the number", bool(number),
                         d.find_element(By.ID, "auth-status").text):
                self.shot(d, "face-oidc-push")
                return
            p = self.face_phone.run("pending", "--wait", "15", "--json")
            check(f"{label}: `pending --json` shows the push with user_verification biometric and face_match required",
                  p.returncode == 0 and re.search(r'"face_match"\s*:\s*"required"', p.all) is not None
                  and re.search(r'"user_verification"\s*:\s*"biometric"', p.all) is not None, p.all[-500:])
            count = len(rp.rounds)
            a = self.face_phone.run("approve", "--number", number, "--simulate-user-verification", "fingerprint", "--liveness", same)
            check(f"{label}: `approve --number N --simulate-user-verification fingerprint --liveness <obama__b frames>` -> exit 0, "
                  "'Face matched your verified identity.'", a.returncode == 0 and "Face matched your verified identity" in a.all, a.all[-400:])
            try:
                rnd = rp.wait_round(count, 40)
            except RuntimeError as error:
                self.shot(d, "face-oidc-callback")
                check(f"{label}: the browser reaches the RP's callback", False, f"{error}; browser at {d.current_url}")
                return
        finally:
            self.quit(d)
        if not check(f"{label}: the RP's callback (state, iss) exchanged the code with PKCE -> tokens", bool(rnd.token), rnd.describe()):
            return
        idc = rnd.id_claims or {}
        check(f"{label}: authlib verified the ID token against the JWKS (RS256, kid, iss, aud, nonce, at_hash)", rnd.id_claims is not None,
              rnd.id_error)
        check(f"{label}: ID token {VERIFICATION_CLAIM} = the face user's IDV session ({sid}), acr {LIVEID}, amr with face and fpt",
              idc.get(VERIFICATION_CLAIM) == sid and idc.get("acr") == LIVEID and {"face", "fpt"} <= set(idc.get("amr") or []),
              json.dumps(idc)[:600])
        rs = ResourceServer(self.base, meta["jwks_uri"], rp.client_id)
        try:
            atc = rs.validate(rnd.token["access_token"])
            at_error = ""
        except Exception as error:  # noqa: BLE001
            atc, at_error = {}, repr(error)
        finally:
            rs.shutdown()
        check(f"{label}: the JWT access token (validated as RFC 9068: at+jwt, JWKS, iss, aud, exp, client_id) carries the same "
              f"{VERIFICATION_CLAIM}, acr {LIVEID}, amr with face", bool(atc) and atc.get(VERIFICATION_CLAIM) == sid and atc.get("acr") == LIVEID
              and "face" in (atc.get("amr") or []), at_error or json.dumps(atc)[:600])

    # --- FAILED ---

    def run_failed(self):
        label = "FAILED (Chromium, expected Bob Smith)"
        fb = self.fb
        run = fb.start_run(user_identifier="descope-bob", expected=WRONG)
        self.remember(run)
        if not check(f"{label}: the connector step -> 201", run.start_status == 201 and bool(run.session_id), json.dumps(run.problem)[:300]):
            return
        d = self.browser()
        try:
            if not self.browse_to_capture(d, run, label):
                return
            if not self.run_capture(d, run, label):
                return
            if not self.check_resume(d, run, label):
                return
            flow_status = d.find_element(By.ID, "flow-result").get_attribute("data-status")
        finally:
            self.quit(d)
        code, res = run.results[-1] if run.results else (None, {})
        res = res or {}
        reasons = res.get("reasons") or []
        check(f"{label}: the result call -> FAILED, state decided, reasons given_name_mismatch and family_name_mismatch, no verified_claims, no ial_level",
              code == 200 and res.get("status") == "FAILED" and res.get("state") == "decided" and {"given_name_mismatch", "family_name_mismatch"} <= set(reasons)
              and "verified_claims" not in res and "ial_level" not in res and flow_status == "FAILED", f"{code} {json.dumps(res)[:500]} page {flow_status}")
        ev = self.decided_event(run.session_id, label, "FAILED")
        if ev:
            check(f"{label}: ... outcome failure", ev.data.get("outcome") == "failure", json.dumps(ev.data)[:400])
            note(f"{label}: the webhook's data.after: {json.dumps(ev.data.get('after'))[:300]}")
            self.no_personal_data(label, ev.body, extra=["Bob", "Smith"])

    # --- idempotency ---

    def run_idempotency(self):
        fb = self.fb
        run = getattr(self, "verified_run", None)
        if not run or not run.started:
            skip("idempotency on the VERIFIED run", "that run did not start")
            return
        label = "idempotency"
        before = len(fb.events("idv.session_started"))
        r, doc = fb.send_start(run)
        check(f"{label}: the VERIFIED run's connector step again (same Idempotency-Key, same body, after the decision) -> 200, Idempotent-Replayed: true, "
              "the same session_id, session_url and subject", r.status_code == 200 and r.headers.get("Idempotent-Replayed") == "true"
              and isinstance(doc, dict) and doc.get("session_id") == run.session_id and doc.get("session_url") == run.started["session_url"]
              and doc.get("subject") == run.started["subject"], f"{r.status_code} {r.headers.get('Idempotent-Replayed')} {(doc or {}).get('session_id')}")
        r, doc = fb.send_start(run, body={**run.body, "user_identifier": "descope-another-person"})
        check(f"{label}: the same Idempotency-Key with another body -> 422 problem+json naming Idempotency-Key",
              is_problem(r, doc, 422) and "Idempotency-Key" in fields(doc), short(r))
        r, doc = fb.send_start(run, body={**run.body, "expected": {**EXPECTED, "given_name": "Anna"}})
        check(f"{label}: ... and with only expected.given_name changed -> 422", is_problem(r, doc, 422), short(r))
        time.sleep(3)
        after = len(fb.events("idv.session_started"))
        check(f"{label}: the replay started no session (no new idv.session_started within 3 s)", after == before, f"{before} -> {after}")
        fresh = fb.start_run(user_identifier=run.body["user_identifier"], expected=run.body.get("expected"), run_id=run.run_id + "-retry-new-key")
        self.remember(fresh)
        check(f"{label}: the same body with a new Idempotency-Key -> 201, a new session", fresh.start_status == 201 and fresh.session_id
              and fresh.session_id != run.session_id, f"{fresh.start_status} {fresh.session_id}")

        # A flow engine's retries racing: five sends at once with one new key.
        race = fb.start_run(user_identifier="descope-race", expected=EXPECTED, run_id="race")
        self.remember(race)
        race_key = "flow-run-race2-" + secrets.token_hex(8)
        race.idempotency_key = race_key
        answers, lock = [], threading.Lock()
        barrier = threading.Barrier(5)

        def send():
            barrier.wait()
            rr, dd = fb.call("POST", "/api/v1/connectors/idv/sessions", race.body, headers={"Idempotency-Key": race_key})
            with lock:
                answers.append((rr.status_code, rr.headers.get("Idempotent-Replayed"), (dd or {}).get("session_id")))
        threads = [threading.Thread(target=send) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        sids = {a[2] for a in answers}
        check(f"{label}: five concurrent sends with one new Idempotency-Key -> one session_id in every answer, one 201, the others 200 replayed",
              len(answers) == 5 and len(sids) == 1 and None not in sids and [a[0] for a in answers].count(201) == 1
              and all(a[1] == "true" for a in answers if a[0] == 200), str(answers))
        time.sleep(3)
        started = [e for e in fb.events("idv.session_started") if e.target_id not in (fresh.session_id, race.session_id)]
        extra = len(started) - after
        note(f"{label}: idv.session_started events for the concurrent sends: {extra} (answers named one session; ConnectorService says a losing "
             "concurrent send's session 'is never handed out and expires unused')")

    # --- narrowing ---

    def run_narrowing(self):
        fb = self.fb
        label = "narrowing document_types [driving_permit], a passport presented"
        run = fb.start_run(user_identifier="descope-narrow", expected=EXPECTED, document_types=["driving_permit"])
        self.remember(run)
        if check(f"{label}: the connector step -> 201", run.start_status == 201 and bool(run.session_id), json.dumps(run.problem)[:300]):
            d = self.browser()
            try:
                if self.browse_to_capture(d, run, label):
                    opts = self.options(d)
                    check(f"{label}: the capture page offers driving_permit only (tenant: passport and driving_permit)", opts == ["driving_permit"], str(opts))
                    if self.run_capture(d, run, label, pick_passport_anyway=True):
                        got = wait_for(lambda: d.current_url.startswith(fb.origin) or page_state(d)[0] == "error", 90, 0.3)
                        note(f"{label}: after #submit: {d.current_url if d.current_url.startswith(fb.origin) else page_state(d)}")
                        if got and self.check_resume(d, run, label):
                            code, res = run.results[-1]
                            res = res or {}
                            check(f"{label}: the result -> FAILED with document_type_not_allowed, no verified_claims (the connector's narrowing held)",
                                  code == 200 and res.get("status") == "FAILED" and "document_type_not_allowed" in (res.get("reasons") or [])
                                  and "verified_claims" not in res, f"{code} {json.dumps(res)[:500]}")
                            note(f"{label}: reasons {res.get('reasons')}")
                            self.decided_event(run.session_id, label, "FAILED")
                        else:
                            check(f"{label}: the passport is not VERIFIED", (fb.result(run.session_id)[1] or {}).get("status") != "VERIFIED",
                                  str(page_state(d)))
            finally:
                self.quit(d)

        label = "narrowing document_types [passport, residence_permit]"
        run = fb.start_run(user_identifier="descope-widen", expected=EXPECTED, document_types=["passport", "residence_permit"])
        self.remember(run)
        if check(f"{label}: the connector step -> 201 (a type the tenant does not accept is narrowed away, not refused)", run.start_status == 201,
                 json.dumps(run.problem)[:300]):
            d = self.browser()
            try:
                if self.browse_to_capture(d, run, label):
                    opts = self.options(d)
                    check(f"{label}: the capture page offers passport only: the tenant's policy is never widened", opts == ["passport"], str(opts))
                    d.find_element(By.ID, "cancel").click()
                    if self.check_resume(d, run, label + ", cancelled"):
                        code, res = run.results[-1]
                        check(f"{label}: cancelled on the page -> the result status cancelled, no verified_claims",
                              code == 200 and (res or {}).get("status") == "cancelled" and "verified_claims" not in (res or {}), json.dumps(res)[:300])
            finally:
                self.quit(d)

        label = "narrowing liveness_mode active"
        run = fb.start_run(user_identifier="descope-live", expected=EXPECTED, liveness_mode="active")
        self.remember(run)
        if check(f"{label}: the connector step -> 201", run.start_status == 201, json.dumps(run.problem)[:300]):
            d = self.browser()
            try:
                if self.browse_to_capture(d, run, label):
                    live = d.find_element(By.ID, "idv").get_attribute("data-liveness")
                    check(f"{label}: the capture page asks for liveness (data-liveness true, #liveness-start) though the tenant's policy does not",
                          live == "true" and bool(d.find_elements(By.ID, "liveness-start")), f"data-liveness {live!r}")
                    if self.run_capture(d, run, label):
                        state = wait_for(lambda: page_state(d) if page_state(d)[0] in ("error", "decided") or d.current_url.startswith(fb.origin) else None, 60)
                        r, res = fb.result(run.session_id)
                        check(f"{label}: a submit without liveness is refused on the page naming liveness; the session stays pending",
                              bool(state) and state[0] == "error" and "liveness" in state[1].lower() and (res or {}).get("status") == "pending",
                              f"{state} {d.current_url} result {(res or {}).get('status')}")
                        if not self.liveness_frames():
                            skip(f"{label}: the page's own liveness run", "no synthesised frames (see above)")
                        elif self.page_liveness(d, run, label):
                            d.find_element(By.ID, "submit").click()
                            if self.check_resume(d, run, label):
                                code, res = run.results[-1]
                                res = res or {}
                                r2, s2 = self.admin.call("GET", f"/idv/sessions/{run.session_id}")
                                live = {c.get("name"): c for c in (s2 or {}).get("checks") or []}.get("liveness") or {}
                                check(f"{label}: submitted with the page's liveness frames -> the result VERIFIED with verified_claims; the liveness check "
                                      "passed (admin API)", code == 200 and res.get("status") == "VERIFIED" and bool(res.get("verified_claims"))
                                      and live.get("passed") is True, f"{code} {json.dumps(res)[:300]} liveness {json.dumps(live)[:300]}")
                                self.decided_event(run.session_id, label, "VERIFIED")
            finally:
                self.quit(d)

        label = "narrowing liveness_mode policy, the policy requiring liveness"
        r, _ = self.admin.call("PUT", "/idv/policy", {**POLICY, "require_liveness": True})
        try:
            run = fb.start_run(user_identifier="descope-policy", expected=EXPECTED, liveness_mode="policy")
            self.remember(run)
            if check(f"{label}: policy require_liveness true (PUT), the connector step -> 201", r.status_code == 200 and run.start_status == 201,
                     f"{r.status_code} {json.dumps(run.problem)[:300]}"):
                d = self.browser()
                try:
                    if self.browse_to_capture(d, run, label):
                        live = d.find_element(By.ID, "idv").get_attribute("data-liveness")
                        check(f"{label}: the capture page asks for liveness: a connector cannot turn off what the tenant requires", live == "true", f"{live!r}")
                finally:
                    self.quit(d)
        finally:
            r, _ = self.admin.call("PUT", "/idv/policy", POLICY)
            check(f"{label}: the policy back to require_liveness false", r.status_code == 200, short(r))

    # --- expired (a second server whose IDV sessions last 4 s) ---

    def run_expired(self):
        label = f"expired ({LIFETIME_ENV}=4, a second server)"
        port = E.free_port()
        proc, data, out, err = start_serve(self.binary, self.run_dir, port, {"SIGIL_IDV_ENGINE": self.engine, LIFETIME_ENV: "4"}, tag="expiry")
        self.track(proc.pid)
        self.procs.append(proc)
        self.logs += [out, err]
        self.data_dirs.append(data)
        base = f"http://localhost:{port}"
        admin = AdminAPI(base, admin_token(self.binary, data))
        fb2 = FlowBuilder(base).start()
        try:
            r, doc = admin.call("POST", "/connector-keys", {"name": "descope", "scopes": ["idv:write", "idv:read"], "redirect_origins": [fb2.origin]})
            fb2.key = (doc or {}).get("key")
            if fb2.key:
                self.keys.append(fb2.key)
            run = fb2.start_run(user_identifier="descope-late", expected=EXPECTED)
            self.remember(run)
            if not check(f"{label}: a key and the connector step -> 201", r.status_code == 201 and run.start_status == 201, f"{short(r)} {run.start_status}"):
                return
            time.sleep(6)
            r, res = fb2.result(run.session_id)
            check(f"{label}: after 6 s untouched, the result -> status expired, state expired, no verified_claims",
                  r.status_code == 200 and (res or {}).get("status") == "expired" and (res or {}).get("state") == "expired" and "verified_claims" not in (res or {}),
                  short(r))
            browser_like = E.requests.Session()
            h = browser_like.get(run.started["session_url"], timeout=10)
            stage = re.search(r'data-stage="([^"]*)"', h.text)
            csrf = re.search(r'name="sigil-idv-csrf"\s+content="([^"]+)"', h.text)
            page = "a capture page" if 'id="submit"' in h.text else "no capture page"
            check(f"{label}: session_url after expiry -> 410 'this verification has expired', no capture page, no link cookie",
                  h.status_code == 410 and page == "no capture page" and "expired" in h.text and not browser_like.cookies,
                  f"{' -> '.join(str(x.status_code) for x in h.history)} -> {h.status_code}, {page} (data-stage {stage.group(1) if stage else None!r})")
            st = browser_like.get(f"{base}/idv/{run.session_id}/status", timeout=10)
            up = browser_like.post(f"{base}/idv/{run.session_id}/evidence/selfie", data=open(self.selfie, "rb").read(), timeout=30,
                                   headers={"Content-Type": "image/jpeg", "Origin": base, E.CSRF_HEADER: csrf.group(1) if csrf else ""})
            check(f"{label}: through its session_url the session takes nothing more: /status and an upload are refused (no secret was handed out)",
                  st.status_code in (403, 410) and up.status_code in (403, 410) and "verified_claims" not in st.text,
                  f"status {st.status_code} {st.text[:200]}; upload {up.status_code} {up.text[:200]}")
        finally:
            fb2.stop()
            stop_serve(proc, "the expiry server")
            self.procs.remove(proc)

    # --- privacy ---

    def privacy(self):
        logs = b"".join(open(p, "rb").read() for p in self.logs if os.path.exists(p))
        check(f"privacy: there is server output to scan ({len(logs)} bytes), {len(self.keys)} keys, {len(self.webhook_secrets)} webhook secrets, "
              f"{len(self.link_secrets)} link secrets to look for", len(logs) > 0 and self.keys and self.webhook_secrets and self.link_secrets)
        hits = [f"key #{i + 1}" for i, k in enumerate(self.keys) if k.encode() in logs or k[4:].encode() in logs]
        hits += [f"key-shaped {m.group(0)[:12].decode()}…" for m in KEY_SHAPE.finditer(logs)]
        check("privacy: the server's stdout/stderr hold no sck_ key (nor anything shaped like one)", not hits, hits[:5])
        hits = []
        for i, s in enumerate(self.webhook_secrets):
            b64 = s[len("whsec_"):]
            if s.encode() in logs or b64.encode() in logs or b64.rstrip("=").encode() in logs:
                hits.append(f"secret #{i + 1}")
        hits += [m.group(0)[:10].decode() + "…" for m in WHSEC_SHAPE.finditer(logs)]
        check("privacy: ... no whsec_ secret (whole or its base64) and nothing shaped like one", not hits, hits[:5])
        hits = [f"hook secret #{i + 1}" for i, s in enumerate(self.hook_secrets) if s.encode() in logs or s.rstrip("=").encode() in logs
                or base64.b64encode(s.encode()) in logs or s.encode().hex().encode() in logs.lower()]
        check(f"privacy: ... no inbound hook source's signing secret ({len(self.hook_secrets)} of them; as shown, nor its bytes in base64 or hex)",
              not hits, hits[:5])
        hits = [f"link secret #{i + 1}" for i, s in enumerate(self.link_secrets) if s.encode() in logs]
        check(f"privacy: ... no k= secret of any session_url or handoff_url ({len(self.link_secrets)} of them)", not hits, hits[:5])
        texts = [DOC_GIVEN, DOC_FAMILY, "Eriksson", "ANNA<MARIA", DOC_BIRTH, *self.doc_numbers]
        found = [t for t in texts if t.lower().encode() in logs.lower()]
        check("privacy: ... no name, birthdate or document number", not found, found)
        leaks, files = [], 0
        for root, _, names in (w for d in self.data_dirs for w in os.walk(d)):
            for fn in names:
                content = open(os.path.join(root, fn), "rb").read()
                files += 1
                leaks += [f"{fn}: key #{i + 1}" for i, k in enumerate(self.keys) if k.encode() in content]
                leaks += [f"{fn}: link secret #{i + 1}" for i, s in enumerate(self.link_secrets) if s.encode() in content]
                leaks += [f"{fn}: webhook secret #{i + 1}" for i, s in enumerate(self.webhook_secrets) if s.encode() in content]
                leaks += [f"{fn}: hook secret #{i + 1}" for i, s in enumerate(self.hook_secrets) if s.encode() in content]
        check(f"privacy: no file of the data folders ({files} files, WAL included) holds a key, a webhook secret, a hook secret or a link secret in clear",
              files > 0 and not leaks, leaks[:6])

    # --- all ---

    def run(self):
        if self.idv_ok:
            self.make_passports()
        try:
            self.start()
            self.run_keys()
            steps = (self.run_refusals, self.run_verified_browser, self.run_authenticator, self.run_failed, self.run_idempotency, self.run_narrowing,
                     self.run_face, self.run_expired) if self.idv_ok else ()
            steps += (self.run_stepup, self.run_hooks)
            only = set(self.args.only.split(",")) if self.args.only else None
            for step in steps:
                if only and step.__name__.removeprefix("run_") not in only:
                    continue
                try:
                    step()
                except Exception as error:  # one broken step must not hide the others
                    check(f"{step.__name__} ran to its end", False, "".join(traceback.format_exception(error))[-1500:])
                    for i, d in enumerate(self.drivers):
                        self.shot(d, f"failure-{step.__name__}-{i}")
                self.drain()
        except Exception as error:
            check("set-up", False, "".join(traceback.format_exception(error))[-1500:])
        finally:
            for d in list(self.drivers):
                self.quit(d)
            if self.fb:
                self.fb.stop()
                self.drain()
            for p in self.procs:
                stop_serve(p)
        if self.logs:
            self.privacy()


def main():
    ap = argparse.ArgumentParser(description="Sigil's connector API driven by a scripted flow builder (Descope), with Chromium and sigil-authenticator")
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--authenticator", default=os.environ.get("SIGIL_AUTHENTICATOR_BIN", ".build/debug/sigil-authenticator"))
    ap.add_argument("--engine", default=os.environ.get("SIGIL_IDV_ENGINE"))
    ap.add_argument("--work", default=None, help="a folder for this run (pids of started processes go to WORK/pids)")
    ap.add_argument("--artifacts", default=None, help="keep screenshots, logs and the work folder here")
    ap.add_argument("--only", default=None, help="comma-separated cases to run after the keys: refusals, verified_browser, authenticator, failed, "
                                                 "idempotency, narrowing, face, expired, stepup, hooks (idempotency replays verified_browser's run)")
    args = ap.parse_args()
    engine_ok = bool(args.engine) and os.path.isfile(args.engine) and os.access(args.engine, os.X_OK)
    fixtures_ok = os.path.isdir(FACES) and all(os.path.isfile(os.path.join(FACES, n)) for n in ("obama__a.jpg", "obama__b.jpg"))
    if not (engine_ok and fixtures_ok):
        why = [] if engine_ok else [f"the IDV engine ({args.engine or '--engine not given'}) is absent"]
        why += [] if fixtures_ok else [f"{FACES} is absent"]
        skip("the identity verification cases (face re-match included)",
             f"{' and '.join(why)}: nothing to decide a verification with (the step-up and hook cases run)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally blocks stop the servers and browsers
    suite = Suite(args)
    suite.idv_ok = engine_ok and fixtures_ok
    try:
        suite.run()
    except Exception as error:
        check("the suite ran", False, "".join(traceback.format_exception(error))[-1500:])
    if args.artifacts is None:
        shutil.rmtree(suite.run_dir if args.work else suite.work, ignore_errors=True)
    else:
        print(f"work folder (server logs, data, passports, CLI home): {suite.run_dir}")
    if E.RESULTS["skipped"]:
        print(f"({E.RESULTS['skipped']} skipped)")
    print(f"{E.RESULTS['passed']} passed, {E.RESULTS['failed']} failed")
    return 1 if E.RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
