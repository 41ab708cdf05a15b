#!/usr/bin/env python3
"""A fake Okta org for Sigil's one-click Okta integration (issue 14): the IdP key store, SAML2 and
IDV_STANDARD identity providers and IdP-discovery routing rules, behind SSWS API tokens, every exchange
validated against Okta's published OpenAPI document (interop/vendor_openapi.py), plus Okta's
service-provider side for sign-ins through Sigil (interop/vendor_sp.py, interop/okta_idv.py).

    /opt/peers-venv/bin/python interop/fake_okta.py --port P --log FILE --seed-token TOKEN[:super|:readonly|:none] ...
    → prints one JSON line when ready: {"base_url", "org_url", "log", "idv_redirect_uri", "idp_discovery_policy_id"}
    /opt/peers-venv/bin/python interop/fake_okta.py --self-test [--log FILE]

What it reproduces (sources: /work/shared/reference/protocols.md §1.1, §1.7, §5 and the OpenAPI document):
  Auth: `Authorization: SSWS {token}`; unknown token (or none) → 401 {"errorCode":"E0000011","errorSummary":
    "Invalid token provided","errorLink":"E0000011","errorId":"oae…","errorCauses":[]}; a token whose admin
    lacks the right → 403 E0000006 "You do not have permission to perform the requested action".
    Token roles: super (everything), readonly (GET only), none (nothing).
  Request-schema failures → 400 E0000001 "Api validation failed: {field}" with errorCauses
    [{"errorSummary": "{field}: …"}]; unknown ids → 404 E0000007 "Not found: Resource not found: {id} ({Type})".
  POST/GET /api/v1/idps/credentials/keys, GET/DELETE …/{kid}: x5c = base64 DER, RSA only; answers a JWK
    (kid UUID, kty, use sig, e, n, x5c, x5t#S256, created, lastUpdated, expiresAt); the same certificate
    twice → 400 E0000001 "Api validation failed: x5c" (cause "x5c: Key already exists in the key store."
    — Okta's wording for this case is not published; inferred); deleting a key an IdP uses → 403.
  POST/GET /api/v1/idps, GET/PUT/DELETE /api/v1/idps/{id}: SAML2 (sso url/binding/destination —
    destination required when request signing is on —, trust issuer + kid (must be in the key store) +
    additionalKids ≤1, audience generated `https://www.okta.com/saml2/service-provider/sp{17}` when absent,
    acs {binding HTTP-POST, type INSTANCE|ORG}, policy.subject userNameTemplate/matchType/matchAttribute,
    provisioning AUTO|DISABLED) and IDV_STANDARD (protocol ID_PROOFING; par, authorization, token, jwks
    required; client_id/client_secret; issuer.url required; provisioning DISABLED only; properties.idvMetadata).
    Names are unique ("name: An object with this field already exists in the current organization").
    `_links`: acs {org}/sso/saml2/{id} (INSTANCE) or {org}/sso/saml2 (ORG), metadata
    {org}/api/v1/idps/{id}/metadata.xml, users, keys, activate/deactivate.
  GET /api/v1/policies?type=IDP_DISCOVERY → the org's one IdP discovery policy (with its immutable
    system Default Rule routing to OKTA); POST/GET /policies/{id}/rules, GET/PUT/DELETE …/{ruleId}:
    conditions: none (all users), userIdentifier {type IDENTIFIER|ATTRIBUTE, patterns [{matchType SUFFIX|
    EQUALS|CONTAINS|STARTS_WITH|EXPRESSION (one only)}]}, network, app, platform; `people` (groups) is
    refused: the document's IdpDiscoveryPolicyRuleCondition has no such condition (routing happens before
    the user is known). actions.idp: SPECIFIC with 1–10 providers (each an existing IdP of that type, or
    OKTA/AgentlessDSSO/IWA without id; IDV IdPs refused, §1.1) or DYNAMIC with matchCriteria. Priorities
    are renumbered as Okta does; the Default Rule stays last.
  429 on demand: E0000047 "API call exceeded rate limit due to too many requests." with X-Rate-Limit-Limit,
    X-Rate-Limit-Remaining, X-Rate-Limit-Reset (every API answer carries the X-Rate-Limit-* headers).
  {org} is the org URL: this server's base URL unless --org-url is given.

Backdoor (tests only; not validated, not logged):
  GET  /__fake__/state | /__fake__/failures | /__fake__/info
  POST /__fake__/tokens {token, role}            PATCH /__fake__/idps/{id} {...}  (merge, behind Sigil's back)
  DELETE /__fake__/idps/{id}, /__fake__/keys/{kid}, /__fake__/rules/{ruleId}
  POST /__fake__/rate-limit {count, retry_after}
  GET  /__fake__/login?idp=ID                     start a SAML sign-in as Okta would; the response posted to
                                                  the ACS is checked and listed in state["signins"]
In Python: FakeOkta(...).start(); .seed_token(t, role); .state; .saml_sp(idp_id); .idv_client(idp_id).
"""
import argparse
import base64
import copy
import hashlib
import html
import json
import os
import re
import sys
import tempfile
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vendor_fake_common import Checks, EXPECT_HEADER, FakeVendorServer, Reply, b64url, random_id  # noqa: E402

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
NO_ID_PROVIDERS = {"OKTA", "AgentlessDSSO", "IWA"}
IDV_TYPES = {"IDV_STANDARD", "IDV_PERSONA", "IDV_CLEAR", "IDV_INCODE"}
BINDINGS = {"HTTP-POST": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", "HTTP-REDIRECT": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"}


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def okta_error(status, code, summary, causes=()):
    return Reply(status, {"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": random_id("oae", 22),
                          "errorCauses": [{"errorSummary": c} for c in causes]})


def invalid(field, cause):
    r = okta_error(400, "E0000001", f"Api validation failed: {field}", [f"{field}: {cause}"])
    return r


def not_found(ident, kind):
    return okta_error(404, "E0000007", f"Not found: Resource not found: {ident} ({kind})")


class OktaState:
    def __init__(self, org_url):
        self.org_url = org_url
        self.tokens = {}    # token -> role
        self.keys = {}      # kid -> key dict
        self.idps = {}      # id -> idp dict
        self.policy = {"id": random_id("00p", 17), "type": "IDP_DISCOVERY", "status": "ACTIVE", "name": "Idp Discovery Policy",
                       "description": "Default IdP Discovery Policy", "priority": 1, "system": True, "conditions": None,
                       "created": now_iso(), "lastUpdated": now_iso()}
        self.rules = {}     # id -> rule (IDP_DISCOVERY rules of self.policy)
        default = {"id": random_id("0pr", 17), "type": "IDP_DISCOVERY", "name": "Default Rule", "priority": 1, "status": "ACTIVE",
                   "system": True, "created": now_iso(), "lastUpdated": now_iso(),
                   "conditions": {"network": {"connection": "ANYWHERE"}},
                   "actions": {"idp": {"providers": [{"type": "OKTA"}], "idpSelectionType": "SPECIFIC"}}}
        self.rules[default["id"]] = default
        self.signins = []

    def ordered_rules(self):
        return sorted(self.rules.values(), key=lambda r: (r["system"], r["priority"]))

    def renumber(self):
        for i, r in enumerate(self.ordered_rules(), start=1):
            r["priority"] = i

    def snapshot(self):
        return {"org_url": self.org_url, "tokens": {t[:4] + "…": r for t, r in self.tokens.items()},
                "keys": copy.deepcopy(list(self.keys.values())), "idps": copy.deepcopy(list(self.idps.values())),
                "policies": [copy.deepcopy(self.policy)], "rules": copy.deepcopy(self.ordered_rules()), "signins": copy.deepcopy(self.signins)}


class FakeOkta(FakeVendorServer):
    vendor = "okta"

    def __init__(self, port=0, log_path=None, org_url=None, work=None):
        super().__init__(port=port, log_path=log_path)
        self.state = OktaState((org_url or self.base_url).rstrip("/"))
        self.work = work or tempfile.mkdtemp(prefix="fake-okta-")
        self._sps = {}

    @property
    def org_url(self):
        return self.state.org_url

    @property
    def idv_redirect_uri(self):
        return self.org_url + "/idp/identity-verification/callback"

    def seed_token(self, token=None, role="super"):
        token = token or random_id("00", 40, ALNUM + "-_")
        with self.lock:
            self.state.tokens[token] = role
        return token

    def info(self):
        return {"base_url": self.base_url, "org_url": self.org_url, "log": self.log_path, "idv_redirect_uri": self.idv_redirect_uri,
                "idp_discovery_policy_id": self.state.policy["id"]}

    # --- routing ------------------------------------------------------------------------------------

    def is_api(self, path):
        return path.startswith("/api/v1/") and not path.endswith("/metadata.xml")

    def _rate_headers(self, remaining=599):
        return {"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": str(remaining), "X-Rate-Limit-Reset": str(int(time.time()) + 60)}

    def rate_limited(self, ex):
        retry = int(self.rate_limit.get("retry_after", 1))
        r = okta_error(429, "E0000047", "API call exceeded rate limit due to too many requests.")
        r.headers.update({"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(int(time.time()) + retry),
                          "Retry-After": str(retry)})
        return r

    def route(self, ex):
        m = re.fullmatch(r"/api/v1/idps/([^/]+)/metadata\.xml", ex.path)
        if m and ex.method == "GET":
            return self.sp_metadata(m.group(1))
        m = re.fullmatch(r"/sso/saml2(?:/([^/]+))?", ex.path)
        if m and ex.method == "POST":
            return self.acs(ex, m.group(1))
        if self.is_api(ex.path):
            reply = self.management(ex)
            for k, v in self._rate_headers().items():
                reply.headers.setdefault(k, v)
            return reply
        return Reply(404, raw=b"Not Found", ctype="text/plain")

    def management(self, ex):
        auth = ex.header("Authorization") or ""
        token = auth[5:].strip() if auth.startswith("SSWS ") else None
        with self.lock:
            role = self.state.tokens.get(token) if token else None
        if role is None:
            return okta_error(401, "E0000011", "Invalid token provided")
        found = self.api.find_operation(ex.method, ex.path)
        if found is None:
            return not_found(ex.path, "Resource")
        if role == "none" or (role == "readonly" and ex.method != "GET"):
            return okta_error(403, "E0000006", "You do not have permission to perform the requested action")
        if ex.request_errors:
            r = self.invalid_request(ex)
            r.rejected_as_invalid = True
            return r
        template, _, params = found
        handler = {
            ("GET", "/api/v1/idps/credentials/keys"): self.list_keys, ("POST", "/api/v1/idps/credentials/keys"): self.create_key,
            ("GET", "/api/v1/idps/credentials/keys/{kid}"): self.get_key, ("DELETE", "/api/v1/idps/credentials/keys/{kid}"): self.delete_key,
            ("GET", "/api/v1/idps"): self.list_idps, ("POST", "/api/v1/idps"): self.create_idp,
            ("GET", "/api/v1/idps/{idpId}"): self.get_idp, ("PUT", "/api/v1/idps/{idpId}"): self.replace_idp,
            ("DELETE", "/api/v1/idps/{idpId}"): self.delete_idp,
            ("GET", "/api/v1/policies"): self.list_policies,
            ("GET", "/api/v1/policies/{policyId}/rules"): self.list_rules, ("POST", "/api/v1/policies/{policyId}/rules"): self.create_rule,
            ("GET", "/api/v1/policies/{policyId}/rules/{ruleId}"): self.get_rule,
            ("PUT", "/api/v1/policies/{policyId}/rules/{ruleId}"): self.replace_rule,
            ("DELETE", "/api/v1/policies/{policyId}/rules/{ruleId}"): self.delete_rule,
        }.get((ex.method, template))
        if handler is None:
            return not_found(template, "operation not implemented by this fake")
        return handler(ex, params)

    def invalid_request(self, ex):
        text = ex.request_errors[0]
        detail = re.search(r"at ([^:]*): (.*)", text)
        field = (detail.group(1).replace("/", ".") if detail else "") or "body"
        what = detail.group(2) if detail else text.splitlines()[0]
        if "SecurityError" in text:
            return okta_error(401, "E0000011", "Invalid token provided")
        return invalid(field if field != "(body)" else "body", what)

    def _links(self, idp):
        base = f"{self.org_url}/api/v1/idps/{idp['id']}"
        links = {"metadata": {"href": base + "/metadata.xml", "type": "application/xml", "hints": {"allow": ["GET"]}},
                 "users": {"href": base + "/users", "hints": {"allow": ["GET"]}},
                 "deactivate" if idp["status"] == "ACTIVE" else "activate":
                     {"href": base + "/lifecycle/" + ("deactivate" if idp["status"] == "ACTIVE" else "activate"), "hints": {"allow": ["POST"]}}}
        if idp["type"] == "SAML2":
            acs_type = idp["protocol"]["endpoints"]["acs"].get("type", "INSTANCE")
            links["acs"] = {"href": self.acs_url(idp), "type": "application/xml", "hints": {"allow": ["POST"]}}
            links["keys"] = {"href": f"{self.org_url}/api/v1/idps/credentials/keys/{idp['protocol']['credentials']['trust']['kid']}",
                             "hints": {"allow": ["GET"]}}
            del acs_type
        return links

    def acs_url(self, idp):
        if idp["protocol"]["endpoints"]["acs"].get("type", "INSTANCE") == "ORG":
            return f"{self.org_url}/sso/saml2"
        return f"{self.org_url}/sso/saml2/{idp['id']}"

    # --- keys ------------------------------------------------------------------------------------------

    def create_key(self, ex, params):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        body = ex.json()
        x5c = body.get("x5c") or []
        if not x5c:
            return invalid("x5c", "The field cannot be left blank")
        try:
            der = base64.b64decode(x5c[0], validate=True)
            cert = x509.load_der_x509_certificate(der)
        except Exception:
            return invalid("x5c", "Invalid X.509 certificate (x5c must be the base64 DER certificate, without PEM armour).")
        pub = cert.public_key()
        if not isinstance(pub, rsa.RSAPublicKey):
            return invalid("x5c", "Only RSA certificates are supported for this identity provider key.")
        thumb = b64url(hashlib.sha256(der).digest())
        with self.lock:
            for k in self.state.keys.values():
                if k["x5t#S256"] == thumb:
                    return invalid("x5c", "Key already exists in the key store.")
            nums = pub.public_numbers()
            key = {"kid": str(uuid.uuid4()), "created": now_iso(), "lastUpdated": now_iso(), "kty": "RSA", "use": "sig",
                   "e": b64url(nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")),
                   "n": b64url(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
                   "x5c": [base64.b64encode(der).decode()], "x5t#S256": thumb,
                   "expiresAt": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
            self.state.keys[key["kid"]] = key
            out = copy.deepcopy(key)
        del serialization, hashes
        return Reply(200, out)

    def list_keys(self, ex, params):
        with self.lock:
            return Reply(200, copy.deepcopy(list(self.state.keys.values())))

    def get_key(self, ex, params):
        with self.lock:
            key = self.state.keys.get(params["kid"])
            return Reply(200, copy.deepcopy(key)) if key else not_found(params["kid"], "IdpKeyCredential")

    def _key_users(self, kid):
        users = []
        for idp in self.state.idps.values():
            trust = idp.get("protocol", {}).get("credentials", {}).get("trust", {})
            if trust.get("kid") == kid or kid in (trust.get("additionalKids") or []):
                users.append(idp["id"])
        return users

    def delete_key(self, ex, params):
        with self.lock:
            if params["kid"] not in self.state.keys:
                return not_found(params["kid"], "IdpKeyCredential")
            users = self._key_users(params["kid"])
            if users:
                return okta_error(403, "E0000006", "You do not have permission to perform the requested action",
                                  [f"kid: The key is in use by identity provider(s) {', '.join(users)}."])
            del self.state.keys[params["kid"]]
        return Reply(204)

    # --- identity providers -----------------------------------------------------------------------------

    def _check_idp(self, body, existing_id=None):
        """A 400 reply or None; fills Okta's defaults into body."""
        name = body.get("name")
        if not name:
            return invalid("name", "The field cannot be left blank")
        typ = body.get("type")
        if not typ:
            return invalid("type", "The field cannot be left blank")
        for other in self.state.idps.values():
            if other["name"] == name and other["id"] != existing_id:
                return invalid("name", "An object with this field already exists in the current organization")
        proto = body.get("protocol") or {}
        policy = body.setdefault("policy", {})
        prov = policy.setdefault("provisioning", {"action": "DISABLED", "profileMaster": False, "groups": {"action": "NONE"}})
        if typ == "SAML2":
            if proto.get("type") != "SAML2":
                return invalid("protocol", "The protocol type must be SAML2 for a SAML2 identity provider.")
            ep = proto.setdefault("endpoints", {})
            sso = ep.get("sso") or {}
            if not sso.get("url"):
                return invalid("protocol.endpoints.sso.url", "The field cannot be left blank")
            sso.setdefault("binding", "HTTP-POST")
            ep.setdefault("acs", {}).setdefault("binding", "HTTP-POST")
            ep["acs"].setdefault("type", "INSTANCE")
            req_sig = ((proto.get("algorithms") or {}).get("request") or {}).get("signature") or {}
            if req_sig.get("scope") == "REQUEST" and not sso.get("destination"):
                return invalid("protocol.endpoints.sso.destination", "The destination is required when request signatures are enabled.")
            creds = proto.setdefault("credentials", {})
            trust = creds.setdefault("trust", {})
            if not trust.get("issuer"):
                return invalid("protocol.credentials.trust.issuer", "The field cannot be left blank")
            for kid in [trust.get("kid")] + list(trust.get("additionalKids") or []):
                if not kid:
                    return invalid("protocol.credentials.trust.kid", "The field cannot be left blank")
                if kid not in self.state.keys:
                    return invalid("protocol.credentials.trust.kid", f"Invalid key credential reference: {kid}")
            trust.setdefault("audience", "https://www.okta.com/saml2/service-provider/sp" + random_id("", 17, ALNUM))
            creds.setdefault("signing", {}).setdefault("kid", str(uuid.uuid4()))
            proto.setdefault("settings", {}).setdefault("nameFormat", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
            if prov.get("action") not in ("AUTO", "DISABLED"):
                return invalid("policy.provisioning.action", "SAML2 identity providers support AUTO or DISABLED.")
            subject = policy.setdefault("subject", {})
            subject.setdefault("userNameTemplate", {"template": "idpuser.subjectNameId"})
            subject.setdefault("matchType", "USERNAME")
            if subject["matchType"] == "CUSTOM_ATTRIBUTE" and not subject.get("matchAttribute"):
                return invalid("policy.subject.matchAttribute", "The field is required when matchType is CUSTOM_ATTRIBUTE.")
        elif typ == "IDV_STANDARD":
            if proto.get("type") != "ID_PROOFING":
                return invalid("protocol", "The protocol type must be ID_PROOFING for an identity verification vendor.")
            ep = proto.get("endpoints") or {}
            for e in ("par", "authorization", "token", "jwks"):
                if not (ep.get(e) or {}).get("url"):
                    return invalid(f"protocol.endpoints.{e}.url", "The field cannot be left blank")
            client = ((proto.get("credentials") or {}).get("client") or {})
            for f in ("client_id", "client_secret"):
                if not client.get(f):
                    return invalid(f"protocol.credentials.client.{f}", "The field cannot be left blank")
            if not (proto.get("issuer") or {}).get("url"):
                return invalid("protocol.issuer.url", "The field cannot be left blank")
            proto.setdefault("scopes", ["openid", "profile", "identity_assurance"])
            if prov.get("action", "DISABLED") != "DISABLED":
                return invalid("policy.provisioning.action", "Identity verification vendors support DISABLED only (no JIT provisioning).")
        elif typ in IDV_TYPES or typ:
            return invalid("type", f"This fake models SAML2 and IDV_STANDARD identity providers only (got {typ}).")
        return None

    def _public_idp(self, idp):
        out = copy.deepcopy(idp)
        out["_links"] = self._links(idp)
        return out

    def create_idp(self, ex, params):
        body = ex.json()
        with self.lock:
            problem = self._check_idp(body)
            if problem:
                problem.rejected_as_invalid = True
                return problem
            idp = {k: v for k, v in body.items() if k not in ("id", "created", "lastUpdated", "_links", "status")}
            idp.update(id=random_id("0oa", 17, ALNUM), status="ACTIVE", created=now_iso(), lastUpdated=now_iso())
            idp.setdefault("issuerMode", "ORG_URL")
            self.state.idps[idp["id"]] = idp
            return Reply(200, self._public_idp(idp))

    def list_idps(self, ex, params):
        q = ex.args
        with self.lock:
            items = [i for i in self.state.idps.values() if (not q.get("type") or i["type"] == q["type"])
                     and (not q.get("q") or i["name"].lower().startswith(q["q"].lower()))]
            return Reply(200, [self._public_idp(i) for i in items[:int(q.get("limit", "20"))]])

    def get_idp(self, ex, params):
        with self.lock:
            idp = self.state.idps.get(params["idpId"])
            return Reply(200, self._public_idp(idp)) if idp else not_found(params["idpId"], "IdentityProvider")

    def replace_idp(self, ex, params):
        body = ex.json()
        with self.lock:
            old = self.state.idps.get(params["idpId"])
            if old is None:
                return not_found(params["idpId"], "IdentityProvider")
            if body.get("type") != old["type"]:
                r = invalid("type", "The type of an identity provider cannot be changed.")
                r.rejected_as_invalid = True
                return r
            if old["type"] == "SAML2":  # Okta keeps the generated audience and signing key unless given
                trust = body.setdefault("protocol", {}).setdefault("credentials", {}).setdefault("trust", {})
                trust.setdefault("audience", old["protocol"]["credentials"]["trust"]["audience"])
                body["protocol"]["credentials"].setdefault("signing", copy.deepcopy(old["protocol"]["credentials"].get("signing", {})))
            problem = self._check_idp(body, existing_id=old["id"])
            if problem:
                problem.rejected_as_invalid = True
                return problem
            idp = {k: v for k, v in body.items() if k not in ("id", "created", "lastUpdated", "_links", "status")}
            idp.update(id=old["id"], status=old["status"], created=old["created"], lastUpdated=now_iso())
            idp.setdefault("issuerMode", old.get("issuerMode", "ORG_URL"))
            self.state.idps[old["id"]] = idp
            return Reply(200, self._public_idp(idp))

    def delete_idp(self, ex, params):
        with self.lock:
            if self.state.idps.pop(params["idpId"], None) is None:
                return not_found(params["idpId"], "IdentityProvider")
            for r in self.state.rules.values():  # Okta drops the deleted IdP from routing rules
                providers = r["actions"]["idp"].get("providers") or []
                r["actions"]["idp"]["providers"] = [p for p in providers if p.get("id") != params["idpId"]]
        return Reply(204)

    # --- policies and routing rules ------------------------------------------------------------------------

    def _policy_links(self):
        base = f"{self.org_url}/api/v1/policies/{self.state.policy['id']}"
        return {"self": {"href": base, "hints": {"allow": ["GET", "PUT"]}}, "rules": {"href": base + "/rules", "hints": {"allow": ["POST", "GET"]}}}

    def list_policies(self, ex, params):
        if ex.args.get("type") != "IDP_DISCOVERY":
            return Reply(200, [])
        with self.lock:
            p = copy.deepcopy(self.state.policy)
        p["_links"] = self._policy_links()
        return Reply(200, [p])

    def _rule_out(self, rule):
        out = copy.deepcopy(rule)
        base = f"{self.org_url}/api/v1/policies/{self.state.policy['id']}/rules/{rule['id']}"
        out["_links"] = {"self": {"href": base, "hints": {"allow": ["GET", "PUT", "DELETE"]}},
                         "deactivate" if rule["status"] == "ACTIVE" else "activate":
                             {"href": base + "/lifecycle/" + ("deactivate" if rule["status"] == "ACTIVE" else "activate"),
                              "hints": {"allow": ["POST"]}}}
        return out

    def _policy_or_404(self, pid):
        return None if pid == self.state.policy["id"] else not_found(pid, "Policy")

    def _check_rule(self, body):
        if body.get("type") != "IDP_DISCOVERY":
            return invalid("type", "The rule type must match the policy type IDP_DISCOVERY.")
        if not body.get("name"):
            return invalid("name", "The field cannot be left blank")
        cond = body.get("conditions") or {}
        if "people" in cond:
            return invalid("conditions.people", "The people condition is not supported for IDP_DISCOVERY rules.")
        ui = cond.get("userIdentifier")
        if ui:
            if ui.get("type") not in ("IDENTIFIER", "ATTRIBUTE"):
                return invalid("conditions.userIdentifier.type", "Must be IDENTIFIER or ATTRIBUTE.")
            if ui["type"] == "ATTRIBUTE" and not ui.get("attribute"):
                return invalid("conditions.userIdentifier.attribute", "The field is required when type is ATTRIBUTE.")
            pats = ui.get("patterns") or []
            if not pats:
                return invalid("conditions.userIdentifier.patterns", "At least one pattern is required.")
            if any(p.get("matchType") == "EXPRESSION" for p in pats) and len(pats) > 1:
                return invalid("conditions.userIdentifier.patterns", "Only one pattern is allowed with matchType EXPRESSION.")
            for p in pats:
                if not p.get("value"):
                    return invalid("conditions.userIdentifier.patterns.value", "The field cannot be left blank")
                if p.get("matchType") == "EXPRESSION":
                    try:
                        re.compile(p["value"])
                    except re.error:
                        return invalid("conditions.userIdentifier.patterns.value", "Invalid regular expression.")
        idp = ((body.get("actions") or {}).get("idp") or {})
        sel = idp.get("idpSelectionType", "SPECIFIC")
        providers = idp.get("providers") or []
        if sel == "DYNAMIC":
            if providers or not idp.get("matchCriteria"):
                return invalid("actions.idp", "DYNAMIC selection takes matchCriteria and no providers.")
            return None
        if not providers:
            return invalid("actions.idp.providers", "At least one provider is required.")
        if len(providers) > 10:
            return invalid("actions.idp.providers", "A rule can route to at most 10 providers.")
        for p in providers:
            if p.get("type") in NO_ID_PROVIDERS:
                continue
            target = self.state.idps.get(p.get("id") or "")
            if target is None:
                return invalid("actions.idp.providers.id", f"Identity provider {p.get('id')} not found.")
            if target["type"] in IDV_TYPES:
                return invalid("actions.idp.providers.id", "Identity verification vendors can't be used in routing rules.")
            if target["type"] != p.get("type"):
                return invalid("actions.idp.providers.type", f"The provider type {p.get('type')} doesn't match the identity provider ({target['type']}).")
        return None

    def _place(self, rule, wanted):
        others = [r for r in self.state.ordered_rules() if not r["system"] and r["id"] != rule["id"]]
        pos = len(others) if not wanted or wanted < 1 else min(int(wanted) - 1, len(others))
        others.insert(pos, rule)
        for i, r in enumerate(others, start=1):
            r["priority"] = i
        self.state.rules[rule["id"]] = rule
        self.state.renumber()

    def list_rules(self, ex, params):
        with self.lock:
            err = self._policy_or_404(params["policyId"])
            return err or Reply(200, [self._rule_out(r) for r in self.state.ordered_rules()])

    def create_rule(self, ex, params):
        body = ex.json()
        with self.lock:
            err = self._policy_or_404(params["policyId"])
            if err:
                return err
            problem = self._check_rule(body)
            if problem:
                problem.rejected_as_invalid = True
                return problem
            for r in self.state.rules.values():
                if r["name"] == body["name"]:
                    return invalid("name", "An object with this field already exists in the current organization")
            rule = {k: copy.deepcopy(v) for k, v in body.items() if k in ("type", "name", "conditions", "actions")}
            rule.update(id=random_id("0pr", 17, ALNUM), system=False, created=now_iso(), lastUpdated=now_iso(),
                        status="INACTIVE" if ex.args.get("activate") == "false" else "ACTIVE")
            self._place(rule, body.get("priority"))
            return Reply(200, self._rule_out(rule))

    def get_rule(self, ex, params):
        with self.lock:
            err = self._policy_or_404(params["policyId"])
            rule = self.state.rules.get(params["ruleId"])
            return err or (Reply(200, self._rule_out(rule)) if rule else not_found(params["ruleId"], "PolicyRule"))

    def replace_rule(self, ex, params):
        body = ex.json()
        with self.lock:
            err = self._policy_or_404(params["policyId"])
            if err:
                return err
            rule = self.state.rules.get(params["ruleId"])
            if rule is None:
                return not_found(params["ruleId"], "PolicyRule")
            if rule["system"]:
                return invalid("system", "The default rule of the IdP discovery policy can't be modified.")
            problem = self._check_rule(body)
            if problem:
                problem.rejected_as_invalid = True
                return problem
            new = {k: copy.deepcopy(v) for k, v in body.items() if k in ("type", "name", "conditions", "actions")}
            new.update(id=rule["id"], system=False, created=rule["created"], lastUpdated=now_iso(), status=rule["status"])
            self._place(new, body.get("priority", rule["priority"]))
            return Reply(200, self._rule_out(new))

    def delete_rule(self, ex, params):
        with self.lock:
            err = self._policy_or_404(params["policyId"])
            if err:
                return err
            rule = self.state.rules.get(params["ruleId"])
            if rule is None:
                return not_found(params["ruleId"], "PolicyRule")
            if rule["system"]:
                return okta_error(403, "E0000006", "You do not have permission to perform the requested action",
                                  ["You can't delete policy rules that have system set to true."])
            del self.state.rules[rule["id"]]
            self.state.renumber()
        return Reply(204)

    def route_for(self, login):
        """Which providers the org's routing rules choose for a username (for drift/behaviour tests)."""
        with self.lock:
            rules = [r for r in self.state.ordered_rules() if r["status"] == "ACTIVE"]
        for r in rules:
            ui = (r.get("conditions") or {}).get("userIdentifier")
            if ui and ui.get("type") == "IDENTIFIER":
                ok = False
                for p in ui.get("patterns") or []:
                    v, mt = p["value"], p["matchType"]
                    ok = ok or {"SUFFIX": login.endswith(v), "EQUALS": login == v, "CONTAINS": v in login, "STARTS_WITH": login.startswith(v),
                                "EXPRESSION": re.fullmatch(v, login) is not None}.get(mt, False)
                if not ok:
                    continue
            return r["actions"]["idp"].get("providers") or []
        return []

    # --- SP side -------------------------------------------------------------------------------------------

    def saml_sp(self, idp_id):
        from cryptography import x509
        from vendor_sp import VendorSAMLSP, der_to_pem
        with self.lock:
            idp = copy.deepcopy(self.state.idps.get(idp_id))
            keys = copy.deepcopy(self.state.keys)
        if idp is None or idp["type"] != "SAML2":
            raise KeyError(f"no SAML2 identity provider {idp_id!r}")
        proto = idp["protocol"]
        trust = proto["credentials"]["trust"]
        certs = [der_to_pem(base64.b64decode(keys[k]["x5c"][0])) for k in [trust["kid"]] + list(trust.get("additionalKids") or []) if k in keys]
        for c in certs:
            x509.load_pem_x509_certificate(c.encode())
        sso = proto["endpoints"]["sso"]
        algs = proto.get("algorithms") or {}
        key = json.dumps([proto, certs, self.acs_url(idp)], sort_keys=True)
        cached = self._sps.get(idp_id)
        if cached and cached[0] == key:
            return cached[1]
        work = os.path.join(self.work, "sp-" + idp_id)
        os.makedirs(work, exist_ok=True)
        sp = VendorSAMLSP(trust["audience"], self.acs_url(idp), sso.get("destination") or sso["url"], certs,
                          request_binding=BINDING_MAP(sso.get("binding")),
                          sign_requests=((algs.get("request") or {}).get("signature") or {}).get("scope") == "REQUEST",
                          idp_entity_id=trust["issuer"],
                          signature_scope={"RESPONSE": "RESPONSE", "TOKEN": "TOKEN"}.get(
                              ((algs.get("response") or {}).get("signature") or {}).get("scope"), "ANY"),
                          clock_skew=max(1, int((idp.get("policy") or {}).get("maxClockSkew") or 120000) // 1000),
                          work=work, vendor="okta", sp_key_cert=cached[1].key_cert if cached else None)
        sp.key_cert = (sp.key, sp.cert)
        self._sps[idp_id] = (key, sp)
        return sp

    def sp_metadata(self, idp_id):
        try:
            sp = self.saml_sp(idp_id)
        except KeyError:
            return not_found(idp_id, "IdentityProvider")
        return Reply(200, raw=sp.metadata().encode(), ctype="application/xml")

    def start_login(self, idp_id, relay_state=""):
        try:
            req = self.saml_sp(idp_id).start(relay_state=relay_state or idp_id)
        except KeyError as e:
            return Reply(404, raw=str(e).encode(), ctype="text/plain")
        if "url" in req:
            return Reply(302, headers={"Location": req["url"]})
        inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>' for k, v in req["form"].items())
        page = (f'<html><body onload="document.forms[0].submit()"><form method="POST" action="{html.escape(req["action"])}">'
                f'{inputs}</form></body></html>')
        return Reply(200, raw=page.encode(), ctype="text/html")

    def acs(self, ex, idp_id):
        form = ex.form()
        if idp_id is None:  # ORG-type ACS: the InResponseTo names the IdP
            idp_id = next((i for i, (_, sp) in self._sps.items() if any(r in base64.b64decode(form.get("SAMLResponse", "")).decode("utf-8", "replace")
                                                                          for r in sp.outstanding)), None)
        result = {"idp": idp_id, "relay_state": form.get("RelayState")}
        try:
            result.update(ok=True, **self.saml_sp(idp_id).consume(form.get("SAMLResponse", "")))
        except Exception as e:
            result.update(ok=False, error=str(e))
        with self.lock:
            self.state.signins.append(result)
        return Reply(200 if result["ok"] else 400, raw=(b"signed in" if result["ok"] else b"sign-in failed"), ctype="text/plain")

    def idv_client(self, idp_id, **kw):
        """interop/okta_idv.py's OktaIDVClient configured from a stored IDV_STANDARD IdP (Okta's side of BYO IDV)."""
        from okta_idv import OktaIDVClient
        with self.lock:
            idp = copy.deepcopy(self.state.idps.get(idp_id))
        if idp is None or idp["type"] != "IDV_STANDARD":
            raise KeyError(f"no IDV_STANDARD identity provider {idp_id!r}")
        p = idp["protocol"]
        ep, client = p["endpoints"], p["credentials"]["client"]
        host = urllib.parse.urlsplit(self.org_url).netloc
        c = OktaIDVClient(p["issuer"]["url"], ep["par"]["url"], ep["authorization"]["url"], ep["token"]["url"], ep["jwks"]["url"],
                          client["client_id"], client["client_secret"], okta_host=host, **kw)
        c.callback_url = self.idv_redirect_uri
        return c

    # --- backdoor ------------------------------------------------------------------------------------------

    def backdoor(self, ex):
        p = ex.path[len("/__fake__"):]
        if ex.method == "GET" and p in ("/state", "/failures", "/info"):
            with self.lock:
                return Reply(200, {"/state": self.state.snapshot, "/failures": self.failures, "/info": self.info}[p]())
        if p == "/tokens" and ex.method == "POST":
            b = ex.json()
            return Reply(201, {"token": self.seed_token(b.get("token"), b.get("role", "super"))})
        if p == "/rate-limit" and ex.method == "POST":
            b = ex.json()
            with self.lock:
                self.rate_limit = {"count": int(b.get("count", 1)), "retry_after": int(b.get("retry_after", 1))}
            return Reply(204)
        if p == "/login" and ex.method == "GET":
            return self.start_login(ex.args.get("idp", ""), ex.args.get("RelayState", ""))
        m = re.fullmatch(r"/(idps|keys|rules)/([^/]+)", p)
        if m and ex.method in ("PATCH", "DELETE"):
            table = {"idps": self.state.idps, "keys": self.state.keys, "rules": self.state.rules}[m.group(1)]
            with self.lock:
                obj = table.get(m.group(2))
                if obj is None:
                    return Reply(404, {"error": "not found"})
                if ex.method == "DELETE":
                    del table[m.group(2)]
                    self.state.renumber()
                    return Reply(204)
                obj.update(ex.json())
                return Reply(200, obj)
        return Reply(404, {"error": f"no backdoor route {ex.method} {p}"})


def BINDING_MAP(okta_binding):
    return BINDINGS.get(okta_binding or "HTTP-POST", BINDINGS["HTTP-POST"])


# --- self-test ----------------------------------------------------------------------------------------


def self_test(log_path):
    import requests
    from vendor_sp import make_keypair, pem_body
    check = Checks()
    fake = FakeOkta(log_path=log_path).start()
    base, api = fake.base_url, fake.base_url + "/api/v1"
    admin = fake.seed_token("00admin-" + "a" * 34, "super")
    reader = fake.seed_token("00reader-" + "b" * 33, "readonly")
    nobody = fake.seed_token("00nobody-" + "c" * 33, "none")
    H = {"Authorization": "SSWS " + admin}
    bad = {EXPECT_HEADER: "invalid-request"}
    s = requests.Session()
    work = tempfile.mkdtemp(prefix="fake-okta-selftest-")

    # auth
    r = s.get(api + "/idps", headers={"Authorization": "SSWS wrong-token"}, timeout=10)
    check("wrong SSWS token → 401 E0000011 Invalid token provided", r.status_code == 401 and r.json()["errorCode"] == "E0000011"
          and r.json()["errorSummary"] == "Invalid token provided" and set(r.json()) == {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"},
          r.text)
    r = s.get(api + "/idps", headers=bad, timeout=10)
    check("no Authorization → 401 E0000011", r.status_code == 401 and r.json()["errorCode"] == "E0000011", r.text)
    r = s.post(api + "/idps/credentials/keys", headers={"Authorization": "SSWS " + reader}, json={"x5c": ["MIIB"]}, timeout=10)
    check("read-only admin token writing → 403 E0000006", r.status_code == 403 and r.json()["errorCode"] == "E0000006", r.text)
    r = s.get(api + "/idps", headers={"Authorization": "SSWS " + nobody}, timeout=10)
    check("token without admin rights → 403 E0000006", r.status_code == 403 and r.json()["errorCode"] == "E0000006", r.text)
    r = s.get(api + "/idps", headers={"Authorization": "SSWS " + reader}, timeout=10)
    check("read-only admin can list", r.status_code == 200 and r.json() == [] and "X-Rate-Limit-Remaining" in r.headers, r.text)

    # keys
    from saml_upstream_idp import OktaShapedIdP
    idp_server = OktaShapedIdP(work, app="exkoktatest")
    with open(idp_server.cert) as f:
        idp_pem = f.read()
    r = s.post(api + "/idps/credentials/keys", headers=H, json={"x5c": [pem_body(idp_pem)]}, timeout=10)
    key = r.json() if r.status_code == 200 else {}
    check("key upload: x5c DER → JWK with a UUID kid, n, e, x5t#S256", r.status_code == 200 and len(key.get("kid", "")) == 36
          and key["kty"] == "RSA" and key["use"] == "sig" and key["x5c"] == [pem_body(idp_pem)] and key.get("x5t#S256"), r.text[:300])
    r = s.post(api + "/idps/credentials/keys", headers=H, json={"x5c": [pem_body(idp_pem)]}, timeout=10)
    check("duplicate key → 400 E0000001 on x5c", r.status_code == 400 and r.json()["errorCode"] == "E0000001"
          and r.json()["errorSummary"] == "Api validation failed: x5c", r.text)
    r = s.post(api + "/idps/credentials/keys", headers=H, json={"x5c": [base64.b64encode(idp_pem.encode()).decode()]}, timeout=10)
    check("a PEM (armoured) x5c → 400 E0000001", r.status_code == 400 and r.json()["errorCode"] == "E0000001", r.text)
    r = s.post(api + "/idps/credentials/keys", headers={**H, **bad}, json={}, timeout=10)
    check("x5c missing → 400 E0000001 (schema)", r.status_code == 400 and r.json()["errorCode"] == "E0000001", r.text)
    import subprocess
    eck, ecc = os.path.join(work, "ec.key"), os.path.join(work, "ec.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", eck, "-out", ecc,
                    "-days", "2", "-subj", "/CN=ec"], check=True, capture_output=True)
    r = s.post(api + "/idps/credentials/keys", headers=H, json={"x5c": [pem_body(open(ecc).read())]}, timeout=10)
    check("EC certificate → 400 (RSA only for SAML IdPs)", r.status_code == 400 and "RSA" in r.json()["errorCauses"][0]["errorSummary"], r.text)
    r = s.get(api + "/idps/credentials/keys/" + key["kid"], headers=H, timeout=10)
    check("GET key by kid", r.status_code == 200 and r.json()["kid"] == key["kid"], r.text[:200])
    r = s.get(api + "/idps/credentials/keys/nope", headers=H, timeout=10)
    check("GET unknown kid → 404 E0000007", r.status_code == 404 and r.json()["errorCode"] == "E0000007", r.text)
    r = s.get(api + "/idps/credentials/keys", headers=H, timeout=10)
    check("list keys", r.status_code == 200 and [k["kid"] for k in r.json()] == [key["kid"]], r.text[:200])

    # SAML2 IdP
    saml = {"type": "SAML2", "name": "Sigil Passwordless",
            "protocol": {"type": "SAML2",
                         "endpoints": {"sso": {"url": idp_server.sso_url, "binding": "HTTP-POST", "destination": idp_server.sso_url},
                                       "acs": {"binding": "HTTP-POST", "type": "INSTANCE"}},
                         "algorithms": {"request": {"signature": {"algorithm": "SHA-256", "scope": "REQUEST"}},
                                        "response": {"signature": {"algorithm": "SHA-256", "scope": "ANY"}}},
                         "credentials": {"trust": {"issuer": idp_server.entity_id, "kid": key["kid"]}},
                         "settings": {"nameFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}},
            "policy": {"provisioning": {"action": "AUTO", "profileMaster": False, "groups": {"action": "NONE"}},
                       "accountLink": {"action": "AUTO", "filter": None},
                       "subject": {"userNameTemplate": {"template": "idpuser.subjectNameId"}, "matchType": "USERNAME",
                                   "filter": r"(\S+@example\.org)"},
                       "maxClockSkew": 120000}}
    r = s.post(api + "/idps", headers=H, json=saml, timeout=10)
    sidp = r.json() if r.status_code == 200 else {}
    acs = f"{fake.org_url}/sso/saml2/{sidp.get('id')}"
    aud = (((sidp.get("protocol") or {}).get("credentials") or {}).get("trust") or {}).get("audience", "")
    check("SAML2 IdP created: 0oa id, ACTIVE, _links.acs = {org}/sso/saml2/{id}", r.status_code == 200 and sidp["id"].startswith("0oa")
          and sidp["status"] == "ACTIVE" and sidp["_links"]["acs"]["href"] == acs, r.text[:400])
    check("audience generated as https://www.okta.com/saml2/service-provider/sp…",
          re.fullmatch(r"https://www\.okta\.com/saml2/service-provider/sp[A-Za-z0-9]{17}", aud) is not None, aud)
    r = s.post(api + "/idps", headers=H, json=saml, timeout=10)
    check("same name → 400 E0000001 on name", r.status_code == 400 and r.json()["errorSummary"] == "Api validation failed: name", r.text)
    nodest = copy.deepcopy(saml)
    nodest["name"] = "No destination"
    del nodest["protocol"]["endpoints"]["sso"]["destination"]
    r = s.post(api + "/idps", headers={**H, **bad}, json=nodest, timeout=10)
    check("request signing without sso.destination → 400", r.status_code == 400 and "destination" in r.json()["errorSummary"], r.text)
    nokey = copy.deepcopy(saml)
    nokey["name"] = "Unknown kid"
    nokey["protocol"]["credentials"]["trust"]["kid"] = str(uuid.uuid4())
    r = s.post(api + "/idps", headers={**H, **bad}, json=nokey, timeout=10)
    check("trust.kid not in the key store → 400", r.status_code == 400 and "kid" in r.json()["errorSummary"], r.text)
    badbind = copy.deepcopy(saml)
    badbind["name"] = "Bad binding"
    badbind["protocol"]["endpoints"]["sso"]["binding"] = "SOAP"
    r = s.post(api + "/idps", headers={**H, **bad}, json=badbind, timeout=10)
    check("sso.binding outside the enum → 400 (schema)", r.status_code == 400 and r.json()["errorCode"] == "E0000001", r.text)
    r = s.get(api + "/idps/" + sidp["id"], headers=H, timeout=10)
    check("GET IdP", r.status_code == 200 and r.json()["policy"]["subject"]["matchType"] == "USERNAME", r.text[:200])
    r = s.delete(api + "/idps/credentials/keys/" + key["kid"], headers=H, timeout=10)
    check("deleting a key an IdP uses → 403", r.status_code == 403, r.text)
    upd = copy.deepcopy(saml)
    upd["policy"]["subject"] = {"userNameTemplate": {"template": "idpuser.email"}, "matchType": "CUSTOM_ATTRIBUTE", "matchAttribute": "email"}
    r = s.put(api + "/idps/" + sidp["id"], headers=H, json=upd, timeout=10)
    check("PUT replaces the IdP, keeping the generated audience", r.status_code == 200 and r.json()["policy"]["subject"]["matchAttribute"] == "email"
          and r.json()["protocol"]["credentials"]["trust"]["audience"] == aud, r.text[:300])

    # Okta's SP side: metadata, and a sign-in through the stand-in IdP
    md = s.get(sidp["_links"]["metadata"]["href"], timeout=10)
    check("SP metadata at _links.metadata: entity = audience, ACS", md.status_code == 200 and f'entityID="{aud}"' in md.text and acs in md.text,
          md.text[:300])
    idp_server.trust_sp(sidp["_links"]["metadata"]["href"])
    browser = requests.Session()
    start = browser.get(base + "/__fake__/login?idp=" + sidp["id"], timeout=10)
    fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', start.text)}
    check("sign-in starts with a signed HTTP-POST AuthnRequest (sso.binding HTTP-POST, scope REQUEST)", "SAMLRequest" in fields
          and b"Signature" in base64.b64decode(fields["SAMLRequest"]), start.text[:300])
    page = browser.post(idp_server.sso_url, data=fields, timeout=10)
    m = re.search(r'name="pending" value="([^"]+)"', page.text)
    check("the stand-in IdP accepts Okta's signed request", m is not None, page.text[:300])
    if m:
        done = browser.post(idp_server.sso_url + "/login", data={"pending": m.group(1), "username": "alice"}, timeout=10)
        fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', done.text)}
        action = html.unescape(re.search(r'action="([^"]+)"', done.text).group(1))
        r = browser.post(action, data=fields, timeout=10)
        si = fake.state.signins[-1] if fake.state.signins else {}
        check("Okta's SP accepts the response at the ACS: issuer, audience, signature (pysaml2 + xmlsec1)", action == acs and r.status_code == 200
              and si.get("ok") and si.get("name_id") == "alice@example.org" and si.get("issuer") == idp_server.entity_id, si)
    wrong = fake.saml_sp(sidp["id"])
    wrong.idp_entity_id = "http://www.okta.com/someone-else"
    try:
        req = wrong.start()
        wrong.consume(fields.get("SAMLResponse", ""))
        check("a response from another issuer is refused", False, "accepted")
    except Exception as e:
        check("a response from another issuer is refused", "Issuer" in str(e) or "InResponseTo" in str(e), str(e))
    fake._sps.clear()
    idp_server.shutdown()

    # IDV_STANDARD
    from okta_idv import FakeIDV, OKTA_USER_ID
    vendor = FakeIDV().start()
    vendor.redirect_uris.add(fake.idv_redirect_uri)
    idv = {"type": "IDV_STANDARD", "name": "Sigil IDV",
           "protocol": {"type": "ID_PROOFING",
                        "endpoints": {"par": {"url": vendor.issuer + "/oauth2/par", "binding": "HTTP-POST"},
                                      "authorization": {"url": vendor.issuer + "/oauth2/idv-authorize", "binding": "HTTP-REDIRECT"},
                                      "token": {"url": vendor.issuer + "/oauth2/token", "binding": "HTTP-POST"},
                                      "jwks": {"url": vendor.issuer + "/oauth2/jwks", "binding": "HTTP-REDIRECT"}},
                        "issuer": {"url": vendor.issuer}, "scopes": ["openid", "profile", "identity_assurance"],
                        "credentials": {"client": {"client_id": vendor.client_id, "client_secret": vendor.client_secret}}},
           "policy": {"provisioning": {"action": "DISABLED", "profileMaster": False, "groups": None},
                      "accountLink": {"action": "AUTO", "filter": None},
                      "subject": {"userNameTemplate": {"template": "source.userName"}, "matchType": "USERNAME"}, "maxClockSkew": 0},
           "properties": {"idvMetadata": {"vendorDisplayName": "Sigil", "termsOfUse": vendor.issuer + "/terms",
                                          "privacyPolicy": vendor.issuer + "/privacy"}}}
    r = s.post(api + "/idps", headers=H, json=idv, timeout=10)
    vidp = r.json() if r.status_code == 200 else {}
    check("IDV_STANDARD IdP created", r.status_code == 200 and vidp["protocol"]["type"] == "ID_PROOFING", r.text[:300])
    jit = copy.deepcopy(idv)
    jit["name"] = "IDV with JIT"
    jit["policy"]["provisioning"]["action"] = "AUTO"
    r = s.post(api + "/idps", headers={**H, **bad}, json=jit, timeout=10)
    check("IDV with provisioning AUTO → 400 (DISABLED only)", r.status_code == 400 and "provisioning" in r.json()["errorSummary"], r.text)
    nopar = copy.deepcopy(idv)
    nopar["name"] = "IDV without PAR"
    del nopar["protocol"]["endpoints"]["par"]
    r = s.post(api + "/idps", headers={**H, **bad}, json=nopar, timeout=10)
    check("IDV without the par endpoint → 400", r.status_code == 400 and r.json()["errorCode"] == "E0000001", r.text)
    if vidp:
        c = fake.idv_client(vidp["id"])
        p = c.par("Ada", "Lovelace", OKTA_USER_ID)
        url = c.authorize_url(p) if p.ok else None
        cb, _ = c.follow_authorize(url) if url else (None, None)
        verdict = c.token(c.callback(cb, p)["code"], p) if cb else {}
        check("OktaIDVClient from the stored IdP: PAR, authorize, callback to {org}/idp/identity-verification/callback, token → VERIFIED",
              verdict.get("result") == "VERIFIED" and vendor.seen_par[-1]["body"].decode().count(urllib.parse.quote(fake.idv_redirect_uri, safe="")) == 1,
              (verdict.get("reasons"), verdict.get("details", [])[:2]))
    vendor.stop()

    # routing rules
    r = s.get(api + "/policies", headers=H, params={"type": "IDP_DISCOVERY"}, timeout=10)
    pol = r.json()[0] if r.status_code == 200 and r.json() else {}
    check("GET /policies?type=IDP_DISCOVERY → the one policy", r.status_code == 200 and len(r.json()) == 1 and pol["type"] == "IDP_DISCOVERY", r.text[:300])
    rules_url = f"{api}/policies/{pol['id']}/rules"
    rule = {"type": "IDP_DISCOVERY", "name": "Route example.org to Sigil", "priority": 1, "status": "ACTIVE",
            "conditions": {"network": {"connection": "ANYWHERE"},
                           "userIdentifier": {"type": "IDENTIFIER", "patterns": [{"matchType": "SUFFIX", "value": "example.org"}]}},
            "actions": {"idp": {"idpSelectionType": "SPECIFIC", "providers": [{"type": "SAML2", "id": sidp["id"]}]}}}
    r = s.post(rules_url, headers=H, json=rule, timeout=10)
    rr = r.json() if r.status_code == 200 else {}
    check("routing rule by user identifier domain created at priority 1", r.status_code == 200 and rr["priority"] == 1 and rr["status"] == "ACTIVE",
          r.text[:300])
    everyone = {**rule, "name": "Everyone to Sigil", "priority": 5, "conditions": {"network": {"connection": "ANYWHERE"}}}
    r = s.post(rules_url, headers=H, json=everyone, timeout=10)
    check("routing rule for all users (no userIdentifier condition), priority renumbered to 2", r.status_code == 200 and r.json()["priority"] == 2, r.text[:300])
    groups = {**rule, "name": "Groups to Sigil", "conditions": {"people": {"groups": {"include": ["00g1"]}}}}
    r = s.post(rules_url, headers={**H, **bad}, json=groups, timeout=10)
    check("a people/groups condition → 400 (not an IdP discovery condition in the document)", r.status_code == 400
          and "people" in r.json()["errorSummary"], r.text)
    r = s.post(rules_url, headers=H, json={**rule, "name": "To IDV", "actions": {"idp": {"idpSelectionType": "SPECIFIC",
                                                                                       "providers": [{"type": "IDV_STANDARD", "id": vidp.get("id")}]}}}, timeout=10)
    check("routing to an IDV IdP → 400 (§1.1)", r.status_code == 400, r.text)
    r = s.get(rules_url, headers=H, timeout=10)
    names = [x["name"] for x in r.json()] if r.status_code == 200 else []
    check("rules listed in priority order, the system Default Rule last", names == ["Route example.org to Sigil", "Everyone to Sigil", "Default Rule"]
          and r.json()[-1]["system"] is True, names)
    check("routing: alice@example.org → Sigil's IdP", fake.route_for("alice@example.org") == [{"type": "SAML2", "id": sidp["id"]}])
    put = {**rule, "conditions": {"userIdentifier": {"type": "IDENTIFIER", "patterns": [{"matchType": "SUFFIX", "value": "example.com"}]}}}
    r = s.put(rules_url + "/" + rr["id"], headers=H, json=put, timeout=10)
    check("PUT replaces a rule", r.status_code == 200 and r.json()["conditions"]["userIdentifier"]["patterns"][0]["value"] == "example.com", r.text[:300])
    default_id = [x for x in s.get(rules_url, headers=H, timeout=10).json() if x["system"]][0]["id"]
    r = s.delete(rules_url + "/" + default_id, headers=H, timeout=10)
    check("the system Default Rule can't be deleted → 403", r.status_code == 403, r.text)
    r = s.get(rules_url + "/nope", headers=H, timeout=10)
    check("unknown rule → 404 E0000007", r.status_code == 404 and r.json()["errorCode"] == "E0000007", r.text)

    # drift behind Sigil's back, delete
    s.patch(base + "/__fake__/idps/" + sidp["id"], json={"name": "Renamed behind your back"}, timeout=10)
    r = s.get(api + "/idps/" + sidp["id"], headers=H, timeout=10)
    check("backdoor drift is visible through the API", r.json()["name"] == "Renamed behind your back")
    r = s.delete(api + "/idps/" + sidp["id"], headers=H, timeout=10)
    check("DELETE IdP → 204, then 404, and it leaves the routing rules", r.status_code == 204
          and s.get(api + "/idps/" + sidp["id"], headers=H, timeout=10).status_code == 404
          and s.get(rules_url + "/" + rr["id"], headers=H, timeout=10).json()["actions"]["idp"]["providers"] == [])
    r = s.delete(api + "/idps/credentials/keys/" + key["kid"], headers=H, timeout=10)
    check("the key, now unused, can be deleted", r.status_code == 204, r.text)

    # 429
    s.post(base + "/__fake__/rate-limit", json={"count": 1, "retry_after": 7}, timeout=10)
    r1 = s.get(api + "/idps", headers=H, timeout=10)
    r2 = s.get(api + "/idps", headers=H, timeout=10)
    check("429 on demand: E0000047 with X-Rate-Limit-* headers, then back to normal", r1.status_code == 429 and r1.json()["errorCode"] == "E0000047"
          and r1.headers.get("X-Rate-Limit-Remaining") == "0" and int(r1.headers.get("X-Rate-Limit-Reset", "0")) > time.time()
          and r2.status_code == 200, (r1.status_code, r1.text, r2.status_code))

    f = s.get(base + "/__fake__/failures", timeout=10).json()
    check("request validation failures were recorded (the deliberately invalid requests)", len(f["request_failures"]) >= 3, len(f["request_failures"]))
    check("no response failed validation against the OpenAPI document", f["response_failures"] == [], f["response_failures"][:3])
    fake.stop()
    if log_path:
        text = open(log_path).read()
        leaked = [x for x in (admin, reader, nobody, vendor.client_secret) if x in text]
        check("the JSONL log redacts SSWS tokens and client secrets", not leaked and "SSWS <redacted>" in text, leaked)
    del make_keypair
    return check.summary()


def parse_token(text):
    token, _, role = text.partition(":")
    if role not in ("", "super", "readonly", "none"):
        raise argparse.ArgumentTypeError("--seed-token TOKEN[:super|:readonly|:none]")
    return token, role or "super"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--org-url", help="the org URL Okta-derived values use (default: this server's base URL)")
    ap.add_argument("--log", help="JSONL exchange log (appended)")
    ap.add_argument("--seed-token", action="append", type=parse_token, default=[])
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        log = args.log or os.path.join(tempfile.mkdtemp(prefix="fake-okta-log-"), "okta.jsonl")
        print(f"log: {log}", flush=True)
        sys.exit(self_test(log))
    fake = FakeOkta(port=args.port, log_path=args.log, org_url=args.org_url)
    for token, role in args.seed_token:
        fake.seed_token(token, role)
    fake.start()
    print(json.dumps(fake.info()), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
