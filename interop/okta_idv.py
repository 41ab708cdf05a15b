#!/usr/bin/env python3
"""Okta as an identity-verification client: Okta's "Bring your own IDV vendor" integration, exactly
as Okta sends it and judged the way Okta judges the answer (issue 13, item 7).

NOT WIRED INTO CI YET. Sigil's IDV flow (the capture pages, the decision, `verified_claims` in the
ID token) does not exist at the time of writing; `--self-test` runs the client against a fake IDV
server in this file. The section "Running it against `sigil serve`" says what the next session does.

Sources (see /work/shared/reference/protocols.md §1.2-§1.5, §2, §3.1):
  - Okta, "Integrate Okta with identity verification vendors" (okta/okta-developer-docs,
    packages/@okta/vuepress-site/docs/guides/idv-integration/main/index.md; read at 08d8610a and at
    two older versions): the PAR Okta sends, the token request, the ID token table, the System Log
    reasons, the supported claims.
  - OpenID Connect for Identity Assurance 1.0 and its schema definition (openid/eKYC-IDA @ b4109086),
    RFC 9126 (PAR), RFC 6749 §4.1.2.1, OpenID Connect Core §2, §5.5.

What the client does (class OktaIDVClient)
------------------------------------------
  par(given, family, login_hint, extra_claims, flow)   POST {par_url}, form-urlencoded, in Okta's order:
      response_type=code, client_id, client_secret (client_secret_post), code_challenge (S256),
      code_challenge_method=S256, scope="openid profile identity_assurance[ idv_flow_<flow>]", nonce,
      claims (a compact JSON *string*: id_token.verified_claims = [ {verification: {trust_framework:
      {value: IDV-DELEGATED, essential: true}, assurance_level: {value: VERIFIED, essential: true}},
      claims: {given_name: {value, fuzzy: true}, family_name: {...}, middle_name, email, birthdate,
      phone_number, address: {street_address, locality, region, postal_code, country}}} ]), state,
      login_hint (an Okta user id, 00u…), redirect_uri=https://{okta_host}/idp/identity-verification/callback.
      Expects 201, JSON {request_uri, expires_in}, Cache-Control no-store (no-cache too, as Okta shows).
  par_bithdate(...)      the same with Okta's printed typo `bithdate` for birthdate.
  par_json_body(...)     Okta's printed body: a JSON object (claims as an object), Content-Type
                         application/json (one past version of the guide's curl) or, with
                         content_type="application/x-www-form-urlencoded", what the guide prints
                         today (08d8610a: `-H "Content-Type: application/x-www-form-urlencoded" -d '{…}'`).
  par_with_claims(...)   any `claims` request (a standard OIDC4IDA one too), with overrides/omissions
                         for negative tests.
  authorize_url(p)       {authorize_url}?request_uri=… only (Okta sends no client_id);
  authorize_url_with_client_id(p)  the RFC 9126 §4 form.
  follow_authorize(url)  for an auto-approving server only (the fake): follows the IDV's redirects until
                         Okta's callback. Sigil shows capture pages in between (see below).
  callback(url, p)       reads Okta's callback: code, or error=…&state=… (state must be Okta's; an `iss`
                         parameter, if present, must be the issuer).
  token(code, p)         POST {token_url} form: grant_type, client_id, client_secret, code, code_verifier,
                         redirect_uri; then Okta's evaluation, returning a verdict.

The verdict
-----------
  {"result": "VERIFIED" | "FAILED", "reasons": [...], "details": [...], "warnings": [...],
   "schema": {...}, "token_response": ..., "id_token_header": ..., "id_token_claims": ..., "verified_claims": ...}

VERIFIED only when everything below holds; then reasons == ["CLAIMS_VERIFIED"]. Reasons Okta's guide
names exactly (System Log `user.identity_verification`): CLAIMS_VERIFIED, CLAIMS_NOT_VERIFIED,
CLAIM_GIVEN_NAME_NOT_VERIFIED, CLAIM_FAMILY_NAME_NOT_VERIFIED, PARSING_ERROR_GIVENNAME,
PARSING_ERROR_FAMILYNAME, MISSING_GIVENNAME, MISSING_FAMILYNAME, RESPONSE_PROCESSING_ERROR_PAR,
ERROR_RESPONSE_TOKEN, EMPTY_USER_ID, MISSING_AUTH_STATE_TOKEN. Okta documents only the families
PARSING_ERROR_*, MISSING_*, RESPONSE_PROCESSING_ERROR_*, ERROR_RESPONSE_*; every other reason below is
this harness's name in those families (is_documented_reason() tells which):

  token endpoint non-2xx with an error body      ERROR_RESPONSE_TOKEN (other non-2xx: RESPONSE_PROCESSING_ERROR_TOKEN)
  PAR non-201 with an error body                 ERROR_RESPONSE_PAR (other: RESPONSE_PROCESSING_ERROR_PAR)
  callback error=…                               ERROR_RESPONSE_AUTHORIZE; wrong/missing state: MISSING_AUTH_STATE_TOKEN
  no id_token / expires_in                       MISSING_ID_TOKEN / MISSING_EXPIRES_IN
  not RS256, kid not in JWKS, bad signature      RESPONSE_PROCESSING_ERROR_SIGNATURE (JWKS unreadable: ..._JWKS)
  iss (≠ issuer, or not https off loopback)      RESPONSE_PROCESSING_ERROR_ISSUER
  aud ≠ client_id; exp past; iat future          RESPONSE_PROCESSING_ERROR_AUDIENCE / _EXPIRED / _IAT
  nonce ≠ the PAR's                              RESPONSE_PROCESSING_ERROR_NONCE (absent: MISSING_NONCE); no sub: MISSING_SUB
  verified_claims absent / not an array          MISSING_VERIFIED_CLAIMS / PARSING_ERROR_VERIFIED_CLAIMS
  verification / claims absent                   MISSING_VERIFICATION / MISSING_CLAIMS
  trust_framework absent / ≠ what was sent       MISSING_TRUST_FRAMEWORK / UNEXPECTED_TRUST_FRAMEWORK
  assurance_level absent / FAILED or null / other MISSING_ASSURANCE_LEVEL / CLAIMS_NOT_VERIFIED / UNEXPECTED_ASSURANCE_LEVEL
  time absent / not ISO 8601                     MISSING_TIME / PARSING_ERROR_TIME
  a claim outside Okta's list                    UNSUPPORTED_CLAIM_<NAME>   (e.g. UNSUPPORTED_CLAIM_BITHDATE)
  a claim not {value, fuzzy: true}, bad format   PARSING_ERROR_<NAME without underscores>  (Okta's spelling: GIVENNAME)
  a claim with value null                        CLAIM_<NAME>_NOT_VERIFIED + CLAIMS_NOT_VERIFIED
  given_name / family_name absent (claims ≠ {})  MISSING_GIVENNAME / MISSING_FAMILYNAME

Accepted as Okta documents: a claim value "MATCHED"; an empty `claims` object (IDA minimum
conformant; the result follows assurance_level); `time` without a UTC offset (Okta's own example),
with a warning. Warned, not failed: a flat `street_address` etc. (Okta's claim table lists them flat,
its request and response examples nest them under `address`), a requested claim not returned, an
http issuer on loopback (local runs; Okta requires https), Cache-Control without no-store on the token
response, no access_token or token_type. strict_claims=False also accepts the claim shapes Okta's older
guide printed (plain strings, null, {"fuzzy": "<value>"}) with warnings.

OIDC4IDA JSON schema (item 4)
-----------------------------
The WG's schemas (openid/eKYC-IDA schema/verified_claims.json, which $refs claims_schema.json and
verified_claims_request.json) are not vendored: they carry no licence of their own and the repository
has none (see interop/schema/oidc4ida/README.md). load_ida_schemas() reads them from
$SIGIL_IDA_SCHEMA_DIR, else interop/schema/oidc4ida/, and refuses files whose SHA-256 differs from the
pinned commit's. Get them with

    /opt/peers-venv/bin/python interop/okta_idv.py --fetch-ida-schemas interop/schema/oidc4ida

Validation uses jsonschema_rs (in /opt/peers-venv through schemathesis) or else python-jsonschema +
referencing; formats are not asserted, as in the WG's own tests (the WG's examples use times without
seconds, which `format: date-time` would refuse). Dialects: a standard OIDC4IDA answer (claims as plain
values) is validated against verified_claims.json and its result is part of its verdict
(IDA_SCHEMA_INVALID). An Okta-dialect answer (claims as {value, fuzzy} objects, assurance_level
possibly null) is outside the schema by design and is judged by Okta's rules above; for it the verdict's "schema" reports the schema's errors
for information only, and checks the `verification` element alone against the schema (warnings).
Okta's *request* does validate against verified_claims_request.json (`fuzzy` is an extra member).

Whatever the schemas, every answer is also checked by interop/ida_rules.py, this project's own reading
of the OIDC4IDA text (stdlib only, so it always runs): a standard answer that breaks it fails its
verdict (IDA_RULES_INVALID, the verdict's "rules" lists the errors); for an Okta-dialect answer only
the `verification` element is held to it, and its findings are warnings, because Okta's documented
shapes deviate from IDA on purpose: claims as {value, fuzzy} objects (OIDC Core says strings),
assurance_level null on failure (IDA says a string), and time without a UTC offset in Okta's example
(IDA says TZD).

Self-test
---------
    /opt/peers-venv/bin/python interop/okta_idv.py --self-test [--require-schemas]

starts FakeIDV (a FAKE IDV server, stdlib http.server on 127.0.0.1, RSA key generated at start:
PAR, an auto-approving /oauth2/idv-authorize, token, JWKS) and runs the client through success,
FAILED, null assurance, cancel, a replayed request_uri, a wrong nonce, unsupported claims and the other
cases above, asserting the verdicts. Prints PASS/FAIL per check and "N passed, M failed"; exits 1 on any
failure (as scripts/lib.sh run_python_suite expects). Schema checks are skipped (SKIP lines, not
counted) when no schema directory is available, unless --require-schemas.

Running it against `sigil serve` (the next session)
---------------------------------------------------
Sigil must expose, on its issuer (Okta is configured with these URLs, not discovery; the test should
also check discovery names the same ones):
    POST /oauth2/par              RFC 9126; client_secret_post; 201 {request_uri, expires_in}
    GET  /oauth2/idv-authorize    ?request_uri=… without client_id → the IDV capture flow
    POST /oauth2/token            authorization_code + PKCE; {id_token, expires_in, access_token, token_type}
    GET  /oauth2/jwks             RS256 keys with kid
Steps, in a new interop/oidc_okta_idv.py (or a section of oidc_okta.py) built on oidc_common.Sigil:
  1. s = Sigil(binary); s.enrol(); reg = s.create_client("Okta IDV", "--redirect-uri",
     "https://sigil-interop.okta.com/idp/identity-verification/callback", "--auth-method",
     "client_secret_post", "--scope", "openid", "--scope", "profile", "--scope", "identity_assurance",
     "--grant-type", "authorization_code")  (as oidc_okta.py does), plus whatever tenant IDV policy the
     IDV work needs.
  2. c = OktaIDVClient(s.issuer, s.issuer + "/oauth2/par", s.issuer + "/oauth2/idv-authorize",
     s.issuer + "/oauth2/token", s.issuer + "/oauth2/jwks", reg["client_id"], reg["client_secret"],
     "sigil-interop.okta.com"); the issuer is http://localhost:PORT, accepted on loopback with a warning.
  3. p = c.par("Ada", "Lovelace", OKTA_USER_ID, extra_claims={...}); assert p.ok, p.reasons + p.problems.
  4. THE CAPTURE STEP (driven by the test, separately): open c.authorize_url(p) in the browser with
     Okta's host blocked (CDP Network.setBlockedURLs, as oidc_okta.py), or with a requests.Session that
     does not follow redirects to Okta's host; submit the evidence through Sigil's capture pages/API (the
     BSI test passport's DG1/SOD from ../shared/fixtures, an MRZ, a face-match/liveness stub, whatever the
     IDV work provides), until the browser reaches https://sigil-interop.okta.com/idp/identity-verification/callback?….
  5. cb = c.callback(final_url, p); assert cb["ok"]; v = c.token(cb["code"], p);
     assert v["result"] == "VERIFIED" and v["reasons"] == ["CLAIMS_VERIFIED"], v.
  6. Negative runs, each asserting the verdict: a document whose name does not match the expected
     given_name (FAILED, CLAIMS_NOT_VERIFIED + CLAIM_GIVEN_NAME_NOT_VERIFIED); the user cancelling
     (callback error=access_denied&state → ERROR_RESPONSE_AUTHORIZE, or a FAILED answer: Okta does not say
     which, pick one and document it); the same request_uri opened twice (the second must not start a
     session); par_bithdate (Sigil must read `bithdate` as birthdate and must not echo `bithdate`:
     UNSUPPORTED_CLAIM_BITHDATE); par_json_body (both content types); authorize_url_with_client_id;
     extra_claims with an `address` (Okta nests it: Sigil must answer inside `address`); a standard
     OIDC4IDA request through par_with_claims (verdict["schema"]["valid"] must be True, with
     SIGIL_IDA_SCHEMA_DIR set and --require-schemas semantics).
  7. Wire it then: scripts/interop-oidc.sh (run_python_suite) and .ci/run (fetch the schemas first).

What this harness will flag in Sources/SigilIDV/VerifiedClaims.swift as of 631a322 (okta(_:entry:)):
  - Okta nests the address parts under `address`; okta() keeps only top-level names in oktaClaims
    (which lists street_address… flat), so a requested address is dropped whole (warning "requested
    claim address.… not returned"; Okta's guide says the response claims include those requested,
    and a claim sent with fuzzy must come back with fuzzy).
  - `bithdate` (Okta's printed key) is not in oktaClaims: dropped, birthdate never checked (warning).
  - A requested claim the decision does not produce (email, phone_number, middle_name: the decision
    yields given_name, family_name, birthdate, nationalities) comes back `value: null` under
    assurance_level VERIFIED; this harness then says FAILED (CLAIMS_NOT_VERIFIED +
    CLAIM_EMAIL_NOT_VERIFIED). Whether Okta fails it is not documented; decide what Sigil answers.
  - Only names go through NameMatch: an expected birthdate is not compared, the document's birthdate is
    returned as verified whatever Okta expected.
"""
import argparse, base64, dataclasses, datetime, hashlib, hmac, importlib.util, json, os, re, secrets, sys, tempfile, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ida_rules  # noqa: E402  (the OIDC4IDA rules written from the spec text; stdlib only, always there)

OKTA_HOST = "sigil-interop.okta.com"
OKTA_CUSTOM_HOST = "login.sigil-interop.example"
OKTA_USER_ID = "00ub0oNGTSWTBKOLGLNR"  # Okta user ids: "00u" + 17 characters
SCOPE = "openid profile identity_assurance"
TRUST_FRAMEWORK = "IDV-DELEGATED"
CALLBACK_PATH = "/idp/identity-verification/callback"

# Okta's "Supported OIDC claims". The request and response examples nest the address parts under
# `address`; the table lists them flat.
OKTA_TOP_CLAIMS = ("given_name", "family_name", "middle_name", "email", "birthdate", "phone_number")
OKTA_ADDRESS_CLAIMS = ("street_address", "locality", "region", "postal_code", "country")
OKTA_SUPPORTED_CLAIMS = frozenset(OKTA_TOP_CLAIMS + OKTA_ADDRESS_CLAIMS)

# The order of the fields in Okta's printed PAR example.
PAR_FIELD_ORDER = ("response_type", "client_id", "client_secret", "code_challenge", "code_challenge_method", "scope",
                   "nonce", "claims", "state", "login_hint", "redirect_uri")
TOKEN_FIELD_ORDER = ("grant_type", "client_id", "client_secret", "code", "code_verifier", "redirect_uri")

DOCUMENTED_REASONS = frozenset({
    "CLAIMS_VERIFIED", "IDV_NOT_VERIFIED", "CLAIMS_NOT_VERIFIED", "CLAIM_GIVEN_NAME_NOT_VERIFIED",
    "CLAIM_FAMILY_NAME_NOT_VERIFIED", "PARSING_ERROR", "PARSING_ERROR_GIVENNAME", "PARSING_ERROR_FAMILYNAME", "MISSING",
    "MISSING_GIVENNAME", "MISSING_FAMILYNAME", "RESPONSE_PROCESSING_ERROR", "RESPONSE_PROCESSING_ERROR_PAR",
    "ERROR_RESPONSE", "ERROR_RESPONSE_TOKEN", "EMPTY_USER_ID", "MISSING_CODE_CHALLENGE", "MISSING_APP_INSTANCE",
    "MISSING_AUTH_STATE_TOKEN"})


def is_documented_reason(reason):
    """Whether Okta's guide names this exact System Log reason (the rest are this harness's names in
    Okta's documented families)."""
    return reason in DOCUMENTED_REASONS


def okta_claim_token(name):
    """Okta writes PARSING_ERROR_GIVENNAME and MISSING_FAMILYNAME: the claim name, upper case, no underscores."""
    return name.replace("_", "").upper()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def s256(verifier):
    return b64url(hashlib.sha256(verifier.encode()).digest())


def compact_json(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def is_loopback(url):
    host = urllib.parse.urlparse(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


ISO_8601_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def parse_iso8601(text):
    """A datetime for `YYYY-MM-DDThh:mm[:ss[.f]][Z|±hh:mm]` (naive when there is no offset), else None."""
    if not isinstance(text, str) or not ISO_8601_DATETIME.match(text):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def okta_claims_request(given_name, family_name, extra_claims=None, birthdate_key="birthdate", trust_framework=TRUST_FRAMEWORK):
    """The `claims` parameter Okta sends: one verified_claims entry in an array; every claim {value, fuzzy: true};
    the address parts nested under `address`; empty values left out (Okta omits a mapped, non-required
    attribute that is empty)."""
    claims = {"given_name": {"value": given_name, "fuzzy": True}, "family_name": {"value": family_name, "fuzzy": True}}
    address = {}
    for name, value in (extra_claims or {}).items():
        if name == "address":
            for part, v in value.items():
                if v not in (None, ""):
                    address[part] = {"value": v, "fuzzy": True}
        elif name in OKTA_ADDRESS_CLAIMS:
            if value not in (None, ""):
                address[name] = {"value": value, "fuzzy": True}
        elif value not in (None, ""):
            claims[birthdate_key if name == "birthdate" else name] = {"value": value, "fuzzy": True}
    if address:
        claims["address"] = address
    return {"id_token": {"verified_claims": [{
        "verification": {"trust_framework": {"value": trust_framework, "essential": True},
                         "assurance_level": {"value": "VERIFIED", "essential": True}},
        "claims": claims}]}}


def flatten_claims(claims):
    """{"address": {"locality": x}} → {"address.locality": x}; other members as they are."""
    out = {}
    for name, value in (claims or {}).items():
        if name == "address" and isinstance(value, dict) and not ("value" in value or "fuzzy" in value):
            for part, v in value.items():
                out["address." + part] = v
        else:
            out[name] = value
    return out


def answer_dialect(verified_claims):
    """"okta" when some returned claim is an object carrying `fuzzy`, else "standard"."""
    entries = verified_claims if isinstance(verified_claims, list) else [verified_claims]
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("claims"), dict):
            if any(isinstance(v, dict) and "fuzzy" in v for v in flatten_claims(entry["claims"]).values()):
                return "okta"
    return "standard"


def request_dialect(claims_request):
    vc = ((claims_request or {}).get("id_token") or {}).get("verified_claims")
    entries = vc if isinstance(vc, list) else [vc] if vc else []
    for entry in entries:
        if any(isinstance(v, dict) and "fuzzy" in v for v in flatten_claims((entry or {}).get("claims")).values()):
            return "okta"
    return "standard"


# --------------------------------------------------------------------------------------------------
# OIDC4IDA JSON schemas: loaded from a directory, never vendored (see interop/schema/oidc4ida/README.md)
# --------------------------------------------------------------------------------------------------

IDA_SCHEMA_REPO = "https://github.com/openid/eKYC-IDA"
IDA_SCHEMA_COMMIT = "b4109086d8a186d5ab59375ca6ab7f7ac7e370b5"
IDA_SCHEMA_RAW = "https://raw.githubusercontent.com/openid/eKYC-IDA/{commit}/schema/{name}"
IDA_SCHEMA_SHA256 = {
    "verified_claims.json": "114f55941073db523abb5a930c63eb5f8fd03b4fcf60776ceb48559866325ac8",
    "claims_schema.json": "0762d40910e3c3271d60648449fe8c4fa40eb20376d693223bfa61bd016d71f1",
    "verified_claims_request.json": "11960f62fa655f16a5fb24fe4c5d617d4922519850f863c838714515e46cf39e",
}
IDA_SCHEMA_ENV = "SIGIL_IDA_SCHEMA_DIR"
IDA_SCHEMA_DEFAULT_DIR = os.path.join(HERE, "schema", "oidc4ida")


def _no_network(uri):
    raise RuntimeError(f"schema reference not in the local registry (no network fetch): {uri}")


class IDASchemas:
    """The three WG schema files, a registry of them by $id, and validators (no remote $ref is fetched)."""

    def __init__(self, directory, documents, backend):
        self.directory, self.documents, self.backend = directory, documents, backend
        self.response_id = documents["verified_claims.json"]["$id"]
        self.request_id = documents["verified_claims_request.json"]["$id"]
        if backend == "jsonschema_rs":
            import jsonschema_rs
            registry = jsonschema_rs.Registry([(d["$id"], d) for d in documents.values()])

            def make(schema):
                return jsonschema_rs.Draft202012Validator(schema, registry=registry, retriever=_no_network, validate_formats=False)

            def errors(validator, instance):
                return [f"/{'/'.join(str(p) for p in e.instance_path)}: {e.message}" for e in validator.iter_errors(instance)]
        else:
            from jsonschema import Draft202012Validator
            from referencing import Registry, Resource
            registry = Registry().with_resources([(d["$id"], Resource.from_contents(d)) for d in documents.values()])

            def make(schema):
                return Draft202012Validator(schema, registry=registry)

            def errors(validator, instance):
                return [f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
        self._errors = errors
        self._response = make(documents["verified_claims.json"])
        self._entry = make({"$schema": "https://json-schema.org/draft/2020-12/schema",
                            "$ref": self.response_id + "#/$defs/verified_claims_def"})
        self._request = make(documents["verified_claims_request.json"])

    def response_errors(self, payload):
        """Errors of an object carrying `verified_claims` (an ID token payload, a UserInfo response)
        against verified_claims.json; each array entry is also checked on its own, for readable paths
        (the root's anyOf alone only says "not valid under any")."""
        out = self._errors(self._response, payload)
        vc = payload.get("verified_claims") if isinstance(payload, dict) else None
        entries = vc if isinstance(vc, list) else [vc] if isinstance(vc, dict) else []
        for i, entry in enumerate(entries):
            prefix = f"/verified_claims/{i}" if isinstance(vc, list) else "/verified_claims"
            out += [prefix + e for e in self._errors(self._entry, entry)]
        return out

    def entry_errors(self, entry):
        return self._errors(self._entry, entry)

    def request_errors(self, claims_request):
        return self._errors(self._request, claims_request)


def schema_backend():
    forced = os.environ.get("SIGIL_IDA_SCHEMA_BACKEND")  # "jsonschema_rs" or "jsonschema": to test either
    if forced:
        return forced
    if importlib.util.find_spec("jsonschema_rs"):
        return "jsonschema_rs"
    if importlib.util.find_spec("jsonschema") and importlib.util.find_spec("referencing"):
        return "jsonschema"
    return None


def load_ida_schemas(directory=None, pinned=True):
    """(IDASchemas, "") or (None, why). The directory: the argument, else $SIGIL_IDA_SCHEMA_DIR, else
    interop/schema/oidc4ida/. With pinned, a file whose SHA-256 is not the pinned commit's is refused."""
    directory = directory or os.environ.get(IDA_SCHEMA_ENV) or IDA_SCHEMA_DEFAULT_DIR
    backend = schema_backend()
    if backend is None:
        return None, "no JSON Schema library (jsonschema_rs, or jsonschema + referencing) in this Python"
    documents = {}
    for name, digest in IDA_SCHEMA_SHA256.items():
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            return None, f"{path} missing (get the schemas with --fetch-ida-schemas DIR and set {IDA_SCHEMA_ENV})"
        with open(path, "rb") as f:
            raw = f.read()
        if pinned and hashlib.sha256(raw).hexdigest() != digest:
            return None, f"{path}: SHA-256 {hashlib.sha256(raw).hexdigest()} is not openid/eKYC-IDA@{IDA_SCHEMA_COMMIT[:8]}'s {digest}"
        documents[name] = json.loads(raw)
    return IDASchemas(directory, documents, backend), ""


def fetch_ida_schemas(directory, commit=IDA_SCHEMA_COMMIT, session=None):
    """Downloads the three schema files of openid/eKYC-IDA at `commit` into `directory`, checking the
    pinned SHA-256 (for the pinned commit). For CI; nothing here runs it."""
    session = session or requests.Session()
    contents = {}
    for name, digest in IDA_SCHEMA_SHA256.items():
        r = session.get(IDA_SCHEMA_RAW.format(commit=commit, name=name), timeout=30)
        r.raise_for_status()
        if commit == IDA_SCHEMA_COMMIT and hashlib.sha256(r.content).hexdigest() != digest:
            raise RuntimeError(f"{name}: SHA-256 {hashlib.sha256(r.content).hexdigest()} != pinned {digest}")
        contents[name] = r.content
    os.makedirs(directory, exist_ok=True)  # written only once all three verified
    for name, content in contents.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(content)
    return directory


# --------------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------------

class Verdict:
    def __init__(self):
        self.reasons, self.details, self.warnings = [], [], []
        self.extra = {}

    def fail(self, reason, detail=""):
        if reason not in self.reasons:
            self.reasons.append(reason)
        if detail:
            self.details.append(f"{reason}: {detail}")

    def warn(self, text):
        self.warnings.append(text)

    def final(self, verified=False):
        result = "VERIFIED" if verified and not self.reasons else "FAILED"
        reasons = ["CLAIMS_VERIFIED"] if result == "VERIFIED" else (self.reasons or ["IDV_NOT_VERIFIED"])
        out = {"result": result, "reasons": reasons, "details": self.details, "warnings": self.warnings}
        out.update(self.extra)
        return out


@dataclasses.dataclass
class PendingVerification:
    """One PAR as Okta sent it, and what came back."""
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    claims_request: dict
    dialect: str
    sent_trust_framework: object
    content_type: str = ""
    body: bytes = b""
    response: object = None
    request_uri: str = ""
    expires_in: object = None
    reasons: list = dataclasses.field(default_factory=list)
    problems: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)

    @property
    def ok(self):
        return bool(self.request_uri) and not self.reasons and not self.problems

    @property
    def verdict(self):
        """The verdict of a PAR Okta could not use (FAILED), or None."""
        if not self.reasons:
            return None
        return {"result": "FAILED", "reasons": list(self.reasons), "details": list(self.problems), "warnings": list(self.warnings)}


class OktaIDVClient:
    """Okta's side of BYO IDV: PAR, the browser redirect, the callback, the token request, the evaluation."""

    def __init__(self, issuer, par_url, authorize_url, token_url, jwks_url, client_id, client_secret, okta_host=OKTA_HOST,
                 session=None, timeout=10, require_time=True, strict_claims=True, leeway=5, schemas=None):
        self.issuer, self.par_url, self.authorize_endpoint = issuer, par_url, authorize_url
        self.token_url, self.jwks_url = token_url, jwks_url
        self.client_id, self.client_secret, self.okta_host = client_id, client_secret, okta_host
        self.callback_url = f"https://{okta_host}{CALLBACK_PATH}"
        self.http = session or requests.Session()
        self.timeout, self.require_time, self.strict_claims, self.leeway = timeout, require_time, strict_claims, leeway
        self.schemas = schemas
        self.pending = {}
        self.last = None

    # --- PAR ---------------------------------------------------------------------------------------

    def par(self, given_name, family_name, login_hint, extra_claims=None, flow=None, **options):
        """Okta's PAR. extra_claims: middle_name, email, birthdate, phone_number, address (a dict of
        street_address, locality, region, postal_code, country; flat names are nested as Okta does).
        flow: the idv_flow id (scope idv_flow_<flow>). Options: see par_with_claims."""
        if not given_name or not family_name:
            # Okta fails before sending when a required mapped attribute is empty.
            pending = self._new_pending({}, options.get("redirect_uri"))
            pending.reasons.append("MISSING_GIVENNAME" if not given_name else "MISSING_FAMILYNAME")
            return pending
        claims = okta_claims_request(given_name, family_name, extra_claims, options.pop("birthdate_key", "birthdate"))
        return self.par_with_claims(claims, login_hint, flow, **options)

    def par_bithdate(self, given_name, family_name, login_hint, extra_claims=None, flow=None, **options):
        """Okta's printed example: `bithdate` for `birthdate` (extra_claims should carry a birthdate)."""
        return self.par(given_name, family_name, login_hint, extra_claims, flow, birthdate_key="bithdate", **options)

    def par_json_body(self, given_name, family_name, login_hint, extra_claims=None, flow=None,
                      content_type="application/json", **options):
        """Okta's printed body: one JSON object with `claims` as an object, under `content_type`
        (application/json as one past version of the guide's curl; application/x-www-form-urlencoded as the
        guide's literal)."""
        return self.par(given_name, family_name, login_hint, extra_claims, flow, encoding="json", content_type=content_type, **options)

    def par_with_claims(self, claims_request, login_hint=OKTA_USER_ID, flow=None, *, redirect_uri=None, encoding="form",
                        content_type=None, client_auth="post", overrides=None, omit=()):
        """A PAR with any `claims` request. encoding: "form" (claims a JSON string) or "json" (one JSON
        object). client_auth: "post" (Okta) or "basic". overrides: fields to replace or add; omit: fields
        to leave out (negative tests)."""
        pending = self._new_pending(claims_request, redirect_uri)
        if not login_hint:
            pending.reasons.append("EMPTY_USER_ID")  # Okta does not send a PAR without the user's id
            return pending
        scope = SCOPE + (f" idv_flow_{flow}" if flow else "")
        values = {"response_type": "code", "client_id": self.client_id, "client_secret": self.client_secret,
                  "code_challenge": s256(pending.code_verifier), "code_challenge_method": "S256", "scope": scope,
                  "nonce": pending.nonce, "claims": claims_request, "state": pending.state, "login_hint": login_hint,
                  "redirect_uri": pending.redirect_uri}
        fields = [(k, values[k]) for k in PAR_FIELD_ORDER]
        headers = {"Accept": "application/json"}
        if client_auth == "basic":
            fields = [(k, v) for k, v in fields if k != "client_secret"]
            creds = f"{urllib.parse.quote(self.client_id, safe='')}:{urllib.parse.quote(self.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(creds.encode()).decode()
        for key, value in (overrides or {}).items():
            fields = [(k, value if k == key else v) for k, v in fields] if any(k == key for k, _ in fields) else fields + [(key, value)]
        fields = [(k, v) for k, v in fields if k not in omit]
        if encoding == "json":
            body = json.dumps(dict(fields), ensure_ascii=False).encode()
            pending.content_type = content_type or "application/json"
        else:
            body = urllib.parse.urlencode([(k, compact_json(v) if isinstance(v, (dict, list)) else v) for k, v in fields]).encode()
            pending.content_type = content_type or "application/x-www-form-urlencoded"
        headers["Content-Type"] = pending.content_type
        pending.body = body
        try:
            r = self.http.post(self.par_url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as error:
            pending.reasons.append("RESPONSE_PROCESSING_ERROR_PAR")
            pending.problems.append(f"PAR request failed: {error!r}")
            return pending
        pending.response = r
        self._read_par_response(r, pending)
        if pending.request_uri:
            self.pending[pending.state] = pending
        return pending

    def _new_pending(self, claims_request, redirect_uri):
        entries = ((claims_request or {}).get("id_token") or {}).get("verified_claims")
        first = entries[0] if isinstance(entries, list) and entries else entries if isinstance(entries, dict) else {}
        tf = ((first or {}).get("verification") or {}).get("trust_framework")
        pending = PendingVerification(
            state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24), code_verifier=secrets.token_urlsafe(48),
            redirect_uri=redirect_uri or self.callback_url, claims_request=claims_request, dialect=request_dialect(claims_request),
            sent_trust_framework=tf.get("value") if isinstance(tf, dict) else tf)
        self.last = pending
        return pending

    def _read_par_response(self, r, p):
        body = None
        try:
            body = r.json()
        except ValueError:
            pass
        if r.status_code != 201:
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                p.reasons.append("ERROR_RESPONSE_PAR")
                p.problems.append(f"PAR {r.status_code} error={body['error']} {body.get('error_description', '')}".strip())
            else:
                p.reasons.append("RESPONSE_PROCESSING_ERROR_PAR")
                p.problems.append(f"PAR answered {r.status_code}, not 201: {r.text[:200]}")
            return
        if not r.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/json" or not isinstance(body, dict):
            p.reasons.append("RESPONSE_PROCESSING_ERROR_PAR")
            p.problems.append(f"PAR 201 is not a JSON object ({r.headers.get('Content-Type')})")
            return
        request_uri, expires_in = body.get("request_uri"), body.get("expires_in")
        if not isinstance(request_uri, str) or not request_uri:
            p.reasons.append("RESPONSE_PROCESSING_ERROR_PAR")
            p.problems.append(f"no request_uri: {body}")
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            p.reasons.append("RESPONSE_PROCESSING_ERROR_PAR")
            p.problems.append(f"expires_in is not a positive integer: {expires_in!r}")
        if p.reasons:
            return
        p.request_uri, p.expires_in = request_uri, expires_in
        if not request_uri.startswith("urn:ietf:params:oauth:request_uri:"):
            p.warnings.append(f"request_uri is not in the urn:ietf:params:oauth:request_uri: namespace (RFC 9126 MAY): {request_uri}")
        cache = [d.strip().lower() for d in r.headers.get("Cache-Control", "").split(",")]
        if "no-store" not in cache:
            p.problems.append(f"PAR response Cache-Control lacks no-store: {r.headers.get('Cache-Control')!r}")
        if "no-cache" not in cache:
            p.warnings.append(f"PAR response Cache-Control lacks no-cache (Okta's example has 'no-cache, no-store'): {r.headers.get('Cache-Control')!r}")

    # --- the browser leg ---------------------------------------------------------------------------

    def authorize_url(self, request_uri):
        """What Okta sends the browser to: only request_uri."""
        request_uri = getattr(request_uri, "request_uri", request_uri)
        return self.authorize_endpoint + "?" + urllib.parse.urlencode({"request_uri": request_uri})

    def authorize_url_with_client_id(self, request_uri):
        request_uri = getattr(request_uri, "request_uri", request_uri)
        return self.authorize_endpoint + "?" + urllib.parse.urlencode({"client_id": self.client_id, "request_uri": request_uri})

    def follow_authorize(self, url, max_hops=10):
        """For an auto-approving IDV (the fake): GET url and follow redirects until one points at Okta's
        callback. Returns (callback URL or None, last response). Sigil's capture step needs a browser."""
        r = None
        for _ in range(max_hops):
            r = self.http.get(url, allow_redirects=False, timeout=self.timeout)
            location = r.headers.get("Location")
            if r.status_code not in (301, 302, 303, 307, 308) or not location:
                return None, r
            url = urllib.parse.urljoin(url, location)
            if urllib.parse.urlparse(url).path == CALLBACK_PATH:
                return url, r
        return None, r

    def callback(self, url, pending=None):
        """Okta's callback: {"ok", "code", "state", "error", "pending", "verdict" (FAILED when not ok)}."""
        parsed = urllib.parse.urlparse(url or "")
        query = urllib.parse.parse_qs(parsed.query)
        q = {k: v[0] for k, v in query.items()}
        pending = pending or self.pending.get(q.get("state"))
        v = Verdict()
        base = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
        expected = pending.redirect_uri if pending else self.callback_url
        if base != expected:
            v.fail("RESPONSE_PROCESSING_ERROR_CALLBACK", f"redirected to {base}, not {expected}")
        if any(len(vs) > 1 for vs in query.values()):
            v.fail("RESPONSE_PROCESSING_ERROR_CALLBACK", f"repeated parameters: {sorted(k for k, vs in query.items() if len(vs) > 1)}")
        if not q.get("state") or pending is None or not hmac.compare_digest(q.get("state", ""), pending.state):
            v.fail("MISSING_AUTH_STATE_TOKEN", f"state {q.get('state')!r} is not Okta's")
        if "iss" in q and q["iss"] != self.issuer:
            v.fail("RESPONSE_PROCESSING_ERROR_ISSUER", f"callback iss {q['iss']!r} != {self.issuer!r} (RFC 9207)")
        if q.get("error"):
            v.fail("ERROR_RESPONSE_AUTHORIZE", f"error={q['error']} error_description={q.get('error_description', '')}")
        elif not q.get("code"):
            v.fail("MISSING_CODE", "callback without code or error")
        out = {"ok": not v.reasons, "code": q.get("code"), "state": q.get("state"), "error": q.get("error"), "pending": pending, "verdict": None}
        if v.reasons:
            out["verdict"] = v.final()
        return out

    # --- token and evaluation ----------------------------------------------------------------------

    def token(self, code, pending=None):
        """Okta's token request and evaluation: the verdict."""
        pending = pending or self.last
        v = Verdict()
        form = [("grant_type", "authorization_code"), ("client_id", self.client_id), ("client_secret", self.client_secret),
                ("code", code or ""), ("code_verifier", pending.code_verifier), ("redirect_uri", pending.redirect_uri)]
        try:
            r = self.http.post(self.token_url, data=urllib.parse.urlencode(form).encode(), timeout=self.timeout, allow_redirects=False,
                               headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        except requests.RequestException as error:
            v.fail("RESPONSE_PROCESSING_ERROR_TOKEN", repr(error))
            return v.final()
        try:
            body = r.json()
        except ValueError:
            body = None
        v.extra["token_response"] = body if isinstance(body, dict) else r.text[:500]
        if r.status_code != 200:
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                v.fail("ERROR_RESPONSE_TOKEN", f"{r.status_code} error={body['error']} {body.get('error_description', '')}".strip())
            else:
                v.fail("RESPONSE_PROCESSING_ERROR_TOKEN", f"{r.status_code}: {r.text[:200]}")
            return v.final()
        if not isinstance(body, dict):
            v.fail("RESPONSE_PROCESSING_ERROR_TOKEN", f"not a JSON object: {r.text[:200]}")
            return v.final()
        if "no-store" not in r.headers.get("Cache-Control", "").lower():
            v.warn(f"token response Cache-Control lacks no-store (RFC 6749 §5.1): {r.headers.get('Cache-Control')!r}")
        if not isinstance(body.get("id_token"), str) or not body.get("id_token"):
            v.fail("MISSING_ID_TOKEN", f"token response members: {sorted(body)}")
        expires_in = body.get("expires_in")
        if expires_in is None:
            v.fail("MISSING_EXPIRES_IN", "Okta requires expires_in (the ID token's lifetime)")
        elif not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            v.fail("PARSING_ERROR_EXPIRES_IN", repr(expires_in))
        if "access_token" not in body:
            v.warn("no access_token (RFC 6749 §5.1 requires one; Okta does not use it)")
        if str(body.get("token_type", "")).lower() != "bearer":
            v.warn(f"token_type {body.get('token_type')!r}, Okta's example has Bearer")
        if "MISSING_ID_TOKEN" in v.reasons:
            return v.final()
        return self.evaluate_id_token(body["id_token"], pending, v)

    def jwks(self):
        r = self.http.get(self.jwks_url, timeout=self.timeout)
        r.raise_for_status()
        keys = r.json().get("keys")
        if not isinstance(keys, list):
            raise ValueError("JWKS without a keys array")
        return keys

    def verify_signature(self, id_token, v):
        """RS256 with a kid that is in the JWKS. Returns (header, payload) or (header, None)."""
        parts = id_token.split(".")
        if len(parts) != 3:
            v.fail("PARSING_ERROR_ID_TOKEN", f"{len(parts)} parts, not a compact JWS")
            return {}, None
        try:
            header = json.loads(b64url_decode(parts[0]))
            payload = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError) as error:
            v.fail("PARSING_ERROR_ID_TOKEN", repr(error))
            return {}, None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            v.fail("PARSING_ERROR_ID_TOKEN", "header or payload is not a JSON object")
            return {}, None
        v.extra["id_token_header"] = header
        if header.get("alg") != "RS256":
            v.fail("RESPONSE_PROCESSING_ERROR_SIGNATURE", f"alg {header.get('alg')!r}, not RS256")
            return header, None
        if not header.get("kid"):
            v.fail("RESPONSE_PROCESSING_ERROR_SIGNATURE", "no kid in the header")
            return header, None
        try:
            keys = self.jwks()
        except (requests.RequestException, ValueError) as error:
            v.fail("RESPONSE_PROCESSING_ERROR_JWKS", repr(error))
            return header, None
        jwk = next((k for k in keys if isinstance(k, dict) and k.get("kid") == header["kid"]), None)
        if jwk is None or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            v.fail("RESPONSE_PROCESSING_ERROR_SIGNATURE", f"kid {header['kid']!r} is not an RS256 signing key in the JWKS")
            return header, None
        try:
            key = rsa.RSAPublicNumbers(int.from_bytes(b64url_decode(jwk["e"]), "big"), int.from_bytes(b64url_decode(jwk["n"]), "big")).public_key()
            key.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, KeyError, ValueError) as error:
            v.fail("RESPONSE_PROCESSING_ERROR_SIGNATURE", f"signature does not verify with kid {header['kid']!r}: {error!r}")
            return header, None
        return header, payload

    def evaluate_id_token(self, id_token, pending, v=None):
        """Okta's evaluation of an ID token (signature, iss, aud, exp, iat, nonce, sub, then verified_claims)."""
        v = v or Verdict()
        header, claims = self.verify_signature(id_token, v)
        if claims is None:
            return v.final()
        v.extra["id_token_claims"] = claims
        now = time.time()
        iss = claims.get("iss")
        if iss != self.issuer:
            v.fail("RESPONSE_PROCESSING_ERROR_ISSUER", f"iss {iss!r} != configured issuer {self.issuer!r}")
        elif urllib.parse.urlparse(iss).scheme != "https":
            if is_loopback(iss):
                v.warn(f"issuer {iss} is not https (Okta requires https; accepted on loopback for local runs)")
            else:
                v.fail("RESPONSE_PROCESSING_ERROR_ISSUER", f"iss {iss!r} is not an https URL")
        aud = claims.get("aud")
        if aud != self.client_id and not (isinstance(aud, list) and self.client_id in aud):
            v.fail("RESPONSE_PROCESSING_ERROR_AUDIENCE", f"aud {aud!r} != client_id {self.client_id!r}")
        elif isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client_id:
            v.warn(f"several audiences {aud} and azp {claims.get('azp')!r}")
        for name in ("exp", "iat"):
            if name not in claims:
                v.fail(f"MISSING_{name.upper()}", f"no {name}")
            elif not isinstance(claims[name], (int, float)) or isinstance(claims[name], bool):
                v.fail(f"PARSING_ERROR_{name.upper()}", repr(claims[name]))
        if isinstance(claims.get("exp"), (int, float)) and not isinstance(claims["exp"], bool) and claims["exp"] <= now - self.leeway:
            v.fail("RESPONSE_PROCESSING_ERROR_EXPIRED", f"exp {claims['exp']} is not in the future (now {int(now)})")
        if isinstance(claims.get("iat"), (int, float)) and not isinstance(claims["iat"], bool) and claims["iat"] > now + self.leeway:
            v.fail("RESPONSE_PROCESSING_ERROR_IAT", f"iat {claims['iat']} is in the future (now {int(now)})")
        if "nonce" not in claims:
            v.fail("MISSING_NONCE", "the PAR's nonce is not in the ID token")
        elif not hmac.compare_digest(str(claims["nonce"]), pending.nonce):
            v.fail("RESPONSE_PROCESSING_ERROR_NONCE", "nonce differs from the PAR's")
        if not isinstance(claims.get("sub"), str) or not claims.get("sub"):
            v.fail("MISSING_SUB", f"sub {claims.get('sub')!r}")
        registered = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash", "sid", "jti", "verified_claims"}
        extra = sorted(set(claims) - registered)
        if extra:
            v.warn(f"ID token members outside the OIDC registered set and verified_claims: {extra}")
        if pending.dialect == "okta":
            verified = self._evaluate_okta(claims, pending, v)
        else:
            verified = self._evaluate_standard(claims, v)
        return v.final(verified)

    def _schema_report(self, claims, dialect):
        if self.schemas is None:
            return {"checked": False, "dialect": dialect, "why": "no schemas loaded (OktaIDVClient(schemas=load_ida_schemas()[0]))"}
        vc = claims.get("verified_claims")
        report = {"checked": True, "dialect": dialect, "errors": self.schemas.response_errors({"verified_claims": vc})}
        report["valid"] = not report["errors"]
        if dialect == "okta":
            entries = vc if isinstance(vc, list) else [vc]
            report["verification_errors"] = [e for entry in entries if isinstance(entry, dict)
                                             for e in self.schemas.entry_errors({"verification": entry.get("verification"), "claims": {}})]
            report["note"] = "Okta dialect: claims are {value, fuzzy} objects outside OIDC4IDA's schema; judged by Okta's rules"
        return report

    @staticmethod
    def _rules_report(claims, dialect):
        """ida_rules.py (the OIDC4IDA text's rules, no schema files needed): always computed. For the
        Okta dialect, as with the schema, only the `verification` element is held to the rules."""
        vc = claims.get("verified_claims")
        report = {"dialect": dialect, "errors": ida_rules.validate_verified_claims(vc)}
        report["valid"] = not report["errors"]
        if dialect == "okta":
            entries = vc if isinstance(vc, list) else [vc]
            report["verification_errors"] = [e for i, entry in enumerate(entries) if isinstance(entry, dict)
                                             for e in ida_rules.validate_verification(entry.get("verification"), f"/verified_claims/{i}/verification")]
        return report

    def _evaluate_standard(self, claims, v):
        """A standard OIDC4IDA answer: verified_claims present and valid under the IDA rules (ida_rules.py)
        and against the WG's schema (when the schemas are there)."""
        vc = claims.get("verified_claims")
        v.extra["verified_claims"] = vc
        if vc is None:
            v.fail("MISSING_VERIFIED_CLAIMS", "no verified_claims (IDA: nothing verified, or a restriction unmet)")
            return False
        v.extra["rules"] = rules = self._rules_report(claims, answer_dialect(vc))
        if not rules["valid"]:
            v.fail("IDA_RULES_INVALID", "; ".join(rules["errors"][:5]))
        report = self._schema_report(claims, answer_dialect(vc))
        v.extra["schema"] = report
        if not report["checked"]:
            v.warn("standard answer not checked against the OIDC4IDA schema: " + report["why"])
        elif not report["valid"]:
            v.fail("IDA_SCHEMA_INVALID", "; ".join(report["errors"][:5]))
        return True

    def _evaluate_okta(self, claims, pending, v):
        vc = claims.get("verified_claims")
        v.extra["verified_claims"] = vc
        if vc is None:
            v.fail("MISSING_VERIFIED_CLAIMS", "no verified_claims in the ID token")
            return False
        v.extra["schema"] = self._schema_report(claims, answer_dialect(vc))
        if v.extra["schema"].get("verification_errors"):
            v.warn("verification element against the OIDC4IDA schema: " + "; ".join(v.extra["schema"]["verification_errors"]))
        # Okta's deviations from IDA (claims as {value, fuzzy}, assurance_level null, time without TZD)
        # are Okta's documented shapes: the rules' findings on `verification` are warnings here.
        v.extra["rules"] = self._rules_report(claims, answer_dialect(vc))
        if v.extra["rules"].get("verification_errors"):
            v.warn("verification element under the OIDC4IDA rules (ida_rules.py): " + "; ".join(v.extra["rules"]["verification_errors"]))
        if not isinstance(vc, list):
            v.fail("PARSING_ERROR_VERIFIED_CLAIMS", f"verified_claims is a {type(vc).__name__}, Okta requires an array")
            return False
        if not vc:
            v.fail("MISSING_VERIFIED_CLAIMS", "verified_claims is an empty array")
            return False
        if len(vc) > 1:
            v.warn(f"{len(vc)} verified_claims entries; Okta sent one and reads the first")
        entry = vc[0]
        if not isinstance(entry, dict):
            v.fail("PARSING_ERROR_VERIFIED_CLAIMS", f"entry is {entry!r}")
            return False
        verification = entry.get("verification")
        if not isinstance(verification, dict):
            v.fail("MISSING_VERIFICATION" if verification is None else "PARSING_ERROR_VERIFICATION", repr(verification))
            return False
        verified = True
        if "trust_framework" not in verification:
            v.fail("MISSING_TRUST_FRAMEWORK")
            verified = False
        elif verification["trust_framework"] != pending.sent_trust_framework:
            v.fail("UNEXPECTED_TRUST_FRAMEWORK", f"{verification['trust_framework']!r}, PAR sent {pending.sent_trust_framework!r}")
            verified = False
        if "assurance_level" not in verification:
            v.fail("MISSING_ASSURANCE_LEVEL")
            verified = False
        elif verification["assurance_level"] in ("FAILED", None):
            v.fail("CLAIMS_NOT_VERIFIED", f"assurance_level {verification['assurance_level']!r}")
            verified = False
        elif verification["assurance_level"] != "VERIFIED":
            v.fail("UNEXPECTED_ASSURANCE_LEVEL", repr(verification["assurance_level"]))
            verified = False
        if "time" not in verification:
            if self.require_time:
                v.fail("MISSING_TIME", "Okta's ID token table requires verification.time")
            else:
                v.warn("no verification.time")
        else:
            when = parse_iso8601(verification["time"])
            if when is None:
                v.fail("PARSING_ERROR_TIME", f"{verification['time']!r} is not ISO 8601 date-time")
            elif when.tzinfo is None:
                v.warn(f"time {verification['time']!r} has no UTC offset (Okta's example does this; IDA requires TZD)")
            elif when.timestamp() > time.time() + 60:
                v.warn(f"time {verification['time']!r} is in the future")
        if "verification_process" in verification and not isinstance(verification["verification_process"], str):
            v.fail("PARSING_ERROR_VERIFICATION_PROCESS", repr(verification["verification_process"]))
        returned = entry.get("claims")
        if returned is None:
            v.fail("MISSING_CLAIMS", "the entry has no claims object")
            return False
        if not isinstance(returned, dict):
            v.fail("PARSING_ERROR_CLAIMS", repr(returned))
            return False
        requested = {}
        sent = ((pending.claims_request.get("id_token") or {}).get("verified_claims") or [{}])
        if isinstance(sent, list) and sent:
            requested = flatten_claims((sent[0] or {}).get("claims"))
        if not returned:
            v.warn("empty claims object (IDA minimum conformant): every claim follows assurance_level")
            if verification.get("assurance_level") != "VERIFIED":
                for name in requested:
                    v.fail(f"CLAIM_{name.split('.')[-1].upper()}_NOT_VERIFIED", "empty claims and not VERIFIED")
            return verified
        not_verified = []
        for name, value in returned.items():
            if name == "address":
                if not isinstance(value, dict):
                    v.fail("PARSING_ERROR_ADDRESS", f"address is {value!r}")
                    continue
                for part, sub in value.items():
                    if part not in OKTA_ADDRESS_CLAIMS:
                        v.fail(f"UNSUPPORTED_CLAIM_{part.upper()}", f"address.{part} is not in Okta's supported claims")
                    elif not self._okta_claim(part, sub, requested.get("address." + part), v):
                        not_verified.append(part)
            elif name in OKTA_ADDRESS_CLAIMS:
                v.warn(f"{name} returned flat; Okta's examples nest it under address")
                if not self._okta_claim(name, value, requested.get("address." + name), v):
                    not_verified.append(name)
            elif name in OKTA_TOP_CLAIMS:
                if not self._okta_claim(name, value, requested.get(name), v):
                    not_verified.append(name)
            else:
                v.fail(f"UNSUPPORTED_CLAIM_{name.upper()}", f"{name} is not in Okta's supported claims")
        for name in ("given_name", "family_name"):
            if name not in returned:
                v.fail(f"MISSING_{okta_claim_token(name)}", f"{name} not returned (Okta: always include given_name and family_name)")
        # Paths as the request has them: address parts under "address.", flat or nested.
        returned_paths = set()
        for name, value in returned.items():
            if name == "address" and isinstance(value, dict):
                returned_paths |= {"address." + part for part in value}
            else:
                returned_paths.add("address." + name if name in OKTA_ADDRESS_CLAIMS else name)
        for name in requested:
            if name not in returned_paths and name not in ("given_name", "family_name"):
                v.warn(f"requested claim {name} not returned")
        for name in sorted(returned_paths - set(requested)):
            if name.split(".")[-1] in OKTA_SUPPORTED_CLAIMS:
                v.warn(f"claim {name} returned but not requested")
        if not_verified:
            v.fail("CLAIMS_NOT_VERIFIED", f"not verified: {not_verified}")
            for name in not_verified:
                v.fail(f"CLAIM_{name.upper()}_NOT_VERIFIED")
            verified = False
        return verified

    def _okta_claim(self, name, obj, requested_spec, v):
        """One returned claim in Okta's dialect. True: verified; False: value null (not verified).
        A malformed claim fails with PARSING_ERROR_<NAME> and counts as verified here (it already fails)."""
        token = okta_claim_token(name)
        if isinstance(obj, dict) and "value" in obj and obj.get("fuzzy") is True and set(obj) <= {"value", "fuzzy"}:
            value = obj["value"]
        elif isinstance(obj, dict) and "value" in obj and obj.get("fuzzy") is True:
            v.warn(f"{name} carries members besides value and fuzzy: {sorted(set(obj) - {'value', 'fuzzy'})}")
            value = obj["value"]
        elif not self.strict_claims and (obj is None or isinstance(obj, str)):
            v.warn(f"{name} returned as a plain {'null' if obj is None else 'string'} (older Okta examples), not {{value, fuzzy}}")
            value = obj
        elif not self.strict_claims and isinstance(obj, dict) and set(obj) == {"fuzzy"} and isinstance(obj["fuzzy"], str):
            v.warn(f"{name} returned as {{\"fuzzy\": <value>}} (older Okta examples)")
            value = obj["fuzzy"]
        else:
            what = "no fuzzy: true" if isinstance(obj, dict) and "value" in obj else "not a {value, fuzzy: true} object"
            v.fail(f"PARSING_ERROR_{token}", f"{name}: {what}: {obj!r}")
            return True
        if value is None:
            return False
        if not isinstance(value, str):
            v.fail(f"PARSING_ERROR_{token}", f"{name} value is {type(value).__name__}, not a string")
            return True
        if value == "MATCHED":
            return True
        if name == "birthdate":
            try:
                datetime.date.fromisoformat(value)
                ok = re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
            except ValueError:
                ok = False
            if not ok:
                v.fail(f"PARSING_ERROR_{token}", f"birthdate {value!r} is not YYYY-MM-DD")
        elif name == "phone_number" and not re.fullmatch(r"\+[1-9]\d{1,14}", value):
            v.fail(f"PARSING_ERROR_{token}", f"phone_number {value!r} is not E.164")
        elif name == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
            v.fail(f"PARSING_ERROR_{token}", f"email {value!r}")
        if isinstance(requested_spec, dict) and requested_spec.get("value") not in (None, value):
            v.warn(f"{name}: returned {value!r} for expected {requested_spec.get('value')!r} (fuzzy match)")
        return True


# --------------------------------------------------------------------------------------------------
# FAKE IDV SERVER, for --self-test only. It is not Sigil and not a reference implementation: just
# enough of RFC 9126 + the authorization code flow + Okta's answer shapes to exercise the client.
# --------------------------------------------------------------------------------------------------

class FakeIDV:
    """A FAKE IDV vendor on 127.0.0.1 (stdlib http.server). `scenario` (set before each PAR) picks the
    answer: verified, failed, failed_null_assurance, cancel, wrong_nonce, unsupported_claim, echo_bithdate,
    matched, empty_claims, no_time, local_time, wrong_trust_framework, object_not_array, plain_values,
    bad_signature, unknown_kid, hs256, wrong_aud, expired, iat_future, wrong_iss, no_expires_in,
    verified_with_null, flat_address, standard_broken. A request without `fuzzy` claims gets a
    standard OIDC4IDA answer."""

    def __init__(self, okta_host=OKTA_HOST):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "fake-" + secrets.token_hex(4)
        self.client_id = "0oafake" + secrets.token_hex(6)
        self.client_secret = secrets.token_urlsafe(32)
        self.redirect_uris = {f"https://{okta_host}{CALLBACK_PATH}", f"https://{OKTA_CUSTOM_HOST}{CALLBACK_PATH}"}
        self.scenario = "verified"
        self.pars, self.codes = {}, {}
        self.seen_par, self.seen_token, self.seen_authorize = [], [], []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.handle(self, "GET")

            def do_POST(self):
                fake.handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- plumbing ---

    @staticmethod
    def send(handler, status, body=None, headers=None):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
        handler.send_response(status)
        for k, val in (headers or {}).items():
            handler.send_header(k, val)
        if isinstance(body, (dict, list)):
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def oauth_error(self, handler, status, error, description):
        self.send(handler, status, {"error": error, "error_description": description}, {"Cache-Control": "no-cache, no-store"})

    def handle(self, handler, method):
        url = urllib.parse.urlparse(handler.path)
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) if method == "POST" else b""
        routes = {("POST", "/oauth2/par"): self.par, ("GET", "/oauth2/idv-authorize"): self.authorize,
                  ("POST", "/oauth2/token"): self.token, ("GET", "/oauth2/jwks"): self.jwks}
        route = routes.get((method, url.path))
        if route is None:
            return self.send(handler, 404, {"error": "not_found"})
        with self.lock:
            route(handler, url, body)

    def client_auth(self, handler, params):
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            cid, secret = urllib.parse.unquote(cid), urllib.parse.unquote(secret)
        else:
            cid, secret = params.get("client_id"), params.get("client_secret")
        ok = cid == self.client_id and isinstance(secret, str) and hmac.compare_digest(secret, self.client_secret)
        if ok and params.get("client_id") not in (None, self.client_id):
            ok = False
        return ok

    # --- endpoints ---

    def par(self, handler, url, body):
        ctype = handler.headers.get("Content-Type", "")
        self.seen_par.append({"content_type": ctype, "body": body, "authorization": handler.headers.get("Authorization")})
        if "application/json" in ctype or body.lstrip().startswith(b"{"):
            try:
                params = json.loads(body)  # Okta's printed JSON body, tolerated
            except ValueError:
                return self.oauth_error(handler, 400, "invalid_request", "body is not JSON")
        else:
            pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
            if len({k for k, _ in pairs}) != len(pairs):
                return self.oauth_error(handler, 400, "invalid_request", "repeated parameter")
            params = dict(pairs)
        if not self.client_auth(handler, params):
            return self.oauth_error(handler, 401, "invalid_client", "client authentication failed")
        if "request_uri" in params:
            return self.oauth_error(handler, 400, "invalid_request", "request_uri is not allowed at the PAR endpoint")
        if params.get("response_type") != "code":
            return self.oauth_error(handler, 400, "invalid_request", "response_type must be code")
        if params.get("redirect_uri") not in self.redirect_uris:
            return self.oauth_error(handler, 400, "invalid_request", "The redirect_uri is not valid for the given client")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return self.oauth_error(handler, 400, "invalid_request", "PKCE S256 required")
        if "openid" not in str(params.get("scope", "")).split():
            return self.oauth_error(handler, 400, "invalid_scope", "openid required")
        if not params.get("login_hint"):
            return self.oauth_error(handler, 400, "invalid_request", "login_hint (the Okta user id) required")
        claims = params.get("claims")
        if isinstance(claims, str):
            try:
                claims = json.loads(claims)
            except ValueError:
                return self.oauth_error(handler, 400, "invalid_request", "claims is not JSON")
        request_uri = "urn:ietf:params:oauth:request_uri:" + secrets.token_urlsafe(24)
        self.pars[request_uri] = {"params": params, "claims": claims or {}, "expires": time.time() + 60, "used": False,
                                  "scenario": self.scenario}
        self.send(handler, 201, {"request_uri": request_uri, "expires_in": 60}, {"Cache-Control": "no-cache, no-store"})

    def authorize(self, handler, url, body):
        q = dict(urllib.parse.parse_qsl(url.query))
        self.seen_authorize.append(q)
        rec = self.pars.get(q.get("request_uri", ""))
        # The redirect URI cannot be trusted without a live PAR record: answer here, do not redirect.
        if rec is None or rec["used"] or rec["expires"] < time.time():
            return self.send(handler, 400, b"invalid_request: request_uri unknown, used or expired", {"Content-Type": "text/plain"})
        if q.get("client_id") not in (None, rec["params"].get("client_id", self.client_id)):
            return self.send(handler, 400, b"invalid_request: client_id does not match the pushed request", {"Content-Type": "text/plain"})
        rec["used"] = True
        params = rec["params"]
        if rec["scenario"] == "cancel":
            answer = {"error": "access_denied", "error_description": "The user cancelled the verification", "state": params["state"]}
        else:
            code = secrets.token_urlsafe(24)
            self.codes[code] = {"rec": rec, "used": False, "expires": time.time() + 60}
            answer = {"code": code, "state": params["state"]}
        answer["iss"] = self.issuer
        self.send(handler, 302, b"", {"Location": params["redirect_uri"] + "?" + urllib.parse.urlencode(answer)})

    def token(self, handler, url, body):
        self.seen_token.append({"content_type": handler.headers.get("Content-Type", ""), "body": body})
        params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        if not self.client_auth(handler, params):
            return self.oauth_error(handler, 401, "invalid_client", "client authentication failed")
        if params.get("grant_type") != "authorization_code":
            return self.oauth_error(handler, 400, "unsupported_grant_type", "authorization_code only")
        grant = self.codes.get(params.get("code", ""))
        if grant is None or grant["used"] or grant["expires"] < time.time():
            return self.oauth_error(handler, 400, "invalid_grant", "code unknown, used or expired")
        grant["used"] = True
        rec = grant["rec"]
        if params.get("redirect_uri") != rec["params"]["redirect_uri"]:
            return self.oauth_error(handler, 400, "invalid_grant", "redirect_uri differs")
        if s256(params.get("code_verifier", "")) != rec["params"]["code_challenge"]:
            return self.oauth_error(handler, 400, "invalid_grant", "code_verifier does not match")
        scenario = rec["scenario"]
        now = int(time.time())
        payload = {"iss": self.issuer, "sub": "fake-" + hashlib.sha256(rec["params"]["login_hint"].encode()).hexdigest()[:16],
                   "aud": self.client_id, "exp": now + 300, "iat": now, "nonce": rec["params"].get("nonce")}
        vc = self.answer(rec["claims"], scenario)
        if vc is not None:
            payload["verified_claims"] = vc
        payload.update({"wrong_nonce": {"nonce": "not-the-par-nonce"}, "wrong_aud": {"aud": "someone-else"},
                        "expired": {"exp": now - 60, "iat": now - 360}, "iat_future": {"iat": now + 600},
                        "wrong_iss": {"iss": "https://idv.attacker.example"}}.get(scenario, {}))
        answer = {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 300, "id_token": self.sign(payload, scenario)}
        if scenario == "no_expires_in":
            del answer["expires_in"]
        self.send(handler, 200, answer, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def jwks(self, handler, url, body):
        numbers = self.key.public_key().public_numbers()
        jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
               "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")), "e": b64url(numbers.e.to_bytes(3, "big"))}
        self.send(handler, 200, {"keys": [jwk]})

    # --- answers ---

    def sign(self, payload, scenario):
        header = {"alg": "RS256", "typ": "JWT", "kid": "unknown-kid" if scenario == "unknown_kid" else self.kid}
        if scenario == "hs256":
            header = {"alg": "HS256", "typ": "JWT", "kid": self.kid}
        signing_input = b64url(compact_json(header).encode()) + "." + b64url(compact_json(payload).encode())
        if scenario == "hs256":
            signature = hmac.new(self.client_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
        else:
            signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        if scenario == "bad_signature":  # the payload changed after signing
            tampered = dict(payload, sub=payload["sub"] + "x")
            signing_input = signing_input.split(".")[0] + "." + b64url(compact_json(tampered).encode())
        return signing_input + "." + b64url(signature)

    @staticmethod
    def fake_time(local=False):
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        return now.strftime("%Y-%m-%dT%H:%M:%S") + ("" if local else "Z")

    def answer(self, claims_request, scenario):
        entries = (claims_request.get("id_token") or {}).get("verified_claims")
        entries = entries if isinstance(entries, list) else [entries] if isinstance(entries, dict) else []
        if request_dialect(claims_request) != "okta":
            return self.standard_answer(scenario)
        out = [self.okta_entry(entry, scenario) for entry in entries]
        return out[0] if scenario == "object_not_array" and out else out

    def okta_entry(self, entry, scenario):
        requested_tf = ((entry.get("verification") or {}).get("trust_framework") or {}).get("value", TRUST_FRAMEWORK)
        verification = {"trust_framework": "IDV_DELEGATED" if scenario == "wrong_trust_framework" else requested_tf,
                        "assurance_level": {"failed": "FAILED", "failed_null_assurance": None}.get(scenario, "VERIFIED"),
                        "time": self.fake_time(local=scenario == "local_time"), "verification_process": "fake-" + secrets.token_hex(6)}
        if scenario == "no_time":
            del verification["time"]

        def one(name, spec):
            value = spec.get("value") if isinstance(spec, dict) else None
            if scenario == "matched":
                value = "MATCHED"
            if name == "given_name" and scenario in ("failed", "verified_with_null"):
                value = None
            return {"value": value, "fuzzy": True}

        claims = {}
        for name, spec in (entry.get("claims") or {}).items():
            if name == "bithdate" and scenario != "echo_bithdate":
                name = "birthdate"  # the typo read as what it means
            if name == "address" and isinstance(spec, dict):
                claims["address"] = {part: one(part, s) for part, s in spec.items()}
            else:
                claims[name] = one(name, spec)
        if scenario == "empty_claims":
            claims = {}
        elif scenario == "unsupported_claim":
            claims["nationalities"] = {"value": ["NZL"], "fuzzy": True}
        elif scenario == "plain_values":
            claims = {k: v["value"] for k, v in claims.items() if k != "address"}
        elif scenario == "flat_address":
            claims.update(claims.pop("address", {}))
        return {"verification": verification, "claims": claims}

    def standard_answer(self, scenario):
        t = self.fake_time()
        document = {"type": "document", "check_details": [{"check_method": "vpip", "organization": "fake", "time": t}],
                    "document_details": {"type": "passport", "document_number": "X1234567", "issuer": {"country_code": "NZL"}}}
        claims = {"given_name": "Ada", "family_name": "Lovelace", "birthdate": "1815-12-10"}
        if scenario == "standard_broken":
            del document["type"]
            claims["birthdate"] = "10/12/1815"
        return [{"verification": {"trust_framework": "nist_800_63A", "assurance_level": "ial2", "time": t,
                                  "verification_process": "fake-" + secrets.token_hex(6), "evidence": [document]},
                 "claims": claims}]


# --------------------------------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------------------------------

RESULTS = {"passed": 0, "failed": 0, "skipped": 0}


def check(name, ok, detail=""):
    """The interop scripts' convention (passkey_signin.check), kept here so the self-test needs no browser stack."""
    RESULTS["passed" if ok else "failed"] += 1
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else f" -- {detail}"), flush=True)
    return ok


def skip(name, why):
    RESULTS["skipped"] += 1
    print(f"SKIP {name} -- {why}", flush=True)


def self_test(require_schemas=False):
    schemas, why = load_ida_schemas()
    fake = FakeIDV().start()
    try:
        _self_test(fake, schemas, why, require_schemas)
    except Exception as error:  # a crash is a failure, never a silent pass
        import traceback
        traceback.print_exc()
        check("the self-test ran to the end", False, repr(error))
    finally:
        fake.stop()
    if RESULTS["skipped"]:
        print(f"({RESULTS['skipped']} skipped)")
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


def _self_test(fake, schemas, why, require_schemas):
    def client(**kw):
        return OktaIDVClient(fake.issuer, fake.issuer + "/oauth2/par", fake.issuer + "/oauth2/idv-authorize", fake.issuer + "/oauth2/token",
                             fake.issuer + "/oauth2/jwks", kw.pop("client_id", fake.client_id), kw.pop("client_secret", fake.client_secret),
                             OKTA_HOST, schemas=schemas, **kw)

    c = client()
    extra = {"middle_name": "King", "email": "ada@example.com", "birthdate": "1815-12-10", "phone_number": "+442079460000",
             "address": {"street_address": "12 St James's Square", "locality": "London", "region": "Westminster",
                         "postal_code": "SW1Y 4JH", "country": "United Kingdom"}}

    def flow(scenario, cl=None, par=None, with_client_id=False):
        cl = cl or c
        fake.scenario = scenario
        p = (par or cl.par)("Ada", "Lovelace", OKTA_USER_ID, extra)
        if not p.ok:
            return p, None, p.verdict or {"result": "FAILED", "reasons": ["PAR_NOT_OK"], "details": p.problems}
        url = cl.authorize_url_with_client_id(p) if with_client_id else cl.authorize_url(p)
        cb_url, last = cl.follow_authorize(url)
        if cb_url is None:
            return p, None, {"result": "FAILED", "reasons": ["NO_CALLBACK"], "details": [f"{last.status_code} {last.text[:100]}"]}
        cb = cl.callback(cb_url, p)
        return p, cb, cb["verdict"] if not cb["ok"] else cl.token(cb["code"], p)

    def expect(name, verdict, result, *reasons, exact=False, warning=None):
        got = verdict.get("reasons", [])
        ok = verdict.get("result") == result and (got == list(reasons) if exact else all(r in got for r in reasons))
        if ok and warning:
            ok = any(warning in w for w in verdict.get("warnings", []))
        check(name, ok, f"{verdict.get('result')} {got} {verdict.get('details', [])[:3]} warnings={verdict.get('warnings', [])[:3]}")

    # --- the PAR on the wire ---
    fake.scenario = "verified"
    p = c.par("Ada", "Lovelace", OKTA_USER_ID, extra, flow="kyc01")
    wire = fake.seen_par[-1]
    pairs = urllib.parse.parse_qsl(wire["body"].decode(), keep_blank_values=True)
    fields = dict(pairs)
    check("PAR is form-urlencoded, secret in the body (client_secret_post), no Authorization header",
          wire["content_type"] == "application/x-www-form-urlencoded" and wire["authorization"] is None
          and fields.get("client_id") == fake.client_id and fields.get("client_secret") == fake.client_secret, str(wire)[:200])
    # Written out, not PAR_FIELD_ORDER: the check must not share the client's constant.
    okta_order = ["response_type", "client_id", "client_secret", "code_challenge", "code_challenge_method", "scope", "nonce", "claims",
                  "state", "login_hint", "redirect_uri"]
    check("PAR fields are exactly Okta's, in Okta's order", [k for k, _ in pairs] == okta_order, str([k for k, _ in pairs]))
    check("response_type=code, S256 challenge of the verifier, scope with idv_flow_kyc01, Okta user id, Okta callback",
          fields.get("response_type") == "code" and fields.get("code_challenge_method") == "S256"
          and fields.get("code_challenge") == s256(p.code_verifier) and fields.get("scope") == SCOPE + " idv_flow_kyc01"
          and fields.get("login_hint", "").startswith("00u") and fields.get("redirect_uri") == f"https://{OKTA_HOST}{CALLBACK_PATH}"
          and fields.get("nonce") == p.nonce and fields.get("state") == p.state, str(fields)[:300])
    try:
        sent = json.loads(fields.get("claims", ""))
    except ValueError:
        sent = {}
    entry = ((sent.get("id_token") or {}).get("verified_claims") or [{}])
    entry = entry[0] if isinstance(entry, list) else {}
    check("claims is a compact JSON string; id_token.verified_claims is an array of one entry",
          isinstance((sent.get("id_token") or {}).get("verified_claims"), list) and ": " not in fields.get("claims", ": "), fields.get("claims", "")[:120])
    check("verification: trust_framework {IDV-DELEGATED, essential}, assurance_level {VERIFIED, essential}",
          entry.get("verification") == {"trust_framework": {"value": "IDV-DELEGATED", "essential": True},
                                        "assurance_level": {"value": "VERIFIED", "essential": True}}, str(entry.get("verification")))
    sent_claims = entry.get("claims", {})
    check("claims: given_name/family_name {value, fuzzy: true}; optional ones too; address parts nested",
          sent_claims.get("given_name") == {"value": "Ada", "fuzzy": True} and sent_claims.get("family_name") == {"value": "Lovelace", "fuzzy": True}
          and sent_claims.get("birthdate") == {"value": "1815-12-10", "fuzzy": True}
          and set(sent_claims.get("address", {})) == set(OKTA_ADDRESS_CLAIMS)
          and all(v.get("fuzzy") is True for v in flatten_claims(sent_claims).values()), str(sent_claims)[:300])
    check("PAR answered 201 {request_uri urn:…, expires_in 60}, JSON, Cache-Control no-cache, no-store",
          p.ok and p.response.status_code == 201 and p.request_uri.startswith("urn:ietf:params:oauth:request_uri:") and p.expires_in == 60
          and not p.warnings, f"{p.reasons} {p.problems} {p.warnings}")
    url = urllib.parse.urlparse(c.authorize_url(p))
    check("authorize URL: /oauth2/idv-authorize with only request_uri (no client_id)",
          url.path == "/oauth2/idv-authorize" and list(urllib.parse.parse_qs(url.query)) == ["request_uri"], c.authorize_url(p))
    url = urllib.parse.urlparse(c.authorize_url_with_client_id(p))
    check("authorize URL variant with client_id has client_id and request_uri",
          sorted(urllib.parse.parse_qs(url.query)) == ["client_id", "request_uri"], c.authorize_url_with_client_id(p))
    if schemas:
        errors = schemas.request_errors(sent)
        check("Okta's claims request is valid against OIDC4IDA verified_claims_request.json (fuzzy is an extra member)", not errors, str(errors[:3]))
    else:  # with --require-schemas, the schema section below fails once
        skip("Okta's claims request against verified_claims_request.json", why)

    # --- success ---
    p, cb, v = flow("verified")
    expect("VERIFIED: every claim echoed {value, fuzzy: true}, assurance VERIFIED -> VERIFIED [CLAIMS_VERIFIED]", v, "VERIFIED", "CLAIMS_VERIFIED", exact=True)
    tok = fake.seen_token[-1] if fake.seen_token else {"content_type": "", "body": b""}
    tpairs = urllib.parse.parse_qsl(tok["body"].decode())
    check("token request: form, exactly grant_type, client_id, client_secret, code, code_verifier, redirect_uri",
          tok["content_type"] == "application/x-www-form-urlencoded"
          and [k for k, _ in tpairs] == ["grant_type", "client_id", "client_secret", "code", "code_verifier", "redirect_uri"]
          and dict(tpairs).get("code_verifier") == p.code_verifier and dict(tpairs).get("redirect_uri") == p.redirect_uri, str(tpairs)[:200])
    check("the callback carried Okta's state and the issuer", cb and cb["state"] == p.state and cb["ok"], str(cb)[:200])
    check("loopback http issuer accepted with a warning", any("not https" in w for w in v.get("warnings", [])), str(v.get("warnings")))
    p, cb, v = flow("verified", with_client_id=True)
    expect("/oauth2/idv-authorize?client_id&request_uri variant -> VERIFIED", v, "VERIFIED", "CLAIMS_VERIFIED", exact=True)
    _, _, v = flow("matched")
    expect("every value MATCHED -> VERIFIED", v, "VERIFIED", "CLAIMS_VERIFIED", exact=True)
    _, _, v = flow("empty_claims")
    expect("empty claims object (minimum conformant) with VERIFIED -> VERIFIED, warned", v, "VERIFIED", "CLAIMS_VERIFIED", warning="empty claims")
    _, _, v = flow("local_time")
    expect("time without UTC offset (Okta's own example) -> VERIFIED, warned", v, "VERIFIED", "CLAIMS_VERIFIED", warning="no UTC offset")
    _, _, v = flow("flat_address")
    expect("address parts returned flat -> VERIFIED, warned", v, "VERIFIED", "CLAIMS_VERIFIED", warning="flat")

    # --- FAILED answers ---
    _, _, v = flow("failed")
    expect("assurance FAILED, given_name value null -> FAILED [CLAIMS_NOT_VERIFIED, CLAIM_GIVEN_NAME_NOT_VERIFIED]",
           v, "FAILED", "CLAIMS_NOT_VERIFIED", "CLAIM_GIVEN_NAME_NOT_VERIFIED", exact=True)
    _, _, v = flow("failed_null_assurance")
    expect("assurance_level null -> FAILED [CLAIMS_NOT_VERIFIED]", v, "FAILED", "CLAIMS_NOT_VERIFIED", exact=True)
    _, _, v = flow("verified_with_null")
    expect("VERIFIED with a null given_name -> FAILED [CLAIMS_NOT_VERIFIED, CLAIM_GIVEN_NAME_NOT_VERIFIED]",
           v, "FAILED", "CLAIMS_NOT_VERIFIED", "CLAIM_GIVEN_NAME_NOT_VERIFIED", exact=True)
    _, _, v = flow("unsupported_claim")
    expect("a claim outside Okta's list (nationalities) -> FAILED [UNSUPPORTED_CLAIM_NATIONALITIES]",
           v, "FAILED", "UNSUPPORTED_CLAIM_NATIONALITIES", exact=True)
    _, _, v = flow("wrong_trust_framework")
    expect("trust_framework IDV_DELEGATED when IDV-DELEGATED was sent -> FAILED [UNEXPECTED_TRUST_FRAMEWORK]",
           v, "FAILED", "UNEXPECTED_TRUST_FRAMEWORK", exact=True)
    _, _, v = flow("no_time")
    expect("no verification.time -> FAILED [MISSING_TIME]", v, "FAILED", "MISSING_TIME", exact=True)
    _, _, v = flow("no_time", cl=client(require_time=False))
    expect("... accepted with a warning when require_time=False", v, "VERIFIED", "CLAIMS_VERIFIED", warning="no verification.time")
    _, _, v = flow("object_not_array")
    expect("verified_claims as an object, not an array -> FAILED [PARSING_ERROR_VERIFIED_CLAIMS]", v, "FAILED", "PARSING_ERROR_VERIFIED_CLAIMS", exact=True)
    _, _, v = flow("plain_values")
    expect("claims as plain strings (not {value, fuzzy}) -> FAILED [PARSING_ERROR_GIVENNAME, PARSING_ERROR_FAMILYNAME, …]",
           v, "FAILED", "PARSING_ERROR_GIVENNAME", "PARSING_ERROR_FAMILYNAME")
    _, _, v = flow("plain_values", cl=client(strict_claims=False))
    expect("... accepted with warnings when strict_claims=False (older Okta examples)", v, "VERIFIED", "CLAIMS_VERIFIED", warning="plain string")

    # --- the ID token itself ---
    _, _, v = flow("wrong_nonce")
    expect("wrong nonce -> FAILED [RESPONSE_PROCESSING_ERROR_NONCE]", v, "FAILED", "RESPONSE_PROCESSING_ERROR_NONCE", exact=True)
    for scenario, reason in (("bad_signature", "RESPONSE_PROCESSING_ERROR_SIGNATURE"), ("unknown_kid", "RESPONSE_PROCESSING_ERROR_SIGNATURE"),
                             ("hs256", "RESPONSE_PROCESSING_ERROR_SIGNATURE"), ("wrong_aud", "RESPONSE_PROCESSING_ERROR_AUDIENCE"),
                             ("expired", "RESPONSE_PROCESSING_ERROR_EXPIRED"), ("iat_future", "RESPONSE_PROCESSING_ERROR_IAT"),
                             ("wrong_iss", "RESPONSE_PROCESSING_ERROR_ISSUER"), ("no_expires_in", "MISSING_EXPIRES_IN")):
        _, _, v = flow(scenario)
        expect(f"{scenario} -> FAILED [{reason}]", v, "FAILED", reason, exact=True)

    # --- cancel, replay, state ---
    p, cb, v = flow("cancel")
    expect("user cancels: callback error=access_denied&state -> FAILED [ERROR_RESPONSE_AUTHORIZE]", v, "FAILED", "ERROR_RESPONSE_AUTHORIZE", exact=True)
    check("... the cancel callback carried Okta's state", cb and cb["state"] == p.state and cb["error"] == "access_denied", str(cb)[:200])
    fake.scenario = "verified"
    p = c.par("Ada", "Lovelace", OKTA_USER_ID)
    first, _ = c.follow_authorize(c.authorize_url(p))
    again, last = c.follow_authorize(c.authorize_url(p))
    check("replayed PAR request_uri: the first use reaches Okta's callback, the second is refused without a redirect",
          bool(first) and again is None and last.status_code == 400, f"{first} {again} {last.status_code if last else None}")
    v = c.token(c.callback(first, p)["code"], p)
    expect("... and the first use's code still exchanges -> VERIFIED", v, "VERIFIED", "CLAIMS_VERIFIED", exact=True)
    v = c.token(c.callback(first, p)["code"], p)
    expect("the same code twice -> FAILED [ERROR_RESPONSE_TOKEN] (invalid_grant)", v, "FAILED", "ERROR_RESPONSE_TOKEN", exact=True)
    p = c.par("Ada", "Lovelace", OKTA_USER_ID)
    cb_url, _ = c.follow_authorize(c.authorize_url(p))
    code = c.callback(cb_url, p)["code"]
    p.code_verifier = secrets.token_urlsafe(48)
    expect("a wrong code_verifier -> FAILED [ERROR_RESPONSE_TOKEN]", c.token(code, p), "FAILED", "ERROR_RESPONSE_TOKEN", exact=True)
    p = c.par("Ada", "Lovelace", OKTA_USER_ID)
    cb_url, _ = c.follow_authorize(c.authorize_url(p))
    forged = cb_url.replace("state=" + urllib.parse.quote(p.state), "state=someone-elses-state")
    cb = c.callback(forged, None)
    expect("a callback whose state is not Okta's -> FAILED [MISSING_AUTH_STATE_TOKEN]", cb["verdict"] or {}, "FAILED", "MISSING_AUTH_STATE_TOKEN", exact=True)

    # --- Okta's documented quirks ---
    fake.scenario = "verified"
    _, _, v = flow("verified", par=c.par_bithdate)
    fields = dict(urllib.parse.parse_qsl(fake.seen_par[-1]["body"].decode()))
    bith = json.loads(fields["claims"])["id_token"]["verified_claims"][0]["claims"]
    check("par_bithdate sends `bithdate` (Okta's printed typo), not birthdate", "bithdate" in bith and "birthdate" not in bith, str(sorted(bith)))
    expect("... an IDV reading it as birthdate -> VERIFIED", v, "VERIFIED", "CLAIMS_VERIFIED", exact=True)
    _, _, v = flow("echo_bithdate", par=c.par_bithdate)
    expect("... an IDV echoing `bithdate` back -> FAILED [UNSUPPORTED_CLAIM_BITHDATE]", v, "FAILED", "UNSUPPORTED_CLAIM_BITHDATE", exact=True)
    _, _, v = flow("verified", par=c.par_json_body)
    wire = fake.seen_par[-1]
    body = json.loads(wire["body"])
    check("par_json_body: Content-Type application/json, claims as an object",
          wire["content_type"] == "application/json" and isinstance(body.get("claims"), dict), wire["content_type"])
    expect("... -> VERIFIED end to end", v, "VERIFIED", "CLAIMS_VERIFIED", exact=True)
    _, _, v = flow("verified", par=lambda *a: c.par_json_body(*a, content_type="application/x-www-form-urlencoded"))
    check("par_json_body(form content type): the guide's printed literal, JSON under a form Content-Type",
          fake.seen_par[-1]["content_type"] == "application/x-www-form-urlencoded" and fake.seen_par[-1]["body"].startswith(b"{"), "")
    expect("... -> VERIFIED against an IDV that tolerates it", v, "VERIFIED", "CLAIMS_VERIFIED", exact=True)

    # --- PAR errors and Okta's pre-flight failures ---
    p = client(client_secret="wrong").par("Ada", "Lovelace", OKTA_USER_ID)
    check("PAR with a wrong secret: 401 invalid_client -> not ok, [ERROR_RESPONSE_PAR]",
          not p.ok and p.response.status_code == 401 and p.verdict["reasons"] == ["ERROR_RESPONSE_PAR"], f"{p.reasons} {p.problems}")
    p = c.par("Ada", "Lovelace", OKTA_USER_ID, overrides={"request_uri": "urn:ietf:params:oauth:request_uri:x"})
    check("PAR carrying request_uri -> 400 invalid_request", not p.ok and p.response.status_code == 400 and "invalid_request" in str(p.problems), str(p.problems))
    p = c.par("Ada", "Lovelace", OKTA_USER_ID, overrides={"code_challenge_method": "plain"})
    check("PAR with plain PKCE -> 400", not p.ok and p.response.status_code == 400, str(p.problems))
    p = c.par("Ada", "Lovelace", OKTA_USER_ID, client_auth="basic")
    check("PAR with client_secret_basic (variant) -> 201", p.ok and "client_secret" not in dict(urllib.parse.parse_qsl(fake.seen_par[-1]["body"].decode())),
          str(p.problems))
    n = len(fake.seen_par)
    p = c.par("Ada", "Lovelace", "")
    check("no Okta user id: Okta does not send the PAR -> [EMPTY_USER_ID]", p.verdict["reasons"] == ["EMPTY_USER_ID"] and len(fake.seen_par) == n, str(p.reasons))
    p = c.par("", "Lovelace", OKTA_USER_ID)
    check("empty given name (required attribute): no PAR -> [MISSING_GIVENNAME]", p.verdict["reasons"] == ["MISSING_GIVENNAME"] and len(fake.seen_par) == n, str(p.reasons))

    # --- OIDC4IDA schema ---
    standard = {"id_token": {"verified_claims": {"verification": {"trust_framework": None, "evidence": [{"type": {"value": "document"}}]},
                                                 "claims": {"given_name": None, "family_name": None, "birthdate": None}}}}

    def standard_flow(scenario):
        fake.scenario = scenario
        p = c.par_with_claims(standard, OKTA_USER_ID)
        cb_url, _ = c.follow_authorize(c.authorize_url(p))
        return c.token(c.callback(cb_url, p)["code"], p)

    # The OIDC4IDA rules (ida_rules.py, written from the spec): no schema files needed, always run.
    check("OIDC4IDA standard request is valid under the OIDC4IDA rules (ida_rules.py)", not ida_rules.validate_claims_parameter(standard),
          str(ida_rules.validate_claims_parameter(standard)[:3]))
    check("Okta's claims request is valid under the OIDC4IDA rules (fuzzy: a member OIDC Core 5.5.1 says to ignore)",
          not ida_rules.validate_claims_parameter(okta_claims_request("Ada", "Lovelace", extra)),
          str(ida_rules.validate_claims_parameter(okta_claims_request("Ada", "Lovelace", extra))[:3]))
    v = standard_flow("verified")
    check("standard-dialect answer (nist_800_63A, document evidence) is valid under the OIDC4IDA rules (ida_rules.py)",
          v["rules"]["valid"] and "IDA_RULES_INVALID" not in v["reasons"], f"{v['reasons']} {v.get('rules')}")
    v = standard_flow("standard_broken")
    check("broken standard answer -> FAILED [IDA_RULES_INVALID] naming the typeless evidence and the birthdate 10/12/1815",
          v["result"] == "FAILED" and "IDA_RULES_INVALID" in v["reasons"] and any("evidence/0: `type` is required" in e for e in v["rules"]["errors"])
          and any("claims/birthdate" in e for e in v["rules"]["errors"]), f"{v['reasons']} {v.get('rules', {}).get('errors', [])[:4]}")
    _, _, v = flow("verified")
    check("Okta-dialect answer: its verification element is valid under the OIDC4IDA rules; the verdict still VERIFIED",
          v["result"] == "VERIFIED" and v["rules"]["dialect"] == "okta" and v["rules"]["verification_errors"] == [], str(v.get("rules"))[:300])
    _, _, v = flow("failed_null_assurance")
    check("Okta's null assurance_level breaks the OIDC4IDA rules (a warning, Okta's documented failure value)",
          any("assurance_level" in e for e in v["rules"]["verification_errors"]) and any("ida_rules.py" in w for w in v["warnings"]), str(v.get("rules"))[:300])

    if schemas:
        check("schemas loaded (%s, %s) and pinned to openid/eKYC-IDA@%s" % (schemas.backend, schemas.directory, IDA_SCHEMA_COMMIT[:8]), True)
        check("OIDC4IDA standard request is valid against verified_claims_request.json", not schemas.request_errors(standard), str(schemas.request_errors(standard)[:3]))
        v = standard_flow("verified")
        check("standard-dialect answer (nist_800_63A, document evidence) is valid against verified_claims.json",
              v["result"] == "VERIFIED" and v["schema"]["dialect"] == "standard" and v["schema"]["valid"], f"{v['reasons']} {v.get('schema')}")
        v = standard_flow("standard_broken")
        check("broken standard answer (evidence without type, birthdate 10/12/1815) -> FAILED [IDA_SCHEMA_INVALID] naming both",
              "IDA_SCHEMA_INVALID" in v["reasons"] and any("evidence/0" in e for e in v["schema"]["errors"])
              and any("birthdate" in e for e in v["schema"]["errors"]), f"{v['reasons']} {v.get('schema', {}).get('errors', [])[:4]}")
        _, _, v = flow("verified")
        sch = v.get("schema", {})
        check("Okta-dialect answer: outside the IDA schema by design (claims are objects), verdict still VERIFIED",
              v["result"] == "VERIFIED" and sch.get("dialect") == "okta" and sch.get("checked") and not sch.get("valid")
              and any("given_name" in e for e in sch.get("errors", [])), str(sch)[:300])
        check("Okta-dialect answer: its verification element alone is valid against the IDA schema", sch.get("verification_errors") == [], str(sch.get("verification_errors")))
        _, _, v = flow("failed_null_assurance")
        check("Okta's null assurance_level is outside the IDA schema (reported as a warning)",
              any("assurance_level" in e for e in v.get("schema", {}).get("verification_errors", [])), str(v.get("schema"))[:300])
        with tempfile.TemporaryDirectory() as tmp:
            for name in IDA_SCHEMA_SHA256:
                with open(os.path.join(schemas.directory, name), "rb") as src, open(os.path.join(tmp, name), "wb") as dst:
                    dst.write(src.read() + (b" " if name == "claims_schema.json" else b""))
            loaded, reason = load_ida_schemas(tmp)
            check("a schema file that differs from the pinned commit is refused", loaded is None and "SHA-256" in reason, reason)

        class LocalFiles:  # stands in for requests.Session: serves the loaded files, or altered ones
            def __init__(self, alter=False):
                self.alter, self.urls = alter, []

            def get(self, url, timeout=None):
                self.urls.append(url)
                with open(os.path.join(schemas.directory, url.rsplit("/", 1)[1]), "rb") as f:
                    content = f.read() + (b"\n" if self.alter else b"")
                return type("R", (), {"content": content, "raise_for_status": lambda self: None})()

        with tempfile.TemporaryDirectory() as tmp:
            stub = LocalFiles()
            fetch_ida_schemas(tmp, session=stub)
            loaded, reason = load_ida_schemas(tmp)
            check("--fetch-ida-schemas asks raw.githubusercontent.com at the pinned commit and writes loadable files",
                  loaded is not None and all(u.startswith(f"https://raw.githubusercontent.com/openid/eKYC-IDA/{IDA_SCHEMA_COMMIT}/schema/")
                                             for u in stub.urls) and len(stub.urls) == 3, f"{reason} {stub.urls}")
        with tempfile.TemporaryDirectory() as tmp:
            try:
                fetch_ida_schemas(tmp, session=LocalFiles(alter=True))
                refused = False
            except RuntimeError:
                refused = True
            check("--fetch-ida-schemas refuses a download whose SHA-256 is not the pinned one", refused and not os.listdir(tmp), str(os.listdir(tmp)))
    elif require_schemas:
        check("OIDC4IDA schemas available", False, why)
    else:
        for name in ("standard-dialect answer against verified_claims.json", "broken standard answer -> IDA_SCHEMA_INVALID",
                     "Okta-dialect answer outside the IDA schema", "pinned SHA-256 refusal", "--fetch-ida-schemas with a stub session"):
            skip(name, why)
        v = standard_flow("verified")
        check("standard-dialect answer without schemas: VERIFIED with a 'not checked' warning",
              v["result"] == "VERIFIED" and any("not checked" in w for w in v["warnings"]), str(v)[:200])


def main():
    ap = argparse.ArgumentParser(description="Okta's BYO IDV client (PAR, idv-authorize, token, Okta's evaluation) and its self-test.")
    ap.add_argument("--self-test", action="store_true", help="run the client against the in-process fake IDV")
    ap.add_argument("--require-schemas", action="store_true", help="fail (not skip) the schema checks when the schemas are missing")
    ap.add_argument("--fetch-ida-schemas", metavar="DIR", help=f"download openid/eKYC-IDA@{IDA_SCHEMA_COMMIT[:8]} schema files into DIR (network)")
    args = ap.parse_args()
    if args.fetch_ida_schemas:
        print("fetched into", fetch_ida_schemas(args.fetch_ida_schemas))
        return 0
    if args.self_test:
        return self_test(args.require_schemas)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
