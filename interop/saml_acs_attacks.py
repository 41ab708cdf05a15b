#!/usr/bin/env python3
"""Crafted SAML Responses against Sigil's SAML service-provider ACS (issue 12: upstream IdPs).

As a module: `build_response` writes an Okta-shaped Response (saml2p/saml2 prefixes, signed Response
and signed Assertion, RSA-SHA256, exclusive c14n, emailAddress NameID, Basic attributes `email`,
`firstName`, `lastName`), `sign` signs it with the `xmlsec` binding, and `run_battery` drives the
attack battery against a running Sigil connection (`SigilACS`): a baseline that must be accepted,
then XSW1-XSW8 (Somorovsky et al., "On Breaking SAML: Be Whoever You Want to Be", 2012, in the
shapes SAML Raider applies them), replay, an old assertion in a response to a fresh request, wrong
Audience / Recipient / Destination / Issuer, expired and not-yet-valid conditions, a comment in
the NameID, an unsolicited response, an unknown key, no signature, two assertions, a DTD with an
entity, RSA-SHA1, a non-Success status, a response for another connection and login CSRF (browser
B finishing browser A's response). For each attack: no session cookie, no new user (`sigil user
list`), and an `upstream.saml.rejected` audit event with a reason.

XML Encryption (`encrypted_data`, `encrypt_in_place`, `encrypted_response`: AES-CBC/GCM content,
RSA-OAEP-MGF1P, xmlenc 1.1 RSA-OAEP with SHA-256, RSA PKCS #1 v1.5 key transport, Triple DES; the
key in an EncryptedKey inside KeyInfo, as SimpleSAMLphp and pysaml2 send it) and
`run_encryption_battery`: encrypted assertions and EncryptedIDs for the connection's encryption
certificate. Accepted: AES-CBC under a signed Response, AES-GCM with or without one (the assertion
signed), xmlenc 1.1 rsa-oaep, EncryptedIDs (the link follows the decrypted NameID). Refused: AES-CBC
in an unsigned Response (the page and the audit say AES-CBC), rsa-1_5 (assertion and EncryptedID),
Triple DES, AES-GCM with no signature, a flipped ciphertext bit, another recipient's key. The
self-test decrypts what it crafts with libxmlsec1 and pysaml2's SP (signatures still valid).

Runnable two ways:

    # offline: the crafted responses against pysaml2's SP role (validates the crafting itself)
    /opt/peers-venv/bin/python interop/saml_acs_attacks.py --self-test
    # against a running Sigil whose connection trusts the IdP key
    /opt/peers-venv/bin/python interop/saml_acs_attacks.py --sigil BIN --data-dir DIR --base http://localhost:PORT \
        --connection okta --idp-key K.pem --idp-cert C.pem --idp-entity http://www.okta.com/exk1sigil [--other-connection okta-b]

Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if anything failed.
"""
import argparse, base64, copy, datetime, html, json, os, re, secrets, subprocess, sys, tempfile, time, urllib.parse, zlib
from dataclasses import dataclass, field

import requests
import xmlsec
from lxml import etree

P = "urn:oasis:names:tc:SAML:2.0:protocol"
A = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"samlp": P, "saml": A, "ds": DS}
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
SESSION_COOKIE = "sigil_session_default"


def instant(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def okta_id():
    # Okta's IDs: "id" followed by digits and hex (e.g. id31477618392829851505212367).
    return "id" + str(secrets.randbelow(10**20)).zfill(20) + secrets.token_hex(4)


@dataclass
class Spec:
    """Everything a Response says. Defaults make a valid Okta-shaped SP-initiated response."""
    issuer: str
    destination: str  # the ACS URL (Response@Destination)
    audience: str  # the SP entity ID
    in_response_to: str | None
    name_id: str
    attributes: dict = field(default_factory=dict)  # name -> value or [values]
    recipient: str | None = None  # SubjectConfirmationData@Recipient; default: destination
    assertion_issuer: str | None = None
    not_before: datetime.datetime | None = None
    not_on_or_after: datetime.datetime | None = None
    issue_instant: datetime.datetime | None = None
    status: str = SUCCESS
    sub_status: str | None = None
    status_message: str | None = None
    with_assertion: bool = True
    name_id_format: str = NAMEID_EMAIL
    response_id: str | None = None
    assertion_id: str | None = None


def _sub(parent, ns, tag, attrib=None, text=None):
    e = etree.SubElement(parent, f"{{{ns}}}{tag}", attrib or {})
    if text is not None:
        e.text = text
    return e


def build_assertion(spec, nsmap=None):
    now = spec.issue_instant or datetime.datetime.now(datetime.timezone.utc)
    nb = spec.not_before or (now - datetime.timedelta(minutes=5))
    noa = spec.not_on_or_after or (now + datetime.timedelta(minutes=5))
    a = etree.Element(f"{{{A}}}Assertion", {"ID": spec.assertion_id or okta_id(), "IssueInstant": instant(now), "Version": "2.0"},
                      nsmap=nsmap or {"saml2": A})
    _sub(a, A, "Issuer", {"Format": ENTITY}, spec.assertion_issuer or spec.issuer)
    subject = _sub(a, A, "Subject")
    _sub(subject, A, "NameID", {"Format": spec.name_id_format}, spec.name_id)
    sc = _sub(subject, A, "SubjectConfirmation", {"Method": "urn:oasis:names:tc:SAML:2.0:cm:bearer"})
    scd = {"NotOnOrAfter": instant(noa), "Recipient": spec.recipient or spec.destination}
    if spec.in_response_to:
        scd["InResponseTo"] = spec.in_response_to
    _sub(sc, A, "SubjectConfirmationData", scd)
    cond = _sub(a, A, "Conditions", {"NotBefore": instant(nb), "NotOnOrAfter": instant(noa)})
    _sub(_sub(cond, A, "AudienceRestriction"), A, "Audience", text=spec.audience)
    st = _sub(a, A, "AuthnStatement", {"AuthnInstant": instant(now), "SessionIndex": okta_id()})
    _sub(_sub(st, A, "AuthnContext"), A, "AuthnContextClassRef",
         text="urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
    if spec.attributes:
        ats = _sub(a, A, "AttributeStatement")
        for name, values in spec.attributes.items():
            at = _sub(ats, A, "Attribute", {"Name": name, "NameFormat": BASIC})
            for v in values if isinstance(values, list) else [values]:
                av = etree.SubElement(at, f"{{{A}}}AttributeValue", {f"{{{XSI}}}type": "xs:string"}, nsmap={"xs": XS, "xsi": XSI})
                av.text = v
    return a


def build_response(spec):
    """An unsigned Okta-shaped Response (lxml root)."""
    now = spec.issue_instant or datetime.datetime.now(datetime.timezone.utc)
    attrs = {"Destination": spec.destination, "ID": spec.response_id or okta_id(), "IssueInstant": instant(now), "Version": "2.0"}
    if spec.in_response_to:
        attrs["InResponseTo"] = spec.in_response_to
    r = etree.Element(f"{{{P}}}Response", attrs, nsmap={"saml2p": P})
    iss = etree.SubElement(r, f"{{{A}}}Issuer", {"Format": ENTITY}, nsmap={"saml2": A})
    iss.text = spec.issuer
    status = _sub(r, P, "Status")
    code = _sub(status, P, "StatusCode", {"Value": spec.status})
    if spec.sub_status:
        _sub(code, P, "StatusCode", {"Value": spec.sub_status})
    if spec.status_message:
        _sub(status, P, "StatusMessage", text=spec.status_message)
    if spec.with_assertion:
        r.append(build_assertion(spec))
    return r


ALGORITHMS = {
    "rsa-sha256": (xmlsec.Transform.RSA_SHA256, xmlsec.Transform.SHA256),
    "rsa-sha1": (xmlsec.Transform.RSA_SHA1, xmlsec.Transform.SHA1),
}


def _read(path_or_pem):
    if isinstance(path_or_pem, bytes):
        return path_or_pem
    if path_or_pem.lstrip().startswith("-----"):
        return path_or_pem.encode()
    with open(path_or_pem, "rb") as f:
        return f.read()


def sign_element(elem, key, cert, algorithm="rsa-sha256"):
    """Enveloped signature on `elem` (Response or Assertion), placed right after its Issuer (schema
    order), Reference URI="#ID", enveloped-signature + exclusive c14n, X509Certificate in KeyInfo."""
    sig_alg, digest = ALGORITHMS[algorithm]
    for old in elem.findall(f"{{{DS}}}Signature"):
        elem.remove(old)
    sig = xmlsec.template.create(elem, xmlsec.Transform.EXCL_C14N, sig_alg, ns="ds")
    elem.find(f"{{{A}}}Issuer").addnext(sig)
    ref = xmlsec.template.add_reference(sig, digest, uri="#" + elem.get("ID"))
    xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    x509 = xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
    xmlsec.template.x509_data_add_certificate(x509)
    root = elem.getroottree().getroot()
    xmlsec.tree.add_ids(root, ["ID"])
    ctx = xmlsec.SignatureContext()
    k = xmlsec.Key.from_memory(_read(key), xmlsec.KeyFormat.PEM)
    k.load_cert_from_memory(_read(cert), xmlsec.KeyFormat.PEM)
    ctx.key = k
    ctx.sign(sig)
    return elem


def sign(root, key, cert, algorithm="rsa-sha256", assertion=True, response=True):
    """Signs every Assertion (first), then the Response, as Okta does."""
    if assertion:
        for a in root.findall(f"{{{A}}}Assertion"):
            sign_element(a, key, cert, algorithm)
    if response:
        sign_element(root, key, cert, algorithm)
    return root


def serialize(root):
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def b64(xml_bytes):
    return base64.b64encode(xml_bytes).decode()


def verify_with_xmlsec1(xml_bytes, cert_path, element="Response"):
    """xmlsec1 CLI check of the signature on the first `element` (an independent verifier)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".xml", delete=False) as f:
        f.write(xml_bytes)
    ns = P if element == "Response" else A
    v = subprocess.run(["/usr/bin/xmlsec1", "--verify", "--pubkey-cert-pem", cert_path, "--id-attr:ID", f"{ns}:{element}", f.name],
                       capture_output=True, text=True)
    os.unlink(f.name)
    return v.returncode == 0, v.stderr[-300:]


# --- the wrapping attacks, on a response signed at both levels (SAML Raider's shapes) ---------------

def _assertion(root):
    return root.find(f"{{{A}}}Assertion")


def _sig(elem):
    return elem.find(f"{{{DS}}}Signature")


def _make_evil(assertion, victim):
    """Points an assertion at the victim: NameID and the email attribute."""
    assertion.find(f"{{{A}}}Subject/{{{A}}}NameID").text = victim
    for at in assertion.iter(f"{{{A}}}Attribute"):
        if at.get("Name") == "email":
            at.find(f"{{{A}}}AttributeValue").text = victim


def xsw(n, signed_root, victim):
    """XSW1..XSW8 on a copy of a validly signed (Response + Assertion) response for the attacker."""
    root = copy.deepcopy(signed_root)
    if n in (1, 2):  # the Response signature: the signed original moves, an evil Response takes its place
        signature = _sig(root)
        original = copy.deepcopy(root)
        original.remove(_sig(original))
        if n == 1:
            signature.append(original)  # XSW1: the original inside the Signature
        else:
            signature.addprevious(original)  # XSW2: the original before the (now detached) Signature
        root.set("ID", "_evil_response_" + secrets.token_hex(4))
        evil = _assertion(root)
        evil.remove(_sig(evil))  # relies on the Response signature alone
        _make_evil(evil, victim)
        return root
    # XSW3..8 target the Assertion signature; the (now broken) Response signature is dropped, as
    # an attacker would, leaving a response signed only at the assertion.
    root.remove(_sig(root))
    original = _assertion(root)
    if n == 3:  # evil assertion (new ID, unsigned) before the signed original
        evil = copy.deepcopy(original)
        evil.remove(_sig(evil))
        evil.set("ID", "_evil_assertion_" + secrets.token_hex(4))
        _make_evil(evil, victim)
        original.addprevious(evil)
    elif n == 4:  # evil assertion wrapping the signed original
        evil = copy.deepcopy(original)
        evil.remove(_sig(evil))
        evil.set("ID", "_evil_assertion_" + secrets.token_hex(4))
        _make_evil(evil, victim)
        original.addprevious(evil)
        evil.append(original)
    elif n in (5, 6):  # the signed assertion is edited and keeps its Signature; an unsigned copy of
        # the original rides along at the end of the response (5) or inside the Signature (6)
        copy_ = copy.deepcopy(original)
        copy_.remove(_sig(copy_))
        original.set("ID", "_evil_assertion_" + secrets.token_hex(4))
        _make_evil(original, victim)
        if n == 5:
            root.append(copy_)
        else:
            _sig(original).append(copy_)
    elif n in (7, 8):  # the edited assertion keeps ID and Signature; an unsigned copy of the original
        # sits in samlp:Extensions before it (7) or in a ds:Object in its Signature (8)
        copy_ = copy.deepcopy(original)
        copy_.remove(_sig(copy_))
        _make_evil(original, victim)
        if n == 7:
            ext = etree.Element(f"{{{P}}}Extensions")
            ext.append(copy_)
            root.find(f"{{{P}}}Status").addprevious(ext)
        else:
            obj = etree.SubElement(_sig(original), f"{{{DS}}}Object")
            obj.append(copy_)
    return root


def with_comment_in_name_id(spec, key, cert, visible, hidden):
    """NameID `visible<!---->hidden`, signed correctly (exclusive c14n drops the comment, so the
    signed text is visible+hidden). Sigil must read the whole text, never just `visible`."""
    root = build_response(spec)
    nid = root.find(f".//{{{A}}}NameID")
    nid.text = visible
    c = etree.Comment("")
    c.tail = hidden
    nid.append(c)
    for at in root.iter(f"{{{A}}}Attribute"):
        if at.get("Name") == "email":
            v = at.find(f"{{{A}}}AttributeValue")
            v.text = visible
            c2 = etree.Comment("")
            c2.tail = hidden
            v.append(c2)
    return sign(root, key, cert)


def with_dtd(signed_root, entity_text):
    """A DOCTYPE with an internal entity standing for the signed NameID text: a parser that expands
    entities would still find the signature valid. Sigil must refuse any DTD."""
    xml = serialize(signed_root).decode()
    body = xml.split("?>", 1)[1]
    root_tag = signed_root.tag.split("}")[1]
    prefix = signed_root.prefix
    name = f"{prefix}:{root_tag}" if prefix else root_tag
    body = body.replace(f">{entity_text}</", ">&who;</", 1)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE {name} [<!ENTITY who "{entity_text}">]>{body}'.encode()


# --- XML Encryption (W3C xmlenc-core, 1.0 and 1.1) of assertions and NameIDs ------------------------

XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
# name -> (Algorithm URI, key bytes, mode)
CONTENT_ENCRYPTION = {
    "aes128-cbc": (XENC + "aes128-cbc", 16, "cbc"), "aes192-cbc": (XENC + "aes192-cbc", 24, "cbc"),
    "aes256-cbc": (XENC + "aes256-cbc", 32, "cbc"), "tripledes-cbc": (XENC + "tripledes-cbc", 24, "3des"),
    "aes128-gcm": (XENC11 + "aes128-gcm", 16, "gcm"), "aes192-gcm": (XENC11 + "aes192-gcm", 24, "gcm"),
    "aes256-gcm": (XENC11 + "aes256-gcm", 32, "gcm"),
}
KEY_TRANSPORT = {
    "rsa-oaep-mgf1p": XENC + "rsa-oaep-mgf1p",  # OAEP, SHA-1 digest, MGF1-SHA-1: xmlenc 1.0, what Okta and SimpleSAMLphp send
    "rsa-oaep": XENC11 + "rsa-oaep",  # xmlenc 1.1: DigestMethod and xenc11:MGF say which hashes (here SHA-256 for both)
    "rsa-1_5": XENC + "rsa-1_5",  # RSA PKCS #1 v1.5 (Bleichenbacher): never to be accepted
}
SHA1_URI, SHA256_URI = "http://www.w3.org/2000/09/xmldsig#sha1", "http://www.w3.org/2001/04/xmlenc#sha256"


def _public_key(cert):
    from cryptography import x509 as _x509
    return _x509.load_pem_x509_certificate(_read(cert)).public_key()


def encrypted_data(plaintext, cert, content="aes256-cbc", transport="rsa-oaep-mgf1p"):
    """An xenc:EncryptedData (Type Element) of `plaintext` (bytes) for the RSA key of `cert` (PEM
    path or text), its content key in an xenc:EncryptedKey inside ds:KeyInfo, as SimpleSAMLphp
    (xmlseclibs), pysaml2 (xmlsec1) and Okta lay it out. CBC: IV ‖ ciphertext with xmlenc's
    block padding; GCM: 12-byte IV ‖ ciphertext ‖ 16-byte tag (xmlenc 1.1 §5.2.4)."""
    from cryptography.hazmat.primitives import hashes as _h, padding as _pad
    from cryptography.hazmat.primitives.asymmetric import padding as _rsa_pad
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    uri, size, mode = CONTENT_ENCRYPTION[content]
    key = os.urandom(size)
    if mode == "gcm":
        iv = os.urandom(12)
        cipher_value = iv + AESGCM(key).encrypt(iv, plaintext, None)
    else:
        block = 8 if mode == "3des" else 16
        padder = _pad.PKCS7(block * 8).padder()
        padded = padder.update(plaintext) + padder.finalize()
        iv = os.urandom(block)
        if mode == "3des":
            from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
            algorithm = TripleDES(key)
        else:
            algorithm = algorithms.AES(key)
        enc = Cipher(algorithm, modes.CBC(iv)).encryptor()
        cipher_value = iv + enc.update(padded) + enc.finalize()
    public = _public_key(cert)
    if transport == "rsa-1_5":
        wrapped = public.encrypt(key, _rsa_pad.PKCS1v15())
    elif transport == "rsa-oaep":
        wrapped = public.encrypt(key, _rsa_pad.OAEP(mgf=_rsa_pad.MGF1(_h.SHA256()), algorithm=_h.SHA256(), label=None))
    else:
        wrapped = public.encrypt(key, _rsa_pad.OAEP(mgf=_rsa_pad.MGF1(_h.SHA1()), algorithm=_h.SHA1(), label=None))
    ed = etree.Element(f"{{{XENC}}}EncryptedData", {"Type": XENC + "Element"}, nsmap={"xenc": XENC})
    etree.SubElement(ed, f"{{{XENC}}}EncryptionMethod", {"Algorithm": uri})
    ki = etree.SubElement(ed, f"{{{DS}}}KeyInfo", nsmap={"ds": DS})
    ek = etree.SubElement(ki, f"{{{XENC}}}EncryptedKey")
    em = etree.SubElement(ek, f"{{{XENC}}}EncryptionMethod", {"Algorithm": KEY_TRANSPORT[transport]})
    if transport == "rsa-oaep":
        etree.SubElement(em, f"{{{DS}}}DigestMethod", {"Algorithm": SHA256_URI})
        etree.SubElement(em, f"{{{XENC11}}}MGF", {"Algorithm": XENC11 + "mgf1sha256"}, nsmap={"xenc11": XENC11})
    elif transport == "rsa-oaep-mgf1p":
        etree.SubElement(em, f"{{{DS}}}DigestMethod", {"Algorithm": SHA1_URI})
    cert_text = _read(cert).decode()
    x509data = etree.SubElement(etree.SubElement(ek, f"{{{DS}}}KeyInfo"), f"{{{DS}}}X509Data")
    etree.SubElement(x509data, f"{{{DS}}}X509Certificate").text = "".join(cert_text.split("-----")[2].split())
    etree.SubElement(etree.SubElement(ek, f"{{{XENC}}}CipherData"), f"{{{XENC}}}CipherValue").text = base64.b64encode(wrapped).decode()
    etree.SubElement(etree.SubElement(ed, f"{{{XENC}}}CipherData"), f"{{{XENC}}}CipherValue").text = \
        base64.b64encode(cipher_value).decode()
    return ed


def encrypt_in_place(elem, cert, content="aes256-cbc", transport="rsa-oaep-mgf1p", wrapper="EncryptedAssertion"):
    """Replaces `elem` (a saml:Assertion or saml:NameID) by saml:{wrapper} holding its encryption.
    The plaintext declares every namespace it uses (lxml serialises a subtree self-contained), so
    a signature made on it before (exclusive c14n) still verifies after decryption."""
    plaintext = etree.tostring(elem, with_tail=False)
    container = etree.Element(f"{{{A}}}{wrapper}", nsmap={elem.prefix: A} if elem.prefix else None)
    container.append(encrypted_data(plaintext, cert, content, transport))
    container.tail = elem.tail
    elem.getparent().replace(elem, container)
    return container


def encrypted_response(spec, key, cert, sp_cert, content="aes256-cbc", transport="rsa-oaep-mgf1p", sign_response=True,
                       sign_assertion=True, encrypt_assertion=True, name_id=None, tamper=False):
    """An Okta-shaped response whose assertion (and/or NameID) is encrypted for `sp_cert`:
    `name_id` None leaves the NameID plain, or is (content, transport) for a saml:EncryptedID; the
    assertion is signed first (over the EncryptedID), then encrypted, then the Response signed.
    `tamper` flips one bit of the assertion's ciphertext (after the IV)."""
    root = build_response(spec)
    assertion = _assertion(root)
    if name_id is not None:
        encrypt_in_place(assertion.find(f"{{{A}}}Subject/{{{A}}}NameID"), sp_cert, *name_id, wrapper="EncryptedID")
    if sign_assertion:
        sign_element(assertion, key, cert)
    if encrypt_assertion:
        container = encrypt_in_place(assertion, sp_cert, content, transport)
        if tamper:
            cv = container.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
            raw = bytearray(base64.b64decode(cv.text))
            raw[20] ^= 0x01
            cv.text = base64.b64encode(bytes(raw)).decode()
    if sign_response:
        sign_element(root, key, cert)
    return root


def decrypt_with_libxmlsec(xml_bytes, key_path, levels=None):
    """Decrypts every EncryptedData (assertion, then NameID; at most `levels`) with libxmlsec1
    (python-xmlsec, an independent implementation that knows xmlenc 1.1's rsa-oaep) and the SP's
    private key: (ok, decrypted document or the error)."""
    doc = etree.fromstring(xml_bytes)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_file(key_path, xmlsec.KeyFormat.PEM))
    try:
        done = 0
        while (data := doc.find(f".//{{{XENC}}}EncryptedData")) is not None and (levels is None or done < levels):
            xmlsec.EncryptionContext(manager).decrypt(data)
            done += 1
    except xmlsec.Error as error:
        return False, repr(error)
    return True, doc


# --- a running Sigil connection ---------------------------------------------------------------------

@dataclass
class Started:
    request_id: str
    relay_state: str | None
    location: str
    authn_request: str  # XML
    params: dict


@dataclass
class Outcome:
    acs_status: int
    acs_body: str
    continue_status: int | None = None
    continue_location: str | None = None
    error: str | None = None  # text of id="error"
    session: str | None = None  # the session cookie, if one was set

    @property
    def accepted(self):
        return self.session is not None or (self.continue_status is not None and 300 <= self.continue_status < 400)

    def describe(self):
        return (f"ACS {self.acs_status}, continue {self.continue_status} -> {self.continue_location}, "
                f"session {'SET' if self.session else 'none'}, error {self.error!r}")


def error_text(page):
    """The refusal page's words (heading, message and the id="error" reason), or None when the page
    has no id="error"."""
    if 'id="error"' not in page:
        return None
    body = re.search(r"<body[^>]*>(.*)</body>", page, re.S)
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body.group(1) if body else page, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return re.sub(r"\s+", " ", text).strip()[:400]


def decode_redirect_message(value):
    return zlib.decompress(base64.b64decode(value), -15).decode()


class SigilACS:
    """A connection of a running Sigil: start requests (like a browser, with its own cookie jar),
    post responses to the ACS and the continue step, read users and the audit log."""

    def __init__(self, binary, data_dir, base, connection, admin_token=None):
        self.binary, self.data_dir, self.base, self.connection = binary, data_dir, base.rstrip("/"), connection
        self.token = admin_token or self.cli("admin", "token", "create").stdout.strip()

    @property
    def acs_url(self):
        return f"{self.base}/saml/sp/{self.connection}/acs"

    @property
    def sp_entity_id(self):
        return f"{self.base}/saml/sp/{self.connection}/metadata"

    def cli(self, *args):
        return subprocess.run([self.binary, *args, "--data-dir", self.data_dir], capture_output=True, text=True)

    def users(self):
        r = self.cli("user", "list", "--tenant", "default", "--json")
        data = json.loads(r.stdout or "[]")
        items = data.get("items", data) if isinstance(data, dict) else data
        return sorted((u.get("email", ""), u.get("id", "")) for u in items)

    def audit(self, limit=200):
        """The newest `limit` audit events (pages of at most 200, the API's largest)."""
        items, cursor = [], None
        while len(items) < limit:
            url = f"{self.base}/api/admin/v1/audit-events?limit={min(200, limit - len(items))}" + (f"&cursor={cursor}" if cursor else "")
            r = requests.get(url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
            r.raise_for_status()
            page = r.json()
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor or not page["items"]:
                break
        return items

    @staticmethod
    def reason(event):
        for where in (event, event.get("details") or {}, event.get("after") or {}):
            if isinstance(where, dict) and where.get("reason"):
                return where["reason"]
        return None

    def whoami(self, browser):
        """The /account page's text for this browser's session (None if not signed in)."""
        r = browser.get(f"{self.base}/account", allow_redirects=False, timeout=10)
        return r.text if r.status_code == 200 else None

    @staticmethod
    def _new_session(browser, had):
        now = browser.cookies.get(SESSION_COOKIE)
        return now if now and now != had else None

    def browser(self):
        return requests.Session()

    def start(self, browser, return_to="/account", connection=None):
        r = browser.get(f"{self.base}/login/upstream/{connection or self.connection}", params={"return_to": return_to},
                        allow_redirects=False, timeout=10)
        if r.status_code not in (302, 303):
            raise RuntimeError(f"start: {r.status_code} {r.text[:300]}")
        location = r.headers["Location"]
        query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
        params = {k: v[0] for k, v in query.items()}
        xml = decode_redirect_message(params["SAMLRequest"])
        request_id = etree.fromstring(xml.encode()).get("ID")
        return Started(request_id, params.get("RelayState"), location, xml, params)

    idp_origin = "http://127.0.0.1"  # the Origin of the IdP's auto-submitting page

    def submit(self, browser, saml_response, relay_state, idp_origin=None, acs_url=None):
        """POST to the ACS as the IdP's auto-submitting page would (cross-site), then the same-site
        continue step with this browser's cookies."""
        had = browser.cookies.get(SESSION_COOKIE)  # a session from before is not this response's doing
        data = {"SAMLResponse": saml_response}
        if relay_state is not None:
            data["RelayState"] = relay_state
        for _ in range(30):  # the ACS is rate limited per address: wait as asked, then post again
            r = browser.post(acs_url or self.acs_url, data=data, headers={"Origin": idp_origin or self.idp_origin},
                             allow_redirects=False, timeout=15)
            if r.status_code != 429:
                break
            time.sleep(min(int(r.headers.get("Retry-After", "2") or 2), 10))
        out = Outcome(r.status_code, r.text, error=error_text(r.text))
        out.session = self._new_session(browser, had)
        if r.status_code == 200 and 'id="continue-form"' in r.text:
            form = re.search(r'<form[^>]*id="continue-form"[^>]*>.*?</form>', r.text, re.S).group(0)
            action = html.unescape(re.search(r'action="([^"]+)"', form).group(1))
            fields = {html.unescape(n): html.unescape(v)
                      for n, v in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)}
            c = browser.post(urllib.parse.urljoin(r.url, action), data=fields, headers={"Origin": self.base}, allow_redirects=False,
                             timeout=15)
            out.continue_status, out.continue_location = c.status_code, c.headers.get("Location")
            out.error = out.error or error_text(c.text)
            out.session = self._new_session(browser, had)
            out.continue_fields = fields
            out.continue_action = urllib.parse.urljoin(r.url, action)
        return out


# --- the battery ------------------------------------------------------------------------------------

@dataclass
class IdPKeys:
    key: str
    cert: str
    entity_id: str


def attempt_response(target, check, results, log, name, make, expect_accepted=False, browser=None, start=True, relay=None,
                     post_as=None):
    """One response at `target`'s ACS: make(started) -> response bytes, submitted by `post_as`
    (default: the starting browser). Accepted: a session after the continue step. Otherwise: no
    session, an error page (400, id=error), no user provisioned, an audited reason. Appends
    (name, outcome, reasons) to `results`; returns (outcome, started, xml)."""
    before_users = target.users()
    before_audit = {e["id"] for e in target.audit()}
    b = browser or target.browser()
    started = target.start(b) if start else None
    xml = make(started)
    out = target.submit(post_as or b, b64(xml), relay if relay is not None else (started.relay_state if started else None))
    after_users = target.users()
    new_events = [e for e in target.audit() if e["id"] not in before_audit]
    rejected = [e for e in new_events if e["action"] == "upstream.saml.rejected"]
    reasons = [target.reason(e) for e in rejected]
    results.append((name, out, reasons))
    if expect_accepted:
        check(f"{name}: accepted (session cookie after the continue step)", out.accepted, out.describe())
        return out, started, xml
    check(f"{name}: refused, no session", not out.accepted, out.describe())
    check(f"{name}: error page (400, id=error)", out.error is not None and (out.acs_status == 400 or out.continue_status == 400),
          out.describe())
    check(f"{name}: no user provisioned", before_users == after_users,
          f"new: {sorted(set(after_users) - set(before_users))}")
    check(f"{name}: audit upstream.saml.rejected names a reason", bool(reasons) and all(reasons),
          f"events: {[(e['action'], target.reason(e)) for e in new_events]}")
    log(f"  {name}: reason={reasons} error={out.error!r}")
    return out, started, xml


def run_battery(target, idp, check, work, attacker="mallory@example.org", victim="alice@example.org",
                other_connection=None, log=print):
    """Runs the baseline and every attack against `target` (a SigilACS); `check(name, ok, detail)`
    records results. Returns the list of (attack, outcome, reasons)."""
    unknown_key, unknown_cert = make_keypair(work, "unknown-idp")
    attrs_for = lambda email, first, last: {"email": email, "firstName": first, "lastName": last}  # noqa: E731

    def spec_for(started, **overrides):
        s = Spec(issuer=idp.entity_id, destination=target.acs_url, audience=target.sp_entity_id,
                 in_response_to=started.request_id if started else None, name_id=attacker,
                 attributes=attrs_for(attacker, "Mallory", "Attacker"))
        for k, v in overrides.items():
            setattr(s, k, v)
        return s

    def signed(spec, **kw):
        return sign(build_response(spec), idp.key, idp.cert, **kw)

    results = []

    def attempt(name, make, **kw):
        return attempt_response(target, check, results, log, name, make, **kw)

    # Baseline: a fresh attacker account (JIT), accepted.
    base_browser = target.browser()
    out, base_started, base_xml = attempt("baseline (crafted, Okta-shaped, signed Response and Assertion)",
                                          lambda st: serialize(signed(spec_for(st))), expect_accepted=True, browser=base_browser)
    users = dict(target.users())
    check("baseline: the attacker's account exists (JIT)", attacker in users, str(users))
    base_root = etree.fromstring(base_xml)

    # XSW1..XSW8: a validly signed response for the attacker, rewritten to name the victim.
    for n in range(1, 9):
        attempt(f"XSW{n}", lambda st, n=n: serialize(xsw(n, signed(spec_for(st)), victim)))

    # Replay of the accepted response, as is (its request is spent).
    attempt("replay of the accepted response", lambda st: base_xml, browser=base_browser, start=False,
            relay=base_started.relay_state)
    # A fresh request answered with the old (validly signed, already used) assertion in a newly
    # signed Response.
    def old_assertion(st):
        r = build_response(spec_for(st, with_assertion=False))
        r.append(copy.deepcopy(_assertion(base_root)))
        return serialize(sign_element(r, idp.key, idp.cert))
    attempt("a fresh request answered with the old assertion", old_assertion)

    attempt("wrong Audience", lambda st: serialize(signed(spec_for(st, audience="https://www.okta.com/saml2/service-provider/spevil"))))
    attempt("wrong Recipient", lambda st: serialize(signed(spec_for(st, recipient="https://evil.example/acs"))))
    attempt("wrong Destination", lambda st: serialize(signed(spec_for(st, destination="https://evil.example/acs",
                                                                      recipient=target.acs_url))))
    now = datetime.datetime.now(datetime.timezone.utc)
    attempt("expired NotOnOrAfter", lambda st: serialize(signed(spec_for(st, issue_instant=now - datetime.timedelta(minutes=30),
                                                                         not_before=now - datetime.timedelta(minutes=35),
                                                                         not_on_or_after=now - datetime.timedelta(minutes=25)))))
    attempt("NotBefore in the future", lambda st: serialize(signed(spec_for(st, not_before=now + datetime.timedelta(minutes=20),
                                                                            not_on_or_after=now + datetime.timedelta(minutes=30)))))
    # alice@example.org<!---->.evil.test, signed correctly: exclusive c14n drops the comment, so the
    # signed NameID is alice@example.org.evil.test. Sigil may refuse it, or accept it as exactly
    # that address; reading only the text before the comment would sign in as the victim.
    full = victim + ".evil.test"
    before_users = dict(target.users())
    b = target.browser()
    st = target.start(b)
    out = target.submit(b, b64(serialize(with_comment_in_name_id(spec_for(st), idp.key, idp.cert, victim, ".evil.test"))), st.relay_state)
    new_users = sorted(set(dict(target.users())) - set(before_users))
    results.append(("comment-injected NameID", out, []))
    if out.accepted:
        page = target.whoami(b)
        check("comment-injected NameID: accepted only as the whole signed text (alice@example.org.evil.test)",
              new_users in ([], [full]) and (page is None or full in page), f"new users {new_users}; {out.describe()}")
    else:
        check("comment-injected NameID: refused (no session)", out.error is not None, out.describe())
        check("comment-injected NameID: refused, no user provisioned", new_users == [], str(new_users))
    check("comment-injected NameID: never the truncated address", victim not in new_users and not (
        out.accepted and target.whoami(b) is not None and full not in (target.whoami(b) or "")), f"new users {new_users}")
    log(f"  comment-injected NameID: accepted={out.accepted} new users={new_users} error={out.error!r}")
    attempt("unsolicited (no InResponseTo)", lambda st: serialize(signed(spec_for(None))))
    attempt("signed by an unknown key", lambda st: serialize(sign(build_response(spec_for(st)), unknown_key, unknown_cert)))
    attempt("unsigned", lambda st: serialize(build_response(spec_for(st))))

    def two_assertions(st):
        r = build_response(spec_for(st))
        second = build_assertion(spec_for(st, name_id=victim, attributes=attrs_for(victim, "Alice", "Example")))
        r.append(second)
        return serialize(sign(r, idp.key, idp.cert))
    attempt("two assertions", two_assertions)
    attempt("DTD with an entity declaration", lambda st: with_dtd(signed(spec_for(st)), attacker))
    attempt("RSA-SHA1 signatures", lambda st: serialize(signed(spec_for(st), algorithm="rsa-sha1")))
    attempt("wrong Issuer", lambda st: serialize(signed(spec_for(st, issuer="http://www.okta.com/exkEVIL"))))
    out, _, _ = attempt("non-Success status (Responder/AuthnFailed)", lambda st: serialize(sign_element(build_response(spec_for(
        st, status="urn:oasis:names:tc:SAML:2.0:status:Responder", sub_status="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed",
        status_message="User cancelled", with_assertion=False)), idp.key, idp.cert)))
    check("non-Success status: the error page says the IdP did not authenticate",
          bool(out.error) and re.search(r"AuthnFailed|Responder|not (sign|authenticat)|fail|cancel", out.error, re.I) is not None,
          repr(out.error))

    if other_connection:
        # A request started at the other connection, answered with a response addressed to this
        # one (Audience, Destination, Recipient), posted to the other connection's ACS.
        other = SigilACS(target.binary, target.data_dir, target.base, other_connection, target.token)
        other.idp_origin = target.idp_origin
        before_users = target.users()
        before_audit = {e["id"] for e in target.audit()}
        b = target.browser()
        st = other.start(b)
        xml = serialize(signed(spec_for(st)))
        o = other.submit(b, b64(xml), st.relay_state)
        new_events = [e for e in target.audit() if e["id"] not in before_audit]
        reasons = [target.reason(e) for e in new_events if e["action"] == "upstream.saml.rejected"]
        name = "a response addressed to another connection"
        results.append((name, o, reasons))
        check(f"{name}: refused, no session", not o.accepted, o.describe())
        check(f"{name}: error page (400, id=error)", o.error is not None and (o.acs_status == 400 or o.continue_status == 400), o.describe())
        check(f"{name}: no user provisioned", target.users() == before_users)
        check(f"{name}: audit upstream.saml.rejected names a reason", bool(reasons) and all(reasons), str(reasons))
        log(f"  {name}: reason={reasons} error={o.error!r}")

    # Login CSRF: browser A starts, browser B (its own flow, its own binding cookie) posts A's response.
    a, b = target.browser(), target.browser()
    st_a = target.start(a)
    target.start(b)  # B holds a binding cookie of its own
    attempt("login CSRF (A's response completed by browser B)",
            lambda _st: serialize(signed(spec_for(st_a))), browser=a, start=False, relay=st_a.relay_state, post_as=b)
    check("login CSRF: browser A got no session from B's attempt", a.cookies.get(SESSION_COOKIE) is None)
    return results


def run_encryption_battery(target, idp, sp_cert, check, work, log=print):
    """Encrypted assertions and NameIDs crafted (encrypted_response) for the connection's encryption
    certificate `sp_cert` (its SP metadata's KeyDescriptor use="encryption"). Accepted: AES-CBC under
    a signed Response, AES-GCM with or without one (the assertion then signed), xmlenc 1.1 rsa-oaep
    (SHA-256), EncryptedIDs (AES-CBC under a verified signature, AES-GCM) read as the exact NameID;
    each a new user (JIT) whose audit `upstream.saml.accepted` says encrypted and carries the
    SHA-256 of the expected NameID. Refused (no session, 400 page, nobody provisioned, audited):
    AES-CBC in an unsigned Response (the page and the audit reason say AES-CBC), RSA PKCS #1 v1.5
    key transport (assertion and EncryptedID), Triple DES, AES-GCM with neither signature, an
    altered GCM ciphertext, an assertion encrypted for another key. Returns [(name, outcome, reasons)]."""
    import hashlib
    other_key, other_cert = make_keypair(work, "not-the-sp")
    results = []
    unspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

    def attempt(name, make, **kw):
        return attempt_response(target, check, results, log, name, make, **kw)

    def spec_for(st, who, name_id=None, email=None):
        email = email or f"{who}@example.org"
        return Spec(issuer=idp.entity_id, destination=target.acs_url, audience=target.sp_entity_id, in_response_to=st.request_id,
                    name_id=name_id or email, name_id_format=unspecified if name_id else NAMEID_EMAIL,
                    attributes={"email": email, "firstName": who.capitalize(), "lastName": "Crypto"})

    def accepted_event(before):
        new = [e for e in target.audit() if e["id"] not in before and e["action"] == "upstream.saml.accepted"]
        return (new[0].get("after") or {}) if new else {}

    def accepted(name, who, subject=None, expect_encrypted="true", **kw):
        """kw: encrypted_response's (content, transport, sign_response, name_id: the EncryptedID's algorithms ...)."""
        before = {e["id"] for e in target.audit()}
        b = target.browser()
        out, _, _ = attempt(name, lambda st: serialize(encrypted_response(spec_for(st, who, subject), idp.key, idp.cert, sp_cert, **kw)),
                            expect_accepted=True, browser=b)
        email = f"{who}@example.org"
        check(f"{name}: signed in as the new user {email} (JIT)", out.accepted and email in (target.whoami(b) or "")
              and email in dict(target.users()), out.describe())
        event = accepted_event(before)
        nid = subject or email
        check(f"{name}: audit upstream.saml.accepted: encrypted {expect_encrypted}, subject_hash = SHA-256 of the NameID {nid!r}",
              event.get("encrypted") == expect_encrypted and event.get("subject_hash") == hashlib.sha256(nid.encode()).hexdigest()[:16],
              str(event))
        return b

    def refused(name, who, mentions=None, cert=None, **kw):
        out, _, _ = attempt(name, lambda st: serialize(encrypted_response(spec_for(st, who), idp.key, idp.cert, cert or sp_cert, **kw)))
        if mentions:
            reasons = results[-1][2]
            check(f"{name}: the error page and the audited reason say {mentions.pattern!r}", bool(out.error) and mentions.search(out.error)
                  is not None and any(mentions.search(r or "") for r in reasons), f"page {out.error!r} audit {reasons}")
        return out

    # Accepted.
    accepted("encrypted assertion aes192-cbc + rsa-oaep-mgf1p, Response and assertion signed", "enc-cbc192", content="aes192-cbc")
    accepted("encrypted assertion aes256-gcm + xmlenc11 rsa-oaep (SHA-256, MGF1-SHA-256), Response unsigned, assertion signed",
             "enc-gcm-oaep11", content="aes256-gcm", transport="rsa-oaep", sign_response=False)
    accepted("encrypted assertion aes128-gcm, Response signed, assertion unsigned inside", "enc-gcm-outer", content="aes128-gcm",
             sign_assertion=False)
    subject = "00u" + secrets.token_hex(6)
    accepted("EncryptedID (aes128-cbc, rsa-oaep-mgf1p) in a signed Response, assertion signed, not encrypted", "enc-nameid",
             subject=subject, expect_encrypted="false", encrypt_assertion=False, name_id=("aes128-cbc", "rsa-oaep-mgf1p"))
    # The link is keyed by the decrypted NameID: the same NameID in clear, with another email, is the same user.
    b2 = target.browser()
    st = target.start(b2)
    out = target.submit(b2, b64(serialize(sign(build_response(spec_for(st, "enc-nameid", subject, "renamed@example.org")),
                                               idp.key, idp.cert))), st.relay_state)
    check("EncryptedID: a later plain NameID equal to the decrypted one (email changed) signs in the same user (the link)",
          out.accepted and "enc-nameid@example.org" in (target.whoami(b2) or "") and "renamed@example.org" not in dict(target.users()),
          out.describe())
    accepted("EncryptedID (aes256-gcm) inside an aes256-gcm EncryptedAssertion, Response unsigned", "enc-nested",
             subject="00u" + secrets.token_hex(6), content="aes256-gcm", sign_response=False, name_id=("aes256-gcm", "rsa-oaep-mgf1p"))
    accepted("EncryptedID (aes256-cbc) in a signed assertion (its signature covers the ciphertext), Response unsigned", "enc-nameid-as",
             subject="00u" + secrets.token_hex(6), expect_encrypted="false", encrypt_assertion=False, sign_response=False,
             name_id=("aes256-cbc", "rsa-oaep-mgf1p"))

    # Refused.
    cbc = re.compile(r"AES-CBC")
    refused("encrypted assertion aes256-cbc in an unsigned Response (assertion signed inside)", "enc-cbc-unsigned", cbc,
            content="aes256-cbc", sign_response=False)
    refused("encrypted assertion aes128-cbc in an unsigned Response (assertion signed inside)", "enc-cbc128-unsigned", cbc,
            content="aes128-cbc", sign_response=False)
    refused("encrypted assertion with rsa-1_5 key transport (aes256-gcm, Response signed)", "enc-rsa15", re.compile(r"RSA-OAEP|algorithm"),
            content="aes256-gcm", transport="rsa-1_5")
    refused("encrypted assertion with rsa-1_5 key transport (aes128-cbc, Response signed)", "enc-rsa15-cbc",
            re.compile(r"RSA-OAEP|algorithm"), content="aes128-cbc", transport="rsa-1_5")
    refused("encrypted assertion tripledes-cbc (Response signed)", "enc-3des", re.compile(r"algorithm|AES"), content="tripledes-cbc")
    refused("encrypted assertion aes128-gcm, neither Response nor assertion signed", "enc-nosig", content="aes128-gcm",
            sign_response=False, sign_assertion=False)
    refused("encrypted assertion aes256-gcm with one ciphertext bit flipped (assertion signed, Response unsigned)", "enc-tampered",
            content="aes256-gcm", sign_response=False, tamper=True)
    refused("encrypted assertion for another certificate than the connection's", "enc-otherkey", content="aes256-gcm", cert=other_cert)
    refused("EncryptedID with rsa-1_5 key transport (Response and assertion signed)", "enc-nameid-rsa15",
            re.compile(r"RSA-OAEP|algorithm"), encrypt_assertion=False, name_id=("aes128-gcm", "rsa-1_5"))
    return results


def make_keypair(directory, name, days=2):
    key, cert = os.path.join(directory, f"{name}.key"), os.path.join(directory, f"{name}.crt")
    if not os.path.exists(key):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", str(days),
                        "-subj", f"/CN={name}"], check=True, capture_output=True)
    return key, cert


# --- self-test: the crafted responses against pysaml2's SP role --------------------------------------

def self_test(check):
    """The crafting checked by an independent SP: pysaml2 (xmlsec1) accepts the baseline, the
    comment-injected NameID verifies and reads the whole text, and rejects the forgeries."""
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    import logging
    logging.getLogger("saml2").setLevel(logging.CRITICAL)
    work = tempfile.mkdtemp(prefix="saml-attacks-selftest-")
    idp_key, idp_cert = make_keypair(work, "idp")
    unknown_key, unknown_cert = make_keypair(work, "unknown")
    sp_key, sp_cert = make_keypair(work, "sp")
    entity, acs = "http://www.okta.com/exk1sigil", "http://localhost:9/saml/sp/okta/acs"
    audience = "http://localhost:9/saml/sp/okta/metadata"
    cert_b64 = "".join(open(idp_cert).read().split("-----")[2].split())
    idp_md = os.path.join(work, "idp.xml")
    with open(idp_md, "w") as f:
        f.write(f'''<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing">
<ds:KeyInfo xmlns:ds="{DS}"><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
</md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http://127.0.0.1:9/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>''')
    conf = SPConfig()
    conf.load({"entityid": audience, "key_file": sp_key, "cert_file": sp_cert, "xmlsec_binary": "/usr/bin/xmlsec1",
               "encryption_keypairs": [{"key_file": sp_key, "cert_file": sp_cert}],
               "metadata": {"local": [idp_md]}, "allow_unknown_attributes": True, "accepted_time_diff": 60,
               "service": {"sp": {"endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
                                  "want_response_signed": True, "want_assertions_signed": True, "allow_unsolicited": False}}})
    sp = Saml2Client(conf)

    def spec(rid, **kw):
        s = Spec(issuer=entity, destination=acs, audience=audience, in_response_to=rid, name_id="mallory@example.org",
                 attributes={"email": "mallory@example.org", "firstName": "Mallory", "lastName": "Attacker"})
        for k, v in kw.items():
            setattr(s, k, v)
        return s

    def parse(xml, rid):
        try:
            r = sp.parse_authn_request_response(b64(xml), BINDING_HTTP_POST, outstanding={rid: "/"})
            return r, None
        except Exception as e:  # noqa: BLE001 - any refusal
            return None, repr(e)[:200]

    rid = "id" + secrets.token_hex(8)
    good = serialize(sign(build_response(spec(rid)), idp_key, idp_cert))
    ok, why = verify_with_xmlsec1(good, idp_cert, "Response")
    check("self-test: xmlsec1 verifies the crafted Response signature", ok, why)
    r, err = parse(good, rid)
    check("self-test: pysaml2 SP accepts the crafted baseline", r is not None, err)
    if r:
        check("self-test: pysaml2 reads NameID and Okta's attribute names",
              r.get_subject().text == "mallory@example.org" and r.get_identity().get("firstName") == ["Mallory"], str(r.get_identity()))
    rid = "id" + secrets.token_hex(8)
    c = serialize(with_comment_in_name_id(spec(rid), idp_key, idp_cert, "alice@example.org", ".evil.test"))
    ok, why = verify_with_xmlsec1(c, idp_cert, "Response")
    check("self-test: the comment-injected NameID response carries valid signatures", ok, why)
    check("self-test: the comment is in the XML", b"alice@example.org<!---->.evil.test" in c, c[:200])
    sha1 = serialize(sign(build_response(spec(rid)), idp_key, idp_cert, algorithm="rsa-sha1"))
    ok, why = verify_with_xmlsec1(sha1, idp_cert, "Response")
    check("self-test: the RSA-SHA1 variant is a valid RSA-SHA1 signature", ok and b"rsa-sha1" in sha1, why)
    dtd = with_dtd(sign(build_response(spec(rid)), idp_key, idp_cert), "mallory@example.org")
    check("self-test: the DTD variant declares and uses the entity", b"<!ENTITY who" in dtd and b"&who;" in dtd, dtd[:200])
    forged = {
        **{f"XSW{n}": (lambda n=n: serialize(xsw(n, sign(build_response(spec(rid)), idp_key, idp_cert), "alice@example.org")))
           for n in range(1, 9)},
        "unknown key": lambda: serialize(sign(build_response(spec(rid)), unknown_key, unknown_cert)),
        "unsigned": lambda: serialize(build_response(spec(rid))),
        "wrong Audience": lambda: serialize(sign(build_response(spec(rid, audience="urn:evil")), idp_key, idp_cert)),
        "expired": lambda: serialize(sign(build_response(spec(
            rid, issue_instant=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1),
            not_on_or_after=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=50))), idp_key, idp_cert)),
    }
    for name, make in forged.items():
        xml = make()
        r, err = parse(xml, rid)
        victim = r is not None and r.get_subject().text == "alice@example.org"
        check(f"self-test: pysaml2 SP does not sign in the victim with {name}", r is None or not victim,
              f"accepted as {r.get_subject().text if r else None}")
    self_test_encryption(check, work, parse, spec, idp_key, idp_cert, sp_key, sp_cert, unknown_cert)
    self_test_battery(check, work, idp_md, idp_key, idp_cert, entity)
    # The XSW shapes themselves: the original signed element is still present and the evil one names the victim.
    for n in range(1, 9):
        x = serialize(xsw(n, sign(build_response(spec(rid)), idp_key, idp_cert), "alice@example.org"))
        check(f"self-test: XSW{n} carries the victim and the signed original", x.count(b"alice@example.org") >= 1
              and x.count(b"mallory@example.org") >= 1, x[:120])


def self_test_encryption(check, work, parse, spec, idp_key, idp_cert, sp_key, sp_cert, other_cert):
    """encrypted_response checked by independent implementations: libxmlsec1 (python-xmlsec)
    decrypts every combination the battery sends (xmlenc 1.1 rsa-oaep included), the assertion's
    signature still verifies after decryption (xmlsec1) and the Response's before it; pysaml2's SP
    (xmlsec1 1.2) decrypts assertions and EncryptedIDs; tampered or misaddressed ciphertexts fail."""
    decrypted_path = os.path.join(work, "decrypted.xml")
    for content, transport in (("aes128-cbc", "rsa-oaep-mgf1p"), ("aes192-cbc", "rsa-oaep-mgf1p"), ("aes256-cbc", "rsa-1_5"),
                               ("aes128-gcm", "rsa-oaep-mgf1p"), ("aes256-gcm", "rsa-oaep"), ("tripledes-cbc", "rsa-oaep-mgf1p")):
        rid = "id" + secrets.token_hex(8)
        xml = serialize(encrypted_response(spec(rid), idp_key, idp_cert, sp_cert, content, transport, name_id=(content, transport)))
        root = etree.fromstring(xml)
        methods = [e.get("Algorithm") for e in root.iter(f"{{{XENC}}}EncryptionMethod")]
        ok, why = verify_with_xmlsec1(xml, idp_cert, "Response")
        check(f"self-test: {content} + {transport}: an EncryptedAssertion with those algorithms under a valid Response signature",
              ok and root.find(f"{{{A}}}EncryptedAssertion") is not None and root.find(f"{{{A}}}Assertion") is None
              and methods == [CONTENT_ENCRYPTION[content][0], KEY_TRANSPORT[transport]], f"{why} {methods}")
        ok, doc = decrypt_with_libxmlsec(xml, sp_key)
        nid = doc.find(f".//{{{A}}}EncryptedID/{{{A}}}NameID") if ok else None
        check(f"self-test: {content} + {transport}: libxmlsec1 decrypts the assertion and the EncryptedID inside (the NameID)",
              nid is not None and nid.text == "mallory@example.org", str(doc)[:200])
        ok, doc = decrypt_with_libxmlsec(xml, sp_key, levels=1)  # the assertion; its signature covers the EncryptedID as sent
        if ok:
            with open(decrypted_path, "wb") as f:
                f.write(etree.tostring(doc.find(f".//{{{A}}}Assertion")))
            v = subprocess.run(["/usr/bin/xmlsec1", "--verify", "--pubkey-cert-pem", idp_cert, "--id-attr:ID", f"{A}:Assertion",
                                decrypted_path], capture_output=True, text=True)
            check(f"self-test: {content} + {transport}: the decrypted assertion's own signature verifies (xmlsec1)", v.returncode == 0,
                  v.stderr[-200:])
    for content in ("aes256-cbc", "aes128-gcm"):
        rid = "id" + secrets.token_hex(8)
        r, err = parse(serialize(encrypted_response(spec(rid), idp_key, idp_cert, sp_cert, content)), rid)
        check(f"self-test: pysaml2's SP decrypts and accepts an {content} EncryptedAssertion (signed Response)",
              r is not None and r.get_subject().text == "mallory@example.org", err)
    rid = "id" + secrets.token_hex(8)
    r, err = parse(serialize(encrypted_response(spec(rid, name_id="00u-self-test", name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:"
                                                "unspecified"), idp_key, idp_cert, sp_cert, encrypt_assertion=False,
                                                name_id=("aes128-cbc", "rsa-oaep-mgf1p"))), rid)
    check("self-test: pysaml2's SP reads an EncryptedID's NameID (00u-self-test)", r is not None and r.get_subject().text == "00u-self-test",
          err or str(r and r.get_subject()))
    ok, _ = decrypt_with_libxmlsec(serialize(encrypted_response(spec("x"), idp_key, idp_cert, sp_cert, "aes256-gcm", tamper=True)), sp_key)
    check("self-test: a GCM ciphertext with one bit flipped does not decrypt (libxmlsec1)", not ok)
    ok, _ = decrypt_with_libxmlsec(serialize(encrypted_response(spec("x"), idp_key, idp_cert, other_cert, "aes256-gcm")), sp_key)
    check("self-test: an assertion encrypted for another certificate does not decrypt with the SP's key", not ok)


class FakeTarget(SigilACS):
    """SigilACS pointed at interop/saml_acs_fake_sp.FakeSigilSP (users and audit read from it)."""

    def __init__(self, fake, connection):
        self.binary, self.data_dir, self.token = None, None, "fake"
        self.base, self.connection, self.fake = fake.base, connection, fake

    def users(self):
        return sorted(self.fake.users.items())

    def audit(self, limit=200):
        return list(reversed(self.fake.audit))[:limit]


def self_test_battery(check, work, idp_md, idp_key, idp_cert, entity):
    """The battery against a correct stand-in SP must pass entirely; against stand-ins with one
    flaw each it must fail the checks that flaw breaks."""
    import socket
    from saml_acs_fake_sp import FakeSigilSP
    variants = [((), []), (("no_binding_check",), ["login CSRF"]), (("no_replay_cache",), ["replay"]),
                (("accept_sha1",), ["RSA-SHA1"]), (("truncate_comment",), ["comment-injected"])]
    for flaws, expected in variants:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        fake = FakeSigilSP(work, idp_md, port, connections=("okta", "okta-b"), flaws=flaws)
        rec = []
        try:
            run_battery(FakeTarget(fake, "okta"), IdPKeys(idp_key, idp_cert, entity), lambda n, ok, d="": rec.append((n, ok, d)) or ok,
                        work, other_connection="okta-b", log=lambda *a: None)
        except Exception as error:  # noqa: BLE001
            rec.append(("battery ran to the end", False, repr(error)))
        finally:
            fake.shutdown()
        failed = [(n, d) for n, ok, d in rec if not ok]
        if not flaws:
            check(f"self-test: the battery ({len(rec)} checks) passes a correct stand-in SP (pysaml2)", not failed, str(failed)[:1500])
        else:
            names = [n for n, _ in failed]
            check(f"self-test: the battery catches a stand-in SP with {flaws[0]}", all(any(e in n for n in names) for e in expected),
                  f"failed: {names}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--sigil")
    ap.add_argument("--data-dir")
    ap.add_argument("--base")
    ap.add_argument("--connection", default="okta")
    ap.add_argument("--other-connection")
    ap.add_argument("--idp-key")
    ap.add_argument("--idp-cert")
    ap.add_argument("--idp-entity", default="http://www.okta.com/exk1sigil")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from passkey_signin import check, report_and_exit
    if args.self_test:
        self_test(check)
    else:
        target = SigilACS(os.path.abspath(args.sigil), args.data_dir, args.base, args.connection)
        run_battery(target, IdPKeys(args.idp_key, args.idp_cert, args.idp_entity), check, tempfile.mkdtemp(prefix="saml-attacks-"),
                    other_connection=args.other_connection)
    report_and_exit()


if __name__ == "__main__":
    main()
