import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilHTTP
import SigilJOSE
import SigilSAML
import SigilServices
import SigilStore
import SigilXML
import Testing
import X509
import _CryptoExtras

/// The IdP end to end in process: SP-initiated SSO over both bindings, resume after login,
/// IdP-initiated SSO, SLO, metadata, and the named attacks.
@Suite("SAML identity provider")
struct SAMLIdPTests {
    static let spEntityID = "https://sp.example.net/metadata"
    static let acs = "https://sp.example.net/acs"
    static let issuer = "https://id.example.com"
    static let sso = "https://id.example.com/saml/sso"
    static let cookieName = "__Host-sigil_session_default"

    struct SPKey {
        let key: _RSA.Signing.PrivateKey
        let pem: String
        init() throws {
            let material = try SigningKeyMaterial.generate(.rs256)
            key = try _RSA.Signing.PrivateKey(derRepresentation: material.privateKeyDER.value)
            pem = try SigningCertificate.make(
                for: material, commonName: "sp", serialNumber: Array(repeating: 9, count: 16),
                notBefore: Date().addingTimeInterval(-60), notAfter: Date().addingTimeInterval(86_400))
        }
    }

    struct Fixture {
        let h: Harness
        let tenant: Tenant
        let user: User
        let cookie: String
        let app: SigilStore.Application
    }

    static func fixture(
        _ h: Harness, certificate: String? = nil, requireSigned: Bool? = nil,
        signing: SAMLServiceProviderSettings.Signing = .both, sloURL: String? = nil
    ) async throws -> Fixture {
        let tenant = try await h.defaultTenant()
        let user = try await h.services.users.create(tenantID: tenant.id, .init(email: "ada@example.com", givenName: "Ada", familyName: "Lovelace"), by: .cli)
        let (_, cookie) = try await h.services.sessions.start(tenantID: tenant.id, userID: user.id, amr: ["hwk", "user", "mfa", "phr"], acr: "phrh")
        let app = try await h.services.applications.createSAML(
            tenantID: tenant.id,
            .init(
                name: "SP",
                settings: SAMLServiceProviderSettings(
                    entityID: spEntityID, assertionConsumerServices: [.init(url: acs, isDefault: true)], singleLogoutURL: sloURL,
                    signing: signing, certificatePEM: certificate, wantAuthnRequestsSigned: requireSigned)), by: .cli)
        return Fixture(h: h, tenant: tenant, user: user, cookie: cookie.value, app: app)
    }

    static func request(
        id: String = "_r\(UUID().uuidString.prefix(8))", issuer: String = spEntityID, acs: String = acs,
        instant: Date = Date(), destination: String = sso, attributes extra: String = "", body: String = "",
        prolog: String = ""
    ) -> [UInt8] {
        Array(
            """
            \(prolog)<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="\(id)" Version="2.0" IssueInstant="\(SAMLTime.format(instant))" Destination="\(destination)" AssertionConsumerServiceURL="\(acs)" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"\(extra)><saml:Issuer>\(issuer)</saml:Issuer>\(body)</samlp:AuthnRequest>
            """.utf8)
    }

    static func redirect(_ f: Fixture, _ xml: [UInt8], key: _RSA.Signing.PrivateKey? = nil, signedIn: Bool = true) async throws -> TestResponse {
        let query = try SAMLRedirectBinding.encode(xml, relayState: "rs-1", signingKey: key)
        return try await f.h.request(.get, "/saml/sso?" + query, headers: signedIn ? [.cookie: "\(cookieName)=\(f.cookie)"] : [:])
    }

    static func post(_ f: Fixture, _ xml: [UInt8], signedIn: Bool = false) async throws -> TestResponse {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = "SAMLRequest=" + Data(xml).base64EncodedString().addingPercentEncoding(withAllowedCharacters: allowed)! + "&RelayState=rs-2"
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if signedIn { headers[.cookie] = "\(cookieName)=\(f.cookie)" }
        return try await f.h.client.execute(uri: "/saml/sso", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// The auto-submit form's action and SAMLResponse, decoded.
    static func form(_ response: TestResponse) throws -> (action: String, xml: [UInt8], relayState: String?) {
        #expect(response.status == .ok, "body: \(response.text)")
        let html = response.text
        func value(after marker: String) -> String? {
            guard let r = html.range(of: marker) else { return nil }
            let rest = html[r.upperBound...]
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
        let action = try #require(value(after: "action=\""))
        let b64 = try #require(value(after: "name=\"SAMLResponse\" value=\""))
        let xml = try #require(Data(base64Encoded: b64))
        return (action.replacingOccurrences(of: "&amp;", with: "&"), Array(xml), value(after: "name=\"RelayState\" value=\""))
    }

    static func verifier(_ f: Fixture) async throws -> XMLSignatureVerifier {
        let pem = try await f.h.services.keys.currentCertificatePEM(tenantID: f.tenant.id)
        return try XMLSignatureVerifier(trustedCertificates: [try Certificate(pemEncoded: pem)])
    }

    static func statusCodes(_ root: DOMElement) -> [String] {
        var codes: [String] = []
        var e = root.firstChild(named: "Status", namespaceURI: SAML.protocolNamespace)?.firstChild(named: "StatusCode", namespaceURI: SAML.protocolNamespace)
        while let c = e { codes.append(c.attribute("Value") ?? ""); e = c.firstChild(named: "StatusCode", namespaceURI: SAML.protocolNamespace) }
        return codes
    }

    static func failures(_ f: Fixture) async throws -> [AuditEvent] {
        try await f.h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 100)).items.filter { $0.action == "saml.sso.rejected" }
    }

    @Test func metadataIsTheEntityID() async throws {
        try await Harness.run { h in
            let response = try await h.request(.get, "/saml/metadata")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/samlmetadata+xml")
            let root = try XMLDocumentParser.parse(Array(response.text.utf8)).root
            #expect(root.attribute("entityID") == "https://id.example.com/saml/metadata")
            #expect(response.text.contains("Location=\"https://id.example.com/saml/sso\""))
            #expect(try await h.request(.get, "/saml/metadata.xml").status == .ok)
            let signed = try await h.request(.get, "/saml/metadata?signed=1")
            let tenant = try await h.defaultTenant()
            let pem = try await h.services.keys.currentCertificatePEM(tenantID: tenant.id)
            _ = try XMLSignatureVerifier(trustedCertificates: [try Certificate(pemEncoded: pem)]).verifyEnveloped(Array(signed.text.utf8))
        }
    }

    @Test func redirectBindingSignedInAnswersAtOnce() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let (action, xml, relay) = try Self.form(try await Self.redirect(f, Self.request(id: "_abc")))
            #expect(action == Self.acs)
            #expect(relay == "rs-1")
            let verifier = try await Self.verifier(f)
            let response = try verifier.verifyEnveloped(xml)
            #expect(response.element.attribute("InResponseTo") == "_abc")
            #expect(Self.statusCodes(response.element) == [SAMLStatus.successCode])
            let assertion = try verifier.verifyEnveloped(response.canonicalBytes, signedElement: .samlAssertion).element
            let text = String(decoding: assertion.serialized(), as: UTF8.self)
            #expect(text.contains(">ada@example.com</saml:NameID>"))
            #expect(text.contains("Name=\"firstName\""))
            #expect(text.contains("Name=\"session.amr\""))
            #expect(text.contains(SAML.AuthnContextClass.unspecified))
            #expect(!text.contains("PasswordProtectedTransport"))
        }
    }

    @Test func postBindingGoesThroughLoginAndResumes() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            // Cross-site POST: the Lax session cookie is not sent, so the browser is sent to /login.
            let first = try await Self.post(f, Self.request(id: "_post1"))
            #expect(first.status == .seeOther)
            let location = try #require(first.headers[.location])
            #expect(location.hasPrefix("/login?return_to=/saml/sso/continue%3Ft%3D"))
            let returnTo = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "return_to" }?.value)
            // Without a session the resume step sends the browser back to login.
            #expect(try await h.request(.get, returnTo).status == .seeOther)
            let resumed = try await h.request(.get, returnTo, headers: [.cookie: "\(Self.cookieName)=\(f.cookie)"])
            let (action, xml, relay) = try Self.form(resumed)
            #expect(action == Self.acs)
            #expect(relay == "rs-2")
            #expect(resumed.headers[.contentSecurityPolicy]?.contains("form-action 'self' https:") == true)
            #expect(resumed.text.contains("data-auto-submit"))
            let response = try await Self.verifier(f).verifyEnveloped(xml)
            #expect(response.element.attribute("InResponseTo") == "_post1")
            // The same browser opening the link again (a reload, a second sign-in) gets the answer again;
            // without a session it is refused (AttackRegressionTests covers other users and late arrivals).
            let again = try await h.request(.get, returnTo, headers: [.cookie: "\(Self.cookieName)=\(f.cookie)"])
            #expect(try await Self.verifier(f).verifyEnveloped(try Self.form(again).xml).element.attribute("InResponseTo") == "_post1")
            #expect(try await h.request(.get, returnTo).status == .badRequest)
            // A wrong resume key is refused.
            let forged = returnTo.replacingOccurrences(of: "&k=", with: "&k=x")
            #expect(try await h.request(.get, forged, headers: [.cookie: "\(Self.cookieName)=\(f.cookie)"]).status == .badRequest)
        }
    }

    @Test func forceAuthnSendsToLoginWithPrompt() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let r = try await Self.redirect(f, Self.request(attributes: " ForceAuthn=\"true\""))
            #expect(r.status == .seeOther)
            #expect(r.headers[.location]?.hasSuffix("&prompt=login") == true)
        }
    }

    @Test func isPassiveWithoutSessionGetsNoPassive() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let (_, xml, _) = try Self.form(try await Self.redirect(f, Self.request(attributes: " IsPassive=\"true\""), signedIn: false))
            let root = try await Self.verifier(f).verifyEnveloped(xml).element
            #expect(Self.statusCodes(root) == [SAMLStatus.responderCode, "urn:oasis:names:tc:SAML:2.0:status:NoPassive"])
        }
    }

    @Test func idpInitiated() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h, signing: .assertion)
            let anonymous = try await h.request(.get, "/saml/idp-initiated?sp=\(Self.spEntityID)")
            #expect(anonymous.status == .seeOther)
            let r = try await h.request(
                .get, "/saml/idp-initiated?sp=https%3A%2F%2Fsp.example.net%2Fmetadata&RelayState=home",
                headers: [.cookie: "\(Self.cookieName)=\(f.cookie)"])
            let (action, xml, relay) = try Self.form(r)
            #expect(action == Self.acs && relay == "home")
            let assertion = try await Self.verifier(f).verifyEnveloped(xml, signedElement: .samlAssertion)
            #expect(!String(decoding: xml, as: UTF8.self).contains("InResponseTo"))
            #expect(assertion.element.localName == "Assertion")
            let unknown = try await h.request(.get, "/saml/idp-initiated?sp=urn:nope", headers: [.cookie: "\(Self.cookieName)=\(f.cookie)"])
            #expect(unknown.status == .badRequest)
        }
    }

    @Test func singleLogoutEndsTheSession() async throws {
        try await Harness.run { h in
            let sp = try SPKey()
            let f = try await Self.fixture(h, certificate: sp.pem, sloURL: "https://sp.example.net/slo")
            // Sign in to the SP first: the LogoutRequest must name what this session gave it.
            _ = try Self.form(try await Self.redirect(f, Self.request(), key: sp.key))
            func logout(_ id: String) -> [UInt8] {
                Array(
                    """
                    <samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="\(id)" Version="2.0" IssueInstant="\(SAMLTime.format(Date()))" Destination="https://id.example.com/saml/slo"><saml:Issuer>\(Self.spEntityID)</saml:Issuer><saml:NameID>ada@example.com</saml:NameID></samlp:LogoutRequest>
                    """.utf8)
            }
            // Unsigned: refused, the session stays (no logout CSRF).
            let unsigned = try await h.request(
                .get, "/saml/slo?" + (try SAMLRedirectBinding.encode(logout("_lo0"), relayState: nil)),
                headers: [.cookie: "\(Self.cookieName)=\(f.cookie)"])
            #expect(unsigned.status == .badRequest)
            #expect(try await h.services.sessions.resolve(cookie: f.cookie, tenantID: f.tenant.id) != nil)
            let query = try SAMLRedirectBinding.encode(logout("_lo1"), relayState: nil, signingKey: sp.key)
            let r = try await h.request(.get, "/saml/slo?" + query, headers: [.cookie: "\(Self.cookieName)=\(f.cookie)"])
            let (action, xml, _) = try Self.form(r)
            #expect(action == "https://sp.example.net/slo")
            let root = try await Self.verifier(f).verifyEnveloped(xml).element
            #expect(root.localName == "LogoutResponse" && root.attribute("InResponseTo") == "_lo1")
            #expect(Self.statusCodes(root) == [SAMLStatus.successCode])
            #expect(try await h.services.sessions.resolve(cookie: f.cookie, tenantID: f.tenant.id) == nil)
        }
    }

    // MARK: named attacks

    @Test func attackUnsignedRequestWhenSPRequiresSigned() async throws {
        try await Harness.run { h in
            let sp = try SPKey()
            let f = try await Self.fixture(h, certificate: sp.pem, requireSigned: true)
            // Unsigned: nothing in it can be trusted, so nothing goes to the SP; an error page.
            let unsigned = try await Self.redirect(f, Self.request())
            #expect(unsigned.status == .badRequest)
            #expect(!unsigned.text.contains("SAMLResponse"))
            #expect(try await Self.failures(f).contains { $0.reason?.contains("signatureRequired") == true })
            #expect(try await Self.post(f, Self.request(), signedIn: true).status == .badRequest)
            // Signed with the SP's key: accepted. Signed with another key: refused.
            let ok = try Self.form(try await Self.redirect(f, Self.request(), key: sp.key))
            #expect(Self.statusCodes(try await Self.verifier(f).verifyEnveloped(ok.xml).element) == [SAMLStatus.successCode])
            let other = try SPKey()
            let bad = try await Self.redirect(f, Self.request(), key: other.key)
            #expect(bad.status == .badRequest && !bad.text.contains("SAMLResponse"))
            #expect(try await Self.failures(f).contains { $0.reason?.contains("signatureInvalid") == true })
        }
    }

    @Test func attackReplayedRequestID() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let xml = Self.request(id: "_replay")
            let first = try Self.form(try await Self.redirect(f, xml))
            #expect(Self.statusCodes(try await Self.verifier(f).verifyEnveloped(first.xml).element) == [SAMLStatus.successCode])
            let second = try Self.form(try await Self.redirect(f, xml))
            let root = try await Self.verifier(f).verifyEnveloped(second.xml).element
            #expect(Self.statusCodes(root) == [SAMLStatus.requesterCode, "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"])
            #expect(try await Self.failures(f).contains { $0.reason?.contains("replayed") == true })
        }
    }

    @Test func attackUnknownIssuer() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let r = try await Self.redirect(f, Self.request(issuer: "https://evil.example/metadata"))
            #expect(r.status == .badRequest)
            #expect(!r.text.contains("SAMLResponse"))
            #expect(try await Self.failures(f).contains { $0.reason?.contains("unknownIssuer") == true })
        }
    }

    @Test func attackUnregisteredACS() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let r = try await Self.redirect(f, Self.request(acs: "https://evil.example/acs"))
            #expect(r.status == .badRequest)
            #expect(!r.text.contains("evil.example"))
            #expect(try await Self.failures(f).contains { $0.reason?.contains("unregisteredACS") == true })
        }
    }

    @Test func attackStaleIssueInstant() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let (_, xml, _) = try Self.form(try await Self.redirect(f, Self.request(instant: Date().addingTimeInterval(-600))))
            let root = try await Self.verifier(f).verifyEnveloped(xml).element
            #expect(Self.statusCodes(root) == [SAMLStatus.requesterCode, "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"])
            #expect(try await Self.failures(f).contains { $0.reason?.contains("staleRequest") == true })
        }
    }

    @Test func attackDTDInRequest() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let prolog = "<!DOCTYPE samlp:AuthnRequest [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
            for response in [try await Self.redirect(f, Self.request(prolog: prolog)), try await Self.post(f, Self.request(prolog: prolog), signedIn: true)] {
                #expect(response.status == .badRequest)
                #expect(!response.text.contains("SAMLResponse"))
            }
            #expect(try await Self.failures(f).filter { $0.reason?.contains("malformed") == true }.count >= 2)
        }
    }

    @Test func attackWrongDestination() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let (_, xml, _) = try Self.form(try await Self.redirect(f, Self.request(destination: "https://other-idp.example/sso")))
            #expect(Self.statusCodes(try await Self.verifier(f).verifyEnveloped(xml).element).first == SAMLStatus.requesterCode)
        }
    }
}
