"""The relying-party half of the Auth0 and Okta fakes (issue 14): from what Sigil stored in the fake
vendor, act as the vendor would when a user signs in through Sigil.

  VendorSAMLSP   a pysaml2 service provider (signatures checked by xmlsec1) with the vendor's SP
                 values: entity ID, ACS, the binding the vendor sends its AuthnRequest with, request
                 signing, and trust in the IdP certificate(s) that were configured. `start()` gives
                 the AuthnRequest (a Location URL or an auto-post form) and its ID; `consume()`
                 checks a SAMLResponse the way the vendor documents (see below) and returns the
                 NameID, attributes and issuer. `metadata()` is the vendor's SP metadata.
  VendorOAuth2RP an authlib OAuth 2.0 client configured like an Auth0 `oauth2` connection:
                 authorizationURL, tokenURL, client_id, client_secret (client_secret_post), scope,
                 redirect URI `{base}/login/callback`, PKCE S256 only when `pkce_enabled` is true.

Auth0 as SAML SP (protocols.md §4.4): exactly one Assertion, the Response or the Assertion (or both)
signed by a configured certificate, the first Audience = the SP entity ID, Destination and
Recipient (when present) = the ACS URL including `?connection=`, InResponseTo = our request, 3
minutes of clock skew; Auth0 keeps no IdP entity ID (the certificate is the trust), so the IdP
metadata given to pysaml2 is built for whatever Issuer the response names (`trust_any_issuer`).
Okta as SAML SP (§5.3): the Issuer must be `credentials.trust.issuer`, the Audience
`credentials.trust.audience`, signature scope RESPONSE / TOKEN (assertion) / ANY.
"""
import base64
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse

from lxml import etree

XMLSEC = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"


def make_keypair(directory, name):
    key, cert = os.path.join(directory, f"{name}.key"), os.path.join(directory, f"{name}.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30",
                    "-subj", f"/CN={name}"], check=True, capture_output=True)
    return key, cert


def pem_body(pem):
    text = pem.decode() if isinstance(pem, bytes) else pem
    return "".join(line.strip() for line in text.splitlines() if line.strip() and "-----" not in line)


def der_to_pem(der):
    b = base64.b64encode(der).decode()
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(b[i:i + 64] for i in range(0, len(b), 64)) + "\n-----END CERTIFICATE-----\n"


def idp_metadata(entity_id, sso_url, certs_pem, sso_binding=BINDING_REDIRECT):
    keys = "".join(f'<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{DS}"><ds:X509Data><ds:X509Certificate>'
                   f'{pem_body(c)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>' for c in certs_pem)
    bindings = [sso_binding] + [b for b in (BINDING_REDIRECT, BINDING_POST) if b != sso_binding]
    sso = "".join(f'<md:SingleSignOnService Binding="{b}" Location="{sso_url}"/>' for b in bindings)
    return (f'<?xml version="1.0"?><md:EntityDescriptor xmlns:md="{MD}" entityID="{entity_id}">'
            f'<md:IDPSSODescriptor protocolSupportEnumeration="{SAMLP}">{keys}{sso}</md:IDPSSODescriptor></md:EntityDescriptor>')


class SAMLRefused(Exception):
    pass


class VendorSAMLSP:
    def __init__(self, entity_id, acs_url, sso_url, idp_certs_pem, request_binding=BINDING_REDIRECT, sign_requests=False,
                 idp_entity_id=None, signature_scope="ANY", clock_skew=180, work=None, vendor="auth0", sp_key_cert=None):
        from saml2 import xmldsig  # noqa: F401 (import check: pysaml2 present)
        self.entity_id, self.acs_url, self.sso_url = entity_id, acs_url, sso_url
        self.idp_certs_pem = [c if isinstance(c, str) else c.decode() for c in idp_certs_pem]
        self.request_binding = request_binding
        self.sign_requests = sign_requests
        self.idp_entity_id = idp_entity_id  # None: trust any issuer signed by the certificate (Auth0)
        self.signature_scope = signature_scope  # ANY | RESPONSE | TOKEN (Okta's names; Auth0 = ANY)
        self.clock_skew = clock_skew
        self.vendor = vendor
        self.work = work or tempfile.mkdtemp(prefix=f"fake-{vendor}-sp-")
        self.key, self.cert = sp_key_cert or make_keypair(self.work, "sp")
        self.outstanding = {}
        self._lock = threading.Lock()

    def _client(self, idp_entity_id):
        from saml2 import xmldsig
        from saml2.client import Saml2Client
        from saml2.config import SPConfig
        md_file = os.path.join(self.work, "idp-" + re.sub(r"[^A-Za-z0-9]+", "_", idp_entity_id)[:80] + ".xml")
        with open(md_file, "w") as f:
            f.write(idp_metadata(idp_entity_id, self.sso_url, self.idp_certs_pem, self.request_binding))
        conf = SPConfig()
        conf.load({
            "entityid": self.entity_id, "key_file": self.key, "cert_file": self.cert, "xmlsec_binary": XMLSEC,
            "metadata": {"local": [md_file]}, "accepted_time_diff": self.clock_skew, "allow_unknown_attributes": True,
            "service": {"sp": {
                "endpoints": {"assertion_consumer_service": [(self.acs_url, BINDING_POST)]},
                "authn_requests_signed": self.sign_requests,
                "want_response_signed": self.signature_scope == "RESPONSE",
                "want_assertions_signed": self.signature_scope == "TOKEN",
                "want_assertions_or_response_signed": self.signature_scope == "ANY",
                "signing_algorithm": xmldsig.SIG_RSA_SHA256, "digest_algorithm": xmldsig.DIGEST_SHA256,
            }},
        })
        return Saml2Client(conf), conf

    def metadata(self):
        from saml2.metadata import entity_descriptor
        _, conf = self._client(self.idp_entity_id or "urn:sigil-fake:any-idp")
        return str(entity_descriptor(conf))

    def start(self, relay_state="", force_authn=False):
        """The AuthnRequest as the vendor sends it: {"binding", "url" (Redirect) | "form" (POST fields),
        "action", "request_id"}."""
        from saml2 import xmldsig
        client, _ = self._client(self.idp_entity_id or "urn:sigil-fake:any-idp")
        kwargs = {}
        if force_authn:
            kwargs["force_authn"] = "true"
        rid, info = client.prepare_for_authenticate(
            entityid=self.idp_entity_id or "urn:sigil-fake:any-idp", relay_state=relay_state, binding=self.request_binding,
            sign=self.sign_requests, sigalg=xmldsig.SIG_RSA_SHA256 if self.sign_requests else None,
            digest_alg=xmldsig.DIGEST_SHA256, **kwargs)
        with self._lock:
            self.outstanding[rid] = relay_state or "/"
        out = {"binding": self.request_binding, "request_id": rid, "action": self.sso_url}
        if self.request_binding == BINDING_REDIRECT:
            out["url"] = dict(info["headers"])["Location"]
        else:
            out["form"] = {k: v for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', info["data"])}
            import html
            out["form"] = {k: html.unescape(v) for k, v in out["form"].items()}
        return out

    def consume(self, saml_response_b64, expect_request_id=None):
        """Checks a SAMLResponse (HTTP-POST binding) as the vendor does; returns
        {"name_id", "name_id_format", "attributes", "issuer", "in_response_to", "session_index"} or raises SAMLRefused."""
        from saml2 import BINDING_HTTP_POST
        try:
            xml = base64.b64decode(saml_response_b64)
            doc = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except Exception as e:
            raise SAMLRefused(f"unreadable SAMLResponse: {e}")
        ns = {"samlp": SAMLP, "saml": SAML, "ds": DS}
        if doc.tag != f"{{{SAMLP}}}Response":
            raise SAMLRefused("not a samlp:Response")
        assertions = doc.findall("saml:Assertion", ns) + doc.findall("saml:EncryptedAssertion", ns)
        if len(assertions) != 1:
            raise SAMLRefused(f"exactly one Assertion expected, found {len(assertions)}")
        response_signed = doc.find("ds:Signature", ns) is not None
        assertion_signed = doc.find("saml:Assertion/ds:Signature", ns) is not None
        need = {"ANY": response_signed or assertion_signed, "RESPONSE": response_signed, "TOKEN": assertion_signed}[self.signature_scope]
        if not need:
            raise SAMLRefused(f"signature required ({self.signature_scope}); response signed={response_signed}, assertion signed={assertion_signed}")
        destination = doc.get("Destination")
        if destination is not None and destination != self.acs_url:
            raise SAMLRefused(f"Destination {destination!r} is not the ACS {self.acs_url!r}")
        issuer_el = doc.find("saml:Issuer", ns)
        if issuer_el is None:
            issuer_el = doc.find("saml:Assertion/saml:Issuer", ns)
        issuer = (issuer_el.text or "").strip() if issuer_el is not None else ""
        if self.idp_entity_id is not None and issuer != self.idp_entity_id:
            raise SAMLRefused(f"Issuer {issuer!r} is not the configured {self.idp_entity_id!r}")
        audiences = doc.findall("saml:Assertion/saml:Conditions/saml:AudienceRestriction/saml:Audience", ns)
        if not audiences or (audiences[0].text or "").strip() != self.entity_id:
            raise SAMLRefused(f"first Audience {[a.text for a in audiences]} is not {self.entity_id!r}")
        for scd in doc.findall("saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", ns):
            if scd.get("Recipient") is not None and scd.get("Recipient") != self.acs_url:
                raise SAMLRefused(f"Recipient {scd.get('Recipient')!r} is not the ACS {self.acs_url!r}")
        irt = doc.get("InResponseTo")
        with self._lock:
            outstanding = dict(self.outstanding)
        if expect_request_id is not None and irt != expect_request_id:
            raise SAMLRefused(f"InResponseTo {irt!r} is not {expect_request_id!r}")
        if irt not in outstanding:
            raise SAMLRefused(f"InResponseTo {irt!r} answers no outstanding request")
        client, _ = self._client(self.idp_entity_id or issuer or "urn:sigil-fake:any-idp")
        try:
            resp = client.parse_authn_request_response(saml_response_b64, BINDING_HTTP_POST, outstanding=outstanding)
        except Exception as e:
            raise SAMLRefused(f"pysaml2/xmlsec1 refused: {type(e).__name__}: {e}")
        if resp is None:
            raise SAMLRefused("pysaml2 refused the response")
        with self._lock:
            self.outstanding.pop(irt, None)
        subject = resp.get_subject()
        return {"name_id": subject.text, "name_id_format": subject.format, "attributes": resp.get_identity(), "issuer": issuer,
                "in_response_to": irt, "session_index": (resp.session_info() or {}).get("session_index"),
                "response_signed": response_signed, "assertion_signed": assertion_signed}


class VendorOAuth2RP:
    """Auth0's side of an `oauth2` connection (authorization code; client_secret_post; PKCE S256 iff pkce_enabled)."""

    def __init__(self, authorization_url, token_url, client_id, client_secret, scope, redirect_uri, pkce_enabled=False,
                 custom_headers=None, auth_params=None):
        from authlib.integrations.requests_client import OAuth2Session
        if isinstance(scope, list):
            scope = " ".join(scope)
        self.authorization_endpoint, self.token_endpoint = authorization_url, token_url
        self.client_id, self.client_secret, self.scope = client_id, client_secret, scope
        self.redirect_uri, self.pkce_enabled = redirect_uri, bool(pkce_enabled)
        self.custom_headers = dict(custom_headers or {})
        self.auth_params = dict(auth_params or {})
        self.session = OAuth2Session(client_id, client_secret, scope=scope or None, redirect_uri=redirect_uri,
                                     token_endpoint_auth_method="client_secret_post",
                                     code_challenge_method="S256" if self.pkce_enabled else None)
        self.pending = {}

    def authorization_url(self, state=None):
        """(url, state, code_verifier or None)."""
        from authlib.common.security import generate_token
        verifier = generate_token(64) if self.pkce_enabled else None
        kwargs = dict(self.auth_params)
        if verifier:
            kwargs["code_verifier"] = verifier
        url, state = self.session.create_authorization_url(self.authorization_endpoint, state=state, **kwargs)
        self.pending[state] = verifier
        return url, state, verifier

    def fetch_token(self, callback_url):
        """Reads `{redirect_uri}?code=…&state=…` and exchanges the code; raises on `error=`."""
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback_url).query))
        if "error" in q:
            raise RuntimeError(f"authorization error: {q.get('error')}: {q.get('error_description', '')}")
        state = q.get("state")
        if state not in self.pending:
            raise RuntimeError("callback state answers no pending request")
        verifier = self.pending.pop(state)
        kwargs = {"code_verifier": verifier} if verifier else {}
        return self.session.fetch_token(self.token_endpoint, authorization_response=callback_url, state=state,
                                        headers=self.custom_headers or None, **kwargs)
