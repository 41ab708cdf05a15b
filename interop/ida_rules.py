#!/usr/bin/env python3
"""OpenID Connect for Identity Assurance: `verified_claims` checked against the specifications' text.

Written from the normative text, not from the eKYC-IDA working group's JSON schemas (those are not
vendored, see interop/schema/oidc4ida/README.md, and CI has no network to fetch them). This module
needs nothing but the standard library, so the structural check runs everywhere, always.

Texts followed (the final 1.0 documents as published with errata set 1; the Markdown sources in
openid/eKYC-IDA at b4109086, the commit okta_idv.py pins the schemas to). Section numbers below:
  IDA-VC     OpenID Identity Assurance Schema Definition 1.0 (openid-ida-verified-claims-1_0):
             §5.2 base elements, §5.3 claims element, §5.4.2 verification element, §5.4.4.1 evidence,
             §5.4.4.2 document, §5.4.4.3 electronic_record, §5.4.4.4 vouch, §5.4.4.5 electronic_signature,
             §5.4.5 attachments
  IDA        OpenID Connect for Identity Assurance 1.0 (openid-connect-4-identity-assurance-1_0):
             §5.3 requesting end-user claims, §5.4 requesting verification data, §5.5.1 value/values,
             §5.5.2 max_age, §5.6 arrays of requests, §7 requesting verified claims (nothing unrequested),
             §8 OP metadata (claims_in_verified_claims_supported)
  IDA-CLAIMS OpenID Connect for Identity Assurance Claims Registration 1.0: §4.1 extra claims, §4.2 address.country_code
  ATT        OpenID Attachments 1.0: §4.1 embedded, §4.2 external, §4.3 external attachment validation
  OIDC       OpenID Connect Core 1.0 incorporating errata set 2: §5.1 standard claims, §5.1.1 address,
             §5.2 language tags, §5.5.1 individual claims requests

Version: 1.0 final names. Older drafts' names are not errors, they are unknown members, which IDA-VC
§5.2 and §5.4.2 say implementations shall ignore; a note names them (dates from the repository's
history): evidence `method`, `verifier`, `txn` (replaced by `check_details` from February 2022),
`check_details[].txn` (renamed `check_id` in December 2023), `personal_number` (removed in May 2023),
the evidence types `qes` (renamed `electronic_signature` in 2020), `id_document` and `utility_bill`
(removed in January 2023), and `purpose` in requests (3 to 300 characters in the drafts; removed in
October 2023; `validate_verified_claims_request(..., legacy_purpose=True)` applies the old rule).

Extensibility: unknown members are never errors (IDA-VC §5.2 "Implementations shall ignore any
sub-element not defined in this specification or extensions", repeated in §5.4.2; OIDC §5.5.1 for
request members "not understood MUST be ignored"); they go to `notes`. Unknown evidence types are
notes too (the four types are "defined", others are not forbidden, and recipients ignore them).
Unknown claims are allowed in `claims` (IDA-VC §5.3: "other claims provided the value ... was
verified"); claims the texts define are checked against their defined types.

Where the WG's schema and this text-reading disagree (interop/schema/oidc4ida/README.md, "The rules
check against these schemas", has the comparison):
  - verified_claims entry with extra members: schema refuses (additionalProperties false); the text
    says ignore them (§5.2). Accepted here.
  - evidence type outside the four: schema refuses (enum); accepted here with a note.
  - empty `evidence`, `attachments`, electronic_record/vouch `check_details` arrays: schema says
    minItems 1; the text says "at least one member" only for document's check_details,
    assurance_details and evidence_ref. Notes here, errors only where the text says so.
  - `evidence_ref` empty, `assurance_process` with none of its sub-elements, empty `derived_claims`,
    a document's derived claim absent from `claims`, an evidence_ref check_id that no check_details
    carries: errors here (the text's "shall"), which the schema does not express.
  - formats: the schema's `format` keywords are not asserted (the WG's tests don't); the text's
    `YYYY-MM-DDThh:mm[:ss]TZD`, `YYYY-MM-DD`, OIDC §5.1 birthdate (`YYYY` alone allowed, which the
    schema's pattern refuses) and country code shapes are asserted here.
  - requests: a request without `verification` is a note here (the text never requires it; the
    schema does); `claims: null`, `values` on evidence/type and an empty request array are errors
    here (IDA §5.3, §5.4, §5.6) and pass the schema.

API
  validate_verified_claims(value, claims_supported=None, request=None, notes=None) -> list[str]
      a `verified_claims` value (object or array of objects); errors as "/verified_claims/0/…: message [ref]".
      claims_supported: the OP's claims_in_verified_claims_supported (IDA §8: others "shall not be returned").
      request: the verified_claims request it answers (IDA §7: no data that was not requested; §5.5.1:
      nothing that fails a value/values restriction).
  validate_verification(value, path="/verification", notes=None) -> list[str]   the element alone
  validate_verified_claims_request(value, legacy_purpose=False, notes=None) -> list[str]
  validate_claims_parameter(claims, legacy_purpose=False, notes=None) -> list[str]  (id_token/userinfo)
  notes: pass a list to collect remarks that are not errors (ignored members, SHOULDs, older names).

    python3 interop/ida_rules.py --self-test     PASS/FAIL per sample, "N passed, M failed", exit 1 on a FAIL
    python3 interop/ida_rules.py FILE.json        checks a file holding verified_claims (or an object carrying it)
"""
import datetime
import json
import re
import sys

# --------------------------------------------------------------------------------------------------
# Value rules
# --------------------------------------------------------------------------------------------------

# IDA-VC §5.4.2 (verification.time), §5.4.4.2 (check_details.time), §5.4.4.3 (record.created_at),
# §5.4.4.5 (created_at): "ISO 8601 `YYYY-MM-DDThh:mm[:ss]TZD` format". TZD as in that notation's
# source (ISO 8601 extended format, W3C date-time profile): "Z" or "+hh:mm" / "-hh:mm".
_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(Z|([+-])(\d{2}):(\d{2}))$")
_TIME_FRACTION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[.,]\d+(Z|[+-]\d{2}:\d{2})?$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_YEAR = re.compile(r"^\d{4}$")
_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")  # RFC 4648 §4, padded
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")  # RFC 6838 §4.2, parameters aside


def _calendar(y, m, d, year_zero=False):
    try:
        datetime.date(2000 if (year_zero and y == 0) else y, m, d)
        return True
    except ValueError:
        return False


def time_problem(text):
    """None when `text` is `YYYY-MM-DDThh:mm[:ss]TZD` with a real date and time, else why not."""
    if not isinstance(text, str):
        return f"{text!r} is not a string"
    m = _TIME.match(text)
    if not m:
        if _TIME_FRACTION.match(text):
            return f"{text!r}: fractional seconds are outside YYYY-MM-DDThh:mm[:ss]TZD"
        if re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$", text):
            return f"{text!r} has no TZD (time zone designator: Z or ±hh:mm)"
        return f"{text!r} is not YYYY-MM-DDThh:mm[:ss]TZD"
    y, mo, d, h, mi = (int(m.group(i)) for i in range(1, 6))
    s = int(m.group(6) or 0)
    if not _calendar(y, mo, d) or h > 23 or mi > 59 or s > 60:  # :60 is ISO 8601's leap second
        return f"{text!r} is not a real date and time"
    if m.group(8) and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return f"{text!r} has an impossible UTC offset"
    return None


def date_problem(text):
    """None for ISO 8601 `YYYY-MM-DD` naming a real day (IDA-VC's dates), else why not."""
    if not isinstance(text, str):
        return f"{text!r} is not a string"
    m = _DATE.match(text)
    if not m:
        return f"{text!r} is not YYYY-MM-DD"
    if not _calendar(*(int(g) for g in m.groups())):
        return f"{text!r} is not a real date"
    return None


def birthdate_problem(text):
    """OIDC §5.1 birthdate: `YYYY-MM-DD`, the year MAY be 0000 (omitted); `YYYY` alone is allowed."""
    if not isinstance(text, str):
        return f"{text!r} is not a string"
    if _YEAR.match(text):
        return None
    m = _DATE.match(text)
    if not m:
        return f"{text!r} is neither YYYY-MM-DD nor YYYY (OIDC §5.1)"
    if not _calendar(*(int(g) for g in m.groups()), year_zero=True):
        return f"{text!r} is not a real date"
    return None


def country_code_problem(text, note=None):
    """IDA-VC §5.4.4.2-4 issuer/source/voucher country_code, IDA-CLAIMS §4.1 nationalities, §4.2
    address.country_code: ISO 3166-1 alpha-3 or ICAO Doc 9303 3-letter codes; alpha-2 / ICAO 2-letter
    "may be used in some circumstances for compatibility". ICAO's one-letter `D` (Germany, `D<<` in an
    MRZ) is neither."""
    if not isinstance(text, str):
        return f"{text!r} is not a string"
    if text.upper() == "D" or text.upper().startswith("D<"):
        return f"{text!r}: ICAO's MRZ code for Germany (D<<) is not a 3- or 2-letter code; use DEU (or DE)"
    if not re.fullmatch(r"[A-Za-z]{2,3}", text):
        return f"{text!r} is not a 3-letter (ISO 3166-1 alpha-3 / ICAO) or 2-letter country code"
    if note is not None and text != text.upper():
        note(f"{text!r}: ISO 3166-1 and ICAO write country codes in upper case")
    if note is not None and len(text) == 2:
        note(f"{text!r}: a 2-letter code (allowed 'for compatibility reasons'; 3-letter codes are the rule)")
    return None


# --------------------------------------------------------------------------------------------------
# Claims: OIDC §5.1 standard claims (IDA-VC §5.3 "as defined in section 5.1"), IDA-CLAIMS §4
# --------------------------------------------------------------------------------------------------

OIDC_STRING_CLAIMS = {"sub", "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile",
                      "picture", "website", "email", "gender", "zoneinfo", "locale", "phone_number"}
IDA_STRING_CLAIMS = {"birth_family_name", "birth_given_name", "birth_middle_name", "salutation", "title", "also_known_as"}
ADDRESS_PARTS = ("formatted", "street_address", "locality", "region", "postal_code", "country")  # OIDC §5.1.1
PLACE_OF_BIRTH_PARTS = ("country", "region", "locality")  # IDA-CLAIMS §4.1


class _Checker:
    def __init__(self, notes=None):
        self.errors, self.notes = [], notes

    def err(self, path, message, ref):
        self.errors.append(f"{path}: {message} [{ref}]")

    def note(self, path, message, ref=""):
        if self.notes is not None:
            self.notes.append(f"{path}: {message}" + (f" [{ref}]" if ref else ""))

    def string(self, obj, key, path, ref, required=False):
        if key not in obj:
            if required:
                self.err(path, f"`{key}` is required", ref)
            return
        if not isinstance(obj[key], str):
            self.err(f"{path}/{key}", f"must be a string, got {_kind(obj[key])}", ref)

    def untyped_identifier(self, obj, key, path, ref):
        """Elements the text calls an 'Identifier' or 'Unique reference' without a JSON type."""
        if key in obj and not isinstance(obj[key], str):
            if isinstance(obj[key], (int, float)) and not isinstance(obj[key], bool):
                self.note(f"{path}/{key}", "a number: the text gives no type for this identifier, the WG's schema says string", ref)
            else:
                self.err(f"{path}/{key}", f"an identifier must be a string (or at least a scalar), got {_kind(obj[key])}", ref)

    def time(self, obj, key, path, ref):
        if key in obj:
            problem = time_problem(obj[key])
            if problem:
                self.err(f"{path}/{key}", problem, ref)

    def date(self, obj, key, path, ref):
        if key in obj:
            problem = date_problem(obj[key])
            if problem:
                self.err(f"{path}/{key}", problem, ref)

    def country(self, obj, key, path, ref):
        if key in obj:
            problem = country_code_problem(obj[key], lambda m: self.note(f"{path}/{key}", m, ref))
            if problem:
                self.err(f"{path}/{key}", problem, ref)

    def obj(self, value, path, ref, what="an object"):
        if not isinstance(value, dict):
            self.err(path, f"must be {what}, got {_kind(value)}", ref)
            return False
        return True

    def unknown(self, obj, known, path, ref, older=None):
        for key in obj:
            if key not in known:
                old = (older or {}).get(key)
                self.note(f"{path}/{key}", ("older draft name (" + old + "); " if old else "") + "not defined in 1.0: ignored", ref)

    # --- claims -----------------------------------------------------------------------------------

    def claims(self, claims, path):
        for name, value in claims.items():
            base = name.split("#", 1)[0]  # OIDC §5.2: language-tagged names carry the claim's type
            p = f"{path}/{_esc(name)}"
            if value is None:
                self.note(p, "null: a claim that is not returned SHOULD be omitted", "OIDC §5.1")
                continue
            if base in OIDC_STRING_CLAIMS or base in IDA_STRING_CLAIMS:
                ref = "OIDC §5.1" if base in OIDC_STRING_CLAIMS else "IDA-CLAIMS §4.1"
                if not isinstance(value, str):
                    self.err(p, f"must be a string, got {_kind(value)}", ref)
                elif base == "email" and not re.fullmatch(r".+@[^@\s]+", value):
                    self.err(p, f"{value!r} is not an RFC 5322 addr-spec", "OIDC §5.1")
            elif base in ("email_verified", "phone_number_verified"):
                if not isinstance(value, bool):
                    self.err(p, f"must be a boolean, got {_kind(value)}", "OIDC §5.1")
            elif base == "updated_at":
                if not _number(value):
                    self.err(p, f"must be a number (seconds since the epoch), got {_kind(value)}", "OIDC §5.1")
            elif base == "birthdate":
                problem = birthdate_problem(value)
                if problem:
                    self.err(p, problem, "OIDC §5.1")
            elif base == "address":
                if self.obj(value, p, "OIDC §5.1.1"):
                    for part in ADDRESS_PARTS:
                        self.string(value, part, p, "OIDC §5.1.1")
                    self.country(value, "country_code", p, "IDA-CLAIMS §4.2")
                    if not value:
                        self.note(p, "an empty address object", "OIDC §5.1.1")
            elif base == "place_of_birth":
                if self.obj(value, p, "IDA-CLAIMS §4.1"):
                    if not any(k in value for k in PLACE_OF_BIRTH_PARTS):
                        self.err(p, "must contain some or all of country, region, locality", "IDA-CLAIMS §4.1")
                    self.string(value, "region", p, "IDA-CLAIMS §4.1")
                    self.string(value, "locality", p, "IDA-CLAIMS §4.1")
                    if "country" in value:  # ISO 3166-1 alpha-2 or alpha-3
                        c = value["country"]
                        if not (isinstance(c, str) and re.fullmatch(r"[A-Za-z]{2,3}", c)):
                            self.err(f"{p}/country", f"{c!r} is not an ISO 3166-1 alpha-2 or alpha-3 code", "IDA-CLAIMS §4.1")
            elif base == "nationalities":
                if not isinstance(value, list):
                    self.err(p, f"must be an array, got {_kind(value)}", "IDA-CLAIMS §4.1")
                else:
                    for i, code in enumerate(value):
                        problem = country_code_problem(code, lambda m, i=i: self.note(f"{p}/{i}", m, "IDA-CLAIMS §4.1"))
                        if problem:
                            self.err(f"{p}/{i}", problem, "IDA-CLAIMS §4.1")
            elif base == "msisdn":  # E.164: at most 15 digits
                if not (isinstance(value, str) and re.fullmatch(r"\+?[0-9]{1,15}", value)):
                    self.err(p, f"{value!r} is not an E.164 number (digits, at most 15)", "IDA-CLAIMS §4.1")
            # any other claim: allowed when verified (IDA-VC §5.3), type unknown to this module

    # --- verification -----------------------------------------------------------------------------

    def verification(self, v, path):
        ref = "IDA-VC §5.4.2"
        if not self.obj(v, path, ref):
            return
        # trust_framework: Required. String.
        self.string(v, "trust_framework", path, ref, required=True)
        if v.get("trust_framework") == "":
            self.note(f"{path}/trust_framework", "empty string: names no trust framework", ref)
        self.string(v, "assurance_level", path, ref)
        if "assurance_process" in v:
            self.assurance_process(v["assurance_process"], f"{path}/assurance_process")
        self.time(v, "time", path, ref)
        self.untyped_identifier(v, "verification_process", path, ref)
        check_ids = set()
        if "evidence" in v:
            ev = v["evidence"]
            if not isinstance(ev, list):
                self.err(f"{path}/evidence", f"must be an array, got {_kind(ev)}", ref)
            else:
                if not ev:
                    self.note(f"{path}/evidence", "an empty array (the text sets no minimum; the WG's schema says at least one)", ref)
                for i, item in enumerate(ev):
                    self.evidence(item, f"{path}/evidence/{i}")
                    details = item.get("check_details") if isinstance(item, dict) else None
                    check_ids |= {c["check_id"] for c in (details if isinstance(details, list) else [])
                                  if isinstance(c, dict) and isinstance(c.get("check_id"), (str, int, float))}
        # §5.4.2 evidence_ref.check_id: "The claim provider shall ensure that check_id is present in
        # the check_details when evidence_ref element is used."
        ap = v.get("assurance_process")
        if isinstance(ap, dict) and isinstance(ap.get("assurance_details"), list):
            for i, detail in enumerate(ap["assurance_details"]):
                refs = detail.get("evidence_ref") if isinstance(detail, dict) else None
                for j, r in enumerate(refs if isinstance(refs, list) else []):
                    if isinstance(r, dict) and "check_id" in r and r["check_id"] not in check_ids:
                        self.err(f"{path}/assurance_process/assurance_details/{i}/evidence_ref/{j}/check_id",
                                 f"{r['check_id']!r} is in no evidence's check_details", ref)
        self.unknown(v, {"trust_framework", "assurance_level", "assurance_process", "time", "verification_process", "evidence"},
                     path, ref, {"method": "older drafts", "verifier": "older drafts", "txn": "older drafts"})

    def assurance_process(self, ap, path):
        ref = "IDA-VC §5.4.2"
        if not self.obj(ap, path, ref):
            return
        # "This has one or more of the following sub-elements"
        if not any(k in ap for k in ("policy", "procedure", "assurance_details")):
            self.err(path, "has none of policy, procedure, assurance_details (the text: one or more)", ref)
        self.string(ap, "policy", path, ref)
        self.string(ap, "procedure", path, ref)
        if "assurance_details" in ap:
            ad, p = ap["assurance_details"], f"{path}/assurance_details"
            if not isinstance(ad, list):
                self.err(p, f"must be an array, got {_kind(ad)}", ref)
            else:
                if not ad:
                    self.err(p, "an empty array: when present it shall have at least one member", ref)
                for i, detail in enumerate(ad):
                    dp = f"{p}/{i}"
                    if not self.obj(detail, dp, ref):
                        continue
                    self.string(detail, "assurance_type", dp, ref)
                    self.string(detail, "assurance_classification", dp, ref)
                    if "evidence_ref" in detail:
                        er, ep = detail["evidence_ref"], f"{dp}/evidence_ref"
                        if not isinstance(er, list):
                            self.err(ep, f"must be an array, got {_kind(er)}", ref)
                            continue
                        if not er:
                            self.err(ep, "an empty array: when present it shall have at least one member", ref)
                        for j, r in enumerate(er):
                            rp = f"{ep}/{j}"
                            if not self.obj(r, rp, ref):
                                continue
                            if "check_id" not in r:
                                self.err(rp, "`check_id` is required", ref)
                            self.untyped_identifier(r, "check_id", rp, ref)
                            if "evidence_metadata" in r and self.obj(r["evidence_metadata"], f"{rp}/evidence_metadata", ref):
                                self.string(r["evidence_metadata"], "evidence_classification", f"{rp}/evidence_metadata", ref)
                            self.unknown(r, {"check_id", "evidence_metadata"}, rp, ref)
                    self.unknown(detail, {"assurance_type", "assurance_classification", "evidence_ref"}, dp, ref)
        self.unknown(ap, {"policy", "procedure", "assurance_details"}, path, ref)

    # --- evidence ---------------------------------------------------------------------------------

    def evidence(self, e, path):
        """Checks one evidence member."""
        if not self.obj(e, path, "IDA-VC §5.4.4.1"):
            return
        # §5.4.4.1: "Every object contains the property `type`"
        if "type" not in e:
            self.err(path, "`type` is required", "IDA-VC §5.4.4.1")
            return
        t = e["type"]
        if not isinstance(t, str):
            self.err(f"{path}/type", f"must be a string, got {_kind(t)}", "IDA-VC §5.4.4.1")
            return
        kinds = {"document": ("IDA-VC §5.4.4.2", {"check_details", "document_details", "attachments", "derived_claims"}),
                 "electronic_record": ("IDA-VC §5.4.4.3", {"check_details", "record", "attachments", "derived_claims"}),
                 "vouch": ("IDA-VC §5.4.4.4", {"check_details", "attestation", "attachments", "derived_claims"}),
                 "electronic_signature": ("IDA-VC §5.4.4.5", {"signature_type", "issuer", "serial_number", "created_at", "attachments",
                                                              "derived_claims"})}
        if t not in kinds:
            old = {"id_document": "removed January 2023", "utility_bill": "removed January 2023", "qes": "renamed electronic_signature in 2020"}.get(t)
            self.note(f"{path}/type", f"{t!r} is none of the four defined evidence types" + (f" (older draft type, {old})" if old else "")
                      + ": recipients ignore it", "IDA-VC §5.4.4.1")
            return
        ref, known = kinds[t]
        if "check_details" in e:
            self.check_details(e["check_details"], f"{path}/check_details", ref, at_least_one=(t == "document"))
        if t == "document":
            if "document_details" in e:
                self.document_details(e["document_details"], f"{path}/document_details", ref)
        elif t == "electronic_record":
            if "record" in e:
                self.record(e["record"], f"{path}/record", ref)
        elif t == "vouch":
            if "attestation" in e:
                self.attestation(e["attestation"], f"{path}/attestation", ref)
        else:  # electronic_signature: signature_type, issuer, serial_number Required strings
            for key in ("signature_type", "issuer", "serial_number"):
                self.string(e, key, path, ref, required=True)
            self.time(e, "created_at", path, ref)
        if "attachments" in e:
            self.attachments(e["attachments"], f"{path}/attachments")
        if "derived_claims" in e:
            dc, dp = e["derived_claims"], f"{path}/derived_claims"
            if self.obj(dc, dp, ref):
                if not dc:
                    self.err(dp, "empty: when present it shall not be empty", ref)
                self.claims(dc, dp)
        self.unknown(e, known | {"type"}, path, ref,
                     {"method": "before check_details, 2022", "verifier": "before check_details, 2022", "txn": "before check_details, 2022",
                      "document": "now document_details", "time": "now check_details[].time"})

    def check_details(self, cd, path, ref, at_least_one):
        if not isinstance(cd, list):
            self.err(path, f"must be an array, got {_kind(cd)}", ref)
            return
        if not cd:
            if at_least_one:  # §5.4.4.2 only: "When present this array shall have at least one member."
                self.err(path, "an empty array: when present it shall have at least one member", ref)
            else:
                self.note(path, "an empty array (the text sets no minimum here; the WG's schema says at least one)", ref)
        for i, c in enumerate(cd):
            p = f"{path}/{i}"
            if not self.obj(c, p, ref):
                continue
            self.string(c, "check_method", p, ref, required=True)
            self.string(c, "organization", p, ref)
            self.untyped_identifier(c, "check_id", p, ref)
            self.time(c, "time", p, ref)
            self.unknown(c, {"check_method", "organization", "check_id", "time"}, p, ref,
                         {"txn": "renamed check_id in December 2023", "method": "now check_method"})

    def issuer_like(self, o, path, ref, extra):
        """document_details.issuer, record.source, attestation.voucher: name, the OIDC address parts, country_code, …"""
        if not self.obj(o, path, ref):
            return
        for part in ADDRESS_PARTS:
            self.string(o, part, path, f"{ref}, OIDC §5.1.1")
        self.country(o, "country_code", path, ref)
        for key in extra:
            self.string(o, key, path, ref)
        self.unknown(o, set(ADDRESS_PARTS) | {"country_code"} | set(extra), path, ref)

    def document_details(self, d, path, ref):
        if not self.obj(d, path, ref):
            return
        self.string(d, "type", path, ref, required=True)
        self.string(d, "document_number", path, ref)
        self.string(d, "serial_number", path, ref)
        self.date(d, "date_of_issuance", path, ref)
        self.date(d, "date_of_expiry", path, ref)
        if "issuer" in d:
            self.issuer_like(d["issuer"], f"{path}/issuer", ref, ("name", "jurisdiction"))
        self.unknown(d, {"type", "document_number", "serial_number", "date_of_issuance", "date_of_expiry", "issuer"}, path, ref,
                     {"personal_number": "removed in May 2023", "number": "older drafts (now document_number)"})

    def record(self, r, path, ref):
        if not self.obj(r, path, ref):
            return
        self.string(r, "type", path, ref, required=True)
        self.time(r, "created_at", path, ref)
        self.date(r, "date_of_expiry", path, ref)
        if "source" in r:
            self.issuer_like(r["source"], f"{path}/source", ref, ("name", "jurisdiction"))
        self.unknown(r, {"type", "created_at", "date_of_expiry", "source"}, path, ref, {"personal_number": "removed in May 2023"})

    def attestation(self, a, path, ref):
        if not self.obj(a, path, ref):
            return
        self.string(a, "type", path, ref, required=True)
        self.string(a, "reference_number", path, ref)
        self.date(a, "date_of_issuance", path, ref)
        self.date(a, "date_of_expiry", path, ref)
        if "voucher" in a:
            vp = f"{path}/voucher"
            self.issuer_like(a["voucher"], vp, ref, ("name", "occupation", "organization", "birthdate"))
            if isinstance(a["voucher"], dict) and isinstance(a["voucher"].get("birthdate"), str):
                problem = birthdate_problem(a["voucher"]["birthdate"])  # "in the same format as ... section 5.1"
                if problem:
                    self.err(f"{vp}/birthdate", problem, f"{ref}, OIDC §5.1")
        self.unknown(a, {"type", "reference_number", "date_of_issuance", "date_of_expiry", "voucher"}, path, ref,
                     {"personal_number": "removed in May 2023"})

    def attachments(self, atts, path):
        if not isinstance(atts, list):
            self.err(path, f"must be an array, got {_kind(atts)}", "IDA-VC §5.4.4.2, ATT §4")
            return
        if not atts:
            self.note(path, "an empty array (the text sets no minimum; the WG's schema says at least one)", "ATT §4")
        for i, a in enumerate(atts):
            p = f"{path}/{i}"
            if not self.obj(a, p, "ATT §4"):
                continue
            embedded, external = "content" in a or "content_type" in a, "url" in a or "digest" in a
            if embedded and external:
                self.note(p, "carries members of both an embedded and an external attachment", "ATT §4")
            if not embedded and not external:
                self.err(p, "neither an embedded (content_type, content) nor an external (url, digest) attachment", "ATT §4")
                continue
            self.string(a, "desc", p, "ATT §4.1")
            self.string(a, "type", p, "ATT §4.1")
            if embedded:
                ref = "ATT §4.1"
                for key in ("content_type", "content"):
                    self.string(a, key, p, ref, required=True)
                ct = a.get("content_type")
                if isinstance(ct, str):
                    if not _MEDIA_TYPE.match(ct.split(";", 1)[0].strip()):
                        self.err(f"{p}/content_type", f"{ct!r} is not a type/subtype media type", f"{ref}, RFC 6838")
                    elif ct.lower().startswith(("multipart/", "message/")):
                        self.err(f"{p}/content_type", f"{ct!r}: multipart or message media types are not allowed", ref)
                if isinstance(a.get("content"), str) and not _BASE64.match(a["content"]):
                    self.err(f"{p}/content", "not base64 (RFC 4648 §4, padded)", ref)
            if external:
                ref = "ATT §4.2"
                self.string(a, "url", p, ref, required=True)
                if isinstance(a.get("url"), str) and not a["url"].lower().startswith("https://"):
                    self.err(f"{p}/url", f"{a['url']!r}: clients shall ensure the url uses https (and discard it otherwise)", "ATT §4.3")
                if "access_token" in a and not (a["access_token"] is None or isinstance(a["access_token"], str)):
                    self.err(f"{p}/access_token", f"must be a string or null, got {_kind(a['access_token'])}", ref)
                if "exp" in a and not _number(a["exp"]):
                    self.err(f"{p}/exp", f"must be a NumericDate number, got {_kind(a['exp'])}", ref)
                if "digest" not in a:
                    self.err(p, "`digest` is required", ref)
                elif self.obj(a["digest"], f"{p}/digest", ref):
                    self.string(a["digest"], "alg", f"{p}/digest", ref, required=True)
                    self.string(a["digest"], "value", f"{p}/digest", ref, required=True)
                    if isinstance(a["digest"].get("value"), str) and not _BASE64.match(a["digest"]["value"]):
                        self.err(f"{p}/digest/value", "not base64 (RFC 4648 §4, padded)", ref)
            self.unknown(a, {"desc", "type", "content_type", "content", "url", "access_token", "exp", "digest"}, p, "ATT §4")


# --------------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------------

def validate_verification(value, path="/verification", notes=None):
    """The `verification` element alone (IDA-VC §5.4.2 ff.)."""
    c = _Checker(notes)
    c.verification(value, path)
    return c.errors


def validate_verified_claims(value, claims_supported=None, request=None, notes=None, path="/verified_claims"):
    """Errors of a `verified_claims` value (object or array of objects); [] when it follows the texts."""
    c = _Checker(notes)
    # IDA-VC §5.2: "A single object or an array of objects"
    if isinstance(value, list):
        if not value:
            c.note(path, "an empty array: says nothing (omit verified_claims instead)", "IDA-VC §5.2")
        entries = [(f"{path}/{i}", e) for i, e in enumerate(value)]
    elif isinstance(value, dict):
        entries = [(path, value)]
    else:
        c.err(path, f"must be an object or an array of objects, got {_kind(value)}", "IDA-VC §5.2")
        return c.errors
    for p, entry in entries:
        if not c.obj(entry, p, "IDA-VC §5.2"):
            continue
        # IDA-VC §5.2: claims Required, an object; verification Required, an object
        for key in ("verification", "claims"):
            if key not in entry:
                c.err(p, f"`{key}` is required", "IDA-VC §5.2")
        if "verification" in entry:
            c.verification(entry["verification"], f"{p}/verification")
        if "claims" in entry and c.obj(entry["claims"], f"{p}/claims", "IDA-VC §5.2"):
            # IDA-VC §5.3: "The claims element may be empty"
            c.claims(entry["claims"], f"{p}/claims")
            if claims_supported is not None:  # IDA §8: "claims that are not present in this array shall not be returned"
                for name in entry["claims"]:
                    if name.split("#", 1)[0] not in claims_supported:
                        c.err(f"{p}/claims/{_esc(name)}", "not in the OP's claims_in_verified_claims_supported", "IDA §8")
            # IDA-VC §5.4.4.2 (document): derived claims "shall have corresponding claims in the claims element"
            ev = entry.get("verification", {}).get("evidence") if isinstance(entry.get("verification"), dict) else None
            for i, e in enumerate(ev if isinstance(ev, list) else []):
                if isinstance(e, dict) and e.get("type") == "document" and isinstance(e.get("derived_claims"), dict):
                    for name in e["derived_claims"]:
                        if name not in entry["claims"]:
                            c.err(f"{p}/verification/evidence/{i}/derived_claims/{_esc(name)}", "has no corresponding claim in `claims`",
                                  "IDA-VC §5.4.4.2")
        c.unknown(entry, {"verification", "claims"}, p, "IDA-VC §5.2")
    if request is not None:
        _against_request(c, entries, request, path)
    return c.errors


def _requested_entries(request):
    if isinstance(request, list):
        return [r for r in request if isinstance(r, dict)]
    return [request] if isinstance(request, dict) else []


def _allowed(value, spec):
    """OIDC §5.5.1 / IDA §5.5.1: a `value` or `values` restriction met (no restriction: met)."""
    if not isinstance(spec, dict):
        return True
    if "value" in spec and spec["value"] != value:
        return False
    if isinstance(spec.get("values"), list) and value not in spec["values"]:
        return False
    return True


def _covered(entry, req):
    """Why `entry` is not an answer to request entry `req` (IDA §7: nothing unrequested; §5.5.1:
    restrictions met; §5.7.4: an unmet restriction under verification omits the whole entry), or ''."""
    v = entry.get("verification") if isinstance(entry.get("verification"), dict) else {}
    rv = req.get("verification") if isinstance(req.get("verification"), dict) else {}
    for key in v:
        if key != "trust_framework" and key not in rv:  # trust_framework is Required in every answer
            return f"verification/{key} was not requested"
    for key in ("trust_framework", "assurance_level"):
        if key in v and not _allowed(v[key], rv.get(key)):
            return f"verification/{key} {v[key]!r} fails the requested value/values"
    if isinstance(v.get("evidence"), list) and isinstance(rv.get("evidence"), list):
        wanted = {f.get("type", {}).get("value") for f in rv["evidence"] if isinstance(f, dict) and isinstance(f.get("type"), dict)}
        for e in v["evidence"]:
            if isinstance(e, dict) and wanted and e.get("type") not in wanted:
                return f"evidence of type {e.get('type')!r} was not requested"
    claims = entry.get("claims") if isinstance(entry.get("claims"), dict) else {}
    rc = req.get("claims") if isinstance(req.get("claims"), dict) else {}
    for name, value in claims.items():
        if name not in rc:
            return f"claims/{name} was not requested"
        if not _allowed(value, rc[name]):
            return f"claims/{name} fails the requested value/values"
    return ""


def _against_request(c, entries, request, path):
    reqs = _requested_entries(request)
    for p, entry in entries:
        if not isinstance(entry, dict):
            continue
        whys = [_covered(entry, r) for r in reqs]
        if reqs and all(whys):
            c.err(p, "answers no requested entry: " + "; ".join(sorted(set(whys))), "IDA §7, §5.5.1, §5.6")
    if isinstance(request, dict) and len(entries) > 1:
        c.err(path, "an array answers a single requested object", "IDA §5.6")


# --------------------------------------------------------------------------------------------------
# Requests (the `claims` parameter's verified_claims)
# --------------------------------------------------------------------------------------------------

_DATE_ELEMENTS = {"time", "date_of_issuance", "date_of_expiry", "created_at", "birthdate"}


class _RequestChecker(_Checker):
    def __init__(self, notes=None, legacy_purpose=False):
        super().__init__(notes)
        self.legacy_purpose = legacy_purpose

    def leaf(self, value, path, name):
        """A requested element or claim: null or an object (IDA §5.3, OIDC §5.5.1)."""
        if value is None:
            return
        if not isinstance(value, dict):
            self.err(path, f"must be null or an object, got {_kind(value)}", "IDA §5.3, OIDC §5.5.1")
            return
        if "essential" in value and not isinstance(value["essential"], bool):
            self.err(f"{path}/essential", f"must be a boolean, got {_kind(value['essential'])}", "OIDC §5.5.1")
        if "values" in value and not isinstance(value["values"], list):
            self.err(f"{path}/values", f"must be an array, got {_kind(value['values'])}", "OIDC §5.5.1")
        if "value" in value and "values" in value:
            self.note(path, "both value and values", "OIDC §5.5.1")
        if "max_age" in value:
            if not _number(value["max_age"]):
                self.err(f"{path}/max_age", f"must be a JSON number, got {_kind(value['max_age'])}", "IDA §5.5.2")
            elif value["max_age"] < 0:
                self.note(f"{path}/max_age", "negative: no data can be that fresh", "IDA §5.5.2")
            if name not in _DATE_ELEMENTS:
                self.note(f"{path}/max_age", f"`{name}` is not a date or timestamp: max_age only applies to those", "IDA §5.5.2")
        if "purpose" in value:
            pur = value["purpose"]
            ok = isinstance(pur, str) and 3 <= len(pur) <= 300
            if self.legacy_purpose and not ok:
                self.err(f"{path}/purpose", f"must be a string of 3 to 300 characters, got {pur!r}"[:200], "IDA pre-final drafts (removed October 2023)")
            elif not self.legacy_purpose:
                self.note(f"{path}/purpose", "not defined in 1.0 (removed October 2023): ignored" + ("" if ok else "; and outside the drafts' 3-300 characters"),
                          "OIDC §5.5.1")
        for key in value:
            if key not in ("essential", "value", "values", "max_age", "purpose"):
                self.note(f"{path}/{key}", "a member not understood: ignored", "OIDC §5.5.1")

    def structure(self, value, path, shape, ref):
        """A requested structured element: null, or an object whose members are requested in turn."""
        if value is None:
            return
        if not self.obj(value, path, ref, "null or an object"):
            return
        for key, sub in value.items():
            p = f"{path}/{key}"
            kind = shape.get(key, "leaf")
            if kind == "leaf":
                self.leaf(sub, p, key)
            elif isinstance(kind, tuple) and kind[0] == "array":
                if sub is None:
                    continue
                if not isinstance(sub, list):
                    self.err(p, f"must be an array, got {_kind(sub)}", ref)
                    continue
                for i, item in enumerate(sub):
                    self.structure(item, f"{p}/{i}", kind[1], ref)
            else:
                self.structure(sub, p, kind, ref)

    def claims_request(self, claims, path):
        # IDA §5.3: "The verified_claims element includes a claims element, which in turn includes the
        # desired claims as keys. For each claim, the value is either null (default), or an object."
        if not isinstance(claims, dict):
            self.err(path, f"must be an object with the requested claims as keys, got {_kind(claims)}", "IDA §5.3")
            return
        if not claims:
            self.note(path, "no claim requested (an answer's claims may be empty, IDA-VC §5.3)", "IDA §5.3")
        for name, spec in claims.items():
            self.leaf(spec, f"{path}/{_esc(name)}", name.split("#", 1)[0])

    def evidence(self, ev, path):
        ref = "IDA §5.4"
        if not isinstance(ev, list):
            self.err(path, f"must be an array of filter entries, got {_kind(ev)}", ref)
            return
        if not ev:
            self.err(path, "an empty array: one or more entries are the filter", ref)
        issuer = {"name": "leaf", "jurisdiction": "leaf", "country_code": "leaf"}
        shapes = {
            "document": {"check_details": ("array", {}), "document_details": {"issuer": issuer}},
            "electronic_record": {"check_details": ("array", {}), "record": {"source": issuer}},
            "vouch": {"check_details": ("array", {}), "attestation": {"voucher": issuer}},
            "electronic_signature": {},
        }
        for i, f in enumerate(ev):
            p = f"{path}/{i}"
            if not self.obj(f, p, ref):
                continue
            # "The RP therefore shall specify this type by including the type field including a suitable
            # value sub-element value. The values sub-element shall not be used for the evidence/type field."
            t = f.get("type")
            if "type" not in f:
                self.err(p, "`type` is required (with a `value`)", ref)
            elif not isinstance(t, dict) or "value" not in t:
                self.err(f"{p}/type", "must be an object with a `value`", ref)
            if isinstance(t, dict) and "values" in t:
                self.err(f"{p}/type/values", "`values` shall not be used for evidence/type", ref)
            kind = t.get("value") if isinstance(t, dict) else None
            if isinstance(t, dict) and "value" in t and kind not in shapes:
                self.note(f"{p}/type/value", f"{kind!r} is none of the four defined evidence types", "IDA-VC §5.4.4.1")
            shape = dict(shapes.get(kind, {}))
            shape["derived_claims"] = "claims"
            rest = {k: v for k, v in f.items() if k not in ("type", "derived_claims")}
            self.structure(rest, p, shape, ref)
            if "derived_claims" in f and f["derived_claims"] is not None:
                self.claims_request(f["derived_claims"], f"{p}/derived_claims")

    def verification_request(self, v, path):
        ref = "IDA §5.4"
        if not self.obj(v, path, ref):
            return
        if "trust_framework" not in v:
            self.note(path, "trust_framework not requested (every answer carries it, IDA-VC §5.4.2; the WG's schema requires it here)", ref)
        evidence = v.get("evidence")
        rest = {k: x for k, x in v.items() if k != "evidence"}
        self.structure(rest, path, {"assurance_process": {"assurance_details": ("array", {"evidence_ref": ("array", {"evidence_metadata": {}})})}},
                       ref)
        if "evidence" in v and evidence is not None:
            self.evidence(evidence, f"{path}/evidence")


def validate_verified_claims_request(value, legacy_purpose=False, notes=None, path="/verified_claims"):
    """Errors of a requested `verified_claims` (object or array of objects, IDA §5.3-§5.6)."""
    c = _RequestChecker(notes, legacy_purpose)
    if isinstance(value, list):  # IDA §5.6: an array of requests, each processed independently
        entries = [(f"{path}/{i}", e) for i, e in enumerate(value)]
        if not value:
            c.err(path, "an empty array requests nothing", "IDA §5.6")
    else:
        entries = [(path, value)]
    for p, entry in entries:
        if not c.obj(entry, p, "IDA §5.3"):
            continue
        if "claims" not in entry:
            c.err(p, "`claims` is required", "IDA §5.3")
        else:
            c.claims_request(entry["claims"], f"{p}/claims")
        if "verification" not in entry:
            # The text never says verification is required in a request (the WG's schema does).
            c.note(p, "no verification element requested (the WG's schema requires one)", "IDA §5.4")
        else:
            c.verification_request(entry["verification"], f"{p}/verification")
        c.unknown(entry, {"verification", "claims"}, p, "IDA §5.3")
    return c.errors


def validate_claims_parameter(claims, legacy_purpose=False, notes=None):
    """An OIDC `claims` parameter (OIDC §5.5): its id_token / userinfo verified_claims requests."""
    if not isinstance(claims, dict):
        return [f"/: the claims parameter must be a JSON object, got {_kind(claims)} [OIDC §5.5]"]
    errors = []
    for target in ("id_token", "userinfo"):
        member = claims.get(target)
        if member is None:
            continue
        if not isinstance(member, dict):
            errors.append(f"/{target}: must be an object, got {_kind(member)} [OIDC §5.5]")
            continue
        if "verified_claims" in member:
            errors += validate_verified_claims_request(member["verified_claims"], legacy_purpose, notes, f"/{target}/verified_claims")
    return errors


def _kind(value):
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _esc(name):
    return str(name).replace("~", "~0").replace("/", "~1")  # RFC 6901


# --------------------------------------------------------------------------------------------------
# Self-test: the texts' examples restated as facts, and broken variants
# --------------------------------------------------------------------------------------------------

def _document_evidence():
    """A driving permit checked in two steps (cf. the NIST 800-63A example in IDA §"Example responses")."""
    return {"type": "document",
            "check_details": [{"check_method": "vpiruv", "organization": "doc_checker", "check_id": "DL-77-a", "time": "2023-03-14T09:15Z"},
                              {"check_method": "pvp", "organization": "face_checker", "check_id": "FM-12-b"}],
            "document_details": {"type": "driving_permit", "document_number": "Y7654321", "date_of_issuance": "2020-02-29",
                                 "date_of_expiry": "2028-02-28",
                                 "issuer": {"name": "Nevada DMV", "country": "US", "country_code": "USA", "jurisdiction": "NV"}}}


def _nist_document():
    return {"verification": {"trust_framework": "nist_800_63A", "assurance_level": "ial2",
                             "assurance_process": {"assurance_details": [
                                 {"assurance_type": "evidence_validation", "assurance_classification": "strong",
                                  "evidence_ref": [{"check_id": "DL-77-a", "evidence_metadata": {"evidence_classification": "strong"}}]},
                                 {"assurance_type": "verification", "evidence_ref": [{"check_id": "FM-12-b"}]}]},
                             "time": "2023-03-14T09:20Z", "verification_process": "5C0F-22A1-77E3", "evidence": [_document_evidence()]},
            "claims": {"given_name": "Rosa", "family_name": "Franklin", "birthdate": "1990-07-25", "place_of_birth": {"country": "USA"},
                       "address": {"locality": "Reno", "postal_code": "89501", "country": "USA", "street_address": "1 Main St"}}}


def _samples():
    import copy

    def with_(base, mutate):
        v = copy.deepcopy(base)
        mutate(v)
        return v

    minimum = {"verification": {"trust_framework": "de_aml"}, "claims": {}}
    simple = {"verification": {"trust_framework": "trust_framework_example"}, "claims": {"given_name": "Max", "family_name": "Muster"}}
    nist = _nist_document()
    eidas = {"verification": {"trust_framework": "eidas", "assurance_level": "substantial"},
             "claims": {"given_name": "Jan", "family_name": "Novak", "birthdate": "1977-02-01", "nationalities": ["CZE"]}}
    record = {"verification": {"trust_framework": "se_bankid", "time": "2021-04-09T14:12Z", "verification_process": "99476DA2-ACDC",
                               "evidence": [{"type": "electronic_record", "check_details": [{"check_method": "kbv", "organization": "TheCreditBureau",
                                                                                             "check_id": "kbv1-hf934hn09234ng03jj3"}],
                                             "record": {"type": "population_register", "created_at": "1979-01-22T00:00+01:00",
                                                        "date_of_expiry": "2030-01-01",
                                                        "source": {"name": "Skatteverket", "country": "Sverige", "country_code": "SWE"}}}]},
              "claims": {"given_name": "Fredrik", "family_name": "Strömberg", "birthdate": "1979-01-22", "place_of_birth": {"country": "SWE", "locality": "Örnsköldsvik"},
                         "nationalities": ["SWE"], "address": {"locality": "Karlstad", "postal_code": "65 342", "country": "SWE", "country_code": "SWE",
                                                               "street_address": "Gatunamn 221b"}}}
    vouch = {"verification": {"trust_framework": "uk_diatf", "assurance_level": "very_high", "time": "2020-03-19T13:05Z",
                              "evidence": [{"type": "vouch", "check_details": [{"check_method": "vcrypt", "time": "2020-03-19T12:42Z"}, {"check_method": "bvr"}],
                                            "attestation": {"type": "digital_attestation", "reference_number": "6485-1619-3976-6671",
                                                            "date_of_issuance": "2021-06-04", "date_of_expiry": "2022-06-04",
                                                            "voucher": {"organization": "HMP Dartmoor", "name": "A. Warden", "birthdate": "0000-03-01",
                                                                        "occupation": "governor", "country_code": "GBR"}},
                                            "derived_claims": {"given_name": "Sam", "family_name": "Lawler"}}]},
             "claims": {"given_name": "Sam", "family_name": "Lawler", "birthdate": "1981", "place_of_birth": {"country": "GBR"}}}
    signature = {"verification": {"trust_framework": "de_aml", "time": "2012-04-23T18:25:43Z",
                                  "evidence": [{"type": "electronic_signature", "signature_type": "qes_eidas", "issuer": "Example QTSP",
                                                "serial_number": "10978342379280287615", "created_at": "2012-04-23T18:25Z",
                                                "derived_claims": {"given_name": "Max", "family_name": "Meier", "birthdate": "1956-01-28"}}]},
                 "claims": {"given_name": "Max", "family_name": "Meier", "birthdate": "1956-01-28"}}
    attachments = with_(nist, lambda v: v["verification"]["evidence"][0].__setitem__("attachments", [
        {"desc": "Front of the permit", "content_type": "image/png", "content": "iVBORw0KGgo="},
        {"desc": "Back", "url": "https://idp.example/attachments/4Ag8", "digest": {"alg": "sha-256", "value": "2QcDeLJ/qeXJn4nP+v3nijMgxOBCT9WJaV0LjRS4aT8="},
         "access_token": None, "exp": 1676552089}]))
    derived_doc = with_(nist, lambda v: v["verification"]["evidence"][0].__setitem__("derived_claims", {"given_name": "Rosa", "birthdate": "1990-07-25"}))
    extensions = with_(nist, lambda v: (v.__setitem__("txn", "x"), v["verification"].__setitem__("x_scheme_note", {"a": 1}),
                                        v["verification"]["evidence"][0]["check_details"][0].__setitem__("txn", "old"),
                                        v["verification"]["evidence"][0]["document_details"].__setitem__("personal_number", "123"),
                                        v["verification"]["evidence"].append({"type": "id_document", "method": "pipp"})))
    tagged = {"verification": {"trust_framework": "jp_aml"}, "claims": {"family_name#ja-Kana-JP": "ヤマダ", "family_name": "Yamada", "x-custom": [1, 2]}}
    sigil = {"verification": {"trust_framework": "nist_800_63A", "assurance_level": "ial2", "time": "2025-01-02T03:04:05Z", "verification_process": "idv_abc",
                              "evidence": [{"type": "document", "check_details": [{"check_method": c, "organization": "sigil", "time": "2025-01-02T03:04:05Z"}
                                                                                  for c in ("vpip", "vdig", "pvp")],
                                            "document_details": {"type": "passport", "document_number": "C01X00T47", "date_of_expiry": "2031-10-31",
                                                                 "issuer": {"country_code": "UTO"}}}]},
             "claims": {"given_name": "ANNA MARIA", "family_name": "ERIKSSON", "birthdate": "1974-08-12", "nationalities": ["UTO"]}}

    good = [
        ("minimum conformant (de_aml, empty claims: IDA-VC §5.3 'may be empty')", minimum),
        ("simple: trust_framework and two names", simple),
        ("NIST 800-63A driving permit: check_details, assurance_details cross-referenced by check_id, issuer", nist),
        ("eIDAS: assurance level, no evidence", eidas),
        ("electronic_record with source and created_at +01:00", record),
        ("vouch with attestation, voucher (birthdate 0000-03-01), derived claims; birthdate year only (OIDC §5.1)", vouch),
        ("electronic_signature with seconds in time", signature),
        ("embedded and external attachments", attachments),
        ("document derived_claims that the claims element has", derived_doc),
        ("an array of two verified_claims", [minimum, eidas]),
        ("unknown members and older names (txn, personal_number, id_document) are ignored", extensions),
        ("language-tagged claim and a custom claim", tagged),
        ("Sigil's standard answer shape (passport, UTO, vpip/vdig/pvp)", sigil),
        ("2-letter country code (compatibility) and lower-case issuer code accepted with notes",
         with_(nist, lambda v: v["verification"]["evidence"][0]["document_details"]["issuer"].__setitem__("country_code", "us"))),
        ("empty evidence array (the text sets no minimum)", with_(minimum, lambda v: v["verification"].__setitem__("evidence", []))),
        ("electronic_record with an empty check_details (the text asks 'at least one' of document's only)",
         with_(record, lambda v: v["verification"]["evidence"][0].__setitem__("check_details", []))),
        ("leap second 23:59:60Z", with_(minimum, lambda v: v["verification"].__setitem__("time", "2016-12-31T23:59:60Z"))),
    ]
    bad = [
        ("not an object or array", "verified", "must be an object or an array"),
        ("missing verification", {"claims": {}}, "`verification` is required"),
        ("missing claims", {"verification": {"trust_framework": "eidas"}}, "`claims` is required"),
        ("missing trust_framework", {"verification": {"assurance_level": "ial2"}, "claims": {}}, "`trust_framework` is required"),
        ("trust_framework not a string", {"verification": {"trust_framework": ["eidas"]}, "claims": {}}, "trust_framework: must be a string"),
        ("claims not an object", {"verification": {"trust_framework": "eidas"}, "claims": ["given_name"]}, "claims: must be an object"),
        ("claims null", {"verification": {"trust_framework": "eidas"}, "claims": None}, "claims: must be an object"),
        ("assurance_level null (Okta's failure value)", with_(minimum, lambda v: v["verification"].__setitem__("assurance_level", None)),
         "assurance_level: must be a string"),
        ("time without TZD", with_(minimum, lambda v: v["verification"].__setitem__("time", "2021-06-06T05:32")), "no TZD"),
        ("time with fractional seconds", with_(minimum, lambda v: v["verification"].__setitem__("time", "2021-06-06T05:32:01.5Z")), "fractional"),
        ("time as a date only", with_(minimum, lambda v: v["verification"].__setitem__("time", "2021-06-06")), "not YYYY-MM-DDThh:mm[:ss]TZD"),
        ("time on 30 February", with_(minimum, lambda v: v["verification"].__setitem__("time", "2021-02-30T10:00Z")), "not a real date"),
        ("time hour 24", with_(minimum, lambda v: v["verification"].__setitem__("time", "2021-02-03T24:00Z")), "not a real date"),
        ("time offset +0100 (basic format)", with_(minimum, lambda v: v["verification"].__setitem__("time", "2021-02-03T10:00+0100")), "not YYYY"),
        ("evidence not an array", with_(minimum, lambda v: v["verification"].__setitem__("evidence", {"type": "document"})), "evidence: must be an array"),
        ("evidence without type", with_(nist, lambda v: v["verification"]["evidence"][0].pop("type")), "evidence/0: `type` is required"),
        ("evidence type not a string", with_(nist, lambda v: v["verification"]["evidence"][0].__setitem__("type", 3)), "type: must be a string"),
        ("check_details without check_method", with_(nist, lambda v: v["verification"]["evidence"][0]["check_details"][1].pop("check_method")),
         "check_details/1: `check_method` is required"),
        ("check_details with only the older `method`",
         with_(nist, lambda v: v["verification"]["evidence"][0]["check_details"][0].__setitem__("method", v["verification"]["evidence"][0]["check_details"][0].pop("check_method"))),
         "check_details/0: `check_method` is required"),
        ("document check_details empty", with_(nist, lambda v: (v["verification"]["evidence"][0].__setitem__("check_details", []),
                                                                v["verification"].pop("assurance_process"))),
         "at least one member"),
        ("check_details time bad", with_(nist, lambda v: v["verification"]["evidence"][0]["check_details"][0].__setitem__("time", "yesterday")),
         "check_details/0/time"),
        ("document_details without type", with_(nist, lambda v: v["verification"]["evidence"][0]["document_details"].pop("type")),
         "document_details: `type` is required"),
        ("date_of_expiry 2028-02-30", with_(nist, lambda v: v["verification"]["evidence"][0]["document_details"].__setitem__("date_of_expiry", "2028-02-30")),
         "date_of_expiry: '2028-02-30' is not a real date"),
        ("date_of_issuance with a time", with_(nist, lambda v: v["verification"]["evidence"][0]["document_details"].__setitem__("date_of_issuance", "2020-02-29T00:00Z")),
         "date_of_issuance"),
        ("issuer country_code 'D' (ICAO MRZ Germany)", with_(nist, lambda v: v["verification"]["evidence"][0]["document_details"]["issuer"].__setitem__("country_code", "D")),
         "DEU"),
        ("issuer country_code 'United States'", with_(nist, lambda v: v["verification"]["evidence"][0]["document_details"]["issuer"].__setitem__("country_code", "United States")),
         "country_code"),
        ("issuer name not a string", with_(nist, lambda v: v["verification"]["evidence"][0]["document_details"]["issuer"].__setitem__("name", {"en": "DMV"})),
         "issuer/name: must be a string"),
        ("evidence_ref naming no check_id", with_(nist, lambda v: v["verification"]["assurance_process"]["assurance_details"][1]["evidence_ref"][0].__setitem__("check_id", "nope")),
         "is in no evidence's check_details"),
        ("evidence_ref without check_id", with_(nist, lambda v: v["verification"]["assurance_process"]["assurance_details"][1]["evidence_ref"][0].pop("check_id")),
         "`check_id` is required"),
        ("assurance_details empty", with_(nist, lambda v: v["verification"]["assurance_process"].__setitem__("assurance_details", [])), "at least one member"),
        ("assurance_process with nothing in it", with_(minimum, lambda v: v["verification"].__setitem__("assurance_process", {})), "one or more"),
        ("electronic_signature without issuer", with_(signature, lambda v: v["verification"]["evidence"][0].pop("issuer")), "`issuer` is required"),
        ("electronic_record record without type", with_(record, lambda v: v["verification"]["evidence"][0]["record"].pop("type")), "record: `type` is required"),
        ("vouch attestation without type", with_(vouch, lambda v: v["verification"]["evidence"][0]["attestation"].pop("type")), "attestation: `type` is required"),
        ("voucher birthdate 12/03/1950", with_(vouch, lambda v: v["verification"]["evidence"][0]["attestation"]["voucher"].__setitem__("birthdate", "12/03/1950")),
         "voucher/birthdate"),
        ("derived_claims empty", with_(signature, lambda v: v["verification"]["evidence"][0].__setitem__("derived_claims", {})), "shall not be empty"),
        ("document derived claim absent from claims", with_(derived_doc, lambda v: v["claims"].pop("birthdate")), "no corresponding claim"),
        ("embedded attachment without content", with_(attachments, lambda v: v["verification"]["evidence"][0]["attachments"][0].pop("content")),
         "`content` is required"),
        ("embedded attachment multipart/mixed", with_(attachments, lambda v: v["verification"]["evidence"][0]["attachments"][0].__setitem__("content_type", "multipart/mixed")),
         "multipart or message"),
        ("embedded attachment content not base64", with_(attachments, lambda v: v["verification"]["evidence"][0]["attachments"][0].__setitem__("content", "not base64!")),
         "content: not base64"),
        ("external attachment without digest", with_(attachments, lambda v: v["verification"]["evidence"][0]["attachments"][1].pop("digest")), "`digest` is required"),
        ("external attachment over http", with_(attachments, lambda v: v["verification"]["evidence"][0]["attachments"][1].__setitem__("url", "http://idp.example/a")),
         "https"),
        ("attachment neither embedded nor external", with_(attachments, lambda v: v["verification"]["evidence"][0]["attachments"].append({"desc": "?"})),
         "neither an embedded"),
        ("given_name as Okta's {value, fuzzy} object", with_(simple, lambda v: v["claims"].__setitem__("given_name", {"value": "Max", "fuzzy": True})),
         "claims/given_name: must be a string"),
        ("birthdate 10/12/1815", with_(simple, lambda v: v["claims"].__setitem__("birthdate", "10/12/1815")), "claims/birthdate"),
        ("birthdate 1815-13-10", with_(simple, lambda v: v["claims"].__setitem__("birthdate", "1815-13-10")), "not a real date"),
        ("nationalities a string", with_(simple, lambda v: v["claims"].__setitem__("nationalities", "DEU")), "nationalities: must be an array"),
        ("nationalities with 'Germany'", with_(simple, lambda v: v["claims"].__setitem__("nationalities", ["Germany"])), "nationalities/0"),
        ("place_of_birth empty", with_(simple, lambda v: v["claims"].__setitem__("place_of_birth", {})), "some or all"),
        ("address a string", with_(simple, lambda v: v["claims"].__setitem__("address", "1 Main St")), "address: must be an object"),
        ("address country_code 'Sweden'", with_(simple, lambda v: v["claims"].__setitem__("address", {"country_code": "Sweden"})), "address/country_code"),
        ("email_verified 'true'", with_(simple, lambda v: v["claims"].__setitem__("email_verified", "true")), "must be a boolean"),
        ("msisdn with letters", with_(simple, lambda v: v["claims"].__setitem__("msisdn", "+44 tel")), "E.164"),
        ("an array entry that is not an object", [minimum, "x"], "/verified_claims/1: must be an object"),
    ]
    return good, bad


def _request_samples():
    simple = {"verification": {"trust_framework": None}, "claims": {"given_name": None, "family_name": None}}
    essential = {"verification": {"trust_framework": None, "time": None}, "claims": {"given_name": {"essential": True}, "family_name": {"essential": True}}}
    deeper = {"verification": {"trust_framework": None, "time": None,
                               "evidence": [{"type": {"value": "document"}, "check_details": [{"check_method": {"value": "pipp"}}],
                                             "document_details": {"type": None, "issuer": {"country": None, "name": None}, "document_number": None,
                                                                  "date_of_issuance": None},
                                             "attachments": None, "derived_claims": None}]},
              "claims": {"given_name": None, "family_name": None, "birthdate": None}}
    aml = {"verification": {"trust_framework": {"value": "de_aml"},
                            "evidence": [{"type": {"value": "document"}, "check_details": [{"check_method": {"value": "pipp"}}],
                                          "document_details": {"type": {"values": ["idcard", "passport"]}}}]},
           "claims": {"given_name": None, "family_name": None, "birthdate": None}}
    max_age = {"verification": {"trust_framework": {"value": "jp_aml"}, "time": {"max_age": 63113852}}, "claims": {"given_name": None}}
    by_frameworks = [{"verification": {"trust_framework": {"value": "gold"}, "evidence": [{"type": {"value": "document"}}]}, "claims": {"given_name": None}},
                     {"verification": {"trust_framework": {"values": ["silver", "bronze"]}, "evidence": [{"type": {"value": "electronic_record"}}]},
                      "claims": {"given_name": None}}]
    signature = {"verification": {"trust_framework": None, "evidence": [{"type": {"value": "electronic_signature"}, "issuer": None, "serial_number": None,
                                                                        "created_at": None}]}, "claims": {"given_name": None}}
    assurance = {"verification": {"trust_framework": None, "assurance_level": {"values": ["ial2", "ial3"]},
                                  "assurance_process": {"policy": None, "assurance_details": [{"assurance_type": None, "evidence_ref": [{"check_id": None}]}]}},
                 "claims": {"given_name": None}}
    okta = {"verification": {"trust_framework": {"value": "IDV-DELEGATED", "essential": True}, "assurance_level": {"value": "VERIFIED", "essential": True}},
            "claims": {"given_name": {"value": "Ada", "fuzzy": True}, "address": {"locality": {"value": "London", "fuzzy": True}}}}
    good = [
        ("request: simple (trust_framework, two names)", simple, False),
        ("request: essential names and time", essential, False),
        ("request: deeper evidence filter with document_details, attachments, derived_claims", deeper, False),
        ("request: de_aml, check_method pipp, document type values", aml, False),
        ("request: time max_age", max_age, False),
        ("request: an array by trust framework", by_frameworks, False),
        ("request: electronic_signature filter", signature, False),
        ("request: assurance_level values, assurance_process", assurance, False),
        ("request: Okta's (fuzzy: an extra member, ignored by OIDC §5.5.1)", okta, False),
        ("request: purpose of 2 characters is ignored under 1.0 (a note)", {"verification": {"trust_framework": None},
                                                                           "claims": {"given_name": {"purpose": "id"}}}, False),
        ("request: purpose of 3 characters under the drafts' rule", {"verification": {"trust_framework": None},
                                                                   "claims": {"given_name": {"purpose": "KYC"}}}, True),
        ("request: no verification element (the text does not require it; a note)", {"claims": {"given_name": None}}, False),
    ]
    bad = [
        ("request: claims missing", {"verification": {"trust_framework": None}}, False, "`claims` is required"),
        ("request: claims null", {"verification": {"trust_framework": None}, "claims": None}, False, "claims: must be an object"),
        ("request: a claim as true", {"verification": {"trust_framework": None}, "claims": {"given_name": True}}, False, "must be null or an object"),
        ("request: essential 'yes'", {"verification": {"trust_framework": None}, "claims": {"given_name": {"essential": "yes"}}}, False, "essential: must be a boolean"),
        ("request: values not an array", {"verification": {"trust_framework": {"values": "gold"}}, "claims": {"given_name": None}}, False, "values: must be an array"),
        ("request: max_age a string", {"verification": {"trust_framework": None, "time": {"max_age": "1y"}}, "claims": {"given_name": None}}, False,
         "max_age: must be a JSON number"),
        ("request: evidence not an array", {"verification": {"trust_framework": None, "evidence": {"type": {"value": "document"}}}, "claims": {"given_name": None}},
         False, "evidence: must be an array"),
        ("request: evidence empty", {"verification": {"trust_framework": None, "evidence": []}, "claims": {"given_name": None}}, False, "one or more"),
        ("request: evidence without type", {"verification": {"trust_framework": None, "evidence": [{"check_details": [{"check_method": None}]}]},
                                             "claims": {"given_name": None}}, False, "`type` is required"),
        ("request: evidence type as a bare string", {"verification": {"trust_framework": None, "evidence": [{"type": "document"}]}, "claims": {"given_name": None}},
         False, "type: must be an object with a `value`"),
        ("request: evidence type with values", {"verification": {"trust_framework": None, "evidence": [{"type": {"values": ["document", "vouch"]}}]},
                                                 "claims": {"given_name": None}}, False, "shall not be used"),
        ("request: check_details not an array", {"verification": {"trust_framework": None, "evidence": [{"type": {"value": "document"}, "check_details": {"check_method": None}}]},
                                                  "claims": {"given_name": None}}, False, "check_details: must be an array"),
        ("request: verification a string", {"verification": "eidas", "claims": {"given_name": None}}, False, "verification: must be"),
        ("request: purpose too short (the drafts' rule)", {"verification": {"trust_framework": None}, "claims": {"given_name": {"purpose": "id"}}}, True,
         "3 to 300"),
        ("request: purpose too long (the drafts' rule)", {"verification": {"trust_framework": None}, "claims": {"given_name": {"purpose": "x" * 301}}}, True,
         "3 to 300"),
        ("request: empty array", [], False, "requests nothing"),
    ]
    return good, bad


def self_test():
    results = {"passed": 0, "failed": 0}

    def check(name, ok, detail=""):
        results["passed" if ok else "failed"] += 1
        print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else f" -- {detail}"), flush=True)

    good, bad = _samples()
    for name, value in good:
        errors = validate_verified_claims(value)
        check("valid: " + name, errors == [], "; ".join(errors[:4]))
    for name, value, expect in bad:
        errors = validate_verified_claims(value)
        check("invalid: " + name, any(expect in e for e in errors), f"expected an error with {expect!r}, got {errors[:4]}")
    # every error names a path and the section it comes from
    _, bad_all = _samples()
    all_errors = [e for _, v, _ in bad_all for e in validate_verified_claims(v)]
    check("every error reads '/path: message [section]'", all(re.match(r"^/\S*: .+ \[[^\]]+\]$", e) for e in all_errors),
          str([e for e in all_errors if not re.match(r"^/\S*: .+ \[[^\]]+\]$", e)][:3]))
    notes = []
    validate_verified_claims(dict(good)["unknown members and older names (txn, personal_number, id_document) are ignored"], notes=notes)
    check("unknown members and older names are notes, naming the older drafts",
          any("txn" in n and "renamed check_id" in n for n in notes) and any("personal_number" in n for n in notes)
          and any("id_document" in n for n in notes), str(notes[:6]))
    nist = _nist_document()
    check("valid: claims within claims_in_verified_claims_supported",
          validate_verified_claims(nist, claims_supported=["given_name", "family_name", "birthdate", "place_of_birth", "address"]) == [])
    errs = validate_verified_claims(nist, claims_supported=["given_name", "family_name"])
    check("invalid: a claim outside claims_in_verified_claims_supported (IDA §8)", any("birthdate" in e and "IDA §8" in e for e in errs), str(errs))
    req = {"verification": {"trust_framework": {"value": "nist_800_63A"}, "assurance_level": None, "time": None, "verification_process": None,
                            "assurance_process": None, "evidence": [{"type": {"value": "document"}}]},
           "claims": {"given_name": None, "family_name": None, "birthdate": None, "place_of_birth": None, "address": None}}
    check("valid: an answer to the request it answers (IDA §7)", validate_verified_claims(nist, request=req) == [],
          str(validate_verified_claims(nist, request=req)))
    errs = validate_verified_claims(nist, request={"verification": {"trust_framework": None}, "claims": {"given_name": None}})
    check("invalid: unrequested verification elements and claims (IDA §7)", any("was not requested" in e for e in errs), str(errs))
    errs = validate_verified_claims(nist, request={**req, "verification": {**req["verification"], "trust_framework": {"value": "eidas"}}})
    check("invalid: trust_framework failing the requested value (IDA §5.5.1, §5.7.4)", any("fails the requested value" in e for e in errs), str(errs))

    rgood, rbad = _request_samples()
    for name, value, legacy in rgood:
        errors = validate_verified_claims_request(value, legacy_purpose=legacy)
        check("valid " + name, errors == [], "; ".join(errors[:4]))
    for name, value, legacy, expect in rbad:
        errors = validate_verified_claims_request(value, legacy_purpose=legacy)
        check("invalid " + name, any(expect in e for e in errors), f"expected {expect!r}, got {errors[:4]}")
    notes = []
    validate_verified_claims_request({"claims": {"given_name": {"purpose": "id"}}}, notes=notes)
    check("request: under 1.0 a short purpose is a note naming the drafts' rule, not an error", any("purpose" in n and "3-300" in n for n in notes), str(notes))
    check("claims parameter: id_token and userinfo verified_claims are both checked",
          len(validate_claims_parameter({"id_token": {"verified_claims": {"claims": None}}, "userinfo": {"verified_claims": {"verification": {}}}})) == 2)
    check("claims parameter: Okta's whole claims parameter is valid",
          validate_claims_parameter({"id_token": {"verified_claims": [rgood[8][1]]}}) == [])
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) == 2 and not argv[1].startswith("-"):
        with open(argv[1]) as f:
            doc = json.load(f)
        value = doc.get("verified_claims", doc) if isinstance(doc, dict) else doc
        notes = []
        errors = validate_verified_claims(value, notes=notes)
        for n in notes:
            print("note  " + n)
        for e in errors:
            print("error " + e)
        print("valid" if not errors else f"{len(errors)} error(s)")
        return 1 if errors else 0
    print(__doc__.split("API", 1)[0].strip().splitlines()[0])
    print("usage: ida_rules.py --self-test | ida_rules.py FILE.json")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
