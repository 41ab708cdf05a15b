#!/usr/bin/env python3
"""A fake Auth0 tenant for Sigil's one-click Auth0 integration (issue 14): the client-credentials
token endpoint and the Management API calls Sigil makes, every exchange validated against Auth0's
published OpenAPI document (interop/vendor_openapi.py), plus Auth0's service-provider side for
end-to-end sign-ins through Sigil (interop/vendor_sp.py). Stdlib threaded HTTP server on 127.0.0.1.

    /opt/peers-venv/bin/python interop/fake_auth0.py --port P --tenant T --log FILE \\
        --seed-client ID:SECRET:scope1,scope2[:nogrant|:noapi] ...
    → prints one JSON line when ready: {"base_url", "domain", "audience", "tenant", "token_url", "api", "log"}
    /opt/peers-venv/bin/python interop/fake_auth0.py --self-test [--log FILE]

What it reproduces (sources: /work/shared/reference/protocols.md §4 and the OpenAPI document):
  POST /oauth/token (form or JSON), client_credentials only, `audience` = https://{domain}/api/v2/:
    200 {access_token (RS256 JWT: iss https://{domain}/, sub {client_id}@clients, aud, iat, exp, azp,
    scope, gty), expires_in, scope, token_type: Bearer};
    wrong client or secret → 401 {"error":"access_denied","error_description":"Unauthorized"};
    grant not enabled → 403 unauthorized_client "Grant type 'client_credentials' not allowed for the client.";
    unknown audience → 403 access_denied "Service not found: {audience}";
    app not authorised for the Management API → 403 access_denied 'Client is not authorized to access …';
    `scope` asking for more than granted → 403 access_denied "Client has not been granted scopes: …";
    missing parameter → 400 invalid_request "Missing required parameter: …".
  /api/v2 (Bearer token from above; 401 for a missing/expired/forged/wrong-audience token):
    GET/POST /connections, GET/PATCH/DELETE /connections/{id}, GET/PATCH /connections/{id}/clients,
    GET /clients. Scopes per operation from the document's `oAuth2ClientCredentials` requirement:
    403 {"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: create:connections",
    "errorCode":"insufficient_scope"}. Request-schema failures → 400 {"statusCode":400,"error":"Bad Request",
    "message":"Payload validation error: '…' on property …","errorCode":"invalid_body"} (query: invalid_query_string).
    Name taken → 409 "A connection with the same name already exists" errorCode connection_conflict.
    Unknown connection → 404 "The connection does not exist" errorCode inexistent_connection.
    samlp: options checked against the document's ConnectionOptionsSAML; signInEndpoint required unless
    metadataXml/metadataUrl (which are parsed into signInEndpoint, signOutEndpoint, signingCert,
    signSAMLRequest, protocolBinding and not stored); a signing certificate (signingCert = base64 of the
    PEM file or of DER; or the deprecated `cert`) required and must parse. oauth2: ConnectionOptionsOAuth2;
    authorizationURL, tokenURL, client_id required. PATCH replaces `options` whole (and re-checks it),
    and overwrites display_name with the name when display_name is absent (the document says so).
    Enabling apps: PATCH /connections/{id}/clients [{client_id, status}] (≤50; unknown client → 404),
    GET → {"clients":[{"client_id"}]}; the deprecated `enabled_clients` (create, PATCH, responses) still works.
  SP side, derived as Auth0 does: ACS {base}/login/callback?connection={name}, entity ID
    urn:auth0:{tenant}:{name} (or options.entityId), SP metadata {base}/samlp/metadata?connection={name},
    social callback {base}/login/callback. {base} is this server's base URL.
  429 on demand (backdoor): {"statusCode":429,"error":"Too Many Requests","message":"Global limit has been
    reached","errorCode":"too_many_requests"} with Retry-After and X-RateLimit-Limit/-Remaining/-Reset
    (every API answer carries the X-RateLimit-* headers, as the document's 429 text names them).

Backdoor (tests only; not validated, not logged):
  GET  /__fake__/state                         clients (no secrets), connections, enabled clients, sign-ins
  POST /__fake__/clients   {client_id, client_secret, scopes:[...], grant:true, api:true, name, app_type}
  PATCH /__fake__/connections/{id}  {...}      merge top-level fields behind Sigil's back (options replaced
                                               whole if given); DELETE removes it silently
  POST /__fake__/rate-limit {count, retry_after}  the next `count` API requests get 429
  GET  /__fake__/failures                      {request_failures, response_failures}
  GET  /__fake__/login?connection=NAME         start a sign-in as Auth0 would (SAML redirect/form, or the
                                               oauth2 authorization redirect); the result lands at
                                               /login/callback and is listed in state["signins"]
In Python: FakeAuth0(...).start(); .seed_client(...); .state (Auth0State); .saml_sp(name); .oauth2_rp(name).
"""
import argparse
import base64
import copy
import html
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vendor_fake_common import (Checks, EXPECT_HEADER, FakeVendorServer, RS256Signer, Reply, random_id)  # noqa: E402

GRANT_ERROR_URI = "https://auth0.com/docs/clients/client-grant-types"
TOKEN_LIFETIME = 86400
LOOPBACK_HTTP = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)")


def a0_error(status, message, error_code=None, attributes=None):
    names = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests"}
    body = {"statusCode": status, "error": names.get(status, "Error"), "message": message}
    if error_code:
        body["errorCode"] = error_code
    if attributes:
        body["attributes"] = attributes
    return Reply(status, body)


def oauth_error(status, error, description, uri=None):
    body = {"error": error, "error_description": description}
    if uri:
        body["error_uri"] = uri
    return Reply(status, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def load_certificate(data):
    """An x509 certificate from base64(PEM file) or base64(DER) (Auth0's signingCert) or raw PEM."""
    from cryptography import x509
    raw = data.encode() if isinstance(data, str) else data
    if b"-----BEGIN CERTIFICATE-----" in raw:
        return x509.load_pem_x509_certificate(raw)
    decoded = base64.b64decode(re.sub(rb"\s+", b"", raw), validate=True)
    if b"-----BEGIN CERTIFICATE-----" in decoded:
        return x509.load_pem_x509_certificate(decoded)
    return x509.load_der_x509_certificate(decoded)


def cert_pem(cert):
    from cryptography.hazmat.primitives import serialization
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class Auth0State:
    def __init__(self, tenant, domain):
        self.tenant, self.domain = tenant, domain
        self.clients = {}       # client_id -> app dict (client_secret, grant_types, api_scopes or None)
        self.connections = {}   # id -> connection dict
        self.enabled = {}       # connection id -> [client_id]
        self.signins = []       # results of sign-ins through the SP/RP side
        self.revoked = set()    # jti of tokens revoked behind Sigil's back

    @property
    def audience(self):
        return f"https://{self.domain}/api/v2/"

    def seed_client(self, client_id=None, client_secret=None, scopes=(), grant=True, api=True, name=None, app_type="non_interactive"):
        client_id = client_id or random_id("", 32)
        self.clients[client_id] = {
            "client_id": client_id, "client_secret": client_secret or random_id("", 64), "name": name or f"App {client_id[:6]}",
            "app_type": app_type, "description": "", "is_first_party": True, "global": False,
            "grant_types": (["client_credentials"] if grant else []) + ([] if app_type == "non_interactive" else ["authorization_code"]),
            "api_scopes": list(dict.fromkeys(scopes)) if api else None, "callbacks": [],
        }
        return self.clients[client_id]

    def by_name(self, name):
        for c in self.connections.values():
            if c["name"].lower() == name.lower():
                return c
        return None

    def snapshot(self):
        return {
            "tenant": self.tenant, "domain": self.domain, "audience": self.audience,
            "clients": [{k: v for k, v in c.items() if k != "client_secret"} for c in self.clients.values()],
            "connections": copy.deepcopy(list(self.connections.values())),
            "enabled_clients": {k: list(v) for k, v in self.enabled.items()},
            "signins": copy.deepcopy(self.signins),
        }


class FakeAuth0(FakeVendorServer):
    vendor = "auth0"

    def __init__(self, port=0, tenant="sigil-interop", domain=None, log_path=None, token_lifetime=TOKEN_LIFETIME, work=None):
        super().__init__(port=port, log_path=log_path)
        self.state = Auth0State(tenant, domain or f"127.0.0.1:{self.port}")
        self.signer = RS256Signer()
        self.token_lifetime = token_lifetime
        self.work = work or tempfile.mkdtemp(prefix="fake-auth0-")
        self._sps = {}
        self._rps = {}
        self._options_validators = {}

    # --- derived SP values (protocols.md §4.4) ---------------------------------------------------

    def acs_url(self, name):
        return f"{self.base_url}/login/callback?connection={urllib.parse.quote(name)}"

    def entity_id(self, conn):
        return (conn.get("options") or {}).get("entityId") or f"urn:auth0:{self.state.tenant}:{conn['name']}"

    def sp_metadata_url(self, name):
        return f"{self.base_url}/samlp/metadata?connection={urllib.parse.quote(name)}"

    @property
    def callback_url(self):
        return f"{self.base_url}/login/callback"

    def sp_values(self, name):
        conn = self.state.by_name(name)
        return {"acs_url": self.acs_url(name), "entity_id": self.entity_id(conn) if conn else f"urn:auth0:{self.state.tenant}:{name}",
                "metadata_url": self.sp_metadata_url(name), "callback_url": self.callback_url}

    def seed_client(self, *a, **kw):
        with self.lock:
            return self.state.seed_client(*a, **kw)

    def info(self):
        return {"base_url": self.base_url, "domain": self.state.domain, "audience": self.state.audience, "tenant": self.state.tenant,
                "token_url": self.base_url + "/oauth/token", "api": self.base_url + "/api/v2", "log": self.log_path,
                "jwks_url": self.base_url + "/.well-known/jwks.json"}

    # --- routing ----------------------------------------------------------------------------------

    def is_api(self, path):
        return path.startswith("/api/v2/")

    def rate_limited(self, ex):
        retry = int(self.rate_limit.get("retry_after", 1))
        headers = {"Retry-After": str(retry), "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": str(int(time.time()) + retry)}
        if ex.path == "/oauth/token":
            r = oauth_error(429, "too_many_requests", "Global limit has been reached")
        else:
            r = a0_error(429, "Global limit has been reached", "too_many_requests")
        r.headers.update(headers)
        return r

    def route(self, ex):
        p = ex.path
        if p == "/oauth/token" and ex.method == "POST":
            return self.token(ex)
        if p == "/.well-known/jwks.json" and ex.method == "GET":
            return Reply(200, self.signer.jwks())
        if p == "/samlp/metadata" and ex.method == "GET":
            return self.sp_metadata(ex)
        if p == "/login/callback":
            return self.login_callback(ex)
        if self.is_api(p):
            reply = self.management(ex)
            reply.headers.setdefault("X-RateLimit-Limit", "50")
            reply.headers.setdefault("X-RateLimit-Remaining", "49")
            reply.headers.setdefault("X-RateLimit-Reset", str(int(time.time()) + 1))
            return reply
        return Reply(404, {"error": "not_found", "error_description": f"{ex.method} {p} is not served by this fake"})

    # --- /oauth/token -----------------------------------------------------------------------------

    def token(self, ex):
        ctype = (ex.header("Content-Type") or "").split(";")[0].strip().lower()
        try:
            params = ex.json() if ctype == "application/json" else ex.form()
            if not isinstance(params, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            r = oauth_error(400, "invalid_request", "Invalid request body")
            r.rejected_as_invalid = True
            return r
        params = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in params.items()}
        for required in ("grant_type", "client_id"):
            if not params.get(required):
                r = oauth_error(400, "invalid_request", f"Missing required parameter: {required}")
                r.rejected_as_invalid = True
                return r
        if params["grant_type"] != "client_credentials":
            r = oauth_error(403, "unauthorized_client", f"Grant type '{params['grant_type']}' not allowed for the client.", GRANT_ERROR_URI)
            r.rejected_as_invalid = bool(ex.request_errors)
            return r
        with self.lock:
            app = copy.deepcopy(self.state.clients.get(params["client_id"]))
        if app is None or params.get("client_secret") != app["client_secret"]:
            return oauth_error(401, "access_denied", "Unauthorized")
        if "client_credentials" not in app["grant_types"]:
            return oauth_error(403, "unauthorized_client", "Grant type 'client_credentials' not allowed for the client.", GRANT_ERROR_URI)
        audience = params.get("audience")
        if not audience:
            r = oauth_error(400, "invalid_request", "Missing required parameter: audience")
            r.rejected_as_invalid = True
            return r
        if audience != self.state.audience:
            return oauth_error(403, "access_denied", f"Service not found: {audience}")
        if app["api_scopes"] is None:
            return oauth_error(403, "access_denied",
                               f'Client is not authorized to access "{self.state.audience}". You need to create a "client-grant" '
                               'associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants')
        granted = list(app["api_scopes"])
        if params.get("scope"):
            asked = params["scope"].split()
            missing = [s for s in asked if s not in granted]
            if missing:
                return oauth_error(403, "access_denied", "Client has not been granted scopes: " + ",".join(missing))
            granted = [s for s in granted if s in asked]
        now = int(time.time())
        claims = {"iss": f"https://{self.state.domain}/", "sub": f"{app['client_id']}@clients", "aud": audience, "iat": now,
                  "exp": now + self.token_lifetime, "jti": random_id("", 22), "gty": "client-credentials", "azp": app["client_id"],
                  "scope": " ".join(granted)}
        return Reply(200, {"access_token": self.signer.sign(claims), "expires_in": self.token_lifetime, "scope": " ".join(granted),
                           "token_type": "Bearer"}, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    # --- Management API ---------------------------------------------------------------------------

    def authenticate(self, ex):
        """(claims, None) or (None, 401 reply)."""
        auth = ex.header("Authorization")
        if not auth:
            return None, a0_error(401, "Missing authentication", attributes={"error": "Missing authentication"})
        if not auth.startswith("Bearer ") or auth.count(".") != 2:
            return None, a0_error(401, "Bad HTTP authentication header format", attributes={"error": "Bad HTTP authentication header format"})
        claims = self.signer.verify(auth[7:].strip())
        if claims is None:
            msg = "Invalid signature received for JSON Web Token validation"
            return None, a0_error(401, msg, attributes={"error": msg})
        if claims.get("exp", 0) <= time.time():
            msg = "Expired token received for JSON Web Token validation"
            return None, a0_error(401, msg, attributes={"error": msg})
        if claims.get("aud") != self.state.audience or claims.get("iss") != f"https://{self.state.domain}/":
            msg = f"Bad audience: {claims.get('aud')}"
            return None, a0_error(401, msg, attributes={"error": msg})
        if claims.get("jti") in self.state.revoked:
            return None, a0_error(401, "Invalid token", attributes={"error": "Invalid token"})
        return claims, None

    def management(self, ex):
        claims, err = self.authenticate(ex)
        if err:
            return err
        scopes = set((claims.get("scope") or "").split())
        needed = self.api.operation_scopes(ex.method, ex.path, "oAuth2ClientCredentials")
        if needed is None:
            return a0_error(404, "Not Found")
        if needed and not scopes.intersection(needed):
            return a0_error(403, "Insufficient scope, expected any of: " + ",".join(needed), "insufficient_scope")
        if ex.request_errors:
            r = self.invalid_request(ex)
            r.rejected_as_invalid = True
            return r
        template, _, params = self.api.find_operation(ex.method, ex.path)
        handler = {
            ("GET", "/connections"): self.list_connections, ("POST", "/connections"): self.create_connection,
            ("GET", "/connections/{id}"): self.get_connection, ("PATCH", "/connections/{id}"): self.update_connection,
            ("DELETE", "/connections/{id}"): self.delete_connection,
            ("GET", "/connections/{id}/clients"): self.get_enabled, ("PATCH", "/connections/{id}/clients"): self.patch_enabled,
            ("GET", "/clients"): self.list_clients,
        }.get((ex.method, template))
        if handler is None:
            return a0_error(404, f"{ex.method} {template} is not implemented by this fake", "not_implemented")
        return handler(ex, params, scopes)

    def invalid_request(self, ex):
        text = ex.request_errors[0]
        detail = re.search(r"at ([^:]*): (.*)", text)
        where = detail.group(1).replace("/", ".") if detail else ""
        what = detail.group(2) if detail else text.splitlines()[0]
        if "SecurityError" in text:
            return a0_error(401, "Missing authentication", attributes={"error": "Missing authentication"})
        if "Parameter" in text or "query" in text.lower().split(":")[0]:
            return a0_error(400, f"Query validation error: '{what}'", "invalid_query_string")
        prop = f" on property {where}" if where and where != "(body)" else ""
        return a0_error(400, f"Payload validation error: '{what}'{prop}.", "invalid_body")

    # connections

    def _public(self, conn, for_list=False):
        out = copy.deepcopy(conn)
        if not for_list:
            out["enabled_clients"] = list(self.state.enabled.get(conn["id"], []))
        return out

    def list_connections(self, ex, params, scopes):
        q = urllib.parse.parse_qs(ex.query)
        strategies = q.get("strategy", [])
        name = (q.get("name") or [None])[0]
        with self.lock:
            items = [c for c in self.state.connections.values()
                     if (not strategies or c["strategy"] in strategies) and (name is None or c["name"] == name)]
            items = [self._public(c, for_list=True) for c in items]
        items = self._fields(items, q)
        if "take" in q or "from" in q:
            start = 0
            if q.get("from"):
                ids = [c["id"] for c in items]
                start = ids.index(q["from"][0]) if q["from"][0] in ids else len(items)
            take = int(q.get("take", ["50"])[0])
            page = items[start:start + take]
            body = {"connections": page}
            if start + take < len(items):
                body["next"] = items[start + take]["id"]
            return Reply(200, body)
        per_page = int(q.get("per_page", ["100"])[0])
        page_no = int(q.get("page", ["0"])[0])
        page = items[page_no * per_page:(page_no + 1) * per_page]
        if (q.get("include_totals") or ["false"])[0] == "true":
            return Reply(200, {"start": page_no * per_page, "limit": per_page, "total": len(items), "connections": page})
        return Reply(200, page)

    @staticmethod
    def _fields(items, q):
        fields = (q.get("fields") or [""])[0]
        if not fields:
            return items
        names = set(fields.split(","))
        include = (q.get("include_fields") or ["true"])[0] != "false"
        return [{k: v for k, v in c.items() if (k in names) == include} for c in items]

    def _options_validator(self, schema_name):
        with self.lock:
            v = self._options_validators.get(schema_name)
            if v is None:
                from openapi_core.validation.schemas import oas31_schema_validators_factory
                spec = self.api.openapi.spec
                v = oas31_schema_validators_factory.create(spec, spec / "components" / "schemas" / schema_name)
                self._options_validators[schema_name] = v
            return v

    def check_options(self, strategy, options):
        """None, or a 400 reply in Auth0's shape. Mutates options (metadata parsed in, not stored)."""
        schema = {"samlp": "ConnectionOptionsSAML", "oauth2": "ConnectionOptionsOAuth2"}.get(strategy)
        if schema is None:
            return None
        errors = list(self._options_validator(schema).validator.iter_errors(options))
        # Narrow exception (documented in README-vendor-fakes.md): ConnectionHttpsUrlWithHttpFallback's
        # pattern is ^https://, yet its name says "WithHttpFallback"; loopback http:// URLs are accepted
        # so that tests can point connections at IdPs on 127.0.0.1.
        def loopback_http(e):
            leaves = [e] + list(e.context or [])
            return all((x.validator in ("pattern", "anyOf", "allOf") and isinstance(x.instance, str) and LOOPBACK_HTTP.match(x.instance))
                       for x in leaves)
        errors = [e for e in errors if not loopback_http(e)]
        if errors:
            e = errors[0]
            where = ".".join(["options"] + [str(p) for p in e.absolute_path])
            leaf = min([e] + list(e.context or []), key=lambda x: len(str(x.message)))
            return a0_error(400, f"Payload validation error: '{leaf.message}' on property {where}.", "invalid_body")
        if strategy == "samlp":
            return self._check_saml_options(options)
        if strategy == "oauth2":
            for key in ("authorizationURL", "tokenURL", "client_id"):
                if not options.get(key):
                    return a0_error(400, f"Payload validation error: 'Missing required property: {key}' on property options.", "invalid_body")
        return None

    def _check_saml_options(self, options):
        if options.get("metadataXml") or options.get("metadataUrl"):
            if options.get("metadataXml") and options.get("metadataUrl"):
                return a0_error(400, "Payload validation error: 'Use metadataUrl OR metadataXml, not both' on property options.", "invalid_body")
            xml = options.pop("metadataXml", None)
            if xml is None:
                url = options["metadataUrl"]
                try:
                    import requests
                    r = requests.get(url, timeout=5, stream=True)
                    xml = r.raw.read(4 * 1024 * 1024 + 1, decode_content=True).decode("utf-8", "replace")
                    if len(xml) > 4 * 1024 * 1024:
                        raise ValueError("metadata larger than 4 MB")
                except Exception as e:
                    return a0_error(400, f"Unable to fetch metadata from {url}: {e}", "invalid_body")
            problem = self._apply_metadata(options, xml)
            if problem:
                return a0_error(400, f"Payload validation error: 'Invalid SAML metadata: {problem}' on property options.", "invalid_body")
        if not options.get("signInEndpoint"):
            return a0_error(400, "Payload validation error: 'Missing required property: signInEndpoint' on property options.", "invalid_body")
        cert = options.get("signingCert") or options.get("cert")
        if not cert and not options.get("thumbprints"):
            return a0_error(400, "Payload validation error: 'Missing required property: signingCert' on property options.", "invalid_body")
        if cert:
            try:
                load_certificate(cert)
            except Exception:
                return a0_error(400, "Payload validation error: 'The signing certificate is not a valid X.509 certificate' "
                                     "on property options.signingCert.", "invalid_body")
        return None

    @staticmethod
    def _apply_metadata(options, xml):
        from lxml import etree
        ns = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#"}
        try:
            doc = etree.fromstring(xml.encode(), parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except Exception as e:
            return f"not XML ({e})"
        idp = doc.find(".//md:IDPSSODescriptor", ns)
        if idp is None:
            return "no IDPSSODescriptor"
        sso = {e.get("Binding"): e.get("Location") for e in idp.findall("md:SingleSignOnService", ns)}
        binding = options.get("protocolBinding") or ("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
                                                      if "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" in sso
                                                      else "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
        if binding not in sso:
            return "no SingleSignOnService for " + binding
        options["signInEndpoint"] = sso[binding]
        options["protocolBinding"] = binding
        slo = idp.find("md:SingleLogoutService", ns)
        if slo is not None:
            options["signOutEndpoint"] = slo.get("Location")
        certs = [e.text for e in idp.findall("md:KeyDescriptor[@use='signing']//ds:X509Certificate", ns)] or \
            [e.text for e in idp.findall("md:KeyDescriptor//ds:X509Certificate", ns)]
        if not certs:
            return "no signing certificate"
        body = "".join(certs[0].split())
        pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64)) + "\n-----END CERTIFICATE-----\n"
        options["signingCert"] = base64.b64encode(pem.encode()).decode()
        options["signSAMLRequest"] = idp.get("WantAuthnRequestsSigned") == "true"
        return None

    def create_connection(self, ex, params, scopes):
        body = self._body(ex)
        strategy = body["strategy"]
        options = copy.deepcopy(body.get("options") or {})
        problem = self.check_options(strategy, options)
        if problem:
            problem.rejected_as_invalid = True
            return problem
        with self.lock:
            if self.state.by_name(body["name"]):
                return a0_error(409, "A connection with the same name already exists", "connection_conflict")
            for cid in body.get("enabled_clients") or []:
                if cid not in self.state.clients:
                    return a0_error(404, "The client does not exist", "inexistent_client")
            conn = {"id": random_id("con_", 16), "options": options, "strategy": strategy, "name": body["name"],
                    "is_domain_connection": bool(body.get("is_domain_connection", False)),
                    "realms": list(body.get("realms") or [body["name"]]), "display_name": body.get("display_name") or body["name"]}
            for key in ("show_as_button", "metadata", "authentication", "connected_accounts"):
                if key in body:
                    conn[key] = copy.deepcopy(body[key])
            self.state.connections[conn["id"]] = conn
            self.state.enabled[conn["id"]] = list(dict.fromkeys(body.get("enabled_clients") or []))
            out = self._public(conn)
        return Reply(201, out)

    @staticmethod
    def _body(ex):
        ctype = (ex.header("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            return ex.form()
        return ex.json()

    def _conn_or_404(self, cid):
        conn = self.state.connections.get(cid)
        if conn is None:
            return None, a0_error(404, "The connection does not exist", "inexistent_connection")
        return conn, None

    def get_connection(self, ex, params, scopes):
        with self.lock:
            conn, err = self._conn_or_404(params["id"])
            if err:
                return err
            out = self._public(conn)
        return Reply(200, self._fields([out], urllib.parse.parse_qs(ex.query))[0])

    def update_connection(self, ex, params, scopes):
        body = self._body(ex)
        with self.lock:
            conn, err = self._conn_or_404(params["id"])
            if err:
                return err
            conn = copy.deepcopy(conn)
        if "options" in body:
            options = copy.deepcopy(body["options"] or {})  # replaces the whole object (protocols.md §4.2)
            problem = self.check_options(conn["strategy"], options)
            if problem:
                problem.rejected_as_invalid = True
                return problem
            conn["options"] = options
        conn["display_name"] = body.get("display_name", conn["name"])  # "overwritten with the name value" when absent
        for key in ("is_domain_connection", "show_as_button", "realms", "metadata", "authentication", "connected_accounts"):
            if key in body:
                conn[key] = copy.deepcopy(body[key])
        with self.lock:
            if params["id"] not in self.state.connections:
                return a0_error(404, "The connection does not exist", "inexistent_connection")
            if "enabled_clients" in body:
                ids = list(dict.fromkeys(body["enabled_clients"] or []))
                for cid in ids:
                    if cid not in self.state.clients:
                        return a0_error(404, "The client does not exist", "inexistent_client")
                self.state.enabled[params["id"]] = ids
            self.state.connections[params["id"]] = conn
            out = self._public(conn)
        return Reply(200, out)

    def delete_connection(self, ex, params, scopes):
        with self.lock:
            self.state.connections.pop(params["id"], None)
            self.state.enabled.pop(params["id"], None)
        return Reply(204)

    def get_enabled(self, ex, params, scopes):
        with self.lock:
            conn, err = self._conn_or_404(params["id"])
            if err:
                return err
            ids = list(self.state.enabled.get(params["id"], []))
        q = ex.args
        start = ids.index(q["from"]) if q.get("from") in ids else 0
        take = int(q.get("take", "50"))
        body = {"clients": [{"client_id": c} for c in ids[start:start + take]]}
        if start + take < len(ids):
            body["next"] = ids[start + take]
        return Reply(200, body)

    def patch_enabled(self, ex, params, scopes):
        items = self._body(ex)
        if len(items) > 50:
            r = a0_error(400, "Payload validation error: 'Array is too long (%d), maximum 50' on property body." % len(items), "invalid_body")
            r.rejected_as_invalid = True
            return r
        with self.lock:
            conn, err = self._conn_or_404(params["id"])
            if err:
                return err
            for item in items:
                if item["client_id"] not in self.state.clients:
                    return a0_error(404, "The client does not exist", "inexistent_client")
            enabled = self.state.enabled.setdefault(params["id"], [])
            for item in items:
                if item["status"] and item["client_id"] not in enabled:
                    enabled.append(item["client_id"])
                elif not item["status"] and item["client_id"] in enabled:
                    enabled.remove(item["client_id"])
        return Reply(204)

    def list_clients(self, ex, params, scopes):
        q = ex.args
        full = bool(scopes & {"read:clients", "read:client_keys"})
        keys = "read:client_keys" in scopes
        with self.lock:
            apps = list(self.state.clients.values())
        out = []
        for a in apps:
            if q.get("app_type") and a["app_type"] not in q["app_type"].split(","):
                continue
            if q.get("is_global") and str(a["global"]).lower() != q["is_global"]:
                continue
            item = {"client_id": a["client_id"], "name": a["name"], "app_type": a["app_type"], "description": a["description"]}
            if full:
                item.update({"tenant": self.state.tenant, "global": a["global"], "is_first_party": a["is_first_party"],
                             "callbacks": list(a["callbacks"]), "grant_types": list(a["grant_types"]), "oidc_conformant": True})
            if keys:
                item["client_secret"] = a["client_secret"]
            out.append(item)
        per_page = int(q.get("per_page", "50"))
        page_no = int(q.get("page", "0"))
        page = out[page_no * per_page:(page_no + 1) * per_page] if per_page else out
        if q.get("include_totals") == "true":
            return Reply(200, {"start": page_no * per_page, "limit": per_page, "total": len(out), "clients": page})
        return Reply(200, page)

    # --- SP / RP side -------------------------------------------------------------------------------

    def saml_sp(self, name):
        """A VendorSAMLSP acting as Auth0 for the stored samlp connection `name` (rebuilt when the
        connection changes, keeping its SP key)."""
        from vendor_sp import BINDING_REDIRECT, VendorSAMLSP
        with self.lock:
            conn = copy.deepcopy(self.state.by_name(name))
        if conn is None or conn["strategy"] != "samlp":
            raise KeyError(f"no samlp connection named {name!r}")
        o = conn["options"]
        cert = load_certificate(o.get("signingCert") or o.get("cert"))
        key = json.dumps([conn["id"], o, conn["name"]], sort_keys=True)
        cached = self._sps.get(name)
        if cached and cached[0] == key:
            return cached[1]
        work = os.path.join(self.work, "sp-" + conn["id"])
        os.makedirs(work, exist_ok=True)
        sp = VendorSAMLSP(self.entity_id(conn), self.acs_url(name), o["signInEndpoint"], [cert_pem(cert)],
                          request_binding=o.get("protocolBinding") or BINDING_REDIRECT, sign_requests=bool(o.get("signSAMLRequest")),
                          idp_entity_id=None, signature_scope="ANY", clock_skew=180, vendor="auth0", work=work,
                          sp_key_cert=cached[1].key_cert if cached else None)
        sp.key_cert = (sp.key, sp.cert)
        self._sps[name] = (key, sp)
        return sp

    def oauth2_rp(self, name):
        """A VendorOAuth2RP acting as Auth0 for the stored oauth2 connection `name`."""
        from vendor_sp import VendorOAuth2RP
        with self.lock:
            conn = copy.deepcopy(self.state.by_name(name))
        if conn is None or conn["strategy"] != "oauth2":
            raise KeyError(f"no oauth2 connection named {name!r}")
        o = conn["options"]
        key = json.dumps(o, sort_keys=True)
        cached = self._rps.get(name)
        if cached and cached[0] == key:
            return cached[1]
        rp = VendorOAuth2RP(o["authorizationURL"], o["tokenURL"], o["client_id"], o.get("client_secret"), o.get("scope"),
                            self.callback_url, pkce_enabled=bool(o.get("pkce_enabled")), custom_headers=o.get("customHeaders"),
                            auth_params=o.get("authParams"))
        self._rps[name] = (key, rp)
        return rp

    def sp_metadata(self, ex):
        name = ex.args.get("connection", "")
        try:
            sp = self.saml_sp(name)
        except KeyError:
            return Reply(404, raw=b"Not Found", ctype="text/plain")
        return Reply(200, raw=sp.metadata().encode(), ctype="application/xml")

    def start_login(self, name, relay_state=""):
        """What Auth0 answers at /authorize?connection=NAME: (status, headers, body)."""
        with self.lock:
            conn = self.state.by_name(name)
            strategy = conn["strategy"] if conn else None
        if strategy == "samlp":
            req = self.saml_sp(name).start(relay_state=relay_state or name)
            if "url" in req:
                return Reply(302, headers={"Location": req["url"]})
            inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>' for k, v in req["form"].items())
            page = (f'<html><body onload="document.forms[0].submit()"><form method="POST" action="{html.escape(req["action"])}">'
                    f'{inputs}<noscript><button type="submit">Continue</button></noscript></form></body></html>')
            return Reply(200, raw=page.encode(), ctype="text/html")
        if strategy == "oauth2":
            url, state, _ = self.oauth2_rp(name).authorization_url()
            with self.lock:
                self._oauth_states = getattr(self, "_oauth_states", {})
                self._oauth_states[state] = name
            return Reply(302, headers={"Location": url})
        return Reply(404, raw=f"no samlp/oauth2 connection {name!r}".encode(), ctype="text/plain")

    def login_callback(self, ex):
        """The ACS (POST, ?connection=) and the social callback (GET ?code&state)."""
        if ex.method == "POST":
            name = ex.args.get("connection")
            form = ex.form()
            result = {"connection": name, "strategy": "samlp", "relay_state": form.get("RelayState")}
            try:
                result.update(ok=True, **self.saml_sp(name).consume(form.get("SAMLResponse", "")))
            except Exception as e:
                result.update(ok=False, error=str(e))
        else:
            q = ex.args
            name = getattr(self, "_oauth_states", {}).get(q.get("state"))
            result = {"connection": name, "strategy": "oauth2"}
            try:
                token = self.oauth2_rp(name).fetch_token(self.base_url + ex.path + "?" + ex.query)
                result.update(ok=True, token_type=token.get("token_type"), scope=token.get("scope"),
                              has_access_token=bool(token.get("access_token")))
            except Exception as e:
                result.update(ok=False, error=f"{type(e).__name__}: {e}")
        with self.lock:
            self.state.signins.append(result)
        status = 200 if result["ok"] else 400
        return Reply(status, raw=("signed in" if result["ok"] else "sign-in failed: " + result.get("error", "")).encode(), ctype="text/plain")

    # --- backdoor -----------------------------------------------------------------------------------

    def backdoor(self, ex):
        p = ex.path[len("/__fake__"):]
        if p == "/state" and ex.method == "GET":
            with self.lock:
                return Reply(200, self.state.snapshot())
        if p == "/failures" and ex.method == "GET":
            return Reply(200, self.failures())
        if p == "/info" and ex.method == "GET":
            return Reply(200, self.info())
        if p == "/clients" and ex.method == "POST":
            b = ex.json()
            app = self.seed_client(b.get("client_id"), b.get("client_secret"), b.get("scopes", []), b.get("grant", True), b.get("api", True),
                                   b.get("name"), b.get("app_type", "non_interactive"))
            return Reply(201, {k: v for k, v in app.items() if k != "client_secret"})
        if p == "/rate-limit" and ex.method == "POST":
            b = ex.json()
            with self.lock:
                self.rate_limit = {"count": int(b.get("count", 1)), "retry_after": int(b.get("retry_after", 1))}
            return Reply(204)
        m = re.fullmatch(r"/connections/([^/]+)", p)
        if m and ex.method in ("PATCH", "DELETE"):
            with self.lock:
                conn = self.state.connections.get(m.group(1))
                if conn is None:
                    return Reply(404, {"error": "no such connection"})
                if ex.method == "DELETE":
                    self.state.connections.pop(m.group(1))
                    self.state.enabled.pop(m.group(1), None)
                    return Reply(204)
                for k, v in ex.json().items():
                    if k == "enabled_clients":
                        self.state.enabled[conn["id"]] = list(v)
                    else:
                        conn[k] = v
                return Reply(200, self._public(conn))
        if p == "/login" and ex.method == "GET":
            return self.start_login(ex.args.get("connection", ""), ex.args.get("RelayState", ""))
        return Reply(404, {"error": f"no backdoor route {ex.method} {p}"})


# --- self-test ------------------------------------------------------------------------------------


def self_test(log_path):
    import requests
    check = Checks()
    fake = FakeAuth0(tenant="sigil-selftest", log_path=log_path).start()
    base = fake.base_url
    api = base + "/api/v2"
    bad = {EXPECT_HEADER: "invalid-request"}
    scopes_all = ["read:connections", "create:connections", "update:connections", "delete:connections", "read:clients"]
    sigil_id, sigil_secret = "sigilM2Mclient0000000000000000ab", "s3cr3t-" + "x" * 40
    fake.seed_client(sigil_id, sigil_secret, scopes_all, name="Sigil one-click")
    fake.seed_client("readonlyclient00000000000000000a", "ro-secret-0123456789", ["read:connections"], name="Read only")
    fake.seed_client("nograntclient000000000000000000a", "ng-secret-0123456789", scopes_all, grant=False, name="No grant")
    fake.seed_client("noapiclient00000000000000000000a", "na-secret-0123456789", scopes_all, api=False, name="Not authorised")
    web = fake.seed_client(name="Acme portal", app_type="regular_web")
    spa = fake.seed_client(name="Acme SPA", app_type="spa")
    s = requests.Session()

    def token(cid=sigil_id, secret=sigil_secret, audience=None, as_json=False, **extra):
        data = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret,
                "audience": fake.state.audience if audience is None else audience, **extra}
        if as_json:
            return s.post(base + "/oauth/token", json=data, timeout=10)
        return s.post(base + "/oauth/token", data=data, timeout=10)

    # token endpoint
    r = token()
    check("token: client_credentials (form) → 200 Bearer with the granted scopes", r.status_code == 200 and r.json()["token_type"] == "Bearer"
          and set(r.json()["scope"].split()) == set(scopes_all), r.text)
    tok = r.json()["access_token"]
    claims = json.loads(base64.urlsafe_b64decode(tok.split(".")[1] + "=="))
    header = json.loads(base64.urlsafe_b64decode(tok.split(".")[0] + "=="))
    check("token: RS256 JWT with aud, iss, exp, scope", header["alg"] == "RS256" and claims["aud"] == fake.state.audience
          and claims["iss"] == f"https://{fake.state.domain}/" and claims["exp"] > time.time() + 3600 and claims["sub"] == sigil_id + "@clients"
          and set(claims["scope"].split()) == set(scopes_all), claims)
    jwks = s.get(base + "/.well-known/jwks.json", timeout=10).json()
    check("token: signed by a key in the tenant's JWKS", jwks["keys"][0]["kid"] == header["kid"])
    check("token: JSON body accepted too", token(as_json=True).status_code == 200)
    r = token(secret="wrong")
    check("token: wrong secret → 401 access_denied Unauthorized", r.status_code == 401 and r.json() == {"error": "access_denied",
                                                                                                    "error_description": "Unauthorized"}, r.text)
    r = token(cid="nosuchclient")
    check("token: unknown client → 401 access_denied", r.status_code == 401 and r.json()["error"] == "access_denied", r.text)
    r = token("nograntclient000000000000000000a", "ng-secret-0123456789")
    check("token: grant disabled → 403 unauthorized_client with Auth0's message", r.status_code == 403
          and r.json()["error"] == "unauthorized_client"
          and r.json()["error_description"] == "Grant type 'client_credentials' not allowed for the client.", r.text)
    r = token(audience="https://elsewhere.example/api/v2/")
    check("token: unknown audience → 403 Service not found", r.status_code == 403 and r.json()["error_description"].startswith("Service not found"),
          r.text)
    r = token("noapiclient00000000000000000000a", "na-secret-0123456789")
    check("token: app not authorised for the Management API → 403 client-grant message", r.status_code == 403
          and "client-grant" in r.json()["error_description"], r.text)
    r = token(scope="read:connections create:users")
    check("token: asking for an ungranted scope → 403", r.status_code == 403 and "create:users" in r.json()["error_description"], r.text)
    r = token(scope="read:connections")
    check("token: a narrower scope request gets just that", r.status_code == 200 and r.json()["scope"] == "read:connections", r.text)
    r = s.post(base + "/oauth/token", data={"grant_type": "client_credentials", "client_id": sigil_id, "client_secret": sigil_secret},
               headers=bad, timeout=10)
    check("token: missing audience → 400 invalid_request", r.status_code == 400 and r.json()["error"] == "invalid_request", r.text)
    H = {"Authorization": "Bearer " + tok}
    ro = token("readonlyclient00000000000000000a", "ro-secret-0123456789").json()["access_token"]

    # management API auth
    r = s.get(api + "/connections", headers=bad, timeout=10)
    check("API: no token → 401", r.status_code == 401 and r.json()["statusCode"] == 401, r.text)
    forged = tok.rsplit(".", 1)[0] + ".AAAA"
    r = s.get(api + "/connections", headers={"Authorization": "Bearer " + forged}, timeout=10)
    check("API: forged token → 401 invalid signature", r.status_code == 401 and "signature" in r.json()["message"], r.text)
    expired = fake.signer.sign({**claims, "exp": int(time.time()) - 10})
    r = s.get(api + "/connections", headers={"Authorization": "Bearer " + expired}, timeout=10)
    check("API: expired token → 401", r.status_code == 401 and "Expired" in r.json()["message"], r.text)

    # clients
    r = s.get(api + "/clients", headers=H, timeout=10)
    names = {c["name"] for c in r.json()} if r.status_code == 200 else set()
    check("GET /clients lists the tenant's applications", r.status_code == 200 and {"Acme portal", "Acme SPA"} <= names
          and all("client_secret" not in c for c in r.json()), r.text[:300])
    r = s.get(api + "/clients", headers=H, params={"app_type": "regular_web,spa", "include_totals": "true"}, timeout=10)
    check("GET /clients filters by app_type, with totals", r.status_code == 200 and r.json()["total"] == 2, r.text[:300])

    # samlp
    work = tempfile.mkdtemp(prefix="fake-auth0-selftest-")
    from saml_upstream_idp import OktaShapedIdP
    idp = OktaShapedIdP(work, app="exkauth0test")
    with open(idp.cert, "rb") as f:
        idp_pem = f.read()
    saml_body = {"strategy": "samlp", "name": "acme-passwordless", "display_name": "Acme",
                 "options": {"signInEndpoint": idp.sso_url, "signOutEndpoint": idp.slo_url,
                             "signingCert": base64.b64encode(idp_pem).decode(), "signatureAlgorithm": "rsa-sha256",
                             "digestAlgorithm": "sha256", "signSAMLRequest": True,
                             "protocolBinding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
                             "fieldsMap": {"email": "email", "given_name": "firstName"},
                             "user_id_attribute": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"}}
    r = s.post(api + "/connections", headers={"Authorization": "Bearer " + ro}, json=saml_body, timeout=10)
    check("POST /connections without create:connections → 403 insufficient_scope naming it", r.status_code == 403
          and r.json() == {"statusCode": 403, "error": "Forbidden", "message": "Insufficient scope, expected any of: create:connections",
                           "errorCode": "insufficient_scope"}, r.text)
    r = s.post(api + "/connections", headers=H, json=saml_body, timeout=10)
    conn = r.json() if r.status_code == 201 else {}
    check("POST /connections samlp → 201 with con_ id, realms, options", r.status_code == 201 and conn["id"].startswith("con_")
          and conn["realms"] == ["acme-passwordless"] and conn["options"]["signInEndpoint"] == idp.sso_url, r.text[:400])
    r = s.post(api + "/connections", headers=H, json=saml_body, timeout=10)
    check("name taken → 409 connection_conflict", r.status_code == 409 and r.json()["errorCode"] == "connection_conflict"
          and r.json()["message"] == "A connection with the same name already exists", r.text)
    for bad_name in ("acme_passwordless", "-acme", "acme--x", "a" * 129, "acme.corp"):
        r = s.post(api + "/connections", headers={**H, **bad}, json={**saml_body, "name": bad_name}, timeout=10)
        check(f"invalid name {bad_name[:20]!r} → 400 invalid_body naming the pattern or length", r.status_code == 400
              and r.json()["errorCode"] == "invalid_body" and ("pattern" in r.json()["message"] or "does not match" in r.json()["message"]
                                                               or "long" in r.json()["message"]), r.text[:300])
    r = s.post(api + "/connections", headers={**H, **bad}, json={**saml_body, "name": "x1", "strategy": "no-such-strategy"}, timeout=10)
    check("unknown strategy → 400 invalid_body", r.status_code == 400 and r.json()["errorCode"] == "invalid_body"
          and "no-such-strategy" in r.json()["message"], r.text[:300])
    no_sso = copy.deepcopy(saml_body)
    no_sso["name"] = "acme-nosso"
    del no_sso["options"]["signInEndpoint"]
    r = s.post(api + "/connections", headers={**H, **bad}, json=no_sso, timeout=10)
    check("samlp without signInEndpoint → 400 naming it", r.status_code == 400 and "signInEndpoint" in r.json()["message"], r.text)
    no_cert = copy.deepcopy(saml_body)
    no_cert["name"] = "acme-nocert"
    del no_cert["options"]["signingCert"]
    r = s.post(api + "/connections", headers={**H, **bad}, json=no_cert, timeout=10)
    check("samlp without signingCert → 400 naming it", r.status_code == 400 and "signingCert" in r.json()["message"], r.text)
    junk = copy.deepcopy(saml_body)
    junk["name"] = "acme-junkcert"
    junk["options"]["signingCert"] = base64.b64encode(b"not a certificate").decode()
    r = s.post(api + "/connections", headers={**H, **bad}, json=junk, timeout=10)
    check("samlp with an unparsable signingCert → 400", r.status_code == 400 and r.json()["errorCode"] == "invalid_body", r.text)
    badbind = copy.deepcopy(saml_body)
    badbind["name"] = "acme-badbinding"
    badbind["options"]["protocolBinding"] = "HTTP-POST"
    r = s.post(api + "/connections", headers={**H, **bad}, json=badbind, timeout=10)
    check("samlp options checked against ConnectionOptionsSAML (protocolBinding enum)", r.status_code == 400
          and "protocolBinding" in r.json()["message"], r.text)
    md = copy.deepcopy(saml_body)
    md["name"] = "acme-from-metadata"
    md["options"] = {"metadataXml": idp.metadata()}
    r = s.post(api + "/connections", headers=H, json=md, timeout=10)
    o = r.json().get("options", {}) if r.status_code == 201 else {}
    check("samlp from metadataXml: signInEndpoint/signingCert extracted, metadataXml not stored", r.status_code == 201
          and o.get("signInEndpoint") == idp.sso_url and "metadataXml" not in o
          and load_certificate(o["signingCert"]).public_bytes(__import__("cryptography.hazmat.primitives.serialization", fromlist=["x"]).Encoding.PEM) == idp_pem,
          r.text[:300])
    r = s.get(api + "/connections/" + conn.get("id", "x"), headers=H, timeout=10)
    check("GET /connections/{id}", r.status_code == 200 and r.json()["name"] == "acme-passwordless", r.text[:200])
    r = s.get(api + "/connections/con_doesnotexist0000", headers=H, timeout=10)
    check("GET unknown connection → 404 inexistent_connection", r.status_code == 404 and r.json()["errorCode"] == "inexistent_connection", r.text)
    r = s.get(api + "/connections", headers=H, params=[("strategy", "samlp"), ("include_totals", "true")], timeout=10)
    check("GET /connections?strategy=samlp&include_totals", r.status_code == 200 and r.json()["total"] == 2, r.text[:200])
    r = s.get(api + "/connections", headers=H, params={"name": "acme-passwordless"}, timeout=10)
    check("GET /connections?name=", r.status_code == 200 and [c["id"] for c in r.json()] == [conn.get("id")], r.text[:200])

    # enabling applications
    r = s.patch(api + f"/connections/{conn['id']}/clients", headers=H, json=[{"client_id": web["client_id"], "status": True},
                                                                              {"client_id": spa["client_id"], "status": True}], timeout=10)
    check("PATCH /connections/{id}/clients → 204", r.status_code == 204, r.text)
    r = s.get(api + f"/connections/{conn['id']}/clients", headers=H, timeout=10)
    check("GET /connections/{id}/clients lists both", r.status_code == 200
          and {c["client_id"] for c in r.json()["clients"]} == {web["client_id"], spa["client_id"]}, r.text)
    r = s.patch(api + f"/connections/{conn['id']}/clients", headers=H, json=[{"client_id": spa["client_id"], "status": False}], timeout=10)
    r = s.get(api + f"/connections/{conn['id']}/clients", headers=H, timeout=10)
    check("status:false disables one", [c["client_id"] for c in r.json()["clients"]] == [web["client_id"]], r.text)
    r = s.patch(api + f"/connections/{conn['id']}/clients", headers=H, json=[{"client_id": "nope", "status": True}], timeout=10)
    check("enabling an unknown client → 404", r.status_code == 404, r.text)
    r = s.patch(api + f"/connections/{conn['id']}/clients", headers={**H, **bad}, json=[], timeout=10)
    check("empty array → 400 (minItems 1)", r.status_code == 400, r.text)
    r = s.get(api + "/connections/" + conn["id"], headers=H, timeout=10)
    check("the deprecated enabled_clients field mirrors it", r.json().get("enabled_clients") == [web["client_id"]], r.text[:300])

    # PATCH replaces options whole
    new_opts = {k: v for k, v in saml_body["options"].items() if k != "fieldsMap"}
    r = s.patch(api + "/connections/" + conn["id"], headers=H, json={"options": new_opts}, timeout=10)
    check("PATCH options replaces the whole object; display_name falls back to the name", r.status_code == 200
          and "fieldsMap" not in r.json()["options"] and r.json()["display_name"] == "acme-passwordless", r.text[:300])
    r = s.patch(api + "/connections/" + conn["id"], headers={**H, **bad}, json={"name": "renamed"}, timeout=10)
    check("PATCH name (not updatable) → 400", r.status_code == 400, r.text)
    r = s.patch(api + "/connections/" + conn["id"], headers={**H, **bad}, json={"options": {"signOutEndpoint": idp.slo_url}}, timeout=10)
    check("PATCH options without signInEndpoint → 400 (options are re-checked)", r.status_code == 400, r.text)

    # drift behind Sigil's back
    r = s.patch(base + f"/__fake__/connections/{conn['id']}", json={"options": {**new_opts, "signInEndpoint": "https://evil.example/sso"}}, timeout=10)
    r = s.get(api + "/connections/" + conn["id"], headers=H, timeout=10)
    check("backdoor drift is visible through the API", r.json()["options"]["signInEndpoint"] == "https://evil.example/sso")
    s.patch(base + f"/__fake__/connections/{conn['id']}", json={"options": new_opts}, timeout=10)

    # SP side values and an end-to-end SAML sign-in against a stand-in IdP
    v = fake.sp_values("acme-passwordless")
    check("SP values: ACS, entity ID, callback derived as Auth0 does", v["acs_url"] == base + "/login/callback?connection=acme-passwordless"
          and v["entity_id"] == "urn:auth0:sigil-selftest:acme-passwordless" and v["callback_url"] == base + "/login/callback")
    md_xml = s.get(v["metadata_url"], timeout=10)
    check("SP metadata at /samlp/metadata?connection=", md_xml.status_code == 200 and 'entityID="urn:auth0:sigil-selftest:acme-passwordless"' in md_xml.text
          and "login/callback?connection=acme-passwordless" in md_xml.text, md_xml.text[:300])
    idp.trust_sp(v["metadata_url"])
    browser = requests.Session()
    start = browser.get(base + "/__fake__/login?connection=acme-passwordless", allow_redirects=False, timeout=10)
    loc = start.headers.get("Location", "")
    check("sign-in starts with a signed HTTP-Redirect AuthnRequest to signInEndpoint", start.status_code == 302
          and loc.startswith(idp.sso_url + "?SAMLRequest=") and "Signature=" in loc, loc[:200])
    page = browser.get(loc, timeout=10)
    key = re.search(r'name="pending" value="([^"]+)"', page.text)
    check("the stand-in IdP accepts Auth0's signed request", key is not None, page.text[:300])
    if key:
        done = browser.post(idp.sso_url + "/login", data={"pending": key.group(1), "username": "alice"}, timeout=10)
        fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', done.text)}
        action = html.unescape(re.search(r'action="([^"]+)"', done.text).group(1))
        check("the IdP posts to Auth0's ACS", action == v["acs_url"], action)
        r = browser.post(action, data=fields, timeout=10)
        signin = fake.state.signins[-1] if fake.state.signins else {}
        check("Auth0's SP accepts the signed response (pysaml2 + xmlsec1): NameID and attributes", r.status_code == 200 and signin.get("ok")
              and signin.get("name_id") == "alice@example.org" and signin["attributes"].get("email") == ["alice@example.org"], signin)
        r = browser.post(action, data=fields, timeout=10)
        check("a replayed response is refused (InResponseTo no longer outstanding)", r.status_code == 400
              and not fake.state.signins[-1]["ok"], fake.state.signins[-1])
    sp = fake.saml_sp("acme-passwordless")
    req = sp.start()
    forged_resp = base64.b64encode(b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" InResponseTo="'
                                   + req["request_id"].encode() + b'"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/>'
                                   b'</samlp:Response>').decode()
    try:
        sp.consume(forged_resp)
        check("an unsigned response is refused", False, "accepted")
    except Exception as e:
        check("an unsigned response is refused", "signature" in str(e), str(e))
    idp.shutdown()

    # oauth2 with and without PKCE against a stand-in OP that requires PKCE (like Sigil)
    op = StandInOP(require_pkce=True).start()
    oauth_body = {"strategy": "oauth2", "name": "sigil-oauth", "display_name": "Sigil",
                  "options": {"authorizationURL": op.base + "/authorize", "tokenURL": op.base + "/token", "client_id": "auth0-at-sigil",
                              "client_secret": "op-secret-for-auth0", "scope": "openid profile email", "pkce_enabled": True,
                              "scripts": {"fetchUserProfile": "function fetchUserProfile(accessToken, context, callback) { callback(null, {user_id: 'x'}); }"}}}
    r = s.post(api + "/connections", headers=H, json=oauth_body, timeout=10)
    oconn = r.json() if r.status_code == 201 else {}
    check("POST /connections oauth2 → 201", r.status_code == 201 and oconn["options"]["pkce_enabled"] is True, r.text[:300])
    missing = copy.deepcopy(oauth_body)
    missing["name"] = "sigil-oauth-2"
    del missing["options"]["tokenURL"]
    r = s.post(api + "/connections", headers={**H, **bad}, json=missing, timeout=10)
    check("oauth2 without tokenURL → 400 naming it", r.status_code == 400 and "tokenURL" in r.json()["message"], r.text)
    r = browser.get(base + "/__fake__/login?connection=sigil-oauth", allow_redirects=True, timeout=10)
    last = fake.state.signins[-1] if fake.state.signins else {}
    auth_q = op.authorize_requests[-1] if op.authorize_requests else {}
    check("oauth2 with pkce_enabled: S256 challenge sent, redirect_uri {base}/login/callback, scope, code exchanged (client_secret_post)",
          r.status_code == 200 and last.get("ok") and auth_q.get("code_challenge_method") == "S256"
          and auth_q.get("redirect_uri") == fake.callback_url and auth_q.get("scope") == "openid profile email"
          and op.token_requests[-1].get("client_secret") == "op-secret-for-auth0" and op.token_requests[-1].get("code_verifier"),
          (last, auth_q))
    opts = copy.deepcopy(oconn["options"])
    opts["pkce_enabled"] = False
    r = s.patch(api + "/connections/" + oconn["id"], headers=H, json={"options": opts}, timeout=10)
    r = browser.get(base + "/__fake__/login?connection=sigil-oauth", allow_redirects=True, timeout=10)
    last = fake.state.signins[-1]
    check("oauth2 without pkce_enabled: no code_challenge sent, and an OP that requires PKCE refuses",
          "code_challenge" not in op.authorize_requests[-1] and not last.get("ok"), (last, op.authorize_requests[-1]))
    op.stop()

    # delete
    r = s.delete(api + "/connections/" + oconn["id"], headers={"Authorization": "Bearer " + ro}, timeout=10)
    check("DELETE without delete:connections → 403 naming it", r.status_code == 403 and "delete:connections" in r.json()["message"], r.text)
    r = s.delete(api + "/connections/" + oconn["id"], headers=H, timeout=10)
    check("DELETE → 204, then GET → 404", r.status_code == 204
          and s.get(api + "/connections/" + oconn["id"], headers=H, timeout=10).status_code == 404)

    # 429 on demand
    s.post(base + "/__fake__/rate-limit", json={"count": 2, "retry_after": 3}, timeout=10)
    r1 = s.get(api + "/connections", headers=H, timeout=10)
    r2 = token()
    r3 = s.get(api + "/connections", headers=H, timeout=10)
    check("429 on demand with Retry-After and X-RateLimit-* (API and token endpoint), then back to normal",
          r1.status_code == 429 and r1.headers.get("Retry-After") == "3" and r1.headers.get("X-RateLimit-Remaining") == "0"
          and r1.json()["errorCode"] == "too_many_requests" and r2.status_code == 429 and r3.status_code == 200
          and "X-RateLimit-Limit" in r3.headers, (r1.status_code, r1.text, r2.status_code, r3.status_code))

    # the fake's own validation bookkeeping
    f = s.get(base + "/__fake__/failures", timeout=10).json()
    check("request validation failures were recorded (the deliberately invalid requests)", len(f["request_failures"]) >= 8,
          len(f["request_failures"]))
    check("no response failed validation against the OpenAPI document", f["response_failures"] == [], f["response_failures"][:3])
    fake.stop()
    if log_path:
        text = open(log_path).read()
        leaked = [x for x in (sigil_secret, tok, "op-secret-for-auth0", "ro-secret-0123456789") if x in text]
        check("the JSONL log redacts secrets and tokens", not leaked and "<redacted>" in text, leaked)
    return check.summary()


class StandInOP:
    """A tiny OAuth 2.0 authorization server (auto-approves) for the oauth2 self-test; refuses a code
    exchange without PKCE when require_pkce (as Sigil does)."""

    def __init__(self, require_pkce=True):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import hashlib
        self.require_pkce = require_pkce
        self.authorize_requests, self.token_requests, self.codes = [], [], {}
        op = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                op.authorize_requests.append(q)
                code = random_id("c", 20)
                op.codes[code] = q
                self.send_response(302)
                self.send_header("Location", q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q.get("state", "")}))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()))
                op.token_requests.append(form)
                q = op.codes.pop(form.get("code"), None)
                err = None
                if q is None or form.get("client_secret") != "op-secret-for-auth0":
                    err = "invalid_grant"
                elif "code_challenge" in q:
                    v = form.get("code_verifier", "")
                    calc = base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
                    err = None if calc == q["code_challenge"] else "invalid_grant"
                elif op.require_pkce:
                    err = "invalid_request"
                body = json.dumps({"error": err, "error_description": "PKCE required" if err == "invalid_request" else "bad code"} if err else
                                  {"access_token": "at-" + random_id("", 20), "token_type": "Bearer", "expires_in": 300, "scope": q.get("scope", "")}).encode()
                self.send_response(400 if err else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def parse_seed(text):
    """ID:SECRET:scope1,scope2[:nogrant][:noapi] (scopes contain colons themselves: read:connections)."""
    parts = text.split(":")
    if len(parts) < 3:
        raise argparse.ArgumentTypeError("--seed-client ID:SECRET:scope1,scope2[:nogrant][:noapi]")
    rest, flags = parts[2:], set()
    while rest and rest[-1] in ("nogrant", "noapi"):
        flags.add(rest.pop())
    return {"client_id": parts[0], "client_secret": parts[1], "scopes": [x for x in ":".join(rest).split(",") if x],
            "grant": "nogrant" not in flags, "api": "noapi" not in flags}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tenant", default="sigil-interop")
    ap.add_argument("--domain", help="tenant domain (default 127.0.0.1:PORT); the audience is https://{domain}/api/v2/")
    ap.add_argument("--log", help="JSONL exchange log (appended)")
    ap.add_argument("--seed-client", action="append", type=parse_seed, default=[])
    ap.add_argument("--seed-app", action="append", default=[], help="NAME:APP_TYPE, an application to list in GET /clients")
    ap.add_argument("--token-lifetime", type=int, default=TOKEN_LIFETIME)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        log = args.log or os.path.join(tempfile.mkdtemp(prefix="fake-auth0-log-"), "auth0.jsonl")
        print(f"log: {log}", flush=True)
        sys.exit(self_test(log))
    fake = FakeAuth0(port=args.port, tenant=args.tenant, domain=args.domain, log_path=args.log, token_lifetime=args.token_lifetime)
    for seed in args.seed_client:
        fake.seed_client(**seed)
    for app in args.seed_app:
        name, _, app_type = app.partition(":")
        fake.seed_client(name=name, app_type=app_type or "regular_web")
    fake.start()
    print(json.dumps(fake.info()), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
