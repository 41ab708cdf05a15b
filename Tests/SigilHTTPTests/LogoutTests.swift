import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilHTTP
import SigilJOSE
import SigilOAuth
import SigilSAML
import SigilServices
import SigilStore
import SigilXML
import Testing
import X509
import _CryptoExtras

/// Logout across a session's relying parties: SAML Single Logout (every rejection leaves the
/// session alone; propagation to the other SPs; the initiator's LogoutResponse) and OpenID
/// Connect Back-Channel Logout.
@Suite("Logout")
struct LogoutTests {
    static let cookieName = SAMLIdPTests.cookieName
    static let slo = "https://id.example.com/saml/slo"

    struct SP {
        let entityID: String
        let sloURL: String
        let key: SAMLIdPTests.SPKey
        let app: SigilStore.Application
        /// What the SSO response told this SP.
        var nameID = ""
        var sessionIndex = ""
    }

    struct World {
        let h: Harness
        let tenant: Tenant
        let user: User
        var cookie: String
        var a: SP
        var b: SP
        var cookieHeader: HTTPFields { [.cookie: "\(LogoutTests.cookieName)=\(cookie)"] }
    }

    static func register(_ h: Harness, _ tenant: Tenant, name: String) async throws -> SP {
        let key = try SAMLIdPTests.SPKey()
        let entityID = "https://\(name).example.net/metadata"
        let app = try await h.services.applications.createSAML(
            tenantID: tenant.id,
            .init(
                name: name,
                settings: SAMLServiceProviderSettings(
                    entityID: entityID, assertionConsumerServices: [.init(url: "https://\(name).example.net/acs", isDefault: true)],
                    singleLogoutURL: "https://\(name).example.net/slo", certificatePEM: key.pem)), by: .cli)
        return SP(entityID: entityID, sloURL: "https://\(name).example.net/slo", key: key, app: app)
    }

    /// SSO into `sp` with the world's session; records what it was given.
    static func signIn(_ w: World, _ sp: inout SP) async throws {
        let request = Array(
            """
            <samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a\(UUID().uuidString.prefix(8))" Version="2.0" IssueInstant="\(SAMLTime.format(Date()))" Destination="\(SAMLIdPTests.sso)"><saml:Issuer>\(sp.entityID)</saml:Issuer></samlp:AuthnRequest>
            """.utf8)
        let query = try SAMLRedirectBinding.encode(request, relayState: nil, signingKey: sp.key.key)
        let (_, xml, _) = try SAMLIdPTests.form(try await w.h.request(.get, "/saml/sso?" + query, headers: w.cookieHeader))
        let pem = try await w.h.services.keys.currentCertificatePEM(tenantID: w.tenant.id)
        let verifier = try XMLSignatureVerifier(trustedCertificates: [try Certificate(pemEncoded: pem)])
        let assertion = try verifier.verifyEnveloped(xml, signedElement: .samlAssertion).element
        sp.nameID = try #require(
            assertion.firstChild(named: "Subject", namespaceURI: SAML.assertionNamespace)?
                .firstChild(named: "NameID", namespaceURI: SAML.assertionNamespace)?.textContent)
        sp.sessionIndex = try #require(assertion.firstChild(named: "AuthnStatement", namespaceURI: SAML.assertionNamespace)?.attribute("SessionIndex"))
    }

    static func world(_ h: Harness) async throws -> World {
        let tenant = try await h.defaultTenant()
        let user = try await h.services.users.create(tenantID: tenant.id, .init(email: "ada@example.com", givenName: "Ada", familyName: "Lovelace"), by: .cli)
        let (_, cookie) = try await h.services.sessions.start(tenantID: tenant.id, userID: user.id, amr: ["hwk", "user"], acr: "phrh")
        var w = World(
            h: h, tenant: tenant, user: user, cookie: cookie.value, a: try await register(h, tenant, name: "spa"),
            b: try await register(h, tenant, name: "spb"))
        var a = w.a, b = w.b
        try await signIn(w, &a)
        try await signIn(w, &b)
        w.a = a
        w.b = b
        return w
    }

    static func logoutRequest(
        _ sp: SP, id: String = "_lo\(UUID().uuidString.prefix(8))", issuer: String? = nil, nameID: String? = nil,
        sessionIndex: String? = nil, destination: String = slo, instant: Date = Date()
    ) -> [UInt8] {
        Array(
            """
            <samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="\(id)" Version="2.0" IssueInstant="\(SAMLTime.format(instant))" Destination="\(destination)"><saml:Issuer>\(issuer ?? sp.entityID)</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">\(nameID ?? sp.nameID)</saml:NameID><samlp:SessionIndex>\(sessionIndex ?? sp.sessionIndex)</samlp:SessionIndex></samlp:LogoutRequest>
            """.utf8)
    }

    static func redirect(
        _ w: World, _ xml: [UInt8], key: _RSA.Signing.PrivateKey?, relayState: String? = "rs-lo",
        parameter: String = "SAMLRequest"
    ) async throws -> TestResponse {
        let query = try SAMLRedirectBinding.encode(xml, parameter: parameter, relayState: relayState, signingKey: key)
        return try await w.h.request(.get, "/saml/slo?" + query, headers: w.cookieHeader)
    }

    static func post(
        _ w: World, _ xml: [UInt8], field: String = "SAMLRequest", relayState: String? = "rs-lo",
        withCookie: Bool = true
    ) async throws -> TestResponse {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        var body = field + "=" + Data(xml).base64EncodedString().addingPercentEncoding(withAllowedCharacters: allowed)!
        if let relayState { body += "&RelayState=" + relayState.addingPercentEncoding(withAllowedCharacters: allowed)! }
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if withCookie { headers[.cookie] = "\(cookieName)=\(w.cookie)" }
        return try await w.h.client.execute(uri: "/saml/slo", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// Signs a message with an enveloped XML signature (HTTP-POST binding).
    static func envelope(_ xml: [UInt8], key: SAMLIdPTests.SPKey) throws -> [UInt8] {
        let document = try XMLDocumentParser.parse(xml)
        let signer = XMLSigner(key: .rsa(key.key), certificate: try Certificate(pemEncoded: key.pem))
        return try signer.signEnveloped(document, elementID: document.root.attribute("ID")!).serialized()
    }

    /// The auto-posted form: action, field, decoded XML, RelayState.
    static func form(_ r: TestResponse) throws -> (action: String, field: String, xml: [UInt8], relayState: String?) {
        #expect(r.status == .ok, "body: \(r.text)")
        let html = r.text
        func value(after marker: String) -> String? {
            guard let range = html.range(of: marker) else { return nil }
            let rest = html[range.upperBound...]
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
        let action = try #require(value(after: "action=\""))
        let field = html.contains(#"name="SAMLRequest""#) ? "SAMLRequest" : "SAMLResponse"
        let b64 = try #require(value(after: "name=\"\(field)\" value=\""))
        return (action, field, Array(try #require(Data(base64Encoded: b64))), value(after: "name=\"RelayState\" value=\""))
    }

    static func idpVerified(_ w: World, _ xml: [UInt8]) async throws -> DOMElement {
        let pem = try await w.h.services.keys.currentCertificatePEM(tenantID: w.tenant.id)
        return try XMLSignatureVerifier(trustedCertificates: [try Certificate(pemEncoded: pem)]).verifyEnveloped(xml).element
    }

    static func active(_ w: World) async throws -> Bool {
        try await w.h.services.sessions.resolve(cookie: w.cookie, tenantID: w.tenant.id) != nil
    }

    static func rejections(_ w: World) async throws -> [String] {
        try await w.h.store.audit.list(tenantID: w.tenant.id, page: PageRequest(limit: 200)).items
            .filter { $0.action == "saml.slo.rejected" }.compactMap(\.reason)
    }

    /// SP B's signed LogoutResponse to the IdP's LogoutRequest.
    static func answer(_ w: World, from sp: SP, to request: [UInt8], key: SAMLIdPTests.SPKey? = nil, status: String = SAMLStatus.successCode) throws -> [UInt8]
    {
        let requestID = try XMLDocumentParser.parse(request).root.attribute("ID")!
        let xml = Array(
            """
            <samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp\(UUID().uuidString.prefix(8))" Version="2.0" IssueInstant="\(SAMLTime.format(Date()))" Destination="\(slo)" InResponseTo="\(requestID)"><saml:Issuer>\(sp.entityID)</saml:Issuer><samlp:Status><samlp:StatusCode Value="\(status)"/></samlp:Status></samlp:LogoutResponse>
            """.utf8)
        return try envelope(xml, key: key ?? sp.key)
    }

    // MARK: rejections: the session stays

    @Test func unsignedLogoutRequestIsRefusedAndTheSessionStays() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            let r = try await Self.redirect(w, Self.logoutRequest(w.a), key: nil)
            #expect(r.status == .badRequest && !r.text.contains("SAMLResponse"))
            #expect(r.headers[.setCookie] == nil)
            #expect(try await Self.active(w))
            #expect(try await Self.rejections(w).contains { $0.contains("signatureRequired") && $0.contains("session kept") })
            // Unsigned over POST too.
            let p = try await Self.post(w, Self.logoutRequest(w.a))
            #expect(p.status == .badRequest)
            #expect(try await Self.active(w))
        }
    }

    @Test func badSignatureIsRefused() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            let other = try SAMLIdPTests.SPKey()
            #expect(try await Self.redirect(w, Self.logoutRequest(w.a), key: other.key).status == .badRequest)
            // SP B's key on SP A's request.
            #expect(try await Self.redirect(w, Self.logoutRequest(w.a), key: w.b.key.key).status == .badRequest)
            #expect(try await Self.post(w, try Self.envelope(Self.logoutRequest(w.a), key: other)).status == .badRequest)
            // A signed request whose content was changed after signing.
            var tampered = String(decoding: try Self.envelope(Self.logoutRequest(w.a), key: w.a.key), as: UTF8.self)
            tampered = tampered.replacingOccurrences(of: "ada@example.com", with: "eve@example.com")
            #expect(try await Self.post(w, Array(tampered.utf8)).status == .badRequest)
            #expect(try await Self.active(w))
            #expect(try await Self.rejections(w).filter { $0.contains("signatureInvalid") }.count == 4)
        }
    }

    @Test func wrongOrUnknownIssuerIsRefused() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            let r = try await Self.redirect(w, Self.logoutRequest(w.a, issuer: "https://stranger.example/sp"), key: w.a.key.key)
            #expect(r.status == .badRequest)
            #expect(try await Self.active(w))
            #expect(try await Self.rejections(w).contains { $0.contains("unknownIssuer") })
        }
    }

    @Test func wrongDestinationAndStaleInstantAreRefused() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            #expect(try await Self.redirect(w, Self.logoutRequest(w.a, destination: "https://evil.example/slo"), key: w.a.key.key).status == .badRequest)
            #expect(try await Self.redirect(w, Self.logoutRequest(w.a, instant: Date().addingTimeInterval(-3600)), key: w.a.key.key).status == .badRequest)
            #expect(try await Self.active(w))
            let reasons = try await Self.rejections(w)
            #expect(reasons.contains { $0.contains("wrongDestination") } && reasons.contains { $0.contains("staleRequest") })
        }
    }

    @Test func mismatchedNameIDOrSessionIndexKeepsTheSession() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            for xml in [Self.logoutRequest(w.a, nameID: "eve@example.com"), Self.logoutRequest(w.a, sessionIndex: "_not-this-session")] {
                let (action, field, response, _) = try Self.form(try await Self.redirect(w, xml, key: w.a.key.key))
                #expect(action == w.a.sloURL && field == "SAMLResponse")
                let root = try await Self.idpVerified(w, response)
                #expect(SAMLIdPTests.statusCodes(root) == [SAMLStatus.requesterCode, "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"])
            }
            #expect(try await Self.active(w))
            #expect(try await Self.rejections(w).filter { $0.contains("unknownPrincipal") }.count == 2)
        }
    }

    @Test func replayedLogoutRequestIsRefused() async throws {
        try await Harness.run { h in
            var w = try await Self.world(h)
            let xml = Self.logoutRequest(w.a, id: "_once")
            let query = try SAMLRedirectBinding.encode(xml, relayState: nil, signingKey: w.a.key.key)
            // Without B's answer the chain stops at B; the first use ends the session.
            _ = try await h.request(.get, "/saml/slo?" + query, headers: w.cookieHeader)
            #expect(try await !Self.active(w))
            // A new session, the same signed request again: refused, the new session stays.
            let (_, cookie) = try await h.services.sessions.start(tenantID: w.tenant.id, userID: w.user.id, amr: ["hwk"], acr: "phrh")
            w.cookie = cookie.value
            let again = try await h.request(.get, "/saml/slo?" + query, headers: w.cookieHeader)
            #expect(again.status == .badRequest)
            #expect(try await Self.active(w))
            #expect(try await Self.rejections(w).contains { $0.contains("replayed") })
        }
    }

    // MARK: propagation

    @Test func redirectLogoutPropagatesToTheOtherSPAndAnswersTheInitiator() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            let request = Self.logoutRequest(w.a, id: "_fromA")
            let first = try Self.form(try await Self.redirect(w, request, key: w.a.key.key, relayState: "a-state"))
            // The session ended before anything was sent on; the cookie is cleared.
            #expect(try await !Self.active(w))
            // B gets a LogoutRequest signed by the IdP, naming what B was given.
            #expect(first.action == w.b.sloURL && first.field == "SAMLRequest")
            let toB = try await Self.idpVerified(w, first.xml)
            let parsed = try LogoutRequest.parse(element: toB)
            #expect(parsed.issuer == "https://id.example.com/saml/metadata" && parsed.destination == w.b.sloURL)
            #expect(parsed.nameID == w.b.nameID && parsed.sessionIndexes == [w.b.sessionIndex])
            let relay = try #require(first.relayState)
            // B answers (signed, InResponseTo); then A gets its LogoutResponse: Success.
            let last = try Self.form(try await Self.post(w, try Self.answer(w, from: w.b, to: first.xml), field: "SAMLResponse", relayState: relay))
            #expect(last.action == w.a.sloURL && last.field == "SAMLResponse" && last.relayState == "a-state")
            let toA = try await Self.idpVerified(w, last.xml)
            #expect(toA.localName == "LogoutResponse" && toA.attribute("InResponseTo") == "_fromA")
            #expect(SAMLIdPTests.statusCodes(toA) == [SAMLStatus.successCode])
            // A second answer to the same request changes nothing.
            let dup = try await Self.post(w, try Self.answer(w, from: w.b, to: first.xml), field: "SAMLResponse", relayState: relay)
            #expect(dup.status == .ok && !dup.text.contains("SAMLResponse"))
        }
    }

    /// SPs whose logout endpoint takes HTTP-Redirect (python3-saml's, for one): the hop and the
    /// final answer go in the query, signed over the query with the IdP's key, with no XML
    /// signature inside.
    @Test func logoutOverHTTPRedirectToSPsThatAskForIt() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            for sp in [w.a, w.b] {
                let r = try await h.admin(.patch, "/applications/\(sp.app.id)", json: #"{"slo_binding":"redirect"}"#)
                #expect(r.status == .ok)
                let saml = try #require(try r.json()["saml"] as? [String: Any])
                #expect(saml["slo_binding"] as? String == "redirect")
            }
            try await h.admin(.patch, "/applications/\(w.a.app.id)", json: #"{"slo_binding":"soap"}"#).expectProblem(.badRequest)
            let certificate = try Certificate(pemEncoded: try await h.services.keys.currentCertificatePEM(tenantID: w.tenant.id))
            func decode(_ url: String, prefix: String, parameter: String) throws -> SAMLInboundMessage {
                #expect(url.hasPrefix(prefix + "?" + parameter + "="), "\(url)")
                let message = try SAMLRedirectBinding.decode(rawQuery: String(url.dropFirst(prefix.count + 1)), parameter: parameter)
                let signature = try #require(message.redirectSignature)
                #expect(signature.algorithm == SAML.rsaSHA256)
                try SAMLRedirectBinding.verify(signature, certificate: certificate)
                #expect(!String(decoding: message.xml, as: UTF8.self).contains("Signature>"), "no XML signature in a Redirect message")
                return message
            }
            let page = try await Self.redirect(w, Self.logoutRequest(w.a, id: "_fromA"), key: w.a.key.key, relayState: "a-state")
            #expect(page.status == .ok && page.text.contains("data-auto-follow") && page.text.contains("/saml/slo/continue?t="))
            #expect(try await !Self.active(w))
            let html = page.text
            let start = try #require(html.range(of: #"id="saml-redirect" href=""#))
            let href = String(html[start.upperBound...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
            let toB = try decode(href, prefix: w.b.sloURL, parameter: "SAMLRequest")
            let parsed = try LogoutRequest.parse(element: try XMLDocumentParser.parse(toB.xml).root)
            #expect(parsed.destination == w.b.sloURL && parsed.nameID == w.b.nameID && parsed.sessionIndexes == [w.b.sessionIndex])
            let relay = try #require(toB.relayState)
            // B answers over Redirect too (signed query, no XML signature).
            let answer = Array(
                """
                <samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_rb" Version="2.0" IssueInstant="\(SAMLTime.format(Date()))" Destination="\(Self.slo)" InResponseTo="\(parsed.id)"><saml:Issuer>\(w.b.entityID)</saml:Issuer><samlp:Status><samlp:StatusCode Value="\(SAMLStatus.successCode)"/></samlp:Status></samlp:LogoutResponse>
                """.utf8)
            let last = try await Self.redirect(w, answer, key: w.b.key.key, relayState: relay, parameter: "SAMLResponse")
            #expect(last.status == .seeOther)
            let toA = try decode(try #require(last.headers[.location]), prefix: w.a.sloURL, parameter: "SAMLResponse")
            #expect(toA.relayState == "a-state")
            let response = try XMLDocumentParser.parse(toA.xml).root
            #expect(response.localName == "LogoutResponse" && response.attribute("InResponseTo") == "_fromA")
            #expect(SAMLIdPTests.statusCodes(response) == [SAMLStatus.successCode])
        }
    }

    @Test func postLogoutWithAForgedAnswerEndsAsPartialLogout() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            let signed = try Self.envelope(Self.logoutRequest(w.a, id: "_postA"), key: w.a.key)
            let first = try Self.form(try await Self.post(w, signed))
            #expect(first.action == w.b.sloURL)
            #expect(try await !Self.active(w))
            // An answer signed by someone else than B does not count as B's confirmation.
            let forged = try Self.answer(w, from: w.b, to: first.xml, key: try SAMLIdPTests.SPKey())
            let last = try Self.form(try await Self.post(w, forged, field: "SAMLResponse", relayState: first.relayState))
            let toA = try await Self.idpVerified(w, last.xml)
            #expect(toA.attribute("InResponseTo") == "_postA")
            #expect(SAMLIdPTests.statusCodes(toA) == [SAMLStatus.successCode, SAMLStatus.partialLogoutCode])
            #expect(try await Self.rejections(w).contains { $0.contains("LogoutResponse from \(w.b.entityID)") })
        }
    }

    @Test func crossSitePOSTContinuesOnASameSiteGET() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            // The browser's cross-site POST carries no Lax cookie: verified, then a same-site GET.
            let signed = try Self.envelope(Self.logoutRequest(w.a, id: "_xsite"), key: w.a.key)
            let first = try await Self.post(w, signed, withCookie: false)
            #expect(first.status == .seeOther)
            let location = try #require(first.headers[.location])
            #expect(location.hasPrefix("/saml/slo/resume?t=samlslo_"))
            #expect(try await Self.active(w))
            let next = try Self.form(try await h.request(.get, location, headers: w.cookieHeader))
            #expect(next.action == w.b.sloURL && next.field == "SAMLRequest")
            #expect(try await !Self.active(w))
            // The resume link works once.
            #expect(try await h.request(.get, location, headers: w.cookieHeader).status == .badRequest)
            // An unsigned cross-site POST never gets that far.
            let unsigned = try await Self.post(w, Self.logoutRequest(w.a, id: "_xsite2"), withCookie: false)
            #expect(unsigned.status == .badRequest)
        }
    }

    @Test func aSilentSPIsSkippedWithTheContinueLink() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            let first = try await Self.redirect(w, Self.logoutRequest(w.a, id: "_silent"), key: w.a.key.key)
            let html = first.text
            let marker = #"id="slo-skip" href=""#
            let start = try #require(html.range(of: marker)).upperBound
            let link = String(html[start...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
            let last = try Self.form(try await h.request(.get, link))
            let toA = try await Self.idpVerified(w, last.xml)
            #expect(toA.attribute("InResponseTo") == "_silent")
            #expect(SAMLIdPTests.statusCodes(toA) == [SAMLStatus.successCode, SAMLStatus.partialLogoutCode])
        }
    }

    @Test func sigilSignOutLogsTheSAMLServiceProvidersOut() async throws {
        try await Harness.run { h in
            let w = try await Self.world(h)
            let session = try #require(try await h.services.sessions.resolve(cookie: w.cookie, tenantID: w.tenant.id)).0
            // The account page's CSRF token (SigilHTTP's Web.csrfToken).
            let csrf = Base64URL.encode(h.services.context.masterKey.authenticationCode(Array(session.id.utf8), purpose: "csrf"))
            var headers = w.cookieHeader
            headers[.contentType] = "application/x-www-form-urlencoded"
            headers[.origin] = "https://id.example.com"
            let r = try await h.client.execute(uri: "/logout", method: .post, headers: headers, body: ByteBuffer(string: "csrf=\(csrf)"))
            #expect(try await !Self.active(w))
            let toA = try Self.form(r)
            #expect(toA.action == w.a.sloURL && toA.field == "SAMLRequest")
            let toB = try Self.form(try await Self.post(w, try Self.answer(w, from: w.a, to: toA.xml), field: "SAMLResponse", relayState: toA.relayState))
            #expect(toB.action == w.b.sloURL)
            let done = try await Self.post(w, try Self.answer(w, from: w.b, to: toB.xml), field: "SAMLResponse", relayState: toB.relayState)
            #expect(done.status == .seeOther && done.headers[.location] == "/login")
        }
    }

    // MARK: OpenID Connect Back-Channel Logout

    @Test func backChannelLogoutTokenReachesTheClient() async throws {
        let sender = RecordingBackChannelLogoutSender(outcomes: [.unreachable("refused"), .rejected(status: 503), .delivered(status: 200)])
        let dispatcher = BackChannelLogoutDispatcher(sender: sender, attempts: 3, retryDelay: .milliseconds(1))
        try await Harness.run(backChannel: dispatcher) { h in
            let f = try await OAuthTests.fixture(h) {
                $0.backchannelLogoutURI = "https://rp.example/backchannel"
                $0.backchannelLogoutSessionRequired = true
            }
            let tokens = try await OAuthTests.exchange(f, code: try await OAuthTests.code(f)).json()
            let idToken = try JWS.parse(try #require(tokens["id_token"] as? String))
            let sid = try #require(idToken.payload["sid"]?.string)
            let refresh = try #require(tokens["refresh_token"] as? String)
            let r = try await h.request(
                .get, "/oauth2/logout?post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye&id_token_hint=\(tokens["id_token"] as! String)",
                headers: f.cookieHeader)
            #expect(r.headers[.location] == "https://rp.example/bye")
            await dispatcher.drain()
            #expect(await sender.attempts == 3)
            let delivery = try #require(await sender.deliveries.first)
            #expect(delivery.uri == "https://rp.example/backchannel")
            let token = try JWS.parse(delivery.logoutToken)
            #expect(token.type == "logout+jwt")
            #expect(JWS.verify(token, with: try await OAuthTests.jwks(h)))
            #expect(token.payload["iss"]?.string == OAuthTests.issuer && token.payload["aud"]?.string == f.clientID)
            #expect(token.payload["sub"]?.string == f.user.id && token.payload["sid"]?.string == sid)
            #expect(token.payload["nonce"] == nil && token.payload["jti"]?.string != nil)
            #expect(token.payload["events"] == .object([LogoutService.backChannelEvent: .object([:])]))
            let iat = try #require(token.payload["iat"]?.int), exp = try #require(token.payload["exp"]?.int)
            #expect(exp > iat && exp - iat <= 300)
            // The refresh token died with the session's grant.
            let refreshed = try await OAuthTests.form(f, "/oauth2/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            #expect(refreshed.status == .badRequest)
            // Audited without the token.
            let events = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 200)).items
            let sent = try #require(events.first { $0.action == "oidc.backchannel_logout" })
            #expect(sent.outcome == .success && sent.after?["attempts"] == "3")
            #expect(!events.contains { ($0.reason ?? "").contains(delivery.logoutToken) || ($0.after ?? [:]).values.contains(delivery.logoutToken) })
        }
    }

    @Test func backChannelFailureIsAuditedAndAdminRevocationNotifies() async throws {
        let sender = RecordingBackChannelLogoutSender(outcomes: [.rejected(status: 400)])
        let dispatcher = BackChannelLogoutDispatcher(sender: sender, attempts: 3, retryDelay: .milliseconds(1))
        try await Harness.run(backChannel: dispatcher) { h in
            let f = try await OAuthTests.fixture(h) { $0.backchannelLogoutURI = "https://rp.example/bc400" }
            _ = try await OAuthTests.exchange(f, code: try await OAuthTests.code(f))
            // A 400 is final: one attempt, audited as a failure.
            let r = try await h.admin(.delete, "/users/\(f.user.id)/sessions")
            let revoked = try r.json()["revoked"] as? Int
            #expect(r.status == .ok && revoked == 1)
            await dispatcher.drain()
            #expect(await sender.attempts == 1)
            #expect(try await h.services.sessions.resolve(cookie: f.cookie, tenantID: f.tenant.id) == nil)
            let events = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 200)).items
            #expect(events.contains { $0.action == "oidc.backchannel_logout" && $0.outcome == .failure && ($0.reason ?? "").contains("HTTP 400") })
        }
    }

    /// Deliveries live in the store: a round without an answer is retried later, a delivery a
    /// dead node was holding is taken over once its claim runs out, and after the last round
    /// Sigil gives up and says so in the audit log.
    @Test func backChannelDeliveryIsDurableRetriedAndFinallyGivenUp() async throws {
        let clock = ManualClock(Date())
        let sender = RecordingBackChannelLogoutSender(outcomes: [.unreachable("connection refused")])
        let dispatcher = BackChannelLogoutDispatcher(
            sender: sender, attempts: 2, retryDelay: .milliseconds(1), rounds: 3,
            roundBackoff: [.seconds(60), .seconds(600)])
        try await Harness.run(clock: clock, backChannel: dispatcher) { h in
            let f = try await OAuthTests.fixture(h) { $0.backchannelLogoutURI = "https://rp.example/bc" }
            _ = try await OAuthTests.exchange(f, code: try await OAuthTests.code(f))
            #expect(try await h.admin(.delete, "/users/\(f.user.id)/sessions").status == .ok)
            await dispatcher.drain()
            // Round 1: two attempts, no answer. The delivery waits in the store for round 2.
            #expect(await sender.attempts == 2)
            var owed = try await h.store.logoutDeliveries.list(tenantID: f.tenant.id)
            #expect(owed.count == 1 && owed.first?.rounds == 1 && owed.first?.claimedUntil == nil)
            let due = try #require(owed.first?.nextAttemptAt)
            #expect(abs(due.timeIntervalSince(clock.now()) - 60) < 0.01)
            #expect(await h.services.logout.deliverDue() == 0, "not due yet")
            clock.advance(by: 61)
            #expect(await h.services.logout.deliverDue() == 1)
            #expect(await sender.attempts == 4)
            owed = try await h.store.logoutDeliveries.list(tenantID: f.tenant.id)
            #expect(owed.first?.rounds == 2)
            // Round 3, the last: given up, deleted, audited.
            clock.advance(by: 601)
            #expect(await h.services.logout.deliverDue() == 1)
            #expect(await sender.attempts == 6)
            #expect(await sender.deliveries.isEmpty)
            #expect(try await h.store.logoutDeliveries.list(tenantID: f.tenant.id).isEmpty)
            let events = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 200)).items
            #expect(
                events.contains {
                    $0.action == "oidc.backchannel_logout" && $0.outcome == .failure
                        && ($0.reason ?? "").contains("after 3 round(s), giving up")
                })
        }
    }

    @Test func backChannelDeliveryHeldByADeadNodeIsTakenOver() async throws {
        let clock = ManualClock(Date())
        let sender = RecordingBackChannelLogoutSender(outcomes: [.unreachable("timeout")])
        let dispatcher = BackChannelLogoutDispatcher(
            sender: sender, attempts: 1, retryDelay: .milliseconds(1), rounds: 4,
            roundBackoff: [.seconds(60)], lease: .seconds(120))
        try await Harness.run(clock: clock, backChannel: dispatcher) { h in
            let f = try await OAuthTests.fixture(h) {
                $0.backchannelLogoutURI = "https://rp.example/bc"
                $0.idTokenSigningAlg = "EdDSA"
            }
            let tokens = try await OAuthTests.exchange(f, code: try await OAuthTests.code(f)).json()
            let idToken = try JWS.parse(try #require(tokens["id_token"] as? String))
            let sid = try #require(idToken.payload["sid"]?.string)
            #expect(try await h.admin(.delete, "/users/\(f.user.id)/sessions").status == .ok)
            await dispatcher.drain()
            #expect(await sender.attempts == 1)
            // Another node claims it at the next due time and dies holding it.
            clock.advance(by: 61)
            let held = try await h.store.logoutDeliveries.claimDue(tenantID: nil, now: clock.now(), leaseUntil: clock.now().addingTimeInterval(120), limit: 10)
            #expect(held.count == 1)
            await sender.setOutcomes([.delivered(status: 200)])
            #expect(await h.services.logout.deliverDue() == 0, "held by the other node")
            clock.advance(by: 121)
            #expect(await h.services.logout.deliverDue() == 1)
            let delivery = try #require(await sender.deliveries.first)
            let token = try JWS.parse(delivery.logoutToken)
            // Minted at delivery time, signed like the client's ID tokens.
            let jwks = try await OAuthTests.jwks(h)
            #expect(token.header["alg"]?.string == "EdDSA" && JWS.verify(token, with: jwks))
            #expect(token.payload["sid"]?.string == sid && token.payload["iat"]?.int == Int64(clock.now().timeIntervalSince1970))
            #expect(try await h.store.logoutDeliveries.list(tenantID: f.tenant.id).isEmpty)
            let events = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 200)).items
            let sent = try #require(events.first { $0.action == "oidc.backchannel_logout" && $0.outcome == .success })
            #expect(sent.after?["round"] == "2")
        }
    }

    @Test func disablingOrDeletingAUserLogsTheirClientsOut() async throws {
        let sender = RecordingBackChannelLogoutSender()
        let dispatcher = BackChannelLogoutDispatcher(sender: sender, attempts: 1, retryDelay: .milliseconds(1))
        try await Harness.run(backChannel: dispatcher) { h in
            let f = try await OAuthTests.fixture(h) { $0.backchannelLogoutURI = "https://rp.example/bc" }
            _ = try await OAuthTests.exchange(f, code: try await OAuthTests.code(f))
            // A stale If-Match: the delete is refused and nobody is signed out.
            try await h.admin(.delete, "/users/\(f.user.id)", headers: [.ifMatch: "\"99\""]).expectProblem(.preconditionFailed)
            #expect(try await h.services.sessions.resolve(cookie: f.cookie, tenantID: f.tenant.id) != nil)
            let r = try await h.admin(.patch, "/users/\(f.user.id)", json: #"{"status":"disabled"}"#)
            #expect(r.status == .ok)
            await dispatcher.drain()
            #expect(await sender.deliveries.count == 1)
            #expect(try await h.store.sessions.listActive(tenantID: f.tenant.id, userID: f.user.id, now: Date()).isEmpty)
        }
    }

    @Test func backChannelURIIsValidatedAndEditable() async throws {
        try await Harness.run { h in
            let create = { (uri: String) async throws -> TestResponse in
                try await h.admin(
                    .post, "/applications",
                    json: """
                        {"name":"RP","protocol":"oidc","redirect_uris":["https://rp.example/cb"],"backchannel_logout_uri":"\(uri)"}
                        """)
            }
            try await create("http://rp.example/bc").expectProblem(.unprocessableContent)
            try await create("https://rp.example/bc#frag").expectProblem(.unprocessableContent)
            try await create("ftp://rp.example/bc").expectProblem(.unprocessableContent)
            // Loopback and private targets only when the operator allows the host (docs/configuration.md).
            try await create("http://localhost:8000/bc").expectProblem(.unprocessableContent)
            try await create("https://127.0.0.1:8000/bc").expectProblem(.unprocessableContent)
            try await create("https://[::1]/bc").expectProblem(.unprocessableContent)
            let ok = try await create("https://rp.example/bc0")
            #expect(ok.status == .created)
            let body = try ok.json()
            let id = try #require(body["id"] as? String)
            #expect((body["oidc"] as? [String: Any])?["backchannel_logout_uri"] as? String == "https://rp.example/bc0")
            let patched = try await h.admin(
                .patch, "/applications/\(id)", json: #"{"backchannel_logout_uri":"https://rp.example/bc","backchannel_logout_session_required":true}"#)
            #expect(patched.status == .ok)
            let oidc = try #require(try patched.json()["oidc"] as? [String: Any])
            #expect(oidc["backchannel_logout_uri"] as? String == "https://rp.example/bc" && oidc["backchannel_logout_session_required"] as? Bool == true)
            try await h.admin(.patch, "/applications/\(id)", json: #"{"backchannel_logout_uri":"http://10.0.0.1/bc"}"#).expectProblem(.unprocessableContent)
            let doc = try await h.request(.get, "/.well-known/openid-configuration").json()
            #expect(doc["backchannel_logout_supported"] as? Bool == true && doc["backchannel_logout_session_supported"] as? Bool == true)
        }
    }
}
