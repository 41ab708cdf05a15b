#!/usr/bin/env python3
"""The vendors' published OpenAPI documents as validators of single HTTP exchanges (issue 14).

Reads, in place and never copied, from ../shared/reference/vendor-openapi/ (next to the repository;
overridden by the environment variable SIGIL_VENDOR_OPENAPI_DIR):
  auth0  auth0-management-api-oas.json   Auth0 Management API v2, OpenAPI 3.1.0 (3.7 MB JSON)
  okta   okta-management-minimal.yaml    Okta management API, OpenAPI 3.0.3 (3.4 MB YAML)

Each document is parsed once per process and its openapi-core `OpenAPI` object is cached
(vendor_api(name)); openapi-core resolves `$ref`s lazily, so a validation costs ~1-20 ms. Strict spec
validation is OFF (Config(spec_validator_cls=None)): both documents fail openapi-spec-validator, as
their README says; requests and responses are still validated in full (method, path, path and query
parameters, headers, security requirement, JSON or form body, response status and body).

    api = vendor_api("okta")
    errors = api.validate_request("POST", "/api/v1/idps", query="", headers={...}, body=b"{...}")
    errors = api.validate_response("POST", "/api/v1/idps", "", req_headers, req_body,
                                   200, {"Content-Type": "application/json"}, b"{...}")
Both return a list of human-readable problems: empty means valid.

Narrow workarounds, each where the document cannot speak, never a skipped check:
  1. Auth0 `POST /oauth/token` and `GET /.well-known/jwks.json` belong to Auth0's Authentication API,
     which the Management API document does not describe (its only trace is the security scheme
     `oAuth2ClientCredentials.flows.clientCredentials.tokenUrl` with `x-form-parameters.audience`).
     They are validated against LOCAL_SCHEMAS below (JSON Schema written from Auth0's docs: the
     client-credentials request and the token / OAuth-error responses), marked `local` in results.
  2. Okta's operations on /api/v1/idps*, /api/v1/policies* declare 400/403/404/429 but not 401,
     although every one of them answers 401 E0000011 to a bad token (securitySchemes.apiToken) and
     the document itself defines the shared response `#/components/responses/ErrorInvalidToken401`
     (used by 74 other operations). A 401 for an operation that does not list one is validated
     against that shared response's schema; any other undeclared status is an error.
  3. openapi-core does not check `type: oauth2` security schemes (its UnsupportedProvider warns
     "Unsupported scheme type" and lets the request through), and Auth0 offers
     `oAuth2ClientCredentials` as an alternative on every operation, so a request without any
     Authorization header would pass. check_security() applies the operation's security
     requirements itself (http bearer and oauth2: `Authorization: Bearer …`; apiKey in a header:
     that header present), in addition to openapi-core's own checks, and silences that warning.
  4. Okta's schemas PolicyAccountLink.filter, Provisioning.groups, PolicySubject.filter and
     PolicySubject.matchAttribute are not `nullable`, yet the document's own request examples for
     createIdentityProvider (CreateSamlIdPRequest, CreateCustomIDVRequest; protocols.md §1.7, §5.3
     copy them) send `null` there. For IdP objects (requests and responses of /api/v1/idps and
     /api/v1/idps/{idpId}) a failed validation is retried with exactly those null-valued keys removed;
     it passes only if nothing else is wrong. Any other null still fails.
  5. Okta's IdentityProviderProperties has `required: [inquiryTemplateId]`, a Persona-only field
     ("Applies to the IDV_PERSONA IdP type"), so every IdP with `properties` (IDV_STANDARD's
     idvMetadata, the document's own CreateCustomIDVRequest example) would fail. In the same retry as
     4, an IdP whose type is not IDV_PERSONA gets a placeholder inquiryTemplateId; IDV_PERSONA IdPs
     still need a real one.
  6. Okta declares empty bodies as `content: {}` (e.g. 204 No Content of the DELETE operations);
     openapi-core reads any `content` key as "a body is expected" (MissingData). A response whose status
     is declared with an empty `content` map and which has an empty body is accepted; a body there fails.
"""
import json
import os
import re
import sys
import threading
import urllib.parse
import warnings
from functools import lru_cache
from pathlib import Path

DOCS = {
    "auth0": {"file": "auth0-management-api-oas.json", "host": "https://sigil-interop.auth0.com"},
    "okta": {"file": "okta-management-minimal.yaml", "host": "https://sigil-interop.okta.com"},
}

# Workaround 1: Auth0 Authentication API endpoints the Management API document lacks.
_OAUTH_ERROR = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}, "error_uri": {"type": "string"}},
}
LOCAL_SCHEMAS = {
    ("auth0", "POST", "/oauth/token"): {
        "request": {
            "type": "object",
            "required": ["grant_type", "client_id", "client_secret", "audience"],
            "properties": {
                "grant_type": {"const": "client_credentials"},
                "client_id": {"type": "string", "minLength": 1},
                "client_secret": {"type": "string", "minLength": 1},
                "audience": {"type": "string", "minLength": 1},
                "scope": {"type": "string"},
                "organization": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "request_content_types": ["application/x-www-form-urlencoded", "application/json"],
        "responses": {
            "200": {
                "type": "object",
                "required": ["access_token", "token_type", "expires_in", "scope"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"const": "Bearer"},
                    "expires_in": {"type": "integer", "minimum": 1},
                    "scope": {"type": "string"},
                },
                "additionalProperties": False,
            },
            "400": _OAUTH_ERROR, "401": _OAUTH_ERROR, "403": _OAUTH_ERROR, "429": _OAUTH_ERROR,
        },
    },
    ("auth0", "GET", "/.well-known/jwks.json"): {
        "request": None,
        "responses": {
            "200": {
                "type": "object",
                "required": ["keys"],
                "properties": {"keys": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["kty", "kid", "n", "e"],
                    "properties": {"kty": {"const": "RSA"}, "kid": {"type": "string"}, "use": {"const": "sig"},
                                   "n": {"type": "string"}, "e": {"type": "string"}, "alg": {"const": "RS256"},
                                   "x5c": {"type": "array", "items": {"type": "string"}}, "x5t": {"type": "string"}}}}},
            },
        },
    },
}


def spec_dir():
    env = os.environ.get("SIGIL_VENDOR_OPENAPI_DIR")
    if env:
        return Path(env)
    # interop/ -> repository -> its parent, where shared/ sits beside the work tree (and CI's clone)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "vendor-openapi"


def load_document(vendor):
    path = spec_dir() / DOCS[vendor]["file"]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the {vendor} OpenAPI document is missing (set SIGIL_VENDOR_OPENAPI_DIR)")
    if path.suffix == ".json":
        with open(path, "rb") as f:
            return json.load(f)
    import yaml
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 1.7 s instead of ~25 s
    with open(path, "rb") as f:
        return yaml.load(f, Loader=loader)


def _explain(exc, depth=0):
    """The message of an openapi-core exception and of the schema errors under it, one per line."""
    lines = []
    seen = set()
    e = exc
    while e is not None and id(e) not in seen and depth < 8:
        seen.add(id(e))
        text = f"{type(e).__name__}: {e}"
        if text not in lines:
            lines.append(text)
        for se in getattr(e, "schema_errors", None) or ():
            where = "/".join(str(p) for p in se.absolute_path) or "(body)"
            lines.append(f"  at {where}: {se.message}"[:600])
            for sub in (se.context or [])[:6]:
                w2 = "/".join(str(p) for p in sub.absolute_path) or "(body)"
                lines.append(f"    · {w2}: {sub.message}"[:400])
        e = e.__cause__ or e.__context__
        depth += 1
    return "\n".join(lines)


class _Req:
    """openapi-core's Request protocol for one recorded request."""

    def __init__(self, host_url, method, path, query, headers, body, content_type):
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict
        self.host_url = host_url
        self.method = method.lower()
        self.path = path
        self.full_url_pattern = host_url + path
        self.body = body or b""
        self.content_type = content_type or ""
        pairs = urllib.parse.parse_qsl(query or "", keep_blank_values=True)
        self.parameters = RequestParameters(
            path={}, query=ImmutableMultiDict(pairs), header=Headers(list((headers or {}).items())),
            cookie=ImmutableMultiDict([]))


class _Resp:
    def __init__(self, status, headers, body, content_type):
        from werkzeug.datastructures import Headers
        self.status_code = status
        self.data = body or b""
        self.content_type = content_type or ""
        self.headers = Headers(list((headers or {}).items()))


def _header(headers, name):
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return v
    return None


def _mime(headers):
    return (_header(headers, "Content-Type") or "").split(";")[0].strip().lower()


class VendorAPI:
    def __init__(self, vendor):
        from openapi_core import Config, OpenAPI
        self.vendor = vendor
        self.host_url = DOCS[vendor]["host"]
        self.doc = load_document(vendor)
        self.openapi = OpenAPI.from_dict(self.doc, config=Config(spec_validator_cls=None))
        self.prefix = urllib.parse.urlparse(self.doc["servers"][0]["url"].replace("{", "").replace("}", "")).path.rstrip("/")
        self._templates = []
        for template in self.doc["paths"]:
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(self.prefix + template)) + "$"
            names = re.findall(r"\{([^}]+)\}", template)
            self._templates.append((len(names), template, re.compile(regex), names))
        # literal segments win over parameters (/idps/credentials/keys before /idps/{idpId}/...)
        self._templates.sort(key=lambda t: t[0])
        self._lock = threading.Lock()
        self._extra_validators = {}

    # --- operations -------------------------------------------------------------------------------

    def find_operation(self, method, path):
        """(template, operation dict, path params) for a concrete request path, or None."""
        for _, template, regex, names in self._templates:
            m = regex.match(path)
            if m:
                item = self.doc["paths"][template]
                op = item.get(method.lower())
                if op is None:
                    continue
                return template, op, dict(zip(names, (urllib.parse.unquote(g) for g in m.groups())))
        return None

    def operation_scopes(self, method, path, scheme=None):
        """The OAuth scopes the document lists for the operation (any of them suffices)."""
        found = self.find_operation(method, path)
        if not found:
            return None
        scopes = []
        for requirement in found[1].get("security", self.doc.get("security") or []):
            for name, values in requirement.items():
                if scheme is None or name == scheme:
                    scopes.extend(values)
        return scopes

    def local(self, method, path):
        return LOCAL_SCHEMAS.get((self.vendor, method.upper(), path.split("?")[0]))

    # --- validation -------------------------------------------------------------------------------

    def validate_request(self, method, path, query="", headers=None, body=b""):
        local = self.local(method, path)
        if local is not None:
            return self._validate_local_request(local, method, headers, body)
        problems = self.check_security(method, path, headers)
        req = _Req(self.host_url, method, path, query, headers, body, _mime(headers))
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Unsupported scheme type")
                self.openapi.validate_request(req)
        except Exception as e:  # openapi-core raises a family of ValidationError subclasses
            retry = self._tolerated_null_retry(method, path, headers, body)
            if retry is None:
                problems.append(_explain(e))
                return problems
            req = _Req(self.host_url, method, path, query, headers, retry, _mime(headers))
            try:
                self.openapi.validate_request(req)
            except Exception as e2:
                problems.append(_explain(e2))
        return problems

    def _declares_empty_content(self, method, path, status):
        found = self.find_operation(method, path)
        if not found:
            return False
        declared = found[1].get("responses", {}).get(str(status))
        if isinstance(declared, dict) and "$ref" in declared:
            name = declared["$ref"].rsplit("/", 1)[1]
            declared = self.doc.get("components", {}).get("responses", {}).get(name)
        return isinstance(declared, dict) and declared.get("content") == {}

    def _tolerated_null_retry(self, method, path, headers, body):
        """Workaround 4: the body without the tolerated nulls, or None when it does not apply."""
        found = self.vendor == "okta" and self.find_operation(method, path)
        if not found or found[0] not in ("/api/v1/idps", "/api/v1/idps/{idpId}") or _mime(headers) != "application/json":
            return None
        try:
            stripped = _strip_tolerated_nulls(json.loads(body or b"null"))
        except ValueError:
            return None
        return None if stripped is None else json.dumps(stripped).encode()

    def check_security(self, method, path, headers):
        """Workaround 3: the operation's security requirements, oauth2 included."""
        found = self.find_operation(method, path)
        if not found:
            return []  # openapi-core reports the unknown path/method itself
        requirements = found[1].get("security", self.doc.get("security"))
        if not requirements:
            return []
        schemes = self.doc.get("components", {}).get("securitySchemes", {})
        auth = _header(headers, "Authorization") or ""

        def satisfied(name):
            s = schemes.get(name, {})
            if s.get("type") == "oauth2" or (s.get("type") == "http" and s.get("scheme", "").lower() == "bearer"):
                return auth[:7].lower() == "bearer " and len(auth) > 7
            if s.get("type") == "apiKey" and s.get("in") == "header":
                return bool(_header(headers, s.get("name", "")))
            return False

        if any(all(satisfied(n) for n in req) for req in requirements):
            return []
        names = [" + ".join(req) or "(none)" for req in requirements]
        return [f"SecurityError: no security requirement of the operation is met (any of: {', '.join(names)})"]

    def validate_response(self, method, path, query, req_headers, req_body, status, resp_headers, resp_body):
        local = self.local(method, path)
        if local is not None:
            return self._validate_local_response(local, status, resp_headers, resp_body)
        if not resp_body and self._declares_empty_content(method, path, status):
            return []  # workaround 6
        req = _Req(self.host_url, method, path, query, req_headers, req_body, _mime(req_headers))
        resp = _Resp(status, resp_headers, resp_body, _mime(resp_headers) or "application/json")
        try:
            self.openapi.validate_response(req, resp)
        except Exception as e:
            from openapi_core.templating.responses.exceptions import ResponseNotFound
            if isinstance(e, ResponseNotFound) and status == 401 and self.vendor == "okta":
                return self._validate_shared_401(resp_body)  # workaround 2
            retry = self._tolerated_null_retry(method, path, resp_headers, resp_body)
            if retry is not None:
                try:
                    self.openapi.validate_response(req, _Resp(status, resp_headers, retry, _mime(resp_headers) or "application/json"))
                    return []
                except Exception as e2:
                    return [_explain(e2)]
            return [_explain(e)]
        return []

    def _validate_shared_401(self, body):
        schema_path = self.openapi.spec / "components" / "responses" / "ErrorInvalidToken401" / "content" / "application/json" / "schema"
        with self._lock:
            validator = self._extra_validators.get("401")
            if validator is None:
                from openapi_core.validation.schemas import oas30_read_schema_validators_factory
                validator = oas30_read_schema_validators_factory.create(self.openapi.spec, schema_path)
                self._extra_validators["401"] = validator
        try:
            validator.validate(json.loads(body or b"null"))
        except Exception as e:
            return ["401 body against #/components/responses/ErrorInvalidToken401: " + _explain(e)]
        return []

    @staticmethod
    def _jsonschema_errors(schema, value):
        import jsonschema
        v = jsonschema.Draft202012Validator(schema)
        return [f"at {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in v.iter_errors(value)]

    def _validate_local_request(self, local, method, headers, body):
        if local["request"] is None:
            return [] if not body else ["local schema: this request takes no body"]
        mime = _mime(headers)
        if mime not in local["request_content_types"]:
            return [f"local schema: Content-Type {mime!r} not in {local['request_content_types']}"]
        try:
            if mime == "application/json":
                value = json.loads(body or b"null")
            else:
                value = dict(urllib.parse.parse_qsl((body or b"").decode(), keep_blank_values=True))
        except (ValueError, UnicodeDecodeError) as e:
            return [f"local schema: unreadable body: {e}"]
        return ["local schema: " + m for m in self._jsonschema_errors(local["request"], value)]

    def _validate_local_response(self, local, status, headers, body):
        schema = local["responses"].get(str(status))
        if schema is None:
            return [f"local schema: undeclared response status {status}"]
        if _mime(headers) != "application/json":
            return [f"local schema: response Content-Type {_mime(headers)!r} is not application/json"]
        try:
            value = json.loads(body or b"null")
        except ValueError as e:
            return [f"local schema: response is not JSON: {e}"]
        return ["local schema: " + m for m in self._jsonschema_errors(schema, value)]


OKTA_TOLERATED_NULLS = (("policy", "accountLink", "filter"), ("policy", "provisioning", "groups"),
                        ("policy", "subject", "filter"), ("policy", "subject", "matchAttribute"))


def _strip_tolerated_nulls(value):
    """Workaround 4: a copy of an IdP object (or a list of them) without the tolerated null keys; None if none."""
    if isinstance(value, list):
        stripped = [_strip_tolerated_nulls(v) for v in value]
        if all(s is None for s in stripped):
            return None
        return [s if s is not None else v for s, v in zip(stripped, value)]
    if not isinstance(value, dict):
        return None
    import copy
    out, changed = copy.deepcopy(value), False
    props = out.get("properties")
    if isinstance(props, dict) and out.get("type") != "IDV_PERSONA" and "inquiryTemplateId" not in props:
        props["inquiryTemplateId"] = "itmpl_placeholder_for_validation"  # workaround 5
        changed = True
    for path in OKTA_TOLERATED_NULLS:
        node = out
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict) and path[-1] in node and node[path[-1]] is None:
            del node[path[-1]]
            changed = True
    return out if changed else None


_apis = {}
_apis_lock = threading.Lock()


def vendor_api(vendor):
    """The process-wide VendorAPI for 'auth0' or 'okta' (loaded on first use)."""
    with _apis_lock:
        api = _apis.get(vendor)
        if api is None:
            api = _apis[vendor] = VendorAPI(vendor)
        return api


def self_test():
    import time
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(("PASS " if ok else "FAIL ") + name + ("" if ok else f"  -- {detail}"))

    t = time.time()
    a0 = vendor_api("auth0")
    check(f"Auth0 document loaded ({time.time() - t:.2f}s)", a0.doc["openapi"].startswith("3.1"))
    check("cached: one object per process", vendor_api("auth0") is a0)
    check("scopes of POST /connections", a0.operation_scopes("POST", "/api/v2/connections", "oAuth2ClientCredentials") == ["create:connections"])
    check("scopes of PATCH /connections/{id}/clients",
          a0.operation_scopes("PATCH", "/api/v2/connections/con_1/clients", "oAuth2ClientCredentials") == ["update:connections"])
    h = {"Authorization": "Bearer x", "Content-Type": "application/json"}
    good = json.dumps({"name": "acme-1", "strategy": "samlp", "options": {"signInEndpoint": "https://idp.example/sso"}}).encode()
    check("valid create request", a0.validate_request("POST", "/api/v2/connections", "", h, good) == [])
    bad = a0.validate_request("POST", "/api/v2/connections", "", h, json.dumps({"name": "a_b", "strategy": "samlp"}).encode())
    check("invalid name refused with the pattern named", bad and "does not match" in bad[0], bad)
    bad = a0.validate_request("POST", "/api/v2/connections", "", {"Content-Type": "application/json"}, good)
    check("missing Authorization refused", bad != [], bad)
    t = time.time()
    for _ in range(50):
        a0.validate_request("POST", "/api/v2/connections", "", h, good)
    per = (time.time() - t) / 50
    check(f"request validation fast ({per * 1000:.1f} ms)", per < 0.05)
    ok = a0.validate_response("POST", "/api/v2/connections", "", h, good, 201, {"Content-Type": "application/json"},
                              json.dumps({"id": "con_1", "name": "acme-1", "strategy": "samlp", "options": {}}).encode())
    check("valid 201 response", ok == [], ok)
    bad = a0.validate_response("POST", "/api/v2/connections", "", h, good, 201, {"Content-Type": "application/json"},
                               json.dumps({"id": "con_1", "bogus": 1}).encode())
    check("response with an undeclared property refused", bad != [], bad)
    bad = a0.validate_response("POST", "/api/v2/connections", "", h, good, 418, {"Content-Type": "application/json"}, b"{}")
    check("undeclared status refused", bad != [], bad)
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "a", "client_secret": "b", "audience": "c"}).encode()
    check("token request (local schema)", a0.validate_request("POST", "/oauth/token", "", {"Content-Type": "application/x-www-form-urlencoded"}, form) == [])
    check("token request without audience refused (local schema)",
          a0.validate_request("POST", "/oauth/token", "", {"Content-Type": "application/x-www-form-urlencoded"},
                              b"grant_type=client_credentials&client_id=a&client_secret=b") != [])
    t = time.time()
    ok_api = vendor_api("okta")
    check(f"Okta document loaded ({time.time() - t:.2f}s)", ok_api.doc["openapi"].startswith("3.0"))
    check("literal path beats parameter", ok_api.find_operation("GET", "/api/v1/idps/credentials/keys")[0] == "/api/v1/idps/credentials/keys")
    sh = {"Authorization": "SSWS x", "Content-Type": "application/json"}
    check("valid key upload", ok_api.validate_request("POST", "/api/v1/idps/credentials/keys", "", sh, b'{"x5c":["MIIB"]}') == [])
    check("key upload without x5c refused", ok_api.validate_request("POST", "/api/v1/idps/credentials/keys", "", sh, b"{}") != [])
    err = json.dumps({"errorCode": "E0000011", "errorSummary": "Invalid token provided", "errorLink": "E0000011",
                      "errorId": "oae1", "errorCauses": []}).encode()
    check("401 via the shared ErrorInvalidToken401 (workaround 2)",
          ok_api.validate_response("GET", "/api/v1/idps", "", sh, b"", 401, {"Content-Type": "application/json"}, err) == [])
    check("undeclared 409 still refused",
          ok_api.validate_response("GET", "/api/v1/idps", "", sh, b"", 409, {"Content-Type": "application/json"}, err) != [])
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if "--self-test" in sys.argv:
        sys.exit(self_test())
    print(__doc__)
