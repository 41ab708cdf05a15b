import Crypto
import Foundation
import Testing
import X509
import _CryptoExtras

@testable import SigilXML

@Suite("XML-DSig sign and verify")
struct XMLSignatureTests {
    @Test func rsaRoundTripReturnsTheSignedAssertion() throws {
        let signed = try SAMLFixture.signedAssertion()
        let verified = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(signed.utf8), signedElement: .samlAssertion)
        #expect(verified.id == "_a1")
        #expect(verified.signatureAlgorithm == .rsaSHA256)
        #expect(verified.digestAlgorithm == .sha256)
        #expect(verified.element.localName == "Assertion")
        #expect(verified.element.namespaceURI == SAMLFixture.assertionNS)
        // The rebuilt element declares what it uses (exclusive c14n pulled `saml` down) and has no signature.
        #expect(verified.element.namespaceDeclarations.contains(DOMNamespaceDeclaration(prefix: "saml", uri: SAMLFixture.assertionNS)))
        #expect(verified.element.childElements(named: "Signature", namespaceURI: XMLNamespace.dsig).isEmpty)
        #expect(verified.element.firstDescendantOrSelf { $0.localName == "NameID" }?.text == "alice@acme.com")
    }

    @Test func signatureIsPlacedRightAfterIssuer() throws {
        let doc = try SAMLFixture.parse(try SAMLFixture.signedAssertion())
        let assertion = try #require(doc.root.firstChild(named: "Assertion", namespaceURI: SAMLFixture.assertionNS))
        let names = assertion.childElements.map(\.localName)
        #expect(names.prefix(3) == ["Issuer", "Signature", "Subject"])
        let signature = try #require(assertion.firstChild(named: "Signature", namespaceURI: XMLNamespace.dsig))
        #expect(signature.firstDescendantOrSelf { $0.localName == "X509Certificate" } != nil)
    }

    @Test func p256RoundTripUsesRawRS() throws {
        let signed = try SAMLFixture.signedAssertion(key: .p256(TestKeys.p256), certificate: TestKeys.p256Certificate)
        let verifier = try XMLSignatureVerifier(trustedCertificates: [TestKeys.p256Certificate])
        let verified = try verifier.verifyEnveloped(Data(signed.utf8), signedElement: .samlAssertion)
        #expect(verified.signatureAlgorithm == .ecdsaSHA256)
        let doc = try SAMLFixture.parse(signed)
        let value = try #require(doc.root.firstDescendantOrSelf { $0.localName == "SignatureValue" })
        #expect(Data(base64Encoded: value.text)?.count == 64)
    }

    @Test func trustedCertificateAmongSeveral() throws {
        let signed = try SAMLFixture.signedAssertion()
        let verifier = try XMLSignatureVerifier(trustedCertificates: [TestKeys.otherRSACertificate, TestKeys.p256Certificate, TestKeys.rsaCertificate])
        #expect(try verifier.verifyEnveloped(Data(signed.utf8), signedElement: .samlAssertion).keyIndex == 2)
    }

    @Test func responseAndAssertionBothSigned() throws {
        let doc = try SAMLFixture.parse(try SAMLFixture.signedAssertion())
        let signer = XMLSigner(key: .rsa(TestKeys.rsa), certificate: TestKeys.rsaCertificate)
        let both = try signer.signEnveloped(doc, elementID: "_r1")
        let bytes = both.serialized()
        let response = try SAMLFixture.rsaVerifier.verifyEnveloped(bytes, signedElement: .root)
        #expect(response.element.localName == "Response")
        let assertion = try SAMLFixture.rsaVerifier.verifyEnveloped(response.canonicalBytes, signedElement: .samlAssertion)
        #expect(assertion.element.firstDescendantOrSelf { $0.localName == "NameID" }?.text == "alice@acme.com")
        // And the assertion directly in the original document.
        _ = try SAMLFixture.rsaVerifier.verifyEnveloped(bytes, signedElement: .samlAssertion)
    }

    @Test func standaloneElementSigning() throws {
        let element = try XMLDocumentParser.parseElement(
            Data(
                #"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_m" entityID="https://idp.example"><md:IDPSSODescriptor/></md:EntityDescriptor>"#
                    .utf8))
        let signed = try XMLSigner(key: .rsa(TestKeys.rsa)).signEnveloped(element, placement: .firstChild)
        let verified = try SAMLFixture.rsaVerifier.verifyEnveloped(DOMDocument(root: signed).serialized())
        #expect(verified.element.attribute("entityID") == "https://idp.example")
    }

    @Test func inclusivePrefixListRoundTrip() throws {
        let signed = try SAMLFixture.signedAssertion(inclusivePrefixes: ["xs"])
        #expect(signed.contains(#"PrefixList="xs""#))
        let verified = try SAMLFixture.rsaVerifier.verifyEnveloped(Data(signed.utf8), signedElement: .samlAssertion)
        #expect(verified.element.namespaceDeclarations.contains(DOMNamespaceDeclaration(prefix: "xs", uri: "http://www.w3.org/2001/XMLSchema")))
    }

    @Test func signingRefusesDuplicateIDsAndMissingElement() throws {
        let doc = try SAMLFixture.parse(SAMLFixture.response(assertionID: "_same", responseID: "_same"))
        let signer = XMLSigner(key: .rsa(TestKeys.rsa))
        expectXMLError(.duplicateID) { _ = try signer.signEnveloped(doc, elementID: "_same") }
        let ok = try SAMLFixture.parse(SAMLFixture.response())
        expectXMLError(.elementNotFound) { _ = try signer.signEnveloped(ok, elementID: "_nope") }
    }

    @Test func verifierWithoutKeysRefuses() throws {
        let signed = try SAMLFixture.signedAssertion()
        expectXMLError(.unsupportedKey) { _ = try XMLSignatureVerifier(trustedKeys: []).verifyEnveloped(Data(signed.utf8), signedElement: .samlAssertion) }
    }
}
