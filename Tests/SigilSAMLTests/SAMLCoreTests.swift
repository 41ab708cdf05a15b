import Crypto
import Foundation
import SigilCore
import SigilJOSE
import SigilSAML
import SigilXML
import Testing
import X509
import _CryptoExtras

/// A key pair with its self-signed certificate, as the IdP and test SPs use.
struct TestKey {
    let key: _RSA.Signing.PrivateKey
    let pem: String
    let certificate: Certificate

    init() throws {
        let material = try SigningKeyMaterial.generate(.rs256)
        key = try _RSA.Signing.PrivateKey(derRepresentation: material.privateKeyDER.value)
        pem = try SigningCertificate.make(
            for: material, commonName: "test", serialNumber: Array(repeating: 5, count: 16),
            notBefore: Date(timeIntervalSince1970: 1_700_000_000), notAfter: Date(timeIntervalSince1970: 2_000_000_000))
        certificate = try Certificate(pemEncoded: pem)
    }

    var signer: XMLSigner { XMLSigner(key: .rsa(key), certificate: certificate) }
}

let now = Date(timeIntervalSince1970: 1_800_000_000)
let ssoURL = "https://id.example.com/saml/sso"

func authnRequestXML(
    id: String = "_req1", issuer: String? = "https://sp.example.com/metadata", destination: String? = ssoURL,
    acs: String? = "https://sp.example.com/acs", instant: Date = now, extra: String = "", doctype: String = ""
) -> [UInt8] {
    var attrs = "ID=\"\(id)\" Version=\"2.0\" IssueInstant=\"\(SAMLTime.format(instant))\""
    if let destination { attrs += " Destination=\"\(destination)\"" }
    if let acs { attrs += " AssertionConsumerServiceURL=\"\(acs)\" ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\"" }
    let issuerXML = issuer.map { "<saml:Issuer>\($0)</saml:Issuer>" } ?? ""
    return Array(
        """
        \(doctype)<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" \(attrs)>\(issuerXML)\(extra)</samlp:AuthnRequest>
        """.utf8)
}

func serviceProvider(cert: String? = nil, requireSigned: Bool = false) -> SAMLServiceProvider {
    SAMLServiceProvider(
        entityID: "https://sp.example.com/metadata",
        acs: [.init(url: "https://sp.example.com/acs", binding: .httpPOST, index: 0, isDefault: true)],
        nameIDFormat: .emailAddress, certificatePEM: cert, requireSignedRequests: requireSigned)
}

@Suite("SAML bindings")
struct SAMLBindingTests {
    @Test func redirectRoundTripWithSignature() throws {
        let sp = try TestKey()
        let xml = authnRequestXML()
        let query = try SAMLRedirectBinding.encode(xml, relayState: "state 1/2", signingKey: sp.key)
        let message = try SAMLRedirectBinding.decode(rawQuery: query)
        #expect(message.xml == xml)
        #expect(message.relayState == "state 1/2")
        let signature = try #require(message.redirectSignature)
        try SAMLRedirectBinding.verify(signature, certificate: sp.certificate)
        // Tampered RelayState: the signature no longer verifies.
        let tampered = try SAMLRedirectBinding.decode(rawQuery: query.replacingOccurrences(of: "RelayState=state", with: "RelayState=staTe"))
        #expect(throws: SAMLError(.signatureInvalid, "")) { try SAMLRedirectBinding.verify(tampered.redirectSignature!, certificate: sp.certificate) }
    }

    @Test func storedDeflateSpansBlocks() throws {
        let big = Array(repeating: UInt8(ascii: "a"), count: 150_000)
        let query = try SAMLRedirectBinding.encode(big, relayState: nil)
        #expect(try SAMLRedirectBinding.decode(rawQuery: query).xml == big)
    }

    @Test func garbageIsMalformed() {
        #expect(throws: SAMLError(.malformed, "")) { try SAMLRedirectBinding.decode(rawQuery: "SAMLRequest=%%%") }
        #expect(throws: SAMLError(.malformed, "")) { try SAMLRedirectBinding.decode(rawQuery: "SAMLRequest=AAAA") }
        #expect(throws: SAMLError(.malformed, "")) { try SAMLRedirectBinding.decode(rawQuery: "RelayState=x") }
    }
}

@Suite("AuthnRequest validation")
struct AuthnRequestValidationTests {
    let validator = AuthnRequestValidator(ssoURLs: [ssoURL])

    func validate(_ xml: [UInt8], sp: SAMLServiceProvider = serviceProvider(), at: Date = now) -> Result<ValidatedAuthnRequest, AuthnRequestRejection> {
        validator.validate(SAMLInboundMessage(xml: xml, relayState: "rs", binding: .post, redirectSignature: nil), now: at) {
            $0 == sp.entityID ? sp : nil
        }
    }

    func code(_ r: Result<ValidatedAuthnRequest, AuthnRequestRejection>) -> SAMLError.Code? {
        if case .failure(let f) = r { return f.error.code }
        return nil
    }

    @Test func acceptsAGoodRequest() throws {
        let v = try validate(
            authnRequestXML(extra: "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\" AllowCreate=\"true\"/>")
        ).get()
        #expect(v.acsURL == "https://sp.example.com/acs")
        #expect(v.request.id == "_req1")
        #expect(v.nameIDFormat == .persistent)
        #expect(v.relayState == "rs")
        #expect(!v.signed)
    }

    @Test func defaultACSWhenNoneRequested() throws {
        #expect(try validate(authnRequestXML(acs: nil)).get().acsURL == "https://sp.example.com/acs")
    }

    @Test func unknownIssuer() {
        let r = validate(authnRequestXML(issuer: "https://evil.example/metadata"))
        #expect(code(r) == .unknownIssuer)
        if case .failure(let f) = r { #expect(f.respondTo == nil) }
    }

    @Test func unregisteredACS() {
        let r = validate(authnRequestXML(acs: "https://evil.example/acs"))
        #expect(code(r) == .unregisteredACS)
        if case .failure(let f) = r { #expect(f.respondTo == nil) }
    }

    @Test func wrongDestination() {
        let r = validate(authnRequestXML(destination: "https://other.example/sso"))
        #expect(code(r) == .wrongDestination)
        if case .failure(let f) = r { #expect(f.respondTo?.acsURL == "https://sp.example.com/acs") }
    }

    @Test func staleAndFutureIssueInstant() {
        #expect(code(validate(authnRequestXML(instant: now.addingTimeInterval(-301)))) == .staleRequest)
        #expect(code(validate(authnRequestXML(instant: now.addingTimeInterval(301)))) == .staleRequest)
        #expect(code(validate(authnRequestXML(instant: now.addingTimeInterval(-299)))) == nil)
    }

    @Test func dtdIsRefused() {
        let r = validate(authnRequestXML(doctype: "<!DOCTYPE r [<!ENTITY x \"y\">]>"))
        #expect(code(r) == .malformed)
    }

    @Test func unsignedWhenSignatureRequired() throws {
        let sp = try TestKey()
        #expect(code(validate(authnRequestXML(), sp: serviceProvider(cert: sp.pem, requireSigned: true))) == .signatureRequired)
    }

    @Test func postSignedRequestVerifies() throws {
        let sp = try TestKey()
        let doc = try XMLDocumentParser.parse(authnRequestXML())
        let signed = try sp.signer.signEnveloped(doc, elementID: "_req1").serialized()
        let v = try validate(signed, sp: serviceProvider(cert: sp.pem, requireSigned: true)).get()
        #expect(v.signed)
        // Signed by another key: refused.
        let other = try TestKey()
        #expect(code(validate(signed, sp: serviceProvider(cert: other.pem, requireSigned: true))) == .signatureInvalid)
    }

    @Test func redirectSignedRequestVerifies() throws {
        let sp = try TestKey()
        let query = try SAMLRedirectBinding.encode(authnRequestXML(), relayState: "x", signingKey: sp.key)
        let message = try SAMLRedirectBinding.decode(rawQuery: query)
        let r = validator.validate(message, now: now) { _ in serviceProvider(cert: sp.pem, requireSigned: true) }
        #expect(try r.get().signed)
        let other = try TestKey()
        let bad = validator.validate(message, now: now) { _ in serviceProvider(cert: other.pem, requireSigned: true) }
        #expect(code(bad) == .signatureInvalid)
    }

    @Test func badNameIDPolicy() {
        let r = validate(authnRequestXML(extra: "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos\"/>"))
        #expect(code(r) == .invalidNameIDPolicy)
        if case .failure(let f) = r { #expect(f.error.status.subcode == "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy") }
    }

    @Test func flags() throws {
        var xml = String(decoding: authnRequestXML(), as: UTF8.self)
        xml = xml.replacingOccurrences(of: "Version=\"2.0\"", with: "Version=\"2.0\" ForceAuthn=\"true\" IsPassive=\"1\"")
        let v = try validate(Array(xml.utf8)).get()
        #expect(v.request.forceAuthn && v.request.isPassive)
    }
}

@Suite("SAML Response building")
struct SAMLResponseTests {
    func content(inResponseTo: String? = "_req1") -> SAMLAssertionContent {
        SAMLAssertionContent(
            issuer: "https://id.example.com/saml/metadata", acsURL: "https://sp.example.com/acs",
            audience: "https://sp.example.com/metadata", inResponseTo: inResponseTo, nameID: "ada@example.com",
            nameIDFormat: .emailAddress, sessionIndex: "_s1", authnInstant: now.addingTimeInterval(-10),
            authnContextClassRef: SAML.AuthnContextClass.unspecified,
            attributes: [
                SAMLAttribute(name: "email", values: ["ada@example.com"]),
                SAMLAttribute(name: "session.amr", values: ["hwk", "user", "phr"]),
            ])
    }

    @Test func signedResponseAndAssertionVerify() throws {
        let idp = try TestKey()
        let builder = SAMLResponseBuilder(signer: idp.signer, random: InsecureSeededRandom(seed: "t"))
        let bytes = try builder.response(content(), now: now)
        let verifier = try XMLSignatureVerifier(trustedCertificates: [idp.certificate])
        let response = try verifier.verifyEnveloped(bytes, signedElement: .root)
        #expect(response.element.attribute("Destination") == "https://sp.example.com/acs")
        #expect(response.element.attribute("InResponseTo") == "_req1")
        let assertion = try verifier.verifyEnveloped(response.canonicalBytes, signedElement: .samlAssertion).element
        let a = SAML.assertionNamespace
        let subject = try #require(assertion.firstChild(named: "Subject", namespaceURI: a))
        #expect(subject.firstChild(named: "NameID", namespaceURI: a)?.text == "ada@example.com")
        let data = try #require(
            subject.firstChild(named: "SubjectConfirmation", namespaceURI: a)?.firstChild(named: "SubjectConfirmationData", namespaceURI: a))
        #expect(data.attribute("NotBefore") == nil)
        #expect(data.attribute("Recipient") == "https://sp.example.com/acs")
        #expect(data.attribute("NotOnOrAfter") == SAMLTime.format(now.addingTimeInterval(300)))
        let audience = assertion.firstChild(named: "Conditions", namespaceURI: a)?.firstChild(named: "AudienceRestriction", namespaceURI: a)?
            .firstChild(named: "Audience", namespaceURI: a)?.text
        #expect(audience == "https://sp.example.com/metadata")
        let amr = assertion.firstChild(named: "AttributeStatement", namespaceURI: a)?.childElements(named: "Attribute", namespaceURI: a)
            .first { $0.attribute("Name") == "session.amr" }?.childElements.map(\.text)
        #expect(amr == ["hwk", "user", "phr"])
        #expect(assertion.firstChild(named: "AuthnStatement", namespaceURI: a)?.attribute("SessionIndex") == "_s1")
    }

    @Test func assertionOnlySigning() throws {
        let idp = try TestKey()
        let builder = SAMLResponseBuilder(signer: idp.signer, random: InsecureSeededRandom(seed: "t"))
        let bytes = try builder.response(content(inResponseTo: nil), now: now, signing: .assertion)
        let verifier = try XMLSignatureVerifier(trustedCertificates: [idp.certificate])
        #expect(throws: XMLSecurityError(.signatureMissing, "")) { try verifier.verifyEnveloped(bytes, signedElement: .root) }
        let assertion = try verifier.verifyEnveloped(bytes, signedElement: .samlAssertion).element
        #expect(!String(decoding: bytes, as: UTF8.self).contains("InResponseTo"))
        #expect(assertion.localName == "Assertion")
    }

    @Test func statusResponseCarriesSecondLevelCode() throws {
        let idp = try TestKey()
        let builder = SAMLResponseBuilder(signer: idp.signer, random: InsecureSeededRandom(seed: "t"))
        let bytes = try builder.statusResponse(
            issuer: "i", destination: "https://sp.example.com/acs", inResponseTo: "_r",
            status: .responder("NoPassive"), now: now)
        let root = try XMLSignatureVerifier(trustedCertificates: [idp.certificate]).verifyEnveloped(bytes).element
        let code = root.firstChild(named: "Status", namespaceURI: SAML.protocolNamespace)?.firstChild(named: "StatusCode", namespaceURI: SAML.protocolNamespace)
        #expect(code?.attribute("Value") == SAMLStatus.responderCode)
        #expect(code?.childElements.first?.attribute("Value") == "urn:oasis:names:tc:SAML:2.0:status:NoPassive")
    }

    @Test func metadataSignedAndShaped() throws {
        let idp = try TestKey()
        let meta = IdPMetadata(
            entityID: "https://id.example.com/saml/metadata", ssoURL: ssoURL, sloURL: "https://id.example.com/saml/slo",
            signingCertificatesBase64: ["MIIB"])
        let bytes = try meta.document(id: "_m1", signer: idp.signer)
        let root = try XMLSignatureVerifier(trustedCertificates: [idp.certificate]).verifyEnveloped(bytes).element
        let idpd = try #require(root.firstChild(named: "IDPSSODescriptor", namespaceURI: SAML.metadataNamespace))
        #expect(idpd.childElements(named: "SingleSignOnService", namespaceURI: SAML.metadataNamespace).count == 2)
        #expect(idpd.childElements(named: "SingleLogoutService", namespaceURI: SAML.metadataNamespace).count == 2)
        #expect(idpd.firstChild(named: "KeyDescriptor", namespaceURI: SAML.metadataNamespace)?.attribute("use") == "signing")
    }

    /// Differential: xmlsec1 (libxmlsec1) verifies what we sign.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/xmlsec1") || ProcessInfo.processInfo.environment["CI"] != nil))
    func xmlsec1VerifiesOurResponse() throws {
        let idp = try TestKey()
        let builder = SAMLResponseBuilder(signer: idp.signer, random: InsecureSeededRandom(seed: "x"))
        let bytes = try builder.response(content(), now: now)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-saml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(bytes).write(to: dir.appendingPathComponent("r.xml"))
        try Data(idp.pem.utf8).write(to: dir.appendingPathComponent("c.pem"))
        for node in ["urn:oasis:names:tc:SAML:2.0:protocol:Response", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/xmlsec1")
            p.arguments = [
                "--verify", "--pubkey-cert-pem", dir.appendingPathComponent("c.pem").path, "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
                "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", "--node-name", node, dir.appendingPathComponent("r.xml").path,
            ]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run(); p.waitUntilExit()
            #expect(p.terminationStatus == 0, "xmlsec1 refused the \(node) signature")
        }
    }
}

/// Regressions from the 10-minute fuzz run (docs/fuzzing.md).
@Suite struct RedirectBindingFuzzRegressionTests {
    /// `==` as a query string crashed the server (a parameter split into nothing); parameters with
    /// empty names are now just parameters, and the missing SAMLRequest is a typed error.
    @Test func queriesOfOnlyEqualsSignsAreRefusedNotFatal() {
        for query in ["==", "=", "=x", "&=&", "==&==", "SAMLRequest=="] {
            #expect(throws: SAMLError.self, "\(query)") { _ = try SAMLRedirectBinding.decode(rawQuery: query) }
        }
    }
}
