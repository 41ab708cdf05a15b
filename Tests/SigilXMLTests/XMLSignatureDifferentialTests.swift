import Crypto
import Foundation
import Testing
import X509
import _CryptoExtras

@testable import SigilXML

/// Our signatures checked by xmlsec1, and xmlsec1's signatures checked by us. Under `CI` these
/// fail when xmlsec1 is missing; elsewhere they are skipped.
@Suite("XML-DSig against xmlsec1", .enabled(if: ReferenceTool.shouldRun("xmlsec1")))
struct XMLSignatureDifferentialTests {
    static let assertionIDAttr = "--id-attr:ID"
    static let assertionNode = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
    static let responseNode = "urn:oasis:names:tc:SAML:2.0:protocol:Response"

    /// `xmlsec1 --verify` of `document` with the certificate's key; returns (status, stderr).
    func xmlsecVerify(_ document: some DataProtocol, certificate: Certificate, node: String = assertionNode) throws -> ReferenceTool.Result? {
        guard let xmlsec = ReferenceTool.require("xmlsec1") else { return nil }
        let dir = try TemporaryDirectory()
        let cert = try dir.write("cert.pem", Data(TestKeys.pem(certificate).utf8))
        let doc = try dir.write("doc.xml", document)
        return try ReferenceTool.run(xmlsec, ["--verify", "--pubkey-cert-pem", cert, Self.assertionIDAttr, node, doc])
    }

    @Test func xmlsecVerifiesOurRSASignature() throws {
        let signed = try SAMLFixture.signedAssertion()
        guard let r = try xmlsecVerify(Data(signed.utf8), certificate: TestKeys.rsaCertificate) else { return }
        #expect(r.status == 0, "xmlsec1: \(r.stderr)")
    }

    @Test func xmlsecVerifiesOurECDSASignature() throws {
        let signed = try SAMLFixture.signedAssertion(key: .p256(TestKeys.p256), certificate: TestKeys.p256Certificate)
        guard let r = try xmlsecVerify(Data(signed.utf8), certificate: TestKeys.p256Certificate) else { return }
        #expect(r.status == 0, "xmlsec1: \(r.stderr)")
    }

    @Test func xmlsecVerifiesOurInclusivePrefixList() throws {
        let signed = try SAMLFixture.signedAssertion(inclusivePrefixes: ["xs", "samlp"])
        guard let r = try xmlsecVerify(Data(signed.utf8), certificate: TestKeys.rsaCertificate) else { return }
        #expect(r.status == 0, "xmlsec1: \(r.stderr)")
    }

    @Test func xmlsecVerifiesOurResponseSignature() throws {
        let doc = try SAMLFixture.parse(SAMLFixture.response())
        let signed = try XMLSigner(key: .rsa(TestKeys.rsa), certificate: TestKeys.rsaCertificate).signEnveloped(doc, elementID: "_r1")
        guard let r = try xmlsecVerify(signed.serialized(), certificate: TestKeys.rsaCertificate, node: Self.responseNode) else { return }
        #expect(r.status == 0, "xmlsec1: \(r.stderr)")
    }

    @Test func xmlsecRejectsTamperedDocumentControl() throws {
        let signed = try SAMLFixture.signedAssertion().replacingOccurrences(of: "alice@acme.com", with: "admin@acme.com")
        guard let r = try xmlsecVerify(Data(signed.utf8), certificate: TestKeys.rsaCertificate) else { return }
        #expect(r.status != 0, "xmlsec1 must reject a tampered document, or this suite proves nothing")
        let other = try SAMLFixture.signedAssertion()
        guard let r2 = try xmlsecVerify(Data(other.utf8), certificate: TestKeys.otherRSACertificate) else { return }
        #expect(r2.status != 0)
    }

    static func template(signatureMethod: String, digestMethod: String, c14n: String, transform: String) -> String {
        let signature = """
            <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
              <ds:SignedInfo>
                <ds:CanonicalizationMethod Algorithm="\(c14n)"/>
                <ds:SignatureMethod Algorithm="\(signatureMethod)"/>
                <ds:Reference URI="#_a1">
                  <ds:Transforms>
                    <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
                    <ds:Transform Algorithm="\(transform)"/>
                  </ds:Transforms>
                  <ds:DigestMethod Algorithm="\(digestMethod)"/>
                  <ds:DigestValue></ds:DigestValue>
                </ds:Reference>
              </ds:SignedInfo>
              <ds:SignatureValue></ds:SignatureValue>
              <ds:KeyInfo><ds:X509Data/></ds:KeyInfo>
            </ds:Signature>
            """
        let issuer = "<saml:Issuer>https://idp.example/saml/metadata</saml:Issuer>\n    <saml:Subject>"
        return SAMLFixture.response().replacingOccurrences(
            of: issuer, with: "<saml:Issuer>https://idp.example/saml/metadata</saml:Issuer>\(signature)\n    <saml:Subject>")
    }

    /// Signs a template with `xmlsec1 --sign`.
    func xmlsecSign(_ template: String, keyPEM: String, certificate: Certificate) throws -> Data? {
        guard let xmlsec = ReferenceTool.require("xmlsec1") else { return nil }
        #expect(template.contains("<ds:Signature"))
        let dir = try TemporaryDirectory()
        let key = try dir.write("key.pem", Data(keyPEM.utf8))
        let cert = try dir.write("cert.pem", Data(TestKeys.pem(certificate).utf8))
        let input = try dir.write("template.xml", Data(template.utf8))
        let output = dir.url.appendingPathComponent("signed.xml").path
        let r = try ReferenceTool.run(
            xmlsec, ["--sign", "--privkey-pem", "\(key),\(cert)", Self.assertionIDAttr, Self.assertionNode, "--output", output, input])
        #expect(r.status == 0, "xmlsec1 --sign: \(r.stderr)")
        return try Data(contentsOf: URL(fileURLWithPath: output))
    }

    static let exc = XMLCanonicalizationMethod.exclusiveURI
    static let inc = XMLCanonicalizationMethod.inclusiveURI

    @Test func weVerifyXmlsecRSASHA256ExclusiveC14N() throws {
        let t = Self.template(
            signatureMethod: XMLSignatureAlgorithm.rsaSHA256.uri, digestMethod: XMLDigestAlgorithm.sha256.uri, c14n: Self.exc, transform: Self.exc)
        guard let signed = try xmlsecSign(t, keyPEM: TestKeys.rsa.pemRepresentation, certificate: TestKeys.rsaCertificate) else { return }
        let verified = try SAMLFixture.rsaVerifier.verifyEnveloped(signed, signedElement: .samlAssertion)
        #expect(verified.element.firstDescendantOrSelf { $0.localName == "NameID" }?.text == "alice@acme.com")
        // And tampering with xmlsec's output is caught by us.
        let tampered = String(decoding: signed, as: UTF8.self).replacingOccurrences(of: "alice@acme.com", with: "admin@acme.com")
        expectXMLError(.digestMismatch) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(tampered.utf8), signedElement: .samlAssertion) }
    }

    @Test func weVerifyXmlsecRSASHA512InclusiveC14N() throws {
        // Inclusive c14n of the subset pulls the Response's namespace declarations into the assertion.
        let t = Self.template(
            signatureMethod: XMLSignatureAlgorithm.rsaSHA512.uri, digestMethod: XMLDigestAlgorithm.sha512.uri, c14n: Self.inc, transform: Self.inc)
        guard let signed = try xmlsecSign(t, keyPEM: TestKeys.rsa.pemRepresentation, certificate: TestKeys.rsaCertificate) else { return }
        let verified = try SAMLFixture.rsaVerifier.verifyEnveloped(signed, signedElement: .samlAssertion)
        #expect(verified.signatureAlgorithm == .rsaSHA512)
        #expect(verified.element.namespaceDeclarations.contains { $0.prefix == "samlp" })
    }

    @Test func weVerifyXmlsecECDSASHA256() throws {
        let t = Self.template(
            signatureMethod: XMLSignatureAlgorithm.ecdsaSHA256.uri, digestMethod: XMLDigestAlgorithm.sha256.uri, c14n: Self.exc, transform: Self.exc)
        guard let signed = try xmlsecSign(t, keyPEM: TestKeys.p256.pemRepresentation, certificate: TestKeys.p256Certificate) else { return }
        let verifier = XMLSignatureVerifier(trustedKeys: [.p256(TestKeys.p256.publicKey)])
        #expect(try verifier.verifyEnveloped(signed, signedElement: .samlAssertion).signatureAlgorithm == .ecdsaSHA256)
    }

    @Test func xmlsecSHA1SignatureNeedsTheInsecureOptIn() throws {
        let t = Self.template(
            signatureMethod: XMLSignatureAlgorithm.insecureRSASHA1.uri, digestMethod: XMLDigestAlgorithm.insecureSHA1.uri, c14n: Self.exc, transform: Self.exc)
        guard let signed = try xmlsecSign(t, keyPEM: TestKeys.rsa.pemRepresentation, certificate: TestKeys.rsaCertificate) else { return }
        expectXMLError(.algorithmNotAllowed) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(signed, signedElement: .samlAssertion) }
        let insecure = XMLSignatureVerifier(trustedKeys: [.rsa(TestKeys.rsa.publicKey)], options: .init(allowInsecureSHA1: true))
        #expect(try insecure.verifyEnveloped(signed, signedElement: .samlAssertion).signatureAlgorithm == .insecureRSASHA1)
    }

    @Test func xmlsecSignedWithAnotherKeyIsRejectedByUs() throws {
        let t = Self.template(
            signatureMethod: XMLSignatureAlgorithm.rsaSHA256.uri, digestMethod: XMLDigestAlgorithm.sha256.uri, c14n: Self.exc, transform: Self.exc)
        guard let signed = try xmlsecSign(t, keyPEM: TestKeys.otherRSA.pemRepresentation, certificate: TestKeys.otherRSACertificate) else { return }
        expectXMLError(.signatureInvalid) { _ = try SAMLFixture.rsaVerifier.verifyEnveloped(signed, signedElement: .samlAssertion) }
    }
}
