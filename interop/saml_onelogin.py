#!/usr/bin/env python3
"""Interop: Sigil's SAML IdP with encrypted assertions, and against OneLogin's python3-saml.

Starts the real `sigil serve`, enrols the first administrator in headless Chromium with the
WebAuthn virtual authenticator, then:

* a pysaml2 SP with its own encryption key pair (its metadata carries KeyDescriptor
  use="encryption" with a certificate other than its signing one) is registered from that
  metadata with `--encrypt-assertions`; SP-initiated SSO over HTTP-Redirect posts a Response
  whose assertion is signed, then encrypted (AES-256-GCM, RSA-OAEP); pysaml2 decrypts it with
  xmlsec1 and checks both signatures, NameID and attributes;
* two python3-saml SPs (OneLogin_Saml2_Auth; IdP settings parsed from our metadata; strict,
  wantAssertionsSigned, wantMessagesSigned), one plain and one with wantAssertionsEncrypted,
  sign in SP-initiated over HTTP-Redirect — the encrypted one from a signed-out browser, through
  the hosted login and a passkey — and process_response must give is_authenticated() with no
  errors, the NameID and the attributes;
* single logout over HTTP-Redirect (python3-saml's SLS takes only that binding; Sigil learns it
  from the SPs' metadata): the plain SP signs in again in the browser session of the encrypted
  one, then starts logout with a signed Redirect LogoutRequest; Sigil sends the encrypted SP a
  LogoutRequest signed over the query, which python3-saml's process_slo accepts (strict) and
  answers; the plain SP's process_slo accepts Sigil's final LogoutResponse (Success); the
  browser's Sigil session is gone;
* controls that must fail: the wrong key cannot decrypt, python3-saml wanting encryption refuses
  a plain assertion, and registration refuses --encrypt-assertions without a usable RSA
  certificate, and a propagated LogoutRequest whose bytes changed no longer verifies.

    /opt/peers-venv/bin/python interop/saml_onelogin.py [--sigil .build/debug/sigil] [--artifacts DIR]

Needs chromium, chromium-driver, xmlsec1 and `pip install selenium requests pysaml2 python3-saml`
(scripts/install-interop.sh). Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if
anything failed.
"""
import base64, json, os, shutil, signal, subprocess, sys, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from passkey_signin import check, finish, launch, make_driver, wait_path, enrol_first_admin, RESULTS, audit_events  # noqa: E402
from saml_sp import ACS, make_keypair, cli  # noqa: E402

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
import requests
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, xmldsig
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings

XMLSEC = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
EMAIL = "grace@example.com"


def pem_body(path):
    with open(path) as f:
        return "".join(line.strip() for line in f if line.strip() and not line.startswith("-----"))


def onelogin_settings(idp_metadata_xml, entity_id, acs_url, key, cert, encrypted):
    idp = OneLogin_Saml2_IdPMetadataParser.parse(idp_metadata_xml)  # the HTTP-Redirect SingleSignOnService, the signing certificate
    sp = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": entity_id,
            "assertionConsumerService": {"url": acs_url, "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
            # python3-saml's logout endpoint takes only HTTP-Redirect (OneLogin_Saml2_Auth.process_slo reads the query).
            "singleLogoutService": {"url": acs_url.rsplit("/", 1)[0] + "/sls", "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
            "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "x509cert": pem_body(cert),
            "privateKey": open(key).read(),
        },
        "security": {
            "wantAssertionsSigned": True,
            "wantMessagesSigned": True,
            "wantAssertionsEncrypted": encrypted,
            "wantNameId": True,
            "authnRequestsSigned": False,
            "logoutRequestSigned": True,
            "logoutResponseSigned": True,
            "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
            "rejectDeprecatedAlgorithm": True,
        },
    }
    return OneLogin_Saml2_IdPMetadataParser.merge_settings(sp, idp)


def onelogin_request(acs_port, path, post_data=None, query=None):
    # What python3-saml reads of the HTTP request that reached the ACS (it rebuilds the URL from
    # these to compare with Destination and Recipient). For a Redirect-binding message the query
    # is passed raw too, and the signature is checked over it exactly as received.
    request = {"https": "off", "http_host": "127.0.0.1", "server_port": str(acs_port), "script_name": path,
               "get_data": {}, "post_data": post_data or {}}
    if query is not None:
        request["get_data"] = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        request["query_string"] = query
        request["validate_signature_from_qs"] = True
    return request


def main():
    binary, work, artifacts, port, base, proc, link = launch("sigil-saml-enc-")
    idp_entity = base + "/saml/metadata"
    acs = ACS()
    driver = None
    try:
        if not check("sigil serve printed an enrolment link", bool(link)):
            return
        driver, _ = enrol_first_admin(link, EMAIL, "Grace", "Hopper")
        check("first administrator enrolled with a virtual passkey", True)
        idp_metadata_xml = requests.get(idp_entity, timeout=10).text
        idp_metadata = os.path.join(work, "idp.xml")
        with open(idp_metadata, "w") as f:
            f.write(idp_metadata_xml)
        received = 0

        def wait_response(label):
            nonlocal received
            received += 1
            got = acs.wait(received)
            if not check(f"{label}: the browser posted a SAMLResponse to the ACS", got is not None and "SAMLResponse" in got[1],
                         driver.current_url + " " + driver.page_source[:400]):
                received = len(acs.received)
                return None
            return got

        # --- registration refuses what cannot encrypt ---
        r = cli(binary, work, "app", "create-saml", "--tenant", "default", "--entity-id", "https://nocert.example/sp",
                "--acs-url", acs.base + "/nocert", "--encrypt-assertions", "--json")
        check("--encrypt-assertions without a certificate is refused", r.returncode != 0 and "certificate" in (r.stdout + r.stderr),
              r.stdout + r.stderr)
        ec_key, ec_cert = os.path.join(work, "ec.key"), os.path.join(work, "ec.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", ec_key,
                        "-out", ec_cert, "-days", "2", "-subj", "/CN=ec"], check=True, capture_output=True)
        r = cli(binary, work, "app", "create-saml", "--tenant", "default", "--entity-id", "https://ec.example/sp",
                "--acs-url", acs.base + "/ec", "--certificate", ec_cert, "--encrypt-assertions", "--json")
        check("--encrypt-assertions with an EC certificate is refused (RSA needed)", r.returncode != 0 and "RSA" in (r.stdout + r.stderr),
              r.stdout + r.stderr)

        # --- pysaml2 SP that requires encrypted assertions (its own encryption key pair) ---
        sign_key, sign_cert = make_keypair(work, "pysaml2-sign")
        enc_key, enc_cert = make_keypair(work, "pysaml2-enc")
        entity = acs.base + "/enc/metadata"
        conf = SPConfig()
        conf.load({
            "entityid": entity, "key_file": sign_key, "cert_file": sign_cert, "xmlsec_binary": XMLSEC,
            "encryption_keypairs": [{"key_file": enc_key, "cert_file": enc_cert}],
            "metadata": {"local": [idp_metadata]}, "accepted_time_diff": 60, "allow_unknown_attributes": True,
            "service": {"sp": {
                "endpoints": {"assertion_consumer_service": [(acs.base + "/enc/acs", BINDING_HTTP_POST)]},
                "want_response_signed": True, "want_assertions_signed": True, "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "signing_algorithm": xmldsig.SIG_RSA_SHA256, "digest_algorithm": xmldsig.DIGEST_SHA256,
            }},
        })
        client = Saml2Client(conf)
        sp_meta = os.path.join(work, "enc-sp.xml")
        metadata_text = str(entity_descriptor(conf))
        with open(sp_meta, "w") as f:
            f.write(metadata_text)
        check("pysaml2's metadata has a KeyDescriptor use=\"encryption\"", 'use="encryption"' in metadata_text, metadata_text[:300])
        r = cli(binary, work, "app", "create-saml", "--tenant", "default", "--metadata", sp_meta, "--encrypt-assertions", "--json")
        created = json.loads(r.stdout) if r.returncode == 0 else {}
        check("pysaml2 SP registered from its metadata with --encrypt-assertions",
              created.get("encrypt_assertions") is True and created.get("entity_id") == entity, r.stdout + r.stderr)
        token = cli(binary, work, "admin", "token", "create").stdout.strip()
        one = requests.get(f"{base}/api/admin/v1/applications/{created.get('id')}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        app = one.json() if one.ok else None
        saml = (app or {}).get("saml") or {}
        check("the admin API shows the metadata's encryption certificate apart from the signing one",
              saml.get("encrypt_assertions") is True and pem_body_text(saml.get("encryption_certificate")) == pem_body(enc_cert)
              and pem_body_text(saml.get("certificate")) == pem_body(sign_cert), json.dumps(saml)[:400])

        reqid, info = client.prepare_for_authenticate(entityid=idp_entity, relay_state="enc-relay", binding=BINDING_HTTP_REDIRECT)
        driver.get(dict(info["headers"])["Location"])
        got = wait_response("pysaml2 encrypted")
        if got:
            form = got[1]
            xml = base64.b64decode(form["SAMLResponse"]).decode()
            check("pysaml2 encrypted: the Response carries an EncryptedAssertion (AES-256-GCM, RSA-OAEP) and no plain Assertion",
                  "<saml:EncryptedAssertion>" in xml and "xmlenc11#aes256-gcm" in xml and "rsa-oaep-mgf1p" in xml
                  and "<saml:Assertion" not in xml and EMAIL not in xml, xml[:500])
            raw = os.path.join(work, "enc-response.xml")
            with open(raw, "w") as f:
                f.write(xml)
            wrong = subprocess.run([XMLSEC, "--decrypt", "--privkey-pem", sign_key, raw], capture_output=True, text=True)
            check("control: xmlsec1 cannot decrypt it with another key", wrong.returncode != 0 and EMAIL not in wrong.stdout)
            right = subprocess.run([XMLSEC, "--decrypt", "--privkey-pem", enc_key, raw], capture_output=True, text=True)
            check("xmlsec1 decrypts it with the SP's encryption key", right.returncode == 0 and EMAIL in right.stdout, right.stderr[-300:])
            try:
                resp = client.parse_authn_request_response(form["SAMLResponse"], BINDING_HTTP_POST, outstanding={reqid: "/"})
                ok = resp is not None
                detail = ""
            except Exception as error:
                resp, ok, detail = None, False, repr(error)
            check("pysaml2 encrypted: pysaml2 decrypts and accepts it (both signatures, audience, InResponseTo)", ok, detail)
            if resp is not None:
                identity = resp.get_identity()
                check("pysaml2 encrypted: NameID", resp.get_subject().text == EMAIL, resp.get_subject().text)
                check("pysaml2 encrypted: attributes", identity.get("email") == [EMAIL] and identity.get("firstName") == ["Grace"]
                      and identity.get("lastName") == ["Hopper"], json.dumps(identity))
                check("pysaml2 encrypted: the decrypted assertion was signed", resp.assertion is not None and resp.assertion.signature is not None)

        def sessions_started():
            items = audit_events(base, token)
            return sum(1 for e in items if e["action"] == "session.started")

        # --- python3-saml SPs ---
        results = {}
        for label, encrypted in (("python3-saml", False), ("python3-saml encrypted", True)):
            slug = "onelogin-enc" if encrypted else "onelogin"
            key, cert = make_keypair(work, slug)
            acs_path = f"/{slug}/acs"
            settings = onelogin_settings(idp_metadata_xml, acs.base + f"/{slug}/metadata", acs.base + acs_path, key, cert, encrypted)
            sp_metadata = OneLogin_Saml2_Settings(settings, sp_validation_only=True).get_sp_metadata()
            meta_path = os.path.join(work, f"{slug}.xml")
            with open(meta_path, "wb") as f:
                f.write(sp_metadata if isinstance(sp_metadata, bytes) else sp_metadata.encode())
            extra = ["--encrypt-assertions"] if encrypted else []
            r = cli(binary, work, "app", "create-saml", "--tenant", "default", "--metadata", meta_path, *extra, "--json")
            check(f"{label}: SP registered from its own metadata", r.returncode == 0, r.stdout + r.stderr)
            auth = OneLogin_Saml2_Auth(onelogin_request(acs.port, acs_path), settings)
            location = auth.login(return_to="/after-" + slug)
            request_id = auth.get_last_request_id()
            if encrypted:
                # Signed out: the request waits while the hosted login signs the user in with the passkey.
                driver.get(base + "/healthz")
                driver.delete_all_cookies()
                sessions_before = sessions_started()
            driver.get(location)
            if encrypted:
                try:
                    WebDriverWait(driver, 20).until(lambda d: "/login" in d.current_url or "acs-done" in d.page_source)
                    if "/login" in driver.current_url:
                        try:
                            driver.find_element(By.ID, "passkey-button").click()
                        except Exception:
                            pass  # conditional mediation may already be signing in
                except Exception:
                    pass
                # The passkey can finish the hosted login before the page is ever polled, so the
                # proof is a new session in the audit log, not a URL seen in passing.
                try:
                    WebDriverWait(driver, 20).until(lambda d: sessions_started() > sessions_before)
                except Exception:
                    pass
                check(f"{label}: signed out, SSO goes through the hosted login (a new session)",
                      sessions_started() > sessions_before, f"{sessions_started()} vs {sessions_before}; {driver.current_url}")
            got = wait_response(label)
            if not got:
                continue
            path, form = got
            check(f"{label}: posted to its ACS", path == acs_path, path)
            xml = base64.b64decode(form["SAMLResponse"]).decode()
            check(f"{label}: assertion {'encrypted' if encrypted else 'in the clear'}",
                  ("<saml:EncryptedAssertion>" in xml) == encrypted and ("<saml:Assertion" in xml) != encrypted, xml[:300])
            results[slug] = (settings, form)
            sp = OneLogin_Saml2_Auth(onelogin_request(acs.port, acs_path, form), settings)
            try:
                sp.process_response(request_id=request_id)
                errors, reason = sp.get_errors(), sp.get_last_error_reason()
            except Exception as error:
                errors, reason = ["exception"], repr(error)
            check(f"{label}: process_response: is_authenticated() and no errors (strict, signed message and assertion)",
                  not errors and sp.is_authenticated(), f"{errors} {reason}")
            check(f"{label}: NameID and format", sp.get_nameid() == EMAIL
                  and sp.get_nameid_format() == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                  f"{sp.get_nameid()} {sp.get_nameid_format()}")
            attrs = sp.get_attributes()
            check(f"{label}: attributes email, firstName, lastName, session.amr",
                  attrs.get("email") == [EMAIL] and attrs.get("firstName") == ["Grace"] and attrs.get("lastName") == ["Hopper"]
                  and "user" in (attrs.get("session.amr") or []), json.dumps(attrs))
            check(f"{label}: RelayState comes back", form.get("RelayState") == "/after-" + slug, str(form.get("RelayState")))
            check(f"{label}: the response is for this request", sp.get_last_message_id() and sp.get_last_assertion_id()
                  and request_id in xml, request_id)

        # Control: the SP that wants encrypted assertions refuses the plain one (strict mode).
        if "onelogin" in results and "onelogin-enc" in results:
            enc_settings = results["onelogin-enc"][0]
            plain_form = results["onelogin"][1]
            sp = OneLogin_Saml2_Auth(onelogin_request(acs.port, "/onelogin-enc/acs", plain_form), enc_settings)
            try:
                sp.process_response()
                refused = bool(sp.get_errors()) and not sp.is_authenticated()
                reason = sp.get_last_error_reason()
            except Exception as error:
                refused, reason = True, repr(error)
            check("control: python3-saml wanting encrypted assertions refuses a plain one (because it is not encrypted)",
                  refused and "not encrypted" in str(reason), str(reason))

        # --- single logout over HTTP-Redirect between the two python3-saml SPs ---
        if "onelogin" in results and "onelogin-enc" in results:
            plain_settings, enc_settings = results["onelogin"][0], results["onelogin-enc"][0]
            created_apps = requests.get(f"{base}/api/admin/v1/applications?limit=100", headers={"Authorization": f"Bearer {token}"},
                                        timeout=10).json()["items"]
            plain_app = next((a for a in created_apps if (a.get("saml") or {}).get("entity_id") == acs.base + "/onelogin/metadata"), {})
            check("python3-saml: registered from metadata with its HTTP-Redirect logout endpoint",
                  (plain_app.get("saml") or {}).get("slo_binding") == "redirect"
                  and (plain_app.get("saml") or {}).get("slo_url") == acs.base + "/onelogin/sls", json.dumps(plain_app.get("saml"))[:300])
            # The browser's session (signed in for the encrypted SP) now signs in to the plain SP too.
            auth = OneLogin_Saml2_Auth(onelogin_request(acs.port, "/onelogin/acs"), plain_settings)
            location = auth.login(return_to="/again")
            again_id = auth.get_last_request_id()
            driver.get(location)
            got = wait_response("python3-saml again, same session")
            sp_session = None
            if got:
                sp_session = OneLogin_Saml2_Auth(onelogin_request(acs.port, "/onelogin/acs", got[1]), plain_settings)
                sp_session.process_response(request_id=again_id)
                check("python3-saml again: signed in without a new sign-in (one session, two SPs)",
                      sp_session.is_authenticated() and not sp_session.get_errors(), str(sp_session.get_errors()))
            outcome = {}

            def enc_sls(query):
                # Sigil's LogoutRequest to the other SP: python3-saml checks it (strict: schema, Issuer,
                # Destination, NotOnOrAfter, the query signature) and answers with a signed LogoutResponse.
                outcome["enc_query"] = query
                sp = OneLogin_Saml2_Auth(onelogin_request(acs.port, "/onelogin-enc/sls", query=query), enc_settings)
                url = sp.process_slo(keep_local_session=True)
                outcome["enc_errors"] = (sp.get_errors(), sp.get_last_error_reason())
                return ("redirect", url) if url else "<html><body><h1 id='sls-error'>refused</h1></body></html>"

            def plain_sls(query):
                # Sigil's final LogoutResponse to the SP that started: checked against its request.
                outcome["plain_query"] = query
                sp = OneLogin_Saml2_Auth(onelogin_request(acs.port, "/onelogin/sls", query=query), plain_settings)
                sp.process_slo(keep_local_session=True, request_id=outcome.get("logout_request_id"))
                outcome["plain_errors"] = (sp.get_errors(), sp.get_last_error_reason())
                outcome["plain_response"] = sp.get_last_response_xml()
                return "<html><body><h1 id='slo-done'>SP signed out</h1></body></html>"

            acs.get_handlers["/onelogin-enc/sls"] = enc_sls
            acs.get_handlers["/onelogin/sls"] = plain_sls
            if sp_session:
                logout = OneLogin_Saml2_Auth(onelogin_request(acs.port, "/onelogin/sls"), plain_settings)
                url = logout.logout(name_id=sp_session.get_nameid(), session_index=sp_session.get_session_index(),
                                    name_id_format=sp_session.get_nameid_format(), return_to="/after-logout")
                outcome["logout_request_id"] = logout.get_last_request_id()
                check("python3-saml: its LogoutRequest goes out over HTTP-Redirect, signed",
                      "SAMLRequest=" in url and "Signature=" in url and "SigAlg=" in url, url[:200])
                driver.get(url)
                try:
                    WebDriverWait(driver, 30).until(lambda d: "slo-done" in d.page_source or "sls-error" in d.page_source)
                except Exception:
                    pass
                enc_errors, enc_reason = outcome.get("enc_errors", (["not reached"], ""))
                check("python3-saml encrypted SP: Sigil's Redirect LogoutRequest passes process_slo (strict, signed query)",
                      "enc_query" in outcome and not enc_errors, f"{enc_errors} {enc_reason}")
                enc_query = urllib.parse.parse_qs(outcome.get("enc_query", ""))
                check("the propagated LogoutRequest carries SigAlg rsa-sha256 and a Signature in the query",
                      enc_query.get("SigAlg") == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"] and "Signature" in enc_query,
                      str(list(enc_query)))
                plain_errors, plain_reason = outcome.get("plain_errors", (["not reached"], ""))
                check("python3-saml: Sigil's final LogoutResponse passes process_slo (InResponseTo, Issuer, Destination, signature)",
                      "plain_query" in outcome and not plain_errors, f"{plain_errors} {plain_reason}")
                final = outcome.get("plain_response") or ""
                final = final.decode() if isinstance(final, bytes) else final
                check("the final LogoutResponse says Success, not PartialLogout (the other SP answered)",
                      "urn:oasis:names:tc:SAML:2.0:status:Success" in final and "PartialLogout" not in final, final[:400])
                driver.get(base + "/account")
                check("the browser's Sigil session has ended", "/login" in driver.current_url, driver.current_url)
                # Control: the same LogoutRequest with its XML altered no longer verifies at the SP.
                if outcome.get("enc_query"):
                    params = urllib.parse.parse_qs(outcome["enc_query"])
                    from onelogin.saml2.utils import OneLogin_Saml2_Utils
                    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(params["SAMLRequest"][0])
                    xml = xml.decode() if isinstance(xml, bytes) else xml
                    forged = OneLogin_Saml2_Utils.deflate_and_base64_encode(xml + " ")
                    tampered = urllib.parse.urlencode({"SAMLRequest": forged, "RelayState": params["RelayState"][0],
                                                       "SigAlg": params["SigAlg"][0], "Signature": params["Signature"][0]})
                    sp = OneLogin_Saml2_Auth(onelogin_request(acs.port, "/onelogin-enc/sls", query=tampered), enc_settings)
                    sp.process_slo(keep_local_session=True)
                    check("control: python3-saml refuses the LogoutRequest once its bytes change (signature over the query)",
                          bool(sp.get_errors()) and "ignature" in str(sp.get_last_error_reason()), str(sp.get_last_error_reason()))

        # --- the audit log records the encrypted answers ---
        events = audit_events(base, token)
        encrypted_events = [e for e in events if e["action"] == "saml.sso.responded" and (e.get("after") or {}).get("encrypted") == "true"]
        check("audit log: saml.sso.responded with encrypted=true for the encrypting SPs", len(encrypted_events) >= 2, str(len(encrypted_events)))
    except Exception as error:
        import traceback
        traceback.print_exc()
        check("the flow ran to the end", False, repr(error))
        if driver:
            driver.save_screenshot(os.path.join(artifacts, "saml-onelogin-failure.png"))
            print("page at failure:", driver.current_url, driver.page_source[:1500])
    finally:
        if driver:
            driver.quit()
        acs.server.shutdown()
        finish(proc, work, artifacts)


def pem_body_text(pem):
    if not pem:
        return None
    return "".join(line.strip() for line in pem.splitlines() if line.strip() and not line.startswith("-----"))


if __name__ == "__main__":
    main()
