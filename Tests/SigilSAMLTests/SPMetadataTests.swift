import Foundation
import SigilSAML
import SigilXML
import Testing

@Suite("SP metadata and signed-request tampering")
struct SPMetadataTests {
    /// Shaped like pysaml2's generated SP metadata (prefixes ns0/ns2, an Extensions block).
    static let metadata = """
        <ns0:EntityDescriptor xmlns:ns0="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ns2="http://www.w3.org/2000/09/xmldsig#" entityID="http://127.0.0.1:9/sp/metadata"><ns0:Extensions/><ns0:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><ns0:KeyDescriptor use="encryption"><ns2:KeyInfo><ns2:X509Data><ns2:X509Certificate>RU5D</ns2:X509Certificate></ns2:X509Data></ns2:KeyInfo></ns0:KeyDescriptor><ns0:KeyDescriptor use="signing"><ns2:KeyInfo><ns2:X509Data><ns2:X509Certificate>
        U0lH
        </ns2:X509Certificate></ns2:X509Data></ns2:KeyInfo></ns0:KeyDescriptor><ns0:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://127.0.0.1:9/slo"/><ns0:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</ns0:NameIDFormat><ns0:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://127.0.0.1:9/acs" index="1"/><ns0:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="http://127.0.0.1:9/art" index="2"/></ns0:SPSSODescriptor></ns0:EntityDescriptor>
        """

    @Test func readsWhatRegistrationNeeds() throws {
        let m = try SPMetadata.parse(Array(Self.metadata.utf8))
        #expect(m.entityID == "http://127.0.0.1:9/sp/metadata")
        #expect(m.assertionConsumerServices.map(\.location) == ["http://127.0.0.1:9/acs", "http://127.0.0.1:9/art"])
        #expect(m.assertionConsumerServices.first?.index == 1)
        #expect(m.singleLogoutServices.first?.location == "http://127.0.0.1:9/slo")
        #expect(m.signingCertificatePEM == "-----BEGIN CERTIFICATE-----\nU0lH\n-----END CERTIFICATE-----\n")
        #expect(m.nameIDFormats == [NameIDFormat.emailAddress.rawValue])
        #expect(m.authnRequestsSigned && m.wantAssertionsSigned)
    }

    @Test func refusesDTDsAndNonSPMetadata() {
        #expect(throws: SAMLError(.malformed, "")) {
            try SPMetadata.parse(Array("<!DOCTYPE x [<!ENTITY a \"b\">]><x/>".utf8))
        }
        #expect(throws: SAMLError(.unsupported, "")) {
            try SPMetadata.parse(
                Array(
                    #"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><md:IDPSSODescriptor protocolSupportEnumeration="p"/></md:EntityDescriptor>"#
                        .utf8))
        }
    }

    /// A POST-signed AuthnRequest whose ACS URL is changed after signing (to another registered
    /// ACS) is refused, and nothing is sent to the SP.
    @Test func tamperedSignedRequestIsRefused() throws {
        let sp = try TestKey()
        let validator = AuthnRequestValidator(ssoURLs: [ssoURL])
        let signed = try sp.signer.signEnveloped(try XMLDocumentParser.parse(authnRequestXML()), elementID: "_req1").serialized()
        let provider = serviceProvider(cert: sp.pem, requireSigned: true)
        let twoACS = SAMLServiceProvider(
            entityID: provider.entityID,
            acs: provider.acs + [.init(url: "https://sp.example.com/other", binding: .httpPOST, index: 1, isDefault: false)],
            nameIDFormat: provider.nameIDFormat, certificatePEM: sp.pem, requireSignedRequests: true)
        let tampered = String(decoding: signed, as: UTF8.self).replacingOccurrences(of: "https://sp.example.com/acs", with: "https://sp.example.com/other")
        let result = validator.validate(SAMLInboundMessage(xml: Array(tampered.utf8), relayState: nil, binding: .post), now: now) { _ in twoACS }
        guard case .failure(let f) = result else { Issue.record("a tampered request was accepted"); return }
        #expect(f.error.code == .signatureInvalid)
        #expect(f.respondTo == nil)
    }
}
