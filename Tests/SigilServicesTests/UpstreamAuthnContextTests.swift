import Testing

@testable import SigilServices

/// What a downstream SAML SP is told about how the person signed in (AuthnContextClassRef).
@Suite struct UpstreamAuthnContextTests {
    @Test func theUpstreamIdPsClassPassesThroughOnlyForFederatedSessions() {
        let ppt = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        #expect(SAMLIdentityProviderService.authnContextClass(amr: ["fed"], acr: ppt) == ppt)
        // A passkey session never claims a SAML class it did not use; the authenticator keeps its own.
        #expect(SAMLIdentityProviderService.authnContextClass(amr: ["hwk", "user", "mfa", "phr"], acr: "phrh").hasSuffix(":unspecified"))
        #expect(SAMLIdentityProviderService.authnContextClass(amr: ["mca", "mfa"], acr: "urn:sigil:acr:authenticator").hasSuffix(":MobileTwoFactorContract"))
        // An OIDC upstream's acr is not a SAML class: unspecified.
        #expect(SAMLIdentityProviderService.authnContextClass(amr: ["fed"], acr: "urn:sigil:acr:upstream").hasSuffix(":unspecified"))
    }
}
