import Foundation
import SigilCore
import SigilSAML
import SigilServices
import SigilStore
import Testing

/// `SAMLIdentityProviderService` without HTTP: SP settings read from metadata. The flows' single
/// transaction per step is in `FlowTransactionTests`.
@Suite struct SAMLIdentityProviderServiceTests {
    @Test func metadataOfferingOnlyRedirectLogoutIsRegisteredAsRedirect() throws {
        func metadata(_ slo: String) -> [UInt8] {
            Array(
                """
                <md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/meta"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\(slo)<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1"/></md:SPSSODescriptor></md:EntityDescriptor>
                """.utf8)
        }
        let redirectOnly = try SAMLIdentityProviderService.settings(
            fromMetadata: metadata(
                #"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/?sls"/>"#))
        #expect(redirectOnly.singleLogoutURL == "https://sp.example/?sls" && redirectOnly.logoutBinding == .redirect)
        let both = try SAMLIdentityProviderService.settings(
            fromMetadata: metadata(
                #"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/slo-r"/><md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/slo-p"/>"#
            ))
        #expect(both.singleLogoutURL == "https://sp.example/slo-p" && both.logoutBinding == .post)
        let soapOnly = try SAMLIdentityProviderService.settings(
            fromMetadata: metadata(
                #"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://sp.example/soap"/>"#))
        #expect(soapOnly.singleLogoutURL == nil)
    }
}
