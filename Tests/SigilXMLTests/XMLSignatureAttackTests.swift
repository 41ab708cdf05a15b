import Crypto
import Foundation
import Testing
import X509
import _CryptoExtras

@testable import SigilXML

/// The attack catalogue, each a named test against our own verifier. The fixture is a SAML
/// Response whose Assertion (`_a1`, NameID alice@acme.com) is signed with the trusted RSA key;
/// the attacker wants the verifier's caller to read `admin@acme.com` instead.
@Suite("Signature attacks are rejected")
struct XMLSignatureAttackTests {
    static let ns = SAMLFixture.assertionNS
    static let protocolNS = "urn:oasis:names:tc:SAML:2.0:protocol"

    func signedDocument() throws -> DOMDocument { try SAMLFixture.parse(try SAMLFixture.signedAssertion()) }

    func path(in doc: DOMDocument, _ predicate: (DOMElement) -> Bool) throws -> [Int] {
        var found: [Int]?
        doc.root.forEachElement { e, p in if found == nil && predicate(e) { found = p } }
        return try #require(found)
    }

    func assertionPath(_ doc: DOMDocument) throws -> [Int] { try path(in: doc) { $0.localName == "Assertion" } }

    func evil(_ assertion: DOMElement, id: String? = nil) -> DOMElement {
        var e = assertion
        e.children.removeAll { $0.element?.localName == "Signature" }
        if let id { e.setAttribute("ID", value: id) }
        setNameID(&e, "admin@acme.com")
        return e
    }

    func setNameID(_ e: inout DOMElement, _ value: String) {
        for (i, child) in e.children.enumerated() {
            guard case .element(var c) = child else { continue }
            if c.localName == "NameID" { c.children = [.text(value)] } else { setNameID(&c, value) }
            e.children[i] = .element(c)
        }
    }

    func removeChild(_ doc: inout DOMDocument, at path: [Int]) {
        var parent = doc.root.element(at: Array(path.dropLast()))!
        parent.children.remove(at: path.last!)
        doc.root.replaceElement(at: Array(path.dropLast()), with: parent)
    }

    func insertChild(_ doc: inout DOMDocument, under parentPath: [Int], at index: Int, _ node: DOMNode) {
        var parent = doc.root.element(at: parentPath)!
        parent.children.insert(node, at: min(index, parent.children.count))
        doc.root.replaceElement(at: parentPath, with: parent)
    }

    func extensions(_ content: DOMElement) -> DOMNode {
        .element(DOMElement(prefix: "samlp", localName: "Extensions", namespaceURI: Self.protocolNS, children: [.element(content)]))
    }

    func verifyAssertion(_ doc: DOMDocument) throws -> VerifiedXMLElement {
        try SAMLFixture.rsaVerifier.verifyEnveloped(doc.serialized(), signedElement: .samlAssertion)
    }

    @Test func controlTheUntamperedDocumentVerifies() throws {
        let verified = try verifyAssertion(try signedDocument())
        #expect(verified.element.firstDescendantOrSelf { $0.localName == "NameID" }?.text == "alice@acme.com")
    }

    @Test func tamperedNameIDFailsTheDigest() throws {
        var doc = try signedDocument()
        let p = try assertionPath(doc)
        var a = doc.root.element(at: p)!
        setNameID(&a, "admin@acme.com")
        doc.root.replaceElement(at: p, with: a)
        expectXMLError(.digestMismatch) { _ = try verifyAssertion(doc) }
    }

    // XSW1-style: an evil assertion with the same ID placed before the signed one.
    @Test func xsw1EvilCopyWithSameIDBeforeSignedAssertion() throws {
        var doc = try signedDocument()
        let p = try assertionPath(doc)
        insertChild(&doc, under: [], at: p.last!, .element(evil(doc.root.element(at: p)!)))
        expectXMLError(.duplicateID) { _ = try verifyAssertion(doc) }
    }

    // XSW2-style: the evil copy (new ID) carries the signature; the signed assertion is moved into Extensions.
    @Test func xsw2SignatureMovedToEvilAssertionOriginalInExtensions() throws {
        var doc = try signedDocument()
        let p = try assertionPath(doc)
        let original = doc.root.element(at: p)!
        var bad = evil(original, id: "_evil")
        bad.children.insert(original.children.first { $0.element?.localName == "Signature" }!, at: 2)
        var stripped = original
        stripped.children.removeAll { $0.element?.localName == "Signature" }
        doc.root.replaceElement(at: p, with: bad)
        insertChild(&doc, under: [], at: 1, extensions(stripped))
        expectXMLError(.signatureStructure) { _ = try verifyAssertion(doc) }
        // Even with only the evil assertion in the document, the reference points elsewhere.
        removeChild(&doc, at: [1])
        expectXMLError(.signatureStructure) { _ = try verifyAssertion(doc) }
    }

    // XSW3-style: the signed assertion wrapped inside the evil one.
    @Test func xsw3SignedAssertionWrappedInsideEvilAssertion() throws {
        var doc = try signedDocument()
        let p = try assertionPath(doc)
        var bad = evil(doc.root.element(at: p)!, id: "_evil")
        bad.children.append(.element(doc.root.element(at: p)!))
        doc.root.replaceElement(at: p, with: bad)
        expectXMLError(.signatureStructure) { _ = try verifyAssertion(doc) }
    }

    // XSW4-style: the evil assertion keeps the ID and signature, the original is gone.
    @Test func xsw4EvilAssertionKeepsIDAndSignature() throws {
        var doc = try signedDocument()
        let p = try assertionPath(doc)
        var a = doc.root.element(at: p)!
        setNameID(&a, "admin@acme.com")
        a.children.append(.element(DOMElement(prefix: "saml", localName: "Advice", namespaceURI: Self.ns)))
        doc.root.replaceElement(at: p, with: a)
        expectXMLError(.digestMismatch) { _ = try verifyAssertion(doc) }
    }

    // XSW5-style: the signed assertion hidden inside the signature's ds:Object.
    @Test func xsw5SignedAssertionInsideSignatureObject() throws {
        var doc = try signedDocument()
        let p = try assertionPath(doc)
        let original = doc.root.element(at: p)!
        var signature = original.children.compactMap(\.element).first { $0.localName == "Signature" }!
        var stripped = original
        stripped.children.removeAll { $0.element?.localName == "Signature" }
        signature.children.append(.element(DOMElement(prefix: "ds", localName: "Object", namespaceURI: XMLNamespace.dsig, children: [.element(stripped)])))
        var bad = evil(original, id: "_a1")
        bad.children.insert(.element(signature), at: 2)
        doc.root.replaceElement(at: p, with: bad)
        expectXMLError(.duplicateID) { _ = try verifyAssertion(doc) }
        // With a fresh ID on the evil assertion: two Assertions, refused.
        var other = doc
        var renamed = other.root.element(at: p)!
        renamed.setAttribute("ID", value: "_other")
        other.root.replaceElement(at: p, with: renamed)
        expectXMLError(.signatureStructure) { _ = try verifyAssertion(other) }
    }

    @Test func objectInsideSignatureIsRejected() throws {
        let doc = try SAMLFixture.parse(SAMLFixture.response())
        var signed = try XMLSigner(key: .rsa(TestKeys.rsa)).signEnveloped(doc, elementID: "_r1")
        let sigPath = try path(in: signed) { $0.localName == "Signature" }
        var signature = signed.root.element(at: sigPath)!
        signature.children.append(.element(DOMElement(prefix: "ds", localName: "Object", namespaceURI: XMLNamespace.dsig, children: [.text("x")])))
        signed.root.replaceElement(at: sigPath, with: signature)
        expectXMLError(.signatureStructure) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(signed.serialized(), signedElement: .root) }
    }

    // XSW6/7-style: the signed assertion moved into samlp:Extensions, an unsigned evil one in its place.
    @Test func xsw6SignedAssertionInExtensionsEvilUnsigned() throws {
        var doc = try signedDocument()
        let p = try assertionPath(doc)
        let original = doc.root.element(at: p)!
        doc.root.replaceElement(at: p, with: evil(original, id: "_evil"))
        insertChild(&doc, under: [], at: 1, extensions(original))
        expectXMLError(.signatureStructure) { _ = try verifyAssertion(doc) }
        // A caller that verifies "the root" instead finds no signature on it.
        expectXMLError(.signatureMissing) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(doc.serialized(), signedElement: .root) }
    }

    // XSW8-style: the whole signed Response wrapped by an evil Response.
    @Test func xsw8SignedResponseWrappedByEvilResponse() throws {
        let doc = try signedDocument()
        let signed = try XMLSigner(key: .rsa(TestKeys.rsa)).signEnveloped(doc, elementID: "_r1")
        var root = signed.root
        root.children = [extensions(signed.root)]
        root.setAttribute("ID", value: "_evilroot")
        let wrapped = DOMDocument(root: root)
        expectXMLError(.signatureMissing) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(wrapped.serialized(), signedElement: .root) }
        // Same ID on the wrapper: duplicate.
        root.setAttribute("ID", value: "_r1")
        expectXMLError(.duplicateID) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(DOMDocument(root: root).serialized(), signedElement: .root) }
    }

    @Test func referenceToAnotherElementIsRejected() throws {
        // A genuine signature over the Response, moved into the Assertion.
        let doc = try SAMLFixture.parse(SAMLFixture.response())
        var signed = try XMLSigner(key: .rsa(TestKeys.rsa)).signEnveloped(doc, elementID: "_r1")
        let sigPath = try path(in: signed) { $0.localName == "Signature" }
        let signature = signed.root.element(at: sigPath)!
        removeChild(&signed, at: sigPath)
        let p = try assertionPath(signed)
        insertChild(&signed, under: p, at: 2, .element(signature))
        expectXMLError(.signatureStructure) { _ = try verifyAssertion(signed) }
    }

    @Test func commentInjectionInNameIDCannotTruncateIt() throws {
        // The IdP signed NameID "admin@x.com.evil.com"; the attacker adds a comment, which the
        // digest ignores (bare-name references drop comments). The verifier accepts, and the
        // caller still reads the whole signed value — never "admin@x.com".
        let signed = try SAMLFixture.signedAssertion(nameID: "admin@x.com.evil.com")
        let injected = signed.replacingOccurrences(of: "admin@x.com.evil.com", with: "admin@x.com<!---->.evil.com")
        #expect(injected != signed)
        let verified = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(injected.utf8), signedElement: .samlAssertion)
        let nameID = try #require(verified.element.firstDescendantOrSelf { $0.localName == "NameID" })
        #expect(nameID.text == "admin@x.com.evil.com")
        #expect(nameID.children == [.text("admin@x.com.evil.com")])
        // And the parsed input, read directly, gives the full text too.
        let raw = try SAMLFixture.parse(injected)
        #expect(raw.root.firstDescendantOrSelf { $0.localName == "NameID" }?.text == "admin@x.com.evil.com")
    }

    @Test func duplicateIDAnywhereIsRejected() throws {
        var doc = try signedDocument()
        insertChild(
            &doc, under: [], at: 1,
            .element(DOMElement(prefix: "saml", localName: "Issuer", namespaceURI: Self.ns, attributes: [DOMAttribute(localName: "ID", value: "_a1")])))
        expectXMLError(.duplicateID) { _ = try verifyAssertion(doc) }
    }

    @Test func strippedSignatureIsRejected() throws {
        var doc = try signedDocument()
        let sigPath = try path(in: doc) { $0.localName == "Signature" }
        removeChild(&doc, at: sigPath)
        expectXMLError(.signatureMissing) { _ = try verifyAssertion(doc) }
    }

    @Test func twoSignaturesOnTheElementAreRejected() throws {
        var doc = try signedDocument()
        let sigPath = try path(in: doc) { $0.localName == "Signature" }
        let signature = doc.root.element(at: sigPath)!
        insertChild(&doc, under: Array(sigPath.dropLast()), at: sigPath.last!, .element(signature))
        expectXMLError(.signatureStructure) { _ = try verifyAssertion(doc) }
    }

    @Test func signatureByAnotherKeyIsRejected() throws {
        let signed = try SAMLFixture.signedAssertion(key: .rsa(TestKeys.otherRSA), certificate: nil)
        expectXMLError(.signatureInvalid) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(signed.utf8), signedElement: .samlAssertion) }
        let ec = try SAMLFixture.signedAssertion(key: .p256(P256.Signing.PrivateKey()), certificate: nil)
        let verifier = XMLSignatureVerifier(trustedKeys: [.p256(TestKeys.p256.publicKey), .rsa(TestKeys.rsa.publicKey)])
        expectXMLError(.signatureInvalid) { _ = try verifier.verifyEnveloped(Data(ec.utf8), signedElement: .samlAssertion) }
    }

    @Test func embeddedCertificateAloneIsNotTrusted() throws {
        // Signed by the attacker's key, with the attacker's certificate in KeyInfo.
        let signed = try SAMLFixture.signedAssertion(key: .rsa(TestKeys.otherRSA), certificate: TestKeys.otherRSACertificate)
        expectXMLError(.signatureInvalid) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(signed.utf8), signedElement: .samlAssertion) }
        // Even with the trusted certificate pasted into KeyInfo.
        let trustedDER = try SAMLFixture.parse(try SAMLFixture.signedAssertion()).root.firstDescendantOrSelf { $0.localName == "X509Certificate" }!.text
        let attackerDER = try SAMLFixture.parse(signed).root.firstDescendantOrSelf { $0.localName == "X509Certificate" }!.text
        let swapped = signed.replacingOccurrences(of: attackerDER, with: trustedDER)
        expectXMLError(.signatureInvalid) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(swapped.utf8), signedElement: .samlAssertion) }
    }

    @Test func dtdAndEntitiesInASignedDocumentAreRejected() throws {
        let signed = try SAMLFixture.signedAssertion()
        let withDTD =
            "<!DOCTYPE samlp:Response [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n"
            + signed.replacingOccurrences(of: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", with: "")
        expectXMLError(.doctypeForbidden) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(withDTD.utf8), signedElement: .samlAssertion) }
        let withEntity = signed.replacingOccurrences(of: "alice@acme.com", with: "&e;")
        expectXMLError(.entityForbidden) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(withEntity.utf8), signedElement: .samlAssertion) }
    }

    @Test func oversizedAndTooDeepInputsAreRejected() throws {
        let signed = try SAMLFixture.signedAssertion()
        let padded = signed.replacingOccurrences(of: "</samlp:Response>", with: String(repeating: " ", count: 1 << 20) + "</samlp:Response>")
        expectXMLError(.limitExceeded) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(padded.utf8), signedElement: .samlAssertion) }
        let deep = signed.replacingOccurrences(
            of: "</samlp:Status>", with: "</samlp:Status>" + String(repeating: "<x>", count: 70) + String(repeating: "</x>", count: 70))
        expectXMLError(.limitExceeded) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(deep.utf8), signedElement: .samlAssertion) }
    }

    // Allow-list: everything below is refused before any cryptography.
    @Test(arguments: [
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2000/09/xmldsig#hmac-sha1"),
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
        ("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2000/09/xmldsig#sha1"),
        ("http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>", "http://www.w3.org/TR/1999/REC-xpath-19991116\"/></ds:Transforms>"),
        ("http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/TR/1999/REC-xslt-19991116"),
        (
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\""
        ),
    ])
    func disallowedAlgorithmsAreRejected(_ replace: (String, String)) throws {
        let signed = try SAMLFixture.signedAssertion()
        let changed = signed.replacingOccurrences(of: replace.0, with: replace.1)
        #expect(changed != signed)
        expectXMLError(.algorithmNotAllowed) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(changed.utf8), signedElement: .samlAssertion) }
    }

    @Test func twoReferencesAreRejected() throws {
        let signed = try SAMLFixture.signedAssertion()
        let doc = try SAMLFixture.parse(signed)
        let reference = doc.root.firstDescendantOrSelf { $0.localName == "Reference" }!
        let refXML = String(decoding: DOMDocument(root: reference).serialized(xmlDeclaration: false), as: UTF8.self)
        let twice = signed.replacingOccurrences(
            of: "</ds:Reference>",
            with: "</ds:Reference>" + refXML.replacingOccurrences(of: "<ds:Reference", with: "<ds:Reference xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\""))
        expectXMLError(.signatureStructure) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(twice.utf8), signedElement: .samlAssertion) }
    }

    /// Signs a fixture with SHA-1 by hand (we never produce SHA-1), then checks the opt-in.
    @Test func sha1OnlyWithTheInsecureOptIn() throws {
        var doc = try signedDocument()
        let p = try assertionPath(doc)
        var assertion = doc.root.element(at: p)!
        let sigIndex = assertion.children.firstIndex { $0.element?.localName == "Signature" }!
        var signature = assertion.children[sigIndex].element!
        var unsigned = assertion
        unsigned.children.remove(at: sigIndex)
        let scope = doc.root.namespacesInScope(above: p, inherited: [:])
        let digest = XMLDigestAlgorithm.insecureSHA1.digest(XMLCanonicalizer.canonicalize(unsigned, inScopeNamespaces: scope, method: .exclusive))
        var signedInfo = signature.childElements[0]
        let xml = String(decoding: DOMDocument(root: signedInfo).serialized(xmlDeclaration: false), as: UTF8.self)
        let oldDigest = signedInfo.firstDescendantOrSelf { $0.localName == "DigestValue" }!.text
        let patched =
            xml
            .replacingOccurrences(of: XMLSignatureAlgorithm.rsaSHA256.uri, with: XMLSignatureAlgorithm.insecureRSASHA1.uri)
            .replacingOccurrences(of: XMLDigestAlgorithm.sha256.uri, with: XMLDigestAlgorithm.insecureSHA1.uri)
            .replacingOccurrences(of: oldDigest, with: Data(digest).base64EncodedString())
        signedInfo = try XMLDocumentParser.parseElement(
            Data(patched.replacingOccurrences(of: "<ds:SignedInfo>", with: "<ds:SignedInfo xmlns:ds=\"\(XMLNamespace.dsig)\">").utf8))
        signedInfo.namespaceDeclarations = []
        var sigScope = assertion.applyingDeclarations(to: scope)
        sigScope["ds"] = XMLNamespace.dsig
        let c14n = XMLCanonicalizer.canonicalize(signedInfo, inScopeNamespaces: sigScope, method: .exclusive)
        let value = try TestKeys.rsa.signature(for: Insecure.SHA1.hash(data: c14n), padding: .insecurePKCS1v1_5)
        signature.children[signature.children.firstIndex { $0.element?.localName == "SignedInfo" }!] = .element(signedInfo)
        let valueIndex = signature.children.firstIndex { $0.element?.localName == "SignatureValue" }!
        var valueElement = signature.children[valueIndex].element!
        valueElement.children = [.text(value.rawRepresentation.base64EncodedString())]
        signature.children[valueIndex] = .element(valueElement)
        assertion.children[sigIndex] = .element(signature)
        doc.root.replaceElement(at: p, with: assertion)

        expectXMLError(.algorithmNotAllowed) { _ = try verifyAssertion(doc) }
        let insecure = XMLSignatureVerifier(trustedKeys: [.rsa(TestKeys.rsa.publicKey)], options: .init(allowInsecureSHA1: true))
        let verified = try insecure.verifyEnveloped(doc.serialized(), signedElement: .samlAssertion)
        #expect(verified.signatureAlgorithm == .insecureRSASHA1)
        #expect(verified.digestAlgorithm == .insecureSHA1)
    }
}
